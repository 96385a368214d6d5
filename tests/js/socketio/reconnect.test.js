// Reconnection: the server restarts on the same port (gracefully with SIGTERM/SIGINT, or
// killed with SIGKILL) and clients reconnect by themselves.
'use strict';

const { describe, it, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../lib/server');
const sio = require('../lib/sio');

const RECONNECT = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 };
const POLLING_GRACEFUL = ['transport close', 'transport error'];
const TRANSPORTS = [['polling', ['polling']], ['websocket', ['websocket']], ['default', undefined]];

describe('reconnect (testbed restarted on the same port)', () => {
  let srv;

  afterEach(async () => {
    await sio.closeAll();
    if (srv) await srv.stop('SIGKILL');
    srv = undefined;
  });

  /**
   * Connects a client, stops the server with `signal`, checks the client's disconnect
   * reason, restarts the server on the same port and checks the client comes back.
   */
  async function restartScenario({ signal, transports, expectReasons }) {
    srv = await start('examples/testbed');
    const port = srv.port;
    const s = await sio.connect(srv.url, { ...RECONNECT, ...(transports ? { transports } : {}) });
    if (!transports) await sio.waitFor(() => s.io.engine.transport.name === 'websocket', 3000, 'upgrade');
    const firstId = s.id;
    await sio.ack(s, 'join', 'before-restart');

    const disconnected = sio.once(s, 'disconnect', 5000);
    const result = await srv.stop(signal);
    srv = undefined;
    if (signal === 'SIGKILL') assert.equal(result.signal, 'SIGKILL');
    else assert.deepEqual(result, { code: 0, signal: null }, `exit after ${signal}`);
    const [reason] = await disconnected;
    assert.ok(expectReasons.includes(reason), `client disconnect reason: ${reason}`);
    assert.equal(s.active, true, 'the client gave up reconnecting');

    // emitted while the server is down: buffered by the client, sent after reconnection
    const queued = sio.ackArgsWithin(8000, s, 'echo', 'queued while down');

    const reconnected = sio.once(s, 'connect', 8000);
    const managerReconnect = sio.once(s.io, 'reconnect', 8000);
    srv = await start('examples/testbed', [], { port });
    assert.equal(srv.port, port);
    await reconnected;
    const [attempts] = await managerReconnect;
    assert.ok(attempts >= 1, `reconnect attempts: ${attempts}`);
    assert.equal(s.connected, true);
    assert.notEqual(s.id, firstId);
    assert.equal(await sio.ack(s, 'id'), s.id);
    assert.deepEqual(await queued, ['queued while down']);
    // a fresh process: the old room membership is gone
    assert.deepEqual(await sio.ack(s, 'fetch-sockets', []), [{ id: s.id, rooms: [s.id] }]);
    assert.deepEqual(await sio.ackArgs(s, 'echo', 1, Buffer.from([2])), [1, Buffer.from([2])]);
  }

  for (const [tlabel, transports] of TRANSPORTS) {
    it(`SIGTERM (graceful io.close(), exit 0): the client reconnects by itself (${tlabel})`, () =>
      // Graceful close is not a Socket.IO DISCONNECT: the client sees its transport close.
      // Over polling, a long-poll that was not pending at that instant fails instead
      // (socket.io itself behaves so), hence "transport error" is accepted there.
      restartScenario({ signal: 'SIGTERM', transports, expectReasons: tlabel === 'polling' ? POLLING_GRACEFUL : ['transport close'] }));

    it(`SIGKILL (hard restart): the client reconnects by itself (${tlabel})`, () =>
      restartScenario({ signal: 'SIGKILL', transports, expectReasons: ['transport close', 'transport error'] }));
  }

  it('SIGINT is graceful too (exit 0) and several clients all come back', async () => {
    srv = await start('examples/testbed');
    const port = srv.port;
    const clients = await Promise.all([
      sio.connect(srv.url, { ...RECONNECT, transports: ['websocket'] }),
      sio.connect(srv.url, { ...RECONNECT, transports: ['polling'] }),
      sio.connect(srv.url, RECONNECT),
    ]);
    await sio.waitFor(() => clients[2].io.engine.transport.name === 'websocket', 3000, 'upgrade');
    const gone = clients.map((s) => sio.once(s, 'disconnect', 5000));
    assert.deepEqual(await srv.stop('SIGINT'), { code: 0, signal: null });
    srv = undefined;
    const reasons = [];
    for (const g of gone) reasons.push((await g)[0]);
    assert.equal(reasons[0], 'transport close');
    assert.ok(POLLING_GRACEFUL.includes(reasons[1]), `polling client reason: ${reasons[1]}`);
    assert.equal(reasons[2], 'transport close');
    const back = clients.map((s) => sio.once(s, 'connect', 8000));
    srv = await start('examples/testbed', [], { port });
    await Promise.all(back);
    const ids = clients.map((s) => s.id).sort();
    assert.deepEqual((await sio.ack(clients[0], 'fetch-sockets', [])).map((x) => x.id), ids);
  });

  it('graceful shutdown closes every connection promptly (the process exits within 3 s)', async () => {
    srv = await start('examples/testbed');
    await sio.connectMany(5, srv.url, { transports: ['websocket'] });
    await sio.connectMany(5, srv.url, { transports: ['polling'] });
    const t0 = Date.now();
    const result = await srv.stop('SIGTERM');
    srv = undefined;
    assert.deepEqual(result, { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms to exit`);
  });
});
