// rally-chat: limits with clear answers. The rate limit per socket (a flood gets an
// `error` event and its messages are dropped, the server carries on), the message size
// (above --max-payload the transport closes that client's connection, nobody else's).
'use strict';

const { describe, it, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const sio = require('../lib/sio');
const { chatServers, chatClient, ackOf, messages } = require('./chat-helpers');

describe('rally-chat limits', () => {
  const servers = chatServers();
  const chatServer = servers.start;
  afterEach(() => sio.closeAll());
  after(() => servers.stopAll('SIGTERM'));

  it('a flood beyond the burst gets an error event; the extra messages are dropped; no crash', async () => {
    const chat = await chatServer(['--rate-burst', '5', '--rate-per-second', '0']);
    const [a, b] = await Promise.all([chatClient(chat.url), chatClient(chat.url)]);
    for (let i = 0; i < 50; i++) a.socket.emit('message', i);
    const [err] = await a.rec.wait('error');
    assert.equal(err.code, 'rate_limited');
    assert.equal(err.event, 'message');
    assert.match(err.message, /rate limit/);
    await sio.eventually(() => assert.equal(messages(b.rec).length, 5));
    await sio.sleep(200);
    assert.deepEqual(messages(b.rec).map((m) => m[0]), [0, 1, 2, 3, 4]);
    // errors are not a flood of their own
    assert.ok(a.rec.all('error').length <= 2, `${a.rec.all('error').length} error events`);
    // an acked message over the limit is refused in its ack
    const [res] = await ackOf(a.socket, 'message', 'one more');
    assert.equal(res.code, 'rate_limited');
    // private messages count too
    const [pm] = await ackOf(a.socket, 'private_message', 'psst', b.id);
    assert.equal(pm.code, 'rate_limited');
    // the limit is per socket: b still talks; the server is fine
    b.socket.emit('message', 'still here');
    await a.rec.wait('message', (p) => p === 'still here');
    const health = await (await fetch(`${chat.url}/health`)).json();
    assert.equal(health.status, 'ok');
  });

  it('the bucket refills: after a pause a limited socket may send again', async () => {
    const chat = await chatServer(['--rate-burst', '3', '--rate-per-second', '10']);
    const [a, b] = await Promise.all([chatClient(chat.url), chatClient(chat.url)]);
    for (let i = 0; i < 6; i++) a.socket.emit('message', `burst ${i}`);
    await a.rec.wait('error', (e) => e.code === 'rate_limited');
    await sio.sleep(400);
    assert.deepEqual(await ackOf(a.socket, 'message', 'after a pause'), []);
    await b.rec.wait('message', (p) => p === 'after a pause');
  });

  it('a message over --max-payload closes the sender\'s connection only; others carry on', async () => {
    const chat = await chatServer(['--max-payload', '20000']);
    const [a, b] = await Promise.all([
      chatClient(chat.url, { transports: ['websocket'] }),
      chatClient(chat.url, { transports: ['polling'] }),
    ]);
    assert.equal(a.welcome.limits.maxPayload, 20000);
    a.socket.emit('message', 'x'.repeat(15000));
    await b.rec.wait('message', (p) => typeof p === 'string' && p.length === 15000);
    const gone = sio.once(a.socket, 'disconnect', 5000);
    a.socket.emit('message', 'y'.repeat(30000));
    const [reason] = await gone;
    assert.match(reason, /transport (close|error)/);
    // the same size over polling: that request is refused and the connection closed
    const c = await chatClient(chat.url, { transports: ['polling'] });
    const cGone = sio.once(c.socket, 'disconnect', 5000);
    c.socket.emit('message', 'z'.repeat(30000));
    await cGone;
    await sio.sleep(100);
    assert.ok(!messages(b.rec).some((m) => typeof m[0] === 'string' && m[0].length === 30000));
    b.socket.emit('message', 'b is fine');
    await b.rec.wait('message', (p) => p === 'b is fine');
  });

  it('default limits: a burst of 1000 passes, 1001 does not (rate 0 to see the edge)', async () => {
    const chat = await chatServer(['--rate-per-second', '0']);
    const [a, b] = await Promise.all([
      chatClient(chat.url, { transports: ['websocket'] }),
      chatClient(chat.url, { transports: ['websocket'] }),
    ]);
    for (let i = 0; i < 1001; i++) a.socket.emit('message', i);
    const [err] = await a.rec.wait('error', () => true, 10000);
    assert.equal(err.code, 'rate_limited');
    await sio.eventually(() => assert.equal(messages(b.rec).length, 1000), 10000);
    await sio.sleep(200);
    assert.equal(messages(b.rec).length, 1000);
    assert.equal(messages(b.rec)[999][0], 999);
  });

  it('a socket may be in at most 100 rooms', async () => {
    const chat = await chatServer();
    const a = await chatClient(chat.url);
    for (let i = 0; i < 100; i++) assert.deepEqual(await ackOf(a.socket, 'join', `room ${i}`), []);
    const [res] = await ackOf(a.socket, 'join', 'one too many');
    assert.equal(res.code, 'too_many_rooms');
    // rejoining a room it is in is still fine
    assert.deepEqual(await ackOf(a.socket, 'join', 'room 7'), []);
  });
});
