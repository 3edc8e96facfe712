#!/usr/bin/env python3
"""Show and check the drafts tend left in a Maildir++ Drafts folder (used by scripts/demo).

    demo_drafts.py show  MAILDIR_USER_DIR [IN_REPLY_TO]
    demo_drafts.py count MAILDIR_USER_DIR [IN_REPLY_TO]
    demo_drafts.py check MAILDIR_USER_DIR EXPECT_JSON PROMPT_DIR STATUS_FILE [OWN_ADDRESS...]
    demo_drafts.py refused STATUS_FILE SUBJECT

`show` prints each draft as a mail client would (headers, then the decoded text body); with
IN_REPLY_TO (a Message-ID with its brackets) only the drafts answering that message.
`check` asserts structure and tend's refusals, never wording. Every expected thread has either
exactly one draft, or none and a refusal recorded and visible in `tend status` (STATUS_FILE: a
small model's answer is often no draft at all, and tend must refuse it). No draft answers
anything else. Each draft has the Maildir 'D' (\\Draft) flag, the right To, In-Reply-To and
References, the expected subject, no own address among the recipients, a non-empty
text/plain body, and a body (before the signature) that repeats no run of 8 words of the
instructions and states no figure that is neither bracketed nor in the prompt's user content:
PROMPT_DIR/THREAD.txt is what `tend explain --prompt` printed for that thread. Exit 1 on any
failure.
`refused` exits 0 when STATUS_FILE shows a recorded refusal for the thread with SUBJECT.
"""
import difflib
import json
import os
import re
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


def words(text):
    """Lower-case words, an apostrophe inside a word dropped (as tend's check reads them)."""
    return re.findall(r"[^\W_]+", re.sub(r"(?<=\w)['\u2019](?=\w)", "", text.lower()))


def prompt_parts(path):
    """(system, user) from what `tend explain --prompt` printed."""
    text = open(path, encoding="utf-8").read()
    parts = re.split(r"^===== (system|user) =====$", text, flags=re.M)
    got = {"system": "", "user": ""}
    for role, content in zip(parts[1::2], parts[2::2]):
        got[role] += content
    return got["system"], got["user"]


def values(raw):
    """What a written number may mean: 1,250 is 1250 or 1.25; 1.250,00 is 1250."""
    raw = raw.replace("'", "")
    out = set()
    seps = [c for c in raw if c in ".,"]
    if not seps:
        out.add(float(raw))
    elif "." in seps and "," in seps:
        dec = raw[max(raw.rfind("."), raw.rfind(","))]
        th = "," if dec == "." else "."
        out.add(float(raw.replace(th, "").replace(dec, ".")))
    else:
        groups = re.split(r"[.,]", raw)
        if all(len(g) == 3 for g in groups[1:]):
            out.add(float("".join(groups)))
        if len(groups) == 2:
            out.add(float(".".join(groups)))
    return out


NUMBER = re.compile(r"(?<![\w:])\d+(?:[.,']\d+)*(?!\d|:\d)")


def numbers(text):
    """Every number outside [brackets], skipping times (14:30), 24/7 and list markers."""
    text = re.sub(r"\[[^\]\n]*\]", " ", text)
    text = re.sub(r"\b24/7\b", " ", text)
    text = re.sub(r"(?m)^\s*\d+[.)]\s", " ", text)
    return [m.group(0) for m in NUMBER.finditer(text)]


def content_problems(label, body, prompt_path):
    """An echo of the instructions, or a figure that is neither bracketed nor grounded."""
    if not os.path.exists(prompt_path):
        return [f"{label}: no prompt at {prompt_path} to check the body against"]
    system, user = prompt_parts(prompt_path)
    problems = []
    instructions = words(re.sub(r"<(\w+)[^>]*>.*?</\1>", " ", system, flags=re.S))
    grams = {tuple(instructions[i:i + 8]) for i in range(len(instructions) - 7)}
    bw = words(body)
    for i in range(len(bw) - 7):
        if tuple(bw[i:i + 8]) in grams:
            problems.append(f"{label}: the body echoes the instructions: {' '.join(bw[i:i + 8])!r}")
            break
    # A sentence of the instructions with a word or two changed ("The conversation, latest
    # message first." for the prompt's "..., oldest message first.").
    sentences = lambda t: [w for w in (words(x) for x in re.split(r"[.!?;:\n]", t)) if len(w) >= 4]
    theirs = sentences(re.sub(r"<(\w+)[^>]*>.*?</\1>", " ", system, flags=re.S))
    theirs += sentences(next((line for line in user.splitlines() if line.strip()), ""))
    for b in sentences(body):
        if any(difflib.SequenceMatcher(None, b, t, autojunk=False).ratio() >= 0.75 for t in theirs):
            problems.append(f"{label}: the body is a sentence of the instructions: {' '.join(b)!r}")
            break
    # Grounding: every number of the user content, whole and in its parts (05.01.2027 grounds
    # 5, 1 and 2027): looser than tend's own check, so a failure here is a real invention.
    grounded = set()
    for n in re.findall(r"\d+(?:[.,']\d+)*", user):
        grounded |= values(n)
        grounded |= {float(p) for p in re.split(r"[.,']", n) if p}
    for n in numbers(body):
        if not values(n) & grounded:
            problems.append(f"{label}: the figure {n!r} is neither bracketed nor in the prompt")
    return problems


def status_block(status_text, subject):
    """The lines `tend status` shows for the thread whose subject matches, or None."""
    norm = lambda s: re.sub(r"^((re|aw|fwd?|wg):\s*)+", "", s.strip(), flags=re.I).lower()
    lines = status_text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r'^\s+\* "(.*)":', line)
        if m and norm(m.group(1)) == norm(subject):
            block = [line]
            for more in lines[i + 1:]:
                if re.match(r"^\s+[*-] ", more) or not more.startswith("  "):
                    break
                block.append(more)
            return "\n".join(block)
    return None


def refused(status_text, subject):
    block = status_block(status_text, subject)
    return block is not None and "no draft: failed" in block and "unusable" in block


def check(root, expect_path, prompt_dir, status_path, own):
    expect = json.load(open(expect_path))
    status_text = open(status_path, encoding="utf-8").read()
    items = drafts(root)
    own = {a.lower() for a in own}
    problems = []
    by_parent = {}
    for name, flags, msg in items:
        by_parent.setdefault(str(msg.get("In-Reply-To", "")).strip(), []).append((name, flags, msg))
    unexpected = set(by_parent) - {e["in_reply_to"] for e in expect}
    if unexpected:
        problems.append(f"drafts answering unexpected messages: {sorted(unexpected)}")
    written = refusals = 0
    for e in expect:
        found = by_parent.get(e["in_reply_to"], [])
        label = f"thread {e['thread']} ({e['kind']})"
        if not found:
            if refused(status_text, e["subject"]):
                refusals += 1
                print(f"ok: {label}: no draft; tend refused the model's answers, and status says so:")
                print(status_block(status_text, e["subject"]))
            else:
                problems.append(f"{label}: no draft, and no refusal recorded in status")
            continue
        if len(found) != 1:
            problems.append(f"{label}: {len(found)} drafts with In-Reply-To {e['in_reply_to']}, want 1")
            continue
        written += 1
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
            continue
        own_words = body.split("\n-- \n", 1)[0]
        problems += content_problems(label, own_words, os.path.join(prompt_dir, f"{e['thread']}.txt"))
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    if problems:
        return 1
    print(
        f"OK: {written} of {len(expect)} expected drafts written, {refusals} refused by tend and "
        "shown in status; every draft has the \\Draft flag, right To, In-Reply-To, References, "
        "Subject, a body that echoes no instructions, and only grounded or bracketed figures"
    )
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
    if cmd == "check" and len(sys.argv) >= 6:
        return check(root, sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:])
    if cmd == "refused" and len(sys.argv) >= 4:
        return 0 if refused(open(root, encoding="utf-8").read(), sys.argv[3]) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
