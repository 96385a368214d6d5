// Issue 14's stream proof with the chat's real page as the subscriber: a few Chromium pages
// (fresh profiles, first-time visitors, nothing prepared) open rally-chat through the
// cutting proxy, against `--recovery opt-in` (the default: the page asks for recovery
// itself) with a 1 s heartbeat, while a publisher streams `seq n` into the lobby for 60 s
// and the proxy cuts the pages' connections seven times. Every page must end up showing
// exactly seq 0..N-1, in order, once, as the same socket, with nothing broken on the page;
// recovery/proof.js proves the same for socket.io-client subscribers, and the run
// itself is recovery/scenario.js's (kind 'pages').
//
// Environment: RALLY_RECOVERY_PAGES (4), RALLY_RECOVERY_SECONDS (60), RALLY_RECOVERY_CUTS
// (7), RALLY_RECOVERY_RATE (20) size it, as for proof.js.
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { params, runScenario, assertRecovered } = require('../recovery/scenario');

const p = params();
// Chromium start-up (a few seconds each), the run, the 10 s catch-up and the clean-up;
// at full size it stays under two minutes.
const TEST_TIMEOUT = (p.seconds + 55) * 1000;

describe(`the chat's page through cut connections (Chromium, ${p.pages} pages, ${p.seconds} s, ${p.cuts} cuts)`, () => {
  it('rally-chat --recovery opt-in: every page shows every message, in order, once, as the same socket', { timeout: TEST_TIMEOUT }, async (t) => {
    const result = await runScenario({ kind: 'pages', recovery: true, log: (m) => t.diagnostic(m) });
    const text = assertRecovered(t, result, 'pages');
    // The publisher never saw a page leave the chat's users.
    const left = result.subs.filter((a) => a.absentFromUsers !== 0);
    assert.equal(left.length, 0, `${left.length} pages dropped out of the publisher's users snapshots:\n${text}`);
    assert.deepEqual(result.problems, [], `the pages reported problems:\n${text}`);
  });
});
