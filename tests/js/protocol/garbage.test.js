// Garbage flood: for about 3 s, random POST bodies, random query strings, random
// WebSocket frames and raw TCP junk hit the echo example on loopback, while well-behaved
// engine.io-client sockets keep echoing. Bounded in count and time. Afterwards the
// process must be alive and a new client must connect and echo.
// The random stream is seeded: set GARBAGE_SEED=<n> to replay a run.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const WebSocket = require('ws');
const { Socket } = require('engine.io-client');
const { isMainThread, Worker, parentPort, workerData } = require('node:worker_threads');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { start } = require('../lib/server');

const DURATION_MS = 3000;
const MAX_HTTP = 400;
const MAX_WS = 100;
const MAX_TCP = 40;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A well-behaved client that sends a numbered message every 20 ms and checks the echoes. */
function goodClient(url, opts) {
  const socket = new Socket(url, { path: '/engine.io/', ...opts });
  const state = { socket, sent: [], received: [], closed: null, opened: false };
  socket.on('open', () => { state.opened = true; });
  socket.on('message', (m) => state.received.push(m));
  socket.on('close', (reason, desc) => { state.closed = `${reason} ${desc && desc.message ? desc.message : ''} ${desc && desc.description !== undefined ? 'status=' + JSON.stringify(desc.description) : ''} ${desc && desc.context && desc.context.responseText !== undefined ? 'body=' + JSON.stringify(String(desc.context.responseText).slice(0, 200)) : ''}`; });
  let i = 0;
  state.timer = setInterval(() => {
    if (!state.opened || state.closed) return;
    const m = `good-${i++}`;
    state.sent.push(m);
    socket.send(m);
  }, 20);
  state.stop = () => clearInterval(state.timer);
  return state;
}


/** Runs in a worker thread: sends the garbage, posts back the counts. */
async function flood({ port, seed, sids }) {
  const rnd = prng(seed);
  const int = (n) => Math.floor(rnd() * n);
  const pick = (arr) => arr[int(arr.length)];
  const bytes = (n) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const junkString = (n) => {
    let s = '';
    for (let i = 0; i < n; i++) {
      const r = rnd();
      if (r < 0.6) s += String.fromCharCode(32 + int(95));
      else if (r < 0.8) s += String.fromCharCode(int(32));
      else if (r < 0.95) s += String.fromCodePoint(0x80 + int(0x2000));
      else s += pick(['😀', '\x1e', '\u0000', '\uffff', '%', '&', '=', '?', '#']);
    }
    return s;
  };

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + DURATION_MS;
  const counts = { http: 0, ws: 0, tcp: 0, frames: 0 };

  const randomQuery = () => {
    const parts = [];
    const n = int(5);
    for (let i = 0; i < n; i++) {
      const key = pick(['EIO', 'transport', 'sid', 't', 'b64', 'j', junkString(1 + int(8))]);
      let val;
      if (key === 'EIO') val = pick(['4', '3', '', '5', '04', junkString(3)]);
      else if (key === 'transport') val = pick(['polling', 'websocket', 'webtransport', '', junkString(6)]);
      else if (key === 'sid') val = pick([...sids, '', junkString(20), 'x'.repeat(2000)]);
      else val = junkString(int(40));
      parts.push(rnd() < 0.7 ? `${encodeURIComponent(key)}=${encodeURIComponent(val)}` : `${key}=${val}`);
    }
    const q = parts.join(pick(['&', '&&', ';', '&amp;']));
    return rnd() < 0.1 ? junkString(int(200)) : q;
  };
  const randomPath = () => pick(['/engine.io/', '/engine.io/', '/engine.io/', '/engine.io', '/', '/engine.io/x/y', '/socket.io/']);

  async function httpWorker() {
    while (Date.now() < deadline && counts.http < MAX_HTTP) {
      counts.http++;
      const method = pick(['GET', 'POST', 'POST', 'POST', 'PUT', 'OPTIONS', 'DELETE', 'PATCH']);
      let target;
      try {
        target = new URL(`${base}${randomPath()}?${randomQuery()}`);
      } catch {
        target = new URL(`${base}/engine.io/?${encodeURIComponent(randomQuery())}`);
      }
      const opts = { method, signal: AbortSignal.timeout(method === 'GET' ? 150 : 800), headers: {} };
      if (rnd() < 0.3) opts.headers['content-type'] = pick(['application/octet-stream', 'text/plain', 'x/\u00ff']
        .filter((v) => /^[\x20-\x7e]*$/.test(v)));
      if (rnd() < 0.2) opts.headers.origin = pick(['http://evil.example', 'null']);
      if (method !== 'GET' && method !== 'OPTIONS') {
        const r = rnd();
        opts.body = r < 0.4 ? bytes(int(4096)) : r < 0.8 ? junkString(int(2000)) : `4${junkString(int(100))}\x1e${junkString(10)}`;
      }
      try {
        const res = await fetch(target, opts);
        await res.arrayBuffer();
        assert.ok(res.status < 500 || res.status === 501 || res.status === 505,
          `${method} ${target.pathname}${target.search.slice(0, 80)} -> HTTP ${res.status}`);
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        // aborted long-polls and refused bodies are fine
      }
    }
  }

  async function wsWorker() {
    while (Date.now() < deadline && counts.ws < MAX_WS) {
      counts.ws++;
      const q = rnd() < 0.75 ? 'EIO=4&transport=websocket' : randomQuery();
      let ws;
      try {
        ws = new WebSocket(`ws://127.0.0.1:${port}${randomPath()}?${q}`, { handshakeTimeout: 1000 });
      } catch {
        continue;
      }
      ws.on('error', () => {});
      await new Promise((resolve) => {
        const done = () => { clearTimeout(timer); resolve(); };
        const timer = setTimeout(() => { ws.terminate(); resolve(); }, 400);
        ws.on('close', done);
        ws.on('open', () => {
          const n = 1 + int(20);
          for (let i = 0; i < n && ws.readyState === WebSocket.OPEN; i++) {
            counts.frames++;
            const r = rnd();
            if (r < 0.35) ws.send(bytes(int(r < 0.02 ? 200000 : 2048)));
            else if (r < 0.7) ws.send(junkString(int(500)));
            else if (r < 0.85) ws.send(`${pick(['0', '1', '2', '3', '4', '5', '6', '7', 'b', '2probe', '5', '4'])}${junkString(int(50))}`);
            else ws.send(pick(['', '2probe', '5', '3', '1', '6', '40', '0{}']));
          }
          setTimeout(() => (rnd() < 0.5 ? ws.close() : ws.terminate()), int(100));
        });
      });
    }
  }

  async function tcpWorker() {
    while (Date.now() < deadline && counts.tcp < MAX_TCP) {
      counts.tcp++;
      await new Promise((resolve) => {
        const sock = net.connect(port, '127.0.0.1');
        sock.on('error', () => {});
        const timer = setTimeout(() => { sock.destroy(); resolve(); }, 300);
        sock.on('close', () => { clearTimeout(timer); resolve(); });
        sock.on('connect', () => {
          const r = rnd();
          if (r < 0.4) sock.write(bytes(int(3000)));
          else if (r < 0.7) sock.write(`GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nContent-Length: ${int(1e9)}\r\n\r\n${junkString(50)}`);
          else sock.write(`POST /engine.io/?${randomQuery()} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n${junkString(30)}`);
          setTimeout(() => sock.destroy(), int(200));
        });
      });
    }
  }

  await Promise.all([
    ...Array.from({ length: 8 }, httpWorker),
    ...Array.from({ length: 4 }, wsWorker),
    tcpWorker(),
  ]);
  return counts;
}

if (!isMainThread) {
  flood(workerData).then((counts) => parentPort.postMessage(counts), (err) => { throw err; });
  return; // eslint-disable-line no-useless-return
}

async function waitFor(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timeout: ${what}`);
    await sleep(20);
  }
}

test('garbage flood: the server survives and good clients keep echoing', { timeout: 60000 }, async (t) => {
  const seed = Number(process.env.GARBAGE_SEED) || (Date.now() % 1e9);
  t.diagnostic(`GARBAGE_SEED=${seed}`);
  const srv = await start('examples/conformance');
  const stoppers = [];
  try {
    const base = srv.url;
    const good = [
      goodClient(base, { transports: ['polling', 'websocket'] }), // upgrades
      goodClient(base, { transports: ['polling'], upgrade: false }),
      goodClient(base, { transports: ['websocket'] }),
    ];
    stoppers.push(() => good.forEach((g) => { g.stop(); g.socket.close(); }));
    await waitFor(() => good.every((g) => g.opened), 5000, 'good clients open');

    // Some real sessions to aim garbage at.
    const sids = [];
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${base}/engine.io/?EIO=4&transport=polling`);
      sids.push(JSON.parse((await r.text()).slice(1)).sid);
    }

    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    // The garbage runs in a worker thread, so that its load does not stall this thread's
    // good clients (their pongs are due within pingTimeout = 200 ms).
    const counts = await new Promise((resolve, reject) => {
      const worker = new Worker(__filename, { workerData: { port: srv.port, seed, sids } });
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`garbage worker exited with ${code}`)));
    });
    lag.disable();
    t.diagnostic(`test thread event-loop delay: max ${Math.round(lag.max / 1e6)} ms`);
    t.diagnostic(`sent ${counts.http} HTTP requests, ${counts.ws} websockets with ${counts.frames} frames, ${counts.tcp} raw TCP connections`);

    assert.equal(srv.proc.exitCode, null, `server exited during the flood:\n${srv.output()}`);
    assert.equal(srv.proc.signalCode, null, `server was killed during the flood:\n${srv.output()}`);

    // Good clients: never closed, and every message echoed, in order.
    for (const g of good) g.stop();
    for (const [i, g] of good.entries()) {
      assert.equal(g.closed, null, `good client #${i} was closed: ${g.closed}\nserver output:\n${srv.output().slice(-3000)}`);
      assert.ok(g.sent.length >= 50, `good client #${i} sent only ${g.sent.length} messages`);
      await waitFor(() => g.received.length >= g.sent.length, 5000,
        `good client #${i}: ${g.received.length}/${g.sent.length} echoes`);
      assert.deepEqual(g.received, g.sent, `good client #${i}: echoes differ`);
    }
    assert.equal(good[0].socket.transport.name, 'websocket', 'the upgrading good client did not upgrade');

    // A new client connects and echoes after the flood.
    const fresh = new Socket(base, { path: '/engine.io/', transports: ['polling', 'websocket'] });
    stoppers.push(() => fresh.close());
    const echoed = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('new client got no echo within 5 s')), 5000);
      fresh.on('open', () => fresh.send('after-flood'));
      fresh.on('message', (m) => { clearTimeout(timer); resolve(m); });
      fresh.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
    assert.equal(echoed, 'after-flood');
    assert.equal(srv.proc.exitCode, null, 'server exited after the flood');
  } finally {
    for (const s of stoppers) s();
    await srv.stop();
  }
});
