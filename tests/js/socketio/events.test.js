// Events in both directions with JSON arguments of every kind, ordering, on_any.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../lib/server');
const sio = require('../lib/sio');

const TRANSPORTS = [['polling', ['polling']], ['websocket', ['websocket']]];

// Argument lists that must survive a round trip unchanged.
const CASES = [
  ['no arguments', []],
  ['a string', ['hello']],
  ['an empty string', ['']],
  ['unicode and escapes', ['héllo wörld ✓ 日本語 🎉', 'quote " backslash \\ newline \n tab \t', '\u0000\u001f']],
  ['integers', [0, 1, -1, 42, 2 ** 31, -(2 ** 31), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]],
  ['floats', [0.1, -1.5, 3.141592653589793, 1e-7, 1.5e300, 123456.789]],
  ['booleans and null', [true, false, null]],
  ['an empty object and an empty array', [{}, []]],
  ['a nested object', [{ a: 1, b: { c: [1, 2, { d: 'e' }], f: null, g: true }, h: 'i' }]],
  ['an array of mixed values', [[1, 'two', null, false, { three: 3 }, [4, [5]]]]],
  ['many arguments', Array.from({ length: 20 }, (_, i) => (i % 2 ? `arg${i}` : { i }))],
  ['strings that look like packets', ['42["x"]', '0{"sid":"a"}', '451-["y",{"_placeholder":true,"num":0}]']],
  ['an object shaped like a placeholder', [{ _placeholder: true, num: 0 }]],
  ['a long string', ['x'.repeat(100000)]],
];

// Keys deliberately not in sorted order: the round trip must keep insertion order.
const UNSORTED = { zebra: 1, apple: { mango: 2, banana: 3, cherry: { z: 0, a: 1 } }, middle: [{ y: 1, b: 2 }], _first: null };

describe('events (conformance)', () => {
  let srv;
  before(async () => { srv = await start('examples/conformance'); });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  for (const [tlabel, transports] of TRANSPORTS) {
    for (const [label, args] of CASES) {
      it(`message → message-back with ${label} (${tlabel})`, async () => {
        const s = await sio.connect(srv.url, { transports });
        const back = sio.once(s, 'message-back');
        s.emit('message', ...args);
        assert.deepEqual(await back, args);
      });
    }

    it(`object key order is preserved, nested too (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports });
      const back = sio.once(s, 'message-back');
      s.emit('message', UNSORTED, 'tail');
      const got = await back;
      assert.deepEqual(got, [UNSORTED, 'tail']);
      assert.equal(JSON.stringify(got[0]), JSON.stringify(UNSORTED));
    });

    it(`1000 events from one client arrive, and come back, in order (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports });
      const got = sio.collect(s, 'message-back');
      for (let i = 0; i < 1000; i++) s.emit('message', i, `n${i}`);
      await sio.waitFor(() => got.length >= 1000, 15000, `1000 message-back (got ${got.length})`);
      await sio.sleep(50);
      assert.equal(got.length, 1000);
      got.forEach((args, i) => assert.deepEqual(args, [i, `n${i}`], `event #${i}`));
    });
  }

  it('events emitted before the connection is established are delivered after it', async () => {
    const s = sio.client(srv.url, { transports: ['websocket'] });
    const back = sio.once(s, 'message-back');
    s.emit('message', 'buffered'); // the client buffers until connected
    assert.deepEqual(await back, ['buffered']);
  });

  it('events on one client do not reach another', async () => {
    const a = await sio.connect(srv.url, { transports: ['websocket'] });
    const b = await sio.connect(srv.url, { transports: ['websocket'] });
    const silent = sio.noEvent(b, 'message-back', 300);
    const back = sio.once(a, 'message-back');
    a.emit('message', 'only a');
    assert.deepEqual(await back, ['only a']);
    await silent;
  });

  it('a message sent right after connect with auth works on the upgraded transport', async () => {
    const s = sio.client(srv.url, { auth: { k: 'v' } });
    const auth = sio.once(s, 'auth');
    await sio.waitConnect(s);
    assert.deepEqual(await auth, [{ k: 'v' }]);
    await sio.waitFor(() => s.io.engine.transport.name === 'websocket', 3000, 'upgrade');
    const got = sio.collect(s, 'message-back');
    for (let i = 0; i < 50; i++) s.emit('message', i);
    await sio.waitFor(() => got.length >= 50, 3000, '50 message-back');
    assert.deepEqual(got.map((a) => a[0]), Array.from({ length: 50 }, (_, i) => i));
  });

  it('keeps order across the polling → websocket upgrade', async () => {
    const s = sio.client(srv.url);
    const got = sio.collect(s, 'message-back');
    await sio.waitConnect(s);
    // emit while the upgrade is probably still in progress
    for (let i = 0; i < 300; i++) {
      s.emit('message', i);
      if (i % 50 === 0) await sio.sleep(5);
    }
    await sio.waitFor(() => got.length >= 300, 10000, `300 message-back (got ${got.length})`);
    assert.deepEqual(got.map((a) => a[0]), Array.from({ length: 300 }, (_, i) => i));
    assert.equal(s.io.engine.transport.name, 'websocket');
  });
});

describe('events (testbed)', () => {
  let srv;
  before(async () => { srv = await start('examples/testbed'); });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  for (const [tlabel, transports] of TRANSPORTS) {
    it(`server → client events with JSON arguments (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports });
      for (const [label, args] of CASES) {
        const got = sio.once(s, 'server-event');
        await sio.ack(s, 'emit', { event: 'server-event', args, rooms: [s.id] });
        assert.deepEqual(await got, args, label);
      }
    });
  }

  it('server → client keeps object key order', async () => {
    const s = await sio.connect(srv.url, { transports: ['websocket'] });
    const got = sio.once(s, 'ordered');
    await sio.ack(s, 'emit', { event: 'ordered', args: [UNSORTED], rooms: [s.id] });
    const [obj] = await got;
    assert.equal(JSON.stringify(obj), JSON.stringify(UNSORTED));
  });

  it('event names with unicode, spaces and punctuation reach on_any unchanged, in order', async () => {
    const s = await sio.connect(srv.url, { transports: ['websocket'] });
    const names = ['a', 'b', 'ünïcødé ✓', 'with space', 'with"quote', 'a', 'x:y/z', '🎉'];
    for (const n of names) s.emit(n, 1, { two: 2 });
    await sio.ack(s, 'echo'); // round trip: everything before it was handled
    assert.deepEqual(await sio.ack(s, 'any-log'), [...names, 'echo']);
  });

  it('on_any sees events of handled and unhandled names, per socket', async () => {
    const a = await sio.connect(srv.url, { transports: ['polling'] });
    const b = await sio.connect(srv.url, { transports: ['polling'] });
    a.emit('only-a');
    await sio.ack(a, 'id');
    await sio.ack(b, 'set-data', 1);
    assert.deepEqual(await sio.ack(a, 'any-log'), ['only-a', 'id']);
    assert.deepEqual(await sio.ack(b, 'any-log'), ['set-data']);
  });

  it('1000 emits from the server to one client arrive in order', async () => {
    const s = await sio.connect(srv.url, { transports: ['websocket'] });
    const got = sio.collect(s, 'seq');
    const acks = [];
    for (let i = 0; i < 1000; i++) acks.push(sio.ack(s, 'emit', { event: 'seq', args: [i], rooms: [s.id] }));
    await Promise.all(acks);
    await sio.waitFor(() => got.length >= 1000, 10000, `1000 seq (got ${got.length})`);
    assert.deepEqual(got.map((a) => a[0]), Array.from({ length: 1000 }, (_, i) => i));
  });
});
