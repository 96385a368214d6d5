// rally-chat: who is online (names and ids, kept current), room member lists, display
// names (handshake auth or set_name), typing indicators that expire by themselves,
// notices. None of it ever travels as `message` or `private_message`.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const sio = require('../lib/sio');
const { startChat, chatClient, ackOf, join, messages } = require('./chat-helpers');

const TYPING_MS = 400;

describe('rally-chat presence, names, typing', () => {
  let chat;
  before(async () => { chat = await startChat(['--typing-timeout-ms', String(TYPING_MS)]); });
  afterEach(() => sio.closeAll());
  after(async () => {
    if (chat) {
      await chat.stop();
      chat.cleanup();
    }
  });

  const users = (list) => list.map((u) => `${u.name}:${u.id}`).sort();

  it('welcome tells a client its id and name; the name comes from the handshake auth', async () => {
    const a = await chatClient(chat.url, { name: '  Ada Lovelace ' });
    assert.equal(a.welcome.id, a.id);
    assert.equal(a.welcome.name, 'Ada Lovelace');
    assert.equal(a.welcome.limits.rateBurst, 1000);
    const anon = await chatClient(chat.url);
    assert.match(anon.welcome.name, /^guest-/);
    // a name that breaks the rules falls back to a guest name
    const bad = await chatClient(chat.url, { name: 'x'.repeat(40) });
    assert.match(bad.welcome.name, /^guest-/);
  });

  it('guest names: readable, unique among those online, kept by a reconnecting guest while free', async () => {
    const crowd = await Promise.all(Array.from({ length: 30 }, () => chatClient(chat.url)));
    const names = crowd.map((c) => c.welcome.name);
    for (const name of names) assert.match(name, /^guest-\d{4,}$/);
    assert.equal(new Set(names).size, names.length, `duplicate guest names: ${names}`);
    // the users list shows the same names
    await crowd[0].rec.waitLast('users', (list) => names.every((n) => list.some((u) => u.name === n)));

    // a reconnection that sends its guest name back keeps it, unless someone has it
    const [first] = crowd;
    const taken = await chatClient(chat.url, { auth: { guest: first.welcome.name } });
    assert.notEqual(taken.welcome.name, first.welcome.name);
    assert.match(taken.welcome.name, /^guest-\d{4,}$/);
    first.socket.disconnect();
    await crowd[1].rec.waitLast('users', (list) => !list.some((u) => u.id === first.id));
    const back = await chatClient(chat.url, { auth: { guest: first.welcome.name } });
    assert.equal(back.welcome.name, first.welcome.name);
    // a guest-shaped "guest" that is not one is ignored
    const odd = await chatClient(chat.url, { auth: { guest: 'Ada' } });
    assert.match(odd.welcome.name, /^guest-\d{4,}$/);

    // chosen names never take the guest shape: not in the handshake, not with set_name
    const sly = await chatClient(chat.url, { name: names[1] });
    assert.notEqual(sly.welcome.name, names[1]);
    assert.match(sly.welcome.name, /^guest-\d{4,}$/);
    const [res] = await ackOf(sly.socket, 'set_name', 'Guest-4242');
    assert.equal(res && res.code, 'invalid_name');
    // keeping one's own guest name is no change, and fine
    assert.deepEqual(await ackOf(sly.socket, 'set_name', sly.welcome.name), []);
  });

  it('users lists everyone online with names and ids, kept current as people come and go', async () => {
    const a = await chatClient(chat.url, { name: 'Ada' });
    const b = await chatClient(chat.url, { name: 'Bob' });
    const both = users([{ name: 'Ada', id: a.id }, { name: 'Bob', id: b.id }]);
    await a.rec.waitLast('users', (list) => assert.deepEqual(users(list), both) ?? true);
    await b.rec.waitLast('users', (list) => assert.deepEqual(users(list), both) ?? true);
    b.socket.disconnect();
    await a.rec.waitLast('users', (list) => assert.deepEqual(users(list), [`Ada:${a.id}`]) ?? true);
  });

  it('set_name renames (ack()), updates the users list and later messages; bad names are refused', async () => {
    const a = await chatClient(chat.url, { name: 'Ada' });
    const b = await chatClient(chat.url, { name: 'Bob' });
    assert.deepEqual(await ackOf(b.socket, 'set_name', 'Robert'), []);
    await a.rec.waitLast('users', (list) => list.some((u) => u.id === b.id && u.name === 'Robert'));
    await a.rec.wait('notice', (n) => n.text === 'Bob is now Robert' && n.room === null);
    b.socket.emit('message', 'signed');
    const [info] = await a.rec.wait('message_info', (i) => i.from === b.id);
    assert.equal(info.name, 'Robert');
    for (const bad of ['', '   ', 'x'.repeat(33), 'tab\there', 42]) {
      const [res] = await ackOf(b.socket, 'set_name', bad);
      assert.equal(res && res.code, 'invalid_name', `name ${JSON.stringify(bad)}`);
    }
  });

  it('room_members lists a room\'s members for its members; rooms gives every room\'s size', async () => {
    const a = await chatClient(chat.url, { name: 'Ada' });
    const b = await chatClient(chat.url, { name: 'Bob' });
    const c = await chatClient(chat.url, { name: 'Cy' });
    await join(a, 'attic');
    await join(b, 'attic');
    await join(c, 'cellar');
    const attic = users([{ name: 'Ada', id: a.id }, { name: 'Bob', id: b.id }]);
    await a.rec.wait('room_members', (room, list) => room === 'attic' && users(list).join() === attic.join());
    await c.rec.waitLast('rooms', (list) => {
      const sizes = Object.fromEntries(list.map((r) => [r.name, r.members]));
      return sizes.attic === 2 && sizes.cellar === 1;
    });
    // c is not in the attic: it never sees the attic's member list
    assert.ok(!c.rec.all('room_members').some(([room]) => room === 'attic'));
    // members leave -> the list shrinks; a disconnection counts as leaving
    await ackOf(b.socket, 'leave', 'attic');
    await a.rec.waitLast('room_members', (room, list) => room === 'attic' && list.length === 1);
    await a.rec.wait('notice', (n) => n.room === 'attic' && n.text === 'Bob left');
    await join(c, 'attic');
    await a.rec.wait('notice', (n) => n.room === 'attic' && n.text === 'Cy joined');
    c.socket.disconnect();
    await a.rec.wait('notice', (n) => n.room === 'attic' && n.text === 'Cy left');
    await a.rec.waitLast('room_members', (room, list) => room === 'attic' && users(list).join() === `Ada:${a.id}`);
  });

  it('typing shows to the others and expires by itself; a message ends it at once', async () => {
    const a = await chatClient(chat.url, { name: 'Ada' });
    const b = await chatClient(chat.url, { name: 'Bob' });
    const c = await chatClient(chat.url, { name: 'Cy' });
    await join(a, 'den');
    await join(b, 'den');

    const started = Date.now();
    a.socket.emit('typing', null);
    const [on] = await b.rec.wait('typing', (t) => t.typing === true && t.room === null);
    assert.deepEqual(on, { id: a.id, name: 'Ada', room: null, typing: true });
    await c.rec.wait('typing', (t) => t.typing === true && t.id === a.id);
    const [off] = await b.rec.wait('typing', (t) => t.typing === false && t.room === null, TYPING_MS + 2000);
    assert.equal(off.id, a.id);
    const took = Date.now() - started;
    assert.ok(took >= TYPING_MS - 50, `expired after ${took} ms`);
    // the typist does not hear about itself
    assert.deepEqual(a.rec.all('typing'), []);

    // in a room: only its members; a message ends the indicator without waiting
    a.socket.emit('typing', 'den');
    await b.rec.wait('typing', (t) => t.typing === true && t.room === 'den');
    a.socket.emit('message', 'done typing', 'den');
    const t0 = Date.now();
    await b.rec.wait('typing', (t) => t.typing === false && t.room === 'den');
    assert.ok(Date.now() - t0 < TYPING_MS, 'stopped by the message, not by expiry');
    assert.ok(!c.rec.all('typing').some(([t]) => t.room === 'den'));

    // typing in a room one is not in is ignored
    c.socket.emit('typing', 'den');
    await sio.sleep(150);
    assert.ok(!b.rec.all('typing').some(([t]) => t.id === c.id));

    // an explicit stop, and a disconnection, end it too (sooner than the expiry)
    const n0 = b.rec.all('typing').length;
    const lobbySince = () => b.rec.all('typing').slice(n0).map(([t]) => [t.room, t.typing]);
    a.socket.emit('typing', null);
    await sio.eventually(() => assert.deepEqual(lobbySince(), [[null, true]]));
    a.socket.emit('typing', null, false);
    await sio.eventually(() => assert.deepEqual(lobbySince(), [[null, true], [null, false]]), TYPING_MS - 100);
    const n = b.rec.all('typing').length;
    const since = () => b.rec.all('typing').slice(n).map(([t]) => [t.room, t.typing]);
    a.socket.emit('typing', 'den');
    await sio.eventually(() => assert.deepEqual(since(), [['den', true]]));
    a.socket.disconnect();
    await sio.eventually(() => assert.deepEqual(since(), [['den', true], ['den', false]]), TYPING_MS - 100);
  });

  it('repeated typing signals keep one indicator alive without repeating it', async () => {
    const a = await chatClient(chat.url, { name: 'Ada' });
    const b = await chatClient(chat.url, { name: 'Bob' });
    for (let i = 0; i < 4; i++) {
      a.socket.emit('typing', null);
      await sio.sleep(TYPING_MS / 2);
    }
    // still on: refreshed before each deadline, announced once
    assert.deepEqual(b.rec.all('typing').map(([t]) => t.typing), [true]);
    await b.rec.wait('typing', (t) => t.typing === false, TYPING_MS + 2000);
  });

  it('presence, names, typing and notices never arrive as message or private_message', async () => {
    const a = await chatClient(chat.url, { name: 'Ada' });
    const b = await chatClient(chat.url, { name: 'Bob' });
    await join(a, 'quiet');
    await join(b, 'quiet');
    await ackOf(b.socket, 'set_name', 'Bobby');
    b.socket.emit('typing', 'quiet');
    await ackOf(b.socket, 'leave', 'quiet');
    await a.rec.waitLast('room_members', (room, list) => room === 'quiet' && list.length === 1);
    assert.deepEqual(messages(a.rec), []);
    assert.deepEqual(a.rec.all('private_message'), []);
  });
});
