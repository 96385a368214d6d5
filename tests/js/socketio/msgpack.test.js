// The msgpack parser (issue 18): the official socket.io-client configured with
// socket.io-msgpack-parser 3.0 against the test bed started with `--parser msgpack`.
// Namespaces, acks both ways, binary anywhere, rooms, broadcasts and recovery work as with
// JSON; every frame a raw client receives is one msgpack map; a client of the other
// format, and malformed msgpack, are closed without troubling anyone else.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const msgpack = require('notepack.io');
const parser = require('socket.io-msgpack-parser');
const { start } = require('../lib/server');
const sio = require('../lib/sio');

const TRANSPORTS = [['polling', ['polling']], ['websocket', ['websocket']]];

function bytes(n, seed = 1) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

// Sent as arguments, and what comes back (binary as a Node Buffer).
const VALUES = [
  ['text', ['hello', 'é ✓ 🚀', '']],
  ['numbers', [0, -1, 42, 2 ** 53 - 1, -(2 ** 40), 1.5, -0.25, 3.14159e-7]], // notepack itself writes integral floats past 2^64 as 0
  ['null and booleans', [null, true, false]],
  ['objects and arrays', [{ a: 1, b: [1, 'two', { c: null }], d: {} }, []]],
  ['binary at the top', [bytes(16), Buffer.alloc(0)]],
  ['binary nested anywhere', [{ a: bytes(3, 1), list: [bytes(4, 2), { deep: bytes(5, 3) }, 'text'], n: 1 }]],
  ['a 200 kB buffer', [bytes(200000, 7)]],
  ['binary mixed with JSON, in order', ['first', bytes(8, 1), 2, [bytes(8, 2), null], { x: bytes(8, 3) }, 'last']],
];

describe('msgpack parser: socket.io-client with socket.io-msgpack-parser against testbed --parser msgpack', () => {
  let srv;
  before(async () => { srv = await start('examples/testbed', ['--parser', 'msgpack'], { env: { RUST_LOG: 'warn,rally=info' } }); });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  for (const [tlabel, transports] of TRANSPORTS) {
    it(`echo: every kind of value comes back as sent (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports, parser });
      for (const [label, values] of VALUES) {
        assert.deepEqual(await sio.ackArgs(s, 'echo', ...values), values, label);
      }
    });

    it(`the server asks and the client answers with binary (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports, parser });
      s.on('give-bytes', (n, cb) => cb(Buffer.alloc(n, 0xab), { b: Buffer.from([n]) }));
      const res = await sio.ack(s, 'emit-with-ack', { event: 'give-bytes', args: [5], timeout: 2000 });
      assert.deepEqual(res, { ok: [Buffer.alloc(5, 0xab), { b: Buffer.from([5]) }] });
    });

    it(`a room broadcast with binary reaches its members only (${tlabel})`, async () => {
      const [a, b, other] = await Promise.all([0, 1, 2].map(() => sio.connect(srv.url, { transports, parser })));
      await sio.ack(a, 'join', 'r');
      await sio.ack(b, 'join', 'r');
      const args = ['news', bytes(6, 4), { nested: [bytes(2, 5)] }];
      const got = [sio.once(a, 'r'), sio.once(b, 'r')];
      const silent = sio.noEvent(other, 'r', 300);
      await sio.ack(other, 'emit', { event: 'r', args, rooms: ['r'] });
      assert.deepEqual(await Promise.all(got), [args, args]);
      await silent;
    });
  }

  it('namespaces: auth reaches the middleware; refusals carry their message and data', async () => {
    const admin = sio.client(`${srv.url}/admin`, { transports: ['websocket'], parser, auth: { token: 'secret' } });
    const welcome = sio.once(admin, 'welcome');
    await sio.waitConnect(admin);
    assert.deepEqual(await welcome, [admin.id]);

    const refused = sio.client(`${srv.url}/admin`, { transports: ['websocket'], parser, auth: { token: 'wrong' } });
    const err = await sio.expectConnectError(refused);
    assert.equal(err.message, 'unauthorized');
    assert.deepEqual(err.data, { reason: 'bad token' });

    const nowhere = sio.client(`${srv.url}/nowhere`, { transports: ['websocket'], parser });
    assert.equal((await sio.expectConnectError(nowhere)).message, 'Invalid namespace');
  });

  it('every frame a raw client gets is one msgpack map of the parser\'s shape', async () => {
    const raw = await sio.rawWs(srv.url);
    raw.send(msgpack.encode({ type: 0, nsp: '/', data: { token: 'x' } }));
    const connect = await raw.next();
    assert.ok(Buffer.isBuffer(connect), `a binary frame, not ${JSON.stringify(connect)}`);
    const answer = msgpack.decode(connect);
    assert.deepEqual(Object.keys(answer).sort(), ['data', 'nsp', 'type']);
    assert.equal(answer.type, 0);
    assert.equal(answer.nsp, '/');
    assert.match(answer.data.sid, /^[\w-]{20}$/);

    raw.send(msgpack.encode({ type: 2, nsp: '/', id: 7, data: ['echo', bytes(3), { n: 1 }], options: { compress: true } }));
    const ack = msgpack.decode(await raw.next());
    assert.deepEqual(ack, { type: 3, nsp: '/', id: 7, data: [bytes(3), { n: 1 }] });
    // Nothing else came: no text frame, no stray packet (pings are answered apart).
    await sio.sleep(200);
    assert.deepEqual(raw.queue, []);
    assert.deepEqual(raw.log.filter((m) => m !== '2' && !m.startsWith('<binary')).slice(1), []);
  });

  for (const [label, frame] of [
    ['bytes that are not msgpack', Buffer.from([0xc1])],
    ['a truncated map', msgpack.encode({ type: 2, nsp: '/', data: ['x'] }).subarray(0, 6)],
    ['an unknown packet type', msgpack.encode({ type: 9, nsp: '/', data: ['x'] })],
    ['an event without a name', msgpack.encode({ type: 2, nsp: '/', data: [] })],
    ['a text frame, as the default parser sends', '40'],
  ]) {
    it(`${label} closes that client only`, async () => {
      const bystander = await sio.connect(srv.url, { transports: ['websocket'], parser });
      const raw = await sio.rawWs(srv.url);
      raw.send(frame);
      await sio.rawClosed(raw);
      assert.deepEqual(await sio.ackArgs(bystander, 'echo', bytes(4)), [bytes(4)]);
    });
  }

  it('a client of the default parser never connects, and says so in the log', async () => {
    const json = sio.client(srv.url, { transports: ['websocket'] });
    await assert.rejects(sio.waitConnect(json, 1000));
    await sio.waitFor(() => /invalid packet, closing/.test(srv.output()), 2000, 'the log line');
  });
});

describe('msgpack parser with connection state recovery', () => {
  let srv;
  before(async () => { srv = await start('examples/testbed', ['--parser', 'msgpack', '--recovery']); });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  it('a dropped client gets what it missed, binary included, with its offset as the last argument', async () => {
    const s = sio.client(srv.url, { transports: ['websocket'], parser, reconnection: true, reconnectionDelay: 300, reconnectionDelayMax: 300 });
    await sio.waitConnect(s);
    const publisher = await sio.connect(srv.url, { transports: ['websocket'], parser });
    const got = sio.collect(s, 'tick');
    await sio.ack(publisher, 'emit', { event: 'tick', args: [0, bytes(2, 0)] });
    await sio.waitFor(() => got.length === 1);
    const id = s.id;
    s.io.engine.close();
    await sio.waitFor(() => !s.connected, 1000, 'the drop');
    for (const n of [1, 2]) await sio.ack(publisher, 'emit', { event: 'tick', args: [n, bytes(2, n)] });
    await sio.waitFor(() => s.connected && got.length === 3, 3000, `recovery (got ${got.length})`);
    assert.equal(s.id, id, 'the same socket');
    got.forEach((args, n) => {
      assert.deepEqual(args.slice(0, 2), [n, bytes(2, n)]);
      assert.equal(typeof args[2], 'string', 'the offset');
    });
    assert.equal(new Set(got.map((a) => a[2])).size, 3);
  });
});

describe('msgpack parser: the conformance fixture with --parser msgpack', () => {
  let srv;
  before(async () => { srv = await start('examples/conformance', ['--parser', 'msgpack']); });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  for (const [tlabel, transports] of TRANSPORTS) {
    it(`the fixture's contract holds, msgpack on the wire (${tlabel})`, async () => {
      const s = sio.client(srv.url, { transports, parser, auth: { token: 't' } });
      const auth = sio.once(s, 'auth');
      await sio.waitConnect(s);
      assert.deepEqual(await auth, [{ token: 't' }]);
      const back = sio.once(s, 'message-back');
      s.emit('message', 1, bytes(4), { b: bytes(2) });
      assert.deepEqual(await back, [1, bytes(4), { b: bytes(2) }]);
      assert.deepEqual(await sio.ackArgs(s, 'message-with-ack', 'x', bytes(3)), ['x', bytes(3)]);
      const custom = sio.client(`${srv.url}/custom`, { transports, parser });
      await sio.waitConnect(custom);
    });
  }
});
