// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
//
// A small OSC 1.0 codec and a UDP peer that talks to looperd as another client would: it sends
// messages, unpacks looperd's bundles and waits for what it expects. Only the types looperd
// uses are known (i f s, and h d T F N on the way in).
'use strict';

const dgram = require('node:dgram');

function pad4(n) {
  return (n + 3) & ~3;
}

function encodeString(s) {
  const raw = Buffer.from(s, 'utf8');
  const out = Buffer.alloc(pad4(raw.length + 1));
  raw.copy(out);
  return out;
}

// args: numbers are sent as f, strings as s; {type, value} chooses the type.
function encodeMessage(address, args = []) {
  let tags = ',';
  const parts = [];
  for (const arg of args) {
    const typed = typeof arg === 'object' ? arg : { type: typeof arg === 'string' ? 's' : 'f', value: arg };
    tags += typed.type;
    if (typed.type === 'i') {
      const b = Buffer.alloc(4);
      b.writeInt32BE(typed.value);
      parts.push(b);
    } else if (typed.type === 'f') {
      const b = Buffer.alloc(4);
      b.writeFloatBE(typed.value);
      parts.push(b);
    } else if (typed.type === 's') {
      parts.push(encodeString(typed.value));
    } else {
      throw new Error(`cannot encode OSC type ${typed.type}`);
    }
  }
  return Buffer.concat([encodeString(address), encodeString(tags), ...parts]);
}

function readString(buf, offset) {
  const end = buf.indexOf(0, offset);
  if (end < 0) throw new Error('unterminated OSC string');
  return [buf.toString('utf8', offset, end), pad4(end + 1)];
}

// Returns the messages of a packet, bundles flattened: [{address, args}], args as plain values.
function decodePacket(buf) {
  if (buf.toString('ascii', 0, 8) === '#bundle\0') {
    const messages = [];
    let offset = 16;
    while (offset + 4 <= buf.length) {
      const size = buf.readInt32BE(offset);
      messages.push(...decodePacket(buf.subarray(offset + 4, offset + 4 + size)));
      offset += 4 + size;
    }
    return messages;
  }
  let [address, offset] = readString(buf, 0);
  if (offset >= buf.length) return [{ address, args: [] }];
  let tags;
  [tags, offset] = readString(buf, offset);
  const args = [];
  for (const tag of tags.slice(1)) {
    switch (tag) {
      case 'i': args.push(buf.readInt32BE(offset)); offset += 4; break;
      case 'f': args.push(buf.readFloatBE(offset)); offset += 4; break;
      case 'h': args.push(Number(buf.readBigInt64BE(offset))); offset += 8; break;
      case 'd': args.push(buf.readDoubleBE(offset)); offset += 8; break;
      case 's': { let s; [s, offset] = readString(buf, offset); args.push(s); break; }
      case 'T': args.push(true); break;
      case 'F': args.push(false); break;
      case 'N': args.push(null); break;
      default: throw new Error(`cannot decode OSC type ${tag}`);
    }
  }
  return [{ address, args }];
}

// Key/value replies (/slot/<n>/info.reply, /status.reply) as an object.
function pairs(args) {
  const out = {};
  for (let i = 0; i + 1 < args.length; i += 2) out[args[i]] = args[i + 1];
  return out;
}

// A UDP socket on 127.0.0.1 that keeps every message it receives, in order.
class OscPeer {
  constructor() {
    this.socket = dgram.createSocket('udp4');
    this.received = [];
    this.waiters = new Set();
    this.socket.on('message', (buf) => {
      let messages;
      try {
        messages = decodePacket(buf);
      } catch (e) {
        messages = [{ address: '(undecodable)', args: [e.message] }];
      }
      for (const m of messages) {
        m.at = Date.now();
        this.received.push(m);
      }
      for (const w of this.waiters) w();
    });
  }

  async open() {
    await new Promise((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(0, '127.0.0.1', () => resolve());
    });
    this.port = this.socket.address().port;
    this.url = `osc.udp://127.0.0.1:${this.port}/`;
    return this;
  }

  send(port, address, ...args) {
    const buf = encodeMessage(address, args);
    return new Promise((resolve, reject) =>
      this.socket.send(buf, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }

  // Waits for a message received from index `since` on that matches; returns it.
  waitFor(predicate, { since = 0, timeout = 10000, what = 'an OSC message' } = {}) {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = since; i < this.received.length; ++i) {
          if (predicate(this.received[i])) {
            done();
            resolve(this.received[i]);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        done();
        const seen = this.received.slice(since).slice(-20).map((m) => `${m.address} ${JSON.stringify(m.args)}`);
        reject(new Error(`no ${what} within ${timeout} ms; last received:\n  ${seen.join('\n  ')}`));
      }, timeout);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  // Sends a request carrying this peer's url and waits for its reply.
  async request(port, address, replyAddress, args = [], timeout = 10000) {
    const since = this.received.length;
    await this.send(port, address, ...args, this.url);
    return this.waitFor((m) => m.address === replyAddress || (m.address === '/error' && m.args[0] === address),
      { since, timeout, what: replyAddress });
  }

  close() {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

module.exports = { encodeMessage, decodePacket, pairs, OscPeer };
