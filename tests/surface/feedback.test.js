// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
//
// What another client changes in looperd shows on the surface: widgets move, and each slot
// state shows its own colour.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { config, sharedRig, poll } = require('./lib/harness');
const { meanColour } = require('./lib/png');

const { skip, get } = sharedRig('feedback', { slots: { 0: 'drone-loop.wav' } });

const near = (want) => (v) => typeof v === 'number' && Math.abs(v - want) < 1e-4;

test('gain and pan set by another client move the fader and the knob', { skip }, async () => {
  const rig = await get();
  await rig.send('/slot/0/gain', 0.5);
  await rig.waitWidget('gain_0', near(0.5), 'gain_0 at 0.5');
  await rig.send('/slot/0/pan', -0.25);
  await rig.waitWidget('pan_0', near(-0.25), 'pan_0 at -0.25');
  await rig.send('/master/gain', 1.5);
  await rig.waitWidget('master_gain', near(1.5), 'master_gain at 1.5');
  await rig.screenshot('moved-by-another-client');
  assert.deepEqual(rig.oscErrors(), []);
});

// How the state widget shows a state: its value or its text names the state, in a colour.
async function showsState(rig, state) {
  const w = await rig.widget('state_0');
  return w && (w.value === state || (w.text || '').toLowerCase().includes(state));
}

test('each slot state shows its own colour in state_0', { skip }, async (t) => {
  const rig = await get();
  if (!(await rig.hasWidget('state_0'))) {
    t.skip('pending: the session has no state_0 widget yet');
    return;
  }
  // looperd's own word on the state, from a subscriber of its own.
  await rig.peer.send(rig.looperdPort, '/notify', { type: 'i', value: 1 });
  const colours = new Map();
  // Reports are looked for from just after the last one seen, so that a state looperd does not
  // have (it moves on without it) leaves the next one still to be found.
  let since = rig.peer.received.length;
  const capture = async (state, drive, timeout = 10000) => {
    await drive();
    try {
      const report = await rig.peer.waitFor((m) => m.address === '/slot/0/state' && m.args[0] === state,
        { since, timeout, what: `looperd reporting ${state}` });
      since = rig.peer.received.indexOf(report) + 1;
    } catch {
      t.diagnostic(`looperd did not report ${state}: not checked`);
      return;
    }
    await poll(() => showsState(rig, state), { what: `state_0 showing ${state}`, timeout: 10000 });
    // The colour first, the whole page after: a passing state (queued) may be gone by then.
    const element = await rig.page.$$eval('.widget', (els) => {
      const el = els.find((e) => e._widget_instance && e._widget_instance.getProp('id') === 'state_0');
      const r = el.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    });
    const png = await rig.page.screenshot({ clip: element });
    colours.set(state, meanColour(png));
    const file = await rig.screenshot(`state-${state}`);
    t.diagnostic(`${state}: rgb(${colours.get(state).join(', ')}), ${file}`);
  };

  await capture('empty', () => rig.send('/slot/0/unload'));
  await capture('stopped', () => rig.send('/slot/0/load', 'drone-loop.wav'));
  await rig.send('/slot/0/mode', 'loop');
  // At 20 BPM (looperd's slowest) a bar lasts 12 s: a play quantised to the bar, sent as a bar
  // begins, waits long enough to be seen even on a busy machine.
  await rig.send('/clock/tempo', 20);
  await rig.send('/slot/0/quantize', 'bar');
  await capture('queued', async () => {
    const from = rig.peer.received.length;
    await rig.peer.waitFor((m) => m.address === '/clock/beat' && m.args[1] === 1,
      { since: from, timeout: 10000, what: 'the first beat of a bar' });
    await rig.send('/slot/0/play');
  });
  await capture('playing', async () => {}, 20000);  // at the next bar line, up to 12 s on
  // Stretching, where looperd is built with Rubber Band: 8 beats at 20 BPM are 24 s to render,
  // seconds in which the slot says so.
  if (/Rubber Band:\s+yes/.test(execFileSync(config.looperd, ['--version']).toString())) {
    await rig.send('/slot/0/beats', 8);
    await capture('stretching', () => rig.send('/slot/0/stretch', 'pitch'));
    await rig.send('/slot/0/stretch', 'rate');
    await rig.send('/slot/0/beats', 0);
  } else {
    t.diagnostic('looperd is built without Rubber Band: stretching not checked');
  }
  await rig.send('/clock/tempo', 120);
  await rig.send('/slot/0/fade_out', 3000);
  await capture('stopping', () => rig.send('/slot/0/stop'));
  await capture('stopped', async () => {});
  await rig.send('/slot/0/quantize', 'none');
  await capture('recording', () => rig.send('/slot/0/record'));
  await capture('playing', () => rig.send('/slot/0/record'));
  await capture('overdubbing', () => rig.send('/slot/0/overdub'));
  await rig.send('/slot/0/overdub');
  await rig.send('/slot/0/clear');

  const seen = [...colours.entries()];
  assert.ok(seen.length >= 4, `too few states reached: ${seen.map(([s]) => s).join(', ')}`);
  for (let i = 0; i < seen.length; ++i) {
    for (let j = i + 1; j < seen.length; ++j) {
      const distance = seen[i][1].reduce((d, c, k) => d + Math.abs(c - seen[j][1][k]), 0);
      assert.ok(distance > 12, `${seen[i][0]} and ${seen[j][0]} look alike: ` +
        `rgb(${seen[i][1]}) and rgb(${seen[j][1]})`);
    }
  }
  assert.deepEqual(rig.oscErrors(), []);
});

test('the MIDI learn line shows what looperd waits for, and clears when learning ends',
  { skip }, async () => {
    const rig = await get();
    await rig.waitWidget('midi_learn', (v) => v === 'MIDI learn off', 'MIDI learn off at first');
    await rig.send('/midi/learn', '/slot/0/gain');
    await rig.waitWidget('midi_learn', (v) => v === 'MIDI learn → /slot/0/gain',
      'the learn line naming /slot/0/gain');
    await rig.screenshot('midi-learn');
    await rig.send('/midi/learn_cancel');
    await rig.waitWidget('midi_learn', (v) => v === 'MIDI learn off', 'MIDI learn off again');
    assert.deepEqual(rig.oscErrors(), []);
  });
