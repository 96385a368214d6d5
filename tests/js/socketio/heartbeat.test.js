// Heartbeat: live clients stay connected across many ping intervals; a client that never
// answers pings is dropped with reason "ping timeout".
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../lib/server');
const sio = require('../lib/sio');

describe('heartbeat (conformance: pingInterval 300, pingTimeout 200)', () => {
  let srv;
  before(async () => { srv = await start('examples/conformance'); });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  for (const [label, opts] of [['polling', { transports: ['polling'] }], ['websocket', { transports: ['websocket'] }], ['default', {}]]) {
    it(`a live client stays connected for 2 s and answers every ping (${label})`, async () => {
      const s = await sio.connect(srv.url, opts);
      const id = s.id;
      let pings = 0;
      s.io.engine.on('ping', () => { pings += 1; });
      await sio.noEvent(s, 'disconnect', 2000);
      assert.equal(s.connected, true);
      assert.equal(s.id, id);
      assert.ok(pings >= 4, `only ${pings} pings in 2 s with pingInterval 300`);
      assert.deepEqual(await sio.ackArgs(s, 'message-with-ack', 'alive'), ['alive']);
    });
  }

  it('raw: the server pings every ~300 ms', async () => {
    const raw = await sio.rawWs(srv.url);
    raw.send('40');
    await raw.next();
    await sio.sleep(1100);
    assert.equal(raw.isClosed, false);
    assert.ok(raw.pings >= 2 && raw.pings <= 5, `pings in 1.1 s: ${raw.pings}`);
    const first = raw.pingTimes[0] - raw.openedAt;
    assert.ok(first >= 200 && first <= 700, `first ping after ${first} ms`);
  });

  it('raw: a client that never answers pings is closed after ~pingInterval + pingTimeout', async () => {
    const raw = await sio.rawWs(srv.url, { autoPong: false });
    raw.send('40');
    assert.match(await raw.next(), /^40\{"sid":/);
    const { at } = await sio.rawClosed(raw, 3000);
    const elapsed = at - raw.openedAt;
    assert.ok(raw.pings >= 1, 'closed without any ping');
    assert.ok(elapsed >= 400, `closed too early: ${elapsed} ms`);
    assert.ok(elapsed <= 1500, `closed too late: ${elapsed} ms`);
  });

  it('raw: a client answering pings keeps its session (no ping timeout)', async () => {
    const raw = await sio.rawWs(srv.url);
    raw.send('40');
    await raw.next(); // 40{"sid"}
    await raw.next(); // auth
    await sio.sleep(1500);
    assert.equal(raw.isClosed, false, `closed: ${sio.safeJson(raw.log)}`);
    raw.send('42["message","ok"]');
    assert.equal(await raw.next(), '42["message-back","ok"]');
  });
});

describe('heartbeat (testbed --ping-interval 300 --ping-timeout 200 --connect-timeout 600)', () => {
  let srv;
  before(async () => {
    srv = await start('examples/testbed', ['--ping-interval', '300', '--ping-timeout', '200', '--connect-timeout', '600']);
  });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  it('announces the configured heartbeat in the handshake', async () => {
    const raw = await sio.rawWs(srv.url);
    assert.equal(raw.handshake.pingInterval, 300);
    assert.equal(raw.handshake.pingTimeout, 200);
    assert.equal(raw.handshake.maxPayload, 1000000);
  });

  it('a socket whose client never answers pings is disconnected with "ping timeout"', async () => {
    const observer = await sio.connect(srv.url, { transports: ['websocket'] });
    const raw = await sio.rawWs(srv.url, { autoPong: false });
    raw.send('40');
    const connect = await raw.next();
    assert.match(connect, /^40\{"sid":/);
    const { sid } = JSON.parse(connect.slice(2));
    raw.send('420["join","hb-room"]');
    assert.equal(await raw.next(), `430[${JSON.stringify(['hb-room', sid].sort())}]`);
    await sio.rawClosed(raw, 3000);
    let entry;
    await sio.eventually(async () => {
      const log = await sio.ack(observer, 'disconnect-log');
      entry = log.find((e) => e.id === sid);
      assert.ok(entry, `no disconnect-log entry for ${sid}: ${sio.safeJson(log)}`);
    });
    assert.equal(entry.reason, 'ping timeout');
    assert.deepEqual(entry.rooms, ['hb-room', sid].sort());
    // the observer answered its pings and is still there
    assert.equal(observer.connected, true);
    assert.equal(await sio.ack(observer, 'id'), observer.id);
  });

  it('--connect-timeout: a session without namespace CONNECT is closed after ~600 ms', async () => {
    const raw = await sio.rawWs(srv.url); // answers pings
    const { at } = await sio.rawClosed(raw, 3000);
    const elapsed = at - raw.openedAt;
    assert.ok(elapsed >= 400 && elapsed <= 2000, `closed after ${elapsed} ms`);
  });
});
