// rally-chat on a cluster when one server dies without a word: killed with SIGKILL or
// frozen with SIGSTOP. Within 10 s the other server drops its users from the online list
// and the room-member lists and tells its clients; a frozen server that wakes up is listed
// again. The users of a Node.js socket.io server on the same cluster (which sends no
// heartbeat) are never dropped. Both adapters.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const sio = require('../lib/sio');
const { startRedis, startNodeNode, assertNoPanic } = require('../lib/redis');
const { chatClient, join } = require('../chat/chat-helpers');
const { startCluster, health } = require('./cluster-helpers');

/** The chat's promise: a dead server's users leave the lists within this. */
const WITHIN_MS = 10000;

const ids = (list) => list.map((u) => u.id).sort();

/** Resolves once each Rally server hears the others' heartbeats (a server frozen before
 * it ever said a word cannot be told from a slow one). */
async function heardEachOther(nodes) {
  await sio.eventually(async () => {
    for (const node of nodes) {
      const h = await health(node);
      assert.ok(h.redis && h.redis.servers_alive >= nodes.length - 1, JSON.stringify(h.redis));
    }
  }, 10000, 100);
}

for (const adapter of ['streams', 'classic']) describe(`rally-chat cluster (${adapter} adapter): a server dies without a word`, () => {
  let redis;
  let cluster;
  let extra = [];

  before(async () => { redis = await startRedis(); });
  after(async () => {
    if (redis) await redis.stop();
  });
  afterEach(async () => {
    await sio.closeAll();
    if (cluster) await cluster.stop();
    cluster = null;
    await Promise.all(extra.map((n) => n.stop()));
    assertNoPanic(extra);
    extra = [];
  });

  it('killed (SIGKILL): its users leave the lists within 10 s; a Node.js server\'s users stay', async () => {
    cluster = await startCluster(redis, { tag: 'killed', adapter });
    const { A, B } = cluster;
    const N = await startNodeNode(redis, cluster.prefix, { adapter });
    extra.push(N);
    const a1 = await chatClient(A.url, { name: 'anna' });
    const b1 = await chatClient(B.url, { name: 'bert' });
    const n1 = sio.client(N.url);
    await sio.waitConnect(n1);
    await join(a1, 'ops');
    await join(b1, 'ops');
    const everyone = [a1.id, b1.id, n1.id].sort();
    // A has heard of everyone on every server, the Node.js one included.
    await a1.rec.waitLast('users', (users) => assert.deepEqual(ids(users), everyone) ?? true, 10000);
    await a1.rec.waitLast('room_members', (room, members) => room === 'ops' && ids(members).join() === [a1.id, b1.id].sort().join(), 5000);

    await heardEachOther([A, B]);
    const killedAt = Date.now();
    B.proc.kill('SIGKILL');
    await B.exited;
    await a1.rec.waitLast('users', (users) => ids(users).join() === [a1.id, n1.id].sort().join(), WITHIN_MS);
    const usersAfter = Date.now() - killedAt;
    await a1.rec.waitLast('room_members', (room, members) => room === 'ops' && ids(members).join() === a1.id, 2000);
    const roomsEvent = a1.rec.last('rooms');
    assert.deepEqual(roomsEvent[0].find((r) => r.name === 'ops'), { name: 'ops', members: 1 });
    assert.ok(usersAfter <= WITHIN_MS, `the online list lost B's user ${usersAfter} ms after the kill`);

    // Well past every heartbeat timeout, the Node.js server's user is still online, and a
    // newcomer is shown both survivors at once.
    await sio.sleep(Math.max(0, killedAt + 12000 - Date.now()));
    const late = await chatClient(A.url, { name: 'late' });
    await late.rec.waitLast('users', (users) => ids(users).join() === [a1.id, n1.id, late.id].sort().join(), 5000);
    await a1.rec.waitLast('users', (users) => users.some((u) => u.id === n1.id) && users.some((u) => u.id === late.id), 5000);
    console.log(`# ${adapter}: B's user left A's lists ${usersAfter} ms after SIGKILL`);
  });

  it('frozen (SIGSTOP): its users leave within 10 s, and are listed again once it wakes', async () => {
    cluster = await startCluster(redis, { tag: 'frozen', adapter });
    const { A, B } = cluster;
    const a1 = await chatClient(A.url, { name: 'anna' });
    const b1 = await chatClient(B.url, { name: 'bert' });
    await join(a1, 'ops');
    await join(b1, 'ops');
    const both = [a1.id, b1.id].sort().join();
    await a1.rec.waitLast('users', (users) => ids(users).join() === both, 10000);

    await heardEachOther([A, B]);
    const frozenAt = Date.now();
    B.pause();
    try {
      await a1.rec.waitLast('users', (users) => ids(users).join() === a1.id, WITHIN_MS);
      const usersAfter = Date.now() - frozenAt;
      await a1.rec.waitLast('room_members', (room, members) => room === 'ops' && ids(members).join() === a1.id, 2000);
      assert.ok(usersAfter <= WITHIN_MS, `the online list lost B's user ${usersAfter} ms after SIGSTOP`);
      // While B stays frozen the cluster does not wait for it: a newcomer's list comes
      // at once, without the frozen server's user.
      const t0 = Date.now();
      const late = await chatClient(A.url, { name: 'late' });
      await late.rec.waitLast('users', (users) => ids(users).join() === [a1.id, late.id].sort().join(), 3000);
      const lateAfter = Date.now() - t0;
      assert.ok(lateAfter < 1500, `a newcomer's list took ${lateAfter} ms (the request timeout is 1500 ms)`);
      console.log(`# ${adapter}: B's user left A's lists ${usersAfter} ms after SIGSTOP; a newcomer's list took ${lateAfter} ms`);
    } finally {
      B.resume();
    }
    // B wakes: its client never noticed (the chat's ping timeout is far longer), and it is
    // listed again.
    await a1.rec.waitLast('users', (users) => ids(users).includes(b1.id), WITHIN_MS);
    assert.ok(b1.socket.connected, 'b1 stayed connected through the freeze');
  });
});
