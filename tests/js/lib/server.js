// Starts one of Rally's Rust server binaries for a test and stops it afterwards.
// Each server listens on a free port it picks itself (--port 0) and announces it on
// stdout as `listening on 127.0.0.1:PORT`; tests never assume a fixed port.
'use strict';

const { spawn } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const TARGET = process.env.CARGO_TARGET_DIR
  ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR)
  : path.join(ROOT, 'target');
const BIN_DIR = process.env.RALLY_BIN_DIR || path.join(TARGET, 'debug');

/** Path of a built binary: `examples/conformance`, `examples/testbed`, `rally-chat`. */
function binary(name) {
  const file = path.join(BIN_DIR, name);
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: build it first (scripts/test does: cargo build --workspace --examples)`);
  }
  return file;
}

/**
 * Spawns `cmd args` and resolves once it prints `listening on HOST:PORT`.
 * Returns { port, url, proc, pid, exited, output(), stop(signal), pause(), resume() }.
 */
function spawnServer(cmd, args, { env = {}, timeoutMs = 20000, label = cmd } = {}) {
  const proc = spawn(cmd, args, {
    env: { RUST_LOG: 'warn', ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${label} did not announce its port within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = () => {
      const m = /listening on [^\s:]+:(\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      proc.stdout.off('data', onData);
      const port = Number(m[1]);
      resolve({
        port,
        url: `http://127.0.0.1:${port}`,
        proc,
        pid: proc.pid,
        exited,
        output: () => out,
        pause() { proc.kill('SIGSTOP'); },
        resume() { proc.kill('SIGCONT'); },
        async stop(signal = 'SIGTERM') {
          if (proc.exitCode === null && proc.signalCode === null) {
            proc.kill('SIGCONT');
            proc.kill(signal);
          }
          const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
          const result = await exited;
          clearTimeout(killer);
          return result;
        },
      });
    };
    proc.stdout.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited with ${code} before listening:\n${out}`));
    });
  });
}

/**
 * Spawns the built binary `name` with `args` plus `--port <port>` (0 by default: a free
 * port the server picks) and resolves once it announces its port.
 */
function start(name, args = [], { port = 0, env = {}, timeoutMs = 20000 } = {}) {
  return spawnServer(binary(name), [...args, '--port', String(port)], { env, timeoutMs, label: name });
}

module.exports = { start, spawnServer, binary, ROOT };
