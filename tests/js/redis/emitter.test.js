// @socket.io/redis-emitter 5.1 publishing into a cluster of two Rally nodes: its broadcasts,
// room changes, disconnections and server-side events reach every node. With the classic
// adapter a Node.js node is in the cluster too, to show both kinds read the same messages;
// with the streams adapter the emitter's classic channels are read by Rally's adapter only
// (Node's streams adapter ignores them), so that cluster is Rally's two nodes.
'use strict';

const { describe, it, before, after, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { createClient } = require('redis');
const { Emitter } = require('@socket.io/redis-emitter');
const sio = require('../lib/sio');
const { startRedis, startRallyNode, startNodeNode, uniquePrefix, assertNoPanic } = require('../lib/redis');

const SILENCE_MS = 300;

for (const adapter of ['classic', 'streams']) describe(`redis cluster (${adapter} adapter): @socket.io/redis-emitter into Rally nodes`, () => {
  let redis;
  let pub;
  let nodes = [];
  let emitter;
  let c;

  before(async () => {
    redis = await startRedis();
    pub = createClient({ url: redis.url });
    pub.on('error', () => {});
    await pub.connect();
  });
  after(async () => {
    if (pub) await pub.quit().catch(() => {});
    if (redis) await redis.stop();
  });

  beforeEach(async () => {
    const prefix = uniquePrefix('emitter');
    nodes = await Promise.all([
      startRallyNode(redis, prefix, { name: 'A', adapter }),
      startRallyNode(redis, prefix, { name: 'B', adapter }),
      ...(adapter === 'classic' ? [startNodeNode(redis, prefix, { name: 'N' })] : []),
    ]);
    emitter = new Emitter(pub, { key: prefix });
    const [A, B, N] = nodes;
    const spec = { a1: A, a2: A, b1: B, b2: B, ...(N ? { n1: N } : {}) };
    const names = Object.keys(spec);
    const list = await Promise.all(names.map((n) => sio.connect(spec[n].url)));
    c = Object.fromEntries(names.map((n, i) => [n, list[i]]));
    const rooms = { a1: ['r1'], b1: ['r1', 'r2'], b2: ['r2'], n1: ['r1'] };
    for (const [n, r] of Object.entries(rooms)) if (c[n]) await sio.ack(c[n], 'join', r);
    // every node is subscribed once each answers the server count
    await sio.eventually(async () => assert.equal(await sio.ack(c.a1, 'server-count'), nodes.length));
  });
  afterEach(async () => {
    await sio.closeAll();
    await Promise.all(nodes.map((n) => n.stop()));
    assertNoPanic(nodes);
    nodes = [];
  });

  // `c`, the clients of the current test, is read when called; n1 counts where it exists.
  const expectReceivers = (event, action, expected, args) =>
    sio.expectReceivers(c, event, action, expected.filter((n) => n in c), args, SILENCE_MS);

  it('emit reaches every client on every node', () =>
    expectReceivers('news', () => emitter.emit('news', 'hello', { n: 1 }), ['a1', 'a2', 'b1', 'b2', 'n1'], ['hello', { n: 1 }]));

  it('to(room), to(rooms), except and volatile', async () => {
    await expectReceivers('r', () => emitter.to('r1').emit('r', 1), ['a1', 'b1', 'n1'], [1]);
    await expectReceivers('r', () => emitter.to(['r1', 'r2']).emit('r', 2), ['a1', 'b1', 'b2', 'n1'], [2]);
    await expectReceivers('r', () => emitter.to('r2').except('r1').emit('r', 3), ['b2'], [3]);
    await expectReceivers('r', () => emitter.except('r2').emit('r', 4), ['a1', 'a2', 'n1'], [4]);
    await expectReceivers('r', () => emitter.volatile.to('r1').emit('r', 5), ['a1', 'b1', 'n1'], [5]);
  });

  it('to(socket id): a private message', () =>
    expectReceivers('dm', () => emitter.to(c.b2.id).emit('dm', 'only you'), ['b2'], ['only you']));

  it('binary arguments', async () => {
    const seen = { a1: sio.once(c.a1, 'bin'), b1: sio.once(c.b1, 'bin') };
    emitter.emit('bin', Buffer.from([4, 5, 6]));
    for (const n of ['a1', 'b1']) {
      const [data] = await seen[n];
      assert.deepEqual(Buffer.from(data), Buffer.from([4, 5, 6]));
    }
  });

  it('of(namespace) reaches that namespace only', async () => {
    const chatA = sio.client(`${nodes[0].url}/chat`);
    const chatB = sio.client(`${nodes[1].url}/chat`);
    await Promise.all([sio.waitConnect(chatA), sio.waitConnect(chatB)]);
    const got = [sio.once(chatA, 'topic'), sio.once(chatB, 'topic')];
    const silent = sio.noEvent(c.a1, 'topic', 400);
    emitter.of('/chat').emit('topic', 'rust');
    for (const [arg] of await Promise.all(got)) assert.equal(arg, 'rust');
    await silent;
  });

  it('socketsJoin and socketsLeave (requests without a uid)', async () => {
    emitter.in('r2').socketsJoin('joined');
    await sio.eventually(async () => {
      assert.deepEqual((await sio.ack(c.a2, 'fetch-sockets', ['joined'])).map((s) => s.id), [c.b1.id, c.b2.id].sort());
    });
    await expectReceivers('j', () => emitter.to('joined').emit('j'), ['b1', 'b2']);
    emitter.socketsLeave('joined');
    await sio.eventually(async () => {
      assert.deepEqual(await sio.ack(c.a2, 'fetch-sockets', ['joined']), []);
    });
  });

  it('disconnectSockets', async () => {
    const gone = ['a1', 'b1', 'n1'].filter((n) => n in c).map((n) => sio.once(c[n], 'disconnect'));
    const stays = [sio.noEvent(c.a2, 'disconnect', 500), sio.noEvent(c.b2, 'disconnect', 500)];
    emitter.in('r1').disconnectSockets();
    await Promise.all(gone);
    await Promise.all(stays);
  });

  it('serverSideEmit reaches every node', async () => {
    emitter.serverSideEmit('hello', 'from the emitter', 42);
    for (const n of ['a1', 'b1', 'n1'].filter((x) => x in c)) {
      await sio.eventually(async () => {
        assert.deepEqual(await sio.ack(c[n], 'server-events'), [{ event: 'hello', args: ['from the emitter', 42] }]);
      });
    }
  });
});
