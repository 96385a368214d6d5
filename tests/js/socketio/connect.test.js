// Connecting with the official client over every transport setup; ids; auth; handshake.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../lib/server');
const sio = require('../lib/sio');

describe('connect (conformance)', () => {
  let srv;
  before(async () => { srv = await start('examples/conformance'); });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  it('connects over polling only', async () => {
    const s = sio.client(srv.url, { transports: ['polling'] });
    const auth = sio.once(s, 'auth');
    await sio.waitConnect(s);
    assert.equal(s.connected, true);
    assert.equal(s.io.engine.transport.name, 'polling');
    assert.equal(typeof s.id, 'string');
    assert.ok(s.id.length > 0);
    assert.deepEqual(await auth, [{}]);
    // stays on polling: no upgrade is attempted when only polling is allowed
    await sio.sleep(200);
    assert.equal(s.io.engine.transport.name, 'polling');
  });

  it('connects over websocket only', async () => {
    const s = sio.client(srv.url, { transports: ['websocket'] });
    const auth = sio.once(s, 'auth');
    await sio.waitConnect(s);
    assert.equal(s.io.engine.transport.name, 'websocket');
    assert.deepEqual(await auth, [{}]);
  });

  it('connects over polling and upgrades to websocket by default', async () => {
    const s = sio.client(srv.url);
    const upgrade = sio.once(s.io.engine, 'upgrade');
    await sio.waitConnect(s);
    const [transport] = await upgrade;
    assert.equal(transport.name, 'websocket');
    assert.equal(s.io.engine.transport.name, 'websocket');
    assert.equal(s.connected, true);
    // still usable after the upgrade
    const back = sio.once(s, 'message-back');
    s.emit('message', 'after upgrade');
    assert.deepEqual(await back, ['after upgrade']);
  });

  it('the engine handshake announces the configured heartbeat and maxPayload', async () => {
    const s = sio.client(srv.url, { transports: ['websocket'] });
    await sio.waitConnect(s);
    const engine = s.io.engine;
    assert.equal(engine._pingInterval, 300);
    assert.equal(engine._pingTimeout, 200);
    assert.equal(engine._maxPayload, 1000000);
  });

  it('the socket id (v5) is not the engine session id, and each connection gets a new one', async () => {
    const a = await sio.connect(srv.url, { transports: ['websocket'] });
    const b = await sio.connect(srv.url, { transports: ['websocket'] });
    assert.notEqual(a.id, a.io.engine.id);
    assert.notEqual(a.id, b.id);
    assert.notEqual(a.io.engine.id, b.io.engine.id);
  });

  it('emits `auth` with the CONNECT payload', async () => {
    const payload = { token: 'abc', n: 42, nested: { list: [1, 'two', null] } };
    for (const transports of [['polling'], ['websocket']]) {
      const s = sio.client(srv.url, { transports, auth: payload });
      const auth = sio.once(s, 'auth');
      await sio.waitConnect(s);
      assert.deepEqual(await auth, [payload], `transports ${transports}`);
    }
  });

  it('raw protocol: answers CONNECT with 40{"sid"} first, then emits auth', async () => {
    const raw = await sio.rawWs(srv.url);
    assert.equal(typeof raw.handshake.sid, 'string');
    assert.deepEqual(raw.handshake.upgrades, []);
    assert.equal(raw.handshake.pingInterval, 300);
    assert.equal(raw.handshake.pingTimeout, 200);
    assert.equal(raw.handshake.maxPayload, 1000000);
    raw.send('40{"token":"xyz"}');
    const connect = await raw.next();
    assert.match(connect, /^40\{/);
    const { sid } = JSON.parse(connect.slice(2));
    assert.equal(typeof sid, 'string');
    assert.notEqual(sid, raw.handshake.sid);
    assert.equal(await raw.next(), '42["auth",{"token":"xyz"}]');

    const raw2 = await sio.rawWs(srv.url);
    raw2.send('40');
    assert.match(await raw2.next(), /^40\{"sid":"[^"]+"\}$/);
    assert.equal(await raw2.next(), '42["auth",{}]');
  });

  it('polling handshake lists the websocket upgrade', async () => {
    const res = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.equal(body[0], '0', body);
    const hs = JSON.parse(body.slice(1));
    assert.deepEqual(hs.upgrades, ['websocket']);
    assert.equal(hs.pingInterval, 300);
    assert.equal(hs.pingTimeout, 200);
    assert.equal(hs.maxPayload, 1000000);
  });

  it('CORS * : answers cross-origin requests', async () => {
    const res = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`, {
      headers: { Origin: 'http://example.com' },
    });
    assert.equal(res.status, 200);
    const allow = res.headers.get('access-control-allow-origin');
    assert.ok(allow === '*' || allow === 'http://example.com', `access-control-allow-origin: ${allow}`);
    await res.text();
  });

  it('serves the official client bundle at /socket.io/socket.io.js', async () => {
    const res = await fetch(`${srv.url}/socket.io/socket.io.js`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') || '', /javascript/);
    const body = await res.text();
    assert.ok(body.length > 10000, `bundle is only ${body.length} bytes`);
    assert.ok(body.includes('4.8'), 'bundle does not contain the client version 4.8');
  });
});

describe('connect (testbed)', () => {
  let srv;
  before(async () => { srv = await start('examples/testbed'); });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  for (const [label, transports] of [['polling', ['polling']], ['websocket', ['websocket']], ['default', undefined]]) {
    it(`socket.id equals the id the server reports (${label})`, async () => {
      const s = await sio.connect(srv.url, transports ? { transports } : {});
      assert.equal(await sio.ack(s, 'id'), s.id);
    });
  }

  it('emits nothing on connect to /', async () => {
    const s = sio.client(srv.url, { transports: ['websocket'] });
    const events = [];
    s.onAny((ev) => events.push(ev));
    await sio.waitConnect(s);
    await sio.sleep(300);
    assert.deepEqual(events, []);
  });

  it('exposes the handshake (headers, time, address, xdomain, secure, issued, url, query, auth)', async () => {
    const before = Date.now();
    const s = await sio.connect(srv.url, {
      transports: ['polling'],
      query: { foo: 'bar' },
      auth: { token: 'hs' },
      extraHeaders: { 'x-rally-test': 'yes' },
    });
    const hs = await sio.ack(s, 'handshake');
    assert.equal(typeof hs.headers, 'object');
    assert.equal(hs.headers['x-rally-test'], 'yes');
    assert.ok(hs.headers.host, 'host header missing');
    assert.equal(typeof hs.time, 'string');
    assert.ok(!Number.isNaN(Date.parse(hs.time)), `time ${hs.time} is not a date`);
    assert.equal(typeof hs.address, 'string');
    assert.ok(hs.address.includes('127.0.0.1'), `address ${hs.address}`);
    assert.equal(hs.xdomain, false);
    assert.equal(hs.secure, false);
    assert.equal(typeof hs.issued, 'number');
    assert.ok(hs.issued >= before - 1000 && hs.issued <= Date.now() + 1000, `issued ${hs.issued}`);
    assert.equal(typeof hs.url, 'string');
    assert.match(hs.url, /^\/socket\.io\/\?/);
    assert.match(hs.url, /foo=bar/);
    assert.equal(hs.query.foo, 'bar');
    assert.equal(hs.query.EIO, '4');
    assert.equal(hs.query.transport, 'polling');
    assert.deepEqual(hs.auth, { token: 'hs' });
  });

  it('handshake.xdomain is true when an Origin header is sent', async () => {
    const s = await sio.connect(srv.url, {
      transports: ['websocket'],
      extraHeaders: { origin: 'http://elsewhere.example' },
    });
    const hs = await sio.ack(s, 'handshake');
    assert.equal(hs.xdomain, true);
    assert.deepEqual(hs.auth, {});
  });

  it('socket.data is per socket', async () => {
    const a = await sio.connect(srv.url, { transports: ['websocket'] });
    const b = await sio.connect(srv.url, { transports: ['websocket'] });
    await sio.ack(a, 'set-data', { user: 'alice', n: [1, 2] });
    assert.deepEqual(await sio.ack(a, 'get-data'), { user: 'alice', n: [1, 2] });
    await sio.ack(b, 'set-data', 'bob');
    assert.equal(await sio.ack(b, 'get-data'), 'bob');
    assert.deepEqual(await sio.ack(a, 'get-data'), { user: 'alice', n: [1, 2] });
  });

  it('CORS is off: no access-control-allow-origin header', async () => {
    const res = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`, {
      headers: { Origin: 'http://example.com' },
    });
    await res.text();
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });
});
