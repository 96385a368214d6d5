// Raw clients that never answer the server's pings must be dropped within
// pingInterval + pingTimeout (+ slack): over polling (fetch) and over WebSocket (ws).
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { start } = require('../lib/server');

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const SLACK = 400;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function withEcho(fn) {
  const srv = await start('examples/conformance');
  try {
    await fn(srv);
    assert.equal(srv.proc.exitCode, null, `echo server exited during the test:\n${srv.output()}`);
  } finally {
    await srv.stop();
  }
}

test('polling: a session that never pongs is gone after pingInterval + pingTimeout + slack', () =>
  withEcho(async (srv) => {
    const t0 = Date.now();
    const hs = await fetch(`${srv.url}/engine.io/?EIO=4&transport=polling`);
    const { sid } = JSON.parse((await hs.text()).slice(1));
    const q = `${srv.url}/engine.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
    // The long-poll delivers the ping; we never answer it.
    const ping = await fetch(q);
    assert.equal(await ping.text(), '2');
    await sleep(Math.max(0, t0 + PING_INTERVAL + PING_TIMEOUT + SLACK - Date.now()));
    const res = await fetch(q);
    const body = await res.text();
    assert.equal(res.status, 400, `session still alive ${Date.now() - t0} ms after the handshake: ${body}`);
    assert.deepEqual(JSON.parse(body), { code: 1, message: 'Session ID unknown' });
  }));

test('polling: a session whose client never even polls is dropped too', () =>
  withEcho(async (srv) => {
    const t0 = Date.now();
    const hs = await fetch(`${srv.url}/engine.io/?EIO=4&transport=polling`);
    const { sid } = JSON.parse((await hs.text()).slice(1));
    await sleep(Math.max(0, t0 + PING_INTERVAL + PING_TIMEOUT + SLACK - Date.now()));
    const res = await fetch(`${srv.url}/engine.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`);
    const body = await res.text();
    assert.equal(res.status, 400, `session still alive after ${Date.now() - t0} ms: ${body}`);
  }));

test('websocket: a client that never pongs is closed after pingInterval + pingTimeout + slack', () =>
  withEcho(async (srv) => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/engine.io/?EIO=4&transport=websocket`);
    ws.on('error', () => {});
    const messages = [];
    let t0 = 0;
    ws.on('message', (d, isBinary) => {
      if (!t0) t0 = Date.now();
      messages.push(isBinary ? d : d.toString());
    });
    const closedAt = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { ws.terminate(); reject(new Error('not closed within 5 s')); }, 5000);
      ws.on('close', () => { clearTimeout(timer); resolve(Date.now()); });
    });
    const elapsed = closedAt - t0;
    assert.ok(messages[0] && messages[0].startsWith('0'), `open packet first: ${JSON.stringify(messages)}`);
    assert.equal(messages[1], '2', `then a ping: ${JSON.stringify(messages)}`);
    assert.ok(elapsed >= PING_INTERVAL + PING_TIMEOUT - 100, `closed after ${elapsed} ms: too early`);
    assert.ok(elapsed <= PING_INTERVAL + PING_TIMEOUT + SLACK, `closed after ${elapsed} ms: too late`);
  }));
