#!/usr/bin/env python3
"""Write a synthetic threaded sales mailbox into a Maildir++ directory (for scripts/bench).

    bench_mailbox.py MAILDIR_USER_DIR [--messages 10000] [--threads N] [--now-epoch N] [--seed S]
    bench_mailbox.py MAILDIR_USER_DIR --from POOL_DIR --messages N

About --threads (default 30% of --messages) threads of 1-6 messages alternating buyer -> us ->
buyer ..., with exactly --messages messages in all. Buyer mail goes to INBOX (cur/), ours to
.Sent/ (about 60/40). Each reply carries In-Reply-To and the full References chain. Sizes 2-20 KB
of text with quoted history; about a third are multipart (text+html alternative, some with a
PDF attachment). Dates are spread over the two years before --now-epoch (default: now).
Deterministic per seed. Writes MAILDIR/manifest.tsv (folder, file name, bytes; in the order
written) and prints "INBOX N, Sent M, bytes B" on stdout.

With --from, writes nothing new: hard-links the first --messages messages of a mailbox written
before (its manifest order, thread by thread) into MAILDIR. The mailbox of a smaller size is then
a prefix of the larger one, and a run over several sizes generates only the largest (seconds,
not minutes, at 200,000 messages).

The messages are formatted by hand (not with the email package, which took ~3 ms a message):
headers, quoted-printable (binascii) or 8bit text, multipart boundaries, base64 attachment.
"""
import argparse
import base64
import binascii
import os
import random
import sys
import time
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

WORDS = (
    "pricing proposal renewal seats licence onboarding integration dashboard pipeline quarter "
    "discount invoice contract security review procurement timeline rollout pilot team report "
    "data warehouse connector export access training support SLA uptime region budget approval "
    "forecast meeting call demo next week thanks regards question update feedback legal terms "
    "we you our the a to and of for on in with that this is are can will would could please"
).split()
FIRST = "Anna Ben Carla David Elif Felix Greta Hugo Ines Jonas Karin Lars Mona Nils Olga Paul Rosa Sven Tara Uwe".split()
LAST = "Meyer Novak Rossi Schmidt Dubois Jensen Kowalski Silva Berg Fischer Moreau Costa Lindqvist Weber".split()
COMPANIES = [f"{w}{s}" for w in ("nordwind", "brightfield", "ferranti", "alpen", "baltic", "rhein", "delta", "orbit")
             for s in ("-logistik", "-retail", "-pack", "-systems", "-foods", "-energy")]
TOPICS = ["BI platform", "analytics pilot", "licence renewal", "dashboard rollout", "data connector",
          "security questionnaire", "pricing for next year", "onboarding plan", "proposal", "contract draft"]
OWN = "Alice Example <alice@acme.test>"

_pool = random.Random(1)
SENTENCES = [" ".join(_pool.choice(WORDS) for _ in range(_pool.randint(9, 14))).capitalize() + "."
             for _ in range(4000)]


def words(rng, n):
    """About n words of business-ish text, as sentences of 9-14 words, one per line."""
    return "\n".join(rng.choices(SENTENCES, k=max(1, n // 11)))


def quote(text):
    return "> " + text.replace("\n", "\n> ")


def text_part(text, qp):
    """Content headers and body of a text/plain part."""
    if qp:
        body = binascii.b2a_qp(text.encode(), istext=True).decode()
        return ('Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: quoted-printable\n\n'
                + body + "\n")
    return 'Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: 8bit\n\n' + text + "\n"


def message(rng, head, text, kind, attachment, name, boundary):
    qp = rng.random() < 0.5
    if kind < 0.25:
        html = "<html><body><p>" + text.replace("\n", "<br>\n") + "</p></body></html>\n"
        return (head + f'Content-Type: multipart/alternative; boundary="{boundary}"\n\n'
                f"--{boundary}\n" + text_part(text, qp) +
                f"--{boundary}\n" 'Content-Type: text/html; charset="utf-8"\nContent-Transfer-Encoding: 8bit\n\n'
                + html + f"--{boundary}--\n")
    if attachment is not None:
        b64 = base64.encodebytes(attachment).decode()
        return (head + f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
                f"--{boundary}\n" + text_part(text, qp) +
                f"--{boundary}\n" 'Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n'
                f'Content-Disposition: attachment; filename="{name}"\n\n' + b64 + f"--{boundary}--\n")
    return head + text_part(text, qp)


def generate(args):
    rng = random.Random(args.seed)
    now = datetime.fromtimestamp(args.now_epoch, timezone.utc)
    root = args.maildir
    threads = args.threads or max(1, args.messages * 3 // 10)

    # Thread lengths 1..6 summing to exactly --messages.
    lengths = [rng.randint(1, 6) for _ in range(threads)]
    total = sum(lengths)
    while total != args.messages:
        i = rng.randrange(len(lengths))
        if total < args.messages and lengths[i] < 6:
            lengths[i] += 1
            total += 1
        elif total > args.messages and lengths[i] > 1:
            lengths[i] -= 1
            total -= 1

    for folder in ("", ".Sent", ".Drafts"):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(root, folder, sub), exist_ok=True)

    counts = {"": 0, ".Sent": 0}
    nbytes = 0
    seq = 0
    span = 2 * 365 * 86400
    manifest = open(os.path.join(root, "manifest.tsv"), "w")
    for t, n in enumerate(lengths):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = rng.choice(COMPANIES)
        buyer = f"{first} {last} <{first.lower()}.{last.lower()}@{company}.example>"
        subject = f"{rng.choice(TOPICS).capitalize()} - {company.split('-')[0].capitalize()} #{t}"
        when = now - timedelta(seconds=rng.randint(86400, span))
        refs = []
        history = ""
        for k in range(n):
            ours = k % 2 == 1
            when = min(when + timedelta(minutes=rng.randint(20, 60 * 24 * 6)), now - timedelta(minutes=5))
            mid = f"<bench.{t}.{k}.{rng.getrandbits(48):012x}@{'acme.test' if ours else company + '.example'}>"
            size = rng.randint(2048, 20480)  # the whole message's size, roughly
            kind = rng.random()  # < 0.25: text+html alternative; < 0.33: with a PDF; else text only
            attachment = rng.randbytes(rng.randint(1024, min(6144, size // 2))) if 0.25 <= kind < 0.33 else None
            target = size - 700  # headers
            if kind < 0.25:
                target //= 2  # the html part repeats the text
            elif attachment is not None:
                target -= len(attachment) * 4 // 3
            target = max(target, 600)
            own_text = f"Hi {first if ours else 'Alice'},\n\n" + words(rng, rng.randint(40, 160)) + \
                ("\n\nBest,\nAlice\n-- \nAlice Example\nAcme Analytics\n" if ours else f"\n\nRegards,\n{first}\n")
            text = own_text
            if history:
                text += f"\nOn {format_datetime(when - timedelta(hours=3))}, {buyer if ours else OWN} wrote:\n" + quote(history)
            if len(text) < target:  # pad with more quoted history-like text up to the target size
                text += "\n" + quote(words(rng, (target - len(text)) // 6))
            text = text[: max(target, len(own_text))]
            head = []
            if not ours:
                head.append(f"Return-Path: <{first.lower()}.{last.lower()}@{company}.example>")
                head.append(f"Received: from mail.{company}.example by mx1.acme.test (Postfix); {format_datetime(when)}")
            head += [f"Date: {format_datetime(when)}", f"From: {OWN if ours else buyer}",
                     f"To: {buyer if ours else OWN}", f"Subject: {'Re: ' if k else ''}{subject}",
                     f"Message-ID: {mid}"]
            if refs:
                head.append(f"In-Reply-To: {refs[-1]}")
                head.append(f"References: {' '.join(refs)}")
            head.append("MIME-Version: 1.0")
            data = message(rng, "\n".join(head) + "\n", text, kind, attachment,
                           f"document-{t}-{k}.pdf", f"=====bench{t}.{k}=====").encode()
            folder = ".Sent" if ours else ""
            seq += 1
            epoch = int(when.timestamp())
            name = f"{epoch}.M{seq:07d}P1.bench,S={len(data)}:2,S"
            path = os.path.join(root, folder, "cur", name)
            with open(path, "wb") as f:
                f.write(data)
            os.utime(path, (epoch, epoch))
            manifest.write(f"{folder or '.'}\t{name}\t{len(data)}\n")
            counts[folder] += 1
            nbytes += len(data)
            refs.append(mid)
            history = own_text
    manifest.close()
    print(f"INBOX {counts['']}, Sent {counts['.Sent']}, bytes {nbytes}")


def link(args):
    """Hard-link the first --messages messages of the mailbox at --from into args.maildir."""
    for folder in ("", ".Sent", ".Drafts"):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(args.maildir, folder, sub), exist_ok=True)
    counts = {".": 0, ".Sent": 0}
    nbytes = 0
    with open(os.path.join(args.source, "manifest.tsv")) as manifest, \
            open(os.path.join(args.maildir, "manifest.tsv"), "w") as out:
        for i, line in enumerate(manifest):
            if i >= args.messages:
                break
            folder, name, size = line.rstrip("\n").split("\t")
            sub = "" if folder == "." else folder
            os.link(os.path.join(args.source, sub, "cur", name), os.path.join(args.maildir, sub, "cur", name))
            out.write(line)
            counts[folder] += 1
            nbytes += int(size)
    if sum(counts.values()) < args.messages:
        sys.exit(f"{args.source} holds only {sum(counts.values())} messages, not {args.messages}")
    print(f"INBOX {counts['.']}, Sent {counts['.Sent']}, bytes {nbytes}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("maildir")
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--now-epoch", type=int, default=int(time.time()))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--from", dest="source")
    args = ap.parse_args()
    if args.source:
        link(args)
    else:
        generate(args)


if __name__ == "__main__":
    sys.exit(main())
