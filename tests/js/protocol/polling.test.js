// Engine.IO v4 over HTTP long-polling, spoken by hand (global fetch) to the echo example
// (examples/conformance, path /engine.io/: echoes every message; pingInterval 300 ms, pingTimeout 200 ms,
// maxPayload 1000000, CORS any). Each test starts its own server and stops it.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../lib/server');

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const MAX_PAYLOAD = 1000000;
const SLACK = 400; // scheduling slack for a debug build on a loaded 2-core machine
const SEP = '\x1e';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the echo server, runs fn(srv), checks the process is still alive, stops it. */
async function withEcho(fn) {
  const srv = await start('examples/conformance');
  try {
    await fn(srv);
    assert.equal(srv.proc.exitCode, null, `echo server exited during the test:\n${srv.output()}`);
    assert.equal(srv.proc.signalCode, null, `echo server was killed during the test:\n${srv.output()}`);
  } finally {
    await srv.stop();
  }
}

const url = (srv, query) => `${srv.url}/engine.io/?${query}`;
const sidQuery = (sid) => `EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
const get = (srv, sid, opts = {}) => fetch(url(srv, sidQuery(sid)), opts);
const post = (srv, sid, body, headers = {}) =>
  fetch(url(srv, sidQuery(sid)), {
    method: 'POST',
    body,
    headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers },
  });

/** Opens a polling session; returns the parsed open packet. */
async function handshake(srv) {
  const res = await fetch(url(srv, 'EIO=4&transport=polling'));
  assert.equal(res.status, 200);
  const body = await res.text();
  assert.equal(body[0], '0', `open packet expected, got ${JSON.stringify(body)}`);
  return JSON.parse(body.slice(1));
}

/** Asserts an Engine.IO error answer: HTTP status and JSON body {code, message}. */
async function assertError(res, status, code, message, what = '') {
  const text = await res.text();
  assert.equal(res.status, status, `${what}: status (body ${JSON.stringify(text)})`);
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`${what}: body is not JSON: ${JSON.stringify(text)}`);
  }
  assert.deepEqual(body, { code, message }, `${what}: body`);
}

test('handshake: open packet with sid, upgrades, pingInterval, pingTimeout, maxPayload', () =>
  withEcho(async (srv) => {
    const res = await fetch(url(srv, 'EIO=4&transport=polling'));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') || '', /^text\/plain/);
    const body = await res.text();
    assert.equal(body[0], '0');
    const open = JSON.parse(body.slice(1));
    assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
    assert.equal(typeof open.sid, 'string');
    assert.ok(open.sid.length > 0);
    assert.deepEqual(open.upgrades, ['websocket']);
    assert.equal(open.pingInterval, PING_INTERVAL);
    assert.equal(open.pingTimeout, PING_TIMEOUT);
    assert.equal(open.maxPayload, MAX_PAYLOAD);

    // Each handshake gets its own session id.
    const other = await handshake(srv);
    assert.notEqual(other.sid, open.sid);
  }));

test('errors: EIO missing, 3 or garbage -> 400 code 5 "Unsupported protocol version"', () =>
  withEcho(async (srv) => {
    for (const q of ['transport=polling', 'EIO=3&transport=polling', 'EIO=abc&transport=polling']) {
      await assertError(await fetch(url(srv, q)), 400, 5, 'Unsupported protocol version', q);
    }
  }));

test('errors: unknown or missing transport -> 400 code 0 "Transport unknown"', () =>
  withEcho(async (srv) => {
    for (const q of ['EIO=4&transport=abc', 'EIO=4', 'EIO=4&transport=constructor']) {
      await assertError(await fetch(url(srv, q)), 400, 0, 'Transport unknown', q);
    }
  }));

test('errors: unknown sid -> 400 code 1 "Session ID unknown" (GET and POST)', () =>
  withEcho(async (srv) => {
    await assertError(await get(srv, 'nope'), 400, 1, 'Session ID unknown', 'GET');
    await assertError(await post(srv, 'nope', '4hello'), 400, 1, 'Session ID unknown', 'POST');
  }));

test('errors: handshake with POST or PUT -> 400 code 2 "Bad handshake method"', () =>
  withEcho(async (srv) => {
    for (const method of ['POST', 'PUT']) {
      const res = await fetch(url(srv, 'EIO=4&transport=polling'), { method, body: '4hello' });
      await assertError(res, 400, 2, 'Bad handshake method', method);
    }
  }));

test('errors: websocket handshake over plain GET (no upgrade) -> 400 code 3 "Bad request"', () =>
  withEcho(async (srv) => {
    await assertError(await fetch(url(srv, 'EIO=4&transport=websocket')), 400, 3, 'Bad request');
  }));

test('message: one text packet is echoed; POST answers "ok"', () =>
  withEcho(async (srv) => {
    const { sid } = await handshake(srv);
    const res = await post(srv, sid, '4hello');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok');
    const poll = await get(srv, sid);
    assert.equal(poll.status, 200);
    assert.match(poll.headers.get('content-type') || '', /^text\/plain/);
    assert.equal(await poll.text(), '4hello');
  }));

test('message: several packets separated by \\x1e are echoed in order in one payload', () =>
  withEcho(async (srv) => {
    const { sid } = await handshake(srv);
    const payload = ['4test1', '4test2', '4é€😀', '4'].join(SEP);
    assert.equal(await (await post(srv, sid, payload)).text(), 'ok');
    assert.equal(await (await get(srv, sid)).text(), payload);
  }));

test('message: binary over polling is "b" + base64, both ways', () =>
  withEcho(async (srv) => {
    const { sid } = await handshake(srv);
    assert.equal(await (await post(srv, sid, 'bAQIDBA==')).text(), 'ok');
    assert.equal(await (await get(srv, sid)).text(), 'bAQIDBA==');

    const payload = `4hello${SEP}bAQIDBA==${SEP}b${Buffer.from([0, 255, 128, 10]).toString('base64')}`;
    assert.equal(await (await post(srv, sid, payload)).text(), 'ok');
    assert.equal(await (await get(srv, sid)).text(), payload);
  }));

test('message: a pending long-poll is answered when a message arrives', () =>
  withEcho(async (srv) => {
    const { sid } = await handshake(srv);
    const pending = get(srv, sid);
    await sleep(50);
    assert.equal(await (await post(srv, sid, '4late')).text(), 'ok');
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '4late');
  }));

test('maxPayload: a POST of exactly 1000000 bytes is accepted and echoed', () =>
  withEcho(async (srv) => {
    const { sid } = await handshake(srv);
    const body = '4' + 'a'.repeat(MAX_PAYLOAD - 1);
    const res = await post(srv, sid, body);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok');
    const echoed = await (await get(srv, sid)).text();
    assert.equal(echoed.length, body.length);
    assert.ok(echoed === body, 'echoed payload differs');
  }));

test('maxPayload: a POST over 1000000 bytes -> 413 and the session is closed', () =>
  withEcho(async (srv) => {
    const { sid } = await handshake(srv);
    const res = await post(srv, sid, '4' + 'a'.repeat(MAX_PAYLOAD));
    assert.equal(res.status, 413);
    await res.arrayBuffer();
    await assertError(await get(srv, sid), 400, 1, 'Session ID unknown', 'GET after 413');
  }));

test('maxPayload: a chunked POST (no content-length) over 1000000 bytes -> 413', () =>
  withEcho(async (srv) => {
    const { sid } = await handshake(srv);
    const chunk = new TextEncoder().encode('a'.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode('4'));
        if (sent >= 1200 * 1024) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    let status;
    try {
      const res = await fetch(url(srv, sidQuery(sid)), { method: 'POST', body, duplex: 'half' });
      status = res.status;
      await res.arrayBuffer().catch(() => {});
    } catch (err) {
      assert.fail(`the server reset the connection instead of answering 413: ${err.cause || err}`);
    }
    assert.equal(status, 413);
  }));

test('invalid packet in a POST -> 400 and the session is gone at once', () =>
  withEcho(async (srv) => {
    for (const garbage of ['abc', `4ok${SEP}zzz`, '9']) {
      const { sid } = await handshake(srv);
      const res = await post(srv, sid, garbage);
      assert.equal(res.status, 400, `POST ${JSON.stringify(garbage)}`);
      await res.arrayBuffer();
      // Not after a ping timeout: right now.
      await assertError(await get(srv, sid), 400, 1, 'Session ID unknown', `GET after POST ${JSON.stringify(garbage)}`);
    }
  }));

test('concurrent GETs: the second -> 400, the first gets a close packet, the session is closed', () =>
  withEcho(async (srv) => {
    const { sid } = await handshake(srv);
    const first = get(srv, sid);
    await sleep(50);
    const second = await get(srv, sid, { headers: { 'x-burst': '1' } });
    assert.equal(second.status, 400);
    await second.arrayBuffer();
    const firstRes = await first;
    assert.equal(firstRes.status, 200);
    assert.equal(await firstRes.text(), '1');
    await assertError(await get(srv, sid), 400, 1, 'Session ID unknown', 'GET after overlap');
  }));

test('a cancelled long-poll closes the session', () =>
  withEcho(async (srv) => {
    const { sid } = await handshake(srv);
    const controller = new AbortController();
    const pending = get(srv, sid, { signal: controller.signal }).catch(() => {});
    await sleep(50);
    controller.abort();
    await pending;
    await sleep(50);
    await assertError(await get(srv, sid), 400, 1, 'Session ID unknown', 'GET after abort');
  }));

test('close packet: the pending GET gets a noop, then the session is gone', () =>
  withEcho(async (srv) => {
    const { sid } = await handshake(srv);
    const pending = get(srv, sid);
    await sleep(50);
    const res = await post(srv, sid, '1');
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const poll = await pending;
    assert.equal(poll.status, 200);
    assert.equal(await poll.text(), '6');
    await assertError(await get(srv, sid), 400, 1, 'Session ID unknown', 'GET after close');
  }));

test('heartbeat: the server pings every pingInterval and a ponging session stays open', () =>
  withEcho(async (srv) => {
    const { sid } = await handshake(srv);
    let last = Date.now();
    for (let i = 0; i < 4; i++) {
      const res = await get(srv, sid);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), '2', `ping #${i + 1}`);
      const elapsed = Date.now() - last;
      assert.ok(elapsed >= PING_INTERVAL - 50 && elapsed <= PING_INTERVAL + SLACK,
        `ping #${i + 1} came after ${elapsed} ms, expected about ${PING_INTERVAL} ms`);
      const pong = await post(srv, sid, '3');
      assert.equal(pong.status, 200);
      assert.equal(await pong.text(), 'ok');
      last = Date.now();
    }
    // Four intervals later (> pingInterval + pingTimeout) the session still echoes.
    assert.equal(await (await post(srv, sid, '4alive')).text(), 'ok');
    assert.equal(await (await get(srv, sid)).text(), '4alive');
  }));

test('heartbeat: a client that never pongs is closed after pingInterval + pingTimeout', () =>
  withEcho(async (srv) => {
    const t0 = Date.now();
    const { sid } = await handshake(srv);
    const ping = await get(srv, sid);
    assert.equal(await ping.text(), '2');
    // Still open just before the deadline...
    await sleep(Math.max(0, t0 + PING_INTERVAL + PING_TIMEOUT - 150 - Date.now()));
    const early = await post(srv, sid, '4still-here');
    assert.equal(early.status, 200, 'the session was closed before pingInterval + pingTimeout');
    await early.arrayBuffer();
    // ...and gone after it (plus slack); no pong was ever sent.
    await sleep(Math.max(0, t0 + PING_INTERVAL + PING_TIMEOUT + SLACK - Date.now()));
    await assertError(await get(srv, sid), 400, 1, 'Session ID unknown', 'GET after ping timeout');
  }));

test('CORS: Access-Control-Allow-Origin is * on answers, errors and preflights', () =>
  withEcho(async (srv) => {
    const origin = { origin: 'http://example.com' };
    const hs = await fetch(url(srv, 'EIO=4&transport=polling'), { headers: origin });
    assert.equal(hs.status, 200);
    assert.equal(hs.headers.get('access-control-allow-origin'), '*');
    const sid = JSON.parse((await hs.text()).slice(1)).sid;

    const p = await fetch(url(srv, sidQuery(sid)), {
      method: 'POST', body: '4x', headers: { ...origin, 'content-type': 'text/plain;charset=UTF-8' },
    });
    assert.equal(p.status, 200);
    assert.equal(p.headers.get('access-control-allow-origin'), '*');
    await p.arrayBuffer();

    const g = await fetch(url(srv, sidQuery(sid)), { headers: origin });
    assert.equal(g.status, 200);
    assert.equal(g.headers.get('access-control-allow-origin'), '*');
    await g.arrayBuffer();

    const err = await fetch(url(srv, 'EIO=4&transport=abc'), { headers: origin });
    assert.equal(err.status, 400);
    assert.equal(err.headers.get('access-control-allow-origin'), '*');
    await err.arrayBuffer();

    const pre = await fetch(url(srv, sidQuery(sid)), {
      method: 'OPTIONS',
      headers: { ...origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    assert.ok(pre.status === 200 || pre.status === 204, `preflight status ${pre.status}`);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    const methods = (pre.headers.get('access-control-allow-methods') || '').toUpperCase();
    assert.ok(methods === '*' || (methods.includes('GET') && methods.includes('POST')), `allow-methods: ${methods}`);
    await pre.arrayBuffer();
  }));
