// A throwaway redis-server for one test file: a free loopback port, no persistence, its own
// process (stopped by PID, or `redis-cli shutdown nosave`). Never touches a Redis the tests
// did not start (127.0.0.1:6379 included). Fails loudly when redis-server is missing.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const { spawnServer, binary } = require('./server');
const net = require('node:net');
const crypto = require('node:crypto');

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Throws a clear error when redis-server is not installed (tests must fail, never skip). */
function requireRedisServer() {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error('redis-server not found: the Redis cluster tests need it (Debian: apt-get install redis-server)');
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1 (never 6379). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => (port === 6379 ? resolve(freePort()) : resolve(port)));
    });
  });
}

/** Resolves once a TCP PING on `port` gets +PONG; rejects after `timeoutMs`. */
async function waitPong(port, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      let data = '';
      sock.setTimeout(500, () => { sock.destroy(); resolve(false); });
      sock.on('error', () => resolve(false));
      sock.on('connect', () => sock.write('PING\r\n'));
      sock.on('data', (d) => {
        data += d;
        if (data.includes('\r\n')) { sock.destroy(); resolve(data.startsWith('+PONG')); }
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * Starts redis-server on a free port (or `port`). Returns
 * { port, url, proc, stop(), kill(), restart(), output() }.
 * `kill()` is a SIGKILL (Redis vanishes mid-traffic); `restart()` starts it again on the same port.
 */
async function startRedis({ port } = {}) {
  requireRedisServer();
  const chosen = port || (await freePort());
  const handle = {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    proc: null,
    log: '',
    output() { return this.log; },
    async launch() {
      const proc = spawn('redis-server', [
        '--port', String(chosen),
        '--bind', '127.0.0.1',
        '--save', '',
        '--appendonly', 'no',
        '--protected-mode', 'yes',
        '--loglevel', 'warning',
      ], { stdio: ['ignore', 'pipe', 'pipe'] });
      proc.stdout.on('data', (d) => { handle.log += d; });
      proc.stderr.on('data', (d) => { handle.log += d; });
      proc.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
      handle.proc = proc;
      const failed = proc.exited.then(({ code, signal }) => {
        throw new Error(`redis-server exited (code ${code}, signal ${signal}) on port ${chosen}:\n${handle.log}`);
      });
      await Promise.race([waitPong(chosen), failed]);
      failed.catch(() => {}); // a later exit is expected (stop/kill)
    },
    /** SIGKILL: Redis disappears without a goodbye. */
    async kill() {
      const proc = this.proc;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGKILL');
      await proc.exited;
    },
    async restart() {
      await this.kill();
      // the port is ours: retry briefly while the kernel releases it
      for (let i = 0; ; i++) {
        try {
          await this.launch();
          return;
        } catch (err) {
          if (i >= 20) throw err;
          await sleep(100);
        }
      }
    },
    /** `redis-cli shutdown nosave`, then SIGKILL if it is still there. */
    async stop() {
      const proc = this.proc;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(chosen), 'shutdown', 'nosave'], { timeout: 3000 });
      const killer = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await proc.exited;
      clearTimeout(killer);
    },
  };
  await handle.launch();
  return handle;
}


/** A Rally cluster member (crates/redis/examples/cluster_node) on `redis` with `prefix`. */
function startRallyNode(redis, prefix, { requestTimeout = 2000, name, env, specificResponseChannel, adapter = 'classic', recovery, parser = 'json' } = {}) {
  const args = ['--port', '0', '--redis-url', redis.url, '--prefix', prefix, '--request-timeout', String(requestTimeout), '--adapter', adapter, '--parser', parser];
  if (recovery) args.push('--recovery');
  if (name) args.push('--name', name);
  if (specificResponseChannel) args.push('--specific-response-channel');
  return spawnServer(binary('examples/cluster_node'), args, { env, label: 'cluster_node' });
}

/** A Node.js socket.io 4.8 member with @socket.io/redis-adapter 8.3 or, with `adapter:
 * 'streams'`, @socket.io/redis-streams-adapter 0.3 (tests/js/redis/node-node.js). */
function startNodeNode(redis, prefix, { requestTimeout = 2000, name, specificResponseChannel, adapter = 'classic', recovery, parser = 'json' } = {}) {
  const path = require('node:path');
  const args = [path.join(__dirname, '..', 'redis', 'node-node.js'), '--port', '0', '--redis-url', redis.url, '--prefix', prefix, '--request-timeout', String(requestTimeout), '--adapter', adapter, '--parser', parser];
  if (recovery) args.push('--recovery');
  if (name) args.push('--name', name);
  if (specificResponseChannel) args.push('--specific-response-channel');
  return spawnServer(process.execPath, args, { label: 'node-node.js' });
}

/** Fails when a node's output shows a Rust panic (the adapter must never panic). */
function assertNoPanic(nodes) {
  for (const n of nodes) {
    if (/panicked at|RUST_BACKTRACE/.test(n.output())) {
      throw new Error(`a node panicked:\n${n.output()}`);
    }
  }
}

/** A fresh channel prefix per test, so tests never hear each other. */
function uniquePrefix(tag = 't') {
  return `rally-${tag}-${crypto.randomBytes(4).toString('hex')}`;
}

module.exports = { startRedis, freePort, uniquePrefix, requireRedisServer, sleep, spawnServer, startRallyNode, startNodeNode, assertNoPanic };
