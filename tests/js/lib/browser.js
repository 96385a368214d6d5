// Chromium for the browser tests: Debian's /usr/bin/chromium driven by playwright-core
// (`npx playwright install` cannot work on these machines). Each page gets a profile of
// its own, so that two pages are two first-time visitors rather than two tabs of one;
// anything a page does that a user would notice as broken (a dialog, a page error, a
// Content-Security-Policy refusal) is recorded in `problems`, which a suite asserts empty.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const CHROMIUM = '/usr/bin/chromium';

/** Starts fresh Chromium profiles on demand; `closeAll()` ends them and removes their files. */
function browsers() {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing (Debian: apt-get install chromium)`);
  const started = [];
  const problems = [];
  return {
    problems,
    /** A page in a new profile; `who` names it in `problems`. */
    async page(who) {
      const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rally-chat-chromium-'));
      const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 1100, height: 700 },
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
      });
      started.push({ context, profile });
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
    },
    async closeAll() {
      for (const { context, profile } of started.splice(0)) {
        await context.close().catch(() => {});
        fs.rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}

module.exports = { browsers, CHROMIUM };
