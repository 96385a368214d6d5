// rally-chat's page across dropped connections, in Chromium: a first-time visitor joins a
// room, then its connection is cut twice (reset, then a black hole that only the
// heartbeat notices) while a Node client keeps talking in the room. The page says it is
// reconnecting, then shows every message once and in order, as the same socket, without
// joining again; the other client is never told it left. The proxy between the page and
// the server is the one the stream test uses (tests/js/lib/proxy.js).
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { browsers } = require('../lib/browser');
const { startProxy } = require('../lib/proxy');
const sio = require('../lib/sio');
const { startChat, chatClient, ackOf, join } = require('../chat/chat-helpers');

const WAIT = { timeout: 10000 };

describe('rally-chat page across dropped connections (Chromium)', () => {
  let chat;
  let proxy;
  let node;
  const chromium = browsers();
  let page;

  before(async () => {
    chat = await startChat(['--ping-interval-ms', '1000', '--ping-timeout-ms', '1000']);
    proxy = await startProxy({ targetPort: chat.port });
    node = await chatClient(chat.url, { name: 'Node' });
    await join(node, 'garden');
    page = await chromium.page('visitor');
  });

  after(async () => {
    await chromium.closeAll();
    await sio.closeAll();
    await proxy?.close();
    if (chat) {
      await chat.stop();
      chat.cleanup();
    }
  });

  /** The texts of the page's messages, in the order shown. */
  const shown = () => page.locator('#messages .message .text').allTextContents();

  it('reconnecting, then every message once and in order, as the same socket', async () => {
    await page.goto(proxy.url, WAIT);
    await page.locator('#status', { hasText: 'online' }).waitFor(WAIT);
    await page.waitForFunction(() => /^guest-\d+$/.test(document.getElementById('name-input').value), null, WAIT);
    const guest = await page.locator('#name-input').inputValue();
    await page.locator('#room-input').focus();
    await page.keyboard.type('garden');
    await page.keyboard.press('Enter');
    await page.locator('#channel-title', { hasText: '#garden' }).waitFor(WAIT);
    await node.rec.wait('room_members', (room, list) => room === 'garden' && list.some((u) => u.name === guest));

    let n = 0;
    const say = async (count) => {
      for (let i = 0; i < count; i += 1, n += 1) {
        const res = await ackOf(node.socket, 'message', `m${n}`, 'garden');
        assert.deepEqual(res, [], `message m${n}: ${sio.safeJson(res)}`);
      }
    };
    await say(3);
    await page.locator('#messages .message .text', { hasText: 'm2' }).waitFor(WAIT);

    for (const how of ['reset', 'blackhole']) {
      proxy.cut(how);
      await page.locator('#status', { hasText: 'reconnecting' }).waitFor(WAIT);
      await say(4);
      proxy.restore();
      await page.locator('#status', { hasText: 'online' }).waitFor(WAIT);
      await page.locator('#messages .message .text', { hasText: `m${n - 1}` }).waitFor(WAIT);
    }
    await say(2);
    await page.locator('#messages .message .text', { hasText: `m${n - 1}` }).waitFor(WAIT);
    await sio.sleep(300);
    const expected = Array.from({ length: n }, (_, i) => `m${i}`);
    assert.deepEqual((await shown()).filter((t) => /^m\d+$/.test(t)), expected);

    // Still in the room as the same socket: Node never saw it leave or come back.
    const notices = node.rec.all('notice').map(([notice]) => notice.text);
    assert.deepEqual(notices.filter((t) => t.includes(guest)), [`${guest} joined`], 'joined once, never left');
    const members = node.rec.all('room_members').filter(([room]) => room === 'garden');
    const lastWithout = members.findIndex(([, list]) => !list.some((u) => u.name === guest));
    const firstWith = members.findIndex(([, list]) => list.some((u) => u.name === guest));
    assert.ok(lastWithout < firstWith || lastWithout === -1, 'the page never left the room list');
    assert.deepEqual(chromium.problems, []);
  });
});
