// rally-chat on a cluster: two servers (A and B) on one Redis, clients on each, with the
// official socket.io-client. Every row of the protocol table across servers, the online
// list and room members spanning both, the socket-id checks asking the other server, and
// history shared through Redis. One throwaway redis-server for the file; each test has
// its own channel and key prefix and its own two servers.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const sio = require('../lib/sio');
const { startRedis } = require('../lib/redis');
const { chatClient, ackOf, join, messages } = require('../chat/chat-helpers');
const { startCluster, health } = require('./cluster-helpers');

for (const adapter of ['streams', 'classic']) describe(`rally-chat cluster (${adapter} adapter): two servers on one Redis`, () => {
  let redis;
  let cluster;

  before(async () => { redis = await startRedis(); });
  after(async () => {
    await sio.closeAll();
    if (cluster) await cluster.stop();
    if (redis) await redis.stop();
  });
  afterEach(async () => {
    await sio.closeAll();
    if (cluster) await cluster.stop();
    cluster = null;
  });

  async function twoServers(opts) {
    cluster = await startCluster(redis, { ...opts, adapter });
    return cluster;
  }

  it('/health shows both Redis connections up', async () => {
    const { A, B } = await twoServers({ tag: 'health' });
    for (const node of [A, B]) {
      const h = await health(node);
      assert.equal(h.status, 'ok');
      assert.equal(h.redis.publisher_connected, true);
      assert.equal(h.redis.subscriber_connected, true);
    }
  });

  it('message(payload) reaches every client on both servers, the sender included', async () => {
    const { A, B } = await twoServers({ tag: 'all' });
    const [a1, a2, b1, b2] = await Promise.all([
      chatClient(A.url), chatClient(A.url), chatClient(B.url), chatClient(B.url),
    ]);
    a1.socket.emit('message', 'hello from A');
    b1.socket.emit('message', { from: 'B', n: [1, 2] });
    for (const x of [a1, a2, b1, b2]) {
      assert.deepEqual(await x.rec.wait('message', (p) => p === 'hello from A'), ['hello from A']);
      assert.deepEqual(await x.rec.wait('message', (p) => p && p.from === 'B'), [{ from: 'B', n: [1, 2] }]);
      // message_info went along, just before
      const [info] = await x.rec.wait('message_info', (i) => i.from === b1.id);
      assert.equal(info.room, null);
    }
    await sio.sleep(200);
    for (const x of [a1, a2, b1, b2]) assert.equal(messages(x.rec).length, 2, 'each message exactly once');
  });

  it('guest names are unique across both servers', async () => {
    const { A, B } = await twoServers({ tag: 'guests' });
    const crowd = await Promise.all(Array.from({ length: 50 }, (_, i) => chatClient(i % 2 ? B.url : A.url)));
    const names = crowd.map((c) => c.welcome.name);
    for (const name of names) assert.match(name, /^guest-\d{4,}$/);
    assert.equal(new Set(names).size, names.length, `duplicate guest names: ${names}`);
    // a guest name held on server A is not handed out again by server B
    const onA = crowd[0];
    const onB = await chatClient(B.url, { auth: { guest: onA.welcome.name } });
    assert.notEqual(onB.welcome.name, onA.welcome.name);
    // and once its holder left, B gives it back to the guest who asks for it
    onA.socket.disconnect();
    await crowd[1].rec.waitLast('users', (list) => !list.some((u) => u.id === onA.id));
    const again = await chatClient(B.url, { auth: { guest: onA.welcome.name } });
    assert.equal(again.welcome.name, onA.welcome.name);
  });

  it('binary payloads cross servers as binary', async () => {
    const { A, B } = await twoServers({ tag: 'bin' });
    const [a, b] = await Promise.all([chatClient(A.url), chatClient(B.url)]);
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
    a.socket.emit('message', { file: 'x.bin', data: bytes });
    const [got] = await b.rec.wait('message', (p) => p && p.file === 'x.bin');
    assert.ok(Buffer.isBuffer(got.data));
    assert.deepEqual(got.data, bytes);
  });

  it('message(payload, room) reaches the room\'s members on both servers and no one else', async () => {
    const { A, B } = await twoServers({ tag: 'room' });
    const [a1, a2, b1, b2] = await Promise.all([
      chatClient(A.url), chatClient(A.url), chatClient(B.url), chatClient(B.url),
    ]);
    await join(a1, 'kitchen');
    await join(b1, 'kitchen');
    // b2, a non-member on B, sends to the room; a1, a member on A, too
    b2.socket.emit('message', 'soup is ready', 'kitchen');
    a1.socket.emit('message', { from: 'a1' }, 'kitchen');
    for (const x of [a1, b1]) {
      assert.deepEqual(await x.rec.wait('message', (p) => p === 'soup is ready'), ['soup is ready', 'kitchen']);
      assert.deepEqual(await x.rec.wait('message', (p) => p && p.from === 'a1'), [{ from: 'a1' }, 'kitchen']);
    }
    await sio.sleep(300);
    assert.deepEqual(messages(a2.rec), []);
    assert.deepEqual(messages(b2.rec), []);
    assert.equal(messages(a1.rec).length, 2);
    assert.equal(messages(b1.rec).length, 2);
  });

  it('join and leave answer ack(); after a leave no room message arrives from either server', async () => {
    const { A, B } = await twoServers({ tag: 'joinleave' });
    const [a, b] = await Promise.all([chatClient(A.url), chatClient(B.url)]);
    assert.deepEqual(await ackOf(a.socket, 'join', 'porch'), []);
    assert.deepEqual(await ackOf(b.socket, 'join', 'porch'), []);
    assert.deepEqual(await ackOf(b.socket, 'join', 'porch'), []);
    b.socket.emit('message', 'first', 'porch');
    await a.rec.wait('message', (p) => p === 'first');
    // members across servers, and the notices
    await a.rec.waitLast('room_members', (room, list) => room === 'porch' && list.length === 2);
    assert.deepEqual(await ackOf(a.socket, 'leave', 'porch'), []);
    assert.deepEqual(await ackOf(a.socket, 'leave', 'never-joined'), []);
    await b.rec.waitLast('room_members', (room, list) => room === 'porch' && list.length === 1 && list[0].id === b.id);
    b.socket.emit('message', 'second', 'porch');
    await b.rec.wait('message', (p) => p === 'second');
    await sio.sleep(200);
    assert.deepEqual(messages(a.rec).map((m) => m[0]), ['first']);
  });

  it('private_message to a socket on the other server reaches only it, with the sender id', async () => {
    const { A, B } = await twoServers({ tag: 'private' });
    const [a1, a2, b1, b2] = await Promise.all([
      chatClient(A.url), chatClient(A.url), chatClient(B.url), chatClient(B.url),
    ]);
    assert.deepEqual(await ackOf(a1.socket, 'private_message', { secret: 'for b1' }, b1.id), []);
    assert.deepEqual(await b1.rec.wait('private_message'), [{ secret: 'for b1' }, a1.id]);
    // and back, without an ack
    b1.socket.emit('private_message', 'for a1', a1.id);
    assert.deepEqual(await a1.rec.wait('private_message'), ['for a1', b1.id]);
    await sio.sleep(200);
    assert.deepEqual(a2.rec.all('private_message'), []);
    assert.deepEqual(b2.rec.all('private_message'), []);
    assert.equal(b1.rec.all('private_message').length, 1);
    assert.equal(a1.rec.all('private_message').length, 1);
    assert.deepEqual([a1, a2, b1, b2].flatMap((x) => messages(x.rec)), []);
  });

  it('private messages to the other server keep their order', async () => {
    const { A, B } = await twoServers({ tag: 'order' });
    const [a, b] = await Promise.all([chatClient(A.url), chatClient(B.url)]);
    const n = 50;
    for (let i = 0; i < n; i++) a.socket.emit('private_message', i, b.id);
    // interleaved lobby messages keep their place too
    await sio.eventually(() => assert.equal(b.rec.all('private_message').length, n), 10000, 50);
    assert.deepEqual(b.rec.all('private_message').map(([p]) => p), Array.from({ length: n }, (_, i) => i));
  });

  it('socket ids of the other server: no_such_user for unknown ids, forbidden_room for a socket\'s room', async () => {
    const { A, B } = await twoServers({ tag: 'ids' });
    const [a, b, c] = await Promise.all([chatClient(A.url), chatClient(B.url), chatClient(B.url)]);
    // an id-shaped name nobody has
    const [unknown] = await ackOf(a.socket, 'private_message', 'hello?', 'AAAAAAAAAAAAAAAAAAAA');
    assert.equal(unknown.code, 'no_such_user');
    // a chat room (on the other server) is not a private target
    await join(b, 'club');
    const [club] = await ackOf(a.socket, 'private_message', 'hello club?', 'club');
    assert.equal(club.code, 'no_such_user');
    // b's id names b's private room: joining it, or sending "to the room" of it, is refused
    const [joined] = await ackOf(a.socket, 'join', b.id);
    assert.equal(joined.code, 'forbidden_room');
    const [sent] = await ackOf(a.socket, 'message', 'sneaky', b.id);
    assert.equal(sent.code, 'forbidden_room');
    c.socket.emit('private_message', 'only for b', b.id);
    await b.rec.wait('private_message');
    await sio.sleep(200);
    assert.deepEqual(a.rec.all('private_message'), []);
    assert.deepEqual(messages(b.rec).filter((m) => m[0] === 'sneaky'), []);
  });

  it('the online list shows the users of both servers, kept current (names, renames, departures)', async () => {
    const { A, B } = await twoServers({ tag: 'users' });
    const ada = await chatClient(A.url, { name: 'Ada' });
    const bob = await chatClient(B.url, { name: 'Bob' });
    const cy = await chatClient(A.url, { name: 'Cy' });
    const list = (users) => users.map((u) => `${u.name}:${u.id}`).join();
    const everyone = () => list([
      { name: 'Ada', id: ada.id }, { name: 'Bob', id: bob.id }, { name: 'Cy', id: cy.id },
    ]);
    for (const x of [ada, bob, cy]) await x.rec.waitLast('users', (users) => list(users) === everyone(), 5000);
    // a rename on B shows on A
    assert.deepEqual(await ackOf(bob.socket, 'set_name', 'Robert'), []);
    await ada.rec.waitLast('users', (users) => users.some((u) => u.id === bob.id && u.name === 'Robert'), 5000);
    await ada.rec.wait('notice', (n) => n.text === 'Bob is now Robert');
    // a departure from A shows on B
    cy.socket.disconnect();
    await bob.rec.waitLast('users', (users) => users.length === 2 && !users.some((u) => u.id === cy.id), 5000);
  });

  it('room_members and rooms span both servers', async () => {
    const { A, B } = await twoServers({ tag: 'members' });
    const ada = await chatClient(A.url, { name: 'Ada' });
    const bob = await chatClient(B.url, { name: 'Bob' });
    const cy = await chatClient(B.url, { name: 'Cy' });
    await join(ada, 'attic');
    await join(bob, 'attic');
    const names = (l) => l.map((u) => u.name).join();
    for (const x of [ada, bob]) {
      await x.rec.waitLast('room_members', (room, l) => room === 'attic' && names(l) === 'Ada,Bob', 5000);
    }
    await cy.rec.waitLast('rooms', (rooms) => rooms.some((r) => r.name === 'attic' && r.members === 2), 5000);
    // a notice from B reaches the member on A
    await join(cy, 'attic');
    await ada.rec.wait('notice', (n) => n.room === 'attic' && n.text === 'Cy joined');
    await ada.rec.waitLast('room_members', (room, l) => room === 'attic' && names(l) === 'Ada,Bob,Cy', 5000);
    // typing in the room crosses too
    cy.socket.emit('typing', 'attic');
    const [t] = await ada.rec.wait('typing', (s) => s.typing && s.room === 'attic');
    assert.equal(t.id, cy.id);
  });

  it('history is shared: what is sent on A is in the history a client of B gets', async () => {
    const { A, B } = await twoServers({ tag: 'history', args: ['--history-limit', '3'] });
    const a = await chatClient(A.url, { name: 'Ada' });
    // acked: stored in Redis
    assert.deepEqual(await ackOf(a.socket, 'message', 'lobby hello'), []);
    await join(a, 'books');
    const bytes = Buffer.from([9, 8, 7, 0]);
    for (const p of ['one', 'two', { bin: bytes }, 'four']) {
      assert.deepEqual(await ackOf(a.socket, 'message', p, 'books'), []);
    }
    const b = await chatClient(B.url);
    const [lobbyRoom, lobby] = await b.rec.wait('history', (r) => r === null);
    assert.equal(lobbyRoom, null);
    assert.deepEqual(lobby.map((e) => [e.payload, e.from, e.name]), [['lobby hello', a.id, 'Ada']]);
    const history = b.rec.wait('history', (room) => room === 'books');
    await join(b, 'books');
    const [, entries] = await history;
    // bounded to the last 3, oldest first, binary kept
    assert.equal(entries.length, 3);
    assert.equal(entries[0].payload, 'two');
    assert.ok(Buffer.isBuffer(entries[1].payload.bin));
    assert.deepEqual(entries[1].payload.bin, bytes);
    assert.equal(entries[2].payload, 'four');
    for (const e of entries) {
      assert.equal(e.room, 'books');
      assert.equal(e.from, a.id);
      assert.equal(typeof e.id, 'string');
    }
    // and the other way round: B's message in A's next joiner's history
    assert.deepEqual(await ackOf(b.socket, 'message', 'from B', 'books'), []);
    const a2 = await chatClient(A.url);
    const again = a2.rec.wait('history', (room) => room === 'books');
    await join(a2, 'books');
    const [, latest] = await again;
    assert.equal(latest[latest.length - 1].payload, 'from B');
    assert.equal(latest[latest.length - 1].from, b.id);
  });

  it('websocket-only and polling clients mix across servers', async () => {
    const { A, B } = await twoServers({ tag: 'transports' });
    const [a, b] = await Promise.all([
      chatClient(A.url, { transports: ['websocket'] }),
      chatClient(B.url, { transports: ['polling'] }),
    ]);
    await join(a, 'mixed');
    await join(b, 'mixed');
    a.socket.emit('message', 'ws to polling', 'mixed');
    await b.rec.wait('message', (p) => p === 'ws to polling');
    b.socket.emit('private_message', 'polling to ws', a.id);
    assert.deepEqual(await a.rec.wait('private_message'), ['polling to ws', b.id]);
  });
});
