// Connection state recovery across a Redis streams cluster (issue 15): a client that drops
// from one server and comes back to another gets its socket back (id, rooms, data) and
// every event it missed, once, in order: between two Rally nodes, and between a Rally node
// and a Node.js socket.io 4.8 node with @socket.io/redis-streams-adapter 0.3, both ways. A
// client whose gap is no longer in the stream, or who comes back while Redis is away,
// gets a fresh session instead of part of what it missed.
//
// The client reaches the cluster through lib/proxy.js, which sends what connects after
// each cut to the next server.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { createClient } = require('redis');
const sio = require('../lib/sio');
const { startProxy } = require('../lib/proxy');
const { startRedis, startRallyNode, startNodeNode, uniquePrefix, assertNoPanic } = require('../lib/redis');

describe('redis streams cluster: connection state recovery on another server', () => {
  let redis;
  let nodes = [];
  let proxy;

  before(async () => { redis = await startRedis(); });
  after(async () => { if (redis) await redis.stop(); });
  afterEach(async () => {
    await sio.closeAll();
    if (proxy) await proxy.close();
    proxy = null;
    await Promise.all(nodes.map((n) => n.stop()));
    assertNoPanic(nodes);
    nodes = [];
    if (redis.proc.exitCode !== null || redis.proc.signalCode !== null) await redis.restart();
  });

  /** Servers of the given kinds ('rally' or 'node') on one stream, recovery on. */
  async function cluster(kinds) {
    const prefix = uniquePrefix('recover');
    nodes = await Promise.all(kinds.map(async (kind, i) => {
      const name = `${kind}${i}`;
      const opts = { name, adapter: 'streams', recovery: true };
      const node = await (kind === 'rally' ? startRallyNode(redis, prefix, opts) : startNodeNode(redis, prefix, opts));
      return Object.assign(node, { name });
    }));
    proxy = await startProxy({ targetPorts: nodes.map((n) => n.port) });
    return { prefix, nodes };
  }

  /** A client through the proxy that reconnects at once, over WebSocket. */
  async function roamingClient() {
    const socket = sio.client(proxy.url, {
      reconnection: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 200,
      randomizationFactor: 0,
      transports: ['websocket'],
    });
    await sio.waitConnect(socket);
    return socket;
  }

  /** Emits tick(n) to `rooms` from `from` (a client of some node) and waits for its ack. */
  const tick = (from, n, rooms = []) => sio.ack(from, 'emit', { event: 'tick', args: [n], rooms });

  /**
   * Cuts the client off, has `during` run while it is away, then lets it reconnect (to the
   * next server) and waits until it is connected again.
   */
  async function away(socket, during) {
    const gone = sio.once(socket, 'disconnect');
    proxy.cut('reset');
    await gone;
    await during();
    const back = sio.once(socket, 'connect', 10000);
    proxy.restore();
    await back;
  }

  /** The ticks a client received: their numbers, and whether each carried an offset. */
  function ticks(socket) {
    const got = [];
    socket.on('tick', (n, offset) => got.push({ n, offset }));
    return got;
  }

  async function roundTrip(kinds) {
    await cluster(kinds);
    const [first, second] = nodes;
    const pubFirst = await sio.connect(first.url);
    const pubSecond = await sio.connect(second.url);
    const client = await roamingClient();
    const id = client.id;
    assert.equal(await sio.ack(client, 'name'), first.name, 'the proxy starts on the first server');
    await sio.ack(client, 'join', ['r']);
    await sio.ack(client, 'set-data', { who: 'roamer' });
    const got = ticks(client);
    await tick(pubFirst, 0);
    await sio.waitFor(() => got.length === 1, 3000, 'tick 0');

    // Away from the first server; what it misses comes from both servers, to everyone,
    // to its room, and to it alone.
    await away(client, async () => {
      await tick(pubFirst, 1);
      await tick(pubSecond, 2, ['r']);
      await tick(pubFirst, 3, [id]);
      await tick(pubSecond, 4, ['elsewhere']);
    });
    assert.equal(client.id, id, 'the same socket id on the other server');
    assert.equal(await sio.ack(client, 'name'), second.name, 'now on the second server');
    await tick(pubSecond, 5);
    await sio.waitFor(() => got.length >= 5, 3000, 'the missed ticks and a live one');

    // And back to the first server.
    await away(client, async () => {
      await tick(pubSecond, 6, ['r']);
      await tick(pubFirst, 7);
    });
    assert.equal(client.id, id, 'the same socket id back on the first server');
    assert.equal(await sio.ack(client, 'name'), first.name);
    await tick(pubFirst, 8);
    await sio.waitFor(() => got.length >= 8, 3000, 'every tick');
    await sio.sleep(300);
    // Each once, none for another room, in the cluster's order: the stream's. Ticks sent
    // one after the other from two servers may enter the stream the other way round
    // (each server appends from its own queue), so the order asked of the client is that
    // of its offsets, which are stream ids.
    assert.deepEqual(got.map((t) => t.n).sort((a, b) => a - b), [0, 1, 2, 3, 5, 6, 7, 8], 'each tick once, none for another room');
    for (const t of got) assert.match(String(t.offset), /^\d+-\d+$/, 'offsets are stream ids');
    const streamOrder = (a, b) => {
      const [am, as] = a.split('-').map(BigInt);
      const [bm, bs] = b.split('-').map(BigInt);
      return am === bm ? (as < bs ? -1 : as > bs ? 1 : 0) : (am < bm ? -1 : 1);
    };
    for (let i = 1; i < got.length; i += 1) {
      assert.equal(streamOrder(got[i - 1].offset, got[i].offset), -1, `tick ${got[i].n} came after tick ${got[i - 1].n} in the stream's order`);
    }
    // its rooms and data came along
    const found = (await sio.ack(pubSecond, 'fetch-sockets', ['r'])).find((s) => s.id === id);
    assert.ok(found, 'still in room r');
    assert.deepEqual(found.data, { who: 'roamer' });
  }

  it('between two Rally servers', () => roundTrip(['rally', 'rally']));

  it('from a Rally server to a Node.js server and back', () => roundTrip(['rally', 'node']));

  it('from a Node.js server to a Rally server and back', () => roundTrip(['node', 'rally']));

  it('a gap no longer in the stream gets a fresh session, not part of it', async () => {
    const { prefix } = await cluster(['rally', 'rally']);
    const pub = await sio.connect(nodes[0].url);
    const client = await roamingClient();
    const id = client.id;
    const got = ticks(client);
    await tick(pub, 0);
    await sio.waitFor(() => got.length === 1, 3000, 'tick 0');
    const trim = createClient({ url: redis.url });
    trim.on('error', () => {});
    await trim.connect();
    try {
      await away(client, async () => {
        await tick(pub, 1);
        await tick(pub, 2);
        // the stream forgets what came before the last entry, the client's offset included
        await trim.sendCommand(['XTRIM', prefix, 'MAXLEN', '1']);
      });
    } finally {
      await trim.quit().catch(() => {});
    }
    assert.notEqual(client.id, id, 'a fresh session');
    assert.equal(client.recovered, false);
    await tick(pub, 3);
    await sio.waitFor(() => got.some((t) => t.n === 3), 3000, 'live again');
    assert.deepEqual(got.map((t) => t.n), [0, 3], 'nothing of the gap is replayed');
  });

  it('events a server delivered while Redis was stuck are never skipped by a recovery elsewhere', async () => {
    await cluster(['rally', 'rally']);
    const [first] = nodes;
    const pub = await sio.connect(first.url);
    const client = await roamingClient();
    const id = client.id;
    const got = ticks(client);
    const heardByPub = ticks(pub);
    await tick(pub, 0);
    await sio.waitFor(() => got.length === 1, 3000, 'tick 0');
    await away(client, async () => {
      // the session is saved when the client drops; then Redis freezes, so tick 1 cannot
      // go into the stream: once that has failed, the first server delivers it to its own
      // clients, without an offset
      await sio.sleep(300);
      redis.proc.kill('SIGSTOP');
      try {
        await tick(pub, 1);
        await sio.waitFor(() => heardByPub.some((t) => t.n === 1), 10000, 'tick 1 delivered on the first server');
        assert.equal(heardByPub.find((t) => t.n === 1).offset, undefined, 'tick 1 is not in the stream');
      } finally {
        redis.proc.kill('SIGCONT');
      }
      const watchers = await Promise.all(nodes.map((n) => sio.connect(n.url)));
      await sio.eventually(async () => {
        for (const w of watchers) {
          const s = await sio.ack(w, 'stats');
          assert.ok(s.publisher_connected && s.subscriber_connected, JSON.stringify(s));
        }
      }, 10000, 100);
      await tick(pub, 2);
    });
    // The session was in Redis all along, and tick 2 is in the stream, but tick 1 is not:
    // the second server cannot give the client what it missed, so it starts afresh.
    assert.notEqual(client.id, id, 'a fresh session, not a replay without tick 1');
    assert.equal(client.recovered, false);
    assert.deepEqual(got.map((t) => t.n), [0], 'nothing of the gap is replayed');
    await tick(pub, 3);
    await sio.waitFor(() => got.some((t) => t.n === 3), 3000, 'live again');
  });

  it('while Redis is away a returning client gets a fresh session; recovery works again once it is back', async () => {
    await cluster(['rally', 'rally']);
    const pub = await sio.connect(nodes[0].url);
    const client = await roamingClient();
    let id = client.id;
    const got = ticks(client);
    await tick(pub, 0);
    await sio.waitFor(() => got.length === 1, 3000, 'tick 0');
    await away(client, async () => { await redis.kill(); });
    assert.notEqual(client.id, id, 'a fresh session while Redis is away');
    await redis.restart();
    await sio.eventually(async () => {
      const stats = await sio.ack(client, 'stats');
      assert.ok(stats.publisher_connected && stats.subscriber_connected, JSON.stringify(stats));
    }, 10000);
    // Recovery works again: the next drop is recovered on the other server.
    id = client.id;
    await tick(pub, 1);
    await sio.waitFor(() => got.some((t) => t.n === 1), 5000, 'tick 1 after Redis came back');
    await away(client, async () => { await tick(pub, 2); });
    assert.equal(client.id, id, 'recovered once Redis is back');
    await sio.waitFor(() => got.some((t) => t.n === 2), 3000, 'the missed tick');
  });
});
