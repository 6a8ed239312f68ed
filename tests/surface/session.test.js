// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
//
// The session loads in Open Stage Control and Chromium without an error, subscribes itself to
// looperd, and fits the screens it is played on.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { sharedRig } = require('./lib/harness');

const { skip, get } = sharedRig('session', { slots: { 0: 'drone-loop.wav' } });

test('the session loads with no error in Open Stage Control or the browser', { skip }, async () => {
  const rig = await get();
  // The root's /notify 2 reached looperd (it answers a refused one with /error, counted below).
  assert.ok(rig.sentToLooperd().some((m) => /^\/notify [if]:2$/.test(m)),
    `no /notify 2 sent; sent: ${rig.sentToLooperd().join(', ')}`);
  // A loaded slot's gain and state came back as feedback.
  assert.ok(rig.oscTraffic().some((m) => m.direction === 'In' && m.address === '/slot/0/gain'),
    'looperd sent no /slot/0/gain to the surface');
  for (const id of ['play_0', 'gain_0', 'pan_0', 'stop_0', 'record_0', 'overdub_0', 'undo_0', 'position_0']) {
    assert.ok(await rig.hasWidget(id), `widget ${id} is missing`);
  }
  await rig.screenshot('loaded');
  assert.deepEqual(rig.oscErrors(), [], 'Open Stage Control logged errors');
  assert.deepEqual(rig.consoleErrors, [], 'the browser logged errors');
});

test('the session is screenshotted at tablet, laptop and phone sizes', { skip }, async () => {
  const rig = await get();
  for (const [width, height] of [[1024, 768], [768, 1024], [1280, 800], [390, 844]]) {
    await rig.page.setViewport({ width, height });
    // Open Stage Control lays widgets out again on resize; its play pad is placed when done.
    await rig.page.waitForFunction(() => {
      const el = [...document.querySelectorAll('.widget')]
        .find((e) => e._widget_instance && e._widget_instance.getProp('id') === 'play_0');
      return el && el.getBoundingClientRect().width > 0;
    }, { timeout: 10000 });
    await new Promise((resolve) => requestAnimationFrameTwice(rig.page).then(resolve));
    await rig.screenshot(`loaded-${width}x${height}`);
  }
  assert.deepEqual(rig.consoleErrors, [], 'the browser logged errors while resizing');
});

// Two animation frames: the layout after a resize has been painted.
function requestAnimationFrameTwice(page) {
  return page.evaluate(() => new Promise((resolve) =>
    requestAnimationFrame(() => requestAnimationFrame(resolve))));
}
