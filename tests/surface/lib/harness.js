// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
//
// One rig per test file: a private jackd, the built looperd, Open Stage Control serving
// looperd's session, and headless Chromium on its page. Every process is started here, known
// by its PID, and stopped by that PID only; names and ports are unique to the file's process.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const dgram = require('node:dgram');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { OscPeer, pairs } = require('./osc');

const repoRoot = path.resolve(__dirname, '..', '..', '..');

const config = {
  looperd: process.env.LOOPERD_BINARY || path.join(repoRoot, 'build', 'src', 'looperd'),
  jackd: process.env.JACKD || 'jackd',
  openStageControl: path.resolve(process.env.OPEN_STAGE_CONTROL ||
    path.join(repoRoot, '..', 'shared', 'tools', 'open-stage-control')),
  chromium: process.env.CHROMIUM || '/usr/bin/chromium',
  session: process.env.SURFACE_SESSION ||
    path.join(repoRoot, 'examples', 'open-stage-control', 'looperd.json'),
  samples: path.join(repoRoot, 'examples', 'samples'),
  logDir: process.env.SURFACE_LOG_DIR || path.join(os.tmpdir(), 'looperd-surface-logs'),
};

// Waits that only catch a hang: the machines running this are shared and may be slow.
const HANG = 30000;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Polls fn until it returns a truthy value; returns it, or throws after timeout with what.
async function poll(fn, { timeout = HANG, interval = 50, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}` +
        (last instanceof Error ? `: ${last.message}` : ''));
    }
    await sleep(interval);
  }
}

function loadPuppeteer() {
  try {
    return require('puppeteer-core');
  } catch {
    return null;
  }
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name) {
  if (name.includes('/')) return isExecutable(name);
  return (process.env.PATH || '').split(':').some((dir) => isExecutable(path.join(dir, name)));
}

// Why this file's tests cannot run here, or null. Missing tools skip the tests (they never pass).
function missingPrerequisite() {
  const osc = config.openStageControl;
  if (!fs.existsSync(path.join(osc, 'app', 'index.js'))) {
    return `Open Stage Control not found at ${osc} (set OPEN_STAGE_CONTROL to the folder holding app/)`;
  }
  if (!fs.existsSync(path.join(osc, 'app', 'client', 'index.html'))) {
    return `Open Stage Control at ${osc} has no web client (app/client/index.html is missing): ` +
      'its build is incomplete';
  }
  if (!loadPuppeteer()) return 'puppeteer-core is not installed (run npm ci in tests/surface)';
  if (!isExecutable(config.chromium)) return `no Chromium at ${config.chromium} (set CHROMIUM)`;
  if (!isExecutable(config.looperd)) return `no looperd binary at ${config.looperd} (set LOOPERD_BINARY)`;
  if (!onPath(config.jackd)) return `no jackd (${config.jackd})`;
  return null;
}

async function freeUdpPort() {
  const s = dgram.createSocket('udp4');
  await new Promise((resolve) => s.bind(0, '127.0.0.1', resolve));
  const { port } = s.address();
  s.close();
  return port;
}

async function freeTcpPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Every child this process started, so that a crash of the test still stops them (by PID).
const children = new Set();
process.on('exit', () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
});

// Messages the session sends by itself, to keep watch on looperd.
const WATCH = /^\/(ping|status|slots|samples\/list|notify [if]:2)$/;

function startChild(command, args, { env = {}, logFile, onOutput } = {}) {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const log = logFile ? fs.createWriteStream(logFile) : null;
  child.output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (data) => {
      const text = data.toString();
      child.output += text;
      if (log) log.write(data);
      if (onOutput) onOutput(text);
    });
  }
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    children.delete(child);
    if (log) log.end();
    resolve({ code, signal });
  }));
  child.on('error', (e) => {
    child.output += `\nspawn error: ${e.message}\n`;
  });
  return child;
}

// SIGTERM, then SIGKILL after grace ms; returns how it ended.
async function stopChild(child, grace = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return child && child.exited;
  process.kill(child.pid, 'SIGTERM');
  const timer = sleep(grace).then(() => 'timeout');
  if (await Promise.race([child.exited, timer]) === 'timeout') {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // it ended meanwhile
    }
  }
  return child.exited;
}

function stripAnsi(text) {
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

// Open Stage Control's --debug lines, as {direction, address, args: [{type, value}], peer}.
// Sent messages print typed args, "Out:  { address: '/x', args: [ { type: 'f', value: 1 } ] }
// To: 127.0.0.1:9950"; received ones print bare values, "In:  { address: '/x', args: 1 }" or
// "args: [ 0.5, 'a' ]" (type "?").
function parseOscDebug(text) {
  const out = [];
  const value = "'(?:[^'\\\\]|\\\\.)*'|[^\\s,\\]}]+";
  const line = new RegExp(`\\(DEBUG, OSC\\) (Out|In):\\s+\\{\\s*address: '([^']*)',\\s*args: (\\[.*?\\]|${value})\\s*\\}\\s+(?:To|From): ([\\d.]+:\\d+)`, 'gs');
  const parse = (raw) => (raw.startsWith("'") ? raw.slice(1, -1) : Number(raw));
  for (const m of stripAnsi(text).matchAll(line)) {
    const args = [];
    if (m[3].startsWith('[')) {
      const typed = [...m[3].matchAll(new RegExp(`\\{\\s*type: '(\\w)',\\s*value: (${value})\\s*\\}`, 'g'))];
      if (typed.length) {
        for (const a of typed) args.push({ type: a[1], value: parse(a[2]) });
      } else {
        for (const a of m[3].slice(1, -1).matchAll(new RegExp(value, 'g'))) args.push({ type: '?', value: parse(a[0]) });
      }
    } else {
      args.push({ type: '?', value: parse(m[3]) });
    }
    out.push({ direction: m[1], address: m[2], args, peer: m[4] });
  }
  return out;
}

function httpOk(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

let rigCount = 0;

class Rig {
  // label names the logs and screenshots of this rig.
  constructor(label) {
    this.label = label;
    this.id = `surface-${process.pid}-${rigCount++}`;
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'looperd-surface-'));
    this.stateDir = path.join(this.tmp, 'state');
    fs.mkdirSync(config.logDir, { recursive: true });
    this.oscLog = '';
    this.consoleErrors = [];
    this.looperdRuns = 0;
  }

  logPath(name) {
    return path.join(config.logDir, `${this.label}.${name}`);
  }

  async start({ slots = {} } = {}) {
    this.looperdPort = await freeUdpPort();
    this.oscPort = await freeUdpPort();
    this.httpPort = await freeTcpPort();
    this.peer = await new OscPeer().open();
    this.jackd = startChild(config.jackd,
      ['--no-realtime', '-n', this.id, '-d', 'dummy', '-r', '48000', '-p', '128'],
      { env: { JACK_NO_AUDIO_RESERVATION: '1' }, logFile: this.logPath('jackd.log') });
    await this.startLooperd();
    for (const [slot, file] of Object.entries(slots)) await this.load(Number(slot), file);
    await this.startOpenStageControl();
    await this.openBrowser();
    await this.openPage();
  }

  async startLooperd() {
    this.looperd = startChild(config.looperd, [
      '--jack-server', this.id, '--client-name', 'looperd', '--no-autoconnect',
      '--osc-port', String(this.looperdPort), '--samples-dir', config.samples,
      '--state-dir', this.stateDir, '--slots', '16',
    ], { env: { JACK_DEFAULT_SERVER: this.id }, logFile: this.logPath(`looperd.${this.looperdRuns++}.log`) });
    // looperd answers OSC before it has joined JACK; ready means joined.
    await poll(async () => {
      if (this.looperd.exitCode !== null) throw new Error(`looperd exited:\n${this.looperd.output}`);
      const reply = await this.peer.request(this.looperdPort, '/status', '/status.reply', [], 500)
        .catch(() => null);
      return reply && pairs(reply.args).jack === 'connected';
    }, { what: 'looperd to join jackd', interval: 200 });
  }

  async stopLooperd() {
    return stopChild(this.looperd);
  }

  // Loads a file of examples/samples into a slot and waits for looperd's reply.
  async load(slot, file) {
    const reply = await this.peer.request(this.looperdPort, `/slot/${slot}/load`, `/slot/${slot}/loaded`,
      [file], HANG);
    if (reply.address === '/error') throw new Error(`cannot load ${file}: ${reply.args.join(' ')}`);
  }

  async send(address, ...args) {
    return this.peer.send(this.looperdPort, address, ...args);
  }

  async info(slot) {
    const reply = await this.peer.request(this.looperdPort, `/slot/${slot}/info`, `/slot/${slot}/info.reply`);
    if (reply.address === '/error') throw new Error(`/slot/${slot}/info: ${reply.args.join(' ')}`);
    return pairs(reply.args);
  }

  // Polls /slot/<n>/info until pred(info) holds; returns that info.
  async waitInfo(slot, pred, what, timeout = 10000) {
    let last;
    try {
      return await poll(async () => {
        last = await this.info(slot);
        return pred(last) && last;
      }, { what, timeout });
    } catch (e) {
      e.message += `\nlast /slot/${slot}/info: ${JSON.stringify(last)}`;
      throw e;
    }
  }

  async startOpenStageControl() {
    const app = path.join(config.openStageControl, 'app');
    this.osc = startChild(process.execPath, [app, '--no-gui', '--debug',
      '--send', `127.0.0.1:${this.looperdPort}`, '--osc-port', String(this.oscPort),
      '--port', String(this.httpPort), '--load', config.session],
    { logFile: this.logPath('open-stage-control.log'), onOutput: (t) => { this.oscLog += t; } });
    await poll(async () => {
      if (this.osc.exitCode !== null) throw new Error(`Open Stage Control exited:\n${this.osc.output}`);
      return httpOk(this.httpPort);
    }, { what: 'Open Stage Control to serve its page', interval: 200 });
  }

  // Open Stage Control's OSC traffic since mark (a length of its log), parsed.
  oscTraffic(mark = 0) {
    return parseOscDebug(this.oscLog.slice(mark));
  }

  // What Open Stage Control sent looperd since mark, as "address type:value …" strings.
  sentToLooperd(mark = 0) {
    return this.oscTraffic(mark)
      .filter((m) => m.direction === 'Out' && m.peer === `127.0.0.1:${this.looperdPort}`)
      .map((m) => [m.address, ...m.args.map((a) => `${a.type}:${a.value}`)].join(' '));
  }

  // The same without the session's own watch on looperd (/ping and /status every second,
  // /slots, and /notify 2 with /slots and /samples/list when it subscribes again): what the
  // player's touches sent.
  playerSent(mark = 0) {
    return this.sentToLooperd(mark).filter((m) => !WATCH.test(m));
  }

  // Error lines of Open Stage Control's log, and /error replies looperd sent it.
  oscErrors() {
    const lines = stripAnsi(this.oscLog).split('\n').filter((l) => /\(ERROR|\bError\b/.test(l));
    const replies = this.oscTraffic().filter((m) => m.direction === 'In' && m.address === '/error')
      .map((m) => `looperd answered /error ${m.args.map((a) => a.value).join(' ')}`);
    return [...lines, ...replies];
  }

  async openBrowser() {
    const puppeteer = loadPuppeteer();
    this.browser = await puppeteer.launch({
      executablePath: config.chromium,
      headless: true,
      userDataDir: path.join(this.tmp, 'chromium'),
      protocolTimeout: 120000,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        // Timers and input of a page nobody looks at must not be throttled.
        '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
        '--disable-backgrounding-occluded-windows'],
    });
    this.chromiumPid = this.browser.process().pid;
  }

  async openPage({ width = 1280, height = 800 } = {}) {
    this.page = await this.browser.newPage();
    this.page.on('console', (m) => {
      if (m.type() === 'error') this.consoleErrors.push(`console: ${m.text()}`);
    });
    this.page.on('pageerror', (e) => this.consoleErrors.push(`page error: ${e.message}`));
    this.page.on('requestfailed', (r) =>
      this.consoleErrors.push(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`));
    await this.page.setViewport({ width, height });
    await this.page.goto(`http://127.0.0.1:${this.httpPort}/`, { waitUntil: 'load', timeout: 60000 });
    // The session is up once its widgets exist and looperd, subscribed by the root's
    // /notify 2, has sent the surface its state.
    await poll(() => this.page.evaluate(() => [...document.querySelectorAll('.widget')]
      .some((e) => e._widget_instance && e._widget_instance.getProp('id') === 'play_0')),
    { what: 'the session to render play_0', timeout: 60000 });
    await poll(() => this.oscTraffic().some((m) => m.direction === 'In' && m.address === '/slot/0/state'),
      { what: 'looperd to send the surface its state' });
  }

  // A widget as the page shows it: {id, type, value, text, rect} or null.
  async widget(id) {
    return this.page.evaluate((wantedId) => {
      const el = [...document.querySelectorAll('.widget')]
        .find((e) => e._widget_instance && e._widget_instance.getProp('id') === wantedId);
      if (!el) return null;
      const w = el._widget_instance;
      const r = el.getBoundingClientRect();
      return {
        id: wantedId, type: w.getProp('type'), value: w.getValue(true), text: el.innerText,
        rect: { x: r.x, y: r.y, width: r.width, height: r.height },
      };
    }, id);
  }

  async hasWidget(id) {
    return (await this.widget(id)) !== null;
  }

  async widgetValue(id) {
    const w = await this.widget(id);
    if (!w) throw new Error(`no widget ${id} in the session`);
    return w.value;
  }

  async waitWidget(id, pred, what, timeout = 10000) {
    let last;
    try {
      return await poll(async () => {
        last = await this.widgetValue(id);
        return pred(last) && { value: last };
      }, { what, timeout });
    } catch (e) {
      e.message += `\nlast value of ${id}: ${JSON.stringify(last)}`;
      throw e;
    }
  }

  async centre(id) {
    const w = await this.widget(id);
    if (!w) throw new Error(`no widget ${id} in the session`);
    if (w.rect.width === 0 || w.rect.height === 0) throw new Error(`widget ${id} is not shown`);
    return { x: w.rect.x + w.rect.width / 2, y: w.rect.y + w.rect.height / 2 };
  }

  // Real pointer input at the widget's place on screen, as a player's.
  async pointerDown(id) {
    const { x, y } = await this.centre(id);
    await this.page.mouse.move(x, y);
    await this.page.mouse.down();
  }

  async pointerUp() {
    await this.page.mouse.up();
  }

  async tap(id) {
    await this.pointerDown(id);
    await this.pointerUp();
  }

  // Drags from the widget's centre by (dx, dy) pixels in small steps.
  async drag(id, dx, dy) {
    const { x, y } = await this.centre(id);
    await this.page.mouse.move(x, y);
    await this.page.mouse.down();
    await this.page.mouse.move(x + dx, y + dy, { steps: 10 });
    await this.page.mouse.up();
  }

  async screenshot(name, options = {}) {
    const file = this.logPath(`${name}.png`);
    await this.page.screenshot({ path: file, ...options });
    return file;
  }

  async stop() {
    this.peer && this.peer.close();
    if (this.browser) {
      const closed = this.browser.close().then(() => 'closed', () => 'failed');
      if (await Promise.race([closed, sleep(10000).then(() => 'timeout')]) !== 'closed') {
        try {
          process.kill(this.chromiumPid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
    await stopChild(this.osc);
    await stopChild(this.looperd);
    await stopChild(this.jackd);
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

// The rig a test file shares, started by the first test that asks for it (a failed start fails
// each test that needs it, where a failed before() hook would report them as skipped) and
// stopped after the file's last test. skip: why the file cannot run here, or null.
function sharedRig(label, options) {
  const test = require('node:test');
  const skip = missingPrerequisite();
  let rig = null;
  let started = null;
  test.after(async () => {
    if (rig) await rig.stop();
  });
  return {
    skip: skip || false,
    get() {
      if (!started) {
        rig = new Rig(label);
        started = rig.start(options).then(() => rig);
      }
      return started;
    },
  };
}

module.exports = { config, missingPrerequisite, Rig, sharedRig, poll, sleep, parseOscDebug, HANG };
