// Issue 14's proof of connection state recovery: 20 subscribers behind a proxy that cuts
// their connections seven times (reset and blackhole in turn, 1 to 5 s each, 1 s
// heartbeat) while a publisher streams 20 numbered messages a second for 60 s; each
// subscriber must end with every message, in order, once, and keep its socket id.
// Run by stream-testbed.test.js (the testbed, --recovery), stream-chat.test.js (the
// chat, --recovery all) and stream-cluster.test.js (two chat servers on Redis streams,
// each reconnection sent to the other server); see scenario.js.
//
// Environment: RALLY_RECOVERY_SECONDS (60), RALLY_RECOVERY_CUTS (7),
// RALLY_RECOVERY_SUBSCRIBERS (20), RALLY_RECOVERY_RATE (20) shorten a run while
// developing; RALLY_RECOVERY_OFF=1 runs it against servers without recovery, which must
// fail (it shows the harness sees losses); baseline.js measures that case.
// RALLY_RECOVERY_KINDS picks other servers for a file; `node` is Node's socket.io with its
// own recovery (node-peer.js), the reference that shows the harness can be satisfied:
// `RALLY_RECOVERY_KINDS=node node --test recovery/stream-testbed.test.js`.
'use strict';

const { describe, it } = require('node:test');
const { params, runScenario, assertRecovered, assertDisruption } = require('./scenario');

const RECOVERY = process.env.RALLY_RECOVERY_OFF !== '1';
const p = params();
// the run itself, its start-up, the 10 s catch-up and the clean-up, with room to spare
const TEST_TIMEOUT = (p.seconds + 40) * 1000;

/**
 * The proof against the servers `defaultKinds` names (RALLY_RECOVERY_KINDS overrides them),
 * one test each. One test file per server: a file's tests share the runner's per-file
 * time bound, and each run takes a minute.
 */
function proveRecovery(defaultKinds) {
  describe(`connection state recovery through cut connections (${p.seconds} s, ${p.cuts} cuts, ${p.subscribers} subscribers)`, () => {
    const flags = {
      testbed: '--recovery',
      chat: '--recovery all',
      cluster: '--recovery all, two servers on Redis streams, each reconnection to the other server',
      'cluster-redis': '--recovery all, two servers on Redis streams, Redis restarted empty mid-run',
      'cluster-kill': '--recovery all, two servers on Redis streams, the subscribers\' server killed mid-run',
      node: 'connectionStateRecovery',
    };
    const kinds = (process.env.RALLY_RECOVERY_KINDS || defaultKinds.join(',')).split(',').map((k) => k.trim()).filter(Boolean);
    for (const kind of kinds) {
      const promise = kind === 'cluster-kill'
        ? 'every subscriber sees every message, in order, once: live, or in the history of the one fresh session the kill forced'
        : 'every subscriber gets every message, in order, once, with its socket id kept';
      it(`${kind} ${RECOVERY ? flags[kind] : 'WITHOUT recovery'}: ${promise}`, { timeout: TEST_TIMEOUT }, async (t) => {
        const result = await runScenario({ kind, recovery: RECOVERY, log: (m) => t.diagnostic(m) });
        if (result.disrupted) assertDisruption(t, result);
        else assertRecovered(t, result, 'subscribers');
      });
    }
  });
}

module.exports = { proveRecovery };
