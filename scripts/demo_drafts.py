#!/usr/bin/env python3
"""Show and check the drafts tend left in a Maildir++ Drafts folder (used by scripts/demo).

    demo_drafts.py show  MAILDIR_USER_DIR [IN_REPLY_TO]
    demo_drafts.py count MAILDIR_USER_DIR [IN_REPLY_TO]
    demo_drafts.py check MAILDIR_USER_DIR EXPECT_JSON [OWN_ADDRESS...]

`show` prints each draft as a mail client would (headers, then the decoded text body); with
IN_REPLY_TO (a Message-ID with its brackets) only the drafts answering that message.
`check` asserts structure only, never wording: exactly the expected drafts exist, each has the
Maildir 'D' (\\Draft) flag, the right To, In-Reply-To and References, the expected subject,
no own address among the recipients, and a non-empty text/plain body. Exit 1 on any failure.
"""
import json
import os
import sys
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses


def drafts(root):
    out = []
    for sub in ("cur", "new"):
        d = os.path.join(root, ".Drafts", sub)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            with open(path, "rb") as f:
                msg = BytesParser(policy=policy.default).parse(f)
            flags = name.split(":2,", 1)[1] if ":2," in name else ""
            out.append((name, flags, msg))
    out.sort(key=lambda t: (str(t[2].get("Subject", "")), t[0]))
    return out


def text_body(msg):
    part = msg.get_body(preferencelist=("plain",))
    if part is None:
        return None
    return part.get_content()


def addrs(msg, name):
    return [a.lower() for _, a in getaddresses([str(v) for v in msg.get_all(name, [])]) if a]


def answering(items, parent):
    if parent is None:
        return items
    return [t for t in items if str(t[2].get("In-Reply-To", "")).strip() == parent]


def show(root, parent=None):
    items = answering(drafts(root), parent)
    print(f"{len(items)} draft(s) in Drafts\n")
    for i, (name, flags, msg) in enumerate(items, 1):
        print(f"----- draft {i} of {len(items)}  (flags: {flags or '-'}) " + "-" * 30)
        for h in ("From", "To", "Cc", "Subject", "Date", "In-Reply-To"):
            if msg.get(h) is not None:
                print(f"{h + ':':<13}{msg[h]}")
        print()
        body = text_body(msg)
        print(body.rstrip() if body is not None else "(no text/plain part)")
        print()


def check(root, expect_path, own):
    expect = json.load(open(expect_path))
    items = drafts(root)
    own = {a.lower() for a in own}
    problems = []
    if len(items) != len(expect):
        problems.append(f"expected {len(expect)} drafts, found {len(items)}")
    by_parent = {}
    for name, flags, msg in items:
        by_parent.setdefault(str(msg.get("In-Reply-To", "")).strip(), []).append((name, flags, msg))
    for e in expect:
        found = by_parent.get(e["in_reply_to"], [])
        label = f"thread {e['thread']} ({e['kind']})"
        if len(found) != 1:
            problems.append(f"{label}: {len(found)} drafts with In-Reply-To {e['in_reply_to']}, want 1")
            continue
        name, flags, msg = found[0]
        if "D" not in flags:
            problems.append(f"{label}: no \\Draft flag (maildir flags '{flags}')")
        to = addrs(msg, "To")
        if to != [e["to"]]:
            problems.append(f"{label}: To is {to}, want [{e['to']}]")
        rcpts = set(to) | set(addrs(msg, "Cc")) | set(addrs(msg, "Bcc"))
        if rcpts & own:
            problems.append(f"{label}: own address among recipients: {sorted(rcpts & own)}")
        refs = str(msg.get("References", "")).split()
        if not refs or refs[-1] != e["in_reply_to"]:
            problems.append(f"{label}: References does not end with the parent: {refs}")
        if " ".join(str(msg.get("Subject", "")).split()).lower() != e["subject"].lower():
            problems.append(f"{label}: Subject is {msg.get('Subject')!r}, want {e['subject']!r}")
        if not msg.get("Message-ID"):
            problems.append(f"{label}: no Message-ID")
        body = text_body(msg)
        if body is None or not body.strip():
            problems.append(f"{label}: empty or missing text/plain body")
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"OK: {len(items)} drafts, each with \\Draft flag, right To, In-Reply-To, References, Subject and a body")
    return 0


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, root = sys.argv[1], sys.argv[2]
    parent = sys.argv[3] if len(sys.argv) > 3 else None
    if cmd == "show":
        show(root, parent)
        return 0
    if cmd == "count":
        print(len(answering(drafts(root), parent)))
        return 0
    if cmd == "ids":
        for _, _, msg in drafts(root):
            print(str(msg.get("Message-ID", "")).strip())
        return 0
    if cmd == "check" and len(sys.argv) >= 4:
        return check(root, sys.argv[3], sys.argv[4:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
