#!/usr/bin/env python3
"""Sums up an Autobahn|Testsuite report (the index.json that kosoku writes, in
Autobahn's own format) section by section: OK / NON-STRICT / INFORMATIONAL /
FAILED, then names every case that is not OK.

    autobahn_summary.py REPORT_DIR SECTION...

Exits 1 when a case failed, or when a section asked for has no case at all, so
that a runner that ran nothing cannot pass. The last line is
`autobahn: N passed, N failed`, which scripts/test adds to its total.
"""

import json
import sys
from collections import Counter
from pathlib import Path

NAMES = {
    "1": "framing",
    "2": "pings/pongs",
    "3": "reserved bits",
    "4": "opcodes",
    "5": "fragmentation",
    "6": "UTF-8",
    "7": "close handling",
    "9": "limits/performance",
    "10": "auto-fragmentation",
}
PASSING = ("OK", "NON-STRICT", "INFORMATIONAL")
COLUMNS = PASSING + ("FAILED",)


def verdict(case):
    """Autobahn judges the messages (behavior) and the closing handshake
    (behaviorClose) apart; a case passes only when both do. ERROR, the
    runner's word for a case it could not run, is a failure too."""
    if case["behavior"] in PASSING and case["behaviorClose"] in ("OK", "INFORMATIONAL"):
        return case["behavior"]
    return "FAILED"


def case_key(case_id):
    return [int(part) for part in case_id.split(".")]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    report, sections = Path(sys.argv[1]), sys.argv[2:]
    try:
        index = json.loads((report / "index.json").read_text())
    except (OSError, ValueError) as e:
        print(f"autobahn: no report in {report}: {e}")
        print("autobahn: 0 passed, 1 failed")
        return 1
    cases = {cid: case for agent in index.values() for cid, case in agent.items()}
    counts = {section: Counter() for section in sections}
    for cid, case in cases.items():
        section = cid.split(".")[0]
        if section in counts:
            counts[section][verdict(case)] += 1

    print("| section | cases | " + " | ".join(COLUMNS) + " |")
    print("| --- | ---: |" + " ---: |" * len(COLUMNS))
    total = Counter()
    for section in sections:
        count = counts[section]
        total += count
        label = f"{section} {NAMES.get(section, '')}".strip()
        row = " | ".join(str(count[c]) for c in COLUMNS)
        print(f"| {label} | {sum(count.values())} | {row} |")
    row = " | ".join(str(total[c]) for c in COLUMNS)
    print(f"| all | {sum(total.values())} | {row} |")

    for cid in sorted(cases, key=case_key):
        case = cases[cid]
        if cid.split(".")[0] in counts and verdict(case) != "OK":
            print(
                f"  {cid}: {verdict(case)} (behavior {case['behavior']}, "
                f"close {case['behaviorClose']}, close code {case['remoteCloseCode']})"
            )
    empty = [section for section in sections if not counts[section]]
    for section in empty:
        print(f"autobahn: section {section}: no case ran")
    failed = total["FAILED"] + len(empty)
    print(f"autobahn: {sum(total.values()) - total['FAILED']} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
