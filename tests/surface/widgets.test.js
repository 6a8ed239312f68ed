// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
//
// Each kind of widget, pressed, released or dragged with the pointer as a player would, sends
// exactly the OSC it should (read from Open Stage Control's --debug log) and changes looperd's
// state (read back from looperd with /slot/<n>/info).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { sharedRig, poll, sleep } = require('./lib/harness');

const { skip, get } = sharedRig('widgets', { slots: { 0: 'drone-loop.wav' } });

// Waits for the expected messages, then for a quiet spell in which an extra one would show.
async function expectSent(rig, mark, expected) {
  await poll(() => rig.playerSent(mark).length >= expected.length,
    { what: `Open Stage Control to send ${expected.join(', ')}`, timeout: 10000 });
  await sleep(300);
  assert.deepEqual(rig.playerSent(mark), expected);
}

// looperd answers a message it refuses with /error to the sender: Open Stage Control logs it.
function assertNoErrorReplies(rig) {
  assert.deepEqual(rig.oscErrors(), [], 'errors in Open Stage Control\'s log');
}

function mark(rig) {
  return rig.oscLog.length;
}

test('play pad in gate mode: press plays, release stops', { skip }, async () => {
  const rig = await get();
  await rig.send('/slot/0/mode', 'gate');
  await rig.waitInfo(0, (i) => i.mode === 'gate', 'slot 0 in gate mode');
  const m = mark(rig);
  await rig.pointerDown('play_0');
  await rig.waitInfo(0, (i) => i.state === 'playing', 'slot 0 playing while the pad is held');
  // The light under the pad follows looperd's /slot/0/playing.
  await rig.waitWidget('playing_0', (v) => v === 1, 'playing_0 lit');
  await rig.screenshot('gate-held');
  await rig.pointerUp();
  await rig.waitInfo(0, (i) => i.state === 'stopped', 'slot 0 stopped on release');
  await rig.waitWidget('playing_0', (v) => v === 0, 'playing_0 dark');
  await expectSent(rig, m, ['/slot/0/play f:1', '/slot/0/play f:0']);
  assertNoErrorReplies(rig);
});

test('play pad in loop mode keeps playing after release; stop stops it', { skip }, async () => {
  const rig = await get();
  await rig.send('/slot/0/mode', 'loop');
  await rig.waitInfo(0, (i) => i.mode === 'loop', 'slot 0 in loop mode');
  let m = mark(rig);
  await rig.tap('play_0');
  await expectSent(rig, m, ['/slot/0/play f:1', '/slot/0/play f:0']);
  await rig.waitInfo(0, (i) => i.state === 'playing', 'slot 0 looping after the release');
  await rig.waitWidget('position_0', (v) => v > 0, 'position_0 moving');
  await rig.screenshot('loop-playing');
  m = mark(rig);
  await rig.tap('stop_0');
  await rig.waitInfo(0, (i) => i.state === 'stopped', 'slot 0 stopped by stop_0');
  // A tap button sends its press only: looperd ignores a stop of 0, but none is sent.
  await expectSent(rig, m, ['/slot/0/stop f:1']);
  await rig.waitWidget('playing_0', (v) => v === 0, 'playing_0 dark');
  assertNoErrorReplies(rig);
});

test('rec starts and ends a take, dub layers on it, undo takes the layer off', { skip }, async () => {
  const rig = await get();
  let m = mark(rig);
  await rig.tap('record_2');
  await rig.waitInfo(2, (i) => i.state === 'recording', 'slot 2 recording');
  await rig.screenshot('recording');
  // A take needs some length before it can end and loop.
  await sleep(500);
  await rig.tap('record_2');
  await rig.waitInfo(2, (i) => i.state === 'playing', 'slot 2 looping its take');
  await expectSent(rig, m, ['/slot/2/record f:1', '/slot/2/record f:1']);

  m = mark(rig);
  await rig.tap('overdub_2');
  await rig.waitInfo(2, (i) => i.state === 'overdubbing', 'slot 2 overdubbing');
  await rig.screenshot('overdubbing');
  await sleep(300);
  await rig.tap('overdub_2');
  await rig.waitInfo(2, (i) => i.state === 'playing', 'slot 2 back to playing');
  await expectSent(rig, m, ['/slot/2/overdub f:1', '/slot/2/overdub f:1']);

  m = mark(rig);
  await rig.tap('undo_2');
  await expectSent(rig, m, ['/slot/2/undo f:1']);
  // The take and its state stay; a refused undo would come back as /error.
  await rig.waitInfo(2, (i) => i.state === 'playing', 'slot 2 still playing after undo');
  assertNoErrorReplies(rig);
  await rig.tap('stop_2');
  await rig.waitInfo(2, (i) => i.state === 'stopped', 'slot 2 stopped');
});

// A drag sends a stream of values; looperd ends on the widget's own last value.
async function dragTo(rig, id, address, slot, key, dx, dy) {
  const before = await rig.widgetValue(id);
  const m = mark(rig);
  await rig.drag(id, dx, dy);
  const value = await rig.widgetValue(id);
  assert.notEqual(value, before, `${id} did not move`);
  await poll(() => rig.playerSent(m).at(-1) === `${address} f:${value}`,
    { what: `${address} ${value} as the drag's last message`, timeout: 10000 });
  const sent = rig.playerSent(m);
  assert.ok(sent.every((s) => s.startsWith(`${address} f:`)), `unexpected messages: ${sent.join(', ')}`);
  const info = await rig.waitInfo(slot, (i) => Math.abs(i[key] - value) < 1e-5,
    `looperd's ${key} to become ${value}`);
  return { value, info };
}

test('dragging the gain fader sets looperd\'s gain to the fader\'s value', { skip }, async () => {
  const rig = await get();
  // Up a vertical fader, right along a horizontal one: the way the fader raises the gain.
  const { rect } = await rig.widget('gain_0');
  const [dx, dy] = rect.width > rect.height ? [50, 0] : [0, -50];
  const { value } = await dragTo(rig, 'gain_0', '/slot/0/gain', 0, 'gain', dx, dy);
  assert.ok(value > 1, `dragging up or right raised the gain (now ${value})`);
  await rig.screenshot('gain-dragged');
  assertNoErrorReplies(rig);
});

test('dragging the pan knob sets looperd\'s pan to the knob\'s value', { skip }, async () => {
  const rig = await get();
  const { value } = await dragTo(rig, 'pan_0', '/slot/0/pan', 0, 'pan', 0, -40);
  assert.ok(value > 0 && value <= 1, `dragging up panned right (now ${value})`);
  await rig.screenshot('pan-dragged');
  assertNoErrorReplies(rig);
});
