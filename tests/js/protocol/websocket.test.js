// Engine.IO v4 over WebSocket and the polling -> WebSocket upgrade, spoken by hand with
// the `ws` package (and fetch for the polling side) to the echo example.
// Each test starts its own server and stops it.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { start } = require('../lib/server');

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const MAX_PAYLOAD = 1000000;
const SLACK = 400;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function withEcho(fn) {
  const srv = await start('examples/conformance');
  const sockets = [];
  try {
    await fn(srv, sockets);
    assert.equal(srv.proc.exitCode, null, `echo server exited during the test:\n${srv.output()}`);
    assert.equal(srv.proc.signalCode, null, `echo server was killed during the test:\n${srv.output()}`);
  } finally {
    for (const ws of sockets) ws.terminate();
    await srv.stop();
  }
}

/**
 * A raw WebSocket that queues what it receives: next() resolves with the next message,
 * as a string for text frames and a Buffer for binary frames.
 */
function connect(srv, sockets, query = 'EIO=4&transport=websocket') {
  const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/engine.io/?${query}`);
  sockets.push(ws);
  const queue = [];
  const waiters = [];
  let closed = null;
  ws.on('message', (data, isBinary) => {
    const msg = isBinary ? Buffer.from(data) : data.toString('utf8');
    const w = waiters.shift();
    if (w) w.resolve(msg);
    else queue.push(msg);
  });
  ws.on('error', () => {});
  const closedP = new Promise((resolve) => ws.on('close', (code) => {
    closed = { code, at: Date.now() };
    for (const w of waiters.splice(0)) w.reject(new Error(`socket closed (code ${code}) while waiting for a message`));
    resolve(closed);
  }));
  const openP = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.once('close', () => reject(new Error('closed before open')));
  });
  openP.catch(() => {});
  return {
    ws,
    opened: openP,
    closed: closedP,
    isClosed: () => closed,
    next(timeoutMs = 3000) {
      if (queue.length) return Promise.resolve(queue.shift());
      if (closed) return Promise.reject(new Error(`socket closed (code ${closed.code})`));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          resolve: (m) => { clearTimeout(timer); resolve(m); },
          reject: (e) => { clearTimeout(timer); reject(e); },
        });
      });
    },
    /**
     * Next message that is not a ping ("2"); pings are answered. A noop ("6") fails the
     * test: it exists only to release a pending polling GET, never on a WebSocket.
     */
    async nextData(timeoutMs = 3000) {
      for (;;) {
        const m = await this.next(timeoutMs);
        if (m === '2') { ws.send('3'); continue; }
        assert.notEqual(m, '6', 'a noop was written on the WebSocket');
        return m;
      }
    },
  };
}

async function openPacket(client) {
  const m = await client.next();
  assert.equal(typeof m, 'string');
  assert.equal(m[0], '0', `open packet expected, got ${JSON.stringify(m)}`);
  return JSON.parse(m.slice(1));
}

function within(promise, ms, what) {
  return Promise.race([
    promise,
    sleep(ms).then(() => { throw new Error(`${what}: not within ${ms} ms`); }),
  ]);
}

const pollUrl = (srv, q) => `${srv.url}/engine.io/?${q}`;

test('websocket-only handshake: open packet with upgrades []', () =>
  withEcho(async (srv, sockets) => {
    const c = connect(srv, sockets);
    const open = await openPacket(c);
    assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
    assert.equal(typeof open.sid, 'string');
    assert.ok(open.sid.length > 0);
    assert.deepEqual(open.upgrades, []);
    assert.equal(open.pingInterval, PING_INTERVAL);
    assert.equal(open.pingTimeout, PING_TIMEOUT);
    assert.equal(open.maxPayload, MAX_PAYLOAD);
  }));

test('websocket handshake errors: bad EIO, unknown transport, unknown sid never open a session', () =>
  withEcho(async (srv, sockets) => {
    // Refused with HTTP 400 before the upgrade, or (as Node's engine.io does for a bad EIO)
    // upgraded and closed at once: either way no open packet and no session.
    for (const q of ['transport=websocket', 'EIO=3&transport=websocket', 'EIO=abc&transport=websocket',
      'EIO=4&transport=abc', 'EIO=4', 'EIO=4&transport=websocket&sid=nope']) {
      const c = connect(srv, sockets, q);
      const outcome = await c.opened.then(() => 'open', (err) => err);
      if (outcome === 'open') {
        await within(c.closed, 2000, `${q}: upgraded but not closed`);
        const got = [];
        for (;;) {
          try { got.push(await c.next(10)); } catch { break; }
        }
        assert.ok(!got.some((m) => typeof m === 'string' && m.startsWith('0')), `${q}: got an open packet ${JSON.stringify(got)}`);
      } else {
        assert.equal(outcome.status, 400, `${q}: ${outcome.message}`);
      }
    }
  }));

test('websocket: text is echoed as text, binary as binary', () =>
  withEcho(async (srv, sockets) => {
    const c = connect(srv, sockets);
    await openPacket(c);
    c.ws.send('4hello');
    assert.equal(await c.nextData(), '4hello');
    c.ws.send('4é€😀');
    assert.equal(await c.nextData(), '4é€😀');
    const bin = Buffer.from([1, 2, 3, 4, 0, 255]);
    c.ws.send(bin);
    const back = await c.nextData();
    assert.ok(Buffer.isBuffer(back), 'binary expected back as a binary frame');
    assert.deepEqual(back, bin);
    // Binary frames carry no packet type: "4" as a binary frame is binary data, not a message packet.
    c.ws.send(Buffer.from('4abc'));
    assert.deepEqual(await c.nextData(), Buffer.from('4abc'));
  }));

test('websocket: 100 messages come back in order', () =>
  withEcho(async (srv, sockets) => {
    const c = connect(srv, sockets);
    await openPacket(c);
    for (let i = 0; i < 100; i++) c.ws.send(`4m${i}`);
    for (let i = 0; i < 100; i++) assert.equal(await c.nextData(), `4m${i}`);
  }));

test('websocket: an invalid packet closes the connection', () =>
  withEcho(async (srv, sockets) => {
    for (const bad of ['abc', '9', '']) {
      const c = connect(srv, sockets);
      await openPacket(c);
      c.ws.send(bad);
      await within(c.closed, 2000, `close after ${JSON.stringify(bad)}`);
    }
  }));

test('websocket: a close packet closes the connection', () =>
  withEcho(async (srv, sockets) => {
    const c = connect(srv, sockets);
    await openPacket(c);
    c.ws.send('1');
    await within(c.closed, 2000, 'close after close packet');
  }));

test('websocket: a frame over maxPayload closes the connection', () =>
  withEcho(async (srv, sockets) => {
    const c = connect(srv, sockets);
    await openPacket(c);
    c.ws.send('4' + 'a'.repeat(MAX_PAYLOAD + 10));
    await within(c.closed, 3000, 'close after oversize frame');
  }));

test('heartbeat: pings every pingInterval; a ponging session stays open', () =>
  withEcho(async (srv, sockets) => {
    const c = connect(srv, sockets);
    await openPacket(c);
    let last = Date.now();
    for (let i = 0; i < 4; i++) {
      assert.equal(await c.next(), '2', `ping #${i + 1}`);
      const elapsed = Date.now() - last;
      assert.ok(elapsed >= PING_INTERVAL - 50 && elapsed <= PING_INTERVAL + SLACK,
        `ping #${i + 1} after ${elapsed} ms, expected about ${PING_INTERVAL} ms`);
      c.ws.send('3');
      last = Date.now();
    }
    c.ws.send('4alive');
    assert.equal(await c.nextData(), '4alive');
    assert.equal(c.isClosed(), null);
  }));

test('heartbeat: a client that never pongs is closed after pingInterval + pingTimeout', () =>
  withEcho(async (srv, sockets) => {
    const c = connect(srv, sockets);
    await c.opened;
    const t0 = Date.now();
    await openPacket(c);
    assert.equal(await c.next(), '2');
    const { at } = await within(c.closed, PING_INTERVAL + PING_TIMEOUT + SLACK + 1000, 'close after ping timeout');
    const elapsed = at - t0;
    assert.ok(elapsed >= PING_INTERVAL + PING_TIMEOUT - 100,
      `closed after ${elapsed} ms: earlier than pingInterval + pingTimeout`);
    assert.ok(elapsed <= PING_INTERVAL + PING_TIMEOUT + SLACK,
      `closed after ${elapsed} ms: later than pingInterval + pingTimeout + ${SLACK} ms`);
  }));

/** Handshakes over polling, then opens the upgrade's WebSocket (a `before` hook may act in between); returns { sid, c }. */
async function openProbe(srv, sockets, before = async () => {}) {
  const hs = await fetch(pollUrl(srv, 'EIO=4&transport=polling'));
  const sid = JSON.parse((await hs.text()).slice(1)).sid;
  await before(sid);
  const c = connect(srv, sockets, `EIO=4&transport=websocket&sid=${encodeURIComponent(sid)}`);
  await c.opened;
  c.ws.send('2probe');
  assert.equal(await c.next(), '3probe');
  return { sid, c };
}

/** Handshakes over polling and upgrades by hand; returns { sid, c }. */
async function upgradeByHand(srv, sockets) {
  const { sid, c } = await openProbe(srv, sockets);
  // The polling transport is paused: a GET is answered with a noop so the client can move on.
  const poll = await within(fetch(pollUrl(srv, `EIO=4&transport=polling&sid=${sid}`)), 2000, 'GET during upgrade');
  assert.equal(poll.status, 200);
  assert.equal(await poll.text(), '6');
  c.ws.send('5');
  return { sid, c };
}

test('upgrade by hand: probe, noop on the paused poll, upgrade, then messages flow over websocket', () =>
  withEcho(async (srv, sockets) => {
    const { c } = await upgradeByHand(srv, sockets);
    c.ws.send('4hello');
    assert.equal(await c.nextData(), '4hello');
    c.ws.send(Buffer.from([9, 8, 7]));
    assert.deepEqual(await c.nextData(), Buffer.from([9, 8, 7]));
  }));

test('upgrade with a GET pending during the probe: the GET gets the noop, the WebSocket none', () =>
  withEcho(async (srv, sockets) => {
    let pending;
    const { c } = await openProbe(srv, sockets, async (sid) => {
      pending = fetch(pollUrl(srv, `EIO=4&transport=polling&sid=${sid}`));
      await sleep(50);
    });
    const poll = await within(pending, 2000, 'pending GET released');
    assert.equal(await poll.text(), '6');
    c.ws.send('5');
    c.ws.send('4first');
    assert.equal(await c.nextData(), '4first');
  }));

test('upgrade without any GET: no noop anywhere, the first frame after "5" is the echo', () =>
  withEcho(async (srv, sockets) => {
    const { c } = await openProbe(srv, sockets);
    c.ws.send('5');
    c.ws.send('4first');
    assert.equal(await c.nextData(), '4first');
    c.ws.send('4second');
    assert.equal(await c.nextData(), '4second');
  }));

test('upgrade by hand: messages queued on polling before the upgrade are not lost', () =>
  withEcho(async (srv, sockets) => {
    const { c } = await openProbe(srv, sockets, async (sid) => {
      const p = await fetch(pollUrl(srv, `EIO=4&transport=polling&sid=${sid}`), { method: 'POST', body: '4before' });
      assert.equal(await p.text(), 'ok');
    });
    c.ws.send('5');
    assert.equal(await c.nextData(), '4before');
    c.ws.send('4after');
    assert.equal(await c.nextData(), '4after');
  }));

test('after upgrade: polling with the same sid -> 400 code 3 "Bad request"', () =>
  withEcho(async (srv, sockets) => {
    const { sid, c } = await upgradeByHand(srv, sockets);
    c.ws.send('4sync');
    assert.equal(await c.nextData(), '4sync'); // the upgrade is done
    for (const method of ['GET', 'POST']) {
      const res = await fetch(pollUrl(srv, `EIO=4&transport=polling&sid=${sid}`),
        method === 'POST' ? { method, body: '4x' } : {});
      const text = await res.text();
      assert.equal(res.status, 400, `${method}: ${text}`);
      assert.deepEqual(JSON.parse(text), { code: 3, message: 'Bad request' }, method);
    }
    c.ws.send('4still');
    assert.equal(await c.nextData(), '4still');
  }));

test('after upgrade: a second websocket with the same sid is refused, the first keeps working', () =>
  withEcho(async (srv, sockets) => {
    const { sid, c } = await upgradeByHand(srv, sockets);
    c.ws.send('4sync');
    assert.equal(await c.nextData(), '4sync');
    const c2 = connect(srv, sockets, `EIO=4&transport=websocket&sid=${encodeURIComponent(sid)}`);
    await within(c2.closed, 2000, 'second websocket closed');
    c.ws.send('4first');
    assert.equal(await c.nextData(), '4first');
  }));
