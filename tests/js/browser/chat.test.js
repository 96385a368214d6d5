// rally-chat's page in a real browser: Debian's Chromium driven by playwright-core.
// Two fresh pages (fresh profiles, no name chosen) are online the moment they open, with
// the lobby's history and a guest name each, and chat with each other and with a plain
// socket.io-client; then they choose names and go on with the keyboard alone (Enter sends), join a room,
// exchange a private message, see each other typing; a payload like
// `<img src=x onerror=alert(1)>` shows literally and runs nothing; the page works under
// its Content-Security-Policy. Screenshots go to artifacts/ at the repository root.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { browsers } = require('../lib/browser');
const { ROOT } = require('../lib/server');
const sio = require('../lib/sio');
const { startChat, chatClient } = require('../chat/chat-helpers');

const ARTIFACTS = path.join(ROOT, 'artifacts');
const XSS = '<img src=x onerror=alert(1)>';
const WAIT = { timeout: 10000 };

describe('rally-chat page in Chromium', () => {
  let chat;
  const chromium = browsers(); // one profile (and Chromium) per person: two users, not two tabs
  const problems = chromium.problems; // dialogs, CSP violations, page errors: each fails the suite
  let ada;
  let bob;
  let node; // a plain socket.io-client in the lobby, no name given
  const browser = (who) => chromium.page(who);

  before(async () => {
    chat = await startChat();
    node = await chatClient(chat.url);
    // Something in the lobby's history before anyone opens the page.
    node.socket.emit('message', 'Earlier, in the lobby');
    await node.rec.wait('message', (payload) => payload === 'Earlier, in the lobby');
    ada = await browser('ada');
    bob = await browser('bob');
  });

  after(async () => {
    await chromium.closeAll();
    await sio.closeAll();
    if (chat) {
      await chat.stop();
      chat.cleanup();
    }
  });

  /**
   * A first visit: loads the page and does nothing else. It must be online at once, with
   * the lobby's history and a guest name shown in the header; resolves that name.
   */
  async function openFresh(page) {
    await page.bringToFront();
    await page.goto(chat.url, WAIT);
    await page.locator('#status', { hasText: 'online' }).waitFor(WAIT);
    await message(page, 'Earlier, in the lobby').waitFor(WAIT);
    // the message box has the focus: a newcomer can type at once
    assert.equal(await page.evaluate(() => document.activeElement.id), 'input');
    await page.waitForFunction(() => /^guest-\d+$/.test(document.getElementById('name-input').value), null, WAIT);
    const name = await page.locator('#name-input').inputValue();
    await page.locator('#users button', { hasText: `${name} (you)` }).waitFor(WAIT);
    return name;
  }

  /** Chooses a display name in the header with the keyboard. */
  async function chooseName(page, name) {
    await page.bringToFront();
    await page.locator('#name-input').fill('');
    await page.locator('#name-input').focus();
    await page.keyboard.type(name);
    await page.keyboard.press('Enter');
    await page.locator('#users button', { hasText: `${name} (you)` }).waitFor(WAIT);
  }

  /** Types into the message box and sends with Enter. */
  async function say(page, text) {
    await page.bringToFront();
    await page.locator('#input').focus();
    await page.keyboard.type(text);
    await page.keyboard.press('Enter');
  }

  function message(page, text) {
    return page.locator('#messages .message .text', { hasText: text });
  }

  it('fresh pages, no name chosen anywhere: online at once, a typed message reaches both pages and a Node client', async () => {
    const guestA = await openFresh(ada);
    const guestB = await openFresh(bob);
    assert.notEqual(guestA, guestB);
    // each page lists the other, and the Node client, by their guest names
    await ada.locator('#users button', { hasText: guestB }).waitFor(WAIT);
    await ada.locator('#users button', { hasText: node.welcome.name }).waitFor(WAIT);
    await bob.locator('#users button', { hasText: guestA }).waitFor(WAIT);
    await bob.bringToFront();
    await bob.locator('#online-count', { hasText: '3' }).waitFor(WAIT);

    // typed and sent with Enter in page A, no other step
    await say(ada, 'Hello from a fresh page');
    await message(ada, 'Hello from a fresh page').waitFor(WAIT);
    await message(bob, 'Hello from a fresh page').waitFor(WAIT);
    const [payload] = await node.rec.wait('message', (p) => p === 'Hello from a fresh page');
    assert.equal(payload, 'Hello from a fresh page');
    const [info] = await node.rec.wait('message_info', (i) => i.name === guestA);
    assert.equal(info.room, null);
    assert.equal(await bob.locator('#messages .message', { hasText: 'Hello from a fresh page' }).locator('.who').textContent(), guestA);

    // the Send button works as well as Enter
    await bob.bringToFront();
    await bob.locator('#input').fill('Sent with the button');
    await bob.locator('#composer button[type=submit]').click();
    await message(ada, 'Sent with the button').waitFor(WAIT);
    await node.rec.wait('message', (p) => p === 'Sent with the button');

    // what a newcomer sees (docs/chat.png is this picture)
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await ada.bringToFront();
    await ada.locator('#input').blur();
    await ada.screenshot({ path: path.join(ARTIFACTS, 'chat-fresh.png') });

    // page B chooses a name: its next message shows it, everywhere
    await chooseName(bob, 'Bob');
    await say(bob, 'Now with a name');
    await message(ada, 'Now with a name').waitFor(WAIT);
    await ada.bringToFront();
    assert.equal(await ada.locator('#messages .message', { hasText: 'Now with a name' }).locator('.who').textContent(), 'Bob');
    await node.rec.wait('message_info', (i) => i.name === 'Bob');
    await ada.locator('#users button', { hasText: 'Bob' }).waitFor(WAIT);
    await chooseName(ada, 'Ada');
  });

  it('two pages chat in the lobby; each message shows its sender\'s name and a time', async () => {
    await say(ada, 'Hello Bob, welcome to Rally chat!');
    await message(bob, 'Hello Bob').waitFor(WAIT);
    const item = bob.locator('#messages .message', { hasText: 'Hello Bob' });
    assert.equal(await item.locator('.who').textContent(), 'Ada');
    assert.match(await item.locator('time').textContent(), /\d/);
    await say(bob, 'Hi Ada! Sending from the keyboard alone.');
    await message(ada, 'Hi Ada!').waitFor(WAIT);
    await ada.bringToFront();
    assert.equal(await ada.locator('#messages .message', { hasText: 'Hi Ada!' }).locator('.who').textContent(), 'Bob');
    // the input is cleared after sending
    assert.equal(await ada.locator('#input').inputValue(), '');
    // the online list shows both, with names
    await ada.locator('#users button', { hasText: 'Bob' }).waitFor(WAIT);
  });

  it('an HTML payload is shown literally and runs nothing, live and from history', async () => {
    await say(ada, XSS);
    const shown = message(bob, 'onerror');
    await shown.waitFor(WAIT);
    assert.equal(await shown.textContent(), XSS);
    assert.equal(await bob.locator('#messages img').count(), 0);
    assert.equal(await ada.locator('#messages img').count(), 0);
    // the lobby's history after a reload renders it as text too
    await bob.bringToFront();
    await bob.reload(WAIT);
    await bob.locator('#status', { hasText: 'online' }).waitFor(WAIT);
    const again = message(bob, 'onerror');
    await again.waitFor(WAIT);
    assert.equal(await again.textContent(), XSS);
    assert.equal(await bob.locator('#messages img').count(), 0);
    // the name survived the reload (kept in localStorage, sent in the handshake)
    await bob.locator('#users button', { hasText: 'Bob (you)' }).waitFor(WAIT);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(problems, []);
  });

  it('rooms: join with the keyboard, the other page joins from the room list and sees the history', async () => {
    await ada.bringToFront();
    await ada.locator('#room-input').focus();
    await ada.keyboard.type('design');
    await ada.keyboard.press('Enter');
    await ada.locator('#channel-title', { hasText: '#design' }).waitFor(WAIT);
    await say(ada, 'First post in #design');
    await message(ada, 'First post in #design').waitFor(WAIT);

    await bob.bringToFront();
    const roomButton = bob.locator('#rooms button', { hasText: '#design' });
    await roomButton.waitFor(WAIT);
    await roomButton.focus();
    await bob.keyboard.press('Enter');
    await bob.locator('#channel-title', { hasText: '#design' }).waitFor(WAIT);
    await message(bob, 'First post in #design').waitFor(WAIT); // from history
    await bob.locator('#channel-detail', { hasText: '2 here' }).waitFor(WAIT);
    await say(bob, 'Joined! Room messages stay in the room.');
    await message(ada, 'Joined!').waitFor(WAIT);
  });

  it('typing shows on the other page, and goes away by itself', async () => {
    await ada.bringToFront();
    await ada.locator('#channels button', { hasText: 'Lobby' }).click();
    await bob.bringToFront();
    await bob.locator('#channels button', { hasText: 'Lobby' }).click();
    await bob.locator('#input').focus();
    await bob.keyboard.type('I am typing');
    await ada.bringToFront();
    await ada.locator('#typing', { hasText: 'Bob is typing' }).waitFor(WAIT);
    await ada.locator('#typing', { hasText: /^$/ }).waitFor({ timeout: 10000 });
    await bob.bringToFront();
    await bob.locator('#input').fill('');
  });

  it('private messages: pick someone in the online list; only they get it', async () => {
    await ada.bringToFront();
    await ada.locator('#users button', { hasText: 'Bob' }).click();
    await ada.locator('#channel-title', { hasText: '@Bob' }).waitFor(WAIT);
    await say(ada, 'This one is just for you.');
    await message(ada, 'just for you').waitFor(WAIT);
    await bob.bringToFront();
    const pm = bob.locator('#channels button', { hasText: '@Ada' });
    await pm.waitFor(WAIT);
    await pm.locator('.badge').waitFor(WAIT);
    await pm.click();
    await message(bob, 'just for you').waitFor(WAIT);
    await say(bob, 'Got it, thanks!');
    await ada.bringToFront();
    await message(ada, 'Got it, thanks!').waitFor(WAIT);
  });

  it('screenshots (desktop and phone) are saved in artifacts/', async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await ada.bringToFront();
    await ada.locator('#channels button', { hasText: 'Lobby' }).click();
    await say(ada, 'Rally chat: Socket.IO, served from Rust.');
    await message(ada, 'served from Rust').waitFor(WAIT);
    await ada.locator('#input').fill('');
    await ada.locator('#input').blur();
    await ada.screenshot({ path: path.join(ARTIFACTS, 'chat.png') });
    await bob.bringToFront();
    await bob.setViewportSize({ width: 390, height: 760 });
    await bob.locator('#channels button', { hasText: 'Lobby' }).evaluate((b) => b.click());
    await bob.screenshot({ path: path.join(ARTIFACTS, 'chat-phone.png') });
    // on a phone the lists fold behind a button, reachable with the keyboard
    assert.equal(await bob.locator('#sidebar').isVisible(), false);
    await bob.locator('#menu-toggle').focus();
    await bob.keyboard.press('Enter');
    assert.equal(await bob.locator('#sidebar').isVisible(), true);
    await bob.keyboard.press('Escape');
    assert.equal(await bob.locator('#sidebar').isVisible(), false);
    for (const file of ['chat.png', 'chat-phone.png']) {
      assert.ok(fs.statSync(path.join(ARTIFACTS, file)).size > 10000, file);
    }
    assert.deepEqual(problems, []);
  });
});
