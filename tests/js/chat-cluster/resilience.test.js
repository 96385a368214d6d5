// rally-chat on a cluster when Redis goes away and comes back: clients of one server keep
// chatting throughout, a `message` ack while Redis is away says the message was not stored
// (code `not_stored`, within a bounded time), and once Redis is back on the same port
// cross-server delivery, history and presence resume by themselves.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const sio = require('../lib/sio');
const { startRedis } = require('../lib/redis');
const { chatClient, ackOf, join, messages } = require('../chat/chat-helpers');
const { startCluster, startNode, health, waitRedisUp } = require('./cluster-helpers');
const { uniquePrefix, assertNoPanic } = require('../lib/redis');

for (const adapter of ['streams', 'classic']) describe(`rally-chat cluster (${adapter} adapter): Redis killed and restarted`, () => {
  let redis;
  let cluster;
  let extra = [];

  before(async () => { redis = await startRedis(); });
  after(async () => {
    await sio.closeAll();
    if (cluster) await cluster.stop();
    await Promise.all(extra.map((n) => n.stop()));
    if (redis) await redis.stop();
  });
  afterEach(async () => {
    await sio.closeAll();
    if (cluster) await cluster.stop();
    cluster = null;
    await Promise.all(extra.map((n) => n.stop()));
    assertNoPanic(extra);
    extra = [];
    if (redis.proc.exitCode !== null || redis.proc.signalCode !== null) await redis.restart();
  });

  it('during traffic: local chat goes on, acks say not stored, the cluster recovers', async () => {
    cluster = await startCluster(redis, { tag: 'kill', adapter });
    const { A, B } = cluster;
    const [a1, a2, b1, b2] = await Promise.all([
      chatClient(A.url, { name: 'a1' }), chatClient(A.url, { name: 'a2' }),
      chatClient(B.url, { name: 'b1' }), chatClient(B.url, { name: 'b2' }),
    ]);
    for (const x of [a1, a2, b1, b2]) await join(x, 'chat');

    // a1 talks to the room every 40 ms, b1 too: numbered messages
    let seq = 0;
    let sending = true;
    const traffic = (async () => {
      while (sending) {
        const n = seq++;
        a1.socket.emit('message', { from: 'a1', n }, 'chat');
        b1.socket.emit('message', { from: 'b1', n }, 'chat');
        await sio.sleep(40);
      }
    })();
    const heard = (x, from) => messages(x.rec).filter(([p]) => p && p.from === from).map(([p]) => p.n);

    try {
      // before: each server hears the other
      await sio.waitFor(() => heard(b2, 'a1').length >= 3 && heard(a2, 'b1').length >= 3, 3000, 'cross-server chat before the outage');

      await redis.kill();
      const killedAt = seq;
      await sio.sleep(300);

      // during the outage: both servers' clients keep chatting among themselves
      const a2Before = heard(a2, 'a1').length;
      const b2Before = heard(b2, 'b1').length;
      await sio.waitFor(() => heard(a2, 'a1').length >= a2Before + 10, 3000, 'chat on A during the outage');
      await sio.waitFor(() => heard(b2, 'b1').length >= b2Before + 10, 3000, 'chat on B during the outage');
      // lobby messages and private messages between clients of one server too
      a1.socket.emit('message', 'lobby during the outage');
      await a2.rec.wait('message', (p) => p === 'lobby during the outage');
      assert.deepEqual(await ackOf(a1.socket, 'private_message', 'psst', a2.id), []);
      assert.deepEqual(await a2.rec.wait('private_message'), ['psst', a1.id]);
      // a message with an ack: relayed, but the ack says it was not stored, and soon
      const t0 = Date.now();
      const [res] = await sio.ackArgsWithin(5000, a1.socket, 'message', 'unstored', 'chat');
      assert.equal(res && res.code, 'not_stored', sio.safeJson(res));
      assert.match(res.error, /not stored/);
      assert.ok(Date.now() - t0 < 3000, `the ack came within ${Date.now() - t0} ms`);
      await a2.rec.wait('message', (p) => p === 'unstored');
      // a private message to the other server cannot be checked: refused, not hung
      const [pm] = await sio.ackArgsWithin(5000, a1.socket, 'private_message', 'to b1?', b1.id);
      assert.equal(pm && pm.code, 'unavailable', sio.safeJson(pm));
      // /health still says ok, with Redis down
      const h = await health(A);
      assert.equal(h.status, 'ok');
      assert.equal(h.redis.subscriber_connected, false);

      await redis.restart();
      const restartedAt = seq;
      // cross-server delivery resumes by itself
      await sio.waitFor(() => heard(b2, 'a1').some((n) => n >= restartedAt) && heard(a2, 'b1').some((n) => n >= restartedAt), 10000, 'cross-server chat after the restart');
      // acks say stored again, and the history is shared again
      await sio.eventually(async () => assert.deepEqual(await ackOf(a1.socket, 'message', 'stored again', 'history-room'), []), 5000, 200);
      const late = await chatClient(B.url);
      const history = late.rec.wait('history', (room) => room === 'history-room');
      await join(late, 'history-room');
      const [, entries] = await history;
      assert.ok(entries.some((e) => e.payload === 'stored again' && e.from === a1.id), sio.safeJson(entries));
      // private messages across servers work again
      await sio.eventually(async () => assert.deepEqual(await ackOf(a1.socket, 'private_message', 'hi b1', b1.id), []), 5000, 200);
      assert.deepEqual(await b1.rec.wait('private_message', (p) => p === 'hi b1'), ['hi b1', a1.id]);
      // the online list spans both servers again
      await late.rec.waitLast('users', (users) => [a1, a2, b1, b2, late].every((x) => users.some((u) => u.id === x.id)), 5000);

      sending = false;
      await traffic;
      await sio.sleep(200);
      // nothing twice; the same server heard everything; the other missed only the outage
      for (const [x, from] of [[a2, 'a1'], [b2, 'b1'], [b2, 'a1'], [a2, 'b1']]) {
        const got = heard(x, from);
        assert.equal(new Set(got).size, got.length, `no duplicates (${from} at ${x === a2 ? 'a2' : 'b2'})`);
      }
      await sio.eventually(() => {
        assert.equal(heard(a2, 'a1').length, seq, 'a2 heard every message of a1');
        assert.equal(heard(b2, 'b1').length, seq, 'b2 heard every message of b1');
      }, 3000);
      const remote = heard(b2, 'a1');
      assert.ok(remote.some((n) => n < killedAt) && remote.some((n) => n >= restartedAt));
    } finally {
      sending = false;
      await traffic;
    }
  });

  it('a server started while Redis is down serves its clients, then joins the cluster', async () => {
    const prefix = uniquePrefix('late');
    const A = await startNode(redis, prefix, [], adapter);
    extra.push(A);
    await waitRedisUp(A);
    await redis.kill();
    const B = await startNode(redis, prefix, [], adapter); // waits up to 5 s for Redis, then goes on
    extra.push(B);
    const [b1, b2] = await Promise.all([chatClient(B.url), chatClient(B.url)]);
    b1.socket.emit('message', 'alone on B');
    await b2.rec.wait('message', (p) => p === 'alone on B');
    const [res] = await sio.ackArgsWithin(5000, b1.socket, 'message', 'not kept');
    assert.equal(res && res.code, 'not_stored');
    await redis.restart();
    await waitRedisUp(B);
    await waitRedisUp(A);
    const a1 = await chatClient(A.url);
    a1.socket.emit('message', 'A to B');
    await b2.rec.wait('message', (p) => p === 'A to B', 5000);
    // presence was republished when Redis came back, and the newcomer's snapshot spans both
    await b1.rec.waitLast('users', (users) => users.length === 3, 5000);
  });
});
