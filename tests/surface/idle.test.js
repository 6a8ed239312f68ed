// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
//
// A surface left alone keeps following looperd. looperd once dropped subscribers silent for
// 60 s; this waits past that in real time, once (the session's own /ping and /status go on). Hours of idle are covered by the Feedback unit
// tests, which run looperd's feedback on a simulated clock.
'use strict';

const test = require('node:test');
const { sharedRig, sleep } = require('./lib/harness');

const { skip, get } = sharedRig('idle', { slots: { 0: 'drone-loop.wav' } });

const IDLE_MS = 70000;

test('after 70 s untouched the surface still follows a change from another client', { skip }, async () => {
  const rig = await get();
  // Nothing but the session's watch (/ping, /status, /slots) may reach looperd meanwhile, and
  // no /notify: the feedback must keep coming on the first subscription. The test client's own
  // messages are not the surface's, and it sends none until the end.
  const mark = rig.oscLog.length;
  await sleep(IDLE_MS);
  const sent = rig.sentToLooperd(mark).filter((m) => !/^\/(ping|status|slots)$/.test(m));
  if (sent.length) throw new Error(`the surface was not idle: it sent ${sent.join(', ')}`);
  await rig.send('/slot/0/gain', 0.25);
  await rig.waitWidget('gain_0', (v) => Math.abs(v - 0.25) < 1e-4, 'gain_0 at 0.25 after the idle spell', 5000);
  await rig.screenshot('after-idle');
});
