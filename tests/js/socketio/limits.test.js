// Limits and hostile input: payloads over maxPayload and invalid Socket.IO packets close
// the offending connection only.
'use strict';

const { describe, it, before, after, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../lib/server');
const sio = require('../lib/sio');

const MAX = 10000;
const ENGINE_REASONS = ['transport close', 'transport error', 'parse error', 'forced close'];

describe('limits (testbed --max-payload 10000)', () => {
  let srv;
  let observer;

  before(async () => { srv = await start('examples/testbed', ['--max-payload', String(MAX)]); });
  after(() => srv && srv.stop());
  beforeEach(async () => { observer = await sio.connect(srv.url, { transports: ['websocket'] }); });
  afterEach(() => sio.closeAll());

  async function logEntry(id) {
    let entry;
    await sio.eventually(async () => {
      const log = await sio.ack(observer, 'disconnect-log');
      entry = log.find((e) => e.id === id);
      assert.ok(entry, `no disconnect-log entry for ${id} in ${sio.safeJson(log)}`);
    });
    return entry;
  }

  async function observerStillWorks() {
    assert.equal(observer.connected, true);
    assert.deepEqual(await sio.ackArgs(observer, 'echo', 'fine', Buffer.from([1])), ['fine', Buffer.from([1])]);
  }

  it('announces maxPayload 10000 in the handshake', async () => {
    const raw = await sio.rawWs(srv.url);
    assert.equal(raw.handshake.maxPayload, MAX);
  });

  for (const [tlabel, transports] of [['polling', ['polling']], ['websocket', ['websocket']]]) {
    it(`a message just under maxPayload goes through (${tlabel})`, async () => {
      const s = await sio.connect(srv.url, { transports });
      const big = 'y'.repeat(MAX - 100);
      assert.deepEqual(await sio.ackArgs(s, 'echo', big), [big]);
    });

    for (const [label, payload] of [['string', 'x'.repeat(2 * MAX)], ['binary', Buffer.alloc(2 * MAX, 1)]]) {
      it(`a ${label} message over maxPayload closes that connection only (${tlabel})`, async () => {
        const s = await sio.connect(srv.url, { transports });
        const id = s.id;
        const gone = sio.once(s, 'disconnect', 5000);
        s.emit('echo', payload, () => assert.fail('the oversized message was acknowledged'));
        const [reason] = await gone;
        assert.ok(['transport close', 'transport error'].includes(reason), `client reason: ${reason}`);
        const entry = await logEntry(id);
        assert.ok(ENGINE_REASONS.includes(entry.reason), `server reason: ${entry.reason}`);
        await observerStillWorks();
        // and the server still accepts new clients
        const again = await sio.connect(srv.url, { transports });
        assert.deepEqual(await sio.ackArgs(again, 'echo', 'new'), ['new']);
      });
    }
  }

  it('polling: a burst of packets that together exceed maxPayload is fine (the client splits them)', async () => {
    const s = await sio.connect(srv.url, { transports: ['polling'] });
    const chunk = 'z'.repeat(MAX / 3);
    const res = await Promise.all(Array.from({ length: 6 }, (_, i) => sio.ackArgs(s, 'echo', i, chunk)));
    res.forEach((r, i) => assert.deepEqual(r, [i, chunk]));
    assert.equal(s.connected, true);
  });

  // Socket.IO-level garbage. Node's socket.io 4.8 reports "forced close" for these (the
  // decoder throws and the server closes the connection); Rally's contract says "parse error".
  const INVALID = [
    ['reserved event name "connect"', '42["connect"]'],
    ['reserved event name "disconnect"', '42["disconnect"]'],
    ['unknown packet type letter', '4garbage'],
    ['unknown packet type digit', '47'],
    ['truncated JSON', '42[1,2'],
    ['event payload that is not an array', '42{"a":1}'],
    ['empty event array', '42[]'],
    ['event name that is not a string', '42[{"x":1}]'],
    ['text frame while binary attachments are expected', '451-["echo",{"_placeholder":true,"num":0}]', '42["echo"]'],
  ];

  for (const [label, ...frames] of INVALID) {
    it(`invalid packet (${label}) closes that websocket only`, async () => {
      const raw = await sio.rawWs(srv.url);
      raw.send('40');
      const connect = await raw.next();
      assert.match(connect, /^40\{"sid":/);
      const { sid } = JSON.parse(connect.slice(2));
      for (const f of frames) raw.send(f);
      await sio.rawClosed(raw, 3000);
      const entry = await logEntry(sid);
      assert.ok(['parse error', 'forced close'].includes(entry.reason), `server reason: ${entry.reason}`);
      await observerStillWorks();
    });
  }

  it('invalid Engine.IO packet type closes that websocket with "parse error"', async () => {
    const raw = await sio.rawWs(srv.url);
    raw.send('40');
    const { sid } = JSON.parse((await raw.next()).slice(2));
    raw.send('9hello');
    await sio.rawClosed(raw, 3000);
    assert.equal((await logEntry(sid)).reason, 'parse error');
    await observerStillWorks();
  });

  it('polling: an invalid packet in a POST closes that session only', async () => {
    const base = `${srv.url}/socket.io/?EIO=4&transport=polling`;
    const open = await fetch(base, { signal: AbortSignal.timeout(3000) });
    const { sid: esid } = JSON.parse((await open.text()).slice(1));
    const url = `${base}&sid=${encodeURIComponent(esid)}`;
    const post = (body) => fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/plain;charset=UTF-8' }, signal: AbortSignal.timeout(3000) });
    const r1 = await post('40');
    assert.equal(r1.status, 200);
    await r1.text();
    const g1 = await fetch(url, { signal: AbortSignal.timeout(3000) });
    const connect = (await g1.text()).split('\x1e')[0];
    assert.match(connect, /^40\{"sid":/);
    const { sid } = JSON.parse(connect.slice(2));
    const r2 = await post('42["connect"]');
    await r2.text();
    // the engine session ends: the next GET gets the close packet (or the session is unknown)
    await sio.eventually(async () => {
      const g = await fetch(url, { signal: AbortSignal.timeout(3000) });
      const body = await g.text();
      assert.ok(g.status === 400 || body.split('\x1e').includes('1'), `session still alive: ${g.status} ${body}`);
    });
    const entry = await logEntry(sid);
    assert.ok(['parse error', 'forced close'].includes(entry.reason), `server reason: ${entry.reason}`);
    await observerStillWorks();
  });
});
