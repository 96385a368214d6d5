// socket.io-client 2.x (Engine.IO v3, Socket.IO protocol v4) against the test bed with
// `--allow-eio3` (issue 18): connected to `/` without asking, with the id it expects, over
// polling, WebSocket and the upgrade between them; emits, acks both ways, binary, rooms,
// broadcasts that reach v2 and v4 clients alike, a namespace joined with its query as auth,
// and refusals as the v2 client's `error` event. Without the flag such clients are refused.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const ioV2 = require('socket.io-client-v2');
const { start } = require('../lib/server');
const sio = require('../lib/sio');

const TIMEOUT = 3000;
const opened = new Set();

/** A socket.io-client 2.5 socket, closed by `closeV2()`. */
function v2(url, opts = {}) {
  const socket = ioV2(url, { forceNew: true, reconnection: false, timeout: TIMEOUT, ...opts });
  opened.add(socket);
  return socket;
}

function closeV2() {
  for (const s of opened) s.close();
  opened.clear();
}

function event(socket, name, timeout = TIMEOUT) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name} within ${timeout} ms`)), timeout);
    socket.once(name, (...args) => { clearTimeout(timer); resolve(args); });
  });
}

async function connected(socket) {
  if (!socket.connected) await event(socket, 'connect');
  return socket;
}

/** Emits `name` with `args` and resolves the ack's arguments. */
function ackArgs(socket, name, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack to ${name}`)), TIMEOUT);
    socket.emit(name, ...args, (...answer) => { clearTimeout(timer); resolve(answer); });
  });
}

const TRANSPORTS = [['polling, then the upgrade', undefined], ['polling only', ['polling']], ['websocket only', ['websocket']]];

describe('socket.io-client 2.5 against testbed --allow-eio3', () => {
  let srv;
  before(async () => { srv = await start('examples/testbed', ['--allow-eio3']); });
  afterEach(async () => { closeV2(); await sio.closeAll(); });
  after(() => srv && srv.stop());

  for (const [label, transports] of TRANSPORTS) {
    it(`connects to / by itself, with the id it expects; acks both ways, binary (${label})`, async () => {
      const s = await connected(v2(srv.url, transports ? { transports } : {}));
      assert.equal(s.id, s.io.engine.id, 'a v2 socket on / is named by its connection');
      assert.deepEqual(await ackArgs(s, 'id'), [s.id]);
      const blob = Buffer.from([1, 2, 3, 255]);
      assert.deepEqual(await ackArgs(s, 'echo', 'hi', { n: 1, b: blob }), ['hi', { n: 1, b: blob }]);
      s.on('question', (a, b, cb) => cb(a + b, Buffer.from([a])));
      assert.deepEqual(await ackArgs(s, 'emit-with-ack', { event: 'question', args: [20, 22], timeout: 2000 }),
        [{ ok: [42, Buffer.from([20])] }]);
      if (!transports) {
        await sio.waitFor(() => s.io.engine.transport.name === 'websocket', TIMEOUT, 'the upgrade');
        assert.deepEqual(await ackArgs(s, 'echo', blob), [blob]);
      }
    });
  }

  it('rooms and broadcasts reach v2 and v4 clients alike; a private message by id', async () => {
    const old = await connected(v2(srv.url));
    const modern = await sio.connect(srv.url);
    const other = await connected(v2(srv.url, { transports: ['websocket'] }));
    await ackArgs(old, 'join', 'r');
    await sio.ack(modern, 'join', 'r');
    const args = ['news', Buffer.from([7]), { x: 1 }];
    const got = [event(old, 'r'), sio.once(modern, 'r')];
    let strayed = false;
    other.on('r', () => { strayed = true; });
    await ackArgs(other, 'emit', { event: 'r', args, rooms: ['r'] });
    assert.deepEqual(await Promise.all(got), [args, args]);

    const everyone = [event(old, 'all'), sio.once(modern, 'all'), event(other, 'all')];
    await sio.ack(modern, 'emit', { event: 'all', args: [1] });
    assert.deepEqual(await Promise.all(everyone), [[1], [1], [1]]);

    const dm = event(other, 'dm');
    await sio.ack(modern, 'emit', { event: 'dm', args: ['psst'], from: 'socket', rooms: [other.id] });
    assert.deepEqual(await dm, ['psst']);
    await sio.sleep(200);
    assert.equal(strayed, false, 'a client outside the room got its broadcast');
  });

  it('a namespace joined with its query as auth; a refusal is the client\'s error event', async () => {
    const admin = v2(`${srv.url}/admin`, { query: { token: 'secret' } });
    const welcome = event(admin, 'welcome');
    await connected(admin);
    assert.equal(admin.id, `/admin#${admin.io.engine.id}`);
    assert.deepEqual(await welcome, [admin.id]);
    assert.deepEqual(await ackArgs(admin, 'echo', 'x'), ['x']);

    const refused = v2(`${srv.url}/admin`, { query: { token: 'wrong' } });
    assert.deepEqual(await event(refused, 'error'), [{ reason: 'bad token' }]);
    assert.equal(refused.connected, false);
  });

  it('fetchSockets and disconnect reasons see the v2 socket as any other', async () => {
    const s = await connected(v2(srv.url, { transports: ['websocket'] }));
    const modern = await sio.connect(srv.url);
    const ids = (await sio.ack(modern, 'fetch-sockets', [])).map((x) => x.id);
    assert.ok(ids.includes(s.id), `${s.id} in ${ids}`);
    const gone = event(s, 'disconnect');
    s.emit('disconnect-me', false);
    assert.deepEqual(await gone, ['io server disconnect']);
  });
});

describe('socket.io-client 2.5 without --allow-eio3', () => {
  let srv;
  before(async () => { srv = await start('examples/testbed'); });
  afterEach(() => closeV2());
  after(() => srv && srv.stop());

  it('is refused with the protocol\'s error, as Node refuses it', async () => {
    const s = v2(srv.url, { transports: ['polling'] });
    const [err] = await event(s, 'connect_error');
    assert.match(String(err && (err.description || err.message)), /400|xhr poll error|Unsupported/i);
    const res = await fetch(`${srv.url}/socket.io/?EIO=3&transport=polling`);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { code: 5, message: 'Unsupported protocol version' });
  });
});
