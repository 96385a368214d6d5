// A long-polling page whose poll answer is lost on the way loses nothing. When a
// network drop breaks the kept-alive connection a poll's answer went out on, Chromium
// sends that GET again by itself on a new connection, with the same URL, and the page
// never learns anything went wrong: unless the server tells the resent poll from the
// next one, the packets of the lost answer are gone while the page stays connected.
// Here the chat runs without recovery, so only the engine can save them.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { io } = require('socket.io-client');
const { startChat } = require('../chat/chat-helpers');
const { startProxy } = require('../lib/proxy');
const { browsers } = require('../lib/browser');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('a polling page in Chromium through a black hole that eats a poll answer', () => {
  let chat;
  let proxy;
  let chromium;
  before(async () => {
    chat = await startChat(['--host', '127.0.0.1', '--recovery', 'off'],
      { env: { RUST_LOG: 'warn,rally_engine::transport::polling=debug' } });
    proxy = await startProxy({ targetPort: chat.port });
    chromium = browsers();
  });
  after(async () => {
    if (chromium) await chromium.closeAll();
    if (proxy) await proxy.close();
    if (chat) {
      await chat.stop('SIGKILL');
      chat.cleanup();
    }
  });

  it('gets the messages of the lost answer, in order, once, on the same connection', { timeout: 60000 }, async () => {
    const page = await chromium.page('poller');
    // A first-time visitor's socket.io-client from the server's own bundle, kept on
    // polling so the answer at stake is a poll's.
    await page.goto(`${proxy.url}/socket.io/socket.io.js`);
    await page.addScriptTag({ url: '/socket.io/socket.io.js' });
    await page.evaluate(() => new Promise((resolve, reject) => {
      window.got = [];
      window.events = [];
      const socket = window.io({ transports: ['polling'], reconnection: false });
      window.socket = socket;
      socket.on('message', (payload) => window.got.push(payload));
      socket.on('disconnect', (reason) => window.events.push(`disconnect ${reason}`));
      socket.on('connect', () => { window.firstId = socket.id; resolve(); });
      socket.on('connect_error', (e) => reject(new Error(e.message)));
    }));

    const publisher = io(chat.url, { transports: ['websocket'], forceNew: true, reconnection: false });
    await new Promise((resolve, reject) => { publisher.on('connect', resolve); publisher.on('connect_error', reject); });
    const say = (text) => publisher.timeout(5000).emitWithAck('message', text);
    await say('before');
    await page.waitForFunction(() => window.got.includes('before'));
    // The page polls again at once; give that GET time to reach the server and wait
    // there, so that the drop catches a poll whose answer is still to come (a GET sent
    // into the drop would never reach the server, and nothing would be at stake).
    await sleep(500);

    // The page's poll is waiting on the server: the drop comes, the answer to that poll
    // goes out into it and is lost, and the network comes back (the proxy resets what
    // lived through the drop, as a NAT that forgot it would) well within the heartbeat.
    proxy.cut('blackhole');
    for (const text of ['lost 1', 'lost 2', 'lost 3']) await say(text);
    await sleep(400);
    proxy.restore();
    await say('after');

    await page.waitForFunction(() => window.got.includes('after'), null, { timeout: 10000 })
      .catch(() => {});
    const seen = await page.evaluate(() => ({ got: window.got, events: window.events, same: window.socket.id === window.firstId, connected: window.socket.connected }));
    publisher.disconnect();
    const mine = seen.got.filter((m) => ['before', 'lost 1', 'lost 2', 'lost 3', 'after'].includes(m));
    assert.deepEqual(mine, ['before', 'lost 1', 'lost 2', 'lost 3', 'after'],
      `the page got ${JSON.stringify(seen)}; server log:\n${chat.srv.output()}`);
    assert.deepEqual(seen.events, [], 'the page never disconnected');
    assert.ok(seen.same && seen.connected, 'the page kept its socket');
    assert.match(chat.srv.output(), /a poll came again from another connection/,
      'the lost answer was recovered by the resent poll, not by luck');
    assert.deepEqual(chromium.problems, []);
  });
});
