// The tutorial's server as the crate's `chat` example writes it (crates/rally/examples/chat.rs),
// driven by the official socket.io-client: a message to everyone, a room joined with an
// answered callback, a message to one room, a private message to one socket id, and a
// client that sends the wrong shape told so through its callback. Every event each
// client receives is recorded, so a message that reached the wrong client fails the test.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { spawnServer, binary } = require('../lib/server');
const sio = require('../lib/sio');

describe('the tutorial example (examples/chat) with socket.io-client', () => {
  let srv;
  before(async () => {
    srv = await spawnServer(binary('examples/chat'), [], { env: { PORT: '0' }, label: 'examples/chat' });
  });
  afterEach(() => sio.closeAll());
  after(() => srv && srv.stop());

  /** Connects clients that record every `chat message` and `private message`. */
  async function clients(n) {
    const list = await sio.connectMany(n, srv.url);
    for (const c of list) {
      c.chat = sio.collect(c, 'chat message');
      c.private = sio.collect(c, 'private message');
    }
    return list;
  }

  it('serves the page and the client bundle', async () => {
    const page = await fetch(`${srv.url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /socket\.io\.js/);
    assert.equal((await fetch(`${srv.url}/socket.io/socket.io.js`)).status, 200);
  });

  it('a chat message reaches everyone, the sender included', async () => {
    const [a, b, c] = await clients(3);
    a.emit('chat message', 'hello');
    await sio.waitFor(() => [a, b, c].every((x) => x.chat.length === 1), undefined, 'three deliveries');
    for (const x of [a, b, c]) assert.deepEqual([...x.chat], [['hello']]);
  });

  it('join answers the callback, and a room message reaches that room only', async () => {
    const [a, b, c] = await clients(3);
    assert.deepEqual(await sio.ack(a, 'join', 'rust'), { joined: 'rust' });
    assert.deepEqual(await sio.ack(b, 'join', 'rust'), { joined: 'rust' });
    c.emit('room message', 'rust', 'from outside');
    await sio.waitFor(() => a.chat.length === 1 && b.chat.length === 1, undefined, 'room deliveries');
    for (const x of [a, b]) assert.deepEqual([...x.chat], [['from outside', 'rust']]);
    await sio.sleep(200);
    assert.deepEqual([...c.chat], []);
  });

  it('a private message reaches one socket by its id, with the sender id', async () => {
    const [a, b, c] = await clients(3);
    a.emit('private message', c.id, 'psst');
    await sio.waitFor(() => c.private.length === 1, undefined, 'the private message');
    assert.deepEqual([...c.private], [[a.id, 'psst']]);
    await sio.sleep(200);
    assert.deepEqual([...a.private], []);
    assert.deepEqual([...b.private], []);
  });

  it('arguments of the wrong shape are answered with an error, and nothing is sent', async () => {
    const [a, b] = await clients(2);
    const answer = await sio.ack(a, 'join', { room: 'not a string' });
    assert.match(answer.error, /argument 0.*invalid type/);
    a.emit('room message', 42, 'text');
    await sio.sleep(200);
    assert.deepEqual([...a.chat], []);
    assert.deepEqual([...b.chat], []);
    assert.match(srv.output(), /event handler failed/);
  });
});
