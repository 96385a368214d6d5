// rally-chat as a process and a web server: graceful shutdown, clients reconnecting by
// themselves after a restart on the same port, /health, the page's files and security
// headers, --help.
'use strict';

const { describe, it, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const sio = require('../lib/sio');
const { binary } = require('../lib/server');
const { chatServers, chatClient, ackOf, join, tempDir } = require('./chat-helpers');

describe('rally-chat server', () => {
  const servers = chatServers();
  const chatServer = servers.start;
  afterEach(() => sio.closeAll());
  after(() => servers.stopAll());

  it('SIGTERM and SIGINT stop it promptly (exit 0); connected clients are told and reconnect later', async () => {
    for (const signal of ['SIGTERM', 'SIGINT']) {
      const chat = await chatServer();
      const clients = await Promise.all([
        chatClient(chat.url, { transports: ['websocket'] }),
        chatClient(chat.url, { transports: ['polling'] }),
        chatClient(chat.url),
      ]);
      const gone = clients.map((c) => sio.once(c.socket, 'disconnect', 5000));
      const t0 = Date.now();
      const result = await chat.stop(signal);
      const took = Date.now() - t0;
      assert.equal(result.code, 0, `${signal}: exit ${JSON.stringify(result)}\n${chat.srv.output()}`);
      assert.ok(took < 3000, `${signal}: took ${took} ms`);
      for (const [reason] of await Promise.all(gone)) {
        // a transport close (not "io server disconnect"): the client will reconnect by itself
        assert.match(reason, /transport (close|error)/);
      }
    }
  });

  it('clients reconnect by themselves after a restart on the same port, and chat again', async () => {
    const dir = tempDir();
    let chat = await chatServer([], { dir });
    const port = chat.port;
    const opts = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300 };
    const a = await chatClient(chat.url, { ...opts, name: 'Ada' });
    const b = await chatClient(chat.url, { ...opts, name: 'Bob', transports: ['websocket'] });
    await join(a, 'after');
    await ackOf(a.socket, 'message', 'before the restart', 'after');
    const [oldA, oldB] = [a.socket.id, b.socket.id];
    const down = Promise.all([sio.once(a.socket, 'disconnect', 5000), sio.once(b.socket, 'disconnect', 5000)]);
    await chat.stop('SIGTERM');
    await down;

    chat = await chatServer([], { dir, port });
    assert.equal(chat.port, port);
    await Promise.all([sio.once(a.socket, 'connect', 10000), sio.once(b.socket, 'connect', 10000)]);
    assert.notEqual(a.socket.id, oldA);
    assert.notEqual(b.socket.id, oldB);
    // the new server greets the reconnected clients like new ones
    await a.rec.wait('welcome', (w) => w.id === a.socket.id);
    // rooms belong to a connection: rejoin, and the room's history is back
    const history = b.rec.wait('history', (room) => room === 'after');
    assert.deepEqual(await ackOf(b.socket, 'join', 'after'), []);
    const [, entries] = await history;
    assert.deepEqual(entries.map((e) => e.payload), ['before the restart']);
    a.socket.emit('message', 'after the restart');
    await b.rec.wait('message', (p) => p === 'after the restart');
    b.socket.emit('private_message', 'hi again', a.socket.id);
    assert.deepEqual(await a.rec.wait('private_message'), ['hi again', b.socket.id]);
  });

  it('GET /health answers JSON: status, connections, uptime', async () => {
    const chat = await chatServer();
    await Promise.all([chatClient(chat.url), chatClient(chat.url)]);
    const res = await fetch(`${chat.url}/health`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /application\/json/);
    const body = await res.json();
    assert.equal(body.status, 'ok');
    assert.equal(body.connections, 2);
    assert.equal(body.sockets, 2);
    assert.equal(typeof body.uptime_seconds, 'number');
  });

  it('the page: separate script and style, a strict Content-Security-Policy, nosniff', async () => {
    const chat = await chatServer();
    const res = await fetch(`${chat.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/html/);
    const csp = res.headers.get('content-security-policy');
    assert.ok(csp, 'a CSP header');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /connect-src 'self' ws: wss:/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const html = await res.text();
    assert.match(html, /<script src="\/socket\.io\/socket\.io\.js"/);
    assert.match(html, /<script src="\/app\.js"/);
    // no inline script, no inline style, no inline handlers
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
    for (const [file, type] of [['/app.js', /javascript/], ['/app.css', /text\/css/], ['/socket.io/socket.io.js', /javascript/]]) {
      const r = await fetch(`${chat.url}${file}`);
      assert.equal(r.status, 200, file);
      assert.match(r.headers.get('content-type'), type, file);
      assert.ok((await r.text()).length > 100, file);
    }
    const js = await (await fetch(`${chat.url}/app.js`)).text();
    assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it('--help lists every option with its environment variable', () => {
    const out = spawnSync(binary('rally-chat'), ['--help'], { encoding: 'utf8' });
    assert.equal(out.status, 0);
    for (const option of ['--port', '--host', '--db', '--history-limit', '--max-payload', '--rate-burst',
      '--rate-per-second', '--typing-timeout-ms', '--ping-interval-ms', '--ping-timeout-ms']) {
      assert.ok(out.stdout.includes(option), `${option} in --help`);
    }
    for (const env of ['PORT', 'RALLY_CHAT_DB', 'RALLY_CHAT_HISTORY_LIMIT']) {
      assert.ok(out.stdout.includes(`[env: ${env}=`), `${env} in --help`);
    }
  });

  it('PORT from the environment is used when --port is absent', async () => {
    const { spawn } = require('node:child_process');
    const proc = spawn(binary('rally-chat'), ['--db', ':memory:', '--host', '127.0.0.1'], {
      env: { ...process.env, PORT: '0', RUST_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const line = await new Promise((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 10000);
        proc.stdout.on('data', (d) => {
          out += d;
          const m = /listening on (\S+)/.exec(out);
          if (m) { clearTimeout(timer); resolve(m[1]); }
        });
      });
      assert.match(line, /^127\.0\.0\.1:\d+$/);
      assert.notEqual(line, '127.0.0.1:0');
    } finally {
      proc.kill('SIGKILL');
    }
  });

  it('a port in use is reported clearly (exit 1)', async () => {
    const chat = await chatServer();
    const out = spawnSync(binary('rally-chat'), ['--db', ':memory:', '--port', String(chat.port)], { encoding: 'utf8', timeout: 10000 });
    assert.equal(out.status, 1);
    assert.match(out.stderr, /cannot listen on .*:\d+/);
  });
});
