#!/usr/bin/env python3
"""Our response latency computed from the raw mailbox, apart from tend, to set beside
`tend report --json` (for scripts/bench and the README's figures).

    report_check.py MAILDIR_USER_DIR REPORT_JSON --own-domain acme.test

Reads every message file of the Maildir++ folders (INBOX and .Sent), headers only, with
Python's own email parser. Threads are the References chain's first id (else In-Reply-To,
else the message's own id). In each thread, in causal order (a reply after what its References
name: by the length of that chain), then by Date, as tend orders them: a wait opens at a buyer message
that is the thread's first message or the first buyer message after one of ours, and closes
at our next message. Waits that opened in the report's window [since, until) count;
answered ones give the latency, nearest-rank p50 and p90. Prints one JSON object with both
sides' figures.
"""
import json
import math
import os
import sys
from datetime import datetime
from email.parser import BytesHeaderParser
from email.utils import parseaddr, parsedate_to_datetime


def messages(root):
    parser = BytesHeaderParser()
    for folder in ("cur", "new", ".Sent/cur", ".Sent/new"):
        d = os.path.join(root, folder)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as f:
                h = parser.parse(f)
            try:
                at = parsedate_to_datetime(h["Date"]).timestamp()
            except (TypeError, ValueError):
                continue
            mid = (h["Message-ID"] or "").strip().strip("<>")
            refs = (h["References"] or "").split()
            parent = (h["In-Reply-To"] or "").strip()
            root_id = (refs[0] if refs else parent or mid).strip("<>")
            yield root_id, len(refs), at, parseaddr(h["From"] or "")[1].lower()


def nearest_rank(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def main():
    maildir, report_path = sys.argv[1], sys.argv[2]
    own = sys.argv[sys.argv.index("--own-domain") + 1].lower()
    report = json.load(open(report_path))
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    since, until = parse(report["window"]["since"]), parse(report["window"]["until"])
    threads = {}
    for root_id, depth, at, sender in messages(maildir):
        threads.setdefault(root_id, []).append((depth, at, sender.endswith("@" + own)))
    answered, waiting = [], 0
    for touches in threads.values():
        touches.sort()
        opened = None
        prev_ours = None
        for _, at, ours in touches:
            if not ours and (prev_ours is None or prev_ours):
                opened = at
            elif ours and opened is not None:
                if since <= opened < until:
                    if at < until:
                        answered.append(max(0, at - opened))
                    else:
                        waiting += 1
                opened = None
            prev_ours = ours
        if opened is not None and since <= opened < until:
            waiting += 1
    answered.sort()
    tend = report["response_latency"]["ours"]
    print(json.dumps({
        "independent": {"answered": len(answered), "waiting": waiting,
                        "p50_seconds": nearest_rank(answered, 0.5),
                        "p90_seconds": nearest_rank(answered, 0.9)},
        "tend": {k: tend.get(k) for k in ("answered", "waiting", "p50_seconds", "p90_seconds")},
    }))


if __name__ == "__main__":
    main()
