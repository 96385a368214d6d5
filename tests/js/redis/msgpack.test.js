// The msgpack parser on a Redis cluster (issue 18): two Rally nodes and one Node.js
// socket.io 4.8 node, all three with `parser: msgpack`, on one throwaway Redis, once per
// adapter (classic pub/sub, streams). The adapters carry packets in their own format, so
// what crosses Redis is the same as with JSON; what must hold is that each node's clients
// get every broadcast, binary included, in the parser they speak.
'use strict';

const { describe, it, before, after, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const parser = require('socket.io-msgpack-parser');
const sio = require('../lib/sio');
const { startRedis, startRallyNode, startNodeNode, uniquePrefix, assertNoPanic } = require('../lib/redis');

const SILENCE_MS = 300;

for (const adapter of ['classic', 'streams']) describe(`msgpack on a redis cluster (${adapter} adapter): Rally A, Rally B, Node.js N`, () => {
  let redis;
  let nodes = [];
  let A;
  let B;
  let N;

  before(async () => { redis = await startRedis(); });
  after(async () => { if (redis) await redis.stop(); });

  beforeEach(async () => {
    const prefix = uniquePrefix('msgpack');
    const opts = (name) => ({ name, requestTimeout: 1500, adapter, parser: 'msgpack' });
    nodes = await Promise.all([
      startRallyNode(redis, prefix, opts('A')),
      startRallyNode(redis, prefix, opts('B')),
      startNodeNode(redis, prefix, opts('N')),
    ]);
    [A, B, N] = nodes;
  });
  afterEach(async () => {
    await sio.closeAll();
    await Promise.all(nodes.map((n) => n.stop()));
    assertNoPanic(nodes);
    nodes = [];
  });

  const clients = (spec, rooms) => sio.connectNamed(spec, rooms, { parser });
  const emit = (socket, spec) => () => sio.ack(socket, 'emit', spec);
  const blob = (n) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff));

  it('io.emit with binary reaches every client of every node, once', async () => {
    const c = await clients({ a: A, b: B, n: N });
    const args = ['hello', blob(5), { nested: [blob(3), null, 1.5] }];
    for (const from of ['a', 'b', 'n']) {
      await sio.expectReceivers(c, 'news', emit(c[from], { event: 'news', args }), ['a', 'b', 'n'], args, SILENCE_MS);
    }
  });

  it('to(room) from each node reaches the members on the others only', async () => {
    const c = await clients({ a1: A, a2: A, b: B, n: N }, { a1: ['r'], b: ['r'], n: ['r'] });
    const args = [blob(8)];
    await sio.expectReceivers(c, 'r', emit(c.a2, { event: 'r', args, rooms: ['r'] }), ['a1', 'b', 'n'], args, SILENCE_MS);
    await sio.expectReceivers(c, 'r', emit(c.n, { event: 'r', args, rooms: ['r'], from: 'broadcast' }), ['a1', 'b'], args, SILENCE_MS);
  });

  it('a private message with binary to a socket on another node', async () => {
    const c = await clients({ a: A, b: B, n: N });
    const args = ['psst', blob(4)];
    await sio.expectReceivers(c, 'dm', emit(c.n, { event: 'dm', args, from: 'socket', rooms: [c.a.id] }), ['a'], args, SILENCE_MS);
    await sio.expectReceivers(c, 'dm', emit(c.a, { event: 'dm', args, from: 'socket', rooms: [c.n.id] }), ['n'], args, SILENCE_MS);
  });

  it('broadcast with acks: clients of every node answer', async () => {
    const c = await clients({ a: A, b: B, n: N });
    for (const name of Object.keys(c)) c[name].on('quiz', (x, cb) => cb(`${name}:${x}`, blob(2)));
    const want = (x) => ({ ok: ['a', 'b', 'n'].map((name) => `${name}:${x}`) });
    assert.deepEqual(await sio.ack(c.a, 'broadcast-with-ack', { event: 'quiz', args: ['1'], timeout: 2000 }), want('1'));
    assert.deepEqual(await sio.ack(c.n, 'broadcast-with-ack', { event: 'quiz', args: ['2'], timeout: 2000 }), want('2'));
  });

  it('fetchSockets sees every node\'s sockets and rooms', async () => {
    const c = await clients({ a: A, b: B, n: N }, { a: ['g'], n: ['g'] });
    for (const asker of [c.a, c.b, c.n]) {
      const g = await sio.ack(asker, 'fetch-sockets', ['g']);
      assert.deepEqual(g.map((s) => s.id), [c.a.id, c.n.id].sort());
    }
  });
});
