// rally-chat's page in a real browser: Debian's Chromium driven by playwright-core.
// Two pages chat with each other using the keyboard alone (Enter sends), join a room,
// exchange a private message, see each other typing; a payload like
// `<img src=x onerror=alert(1)>` shows literally and runs nothing; the page works under
// its Content-Security-Policy. Screenshots go to artifacts/ at the repository root.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { ROOT } = require('../lib/server');
const { startChat } = require('../chat/chat-helpers');

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'artifacts');
const XSS = '<img src=x onerror=alert(1)>';
const WAIT = { timeout: 10000 };

describe('rally-chat page in Chromium', () => {
  let chat;
  const browsers = []; // one profile (and Chromium) per person: two users, not two tabs
  const problems = []; // dialogs, CSP violations, page errors: each fails the suite
  let ada;
  let bob;

  async function browser(who) {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rally-chat-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1100, height: 700 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
    browsers.push({ context, profile });
    const page = context.pages()[0] || (await context.newPage());
    page.on('dialog', async (dialog) => {
      problems.push(`${who}: a ${dialog.type()} dialog opened: ${dialog.message()}`);
      await dialog.dismiss().catch(() => {});
    });
    page.on('pageerror', (err) => problems.push(`${who}: page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) {
        problems.push(`${who}: ${msg.text()}`);
      }
    });
    return page;
  }

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing (Debian: apt-get install chromium)`);
    chat = await startChat();
    ada = await browser('ada');
    bob = await browser('bob');
  });

  after(async () => {
    for (const { context, profile } of browsers) {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    }
    if (chat) {
      await chat.stop();
      chat.cleanup();
    }
  });

  /** Loads the page, waits until it is online, and sets the display name with the keyboard. */
  async function open(page, name) {
    await page.bringToFront();
    await page.goto(chat.url, WAIT);
    // a first visit asks for a name (focused), and connects once it is given
    await page.locator('#status', { hasText: 'choose a name' }).waitFor(WAIT);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'name-input');
    await page.keyboard.type(name);
    await page.keyboard.press('Enter');
    await page.locator('#status', { hasText: 'online' }).waitFor(WAIT);
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

  it('two pages chat in the lobby; each message shows its sender\'s name and a time', async () => {
    await open(ada, 'Ada');
    await open(bob, 'Bob');
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
