// rally-chat: message history in SQLite. The lobby's history on connection, a room's on
// join (binary kept), bounded per room, and still there after a restart or a crash when
// the sender had its ack.
'use strict';

const { describe, it, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const sio = require('../lib/sio');
const { chatServers, chatClient, ackOf, join, messages, tempDir } = require('./chat-helpers');

describe('rally-chat history', () => {
  const servers = chatServers();
  const chatServer = servers.start;
  afterEach(() => sio.closeAll());
  after(() => servers.stopAll());

  it('a joiner gets the room\'s recent messages (name, time, id, binary kept), oldest first', async () => {
    const chat = await chatServer();
    const a = await chatClient(chat.url, { name: 'Ada' });
    await join(a, 'books');
    assert.deepEqual(await ackOf(a.socket, 'message', 'first', 'books'), []);
    assert.deepEqual(await ackOf(a.socket, 'message', { text: 'second' }, 'books'), []);
    assert.deepEqual(await ackOf(a.socket, 'message', Buffer.from([1, 2, 3]), 'books'), []);
    assert.deepEqual(await ackOf(a.socket, 'message', 'in the lobby'), []);
    const infos = a.rec.all('message_info').map(([i]) => i).filter((i) => i.room === 'books');

    const b = await chatClient(chat.url, { name: 'Bob' });
    const history = b.rec.wait('history', (room) => room === 'books');
    await join(b, 'books');
    const [room, entries] = await history;
    assert.equal(room, 'books');
    assert.equal(entries.length, 3);
    assert.deepEqual(entries.map((e) => e.payload), ['first', { text: 'second' }, Buffer.from([1, 2, 3])]);
    assert.ok(Buffer.isBuffer(entries[2].payload));
    for (const [i, e] of entries.entries()) {
      assert.equal(e.room, 'books');
      assert.equal(e.from, a.id);
      assert.equal(e.name, 'Ada');
      assert.equal(e.id, infos[i].id, 'history ids match the message_info ids');
      assert.equal(e.time, infos[i].time);
    }
    // history arrives before the join's ack, so a client can show it at once
    const names = b.rec.names();
    assert.ok(names.includes('history'));
  });

  it('the lobby\'s history comes with the connection', async () => {
    const chat = await chatServer();
    const a = await chatClient(chat.url, { name: 'Ada' });
    await ackOf(a.socket, 'message', 'hello lobby');
    await ackOf(a.socket, 'message', 'only the room', 'elsewhere');
    const b = await chatClient(chat.url);
    const [room, entries] = await b.rec.wait('history', (r) => r === null);
    assert.equal(room, null);
    assert.deepEqual(entries.map((e) => [e.payload, e.name, e.room]), [['hello lobby', 'Ada', null]]);
    // a history event is not a message
    assert.deepEqual(messages(b.rec), []);
  });

  it('history is bounded per room (--history-limit)', async () => {
    const chat = await chatServer(['--history-limit', '5']);
    const a = await chatClient(chat.url);
    await join(a, 'small');
    for (let i = 0; i < 12; i++) await ackOf(a.socket, 'message', i, 'small');
    for (let i = 0; i < 3; i++) await ackOf(a.socket, 'message', `lobby ${i}`);
    const b = await chatClient(chat.url);
    const [, lobby] = await b.rec.wait('history', (r) => r === null);
    assert.deepEqual(lobby.map((e) => e.payload), ['lobby 0', 'lobby 1', 'lobby 2']);
    const history = b.rec.wait('history', (room) => room === 'small');
    await join(b, 'small');
    const [, entries] = await history;
    assert.deepEqual(entries.map((e) => e.payload), [7, 8, 9, 10, 11]);
  });

  it('acked messages survive a graceful restart and a crash (SIGKILL)', async () => {
    const dir = tempDir();
    let chat = await chatServer([], { dir });
    let a = await chatClient(chat.url);
    await join(a, 'durable');
    for (let i = 0; i < 20; i++) assert.deepEqual(await ackOf(a.socket, 'message', `before restart ${i}`, 'durable'), []);
    await sio.closeAll();
    const stopped = await chat.stop('SIGTERM');
    assert.equal(stopped.code, 0);

    chat = await chatServer([], { dir });
    a = await chatClient(chat.url);
    const history = a.rec.wait('history', (room) => room === 'durable');
    await join(a, 'durable');
    let [, entries] = await history;
    assert.equal(entries.length, 20);
    assert.equal(entries[19].payload, 'before restart 19');

    // Acked, then the process is killed without any chance to clean up.
    const acks = [];
    for (let i = 0; i < 50; i++) acks.push(ackOf(a.socket, 'message', `before crash ${i}`, 'durable'));
    await Promise.all(acks);
    const killed = await chat.stop('SIGKILL');
    assert.equal(killed.signal, 'SIGKILL');
    await sio.closeAll();
    assert.ok(fs.existsSync(chat.db));

    chat = await chatServer([], { dir });
    const b = await chatClient(chat.url);
    const again = b.rec.wait('history', (room) => room === 'durable');
    await join(b, 'durable');
    [, entries] = await again;
    assert.equal(entries.length, 70);
    assert.deepEqual(entries.slice(20).map((e) => e.payload), Array.from({ length: 50 }, (_, i) => `before crash ${i}`));
  });

  it('--db :memory: keeps nothing across a restart', async () => {
    const chat = await chatServer(['--db', ':memory:']);
    const a = await chatClient(chat.url);
    await ackOf(a.socket, 'message', 'ephemeral');
    const b = await chatClient(chat.url);
    const [, entries] = await b.rec.wait('history', (r) => r === null);
    assert.deepEqual(entries.map((e) => e.payload), ['ephemeral']);
    await sio.closeAll();
    await chat.stop();
    const next = await chatServer(['--db', ':memory:']);
    const c = await chatClient(next.url);
    const [, none] = await c.rec.wait('history', (r) => r === null);
    assert.deepEqual(none, []);
    // the file given by startChat's own --db was never used (the later --db wins)
    assert.ok(!fs.existsSync(chat.db));
  });
});
