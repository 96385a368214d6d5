#!/usr/bin/env node
// Run by hand, not part of the suite: the stream scenario of proof.js against
// servers WITHOUT connection state recovery, printing how much of the stream the
// subscribers got; the figure recovery is measured against (issue 14: 41 % before).
//
//   node recovery/baseline.js [testbed|chat ...]    (from tests/js; both by default)
//
// The same RALLY_RECOVERY_* variables as proof.js size the run.
'use strict';

const { params, runScenario, report } = require('./scenario');

async function main() {
  const kinds = process.argv.slice(2).length ? process.argv.slice(2) : ['testbed', 'chat'];
  const p = params();
  console.log(`baseline: ${p.seconds} s, ${p.cuts} cuts, ${p.subscribers} subscribers, ${p.rate} messages/s, no recovery`);
  const figures = [];
  for (const kind of kinds) {
    const result = await runScenario({ kind, recovery: false, log: (m) => console.log(`  ${m}`) });
    const { text, overallPct } = report(result);
    console.log(text);
    figures.push(`${kind}: ${overallPct.toFixed(1)} % delivered`);
  }
  console.log(`\nbaseline without recovery: ${figures.join('; ')}`);
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
