// The msgpack parser in Chromium (issue 18): a fresh page loads the client bundle built
// with socket.io-msgpack-parser from the server itself (`/socket.io/socket.io.msgpack.min.js`,
// as socket.io serves it) and talks to the test bed started with `--parser msgpack`:
// binary both ways (an ArrayBuffer comes back as one), acks, the upgrade to WebSocket, and
// a broadcast from a Node.js client of the same parser.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const parser = require('socket.io-msgpack-parser');
const { start } = require('../lib/server');
const sio = require('../lib/sio');
const { browsers } = require('../lib/browser');

describe('the msgpack bundle in Chromium against testbed --parser msgpack', () => {
  let srv;
  let chromium;
  before(async () => {
    srv = await start('examples/testbed', ['--parser', 'msgpack']);
    chromium = browsers();
  });
  after(async () => {
    await sio.closeAll();
    if (chromium) await chromium.closeAll();
    if (srv) await srv.stop();
  });

  it('echoes binary, upgrades to WebSocket, and receives a broadcast', { timeout: 30000 }, async () => {
    const page = await chromium.page('msgpack');
    await page.goto(`${srv.url}/socket.io/socket.io.msgpack.min.js`);
    await page.addScriptTag({ url: '/socket.io/socket.io.msgpack.min.js' });
    // Long-polling first (binary travels base64 in its payloads), then a socket that
    // upgrades as the client does by default.
    const first = await page.evaluate(() => new Promise((resolve, reject) => {
      const socket = window.io({ transports: ['polling'], forceNew: true });
      socket.on('connect_error', (e) => reject(new Error(e.message)));
      socket.on('connect', () => {
        const sent = new Uint8Array([1, 2, 250, 0, 255]);
        const transport = socket.io.engine.transport.name;
        socket.emit('echo', 'hi', { blob: sent.buffer, n: 1.5 }, (text, obj) => resolve({
          transport,
          text,
          isArrayBuffer: obj.blob instanceof ArrayBuffer,
          bytes: Array.from(new Uint8Array(obj.blob)),
          n: obj.n,
        }));
      });
    }));
    assert.deepEqual(first, { transport: 'polling', text: 'hi', isArrayBuffer: true, bytes: [1, 2, 250, 0, 255], n: 1.5 });

    await page.evaluate(() => {
      window.socket = window.io({ forceNew: true });
      window.news = [];
      window.socket.on('news', (...args) => window.news.push(args));
    });
    await page.waitForFunction(() => window.socket.io.engine.transport.name === 'websocket', null, { timeout: 5000 });
    const again = await page.evaluate(() => new Promise((resolve) => {
      window.socket.emit('echo', new Uint8Array([7, 7]).buffer, (blob) => resolve(Array.from(new Uint8Array(blob))));
    }));
    assert.deepEqual(again, [7, 7]);

    const publisher = await sio.connect(srv.url, { transports: ['websocket'], parser });
    await sio.ack(publisher, 'emit', { event: 'news', args: ['from node', Buffer.from([9, 8, 7])] });
    await page.waitForFunction(() => window.news.length === 1, null, { timeout: 5000 });
    const news = await page.evaluate(() => window.news.map(([text, blob]) => [text, Array.from(new Uint8Array(blob))]));
    assert.deepEqual(news, [['from node', [9, 8, 7]]]);
    assert.deepEqual(chromium.problems, []);
  });
});
