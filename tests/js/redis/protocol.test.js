// The adapter protocol seen from Redis itself: a raw Redis client plays an older or
// differently configured node and checks what Rally nodes publish back (legacy request
// forms, per-node response channels), plus a mixed cluster where both kinds answer on
// per-node response channels.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { createClient } = require('redis');
// notepack.io as the adapter itself loads it (a dependency of @socket.io/redis-adapter).
const notepack = require(require.resolve('notepack.io', { paths: [require.resolve('@socket.io/redis-adapter')] }));
const sio = require('../lib/sio');
const { startRedis, startRallyNode, startNodeNode, uniquePrefix, assertNoPanic } = require('../lib/redis');

describe('redis adapter protocol', () => {
  let redis;
  let pub;
  let sub;
  let nodes = [];

  before(async () => {
    redis = await startRedis();
    pub = createClient({ url: redis.url });
    pub.on('error', () => {});
    sub = pub.duplicate();
    sub.on('error', () => {});
    await Promise.all([pub.connect(), sub.connect()]);
  });
  after(async () => {
    await Promise.allSettled([pub && pub.quit(), sub && sub.quit()]);
    if (redis) await redis.stop();
  });
  afterEach(async () => {
    await sio.closeAll();
    await Promise.all(nodes.map((n) => n.stop()));
    assertNoPanic(nodes);
    nodes = [];
  });

  /** Collects every message on `channel` (Buffers), until .stop(). */
  async function listen(channel) {
    const got = [];
    const listener = (msg) => got.push(msg);
    await sub.subscribe(channel, listener, true);
    got.stop = () => sub.unsubscribe(channel, listener, true);
    return got;
  }

  const decode = (buf) => (buf[0] === 0x7b ? JSON.parse(buf.toString()) : notepack.decode(buf));

  it('answers the legacy SOCKETS request and the legacy one-socket join/leave/disconnect', async () => {
    const prefix = uniquePrefix('legacy');
    nodes = [await startRallyNode(redis, prefix, { name: 'A' }), await startRallyNode(redis, prefix, { name: 'B' })];
    const [a, b] = await Promise.all([sio.connect(nodes[0].url), sio.connect(nodes[1].url)]);
    await sio.ack(b, 'join', 'r');
    const responses = await listen(`${prefix}-response#/#`);
    const request = `${prefix}-request#/#`;
    try {
      await pub.publish(request, JSON.stringify({ requestId: 'old1', type: 0, rooms: ['r'] }));
      await sio.waitFor(() => responses.length >= 2, 3000, 'two SOCKETS answers');
      const answers = responses.map(decode).filter((r) => r.requestId === 'old1');
      assert.deepEqual(answers.map((r) => r.sockets).sort((x, y) => x.length - y.length), [[], [b.id]]);

      responses.length = 0;
      await pub.publish(request, JSON.stringify({ requestId: 'old2', type: 2, sid: a.id, room: 'legacy-room' }));
      await sio.waitFor(() => responses.length >= 1, 3000, 'the join answer');
      assert.deepEqual(decode(responses[0]), { requestId: 'old2' });
      await sio.eventually(async () => {
        assert.deepEqual((await sio.ack(b, 'fetch-sockets', ['legacy-room'])).map((s) => s.id), [a.id]);
      });
      responses.length = 0;
      await pub.publish(request, JSON.stringify({ requestId: 'old3', type: 3, sid: a.id, room: 'legacy-room' }));
      await sio.waitFor(() => responses.length >= 1, 3000, 'the leave answer');
      assert.deepEqual(decode(responses[0]), { requestId: 'old3' });
      assert.deepEqual(await sio.ack(b, 'fetch-sockets', ['legacy-room']), []);
      const gone = sio.once(b, 'disconnect');
      await pub.publish(request, JSON.stringify({ requestId: 'old4', type: 4, sid: b.id, close: false }));
      assert.equal((await gone)[0], 'io server disconnect');
    } finally {
      await responses.stop();
    }
  });

  it('answers on the requester\'s own channel with publishOnSpecificResponseChannel', async () => {
    const prefix = uniquePrefix('specific');
    nodes = [await startRallyNode(redis, prefix, { name: 'A', specificResponseChannel: true })];
    const [a] = await Promise.all([sio.connect(nodes[0].url)]);
    await sio.ack(a, 'join', 'x');
    // a fake node "FaKe01" on the request channel, so that NUMSUB counts it
    const mine = await listen(`${prefix}-response#/#FaKe01#`);
    const shared = await listen(`${prefix}-response#/#`);
    const fakeRequests = await listen(`${prefix}-request#/#`);
    try {
      await pub.publish(`${prefix}-request#/#`, JSON.stringify({ uid: 'FaKe01', requestId: 'q1', type: 5, opts: { rooms: ['x'], except: [] } }));
      await sio.waitFor(() => mine.length >= 1, 3000, 'the fetch answer on FaKe01\'s channel');
      const answer = decode(mine[0]);
      assert.equal(answer.requestId, 'q1');
      assert.deepEqual(answer.sockets.map((s) => s.id), [a.id]);
      assert.deepEqual(answer.sockets[0].rooms.sort(), [a.id, 'x'].sort());
      for (const key of ['headers', 'time', 'address', 'xdomain', 'secure', 'issued', 'url', 'query', 'auth']) {
        assert.ok(key in answer.sockets[0].handshake, `handshake.${key}`);
      }
      // a broadcast with acks from FaKe01: a JSON count, then one notepack answer per client
      a.on('quiz', (n, cb) => cb({ n, bin: Buffer.from([1]) }));
      mine.length = 0;
      await pub.publish(`${prefix}-request#/#`, notepack.encode({
        uid: 'FaKe01', requestId: 'q2', type: 7,
        packet: { type: 2, data: ['quiz', 5], nsp: '/' },
        opts: { rooms: [], except: [], flags: { timeout: 1000 } },
      }));
      await sio.waitFor(() => mine.length >= 2, 3000, 'count and ack');
      assert.deepEqual(decode(mine[0]), { type: 8, requestId: 'q2', clientCount: 1 });
      assert.notEqual(mine[1][0], 0x7b, 'BROADCAST_ACK is MessagePack');
      const ack = decode(mine[1]);
      assert.equal(ack.type, 9);
      assert.equal(ack.requestId, 'q2');
      assert.equal(ack.packet.n, 5);
      assert.deepEqual(ack.packet.bin, Buffer.from([1]));
      // the server-side emit ack goes to the shared channel whatever the option (as in Node)
      await pub.publish(`${prefix}-request#/#`, JSON.stringify({ uid: 'FaKe01', requestId: 'q3', type: 6, data: ['ask', 1] }));
      await sio.waitFor(() => shared.some((m) => decode(m).requestId === 'q3'), 3000, 'the SSE answer');
      assert.deepEqual(decode(shared.find((m) => decode(m).requestId === 'q3')),
        { type: 6, requestId: 'q3', data: { node: 'A', args: [1] } });
      assert.ok(!shared.some((m) => ['q1', 'q2'].includes(decode(m).requestId)), 'nothing else on the shared channel');
      assert.ok(fakeRequests.length >= 3);
    } finally {
      await Promise.all([mine.stop(), shared.stop(), fakeRequests.stop()]);
    }
  });

  it('a mixed cluster where both nodes answer on per-node response channels', async () => {
    const prefix = uniquePrefix('specific-mixed');
    nodes = await Promise.all([
      startRallyNode(redis, prefix, { name: 'rally', specificResponseChannel: true }),
      startNodeNode(redis, prefix, { name: 'node', specificResponseChannel: true }),
    ]);
    const [r, n] = await Promise.all([sio.connect(nodes[0].url), sio.connect(nodes[1].url)]);
    for (const asker of [r, n]) {
      assert.deepEqual((await sio.ack(asker, 'fetch-sockets', [])).map((s) => s.id), [r.id, n.id].sort());
      assert.deepEqual(await sio.ack(asker, 'all-rooms'), [r.id, n.id].sort());
    }
    for (const s of [r, n]) s.on('quiz', (cb) => cb(s.id));
    for (const asker of [r, n]) {
      assert.deepEqual(await sio.ack(asker, 'broadcast-with-ack', { event: 'quiz', args: [], timeout: 2000 }), { ok: [r.id, n.id].sort() });
    }
  });
});
