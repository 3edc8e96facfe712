#!/usr/bin/env python3
"""Write a synthetic threaded sales mailbox into a Maildir++ directory (for scripts/bench).

    bench_mailbox.py MAILDIR_USER_DIR [--messages 10000] [--threads 3000] [--now-epoch N] [--seed S]

About --threads threads of 1-6 messages alternating buyer -> us -> buyer ..., with exactly
--messages messages in all. Buyer mail goes to INBOX (cur/), ours to .Sent/ (about 60/40).
Each reply carries In-Reply-To and the full References chain. Sizes 2-20 KB of text with quoted
history; about a third are multipart (text+html alternative, some with a PDF attachment).
Dates are spread over the two years before --now-epoch (default: now). Deterministic per seed.
Prints "INBOX N, Sent M, bytes B" on stdout.
"""
import argparse
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime

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


SENTENCES = []


def words(rng, n):
    """About n words of business-ish text, as sentences of 9-14 words, one per line."""
    if not SENTENCES:
        pool = random.Random(1)
        for _ in range(4000):
            SENTENCES.append(" ".join(pool.choice(WORDS) for _ in range(pool.randint(9, 14))).capitalize() + ".")
    return "\n".join(rng.choice(SENTENCES) for _ in range(max(1, n // 11)))


def quote(text):
    return "\n".join("> " + l if l else ">" for l in text.split("\n"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("maildir")
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=3000)
    ap.add_argument("--now-epoch", type=int, default=int(time.time()))
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    now = datetime.fromtimestamp(args.now_epoch, timezone.utc)
    root = args.maildir

    # Thread lengths 1..6 summing to exactly --messages.
    lengths = [rng.randint(1, 6) for _ in range(args.threads)]
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
    pid = os.getpid()
    span = 2 * 365 * 86400
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
            msg = EmailMessage()
            if not ours:
                msg["Return-Path"] = f"<{first.lower()}.{last.lower()}@{company}.example>"
                msg["Received"] = f"from mail.{company}.example by mx1.acme.test (Postfix); {format_datetime(when)}"
            msg["Date"] = format_datetime(when)
            msg["From"] = OWN if ours else buyer
            msg["To"] = buyer if ours else OWN
            msg["Subject"] = ("Re: " if k else "") + subject
            msg["Message-ID"] = mid
            if refs:
                msg["In-Reply-To"] = refs[-1]
                msg["References"] = " ".join(refs)
            msg["MIME-Version"] = "1.0"
            msg.set_content(text, cte="quoted-printable" if rng.random() < 0.5 else "8bit")
            if kind < 0.25:
                msg.add_alternative("<html><body><p>" + text.replace("\n", "<br>\n") + "</p></body></html>\n",
                                    subtype="html")
            elif attachment is not None:
                msg.add_attachment(attachment, maintype="application", subtype="pdf", filename=f"document-{t}-{k}.pdf")
            data = msg.as_bytes()
            folder = ".Sent" if ours else ""
            seq += 1
            epoch = int(when.timestamp())
            name = f"{epoch}.M{seq:06d}P{pid}.bench,S={len(data)}:2,S"
            path = os.path.join(root, folder, "cur", name)
            with open(path, "wb") as f:
                f.write(data)
            os.utime(path, (epoch, epoch))
            counts[folder] += 1
            nbytes += len(data)
            refs.append(mid)
            history = own_text
    print(f"INBOX {counts['']}, Sent {counts['.Sent']}, bytes {nbytes}")


if __name__ == "__main__":
    sys.exit(main())
