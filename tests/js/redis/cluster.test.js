// Two Rally nodes (crates/redis/examples/cluster_node) on one throwaway Redis, driven with
// socket.io-client: every broadcast operator and cross-node request, each test with its own
// channel prefix (so its own cluster), once per adapter (classic pub/sub, Redis streams).
'use strict';

const { describe, it, before, after, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const sio = require('../lib/sio');
const { startRedis, startRallyNode, uniquePrefix, assertNoPanic } = require('../lib/redis');

const SILENCE_MS = 300;

for (const adapter of ['classic', 'streams']) describe(`redis cluster (${adapter} adapter): two Rally nodes`, () => {
  let redis;
  let nodes = [];
  let A;
  let B;

  before(async () => { redis = await startRedis(); });
  after(async () => { if (redis) await redis.stop(); });

  beforeEach(async () => {
    const prefix = uniquePrefix('cluster');
    nodes = await Promise.all([
      startRallyNode(redis, prefix, { name: 'A', requestTimeout: 1000, adapter }),
      startRallyNode(redis, prefix, { name: 'B', requestTimeout: 1000, adapter }),
    ]);
    [A, B] = nodes;
    A.prefix = prefix;
  });
  afterEach(async () => {
    await sio.closeAll();
    await Promise.all(nodes.map((n) => n.stop()));
    assertNoPanic(nodes);
    nodes = [];
  });

  /** Named clients: spec like {a1: A, a2: A, b1: B}; joins `rooms[name]` when given. */
  const clients = (spec, rooms) => sio.connectNamed(spec, rooms);
  const expectReceivers = (c, event, action, expected, args) =>
    sio.expectReceivers(c, event, action, expected, args, SILENCE_MS);

  const emit = (socket, spec) => () => sio.ack(socket, 'emit', spec);

  it('both nodes count two servers', async () => {
    const c = await clients({ a: A, b: B });
    assert.equal(await sio.ack(c.a, 'server-count'), 2);
    assert.equal(await sio.ack(c.b, 'server-count'), 2);
    assert.equal(await sio.ack(c.a, 'name'), 'A');
    assert.equal(await sio.ack(c.b, 'name'), 'B');
  });

  it('io.emit reaches every client on both nodes, exactly once', async () => {
    const c = await clients({ a1: A, a2: A, b1: B, b2: B });
    const args = ['hello', { n: 1, nested: [1.5, null, true, 'é'] }];
    await expectReceivers(c, 'news', emit(c.a1, { event: 'news', args }), ['a1', 'a2', 'b1', 'b2'], args);
    await expectReceivers(c, 'news', emit(c.b2, { event: 'news', args }), ['a1', 'a2', 'b1', 'b2'], args);
  });

  it('to(room) reaches the members on both nodes only', async () => {
    const c = await clients({ a1: A, a2: A, b1: B, b2: B }, { a1: ['r1'], b1: ['r1'], b2: ['r2'] });
    await expectReceivers(c, 'r', emit(c.a2, { event: 'r', args: [1], rooms: ['r1'] }), ['a1', 'b1'], [1]);
    await expectReceivers(c, 'r', emit(c.a2, { event: 'r', args: [2], rooms: ['r2'] }), ['b2'], [2]);
    await expectReceivers(c, 'r', emit(c.b1, { event: 'r', args: [3], rooms: ['nobody'] }), []);
  });

  it('to(several rooms) delivers once per socket; except excludes across nodes', async () => {
    const c = await clients({ a1: A, a2: A, b1: B, b2: B }, { a1: ['r1', 'r2'], a2: ['x'], b1: ['r1', 'r2'], b2: ['r2', 'x'] });
    await expectReceivers(c, 'm', emit(c.a2, { event: 'm', args: [], rooms: ['r1', 'r2'] }), ['a1', 'b1', 'b2']);
    await expectReceivers(c, 'm', emit(c.a1, { event: 'm', args: [], rooms: ['r2'], except: ['x'] }), ['a1', 'b1']);
    await expectReceivers(c, 'm', emit(c.b1, { event: 'm', args: [], except: ['x', 'r1'] }), []);
    await expectReceivers(c, 'm', emit(c.b1, { event: 'm', args: [], except: ['r1'] }), ['a2', 'b2']);
  });

  it('socket.to(id): a private message to a socket on the other node', async () => {
    const c = await clients({ a1: A, a2: A, b1: B, b2: B });
    await expectReceivers(c, 'dm', emit(c.a1, { event: 'dm', args: ['psst'], from: 'socket', rooms: [c.b2.id] }), ['b2'], ['psst']);
    await expectReceivers(c, 'dm', emit(c.b2, { event: 'dm', args: ['back'], from: 'socket', rooms: [c.a1.id] }), ['a1'], ['back']);
  });

  it('socket.broadcast reaches everyone but the sender, on both nodes', async () => {
    const c = await clients({ a1: A, a2: A, b1: B });
    await expectReceivers(c, 'bc', emit(c.a1, { event: 'bc', args: [7], from: 'broadcast' }), ['a2', 'b1'], [7]);
    await expectReceivers(c, 'bc', emit(c.b1, { event: 'bc', args: [8], from: 'broadcast' }), ['a1', 'a2'], [8]);
  });

  it('volatile broadcasts cross nodes', async () => {
    const c = await clients({ a1: A, b1: B });
    await expectReceivers(c, 'v', emit(c.a1, { event: 'v', args: ['x'], volatile: true }), ['a1', 'b1'], ['x']);
  });

  it('local broadcasts stay on the sending node', async () => {
    const c = await clients({ a1: A, a2: A, b1: B }, { a2: ['r'], b1: ['r'] });
    await expectReceivers(c, 'l', emit(c.a1, { event: 'l', args: [], local: true }), ['a1', 'a2']);
    await expectReceivers(c, 'l', emit(c.a1, { event: 'l', args: [], rooms: ['r'], local: true }), ['a2']);
    await expectReceivers(c, 'l', emit(c.b1, { event: 'l', args: [], rooms: ['r'], local: true }), ['b1']);
  });

  it('binary arguments cross nodes as binary', async () => {
    const c = await clients({ a1: A, b1: B });
    const bin = Buffer.from([0, 1, 2, 250, 255]);
    const seen = await expectReceivers(c, 'bin',
      emit(c.a1, { event: 'bin', args: [{ file: bin, name: 'f' }, [bin]] }), ['a1', 'b1']);
    for (const n of ['a1', 'b1']) {
      const [obj, list] = seen[n][0];
      assert.ok(Buffer.isBuffer(obj.file) || obj.file instanceof ArrayBuffer, `binary at ${n}`);
      assert.deepEqual(Buffer.from(obj.file), bin);
      assert.equal(obj.name, 'f');
      assert.deepEqual(Buffer.from(list[0]), bin);
    }
  });

  it('fetchSockets sees the sockets of both nodes, with rooms and data', async () => {
    const c = await clients({ a1: A, b1: B, b2: B }, { a1: ['r1'], b1: ['r1', 'r2'] });
    await sio.ack(c.b1, 'set-data', { user: 'bob' });
    const all = await sio.ack(c.a1, 'fetch-sockets', []);
    assert.deepEqual(all.map((s) => s.id), [c.a1.id, c.b1.id, c.b2.id].sort());
    const r1 = await sio.ack(c.a1, 'fetch-sockets', ['r1']);
    assert.deepEqual(r1.map((s) => s.id), [c.a1.id, c.b1.id].sort());
    const bob = r1.find((s) => s.id === c.b1.id);
    assert.deepEqual(bob.rooms, [c.b1.id, 'r1', 'r2'].sort());
    assert.deepEqual(bob.data, { user: 'bob' });
    const fromB = await sio.ack(c.b2, 'fetch-sockets', ['r2']);
    assert.deepEqual(fromB.map((s) => s.id), [c.b1.id]);
  });

  it('socketsJoin and socketsLeave apply on both nodes', async () => {
    const c = await clients({ a1: A, a2: A, b1: B, b2: B }, { a1: ['r1'], b1: ['r1'] });
    await sio.ack(c.a2, 'sockets-join', { rooms: ['r1'], join: ['j'] });
    await sio.eventually(async () => {
      assert.deepEqual((await sio.ack(c.b2, 'fetch-sockets', ['j'])).map((s) => s.id), [c.a1.id, c.b1.id].sort());
    });
    await expectReceivers(c, 'j', emit(c.b2, { event: 'j', args: [], rooms: ['j'] }), ['a1', 'b1']);
    await sio.ack(c.b2, 'sockets-leave', { rooms: [], leave: ['j'] });
    await sio.eventually(async () => {
      assert.deepEqual(await sio.ack(c.a2, 'fetch-sockets', ['j']), []);
    });
    await expectReceivers(c, 'j', emit(c.b2, { event: 'j', args: [], rooms: ['j'] }), []);
    // a remote socket's own room: join one socket on the other node
    await sio.ack(c.a1, 'sockets-join', { rooms: [c.b2.id], join: ['solo'] });
    await sio.eventually(async () => {
      assert.deepEqual((await sio.ack(c.a1, 'fetch-sockets', ['solo'])).map((s) => s.id), [c.b2.id]);
    });
  });

  it('disconnectSockets disconnects the matching sockets on both nodes', async () => {
    const c = await clients({ a1: A, a2: A, b1: B, b2: B }, { a2: ['bye'], b1: ['bye'] });
    const gone = [sio.once(c.a2, 'disconnect'), sio.once(c.b1, 'disconnect')];
    const stays = [sio.noEvent(c.a1, 'disconnect', 500), sio.noEvent(c.b2, 'disconnect', 500)];
    await sio.ack(c.a1, 'disconnect-sockets', { rooms: ['bye'] });
    const reasons = await Promise.all(gone);
    for (const [reason] of reasons) assert.equal(reason, 'io server disconnect');
    await Promise.all(stays);
    await sio.eventually(async () => {
      assert.deepEqual((await sio.ack(c.b2, 'fetch-sockets', [])).map((s) => s.id), [c.a1.id, c.b2.id].sort());
    });
  });

  it('allRooms merges the rooms of both nodes', async () => {
    const c = await clients({ a1: A, b1: B }, { a1: ['ra'], b1: ['rb', 'shared'] });
    const want = [c.a1.id, c.b1.id, 'ra', 'rb', 'shared'].sort();
    assert.deepEqual(await sio.ack(c.a1, 'all-rooms'), want);
    assert.deepEqual(await sio.ack(c.b1, 'all-rooms'), want);
  });

  it('serverSideEmit reaches the other node\'s handlers, not its own', async () => {
    const c = await clients({ a1: A, b1: B });
    await sio.ack(c.a1, 'server-side-emit', { event: 'hello', args: [1, { x: 'y' }] });
    await sio.eventually(async () => {
      assert.deepEqual(await sio.ack(c.b1, 'server-events'), [{ event: 'hello', args: [1, { x: 'y' }] }]);
    });
    await sio.sleep(100);
    assert.deepEqual(await sio.ack(c.a1, 'server-events'), []);
  });

  it('serverSideEmit with acks collects one answer per other node', async () => {
    const c = await clients({ a1: A, b1: B });
    const res = await sio.ack(c.a1, 'server-side-emit-with-ack', { event: 'ask', args: ['q?'], timeout: 2000 });
    assert.deepEqual(res, { ok: [{ node: 'B', args: ['q?'] }] });
    const back = await sio.ack(c.b1, 'server-side-emit-with-ack', { event: 'ask', args: [2], timeout: 2000 });
    assert.deepEqual(back, { ok: [{ node: 'A', args: [2] }] });
  });

  it('a broadcast with acks collects every client\'s answer on both nodes', async () => {
    const c = await clients({ a1: A, a2: A, b1: B, b2: B }, { a2: ['q'], b1: ['q'], b2: ['q'] });
    for (const n of Object.keys(c)) c[n].on('quiz', (arg, cb) => cb(`${n}:${arg}`));
    const res = await sio.ack(c.a1, 'broadcast-with-ack', { event: 'quiz', args: ['x'], timeout: 2000 });
    assert.deepEqual(res, { ok: ['a1:x', 'a2:x', 'b1:x', 'b2:x'] });
    const room = await sio.ack(c.b2, 'broadcast-with-ack', { event: 'quiz', args: ['y'], rooms: ['q'], except: [c.a2.id], timeout: 2000 });
    assert.deepEqual(room, { ok: ['b1:y', 'b2:y'] });
  });

  it('binary ack answers come back across nodes', async () => {
    const c = await clients({ a1: A, b1: B });
    c.b1.on('file', (cb) => cb(Buffer.from([9, 9, 9])));
    c.a1.on('file', (cb) => cb('no file'));
    const res = await sio.ack(c.a1, 'broadcast-with-ack', { event: 'file', args: [], timeout: 2000 });
    assert.equal(res.ok.length, 2);
    const bin = res.ok.find((x) => typeof x !== 'string');
    assert.deepEqual(Buffer.from(bin), Buffer.from([9, 9, 9]));
  });

  it('a broadcast with acks times out with the answers that came when a remote client is silent', async () => {
    const c = await clients({ a1: A, b1: B, b2: B });
    c.a1.on('quiz', (cb) => cb('a1'));
    c.b1.on('quiz', (cb) => cb('b1'));
    c.b2.on('quiz', () => { /* never answers */ });
    const started = Date.now();
    const res = await sio.ack(c.a1, 'broadcast-with-ack', { event: 'quiz', args: [], timeout: 500 });
    assert.deepEqual(res, { err: 'timeout', count: 2 });
    assert.ok(Date.now() - started < 2000, 'bounded by the timeout');
  });

  it('a node that never answers makes requests fail with a timeout, not hang', async () => {
    const C = await startRallyNode(redis, A.prefix, { name: 'C', requestTimeout: 1000, adapter });
    nodes.push(C);
    const c = await clients({ a1: A, c1: C });
    await sio.eventually(async () => assert.equal(await sio.ack(c.a1, 'server-count'), 3));
    C.pause(); // SIGSTOP: still subscribed (counted by NUMSUB), never answers
    try {
      let t = Date.now();
      const fetched = await sio.ack(c.a1, 'fetch-sockets', []);
      assert.match(fetched.err, /timeout/);
      assert.ok(Date.now() - t < 2900, `fetchSockets gave up after ${Date.now() - t} ms`);
      t = Date.now();
      const rooms = await sio.ack(c.a1, 'all-rooms');
      assert.match(rooms.err, /timeout/);
      const sse = await sio.ack(c.a1, 'server-side-emit-with-ack', { event: 'ask', args: [], timeout: 1000 });
      // B answers, C does not
      assert.equal(sse.err, 'timeout');
      assert.equal(sse.count, 1);
      c.a1.on('quiz', (cb) => cb('a1'));
      const bwa = await sio.ack(c.a1, 'broadcast-with-ack', { event: 'quiz', args: [], timeout: 800 });
      assert.deepEqual(bwa, { err: 'timeout', count: 1 });
      assert.ok(Date.now() - t < 5000);
      const stats = await sio.ack(c.a1, 'stats');
      assert.ok(stats.requests_timed_out >= 2, JSON.stringify(stats));
    } finally {
      C.resume();
    }
  });

  it('a namespace is a cluster of its own', async () => {
    const main = await sio.connect(B.url);
    const chat = sio.client(`${B.url}/chat`);
    await sio.waitConnect(chat);
    const a = await sio.connect(A.url);
    const gotMain = sio.once(main, 'ns');
    const silent = sio.noEvent(chat, 'ns', 400);
    await sio.ack(a, 'emit', { event: 'ns', args: [1] });
    await gotMain;
    await silent;
  });
});
