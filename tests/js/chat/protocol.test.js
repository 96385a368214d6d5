// rally-chat: the protocol table, row by row, with the official socket.io-client.
//   message(payload)                -> everyone gets message(payload), the sender included
//   message(payload, room)          -> the room's sockets get message(payload, room); no one else
//   join(room, ack) / leave(room, ack) -> ack()
//   private_message(payload, id)    -> only the target gets private_message(payload, senderId)
// Payloads are relayed as they are: JSON of any shape, binary, 500 KB.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const sio = require('../lib/sio');
const { startChat, chatClient, ackOf, join, messages } = require('./chat-helpers');

describe('rally-chat protocol', () => {
  let chat;
  before(async () => { chat = await startChat(); });
  afterEach(() => sio.closeAll());
  after(async () => {
    if (chat) {
      await chat.stop();
      chat.cleanup();
    }
  });

  it('message(payload) reaches every client, the sender included', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => chatClient(chat.url)));
    a.socket.emit('message', 'hello everyone');
    for (const x of [a, b, c]) {
      const args = await x.rec.wait('message', (p) => p === 'hello everyone');
      assert.deepEqual(args, ['hello everyone']);
    }
  });

  it('payloads of any JSON shape are relayed unchanged', async () => {
    const [a, b] = await Promise.all([chatClient(chat.url), chatClient(chat.url)]);
    const payloads = [42, true, null, { text: 'hi', nested: { list: [1, 'two', { three: 3 }] } }, ['a', 1], 'üñíçødé ✓'];
    for (const p of payloads) a.socket.emit('message', p);
    await sio.eventually(() => assert.equal(messages(b.rec).length, payloads.length));
    assert.deepEqual(messages(b.rec).map((m) => m[0]), payloads);
    assert.ok(messages(b.rec).every((m) => m.length === 1));
  });

  it('message(payload, room) reaches the room only, with the room; non-members get nothing', async () => {
    const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => chatClient(chat.url)));
    await join(a, 'kitchen');
    await join(b, 'kitchen');
    await join(c, 'garden');
    // d, a non-member, sends to the room: members get it, d does not.
    d.socket.emit('message', 'soup is ready', 'kitchen');
    a.socket.emit('message', { from: 'a' }, 'kitchen');
    for (const x of [a, b]) {
      assert.deepEqual(await x.rec.wait('message', (p) => p === 'soup is ready'), ['soup is ready', 'kitchen']);
      assert.deepEqual(await x.rec.wait('message', (p) => p && p.from === 'a'), [{ from: 'a' }, 'kitchen']);
    }
    await sio.sleep(300);
    assert.deepEqual(messages(c.rec), []);
    assert.deepEqual(messages(d.rec), []);
  });

  it('join and leave answer ack() with no arguments; after leave no room message arrives', async () => {
    const [a, b] = await Promise.all([chatClient(chat.url), chatClient(chat.url)]);
    assert.deepEqual(await ackOf(a.socket, 'join', 'porch'), []);
    assert.deepEqual(await ackOf(b.socket, 'join', 'porch'), []);
    // joining twice is harmless
    assert.deepEqual(await ackOf(b.socket, 'join', 'porch'), []);
    b.socket.emit('message', 'first', 'porch');
    await a.rec.wait('message', (p) => p === 'first');
    assert.deepEqual(await ackOf(a.socket, 'leave', 'porch'), []);
    // leaving a room one is not in is harmless too
    assert.deepEqual(await ackOf(a.socket, 'leave', 'never-joined'), []);
    b.socket.emit('message', 'second', 'porch');
    await b.rec.wait('message', (p) => p === 'second');
    await sio.sleep(200);
    assert.deepEqual(messages(a.rec).map((m) => m[0]), ['first']);
  });

  it('private_message(payload, id) reaches only the target, with the sender id', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => chatClient(chat.url)));
    a.socket.emit('private_message', { secret: 'for b' }, b.id);
    const args = await b.rec.wait('private_message');
    assert.deepEqual(args, [{ secret: 'for b' }, a.id]);
    await sio.sleep(200);
    assert.deepEqual(a.rec.all('private_message'), []);
    assert.deepEqual(c.rec.all('private_message'), []);
    assert.deepEqual(b.rec.all('private_message').length, 1);
    // ...and it is never a `message`
    assert.deepEqual([a, b, c].flatMap((x) => messages(x.rec)), []);
  });

  it('private_message to an unknown id is refused (error in the ack), and reaches no one', async () => {
    const [a, b] = await Promise.all([chatClient(chat.url), chatClient(chat.url)]);
    const [res] = await ackOf(a.socket, 'private_message', 'hello?', 'no-such-socket-id-xx');
    assert.equal(res.code, 'no_such_user');
    assert.match(res.error, /no connected user/);
    // a chat room is not a private target either
    await join(b, 'club');
    const [res2] = await ackOf(a.socket, 'private_message', 'hello club?', 'club');
    assert.equal(res2.code, 'no_such_user');
    // without an ack, the refusal is an `error` event
    a.socket.emit('private_message', 'x', 'nobody');
    const [err] = await a.rec.wait('error');
    assert.equal(err.code, 'no_such_user');
    assert.equal(err.event, 'private_message');
    await sio.sleep(100);
    assert.deepEqual(b.rec.all('private_message'), []);
  });

  it('binary payloads stay binary: lobby, room and private', async () => {
    const [a, b] = await Promise.all([chatClient(chat.url), chatClient(chat.url)]);
    await join(a, 'bin');
    await join(b, 'bin');
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
    a.socket.emit('message', bytes);
    const [got] = await b.rec.wait('message', (p) => Buffer.isBuffer(p));
    assert.ok(Buffer.isBuffer(got));
    assert.deepEqual(got, bytes);

    const mixed = { name: 'photo.bin', parts: [Buffer.from('part one'), Buffer.from([9, 8, 7])], size: 2 };
    a.socket.emit('message', mixed, 'bin');
    const [m, room] = await b.rec.wait('message', (p) => p && p.name === 'photo.bin');
    assert.equal(room, 'bin');
    assert.deepEqual(m, mixed);
    assert.ok(Buffer.isBuffer(m.parts[0]) && Buffer.isBuffer(m.parts[1]));

    a.socket.emit('private_message', Buffer.from('private bytes'), b.id);
    const [pm, from] = await b.rec.wait('private_message');
    assert.ok(Buffer.isBuffer(pm));
    assert.equal(pm.toString(), 'private bytes');
    assert.equal(from, a.id);
  });

  it('a 500 KB payload (text and binary) is relayed whole', async () => {
    const [a, b] = await Promise.all([chatClient(chat.url), chatClient(chat.url)]);
    const text = 'x'.repeat(500 * 1024);
    a.socket.emit('message', text);
    const [gotText] = await b.rec.wait('message', (p) => typeof p === 'string' && p.length > 1000, 10000);
    assert.equal(gotText.length, text.length);
    assert.equal(gotText, text);
    const bytes = Buffer.alloc(500 * 1024, 7);
    bytes[0] = 1;
    bytes[bytes.length - 1] = 2;
    a.socket.emit('message', bytes);
    const [gotBytes] = await b.rec.wait('message', (p) => Buffer.isBuffer(p), 10000);
    assert.ok(gotBytes.equals(bytes));
  });

  it('1000 messages from one sender arrive in order, at the sender and at another client', async () => {
    const [a, b] = await Promise.all([
      chatClient(chat.url, { transports: ['websocket'] }),
      chatClient(chat.url, { transports: ['websocket'] }),
    ]);
    const n = 1000;
    for (let i = 0; i < n; i++) a.socket.emit('message', i);
    const expected = Array.from({ length: n }, (_, i) => i);
    for (const x of [a, b]) {
      await sio.eventually(() => assert.equal(messages(x.rec).length, n), 20000, 50);
      assert.deepEqual(messages(x.rec).map((m) => m[0]), expected);
    }
    assert.deepEqual(a.rec.all('error'), [], 'no rate-limit error for a burst of 1000');
  });

  it('1000 room messages with acks, in order, every ack answered', async () => {
    const [a, b] = await Promise.all([chatClient(chat.url), chatClient(chat.url)]);
    await join(a, 'bulk');
    await join(b, 'bulk');
    const n = 1000;
    const acks = [];
    for (let i = 0; i < n; i++) acks.push(sio.ackArgsWithin(20000, a.socket, 'message', { i }, 'bulk'));
    const answers = await Promise.all(acks);
    assert.ok(answers.every((r) => r.length === 0), 'every ack is a plain ack()');
    await sio.eventually(() => assert.equal(messages(b.rec).length, n), 10000, 50);
    assert.deepEqual(messages(b.rec).map((m) => m[0].i), Array.from({ length: n }, (_, i) => i));
  });

  for (const [label, transports] of [['polling-only', ['polling']], ['websocket-only', ['websocket']]]) {
    it(`${label} clients use every row of the table`, async () => {
      const [a, b, other] = await Promise.all([
        chatClient(chat.url, { transports }),
        chatClient(chat.url, { transports: label === 'polling-only' ? ['websocket'] : ['polling'] }),
        chatClient(chat.url, { transports }),
      ]);
      assert.equal(a.socket.io.engine.transport.name, transports[0]);
      a.socket.emit('message', `lobby via ${label}`);
      await b.rec.wait('message', (p) => p === `lobby via ${label}`);
      await a.rec.wait('message', (p) => p === `lobby via ${label}`);
      await join(a, `r-${label}`);
      await join(b, `r-${label}`);
      b.socket.emit('message', 'room reply', `r-${label}`);
      assert.deepEqual(await a.rec.wait('message', (p) => p === 'room reply'), ['room reply', `r-${label}`]);
      a.socket.emit('private_message', Buffer.from([1, 2, 3]), b.id);
      const [pm, from] = await b.rec.wait('private_message');
      assert.deepEqual([...pm], [1, 2, 3]);
      assert.equal(from, a.id);
      assert.deepEqual(await ackOf(a.socket, 'leave', `r-${label}`), []);
      await sio.sleep(100);
      assert.ok(!messages(other.rec).some((m) => m[0] === 'room reply'));
    });
  }

  it('a message with an ack is answered ack() once stored', async () => {
    const a = await chatClient(chat.url);
    const res = await ackOf(a.socket, 'message', 'acked');
    assert.deepEqual(res, []);
    // it is in the lobby's history for the next client
    const late = await chatClient(chat.url);
    const [room, entries] = await late.rec.wait('history', (r) => r === null);
    assert.equal(room, null);
    assert.ok(entries.some((e) => e.payload === 'acked' && e.from === a.id));
  });

  it('message_info (id, room, sender, name, time) precedes each message, to the same sockets', async () => {
    const [a, b] = await Promise.all([chatClient(chat.url, { name: 'Ada' }), chatClient(chat.url)]);
    await join(a, 'info');
    a.socket.emit('message', 'with info', 'info');
    await a.rec.wait('message', (p) => p === 'with info');
    const names = a.rec.names();
    const at = names.lastIndexOf('message');
    assert.equal(names[at - 1], 'message_info');
    const [info] = a.rec.events[at - 1].args;
    assert.equal(info.room, 'info');
    assert.equal(info.from, a.id);
    assert.equal(info.name, 'Ada');
    assert.equal(typeof info.id, 'string');
    assert.ok(Math.abs(info.time - Date.now()) < 60000);
    await sio.sleep(100);
    assert.deepEqual(b.rec.all('message_info').filter(([i]) => i.room === 'info'), []);
  });

  it('joining a room named like a socket id is refused with an error in the ack', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => chatClient(chat.url)));
    const [res] = await ackOf(a.socket, 'join', b.id);
    assert.equal(typeof res.error, 'string');
    assert.equal(res.code, 'forbidden_room');
    // so a's never reads b's private messages
    c.socket.emit('private_message', 'only for b', b.id);
    await b.rec.wait('private_message');
    await sio.sleep(150);
    assert.deepEqual(a.rec.all('private_message'), []);
    // one's own id is a socket id too; and it cannot be left
    assert.equal((await ackOf(a.socket, 'join', a.id))[0].code, 'forbidden_room');
    assert.equal((await ackOf(a.socket, 'leave', a.id))[0].code, 'forbidden_room');
    // nor can a message be sent "to the room" of a socket
    const [sent] = await ackOf(c.socket, 'message', 'sneaky', b.id);
    assert.equal(sent.code, 'forbidden_room');
    await sio.sleep(100);
    assert.deepEqual(messages(b.rec).filter((m) => m[0] === 'sneaky'), []);
  });

  it('room names follow the rules: 1-64 characters, no control characters, no outer spaces', async () => {
    const a = await chatClient(chat.url);
    for (const bad of ['', 'x'.repeat(65), 'bell\u0007', 'new\nline', ' padded', 'padded ']) {
      const [res] = await ackOf(a.socket, 'join', bad);
      assert.equal(res && res.code, 'invalid_room', `room ${JSON.stringify(bad)}: ${sio.safeJson(res)}`);
    }
    for (const bad of [42, { room: 'x' }, null]) {
      const [res] = await ackOf(a.socket, 'join', bad);
      assert.equal(res && res.code, 'invalid_room');
    }
    assert.deepEqual(await ackOf(a.socket, 'join', 'é'.repeat(64)), []);
    assert.deepEqual(await ackOf(a.socket, 'join', 'with inner spaces ✓'), []);
    const [res] = await ackOf(a.socket, 'message', 'x', 'bad\u0001room');
    assert.equal(res.code, 'invalid_room');
  });

  it('a message without a payload is refused; nothing is broadcast', async () => {
    const [a, b] = await Promise.all([chatClient(chat.url), chatClient(chat.url)]);
    const [res] = await ackOf(a.socket, 'message');
    assert.equal(res.code, 'invalid_payload');
    await sio.sleep(100);
    assert.deepEqual(messages(b.rec), []);
  });
});
