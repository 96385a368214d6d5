// Namespaces: /custom, multiplexing several namespaces on one engine connection,
// middleware refusal, invalid namespaces, the connect timeout.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../lib/server');
const sio = require('../lib/sio');

/** Splits an Engine.IO v4 polling payload into packets. */
function packets(body) {
  return body.length ? body.split('\x1e') : [];
}

/**
 * Opens a raw polling session, answers pings, never sends a namespace CONNECT.
 * Resolves { elapsed, how } once the server ends the session; rejects after `limit` ms.
 */
async function pollUntilClosed(url, limit) {
  const base = `${url}/socket.io/?EIO=4&transport=polling`;
  const open = await fetch(base, { signal: AbortSignal.timeout(3000) });
  const first = packets(await open.text());
  assert.equal(first[0][0], '0', `expected an open packet, got ${first[0]}`);
  const { sid } = JSON.parse(first[0].slice(1));
  const t0 = Date.now();
  while (Date.now() - t0 < limit) {
    const res = await fetch(`${base}&sid=${encodeURIComponent(sid)}`, { signal: AbortSignal.timeout(3000) });
    const body = await res.text();
    if (res.status !== 200) return { elapsed: Date.now() - t0, how: `HTTP ${res.status}` };
    for (const p of packets(body)) {
      if (p === '1') return { elapsed: Date.now() - t0, how: 'close packet' };
      if (p === '2') {
        const pong = await fetch(`${base}&sid=${encodeURIComponent(sid)}`, {
          method: 'POST', body: '3', headers: { 'content-type': 'text/plain;charset=UTF-8' }, signal: AbortSignal.timeout(3000),
        });
        await pong.text();
        if (pong.status !== 200) return { elapsed: Date.now() - t0, how: `HTTP ${pong.status} on pong` };
      } else {
        throw new Error(`unexpected packet ${p} on a session without namespace`);
      }
    }
  }
  throw new Error(`polling session still open after ${limit} ms`);
}

describe('namespaces (conformance)', () => {
  let srv;
  before(async () => { srv = await start('examples/conformance'); });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  for (const transports of [['polling'], ['websocket']]) {
    it(`connects to /custom and gets its auth event (${transports})`, async () => {
      const s = sio.client(`${srv.url}/custom`, { transports, auth: { ns: 'custom' } });
      const auth = sio.once(s, 'auth');
      await sio.waitConnect(s);
      assert.equal(s.nsp, '/custom');
      assert.deepEqual(await auth, [{ ns: 'custom' }]);
    });
  }

  it('/ and /custom multiplexed on one engine connection', async () => {
    const root = sio.client(srv.url, { transports: ['websocket'], auth: { which: 'root' } });
    const custom = sio.sibling(root, '/custom', { auth: { which: 'custom' } });
    const rootAuth = sio.once(root, 'auth');
    const customAuth = sio.once(custom, 'auth');
    await Promise.all([sio.waitConnect(root), sio.waitConnect(custom)]);
    assert.equal(root.io, custom.io);
    assert.notEqual(root.id, custom.id);
    assert.deepEqual(await rootAuth, [{ which: 'root' }]);
    assert.deepEqual(await customAuth, [{ which: 'custom' }]);
    // / still answers its handlers while /custom is connected
    assert.deepEqual(await sio.ackArgs(root, 'message-with-ack', 'r'), ['r']);
  });

  it('raw protocol: two namespaces on one websocket', async () => {
    const raw = await sio.rawWs(srv.url);
    raw.send('40');
    raw.send('40/custom,{"x":1}');
    const got = [await raw.next(), await raw.next(), await raw.next(), await raw.next()];
    const rootConnect = got.find((m) => /^40\{/.test(m));
    const customConnect = got.find((m) => m.startsWith('40/custom,'));
    assert.ok(rootConnect, `no CONNECT reply for / in ${sio.safeJson(got)}`);
    assert.ok(customConnect, `no CONNECT reply for /custom in ${sio.safeJson(got)}`);
    assert.ok(got.includes('42["auth",{}]'), sio.safeJson(got));
    assert.ok(got.includes('42/custom,["auth",{"x":1}]'), sio.safeJson(got));
    // each CONNECT reply precedes its namespace's auth event
    assert.ok(got.indexOf(rootConnect) < got.indexOf('42["auth",{}]'));
    assert.ok(got.indexOf(customConnect) < got.indexOf('42/custom,["auth",{"x":1}]'));
    const rootSid = JSON.parse(rootConnect.slice(2)).sid;
    const customSid = JSON.parse(customConnect.slice('40/custom,'.length)).sid;
    assert.notEqual(rootSid, customSid);
  });

  it('raw protocol: an unknown namespace gets CONNECT_ERROR "Invalid namespace"', async () => {
    const raw = await sio.rawWs(srv.url);
    raw.send('40/does-not-exist,');
    const msg = await raw.next();
    assert.ok(msg.startsWith('44/does-not-exist,'), msg);
    assert.deepEqual(JSON.parse(msg.slice('44/does-not-exist,'.length)), { message: 'Invalid namespace' });
  });

  it('connect timeout: a websocket session that never sends CONNECT is closed after ~1 s', async () => {
    const raw = await sio.rawWs(srv.url); // answers pings, so only the connect timeout can end it
    const { at } = await sio.rawClosed(raw, 3000);
    const elapsed = at - raw.openedAt;
    assert.ok(elapsed >= 700, `closed too early: ${elapsed} ms (pings seen: ${raw.pings})`);
    assert.ok(elapsed <= 2500, `closed too late: ${elapsed} ms`);
    assert.ok(raw.pings >= 1, 'expected at least one ping while waiting');
  });

  it('connect timeout: a polling session that never sends CONNECT is closed after ~1 s', async () => {
    const { elapsed, how } = await pollUntilClosed(srv.url, 4000);
    assert.ok(elapsed >= 700, `closed too early (${how}): ${elapsed} ms`);
    assert.ok(elapsed <= 2500, `closed too late (${how}): ${elapsed} ms`);
  });

  it('connect timeout does not hit a session that sent CONNECT in time', async () => {
    const raw = await sio.rawWs(srv.url);
    await sio.sleep(500);
    raw.send('40');
    assert.match(await raw.next(), /^40\{"sid":/);
    await sio.sleep(1500);
    assert.equal(raw.isClosed, false, `closed: ${sio.safeJson(raw.log)}`);
    raw.send('42["message","late"]');
    // skip the auth event
    assert.equal(await raw.next(), '42["auth",{}]');
    assert.equal(await raw.next(), '42["message-back","late"]');
  });
});

describe('namespaces (testbed)', () => {
  let srv;
  before(async () => { srv = await start('examples/testbed'); });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  it('/admin with the right token: connected, welcome(socket.id), echo', async () => {
    const s = sio.client(`${srv.url}/admin`, { transports: ['websocket'], auth: { token: 'secret' } });
    const welcome = sio.once(s, 'welcome');
    await sio.waitConnect(s);
    assert.deepEqual(await welcome, [s.id]);
    assert.deepEqual(await sio.ackArgs(s, 'echo', 'admin', Buffer.from([1])), ['admin', Buffer.from([1])]);
  });

  for (const [label, opts] of [['a wrong token', { auth: { token: 'nope' } }], ['no auth', {}]]) {
    for (const transports of [['polling'], ['websocket']]) {
      it(`/admin middleware refuses ${label} with message and data (${transports})`, async () => {
        const s = sio.client(`${srv.url}/admin`, { transports, ...opts });
        const welcome = sio.noEvent(s, 'welcome', 300);
        const err = await sio.expectConnectError(s);
        assert.equal(err.message, 'unauthorized');
        assert.deepEqual(err.data, { reason: 'bad token' });
        assert.equal(s.connected, false);
        await welcome;
      });
    }
  }

  it('an unknown namespace gets connect_error "Invalid namespace"', async () => {
    const s = sio.client(`${srv.url}/nope`, { transports: ['websocket'] });
    const err = await sio.expectConnectError(s);
    assert.equal(err.message, 'Invalid namespace');
    assert.equal(s.connected, false);
  });

  it('multiplexes / and /admin on one engine connection (same Manager)', async () => {
    const root = sio.client(srv.url);
    const admin = sio.sibling(root, '/admin', { auth: { token: 'secret' } });
    const welcome = sio.once(admin, 'welcome');
    await Promise.all([sio.waitConnect(root), sio.waitConnect(admin)]);
    assert.equal(root.io, admin.io);
    assert.equal(root.io.engine, admin.io.engine);
    assert.notEqual(root.id, admin.id);
    assert.deepEqual(await welcome, [admin.id]);
    assert.equal(await sio.ack(root, 'id'), root.id);
    assert.deepEqual(await sio.ackArgs(admin, 'echo', 'from admin'), ['from admin']);
    assert.deepEqual(await sio.ackArgs(root, 'echo', 'from root'), ['from root']);
    // the multiplexed connection survives the upgrade
    await sio.waitFor(() => root.io.engine.transport.name === 'websocket', 3000, 'upgrade');
    assert.deepEqual(await sio.ackArgs(admin, 'echo', 2), [2]);
    assert.deepEqual(await sio.ackArgs(root, 'echo', 1), [1]);
  });

  it('a refused namespace leaves the other namespace of the connection working, and can retry', async () => {
    const root = await sio.connect(srv.url, { transports: ['websocket'] });
    const admin = sio.sibling(root, '/admin', { auth: { token: 'wrong' } });
    const err = await sio.expectConnectError(admin);
    assert.equal(err.message, 'unauthorized');
    assert.equal(root.connected, true);
    assert.deepEqual(await sio.ackArgs(root, 'echo', 'still'), ['still']);
    // retry on the same connection with the right token
    admin.auth = { token: 'secret' };
    const welcome = sio.once(admin, 'welcome');
    admin.connect();
    await sio.waitConnect(admin);
    assert.deepEqual(await welcome, [admin.id]);
    assert.equal(admin.io.engine, root.io.engine);
  });

  it('events of one namespace do not reach the other', async () => {
    const root = sio.client(srv.url, { transports: ['websocket'] });
    const admin = sio.sibling(root, '/admin', { auth: { token: 'secret' } });
    await Promise.all([sio.waitConnect(root), sio.waitConnect(admin)]);
    const adminSaw = sio.collect(admin, 'ns-only');
    const rootSaw = sio.once(root, 'ns-only');
    await sio.ack(root, 'emit', { event: 'ns-only', args: [1] });
    assert.deepEqual(await rootSaw, [1]);
    await sio.sleep(300);
    assert.equal(adminSaw.length, 0);
    // /admin has no 'id' handler: not acknowledged
    await assert.rejects(admin.timeout(300).emitWithAck('id'));
  });

  it('raw protocol: middleware refusal and welcome on /admin', async () => {
    const raw = await sio.rawWs(srv.url);
    raw.send('40/admin,{"token":"bad"}');
    const refused = await raw.next();
    assert.ok(refused.startsWith('44/admin,'), refused);
    assert.deepEqual(JSON.parse(refused.slice('44/admin,'.length)), { message: 'unauthorized', data: { reason: 'bad token' } });
    raw.send('40/admin,{"token":"secret"}');
    const ok = await raw.next();
    assert.ok(ok.startsWith('40/admin,'), ok);
    const { sid } = JSON.parse(ok.slice('40/admin,'.length));
    assert.equal(await raw.next(), `42/admin,["welcome","${sid}"]`);
    raw.send('42/admin,7["echo","x"]');
    assert.equal(await raw.next(), '43/admin,7["x"]');
  });
});
