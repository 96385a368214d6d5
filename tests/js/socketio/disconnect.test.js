// Disconnections and their reasons, on both sides; `disconnecting` sees the rooms.
'use strict';

const { describe, it, before, after, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../lib/server');
const sio = require('../lib/sio');

const sorted = (a) => [...a].sort();
const TRANSPORTS = [['polling', ['polling']], ['websocket', ['websocket']]];

describe('disconnect (testbed)', () => {
  let srv;
  let observer; // a bystander that reads the server's disconnect log

  before(async () => { srv = await start('examples/testbed'); });
  after(() => srv && srv.stop());
  beforeEach(async () => { observer = await sio.connect(srv.url, { transports: ['websocket'] }); });
  afterEach(() => sio.closeAll());

  /** Waits for the server's disconnect-log entry of socket `id`. */
  async function logEntry(id) {
    let entry;
    await sio.eventually(async () => {
      const log = await sio.ack(observer, 'disconnect-log');
      entry = log.find((e) => e.id === id);
      assert.ok(entry, `no disconnect-log entry for ${id} in ${sio.safeJson(log)}`);
    });
    return entry;
  }

  for (const [tlabel, transports] of TRANSPORTS) {
    it(`client socket.disconnect(): client "io client disconnect", server "client namespace disconnect" with its rooms (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports });
      const id = s.id;
      await sio.ack(s, 'join', ['room-y', 'room-x']);
      const reason = sio.once(s, 'disconnect');
      s.disconnect();
      assert.equal((await reason)[0], 'io client disconnect');
      const entry = await logEntry(id);
      assert.equal(entry.reason, 'client namespace disconnect');
      assert.deepEqual(entry.rooms, sorted([id, 'room-x', 'room-y']));
    });

    for (const close of [false, true]) {
      it(`server disconnect-me(${close}): client "io server disconnect", server "server namespace disconnect", no reconnection (${tlabel})`, async () => {
        const s = await sio.connect(srv.url, { transports, reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200 });
        const id = s.id;
        await sio.ack(s, 'join', 'before-kick');
        const reason = sio.once(s, 'disconnect');
        s.emit('disconnect-me', close);
        assert.equal((await reason)[0], 'io server disconnect');
        const entry = await logEntry(id);
        assert.equal(entry.reason, 'server namespace disconnect');
        assert.deepEqual(entry.rooms, sorted([id, 'before-kick']));
        // a server-side disconnection is final: the client must not reconnect by itself
        await sio.noEvent(s, 'connect', 700);
        assert.equal(s.connected, false);
        assert.equal(s.active, false);
      });
    }

    it(`client engine closed (socket.io.engine.close()): server "transport close" (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports });
      const id = s.id;
      await sio.ack(s, 'join', 'eng-room');
      const reason = sio.once(s, 'disconnect');
      s.io.engine.close();
      assert.equal((await reason)[0], 'forced close');
      const entry = await logEntry(id);
      assert.equal(entry.reason, 'transport close');
      assert.deepEqual(entry.rooms, sorted([id, 'eng-room']));
    });
  }

  it('TCP connection of a websocket client dropped: server "transport close"', async () => {
    const s = await sio.connect(srv.url, { transports: ['websocket'] });
    const id = s.id;
    const reason = sio.once(s, 'disconnect');
    s.io.engine.transport.ws._socket.destroy();
    assert.equal((await reason)[0], 'transport close');
    const entry = await logEntry(id);
    assert.ok(['transport close', 'transport error'].includes(entry.reason), `server reason ${entry.reason}`);
  });

  it('disconnect-me(false) on / leaves /admin of the same connection connected', async () => {
    const root = sio.client(srv.url, { transports: ['websocket'] });
    const admin = sio.sibling(root, '/admin', { auth: { token: 'secret' } });
    await Promise.all([sio.waitConnect(root), sio.waitConnect(admin)]);
    const engine = root.io.engine;
    const rootGone = sio.once(root, 'disconnect');
    const adminQuiet = sio.noEvent(admin, 'disconnect', 500);
    root.emit('disconnect-me', false);
    assert.equal((await rootGone)[0], 'io server disconnect');
    await adminQuiet;
    assert.equal(admin.connected, true);
    assert.equal(admin.io.engine, engine);
    assert.equal(engine.readyState, 'open');
    assert.deepEqual(await sio.ackArgs(admin, 'echo', 'still'), ['still']);
  });

  it('disconnect-me(true) on / closes the whole connection, /admin included', async () => {
    const root = sio.client(srv.url, { transports: ['websocket'] });
    const admin = sio.sibling(root, '/admin', { auth: { token: 'secret' } });
    await Promise.all([sio.waitConnect(root), sio.waitConnect(admin)]);
    const engine = root.io.engine;
    const rootGone = sio.once(root, 'disconnect');
    const adminGone = sio.once(admin, 'disconnect');
    root.emit('disconnect-me', true);
    assert.equal((await rootGone)[0], 'io server disconnect');
    // socket.io disconnects every namespace of the client (DISCONNECT each), then closes
    assert.equal((await adminGone)[0], 'io server disconnect');
    await sio.waitFor(() => engine.readyState === 'closed', 2000, 'engine closed');
  });

  it('after "io server disconnect" a manual connect() gets a new session', async () => {
    const s = await sio.connect(srv.url, { transports: ['websocket'] });
    const first = s.id;
    const gone = sio.once(s, 'disconnect');
    s.emit('disconnect-me', false);
    await gone;
    s.connect();
    await sio.waitConnect(s);
    assert.notEqual(s.id, first);
    assert.equal(await sio.ack(s, 'id'), s.id);
  });

  it('disconnect-log keeps disconnections in order', async () => {
    const [a, b, c] = await sio.connectMany(3, srv.url, { transports: ['websocket'] });
    const order = [b, a, c];
    const ids = order.map((s) => s.id);
    for (const [i, s] of order.entries()) {
      const reason = sio.once(s, 'disconnect');
      s.disconnect();
      await reason;
      await logEntry(ids[i]);
    }
    const log = await sio.ack(observer, 'disconnect-log');
    assert.deepEqual(log.filter((e) => ids.includes(e.id)).map((e) => e.id), ids);
  });

  it('the server frees the socket: it is gone from fetch-sockets and all-rooms', async () => {
    const s = await sio.connect(srv.url, { transports: ['polling'] });
    const id = s.id;
    await sio.ack(s, 'join', 'ephemeral');
    s.disconnect();
    await logEntry(id);
    await sio.eventually(async () => {
      const rooms = await sio.ack(observer, 'all-rooms');
      assert.ok(!rooms.includes(id) && !rooms.includes('ephemeral'), sio.safeJson(rooms));
      const sockets = await sio.ack(observer, 'fetch-sockets', []);
      assert.ok(!sockets.some((x) => x.id === id));
    });
  });
});
