// The test proxy (lib/proxy.js) checked on its own against a trivial echo server, so a
// failure of the recovery tests points at the server, not at the harness.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { startProxy } = require('../lib/proxy');

const WAIT = 3000;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An echo server that also remembers its connections and the bytes it got. */
function echoServer() {
  const conns = new Set();
  const stats = { accepted: 0, bytes: 0, resets: 0 };
  const server = net.createServer((s) => {
    stats.accepted += 1;
    conns.add(s);
    s.on('data', (d) => { stats.bytes += d.length; s.write(d); });
    s.on('error', (err) => { if (err.code === 'ECONNRESET') stats.resets += 1; });
    s.on('close', () => conns.delete(s));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      port: server.address().port,
      conns,
      stats,
      close: () => {
        for (const s of conns) s.destroy();
        return new Promise((r) => server.close(() => r()));
      },
    }));
  });
}

/** A client socket that records what it reads and how it ends. */
function dial(port) {
  const c = net.connect({ host: '127.0.0.1', port });
  c.received = Buffer.alloc(0);
  c.errorCode = null;
  c.on('data', (d) => { c.received = Buffer.concat([c.received, d]); });
  c.on('error', (err) => { c.errorCode = err.code; });
  c.whenClosed = new Promise((resolve) => c.on('close', (hadError) => resolve({ hadError, code: c.errorCode })));
  c.whenOpen = new Promise((resolve, reject) => {
    c.once('connect', resolve);
    c.once('error', reject);
  });
  c.whenOpen.catch(() => { /* a test that expects a refusal awaits it */ });
  return c;
}

async function waitFor(pred, what, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(10);
  }
}

function within(promise, what, timeout = WAIT) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms: ${what}`)), timeout); }),
  ]).finally(() => clearTimeout(timer));
}

describe('test proxy (lib/proxy.js) against an echo server', () => {
  let echo;
  let proxy;
  const clients = [];
  const client = (port) => { const c = dial(port); clients.push(c); return c; };

  before(async () => { echo = await echoServer(); });
  after(async () => { await echo.close(); });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    if (proxy) await proxy.close();
    proxy = undefined;
  });

  it('forwards bytes both ways, a large payload included', async () => {
    proxy = await startProxy({ targetPort: echo.port });
    const c = client(proxy.port);
    await within(c.whenOpen, 'connect');
    c.write('hello');
    await waitFor(() => c.received.toString() === 'hello', 'the echo');
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    c.write(big);
    await waitFor(() => c.received.length === 5 + big.length, `4 MiB echoed (got ${c.received.length})`, 10000);
    assert.ok(c.received.subarray(5).equals(big));
    // a normal close is passed on as a normal close
    c.end();
    const end = await within(c.whenClosed, 'close');
    assert.equal(end.hadError, false);
    await waitFor(() => proxy.stats().open === 0, 'the proxy to forget the connection');
  });

  it("cut('reset') resets current connections both ways, and new ones until restore()", async () => {
    proxy = await startProxy({ targetPort: echo.port });
    const c = client(proxy.port);
    await within(c.whenOpen, 'connect');
    c.write('x');
    await waitFor(() => c.received.length === 1, 'the echo');
    const serverResetsBefore = echo.stats.resets;

    proxy.cut('reset');
    const end = await within(c.whenClosed, 'the client to be reset');
    assert.deepEqual(end, { hadError: true, code: 'ECONNRESET' });
    await waitFor(() => echo.stats.resets === serverResetsBefore + 1, 'the server side to be reset');

    // while cut, a new connection is accepted and reset at once; the server never sees it
    const acceptedBefore = echo.stats.accepted;
    const d = client(proxy.port);
    const dEnd = await within(d.whenClosed, 'the new connection to be reset');
    assert.equal(dEnd.hadError, true);
    assert.equal(dEnd.code, 'ECONNRESET');
    assert.equal(echo.stats.accepted, acceptedBefore);
    assert.equal(proxy.stats().refused, 1);

    proxy.restore();
    const e = client(proxy.port);
    await within(e.whenOpen, 'connect after restore');
    e.write('again');
    await waitFor(() => e.received.toString() === 'again', 'the echo after restore');
  });

  it("cut('blackhole') drops bytes silently and closes nothing; restore() resets the survivors", async () => {
    proxy = await startProxy({ targetPort: echo.port });
    const c = client(proxy.port);
    await within(c.whenOpen, 'connect');
    c.write('before');
    await waitFor(() => c.received.toString() === 'before', 'the echo');
    await waitFor(() => echo.conns.size === 1, 'the server to hold the connection');
    const [serverSide] = echo.conns;
    let serverSideClosed = false;
    serverSide.on('close', () => { serverSideClosed = true; });
    const bytesAtServer = echo.stats.bytes;

    proxy.cut('blackhole');
    c.write('lost on the way');
    serverSide.write('lost on the way back');
    // a connection made during the blackhole is accepted, but nothing reaches the server
    const acceptedBefore = echo.stats.accepted;
    const d = client(proxy.port);
    await within(d.whenOpen, 'connect during the blackhole');
    d.write('also lost');
    await sleep(400);
    assert.equal(c.received.toString(), 'before', 'nothing came back');
    assert.equal(d.received.length, 0);
    assert.equal(echo.stats.bytes, bytesAtServer, 'nothing reached the server');
    assert.equal(echo.stats.accepted, acceptedBefore, 'the server never saw the new connection');
    assert.ok(proxy.stats().bytesDropped >= 'lost on the way'.length + 'lost on the way back'.length + 'also lost'.length);

    // the server gives up on its side (as a heartbeat would): the client hears nothing
    serverSide.destroy();
    await waitFor(() => serverSideClosed, 'the server side to close');
    await sleep(200);
    assert.equal(c.destroyed, false, 'the client noticed a close through the blackhole');
    assert.equal(c.readableEnded, false, 'a FIN crossed the blackhole');
    assert.equal(d.destroyed, false);

    proxy.restore();
    assert.deepEqual(await within(c.whenClosed, 'the survivor to be reset'), { hadError: true, code: 'ECONNRESET' });
    assert.deepEqual(await within(d.whenClosed, 'the one born in the blackhole to be reset'), { hadError: true, code: 'ECONNRESET' });

    const e = client(proxy.port);
    await within(e.whenOpen, 'connect after restore');
    e.write('flows again');
    await waitFor(() => e.received.toString() === 'flows again', 'the echo after restore');
  });

  it('close() closes the listener and every connection', async () => {
    proxy = await startProxy({ targetPort: echo.port });
    const c = client(proxy.port);
    await within(c.whenOpen, 'connect');
    const port = proxy.port;
    await proxy.close();
    proxy = undefined;
    await within(c.whenClosed, 'the connection to close');
    const d = client(port);
    await assert.rejects(within(d.whenOpen, 'connect to a closed proxy'), { code: 'ECONNREFUSED' });
  });
});
