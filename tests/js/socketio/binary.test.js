// Binary attachments: Buffer, Uint8Array, ArrayBuffer, nested anywhere, mixed with JSON,
// in order, over polling (base64 payloads) and websocket (binary frames).
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../lib/server');
const sio = require('../lib/sio');

const TRANSPORTS = [['polling', ['polling']], ['websocket', ['websocket']]];

function bytes(n, seed = 1) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

// What the client sent → what it must get back (binary comes back as a Node Buffer).
const CASES = [
  ['a Buffer', [bytes(16)], [bytes(16)]],
  ['an empty Buffer', [Buffer.alloc(0)], [Buffer.alloc(0)]],
  ['a Uint8Array', [new Uint8Array([1, 2, 3, 250, 0, 255])], [Buffer.from([1, 2, 3, 250, 0, 255])]],
  ['an ArrayBuffer', [new Uint8Array([9, 8, 7, 6]).buffer], [Buffer.from([9, 8, 7, 6])]],
  ['a 200 kB Buffer', [bytes(200000, 7)], [bytes(200000, 7)]],
  [
    'several buffers nested in objects and arrays',
    [{ a: bytes(3, 1), list: [bytes(4, 2), { deep: bytes(5, 3) }, 'text'], n: 1 }],
    [{ a: bytes(3, 1), list: [bytes(4, 2), { deep: bytes(5, 3) }, 'text'], n: 1 }],
  ],
  [
    'buffers mixed with JSON arguments, order of attachments kept',
    ['first', bytes(8, 1), 2, [bytes(8, 2), null], { x: bytes(8, 3), y: [true] }, bytes(8, 4), 'last'],
    ['first', bytes(8, 1), 2, [bytes(8, 2), null], { x: bytes(8, 3), y: [true] }, bytes(8, 4), 'last'],
  ],
  [
    'the same Buffer twice',
    [bytes(6, 9), bytes(6, 9)],
    [bytes(6, 9), bytes(6, 9)],
  ],
  [
    'ten attachments',
    [Array.from({ length: 10 }, (_, i) => bytes(i + 1, i))],
    [Array.from({ length: 10 }, (_, i) => bytes(i + 1, i))],
  ],
];

function assertBinaryEqual(actual, expected, msg) {
  // deepEqual compares Buffers byte by byte and also checks they are Buffers (not plain objects)
  assert.deepEqual(actual, expected, msg);
}

describe('binary (conformance)', () => {
  let srv;
  before(async () => { srv = await start('examples/conformance'); });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  for (const [tlabel, transports] of TRANSPORTS) {
    for (const [label, sent, expected] of CASES) {
      it(`message-back with ${label} (${tlabel})`, async () => {
        const s = await sio.connect(srv.url, { transports });
        const back = sio.once(s, 'message-back');
        s.emit('message', ...sent);
        assertBinaryEqual(await back, expected);
      });

      it(`message-with-ack with ${label} (${tlabel})`, async () => {
        const s = await sio.connect(srv.url, { transports });
        assertBinaryEqual(await sio.ackArgs(s, 'message-with-ack', ...sent), expected);
      });
    }

    it(`binary and JSON events interleaved keep their order (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports });
      const got = sio.collect(s, 'message-back');
      const expected = [];
      for (let i = 0; i < 100; i++) {
        const args = i % 3 === 0 ? [i] : i % 3 === 1 ? [i, bytes(i + 1, i)] : [{ i, b: [bytes(2, i), bytes(3, i)] }];
        expected.push(args);
        s.emit('message', ...args);
      }
      await sio.waitFor(() => got.length >= 100, 10000, `100 message-back (got ${got.length})`);
      assert.equal(got.length, 100);
      got.forEach((args, i) => assertBinaryEqual(args, expected[i], `event #${i}`));
    });
  }

  it('binary survives the polling → websocket upgrade', async () => {
    const s = sio.client(srv.url);
    await sio.waitConnect(s);
    const before = await sio.ackArgs(s, 'message-with-ack', bytes(10, 1));
    assertBinaryEqual(before, [bytes(10, 1)]);
    await sio.waitFor(() => s.io.engine.transport.name === 'websocket', 3000, 'upgrade');
    assertBinaryEqual(await sio.ackArgs(s, 'message-with-ack', { b: bytes(10, 2) }), [{ b: bytes(10, 2) }]);
  });
});

describe('binary (testbed)', () => {
  let srv;
  before(async () => { srv = await start('examples/testbed'); });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  for (const [tlabel, transports] of TRANSPORTS) {
    it(`echo acks binary nested anywhere (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports });
      for (const [label, sent, expected] of CASES) {
        assertBinaryEqual(await sio.ackArgs(s, 'echo', ...sent), expected, label);
      }
    });

    it(`server → client emit with binary arguments (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports });
      const args = ['a', bytes(5, 1), { nested: [bytes(6, 2), { deeper: bytes(7, 3) }] }, 3];
      const got = sio.once(s, 'bin');
      await sio.ack(s, 'emit', { event: 'bin', args, rooms: [s.id] });
      assertBinaryEqual(await got, args);
    });
  }

  it('binary broadcast reaches every client intact (mixed transports)', async () => {
    const a = await sio.connect(srv.url, { transports: ['polling'] });
    const b = await sio.connect(srv.url, { transports: ['websocket'] });
    const c = await sio.connect(srv.url);
    const room = 'bin-room';
    for (const s of [a, b, c]) await sio.ack(s, 'join', room);
    const args = [bytes(1000, 4), { x: [bytes(3, 5)] }];
    const got = [a, b, c].map((s) => sio.once(s, 'bin-bc'));
    await sio.ack(a, 'emit', { event: 'bin-bc', args, rooms: [room] });
    for (const g of got) assertBinaryEqual(await g, args);
  });
});
