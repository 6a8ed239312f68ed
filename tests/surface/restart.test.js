// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
//
// looperd killed and started again under a surface (same port, same state directory): the page,
// not reloaded, follows it again within 2 s.
'use strict';

const test = require('node:test');
const { sharedRig, poll } = require('./lib/harness');

const { skip, get } = sharedRig('restart', { slots: { 0: 'drone-loop.wav' } });

test('the surface catches up with a restarted looperd within 2 s, without a reload', { skip }, async (t) => {
  const rig = await get();
  await rig.send('/slot/0/gain', 0.75);
  await rig.waitWidget('gain_0', (v) => Math.abs(v - 0.75) < 1e-4, 'gain_0 at 0.75 before the restart');
  // Saved within a second of a change: the restarted looperd restores 0.75 from its state dir.
  await poll(async () => {
    const fs = require('node:fs');
    const path = require('node:path');
    const file = path.join(rig.stateDir, 'state.toml');
    return fs.existsSync(file) && /gain\s*=\s*0\.75/.test(fs.readFileSync(file, 'utf8'));
  }, { what: 'looperd to save gain 0.75', timeout: 10000 });
  const pageId = await rig.page.evaluate(() => (window.__surfaceTestPage = Math.random()));

  // SIGKILL, as a crash: looperd gets no chance to tell anyone.
  process.kill(rig.looperd.pid, 'SIGKILL');
  await rig.looperd.exited;
  const mark = rig.oscLog.length;
  await rig.startLooperd();
  const back = Date.now();
  await rig.send('/slot/0/gain', 0.3);
  // The session subscribes again when /pong comes back after a gap or /status.reply's uptime
  // falls; looperd itself keeps no subscribers across a restart.
  try {
    await rig.waitWidget('gain_0', (v) => Math.abs(v - 0.3) < 1e-4,
      'gain_0 to follow the restarted looperd', 2000);
  } catch (e) {
    const info = await rig.info(0);
    const heard = rig.oscTraffic(mark).filter((m) => m.direction === 'In');
    e.message += `\nlooperd's gain: ${info.gain}; the surface sent it: ` +
      rig.sentToLooperd(mark).join(', ') + '; and heard from it: ' +
      heard.map((m) => m.address).join(', ');
    throw e;
  }
  t.diagnostic(`followed ${Date.now() - back} ms after looperd was back`);
  if (await rig.page.evaluate(() => window.__surfaceTestPage) !== pageId) {
    throw new Error('the page was reloaded');
  }
  await rig.screenshot('after-restart');
});
