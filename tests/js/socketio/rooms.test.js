// Rooms: join/leave, all-rooms, fetchSockets, socketsJoin/socketsLeave, disconnectSockets,
// clean-up on disconnect.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../lib/server');
const sio = require('../lib/sio');

const sorted = (a) => [...a].sort();
const byId = (list) => [...list].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));

describe('rooms (testbed)', () => {
  let srv;
  before(async () => { srv = await start('examples/testbed'); });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  /** Connects `n` websocket clients and waits until the server sees exactly them. */
  async function fresh(n) {
    const clients = await sio.connectMany(n, srv.url, { transports: ['websocket'] });
    const ids = sorted(clients.map((c) => c.id));
    await sio.eventually(async () => {
      assert.deepEqual((await sio.ack(clients[0], 'fetch-sockets', [])).map((x) => x.id), ids);
    });
    return clients;
  }

  it('join returns the sorted rooms, which include the socket id', async () => {
    const [s] = await fresh(1);
    assert.deepEqual(await sio.ack(s, 'join', 'zeta'), sorted(['zeta', s.id]));
    assert.deepEqual(await sio.ack(s, 'join', ['beta', 'alpha']), sorted(['zeta', 'beta', 'alpha', s.id]));
    // joining twice is idempotent
    assert.deepEqual(await sio.ack(s, 'join', 'alpha'), sorted(['zeta', 'beta', 'alpha', s.id]));
  });

  it('leave returns the remaining rooms; leaving a room one is not in is harmless', async () => {
    const [s] = await fresh(1);
    await sio.ack(s, 'join', ['a', 'b']);
    assert.deepEqual(await sio.ack(s, 'leave', 'a'), sorted(['b', s.id]));
    assert.deepEqual(await sio.ack(s, 'leave', 'never-joined'), sorted(['b', s.id]));
  });

  it('all-rooms lists joined rooms and socket-id rooms; empty rooms disappear', async () => {
    const [a, b] = await fresh(2);
    await sio.ack(a, 'join', ['shared', 'only-a']);
    await sio.ack(b, 'join', 'shared');
    assert.deepEqual(await sio.ack(a, 'all-rooms'), sorted([a.id, b.id, 'shared', 'only-a']));
    await sio.ack(a, 'leave', 'only-a');
    await sio.ack(a, 'leave', 'shared');
    assert.deepEqual(await sio.ack(a, 'all-rooms'), sorted([a.id, b.id, 'shared']));
    await sio.ack(b, 'leave', 'shared');
    assert.deepEqual(await sio.ack(a, 'all-rooms'), sorted([a.id, b.id]));
  });

  it('a disconnected socket leaves all its rooms', async () => {
    const [a, b] = await fresh(2);
    await sio.ack(b, 'join', ['gone-room', 'kept-room']);
    await sio.ack(a, 'join', 'kept-room');
    const bid = b.id;
    b.disconnect();
    await sio.eventually(async () => {
      assert.deepEqual(await sio.ack(a, 'all-rooms'), sorted([a.id, 'kept-room']));
    });
    const left = await sio.ack(a, 'fetch-sockets', ['kept-room']);
    assert.deepEqual(left, [{ id: a.id, rooms: sorted([a.id, 'kept-room']) }]);
    assert.ok(!(await sio.ack(a, 'all-rooms')).includes(bid));
  });

  it('fetch-sockets: all sockets, or those in the given rooms (union), sorted by id', async () => {
    const [a, b, c] = await fresh(3);
    await sio.ack(a, 'join', ['r1']);
    await sio.ack(b, 'join', ['r1', 'r2']);
    await sio.ack(c, 'join', ['r3']);
    const expectAll = byId([
      { id: a.id, rooms: sorted([a.id, 'r1']) },
      { id: b.id, rooms: sorted([b.id, 'r1', 'r2']) },
      { id: c.id, rooms: sorted([c.id, 'r3']) },
    ]);
    assert.deepEqual(await sio.ack(a, 'fetch-sockets', []), expectAll);
    assert.deepEqual(await sio.ack(a, 'fetch-sockets', null), expectAll);
    assert.deepEqual(await sio.ack(c, 'fetch-sockets', ['r1']), expectAll.filter((x) => x.id !== c.id));
    assert.deepEqual(await sio.ack(c, 'fetch-sockets', ['r2']), expectAll.filter((x) => x.id === b.id));
    assert.deepEqual(await sio.ack(c, 'fetch-sockets', ['r2', 'r3']), expectAll.filter((x) => x.id !== a.id));
    assert.deepEqual(await sio.ack(c, 'fetch-sockets', [a.id]), expectAll.filter((x) => x.id === a.id));
    assert.deepEqual(await sio.ack(c, 'fetch-sockets', ['nobody-here']), []);
  });

  it('sockets-join makes the matching sockets join', async () => {
    const [a, b, c] = await fresh(3);
    await sio.ack(a, 'join', 'src');
    await sio.ack(b, 'join', 'src');
    await sio.ack(c, 'sockets-join', { rooms: ['src'], join: 'dst' });
    assert.deepEqual((await sio.ack(c, 'fetch-sockets', ['dst'])).map((x) => x.id), sorted([a.id, b.id]));
    assert.deepEqual(await sio.ack(a, 'join', []), sorted([a.id, 'src', 'dst']));
    // the rooms are real: an emit to 'dst' reaches a and b only
    const got = [a, b, c].map((s) => sio.collect(s, 'to-dst'));
    await sio.ack(c, 'emit', { event: 'to-dst', args: ['x'], rooms: ['dst'] });
    await sio.waitFor(() => got[0].length && got[1].length, 2000, 'to-dst on a and b');
    await sio.sleep(200);
    assert.deepEqual(got.map((g) => g.length), [1, 1, 0]);
  });

  it('sockets-join with several rooms, and without a filter (everyone)', async () => {
    const [a, b] = await fresh(2);
    await sio.ack(a, 'sockets-join', { rooms: [], join: ['all-1', 'all-2'] });
    for (const s of [a, b]) {
      assert.deepEqual(await sio.ack(s, 'join', []), sorted([s.id, 'all-1', 'all-2']));
    }
  });

  it('sockets-leave makes the matching sockets leave', async () => {
    const [a, b, c] = await fresh(3);
    for (const s of [a, b, c]) await sio.ack(s, 'join', ['lv', 'stay']);
    await sio.ack(c, 'join', 'marker');
    await sio.ack(a, 'sockets-leave', { rooms: ['marker'], leave: 'lv' });
    assert.deepEqual((await sio.ack(a, 'fetch-sockets', ['lv'])).map((x) => x.id), sorted([a.id, b.id]));
    await sio.ack(a, 'sockets-leave', { rooms: [], leave: ['lv', 'stay'] });
    assert.deepEqual(await sio.ack(a, 'fetch-sockets', ['lv']), []);
    assert.deepEqual(await sio.ack(a, 'fetch-sockets', ['stay']), []);
    assert.deepEqual(await sio.ack(a, 'all-rooms'), sorted([a.id, b.id, c.id, 'marker']));
  });

  for (const close of [false, true]) {
    it(`disconnect-sockets (close=${close}) disconnects exactly the sockets in the rooms`, async () => {
      const [control, x, y, z] = await fresh(4);
      await sio.ack(x, 'join', 'doomed');
      await sio.ack(y, 'join', 'doomed');
      const doomedIds = [x.id, y.id]; // the client forgets its id once disconnected
      const xr = sio.once(x, 'disconnect');
      const yr = sio.once(y, 'disconnect');
      const zQuiet = sio.noEvent(z, 'disconnect', 500);
      const cQuiet = sio.noEvent(control, 'disconnect', 500);
      assert.equal(await sio.ack(control, 'disconnect-sockets', { rooms: ['doomed'], close }), undefined);
      assert.equal((await xr)[0], 'io server disconnect');
      assert.equal((await yr)[0], 'io server disconnect');
      await Promise.all([zQuiet, cQuiet]);
      assert.deepEqual((await sio.ack(control, 'fetch-sockets', [])).map((s) => s.id), sorted([control.id, z.id]));
      const log = await sio.ack(control, 'disconnect-log');
      for (const id of doomedIds) {
        const entry = log.find((e) => e.id === id);
        assert.ok(entry, `no disconnect-log entry for ${id}`);
        assert.equal(entry.reason, 'server namespace disconnect');
        assert.deepEqual(entry.rooms, sorted([id, 'doomed']));
      }
    });
  }

  it('disconnect-sockets acks the requester first even when it disconnects itself', async () => {
    const [a, b] = await fresh(2);
    const aGone = sio.once(a, 'disconnect');
    const bGone = sio.once(b, 'disconnect');
    assert.equal(await sio.ack(a, 'disconnect-sockets', { rooms: [], close: false }), undefined);
    assert.equal((await aGone)[0], 'io server disconnect');
    assert.equal((await bGone)[0], 'io server disconnect');
  });
});
