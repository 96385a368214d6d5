// A mixed cluster: one Rally node (crates/redis/examples/cluster_node) and one Node.js
// socket.io 4.8 node (tests/js/redis/node-node.js, same event contract) on one Redis, once
// with the classic adapters (@socket.io/redis-adapter 8.3) and once with the streams
// adapters (@socket.io/redis-streams-adapter 0.3). Everything is checked in both directions.
'use strict';

const { describe, it, before, after, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const sio = require('../lib/sio');
const { startRedis, startRallyNode, startNodeNode, uniquePrefix, assertNoPanic } = require('../lib/redis');

const SILENCE_MS = 300;

for (const adapter of ['classic', 'streams']) describe(`redis cluster (${adapter} adapter): a Rally node and a Node.js node`, () => {
  let redis;
  let nodes = [];
  let R; // Rally
  let N; // Node.js

  before(async () => { redis = await startRedis(); });
  after(async () => { if (redis) await redis.stop(); });

  beforeEach(async () => {
    const prefix = uniquePrefix('mixed');
    nodes = await Promise.all([
      startRallyNode(redis, prefix, { name: 'rally', requestTimeout: 1500, adapter }),
      startNodeNode(redis, prefix, { name: 'node', requestTimeout: 1500, adapter }),
    ]);
    [R, N] = nodes;
  });
  afterEach(async () => {
    await sio.closeAll();
    await Promise.all(nodes.map((n) => n.stop()));
    assertNoPanic(nodes);
    nodes = [];
  });

  const clients = (spec, rooms) => sio.connectNamed(spec, rooms);
  const expectReceivers = (c, event, action, expected, args) =>
    sio.expectReceivers(c, event, action, expected, args, SILENCE_MS);

  const emit = (socket, spec) => () => sio.ack(socket, 'emit', spec);

  it('each node counts two servers', async () => {
    const c = await clients({ r: R, n: N });
    assert.equal(await sio.ack(c.r, 'name'), 'rally');
    assert.equal(await sio.ack(c.n, 'name'), 'node');
    assert.equal(await sio.ack(c.r, 'server-count'), 2);
    assert.equal(await sio.ack(c.n, 'server-count'), 2);
  });

  it('io.emit in both directions', async () => {
    const c = await clients({ r1: R, r2: R, n1: N, n2: N });
    const args = ['hi', { list: [1, 2.5, -3, null, 'ü'], ok: true }];
    await expectReceivers(c, 'news', emit(c.r1, { event: 'news', args }), ['r1', 'r2', 'n1', 'n2'], args);
    await expectReceivers(c, 'news', emit(c.n2, { event: 'news', args }), ['r1', 'r2', 'n1', 'n2'], args);
  });

  it('rooms, several rooms and except in both directions', async () => {
    const c = await clients({ r1: R, r2: R, n1: N, n2: N }, { r1: ['room'], n1: ['room', 'x'], r2: ['x'], n2: ['other'] });
    await expectReceivers(c, 'm', emit(c.r2, { event: 'm', args: [1], rooms: ['room'] }), ['r1', 'n1'], [1]);
    await expectReceivers(c, 'm', emit(c.n2, { event: 'm', args: [2], rooms: ['room'] }), ['r1', 'n1'], [2]);
    await expectReceivers(c, 'm', emit(c.r1, { event: 'm', args: [3], rooms: ['room', 'other'], except: ['x'] }), ['r1', 'n2'], [3]);
    await expectReceivers(c, 'm', emit(c.n1, { event: 'm', args: [4], except: ['room'] }), ['r2', 'n2'], [4]);
  });

  it('private messages (socket.to(id)) in both directions', async () => {
    const c = await clients({ r1: R, r2: R, n1: N, n2: N });
    await expectReceivers(c, 'dm', emit(c.r1, { event: 'dm', args: ['to node'], from: 'socket', rooms: [c.n2.id] }), ['n2'], ['to node']);
    await expectReceivers(c, 'dm', emit(c.n1, { event: 'dm', args: ['to rally'], from: 'socket', rooms: [c.r2.id] }), ['r2'], ['to rally']);
  });

  it('socket.broadcast and volatile in both directions', async () => {
    const c = await clients({ r1: R, n1: N, n2: N });
    await expectReceivers(c, 'b', emit(c.r1, { event: 'b', args: [], from: 'broadcast' }), ['n1', 'n2']);
    await expectReceivers(c, 'b', emit(c.n1, { event: 'b', args: [], from: 'broadcast', volatile: true }), ['r1', 'n2']);
  });

  it('local stays on its node in both directions', async () => {
    const c = await clients({ r1: R, n1: N });
    await expectReceivers(c, 'l', emit(c.r1, { event: 'l', args: [], local: true }), ['r1']);
    await expectReceivers(c, 'l', emit(c.n1, { event: 'l', args: [], local: true }), ['n1']);
  });

  it('binary arguments in both directions', async () => {
    const c = await clients({ r1: R, n1: N });
    const bin = Buffer.from([1, 2, 3, 0, 255]);
    for (const [from, label] of [[c.r1, 'from rally'], [c.n1, 'from node']]) {
      const seen = await expectReceivers(c, 'bin', emit(from, { event: 'bin', args: [label, { data: bin }] }), ['r1', 'n1']);
      for (const n of ['r1', 'n1']) {
        assert.equal(seen[n][0][0], label);
        assert.deepEqual(Buffer.from(seen[n][0][1].data), bin, `${label} at ${n}`);
      }
    }
  });

  it('fetchSockets in both directions, with rooms, data and handshake', async () => {
    const c = await clients({ r1: R, n1: N, n2: N }, { r1: ['g'], n1: ['g'] });
    const authed = { r: sio.client(R.url, { auth: { user: 'ann' } }), n: sio.client(N.url, { auth: { user: 'bo' } }) };
    await Promise.all([sio.waitConnect(authed.r), sio.waitConnect(authed.n)]);
    for (const asker of [c.r1, c.n1]) {
      const everyone = await sio.ack(asker, 'fetch-sockets', []);
      assert.deepEqual(everyone.find((s) => s.id === authed.r.id).auth, { user: 'ann' });
      assert.deepEqual(everyone.find((s) => s.id === authed.n.id).auth, { user: 'bo' });
    }
    authed.r.disconnect();
    authed.n.disconnect();
    await sio.eventually(async () => assert.equal((await sio.ack(c.r1, 'fetch-sockets', [])).length, 3));
    await sio.ack(c.r1, 'set-data', { who: 'rally user' });
    await sio.ack(c.n1, 'set-data', { who: 'node user' });
    for (const asker of [c.r1, c.n2]) {
      const all = await sio.ack(asker, 'fetch-sockets', []);
      assert.deepEqual(all.map((s) => s.id), [c.r1.id, c.n1.id, c.n2.id].sort());
      const g = await sio.ack(asker, 'fetch-sockets', ['g']);
      assert.deepEqual(g.map((s) => s.id), [c.r1.id, c.n1.id].sort());
      const r = g.find((s) => s.id === c.r1.id);
      const n = g.find((s) => s.id === c.n1.id);
      assert.deepEqual(r.rooms, [c.r1.id, 'g'].sort());
      assert.deepEqual(r.data, { who: 'rally user' });
      assert.deepEqual(n.rooms, [c.n1.id, 'g'].sort());
      assert.deepEqual(n.data, { who: 'node user' });
    }
  });

  it('socketsJoin / socketsLeave in both directions', async () => {
    const c = await clients({ r1: R, n1: N }, { r1: ['a'], n1: ['a'] });
    await sio.ack(c.n1, 'sockets-join', { rooms: ['a'], join: ['from-node'] });
    await sio.ack(c.r1, 'sockets-join', { rooms: ['a'], join: ['from-rally'] });
    for (const room of ['from-node', 'from-rally']) {
      for (const asker of [c.r1, c.n1]) {
        await sio.eventually(async () => {
          assert.deepEqual((await sio.ack(asker, 'fetch-sockets', [room])).map((s) => s.id), [c.r1.id, c.n1.id].sort());
        });
      }
    }
    await sio.ack(c.r1, 'sockets-leave', { rooms: [], leave: ['from-node'] });
    await sio.ack(c.n1, 'sockets-leave', { rooms: [], leave: ['from-rally'] });
    await sio.eventually(async () => {
      assert.deepEqual(await sio.ack(c.n1, 'fetch-sockets', ['from-node']), []);
      assert.deepEqual(await sio.ack(c.r1, 'fetch-sockets', ['from-rally']), []);
    });
  });

  it('disconnectSockets in both directions', async () => {
    const c = await clients({ r1: R, r2: R, n1: N, n2: N }, { r2: ['bye'], n2: ['bye'] });
    let gone = [sio.once(c.r2, 'disconnect'), sio.once(c.n2, 'disconnect')];
    await sio.ack(c.n1, 'disconnect-sockets', { rooms: ['bye'] });
    await Promise.all(gone);
    const more = await clients({ r3: R, n3: N }, { r3: ['bye2'], n3: ['bye2'] });
    gone = [sio.once(more.r3, 'disconnect'), sio.once(more.n3, 'disconnect')];
    await sio.ack(c.r1, 'disconnect-sockets', { rooms: ['bye2'] });
    await Promise.all(gone);
    assert.ok(c.r1.connected && c.n1.connected);
  });

  it('allRooms in both directions', async () => {
    const c = await clients({ r1: R, n1: N }, { r1: ['rr'], n1: ['nn'] });
    const want = [c.r1.id, c.n1.id, 'nn', 'rr'].sort();
    assert.deepEqual(await sio.ack(c.r1, 'all-rooms'), want);
    // Node's streams adapter has no cluster-wide room list; Rally's reads it from fetchSockets.
    const fromNode = adapter === 'streams' ? { err: 'not supported' } : want;
    assert.deepEqual(await sio.ack(c.n1, 'all-rooms'), fromNode);
  });

  it('serverSideEmit in both directions', async () => {
    const c = await clients({ r1: R, n1: N });
    await sio.ack(c.r1, 'server-side-emit', { event: 'hello', args: ['from rally', { n: 1 }] });
    await sio.ack(c.n1, 'server-side-emit', { event: 'hello', args: ['from node', [2]] });
    await sio.eventually(async () => {
      assert.deepEqual(await sio.ack(c.n1, 'server-events'), [{ event: 'hello', args: ['from rally', { n: 1 }] }]);
      assert.deepEqual(await sio.ack(c.r1, 'server-events'), [{ event: 'hello', args: ['from node', [2]] }]);
    });
  });

  it('serverSideEmit with acks in both directions', async () => {
    const c = await clients({ r1: R, n1: N });
    assert.deepEqual(await sio.ack(c.r1, 'server-side-emit-with-ack', { event: 'ask', args: ['r?'], timeout: 1500 }),
      { ok: [{ node: 'node', args: ['r?'] }] });
    assert.deepEqual(await sio.ack(c.n1, 'server-side-emit-with-ack', { event: 'ask', args: ['n?'], timeout: 1500 }),
      { ok: [{ node: 'rally', args: ['n?'] }] });
  });

  it('broadcast with acks in both directions (answers from clients of both nodes)', async () => {
    const c = await clients({ r1: R, r2: R, n1: N, n2: N });
    for (const n of Object.keys(c)) c[n].on('quiz', (x, cb) => cb(`${n}:${x}`));
    const want = (x) => ({ ok: ['n1', 'n2', 'r1', 'r2'].map((n) => `${n}:${x}`) });
    assert.deepEqual(await sio.ack(c.r1, 'broadcast-with-ack', { event: 'quiz', args: ['a'], timeout: 2000 }), want('a'));
    assert.deepEqual(await sio.ack(c.n1, 'broadcast-with-ack', { event: 'quiz', args: ['b'], timeout: 2000 }), want('b'));
  });

  it('broadcast with acks: a silent client on the other node ends in a timeout', async () => {
    const c = await clients({ r1: R, n1: N });
    c.r1.on('quiz', () => {});
    c.n1.on('quiz', () => {});
    const fromNode = await sio.ack(c.n1, 'broadcast-with-ack', { event: 'quiz', args: [], timeout: 300 });
    assert.equal(fromNode.err, 'timeout');
    const fromRally = await sio.ack(c.r1, 'broadcast-with-ack', { event: 'quiz', args: [], timeout: 300 });
    assert.deepEqual(fromRally, { err: 'timeout', count: 0 });
  });
});
