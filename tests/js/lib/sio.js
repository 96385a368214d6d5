// Helpers for the Socket.IO integration tests: clients created through here are
// tracked so `closeAll()` can shut every one of them down, and every wait is bounded.
'use strict';

const { io } = require('socket.io-client');
const WebSocket = require('ws');
const assert = require('node:assert/strict');

/** Default bound for any single wait (connect, event, ack). */
const TIMEOUT = 3000;

const tracked = new Set();

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Creates a socket.io-client socket (not yet connected) and tracks it.
 * Defaults: forceNew (one engine connection per client), no automatic reconnection
 * (a test that wants it turns it on), bounded connect timeout.
 */
function client(url, opts = {}) {
  const socket = io(url, { forceNew: true, reconnection: false, timeout: TIMEOUT, ...opts });
  tracked.add(socket);
  return socket;
}

/** Creates another namespace socket on the same Manager (same engine connection). */
function sibling(socket, nsp, opts = {}) {
  const s = socket.io.socket(nsp, opts);
  tracked.add(s);
  return s;
}

/** Resolves once `socket` fires 'connect'; rejects on 'connect_error' or timeout. */
function waitConnect(socket, timeout = TIMEOUT) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`socket for namespace ${socket.nsp} did not connect within ${timeout} ms`));
    }, timeout);
    const onConnect = () => { cleanup(); resolve(socket); };
    const onError = (err) => {
      cleanup();
      const e = new Error(`connect_error on namespace ${socket.nsp}: ${err && err.message}`);
      e.cause = err;
      reject(e);
    };
    function cleanup() {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    }
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
}

/** client() + waitConnect(). */
async function connect(url, opts = {}, timeout = TIMEOUT) {
  return waitConnect(client(url, opts), timeout);
}

/** Connects `n` clients in parallel. */
function connectMany(n, url, opts = {}) {
  return Promise.all(Array.from({ length: n }, () => connect(url, opts)));
}

/** Resolves `connect_error`'s error; rejects if the socket connects instead or on timeout. */
function expectConnectError(socket, timeout = TIMEOUT) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no connect_error on namespace ${socket.nsp} within ${timeout} ms`));
    }, timeout);
    const onConnect = () => { cleanup(); reject(new Error(`namespace ${socket.nsp} connected, expected connect_error`)); };
    const onError = (err) => { cleanup(); resolve(err); };
    function cleanup() {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    }
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
}

/**
 * Resolves with the argument array of the next `event` on `emitter` (socket.io socket,
 * Manager, engine socket, ws, any EventEmitter); rejects after `timeout` ms.
 */
function once(emitter, event, timeout = TIMEOUT) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      reject(new Error(`timed out after ${timeout} ms waiting for '${event}'`));
    }, timeout);
    function handler(...args) {
      clearTimeout(timer);
      emitter.off(event, handler);
      resolve(args);
    }
    emitter.on(event, handler);
  });
}

/** Resolves after `ms` if `event` did not fire on `emitter`; rejects if it did. */
function noEvent(emitter, event, ms = 300) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { emitter.off(event, handler); resolve(); }, ms);
    function handler(...args) {
      clearTimeout(timer);
      emitter.off(event, handler);
      reject(new Error(`unexpected '${event}' with ${safeJson(args)}`));
    }
    emitter.on(event, handler);
  });
}

/** Records every `event` on `socket`: returns an array of argument arrays, with .stop(). */
function collect(socket, event) {
  const seen = [];
  const handler = (...args) => { seen.push(args); };
  socket.on(event, handler);
  seen.stop = () => socket.off(event, handler);
  return seen;
}

/** Emits and resolves with ALL acknowledgement arguments (array); bounded. */
function ackArgs(socket, event, ...args) {
  return ackArgsWithin(TIMEOUT, socket, event, ...args);
}

function ackArgsWithin(timeout, socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(timeout).emit(event, ...args, (err, ...res) => {
      if (err) reject(new Error(`no ack for '${event}' within ${timeout} ms (${err.message})`));
      else resolve(res);
    });
  });
}

/** Emits and resolves with the FIRST acknowledgement argument (like emitWithAck); bounded. */
async function ack(socket, event, ...args) {
  const res = await ackArgs(socket, event, ...args);
  return res[0];
}

/** Polls `predicate` until truthy; rejects after `timeout` ms. */
async function waitFor(predicate, timeout = TIMEOUT, what = 'condition') {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Retries an async assertion until it passes; rethrows its last failure after `timeout`. */
async function eventually(fn, timeout = TIMEOUT, interval = 25) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(interval);
    }
  }
}

function safeJson(v) {
  try {
    return JSON.stringify(v, (k, x) => (x && x.type === 'Buffer' && Array.isArray(x.data) ? `<Buffer ${x.data.length}>` : x));
  } catch {
    return String(v);
  }
}

// ---------------------------------------------------------------------------------------
// Raw Engine.IO v4 over WebSocket, for tests that must misbehave (no pong, no CONNECT, bad
// packets). Pings ("2") are counted and, with autoPong, answered; they are not queued.

/**
 * Opens ws://…/socket.io/?EIO=4&transport=websocket and waits for the open packet.
 * Returns { ws, handshake, send(str), next(timeout), closed (promise of {code, at}), pings, log }.
 */
async function rawWs(baseUrl, { path = '/socket.io/', autoPong = true, query = '' } = {}) {
  const url = `${baseUrl.replace(/^http/, 'ws')}${path}?EIO=4&transport=websocket${query}`;
  const ws = new WebSocket(url);
  const raw = {
    ws,
    autoPong,
    pings: 0,
    pingTimes: [],
    log: [],
    queue: [],
    waiters: [],
    isClosed: false,
    openedAt: 0,
    send(msg) { ws.send(msg); },
    /** Next non-ping message (string for text frames, Buffer for binary frames). */
    next(timeout = TIMEOUT) {
      if (this.queue.length) return Promise.resolve(this.queue.shift());
      if (this.isClosed) return Promise.reject(new Error('raw websocket is closed'));
      return new Promise((resolve, reject) => {
        const w = { resolve, reject };
        w.timer = setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new Error(`raw websocket: no message within ${timeout} ms (got so far: ${safeJson(this.log)})`));
        }, timeout);
        this.waiters.push(w);
      });
    },
    close() { try { ws.terminate(); } catch { /* already gone */ } },
  };
  tracked.add(raw);
  raw.closed = new Promise((resolve) => {
    ws.on('close', (code) => {
      raw.isClosed = true;
      const at = Date.now();
      for (const w of raw.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error(`raw websocket closed (code ${code}) while waiting for a message; got: ${safeJson(raw.log)}`));
      }
      resolve({ code, at });
    });
  });
  ws.on('error', () => { /* a 'close' always follows */ });
  ws.on('message', (data, isBinary) => {
    const msg = isBinary ? Buffer.from(data) : data.toString();
    raw.log.push(isBinary ? `<binary ${msg.length}>` : msg);
    if (msg === '2') {
      raw.pings += 1;
      raw.pingTimes.push(Date.now());
      if (raw.autoPong) ws.send('3');
      return;
    }
    const w = raw.waiters.shift();
    if (w) {
      clearTimeout(w.timer);
      w.resolve(msg);
    } else {
      raw.queue.push(msg);
    }
  });
  const first = await raw.next(TIMEOUT);
  raw.openedAt = Date.now();
  if (typeof first !== 'string' || first[0] !== '0') {
    throw new Error(`expected an Engine.IO open packet, got ${safeJson(first)}`);
  }
  raw.handshake = JSON.parse(first.slice(1));
  return raw;
}

/** Resolves { code, at } when the raw websocket closes; rejects after `timeout`. */
function rawClosed(raw, timeout = TIMEOUT) {
  return Promise.race([
    raw.closed,
    sleep(timeout).then(() => { throw new Error(`raw websocket still open after ${timeout} ms`); }),
  ]);
}

/** Disconnects every tracked client and raw connection. */
async function closeAll() {
  const managers = new Set();
  for (const c of tracked) {
    if (c.ws) {
      c.close();
      continue;
    }
    managers.add(c.io);
    try { c.disconnect(); } catch { /* ignore */ }
  }
  for (const m of managers) {
    try { m._close(); } catch { /* ignore */ }
  }
  tracked.clear();
  await sleep(30); // let the DISCONNECT/close frames leave before the next test or server stop
}

/**
 * One client per name, connected to `spec[name].url` with `opts` (each tagged with its
 * name), then in `rooms[name]` if given.
 */
async function connectNamed(spec, rooms = {}, opts = {}) {
  const names = Object.keys(spec);
  const list = await Promise.all(names.map((n) => connect(spec[n].url, opts)));
  const c = Object.fromEntries(names.map((n, i) => [n, list[i]]));
  for (const n of names) {
    c[n].name = n;
    if (rooms[n]) await ack(c[n], 'join', rooms[n]);
  }
  return c;
}

/**
 * Runs `action`, then checks that exactly the clients named in `expected` (keys of `c`)
 * got `event`, once each, with `args` when given; the others stay silent for `silenceMs`.
 */
async function expectReceivers(c, event, action, expected, args, silenceMs = 300) {
  const names = Object.keys(c);
  const seen = Object.fromEntries(names.map((n) => [n, collect(c[n], event)]));
  await action();
  await waitFor(() => expected.every((n) => seen[n].length >= 1), 3000,
    `${event} at ${expected.join(',')} (got: ${names.filter((n) => seen[n].length).join(',')})`);
  await sleep(silenceMs);
  const counts = Object.fromEntries(names.map((n) => [n, seen[n].length]));
  const want = Object.fromEntries(names.map((n) => [n, expected.includes(n) ? 1 : 0]));
  assert.deepEqual(counts, want, `receivers of ${event}`);
  if (args) for (const n of expected) assert.deepEqual(seen[n][0], args, `args at ${n}`);
  for (const n of names) seen[n].stop();
  return seen;
}

module.exports = {
  TIMEOUT,
  sleep,
  client,
  sibling,
  waitConnect,
  connect,
  connectMany,
  expectConnectError,
  once,
  noEvent,
  collect,
  ack,
  ackArgs,
  ackArgsWithin,
  waitFor,
  connectNamed,
  expectReceivers,
  eventually,
  rawWs,
  rawClosed,
  closeAll,
  safeJson,
};
