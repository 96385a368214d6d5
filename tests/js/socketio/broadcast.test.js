// Broadcast operators with five clients on mixed transports: io.emit, to(room), to(rooms),
// except, socket.to (sender excluded), broadcast, private messages, volatile, local.
'use strict';

const { describe, it, before, after, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../lib/server');
const sio = require('../lib/sio');

const NAMES = ['A', 'B', 'C', 'D', 'E'];
const TRANSPORTS = { A: ['websocket'], B: ['polling'], C: undefined, D: ['polling'], E: ['websocket'] };
const ROOMS = { A: ['r1'], B: ['r1', 'r2'], C: ['r2'], D: [], E: ['r1', 'r3'] };
const SILENCE_MS = 300; // how long non-members must stay silent

describe('broadcast (testbed)', () => {
  let srv;
  let c; // name → connected socket

  before(async () => { srv = await start('examples/testbed'); });
  after(() => srv && srv.stop());

  beforeEach(async () => {
    const list = await Promise.all(NAMES.map((n) => sio.connect(srv.url, TRANSPORTS[n] ? { transports: TRANSPORTS[n] } : {})));
    c = Object.fromEntries(NAMES.map((n, i) => [n, list[i]]));
    for (const n of NAMES) if (ROOMS[n].length) await sio.ack(c[n], 'join', ROOMS[n]);
    // sockets of the previous test must be gone from the server before counting receivers
    const ids = list.map((s) => s.id).sort();
    await sio.eventually(async () => {
      assert.deepEqual((await sio.ack(c.A, 'fetch-sockets', [])).map((x) => x.id), ids);
    });
  });
  afterEach(() => sio.closeAll());

  /** Sends an `emit` request from `sender` and checks exactly `expected` got it, once. */
  async function expectReceivers(sender, spec, expected) {
    const event = spec.event || 'bc';
    const args = spec.args || ['payload', { from: sender, n: 1 }];
    const seen = Object.fromEntries(NAMES.map((n) => [n, sio.collect(c[n], event)]));
    assert.equal(await sio.ack(c[sender], 'emit', { ...spec, event, args }), undefined);
    await sio.waitFor(() => expected.every((n) => seen[n].length >= 1), 2000,
      `${event} at ${expected.join(',')} (got: ${NAMES.filter((n) => seen[n].length).join(',')})`);
    await sio.sleep(SILENCE_MS);
    const counts = Object.fromEntries(NAMES.map((n) => [n, seen[n].length]));
    const want = Object.fromEntries(NAMES.map((n) => [n, expected.includes(n) ? 1 : 0]));
    assert.deepEqual(counts, want, `receivers of ${JSON.stringify(spec)}`);
    for (const n of expected) assert.deepEqual(seen[n][0], args, `args at ${n}`);
    for (const n of NAMES) seen[n].stop();
  }

  it('io.emit reaches everyone in the namespace, sender included', () =>
    expectReceivers('A', {}, ['A', 'B', 'C', 'D', 'E']));

  it('from "io" is the default', () =>
    expectReceivers('D', { from: 'io' }, ['A', 'B', 'C', 'D', 'E']));

  it('io.to(room) reaches the members only', () =>
    expectReceivers('D', { rooms: ['r1'] }, ['A', 'B', 'E']));

  it('io.to(room) includes the sender when it is a member', () =>
    expectReceivers('C', { rooms: ['r2'] }, ['B', 'C']));

  it('io.to(several rooms) delivers once to a socket in both', () =>
    expectReceivers('D', { rooms: ['r1', 'r2'] }, ['A', 'B', 'C', 'E']));

  it('io.to(room).except(room)', () =>
    expectReceivers('D', { rooms: ['r1'], except: ['r2'] }, ['A', 'E']));

  it('io.except(room) without rooms = everyone else', () =>
    expectReceivers('A', { except: ['r1'] }, ['C', 'D']));

  it('io.to(room).except(a socket id) excludes that socket', async () => {
    await expectReceivers('A', { rooms: ['r1'], except: [c.E.id] }, ['A', 'B']);
  });

  it('io.to(unknown room) reaches nobody', () =>
    expectReceivers('A', { rooms: ['nobody-here'] }, []));

  it('socket.to(room) excludes the sender even if it is a member', () =>
    expectReceivers('A', { from: 'socket', rooms: ['r1'] }, ['B', 'E']));

  it('socket.to(several rooms) excludes the sender in both', () =>
    expectReceivers('B', { from: 'socket', rooms: ['r1', 'r2'] }, ['A', 'C', 'E']));

  it('socket.to(room).except(room)', () =>
    expectReceivers('A', { from: 'socket', rooms: ['r1'], except: ['r3'] }, ['B']));

  it('socket.to(another socket id) reaches exactly that socket (private message)', async () => {
    await expectReceivers('A', { from: 'socket', rooms: [c.C.id], event: 'private', args: ['psst', c.A.id] }, ['C']);
  });

  it('socket.to(own id) reaches nobody', async () => {
    await expectReceivers('A', { from: 'socket', rooms: [c.A.id] }, []);
  });

  it('io.to(own id) reaches only the sender', async () => {
    await expectReceivers('B', { rooms: [c.B.id] }, ['B']);
  });

  it('socket.broadcast reaches everyone but the sender', () =>
    expectReceivers('A', { from: 'broadcast' }, ['B', 'C', 'D', 'E']));

  it('socket.broadcast.except(room)', () =>
    expectReceivers('A', { from: 'broadcast', except: ['r2'] }, ['D', 'E']));

  it('local flag: same as a normal emit on a single node', () =>
    expectReceivers('C', { rooms: ['r1'], local: true }, ['A', 'B', 'E']));

  it('volatile emit reaches idle websocket clients', () =>
    expectReceivers('D', { rooms: ['r3'], volatile: true }, ['E']));

  it('binary arguments are broadcast intact', () =>
    expectReceivers('A', { rooms: ['r2'], args: [Buffer.from([1, 2, 3]), { b: Buffer.alloc(2, 9) }, 'text'] }, ['B', 'C']));

  it('100 broadcasts arrive in order at every member', async () => {
    const got = ['A', 'B', 'E'].map((n) => sio.collect(c[n], 'seq'));
    const acks = [];
    for (let i = 0; i < 100; i++) acks.push(sio.ack(c.C, 'emit', { event: 'seq', args: [i], rooms: ['r1'] }));
    await Promise.all(acks);
    await sio.waitFor(() => got.every((g) => g.length >= 100), 5000, '100 seq at A, B, E');
    const want = Array.from({ length: 100 }, (_, i) => i);
    for (const g of got) assert.deepEqual(g.map((a) => a[0]), want);
  });

  it('a socket that left a room no longer receives its broadcasts', async () => {
    await sio.ack(c.B, 'leave', 'r1');
    await expectReceivers('D', { rooms: ['r1'] }, ['A', 'E']);
  });

  it('a disconnected socket receives nothing and the others still do', async () => {
    c.E.disconnect();
    await sio.eventually(async () => {
      assert.equal((await sio.ack(c.A, 'fetch-sockets', ['r1'])).length, 2);
    });
    await expectReceivers('D', { rooms: ['r1'] }, ['A', 'B']);
  });
});
