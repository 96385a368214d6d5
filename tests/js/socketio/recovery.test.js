// Connection state recovery with the official socket.io-client 4.8, unchanged: a client
// whose connection drops comes back as the same socket (id, rooms, data) and receives
// every event it missed, in order, once; and each case where socket.io's own recovery
// falls short works here (an old last event, no event yet, a volatile last event with a
// string argument, every reconnection and not only the first). When recovery cannot be
// whole the client gets a fresh session and none of the gap: never part of it.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../lib/server');
const sio = require('../lib/sio');
const { io } = require('socket.io-client');

const reconnecting = { reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100 };

/** A client that reconnects by itself and records the first argument of each `tick`. */
async function subscriber(url, opts = {}) {
  const socket = sio.client(url, { ...reconnecting, ...opts });
  const ticks = [];
  socket.on('tick', (n) => ticks.push(n));
  await sio.waitConnect(socket);
  return { socket, ticks, id: socket.id };
}

/**
 * Drops the client's connection as a network would (the client reconnects by itself),
 * runs `meanwhile` while it is away, and resolves once it is connected again.
 */
async function dropAndReturn(socket, meanwhile = async () => {}) {
  const back = new Promise((resolve) => socket.io.once('reconnect', resolve));
  socket.io.engine.close();
  await meanwhile();
  await back;
  await sio.waitConnect(socket);
}

describe('connection state recovery (socket.io-client)', () => {
  let srv; // defaults: a 2 min window
  let brief; // a 1 s window
  let small; // a log of 3 events
  let pub; // publishes through the test bed's `emit`
  const tick = (server, n, extra = {}) =>
    sio.ack(server.pub, 'emit', { event: 'tick', args: [n], from: 'io', ...extra });

  before(async () => {
    srv = await start('examples/testbed', ['--recovery']);
    brief = await start('examples/testbed', ['--recovery', '--recovery-window-ms', '1000']);
    small = await start('examples/testbed', ['--recovery', '--recovery-max-packets', '3']);
    for (const server of [srv, brief, small]) {
      // Stays connected for the whole suite: made outside sio's tracking.
      server.pub = io(server.url, { forceNew: true, reconnection: false });
      await sio.waitConnect(server.pub);
    }
    pub = srv.pub;
  });
  afterEach(() => sio.closeAll());
  after(async () => {
    for (const server of [srv, brief, small]) {
      if (!server) continue;
      server.pub?.close();
      await server.stop();
    }
  });

  for (const transport of ['websocket', 'polling']) {
    it(`a dropped client comes back as the same socket with every event it missed (${transport})`, async () => {
      const c = await subscriber(srv.url, { transports: [transport] });
      await sio.ack(c.socket, 'join', 'garden');
      await sio.ack(c.socket, 'set-data', { name: 'ann' });
      for (const n of [0, 1]) await tick(srv, n);
      await sio.waitFor(() => c.ticks.length === 2, sio.TIMEOUT, 'ticks 0 and 1');
      await dropAndReturn(c.socket, async () => {
        await tick(srv, 2);
        await tick(srv, 3, { rooms: ['garden'] });
        await tick(srv, 99, { rooms: ['elsewhere'] });
      });
      assert.equal(c.socket.id, c.id, 'the same socket id');
      await tick(srv, 4);
      await sio.waitFor(() => c.ticks.length >= 5, sio.TIMEOUT, 'tick 4');
      assert.deepEqual(c.ticks, [0, 1, 2, 3, 4]);
      assert.equal(await sio.ack(c.socket, 'recovered'), true);
      assert.deepEqual(await sio.ack(c.socket, 'join', 'garden'), ['garden', c.id].sort(), 'still in its room');
      assert.deepEqual(await sio.ack(c.socket, 'get-data'), { name: 'ann' });
      const { auth } = await sio.ack(c.socket, 'handshake');
      assert.equal(auth.pid, undefined, 'the pid is never shown');
      assert.equal(auth.offset, undefined);
    });
  }

  it('recovers every time, not only the first', async () => {
    const c = await subscriber(srv.url);
    for (let round = 0; round < 4; round += 1) {
      await dropAndReturn(c.socket, () => tick(srv, round));
      assert.equal(c.socket.id, c.id, `round ${round}`);
    }
    await sio.waitFor(() => c.ticks.length === 4, sio.TIMEOUT, 'four ticks');
    assert.deepEqual(c.ticks, [0, 1, 2, 3]);
  });

  it('a client that has received no event yet recovers, with what was sent since it joined', async () => {
    const c = await subscriber(srv.url);
    await dropAndReturn(c.socket, () => tick(srv, 0));
    assert.equal(c.socket.id, c.id);
    await sio.waitFor(() => c.ticks.length === 1, sio.TIMEOUT, 'tick 0');
    assert.deepEqual(c.ticks, [0]);
  });

  it('a volatile last event with a string argument does not stop recovery', async () => {
    // WebSocket only: a volatile event may be dropped during an upgrade, as socket.io does.
    const c = await subscriber(srv.url, { transports: ['websocket'] });
    const typing = sio.collect(c.socket, 'typing');
    await tick(srv, 0);
    await sio.ack(pub, 'emit', { event: 'typing', args: ['hello'], from: 'io', volatile: true });
    await sio.waitFor(() => typing.length === 1, sio.TIMEOUT, 'the volatile event');
    assert.deepEqual(typing[0], ['hello'], 'a volatile event carries no offset');
    await dropAndReturn(c.socket, () => tick(srv, 1));
    assert.equal(c.socket.id, c.id);
    await sio.waitFor(() => c.ticks.length === 2, sio.TIMEOUT, 'tick 1');
    assert.deepEqual(c.ticks, [0, 1]);
  });

  it('a client whose last event is older than the window still recovers', async () => {
    const c = await subscriber(brief.url);
    await tick(brief, 0);
    await sio.waitFor(() => c.ticks.length === 1, sio.TIMEOUT, 'tick 0');
    await sio.sleep(1500);
    await dropAndReturn(c.socket, () => tick(brief, 1));
    assert.equal(c.socket.id, c.id);
    await sio.waitFor(() => c.ticks.length === 2, sio.TIMEOUT, 'tick 1');
    assert.deepEqual(c.ticks, [0, 1]);
  });

  it('past the window, or when the log lost part of the gap, a fresh session and none of the gap', async () => {
    // Comes back after the 1 s window (no jitter: the client's default of ±50 % would
    // sometimes bring it back within it).
    const late = await subscriber(brief.url, {
      reconnectionDelay: 1600, reconnectionDelayMax: 1600, randomizationFactor: 0,
    });
    await dropAndReturn(late.socket, () => tick(brief, 0));
    assert.notEqual(late.socket.id, late.id);
    assert.equal(await sio.ack(late.socket, 'recovered'), false);
    await tick(brief, 1);
    await sio.waitFor(() => late.ticks.length === 1, sio.TIMEOUT, 'tick 1');
    assert.deepEqual(late.ticks, [1], 'nothing from the gap');

    // Six events while away, three kept.
    const trimmed = await subscriber(small.url);
    await dropAndReturn(trimmed.socket, async () => {
      for (let n = 0; n < 6; n += 1) await tick(small, n);
    });
    assert.notEqual(trimmed.socket.id, trimmed.id);
    await tick(small, 6);
    await sio.waitFor(() => trimmed.ticks.length === 1, sio.TIMEOUT, 'tick 6');
    assert.deepEqual(trimmed.ticks, [6], 'never a partial replay');
  });

  it('with --recovery-keep-pid the client\'s own socket.recovered is true, as with socket.io', async () => {
    const keeping = await start('examples/testbed', ['--recovery', '--recovery-keep-pid']);
    try {
      const c = await subscriber(keeping.url);
      assert.equal(c.socket.recovered, false);
      await dropAndReturn(c.socket);
      assert.equal(c.socket.id, c.id);
      assert.equal(c.socket.recovered, true);
      // With the default (a new pid each time) the socket recovers all the same, but the
      // client's flag, which compares pids, reads false.
      const rotating = await subscriber(srv.url);
      await dropAndReturn(rotating.socket);
      assert.equal(rotating.socket.id, rotating.id);
      assert.equal(rotating.socket.recovered, false);
    } finally {
      await sio.closeAll();
      await keeping.stop();
    }
  });

  it('a pid or offset this server never gave gets a fresh session, and is not shown', async () => {
    const c = await sio.connect(srv.url, { auth: { pid: 'made-up', offset: 'x', token: 7 } });
    assert.equal(await sio.ack(c, 'recovered'), false);
    const { auth } = await sio.ack(c, 'handshake');
    assert.deepEqual(auth, { token: 7 });
  });
});
