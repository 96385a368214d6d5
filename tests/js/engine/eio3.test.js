// The Engine.IO protocol v3 client (engine.io-client 3.5, installed as engine.io-client-v3)
// against the echo example started with --allow-eio3 (path /engine.io/; pingInterval 300 ms,
// pingTimeout 200 ms). In v3 the client pings and the server answers; polling payloads are
// length-framed, and binary goes either in the binary framing or as base64.
//
// Under Node the client always polls in base64 (its XMLHttpRequest has no responseType, so
// it asks for b64=1); the binary framing of polling payloads is checked with the client's
// own payload parser (engine.io-parser 2.2) over plain HTTP requests instead.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const Socket = require('engine.io-client-v3');
const { start } = require('../lib/server');
const { sleep, waitFor } = require('../lib/sio');

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;


async function withEcho(args, fn) {
  const srv = await start('examples/conformance', args);
  const sockets = [];
  try {
    await fn(srv, sockets);
    assert.equal(srv.proc.exitCode, null, `echo server exited during the test:\n${srv.output()}`);
  } finally {
    for (const s of sockets) s.close();
    await srv.stop();
  }
}

/** Opens a v3 client; resolves with its recorded messages, pongs, upgrade and close. */
async function open(srv, sockets, opts) {
  const socket = new Socket(srv.url, { path: '/engine.io/', ...opts });
  sockets.push(socket);
  const state = {
    socket, messages: [], pongs: 0, closed: null, upgraded: false, error: null, openedOn: null,
  };
  socket.on('message', (m) => state.messages.push(m));
  socket.on('pong', () => { state.pongs++; });
  socket.on('upgrade', () => { state.upgraded = true; });
  socket.on('close', (reason) => { state.closed = reason; });
  socket.on('error', (e) => { state.error = e; });
  // The transport it opened on, taken then: an upgrade may follow at once.
  socket.once('open', () => { state.openedOn = socket.transport.name; });
  await waitFor(() => state.openedOn || state.error, 5000, 'open');
  if (!state.openedOn) throw state.error;
  return state;
}

/** Binary data, whatever form the client delivered it in; null for text. */
const bytesOf = (data) => (typeof data === 'string' ? null : Buffer.from(data));

async function echoTextAndBinary(state) {
  const { socket, messages } = state;
  const start = messages.length;
  // Non-BMP characters count twice in a v3 length: the framing is in UTF-16 code units.
  const texts = ['hello', 'é€😀 unicode', 'x'.repeat(50000)];
  const bin = Buffer.from([0, 1, 2, 3, 4, 254, 255]);
  for (const t of texts) socket.send(t);
  socket.send(bin);
  socket.send('after binary');
  const expected = texts.length + 2;
  await waitFor(() => messages.length - start >= expected, 5000,
    `echoes (${messages.length - start}/${expected})`);
  const got = messages.slice(start);
  assert.equal(got.length, expected);
  for (let i = 0; i < texts.length; i++) {
    assert.equal(typeof got[i], 'string', `message ${i} should be text`);
    assert.equal(got[i], texts[i]);
  }
  const b = bytesOf(got[texts.length]);
  assert.ok(b, `the binary message should come back as binary, got ${typeof got[texts.length]}`);
  assert.deepEqual(b, bin);
  assert.equal(got[texts.length + 1], 'after binary');
}

/** Decodes a v3 payload with the reference parser; resolves to its packets. */
function decodeV3(body, binary) {
  const packets = [];
  const { parser } = Socket;
  const each = (packet) => { packets.push(packet); };
  if (binary) parser.decodePayloadAsBinary(body, 'arraybuffer', each);
  else parser.decodePayload(body, each);
  return packets;
}

test('v3: polling payloads in the binary framing, as the reference parser writes and reads them', () =>
  withEcho(['--allow-eio3'], async (srv) => {
    const base = `${srv.url}/engine.io/?EIO=3&transport=polling`;
    const handshake = await fetch(base);
    assert.equal(handshake.status, 200);
    const [openPacket] = decodeV3(await handshake.text(), false);
    assert.equal(openPacket.type, 'open');
    const { sid } = JSON.parse(openPacket.data);
    const url = `${base}&sid=${sid}`;

    const bin = Buffer.from([0, 1, 2, 255]);
    const body = await new Promise((resolve) => Socket.parser.encodePayloadAsBinary(
      [{ type: 'message', data: 'héllo 😀' }, { type: 'message', data: bin }, { type: 'ping' }],
      resolve,
    ));
    const post = await fetch(url, {
      method: 'POST', body, headers: { 'Content-Type': 'application/octet-stream' },
    });
    assert.equal(post.status, 200, await post.text());

    const poll = await fetch(url);
    assert.equal(poll.headers.get('content-type'), 'application/octet-stream');
    const packets = decodeV3(Buffer.from(await poll.arrayBuffer()), true);
    assert.deepEqual(packets.map((p) => p.type), ['message', 'message', 'pong']);
    assert.equal(packets[0].data, 'héllo 😀');
    assert.deepEqual(bytesOf(packets[1].data), bin);

    // A text-only answer is length-framed text, with lengths in UTF-16 code units.
    const text = await new Promise((resolve) => Socket.parser.encodePayload(
      [{ type: 'message', data: '😀😀' }, { type: 'ping', data: 'x' }], false, resolve,
    ));
    await fetch(url, { method: 'POST', body: text, headers: { 'Content-Type': 'text/plain;charset=UTF-8' } });
    const textPoll = await fetch(url);
    assert.equal(textPoll.headers.get('content-type'), 'text/plain; charset=UTF-8');
    const answer = await textPoll.text();
    assert.equal(answer, '5:4😀😀2:3x');
    assert.deepEqual(decodeV3(answer, false).map((p) => [p.type, p.data]),
      [['message', '😀😀'], ['pong', 'x']]);
  }));

const POLLING = { transports: ['polling'], upgrade: false };
const WEBSOCKET = { transports: ['websocket'] };

for (const [name, opts, transport] of [
  ['polling', POLLING, 'polling'],
  ['polling, base64', { ...POLLING, forceBase64: true }, 'polling'],
  ['websocket', WEBSOCKET, 'websocket'],
  ['websocket, base64', { ...WEBSOCKET, forceBase64: true }, 'websocket'],
]) {
  test(`v3: echo text and binary over ${name}`, () =>
    withEcho(['--allow-eio3'], async (srv, sockets) => {
      const s = await open(srv, sockets, opts);
      assert.equal(s.openedOn, transport);
      await echoTextAndBinary(s);
      assert.equal(s.socket.transport.name, transport);
      assert.equal(s.closed, null);
    }));
}

test('v3: upgrade from polling to websocket, then echo', () =>
  withEcho(['--allow-eio3'], async (srv, sockets) => {
    const s = await open(srv, sockets, { transports: ['polling', 'websocket'] });
    assert.equal(s.openedOn, 'polling');
    s.socket.send('before upgrade');
    await waitFor(() => s.messages.includes('before upgrade'), 5000, 'echo of the first message');
    await waitFor(() => s.upgraded, 5000, 'upgrade event');
    assert.equal(s.socket.transport.name, 'websocket');
    await echoTextAndBinary(s);
    assert.equal(s.closed, null);
  }));

for (const [name, opts] of [['polling', POLLING], ['websocket', WEBSOCKET]]) {
  test(`v3 heartbeat over ${name}: the client pings, the server answers, the session lives on`, () =>
    withEcho(['--allow-eio3'], async (srv, sockets) => {
      const s = await open(srv, sockets, opts);
      await sleep(4 * PING_INTERVAL + PING_TIMEOUT);
      assert.equal(s.closed, null, `closed: ${s.closed}`);
      assert.ok(s.pongs >= 3, `only ${s.pongs} pongs in ${4 * PING_INTERVAL + PING_TIMEOUT} ms`);
      s.socket.send('still-alive');
      await waitFor(() => s.messages.includes('still-alive'), 3000, 'echo after the pings');
    }));
}

test('v3 clients are refused without --allow-eio3', () =>
  withEcho([], async (srv, sockets) => {
    await assert.rejects(open(srv, sockets, POLLING));
    await assert.rejects(open(srv, sockets, WEBSOCKET));
  }));
