// Redis goes away and comes back under two Rally nodes: local delivery and room changes go
// on, failures are counted, requests and emits with acks fail instead of hanging, and the
// nodes reconnect and resubscribe by themselves. Also: garbage on the channels (and, with
// the streams adapter, in the stream) is dropped. Once per adapter.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { createClient } = require('redis');
const sio = require('../lib/sio');
const { startRedis, startRallyNode, uniquePrefix, assertNoPanic } = require('../lib/redis');

for (const adapter of ['classic', 'streams']) describe(`redis cluster (${adapter} adapter): resilience`, () => {
  let redis;
  let nodes = [];

  before(async () => { redis = await startRedis(); });
  after(async () => { if (redis) await redis.stop(); });
  afterEach(async () => {
    await sio.closeAll();
    await Promise.all(nodes.map((n) => n.stop()));
    assertNoPanic(nodes);
    nodes = [];
    if (redis.proc.exitCode !== null || redis.proc.signalCode !== null) await redis.restart();
  });

  async function twoNodes(tag) {
    const prefix = uniquePrefix(tag);
    nodes = await Promise.all([
      startRallyNode(redis, prefix, { name: 'A', requestTimeout: 1000, adapter }),
      startRallyNode(redis, prefix, { name: 'B', requestTimeout: 1000, adapter }),
    ]);
    return { prefix, A: nodes[0], B: nodes[1] };
  }

  it('Redis killed during traffic and restarted: local chat goes on, the cluster recovers', async () => {
    const { A, B } = await twoNodes('kill');
    const [a1, a2, b1] = await Promise.all([sio.connect(A.url), sio.connect(A.url), sio.connect(B.url)]);
    for (const s of [a1, a2, b1]) await sio.ack(s, 'join', 'chat');
    await sio.eventually(async () => assert.equal(await sio.ack(a1, 'server-count'), 2));

    const atA2 = sio.collect(a2, 'chat');
    const atB1 = sio.collect(b1, 'chat');
    let seq = 0;
    const sent = [];
    let sending = true;
    const traffic = (async () => {
      while (sending) {
        const n = seq++;
        sent.push(n);
        // bounded: an emit never waits on Redis
        await sio.ack(a1, 'emit', { event: 'chat', args: [n], rooms: ['chat'], from: 'socket' });
        await sio.sleep(40);
      }
    })();
    const seqs = (seen) => seen.map(([n]) => n);

    // before: both nodes hear a1
    await sio.waitFor(() => atB1.length >= 3, 3000, 'cross-node chat before the outage');

    await redis.kill();
    const killedAt = seq;
    await sio.sleep(300);

    // during the outage: a1 → a2 (same node) keeps flowing
    const heardBefore = atA2.length;
    await sio.waitFor(() => atA2.length >= heardBefore + 10, 3000, 'local chat during the outage');
    // cross-node requests fail fast with an error instead of hanging
    let t = Date.now();
    const fetched = await sio.ack(a1, 'fetch-sockets', []);
    assert.match(fetched.err, /unavailable|unreachable/i, JSON.stringify(fetched));
    assert.match((await sio.ack(a1, 'all-rooms')).err, /unavailable|unreachable/i);
    a2.on('quiz', (cb) => cb('a2'));
    const bwa = await sio.ack(a1, 'broadcast-with-ack', { event: 'quiz', args: [], rooms: [a2.id], timeout: 2000 });
    assert.ok(bwa.err && !/timeout/.test(bwa.err), `broadcast with acks fails with an error: ${JSON.stringify(bwa)}`);
    const sse = await sio.ack(a1, 'server-side-emit-with-ack', { event: 'ask', args: [], timeout: 2000 });
    assert.ok(sse.err && !/timeout/.test(sse.err), `server-side emit with acks fails with an error: ${JSON.stringify(sse)}`);
    assert.ok(Date.now() - t < 1500, `requests failed fast (${Date.now() - t} ms)`);
    // room changes apply locally at once
    await sio.ack(a2, 'leave', 'chat');
    const quietFrom = atA2.length;
    await sio.sleep(200);
    assert.ok(atA2.length <= quietFrom + 1, 'a2 left the room while Redis was away');
    assert.deepEqual(await sio.ack(a2, 'join', 'chat'), [a2.id, 'chat'].sort());
    const back = atA2.length;
    await sio.waitFor(() => atA2.length > back + 2, 2000, 'a2 back in the room');
    const stats = await sio.ack(a1, 'stats');
    assert.ok(stats.publish_failures > 0, `failures are counted: ${JSON.stringify(stats)}`);
    assert.equal(stats.subscriber_connected, false);
    assert.ok(stats.requests_failed >= 2, JSON.stringify(stats));

    await redis.restart();
    const restartedAt = seq;
    // the cluster recovers by itself: b1 hears a1 again, requests work again
    await sio.waitFor(() => atB1.some(([n]) => n >= restartedAt), 10000, 'cross-node chat after the restart');
    await sio.eventually(async () => assert.equal(await sio.ack(a1, 'server-count'), 2), 5000);
    await sio.eventually(async () => {
      assert.deepEqual((await sio.ack(b1, 'fetch-sockets', [])).map((s) => s.id), [a1.id, a2.id, b1.id].sort());
    }, 5000);
    const seenAtA1 = sio.collect(a1, 'chat');
    await sio.ack(b1, 'emit', { event: 'chat', args: ['from b1'], rooms: ['chat'], from: 'socket' });
    await sio.waitFor(() => seenAtA1.some(([x]) => x === 'from b1'), 3000, 'b1 → a1 after the restart');

    sending = false;
    await traffic;
    await sio.sleep(200);
    // a2 (same node as the sender) missed only what was sent while it had left the room, and
    // never got anything twice; b1 missed what was sent while Redis was away, nothing else twice.
    const local = seqs(atA2).filter((x) => typeof x === 'number');
    assert.equal(new Set(local).size, local.length, 'no duplicates on the sending node');
    assert.ok(local.length >= sent.length - 8, `local delivery went on (${local.length} of ${sent.length})`);
    const remote = seqs(atB1).filter((x) => typeof x === 'number');
    assert.equal(new Set(remote).size, remote.length, 'no duplicates across nodes');
    assert.ok(remote.some((n) => n < killedAt) && remote.some((n) => n >= restartedAt));
    const after = await sio.ack(a1, 'stats');
    assert.ok(after.subscriber_connects >= 2 && after.publisher_connects >= 2, JSON.stringify(after));
    assert.equal(after.subscriber_connected, true);
  });

  it('a node started while Redis is down works locally and joins the cluster when Redis comes', async () => {
    const prefix = uniquePrefix('late');
    const A = await startRallyNode(redis, prefix, { name: 'A', adapter });
    nodes.push(A);
    await redis.kill();
    const B = await startRallyNode(redis, prefix, { name: 'B', adapter }); // waits up to 5 s for Redis, then goes on
    nodes.push(B);
    const [b1, b2] = await Promise.all([sio.connect(B.url), sio.connect(B.url)]);
    const got = sio.once(b2, 'hi');
    await sio.ack(b1, 'emit', { event: 'hi', args: [1] });
    await got;
    await redis.restart();
    const a1 = await sio.connect(A.url);
    await sio.eventually(async () => assert.equal(await sio.ack(a1, 'server-count'), 2), 10000);
    const cross = sio.once(b2, 'hi', 5000);
    await sio.ack(a1, 'emit', { event: 'hi', args: [2] });
    assert.deepEqual(await cross, [2]);
  });

  it('malformed messages from Redis are dropped and counted; the node keeps working', async () => {
    const { prefix, A, B } = await twoNodes('garbage');
    const [a1, b1] = await Promise.all([sio.connect(A.url), sio.connect(B.url)]);
    await sio.ack(b1, 'join', 'room');
    const pub = createClient({ url: redis.url });
    pub.on('error', () => {});
    await pub.connect();
    try {
      const garbage = [
        [`${prefix}#/#`, Buffer.from([0xc1])],
        [`${prefix}#/#`, Buffer.from([0x93, 0xa1, 0x61])],
        [`${prefix}#/#`, Buffer.from('not msgpack at all')],
        [`${prefix}#/#`, Buffer.from([0x93, 0xa1, 0x61, 0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0x03, 0x80])],
        [`${prefix}#/#room#`, Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff])],
        [`${prefix}#/#`, Buffer.alloc(200, 0x91)],
        [`${prefix}-request#/#`, Buffer.from('{"type":')],
        [`${prefix}-request#/#`, Buffer.from('{"type":7,"requestId":"x","packet":42}')],
        [`${prefix}-request#/#`, Buffer.from('{"type":6,"data":"nope"}')],
        [`${prefix}-request#/#`, Buffer.from([0x85, 0x01])],
        [`${prefix}-response#/#`, Buffer.from('[1,2,3')],
      ];
      for (const [channel, msg] of garbage) await pub.publish(channel, msg);
      // The streams adapter's stream (named like the prefix here): entries that are not
      // what a server writes.
      const entries = [
        { uid: 'x', nsp: '/', type: '3', data: '!!not base64!!' },
        { uid: 'x', nsp: '/', type: '3', data: '{"packet":' },
        { uid: 'x', nsp: '/', type: '3', data: '{"packet":{"type":2,"data":42},"opts":{}}' },
        { uid: 'x', nsp: '/', type: 'three', data: '{}' },
        { uid: 'x', type: '4' },
      ];
      if (adapter === 'streams') for (const e of entries) await pub.xAdd(prefix, '*', e);
      const expected = adapter === 'streams' ? 13 : 8;
      await sio.eventually(async () => {
        const stats = await sio.ack(b1, 'stats');
        assert.ok(stats.malformed >= expected, JSON.stringify(stats));
      });
      const got = sio.once(b1, 'still');
      await sio.ack(a1, 'emit', { event: 'still', args: ['alive'], rooms: ['room'] });
      assert.deepEqual(await got, ['alive']);
      assert.equal(await sio.ack(a1, 'server-count'), 2);
    } finally {
      await pub.quit().catch(() => {});
    }
  });
});
