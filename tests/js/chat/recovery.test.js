// rally-chat with connection state recovery: who is offered it (--recovery opt-in, all,
// off), what a client offered it sees (an offset after each event's arguments), and what
// happens when its connection drops and comes back: the same socket id and rooms, every
// message sent meanwhile and nothing twice, no second welcome or history, and nobody
// told it left. One that does not come back is announced as gone once the window passed.
'use strict';

const { describe, it, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const sio = require('../lib/sio');
const { chatServers, chatClient, ackOf, join } = require('./chat-helpers');

const reconnecting = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200 };

/** Drops a client's connection as a network would: the client reconnects by itself. */
function drop(client) {
  client.socket.io.engine.close();
}

/** The text of each `message` a recorder got (the payload's `text`), in order. */
function texts(rec) {
  return rec.all('message').map((args) => args[0].text);
}

describe('rally-chat connection state recovery', () => {
  const servers = chatServers();
  afterEach(() => sio.closeAll());
  after(() => servers.stopAll());

  it('opt-in (the default): only a client that asks gets offsets; the tutorial table is unchanged for others', async () => {
    const chat = await servers.start([]);
    const plain = await chatClient(chat.url);
    const asking = await chatClient(chat.url, { auth: { recover: true } });
    assert.equal(plain.welcome.recovery, false);
    assert.equal(asking.welcome.recovery, true);
    await ackOf(plain.socket, 'message', { text: 'hi' });
    const toPlain = await plain.rec.wait('message');
    const toAsking = await asking.rec.wait('message');
    assert.equal(toPlain.length, 1, `lobby message as (payload): ${sio.safeJson(toPlain)}`);
    assert.equal(toAsking.length, 2, `(payload, offset): ${sio.safeJson(toAsking)}`);
    assert.equal(typeof toAsking[1], 'string');
    assert.deepEqual(toAsking[0], toPlain[0]);
  });

  it('a client that drops and comes back is the same socket, misses nothing, and nobody sees it leave', async () => {
    const chat = await servers.start(['--recovery', 'all']);
    const other = await chatClient(chat.url, { name: 'Other' });
    const ada = await chatClient(chat.url, { name: 'Ada', ...reconnecting });
    await join(ada, 'garden');
    await join(other, 'garden');
    await ackOf(other.socket, 'message', { text: 'before' });
    await ada.rec.wait('message', (p) => p.text === 'before');
    const welcomes = ada.rec.all('welcome').length;
    const histories = ada.rec.all('history').length;

    const reconnected = new Promise((resolve) => ada.socket.io.once('reconnect', resolve));
    drop(ada);
    // Sent while Ada is away, to the lobby and to her room.
    await ackOf(other.socket, 'message', { text: 'away 1' });
    await ackOf(other.socket, 'message', { text: 'away 2' }, 'garden');
    await reconnected;
    await sio.waitConnect(ada.socket);
    assert.equal(ada.socket.id, ada.id, 'the same socket id');
    await ada.rec.wait('message', (p) => p.text === 'away 2');

    // Still in her room, without joining again.
    await ackOf(other.socket, 'message', { text: 'after' }, 'garden');
    await ada.rec.wait('message', (p) => p.text === 'after');
    assert.deepEqual(texts(ada.rec), ['before', 'away 1', 'away 2', 'after']);
    for (const args of ada.rec.all('message')) {
      assert.equal(typeof args[args.length - 1], 'string', 'every message carries its offset');
    }
    assert.equal(ada.rec.all('welcome').length, welcomes, 'no second welcome');
    assert.equal(ada.rec.all('history').length, histories, 'no second history');
    await sio.sleep(300);
    const notices = other.rec.all('notice').map(([n]) => n.text);
    assert.ok(!notices.some((t) => t.includes('Ada left')), `nobody is told: ${notices}`);
  });

  it('a client that does not come back within the window is announced as gone', async () => {
    const chat = await servers.start(['--recovery', 'all', '--recovery-window-ms', '500']);
    const other = await chatClient(chat.url, { name: 'Other' });
    const bob = await chatClient(chat.url, { name: 'Bob' });
    await join(bob, 'garden');
    await join(other, 'garden');
    bob.socket.io.engine.close(); // no reconnection: the test client does not reconnect
    await sio.sleep(200);
    assert.ok(!other.rec.all('notice').some(([n]) => n.text === 'Bob left'), 'not yet: he may come back');
    await other.rec.wait('notice', (n) => n.text === 'Bob left' && n.room === 'garden', 4000);
    await other.rec.waitLast('users', (list) => !list.some((u) => u.id === bob.id), 4000);
  });

  it('leaving on purpose is told at once, and --recovery off offers recovery to nobody', async () => {
    const chat = await servers.start(['--recovery', 'all']);
    const other = await chatClient(chat.url, { name: 'Other' });
    const cy = await chatClient(chat.url, { name: 'Cy' });
    await join(cy, 'garden');
    await join(other, 'garden');
    cy.socket.disconnect();
    await other.rec.wait('notice', (n) => n.text === 'Cy left', 2000);

    const off = await servers.start(['--recovery', 'off']);
    const asking = await chatClient(off.url, { auth: { recover: true } });
    assert.equal(asking.welcome.recovery, false);
    await ackOf(asking.socket, 'message', { text: 'plain' });
    const args = await asking.rec.wait('message');
    assert.equal(args.length, 1, sio.safeJson(args));
  });
});
