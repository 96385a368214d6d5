// Acknowledgements: client → server acks, server → client emitWithAck (answered and timed
// out), broadcast acks collected from several clients (answered and timed out).
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../lib/server');
const sio = require('../lib/sio');

/** The fixture answers {err: "timeout"} (extra diagnostic fields are tolerated). */
function assertTimeout(res) {
  assert.equal(res && res.err, 'timeout', `expected a timeout, got ${sio.safeJson(res)}`);
  assert.equal(res.ok, undefined);
}

const TRANSPORTS = [['polling', ['polling']], ['websocket', ['websocket']]];

describe('acks (conformance)', () => {
  let srv;
  before(async () => { srv = await start('examples/conformance'); });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  for (const [tlabel, transports] of TRANSPORTS) {
    it(`message-with-ack acks with the same arguments (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports });
      assert.deepEqual(await sio.ackArgs(s, 'message-with-ack', 1, '2', { three: [3] }, null, true), [1, '2', { three: [3] }, null, true]);
      assert.deepEqual(await sio.ackArgs(s, 'message-with-ack'), []);
      assert.deepEqual(await sio.ackArgs(s, 'message-with-ack', Buffer.from([1, 2, 3]), 'x'), [Buffer.from([1, 2, 3]), 'x']);
    });

    it(`emitWithAck resolves with the first ack argument (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports });
      assert.equal(await s.timeout(3000).emitWithAck('message-with-ack', 'first', 'second'), 'first');
    });
  }

  it('200 concurrent acks each resolve with their own value', async () => {
    const s = await sio.connect(srv.url, { transports: ['websocket'] });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => sio.ackArgs(s, 'message-with-ack', i, `v${i}`)));
    results.forEach((r, i) => assert.deepEqual(r, [i, `v${i}`]));
  });

  it('an event without a handler is not acknowledged (client-side timeout fires)', async () => {
    const s = await sio.connect(srv.url, { transports: ['websocket'] });
    await assert.rejects(s.timeout(300).emitWithAck('no-such-event', 1), /operation has timed out/);
    // the connection is still fine afterwards
    assert.deepEqual(await sio.ackArgs(s, 'message-with-ack', 'ok'), ['ok']);
  });
});

describe('acks (testbed)', () => {
  let srv;
  before(async () => { srv = await start('examples/testbed'); });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  for (const [tlabel, transports] of TRANSPORTS) {
    it(`echo acks with many arguments, including binary (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports });
      const args = ['a', 1, null, [Buffer.from('xyz')], { k: Buffer.alloc(3, 7) }, false];
      assert.deepEqual(await sio.ackArgs(s, 'echo', ...args), args);
    });

    it(`server emitWithAck answered by the client (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports });
      const seen = [];
      s.on('question', (a, b, cb) => {
        seen.push([a, b]);
        cb(a + b, 'second', { third: true });
      });
      const res = await sio.ack(s, 'emit-with-ack', { event: 'question', args: [20, 22], timeout: 2000 });
      assert.deepEqual(seen, [[20, 22]]);
      assert.deepEqual(res, { ok: [42, 'second', { third: true }] });
    });

    it(`server emitWithAck answered with binary (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports });
      s.on('give-bytes', (n, cb) => cb(Buffer.alloc(n, 0xab), { b: Buffer.from([n]) }));
      const res = await sio.ack(s, 'emit-with-ack', { event: 'give-bytes', args: [5], timeout: 2000 });
      assert.deepEqual(res, { ok: [Buffer.alloc(5, 0xab), { b: Buffer.from([5]) }] });
    });

    it(`server emitWithAck times out when the client never answers (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports });
      let received = 0;
      s.on('ignored', (x, cb) => { received += 1; assert.equal(typeof cb, 'function'); });
      const t0 = Date.now();
      const res = await sio.ack(s, 'emit-with-ack', { event: 'ignored', args: ['x'], timeout: 300 });
      const elapsed = Date.now() - t0;
      assertTimeout(res);
      assert.equal(received, 1);
      assert.ok(elapsed >= 250, `timed out too early: ${elapsed} ms`);
      assert.ok(elapsed < 2000, `timed out too late: ${elapsed} ms`);
    });
  }

  it('a late client answer after the server timeout is ignored and the socket keeps working', async () => {
    const s = await sio.connect(srv.url, { transports: ['websocket'] });
    let late;
    s.on('slow', (cb) => { late = cb; });
    assertTimeout(await sio.ack(s, 'emit-with-ack', { event: 'slow', args: [], timeout: 200 }));
    late('too late');
    assert.deepEqual(await sio.ackArgs(s, 'echo', 'still here'), ['still here']);
  });

  it('server emitWithAck answered with no arguments', async () => {
    const s = await sio.connect(srv.url, { transports: ['websocket'] });
    s.on('empty', (cb) => cb());
    assert.deepEqual(await sio.ack(s, 'emit-with-ack', { event: 'empty', args: [], timeout: 2000 }), { ok: [] });
  });

  it('echo with no arguments acks with no arguments', async () => {
    const s = await sio.connect(srv.url, { transports: ['websocket'] });
    assert.deepEqual(await sio.ackArgs(s, 'echo'), []);
  });

  describe('broadcast with ack', () => {
    let clients;
    const ROOM = 'ack-room';

    async function setup(n) {
      clients = await sio.connectMany(n, srv.url, { transports: ['websocket'] });
      for (const s of clients) await sio.ack(s, 'join', ROOM);
    }

    it('collects one answer per client in the room (sorted)', async () => {
      await setup(4);
      const outsider = await sio.connect(srv.url, { transports: ['websocket'] });
      const outsiderSaw = sio.collect(outsider, 'roll-call');
      clients.forEach((s, i) => s.on('roll-call', (greeting, cb) => {
        assert.equal(greeting, 'hi');
        cb(`client-${i}`, 'ignored second arg');
      }));
      const res = await sio.ack(clients[2], 'broadcast-with-ack', { event: 'roll-call', args: ['hi'], rooms: [ROOM], timeout: 2000 });
      assert.deepEqual(res, { ok: ['client-0', 'client-1', 'client-2', 'client-3'] });
      assert.equal(outsiderSaw.length, 0);
    });

    it('without rooms it reaches every socket of the namespace', async () => {
      await setup(3);
      const other = await sio.connect(srv.url, { transports: ['polling'] });
      [...clients, other].forEach((s, i) => s.on('everyone', (cb) => cb(i)));
      // sockets of earlier tests must be gone from the server before addressing "everyone"
      const ids = [...clients, other].map((s) => s.id).sort();
      await sio.eventually(async () => assert.deepEqual((await sio.ack(other, 'fetch-sockets', [])).map((x) => x.id), ids));
      const res = await sio.ack(other, 'broadcast-with-ack', { event: 'everyone', args: [], timeout: 2000 });
      assert.deepEqual(res, { ok: [0, 1, 2, 3] });
    });

    it('times out when one client never answers, reporting how many did', async () => {
      await setup(4);
      clients.forEach((s, i) => s.on('vote', (cb) => { if (i !== 1) cb(i); }));
      const t0 = Date.now();
      const res = await sio.ack(clients[0], 'broadcast-with-ack', { event: 'vote', args: [], rooms: [ROOM], timeout: 400 });
      const elapsed = Date.now() - t0;
      assert.deepEqual(res, { err: 'timeout', count: 3 });
      assert.ok(elapsed >= 350 && elapsed < 2500, `elapsed ${elapsed} ms`);
    });

    it('to an empty room answers at once with no responses', async () => {
      const s = await sio.connect(srv.url, { transports: ['websocket'] });
      const t0 = Date.now();
      const res = await sio.ack(s, 'broadcast-with-ack', { event: 'nobody', args: [], rooms: ['empty-room'], timeout: 2000 });
      assert.deepEqual(res, { ok: [] });
      assert.ok(Date.now() - t0 < 1000, 'waited for the timeout although nobody was addressed');
    });

    it('binary arguments and binary answers', async () => {
      await setup(2);
      clients.forEach((s, i) => s.on('bin-q', (buf, cb) => cb(Buffer.concat([buf, Buffer.from([i])]))));
      const res = await sio.ack(clients[0], 'broadcast-with-ack', { event: 'bin-q', args: [Buffer.from([7, 7])], rooms: [ROOM], timeout: 2000 });
      assert.ok(res.ok, `unexpected ${sio.safeJson(res)}`);
      for (const b of res.ok) assert.ok(Buffer.isBuffer(b), `answer is not binary: ${sio.safeJson(b)}`);
      assert.deepEqual([...res.ok].sort(Buffer.compare), [Buffer.from([7, 7, 0]), Buffer.from([7, 7, 1])]);
    });
  });
});
