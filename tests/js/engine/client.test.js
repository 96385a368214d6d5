// The official Engine.IO client (engine.io-client 6.6) against the echo example
// (examples/conformance, path /engine.io/: echoes text as text and binary as binary; pingInterval 300 ms,
// pingTimeout 200 ms). Each test starts its own server and stops it.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Socket } = require('engine.io-client');
const { start } = require('../lib/server');

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function withEcho(fn) {
  const srv = await start('examples/conformance');
  const sockets = [];
  try {
    await fn(srv, sockets);
    assert.equal(srv.proc.exitCode, null, `echo server exited during the test:\n${srv.output()}`);
    assert.equal(srv.proc.signalCode, null, `echo server was killed during the test:\n${srv.output()}`);
  } finally {
    for (const s of sockets) s.close();
    await srv.stop();
  }
}

const POLLING = { transports: ['polling'], upgrade: false };
const WEBSOCKET = { transports: ['websocket'] };

/** Opens a client; resolves once 'open' fired. Records messages, pings and close. */
function open(srv, sockets, opts) {
  const socket = new Socket(srv.url, { path: '/engine.io/', ...opts });
  sockets.push(socket);
  const state = { socket, messages: [], pings: 0, closed: null };
  socket.on('message', (m) => state.messages.push(m));
  socket.on('ping', () => { state.pings++; });
  socket.on('close', (reason) => { state.closed = reason; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no open within 5 s')), 5000);
    socket.once('open', () => { clearTimeout(timer); resolve(state); });
    socket.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

async function waitFor(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timeout after ${ms} ms: ${what}`);
    await sleep(10);
  }
}

function toBuffer(data) {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

async function echoTextAndBinary(state) {
  const { socket, messages } = state;
  const texts = ['hello', 'é€😀 unicode', 'x'.repeat(50000)];
  const bin = Buffer.from([0, 1, 2, 3, 254, 255]);
  for (const t of texts) socket.send(t);
  socket.send(bin);
  socket.send(new Uint8Array([7, 8, 9]));
  await waitFor(() => messages.length >= texts.length + 2, 5000, `echoes (${messages.length}/${texts.length + 2})`);
  assert.equal(messages.length, texts.length + 2);
  for (let i = 0; i < texts.length; i++) {
    assert.equal(typeof messages[i], 'string', `message ${i} should be text`);
    assert.equal(messages[i], texts[i]);
  }
  const b1 = toBuffer(messages[texts.length]);
  const b2 = toBuffer(messages[texts.length + 1]);
  assert.ok(b1 && b2, 'binary messages should come back as binary');
  assert.deepEqual(b1, bin);
  assert.deepEqual(b2, Buffer.from([7, 8, 9]));
}

test('handshake over polling', () =>
  withEcho(async (srv, sockets) => {
    const s = await open(srv, sockets, POLLING);
    assert.equal(s.socket.transport.name, 'polling');
    assert.equal(typeof s.socket.id, 'string');
    assert.ok(s.socket.id.length > 0);
  }));

test('handshake websocket-only', () =>
  withEcho(async (srv, sockets) => {
    const s = await open(srv, sockets, WEBSOCKET);
    assert.equal(s.socket.transport.name, 'websocket');
    assert.equal(typeof s.socket.id, 'string');
  }));

test('echo text and binary over polling', () =>
  withEcho(async (srv, sockets) => {
    const s = await open(srv, sockets, POLLING);
    await echoTextAndBinary(s);
    assert.equal(s.socket.transport.name, 'polling');
  }));

test('echo text and binary over websocket', () =>
  withEcho(async (srv, sockets) => {
    const s = await open(srv, sockets, WEBSOCKET);
    await echoTextAndBinary(s);
  }));

for (const [name, opts] of [['polling', POLLING], ['websocket', WEBSOCKET]]) {
  test(`100 messages come back in order over ${name}`, () =>
    withEcho(async (srv, sockets) => {
      const s = await open(srv, sockets, opts);
      const sent = Array.from({ length: 100 }, (_, i) => `msg-${i}`);
      for (const m of sent) s.socket.send(m);
      await waitFor(() => s.messages.length >= 100, 5000, `${s.messages.length}/100 echoes`);
      await sleep(50);
      assert.deepEqual(s.messages, sent);
    }));
}

test('upgrade polling -> websocket while sending: nothing lost, duplicated or reordered', () =>
  withEcho(async (srv, sockets) => {
    const s = await open(srv, sockets, { transports: ['polling', 'websocket'] });
    assert.equal(s.socket.transport.name, 'polling');
    let upgraded = false;
    s.socket.on('upgrade', () => { upgraded = true; });
    const sent = [];
    let i = 0;
    let afterUpgrade = 0;
    const timer = setInterval(() => {
      const m = `seq-${i++}`;
      sent.push(m);
      s.socket.send(m);
      if (upgraded) afterUpgrade++;
    }, 5);
    try {
      await waitFor(() => upgraded, 5000, 'upgrade event');
      await waitFor(() => afterUpgrade >= 50, 5000, '50 messages after the upgrade');
    } finally {
      clearInterval(timer);
    }
    assert.equal(s.socket.transport.name, 'websocket');
    await waitFor(() => s.messages.length >= sent.length, 5000, `${s.messages.length}/${sent.length} echoes`);
    await sleep(100);
    assert.equal(s.closed, null);
    assert.deepEqual(s.messages, sent);
  }));

for (const [name, opts] of [['polling', POLLING], ['websocket', WEBSOCKET]]) {
  test(`heartbeat over ${name}: the client keeps the session alive over several ping intervals`, () =>
    withEcho(async (srv, sockets) => {
      const s = await open(srv, sockets, opts);
      await sleep(5 * PING_INTERVAL + PING_TIMEOUT);
      assert.equal(s.closed, null, `closed: ${s.closed}`);
      assert.ok(s.pings >= 3, `only ${s.pings} pings in ${5 * PING_INTERVAL + PING_TIMEOUT} ms`);
      s.socket.send('still-alive');
      await waitFor(() => s.messages.includes('still-alive'), 3000, 'echo after the pings');
    }));
}

test('a client that closes is seen as closed and a new one connects', () =>
  withEcho(async (srv, sockets) => {
    const a = await open(srv, sockets, WEBSOCKET);
    a.socket.close();
    await waitFor(() => a.closed !== null, 2000, 'close');
    const b = await open(srv, sockets, POLLING);
    b.socket.send('again');
    await waitFor(() => b.messages.length === 1, 3000, 'echo');
    assert.equal(b.messages[0], 'again');
  }));
