// HTTP compression of long-polling answers (issue 19), as Chromium negotiates it: a fresh
// page's socket.io-client on polling gets its long answers gzip-compressed (Chromium
// accepts gzip, deflate, br and zstd; the engine writes gzip), its short ones as they
// are, and reads both unchanged.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../lib/server');
const { browsers } = require('../lib/browser');

describe('long-polling answers compressed for Chromium (testbed)', () => {
  let srv;
  let chromium;
  before(async () => {
    srv = await start('examples/testbed');
    chromium = browsers();
  });
  after(async () => {
    if (chromium) await chromium.closeAll();
    if (srv) await srv.stop();
  });

  it('a long answer comes gzip-compressed and reads back whole; a short one as it is', { timeout: 30000 }, async () => {
    const page = await chromium.page('polling');
    // Each answer's headers, read as the answer comes; awaited before the checks.
    const reading = [];
    page.on('response', (response) => {
      const url = response.url();
      if (!/transport=polling/.test(url) || !/sid=/.test(url) || response.request().method() !== 'GET') return;
      reading.push(response.allHeaders().then((headers) => ({
        encoding: headers['content-encoding'] || null,
        length: Number(headers['content-length'] || -1),
      })));
    });
    await page.goto(`${srv.url}/socket.io/socket.io.js`);
    await page.addScriptTag({ url: '/socket.io/socket.io.js' });
    const long = 'chat message '.repeat(400);
    const echoed = await page.evaluate((text) => new Promise((resolve, reject) => {
      const socket = window.io({ transports: ['polling'] });
      socket.on('connect_error', (e) => reject(new Error(e.message)));
      socket.on('connect', () => {
        socket.emit('echo', 'short', (short) => {
          socket.emit('echo', text, (back) => resolve([short, back]));
        });
      });
    }), long);
    assert.deepEqual(echoed, ['short', long]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const polls = await Promise.all(reading);
    const compressed = polls.filter((p) => p.encoding === 'gzip');
    assert.ok(compressed.length >= 1, `no gzip answer among ${JSON.stringify(polls)}`);
    assert.ok(compressed.every((p) => p.length > 0 && p.length < long.length / 5),
      `gzip answers should be small: ${JSON.stringify(compressed)}`);
    assert.ok(polls.some((p) => p.encoding === null), `the short answers go as they are: ${JSON.stringify(polls)}`);
    assert.deepEqual(chromium.problems, []);
  });
});
