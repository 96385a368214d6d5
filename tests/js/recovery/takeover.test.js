// A reconnection that arrives while the server still holds the old connection: the
// client gave up on a dead path (its heartbeat, or the page, noticed first) and came
// back on a new one, but the server has not yet noticed the old one is dead. The new
// connection takes the socket over (same id, the events sent into the dead path
// replayed), and the old connection's timeout, when it comes, changes nothing.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../lib/server');
const { startProxy } = require('../lib/proxy');
const sio = require('../lib/sio');
const { io } = require('socket.io-client');

describe('recovery takes over a connection the server still holds', () => {
  let srv;
  let proxy;
  let pub;
  before(async () => {
    srv = await start('examples/testbed', ['--recovery', '--ping-interval', '600', '--ping-timeout', '600']);
    proxy = await startProxy({ targetPort: srv.port });
    pub = io(srv.url, { forceNew: true, reconnection: false });
    await sio.waitConnect(pub);
  });
  afterEach(() => sio.closeAll());
  after(async () => {
    pub?.close();
    await proxy?.close();
    await srv?.stop();
  });

  const tick = (n) => sio.ack(pub, 'emit', { event: 'tick', args: [n], from: 'io' });

  it('the new connection gets the socket and what the dead one swallowed; the old timeout changes nothing', async () => {
    const c = sio.client(proxy.url, {
      transports: ['websocket'], reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100,
    });
    const ticks = [];
    c.on('tick', (n) => ticks.push(n));
    await sio.waitConnect(c);
    const id = c.id;
    await tick(0);
    await sio.waitFor(() => ticks.length === 1, sio.TIMEOUT, 'tick 0');

    proxy.cut('freeze');
    await tick(1); // into the dead path
    const back = new Promise((resolve) => c.io.once('reconnect', resolve));
    c.io.engine.close(); // the client gives up on it; the server is not told
    await back;
    await sio.waitConnect(c);
    assert.equal(c.id, id, 'the same socket, taken over');
    assert.equal(await sio.ack(c, 'recovered'), true);
    await sio.waitFor(() => ticks.length === 2, sio.TIMEOUT, 'tick 1, replayed');
    // The server had not noticed: the old socket left because its client came back, not
    // on a ping timeout.
    const log = await sio.ack(pub, 'disconnect-log');
    assert.deepEqual(log.filter((e) => e.id === id).map((e) => e.reason), ['transport close']);

    // The old connection's heartbeat runs out meanwhile (600 + 600 ms); nothing changes.
    await sio.sleep(1800);
    proxy.restore();
    await tick(2);
    await sio.waitFor(() => ticks.length === 3, sio.TIMEOUT, 'tick 2');
    assert.deepEqual(ticks, [0, 1, 2]);
    assert.equal(c.id, id);
    assert.equal(c.connected, true);
    const sockets = await sio.ack(pub, 'fetch-sockets', []);
    assert.equal(sockets.filter((s) => s.id === id).length, 1, 'one socket with that id');
  });
});
