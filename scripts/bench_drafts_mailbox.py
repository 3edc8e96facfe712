#!/usr/bin/env python3
"""Write a synthetic sales mailbox of repeat buyers, and the drafts tend should propose for it.

    bench_drafts_mailbox.py write MAILDIR_USER_DIR THREADS_JSON [--threads 2500]
                            [--messages 10000] [--now-epoch N] [--seed S]
    bench_drafts_mailbox.py truth THREADS_JSON --now-epoch N
        prints {"drafts": {thread: {"kind", "trigger"}}, "why": {category: threads}} as JSON

The mailbox (used by scripts/bench-drafts), deterministic per seed:
- about 60 buyer companies, 1-3 buyers each; 12 of them are one person at gmail.com or
  outlook.com. Each buyer writes several RFQ threads a month ("RFQ 40123: PVC fittings"; the
  number is unique per thread).
- RFQ threads alternate buyer -> us -> buyer ..., each reply with In-Reply-To and References and
  the previous message quoted. About 30% start in the last 45 days, the rest over the last year.
  Messages dated after now are cut off (the conversation is still going on).
  Some end with the buyer (unanswered), some with our quote (silent), some of those carry one or
  two follow-ups of ours already, some an out-of-office auto-reply of the buyer's after our
  quote (Auto-Submitted: auto-replied, no return date), some are answered by a colleague
  (carol@acme.test, Cc us); a few are outreach of ours that nobody answered.
- noise: newsletters (List-Id, List-Unsubscribe) and internal threads between us and a colleague.
Buyer mail goes to INBOX, ours to .Sent; every file's mtime (Dovecot's INTERNALDATE) is its Date.
THREADS_JSON lists every thread's messages (Message-ID, Date, side, human, addressed to us).

The truth, per thread, at NOW, in UTC (the bench's mailbox time zone), mirroring README "What
tend decides" with the defaults (followup_stops_on = "thread"); "human" excludes newsletters and
the out-of-office; "last" is the thread's latest human message:
- reply     if last is a buyer's, one of our addresses is in its To or Cc (about 3% of the
            buyers' replies go to their own team, us in Bcc), and
            NOW - Date <= 14 days. It must answer last.
- follow-up if last is ours (alice@acme.test), a buyer wrote a human message earlier in the
            thread, the human messages from the buyer's latest one up to last are at most 2 of
            ours (fewer than 2 follow-ups already), NOW - Date <= 30 days, and NOW >= Date
            advanced by 3 weekdays (Mon-Fri; a Date on a weekend counts from Monday 00:00).
            It must answer last, as follow-up number 1 + the follow-ups already sent.
- nothing otherwise (a colleague's message last, only colleagues, a newsletter, outreach).
"""
import argparse
import json
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime

DAY = 86400
OWN = ("Alice Example", "alice@acme.test")
COLLEAGUE = ("Carol Colleague", "carol@acme.test")
FIRST = ("Anna Ben Carla David Elif Felix Greta Hugo Ines Jonas Karin Lars Mona Nils Olga Paul Rosa "
         "Sven Tara Uwe Vera Willem Xenia Yusuf Zoe").split()
LAST = "Meyer Novak Rossi Schmidt Dubois Jensen Kowalski Silva Berg Fischer Moreau Costa Lindqvist Weber".split()
STEMS = ("nordwind brightfield ferranti alpen baltic rhein delta orbit kestrel lumen "
         "meridian sable tundra vireo").split()
KINDS = ("logistik retail pack systems foods energy").split()
PRODUCTS = ("PVC fittings|cable ties|stainless bolts M8|copper pipe 22mm|pallet wrap|safety gloves|"
            "LED panels|hydraulic hoses|ball valves|shrink tubing|packing tape|steel brackets|"
            "rubber gaskets|control cabinets|cable glands").split("|")
ASK = ["Could you send us your best price for {q} units of {p}?",
       "We need {q} pcs of {p}; what is your lead time?",
       "Please quote {q} x {p}, delivery to our warehouse.",
       "Can you confirm availability of {p} in a quantity of {q}?"]
QUOTE = ["Thank you for your request. For {q} units of {p} we can offer {price} EUR per unit, delivery "
         "in {d} working days.", "Please find our offer for {p}: {price} EUR each for {q} pcs, valid "
         "for 30 days.", "We can deliver {q} x {p} within {d} days at {price} EUR per unit."]
BACK = ["Thanks. Could you also include shipping costs to Hamburg?",
        "Is a discount possible if we order twice the quantity?",
        "Can you do a better price? Your competitor is lower.",
        "What are your payment terms for this order?"]
FOLLOW = ["I wanted to check whether our offer for {p} reached you. Happy to answer any questions.",
          "Just following up on our quote for {p}; shall we reserve the stock for you?"]


def addr(name_email):
    return f"{name_email[0]} <{name_email[1]}>"


def make_buyers(rng):
    """About 60 companies; the last 12 are one person each at a free-mail domain."""
    buyers = []
    names = set()
    for c in range(60):
        free = c >= 48
        domain = rng.choice(["gmail.com", "outlook.com"]) if free else \
            f"{STEMS[c % len(STEMS)]}-{KINDS[c // len(STEMS) % len(KINDS)]}{c}.example"
        for _ in range(1 if free else rng.randint(1, 3)):
            while True:
                first, last = rng.choice(FIRST), rng.choice(LAST)
                local = f"{first.lower()}.{last.lower()}" + (str(rng.randint(10, 99)) if free else "")
                if (local, domain) not in names:
                    names.add((local, domain))
                    break
            # Busier buyers write more: a weight per person.
            buyers.append({"name": f"{first} {last}", "email": f"{local}@{domain}", "first": first,
                           "weight": rng.choice([1, 1, 2, 3])})
    return buyers


def plan_thread(rng, n_exchange):
    """The sides of one RFQ thread, in order: b (buyer), o (ours), f (our follow-up),
    a (buyer's out-of-office), c (colleague's answer)."""
    r = rng.random()
    if r < 0.03:
        return ["o"] * rng.randint(1, 2)  # outreach nobody answered
    sides = ["b" if k % 2 == 0 else "o" for k in range(n_exchange)]
    if sides[-1] == "o":
        r = rng.random()
        if r < 0.25:
            sides += ["f"] * rng.choice([1, 1, 2])
        elif r < 0.33:
            sides += ["a"]
    elif rng.random() < 0.1:
        sides += ["c"]
    return sides


def write_mailbox(args):
    rng = random.Random(args.seed)
    now = args.now_epoch
    root = args.maildir
    for folder in ("", ".Sent", ".Drafts"):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(root, folder, sub), exist_ok=True)
    buyers = make_buyers(rng)
    weights = [b["weight"] for b in buyers]
    n_news, n_internal = 120, 60
    n_rfq = args.threads - n_news - n_internal
    budget = args.messages - n_news - 2 * n_internal
    # Exchange lengths 1..7 summing to the budget: follow-ups and auto-replies add about as many
    # messages as the cut at now removes.
    lengths = [rng.randint(1, 7) for _ in range(n_rfq)]
    target = budget
    total = sum(lengths)
    while total != target:
        i = rng.randrange(n_rfq)
        if total < target and lengths[i] < 7:
            lengths[i] += 1
            total += 1
        elif total > target and lengths[i] > 1:
            lengths[i] -= 1
            total -= 1
    threads = []
    seq = [0]
    counts = {"": 0, ".Sent": 0}

    def store(msg, when, folder):
        data = msg.as_bytes()
        seq[0] += 1
        name = f"{when}.M{seq[0]:06d}P{os.getpid()}.benchdrafts,S={len(data)}:2,S"
        path = os.path.join(root, folder, "cur", name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (when, when))
        counts[folder] += 1

    for t in range(n_rfq):
        rfq = 40000 + t
        buyer = rng.choices(buyers, weights)[0]
        product = rng.choice(PRODUCTS)
        qty, price, days = rng.choice([50, 100, 250, 500, 1000]), rng.randint(2, 90), rng.randint(3, 20)
        start = now - rng.randint(3600, 45 * DAY) if rng.random() < 0.3 else now - rng.randint(45 * DAY, 365 * DAY)
        subject = f"RFQ {rfq}: {product}"
        sides = plan_thread(rng, lengths[t])
        when = start
        refs, history, msgs = [], None, []
        for k, side in enumerate(sides):
            if k:
                gap = rng.randint(600, 7200) if side == "a" else \
                    rng.randint(3 * DAY, 8 * DAY) if side == "f" else rng.randint(3600, 5 * DAY)
                when += gap
            if when > now - 600:
                break  # still to come
            fmt = dict(p=product, q=qty, price=price, d=days)
            if side == "b":
                frm, to, cc = (buyer["name"], buyer["email"]), [OWN], []
                if k and rng.random() < 0.03:  # to their own team, us in Bcc: no reply draft
                    to = [("Purchasing team", "team@" + buyer["email"].split("@")[1])]
                text = f"Hello Alice,\n\n{(rng.choice(ASK) if k == 0 else rng.choice(BACK)).format(**fmt)}\n\n" \
                       f"Best regards,\n{buyer['first']}\n"
            elif side in "of":
                frm, to, cc = OWN, [(buyer["name"], buyer["email"])], []
                body = rng.choice(FOLLOW if side == "f" else QUOTE).format(**fmt)
                if k == 0:
                    body = f"We supply {product} to companies like yours; may I send you our price list?"
                text = f"Hi {buyer['first']},\n\n{body}\n\nBest,\nAlice\n-- \nAlice Example\nAcme Industrial Supply\n"
            elif side == "c":
                frm, to, cc = COLLEAGUE, [(buyer["name"], buyer["email"])], [OWN]
                text = f"Hi {buyer['first']},\n\nAlice asked me to answer: yes, we can do that.\n\nCarol\n"
            else:  # "a": out-of-office
                frm, to, cc = (buyer["name"], buyer["email"]), [OWN], []
                text = "I am out of the office with limited access to email. I will reply when I am back.\n"
            msg = EmailMessage()
            mid = f"<rfq.{rfq}.{k}.{rng.getrandbits(40):010x}@{frm[1].split('@')[1]}>"
            msg["Date"] = format_datetime(datetime.fromtimestamp(when, timezone.utc))
            msg["From"] = addr(frm)
            msg["To"] = ", ".join(addr(a) for a in to)
            if cc:
                msg["Cc"] = ", ".join(addr(a) for a in cc)
            msg["Subject"] = (f"Automatic reply: {subject}" if side == "a" else
                              ("Re: " if k else "") + subject)
            msg["Message-ID"] = mid
            if refs:
                msg["In-Reply-To"] = refs[-1]
                msg["References"] = " ".join(refs)
            if side == "a":
                msg["Auto-Submitted"] = "auto-replied"
            full = text
            if history:
                full += f"\nOn {history[0]}, {history[1]} wrote:\n" + "\n".join("> " + l for l in history[2].split("\n"))
            msg.set_content(full)
            store(msg, when, ".Sent" if frm == OWN else "")
            msgs.append({"id": mid, "date": when, "side": {"b": "buyer", "a": "buyer", "c": "colleague"}.get(side, "own"),
                         "human": side != "a", "to_us": any(a[1] == OWN[1] for a in to + cc)})
            refs.append(mid)
            if side != "a":
                history = (msg["Date"], msg["From"], text)
        threads.append({"thread": f"RFQ {rfq}", "subject": subject, "messages": msgs})

    for n in range(n_news):  # newsletters: one message per issue, each its own thread
        when = now - rng.randint(3600, 365 * DAY)
        msg = EmailMessage()
        mid = f"<news.{n}.{rng.getrandbits(40):010x}@news.supplier.example>"
        msg["Date"] = format_datetime(datetime.fromtimestamp(when, timezone.utc))
        msg["From"] = "Industry Weekly <news@news.supplier.example>"
        msg["To"] = addr(OWN)
        msg["Subject"] = f"Industry Weekly, issue {n + 1}: what buyers ask for"
        msg["Message-ID"] = mid
        msg["List-Id"] = "Industry Weekly <weekly.news.supplier.example>"
        msg["List-Unsubscribe"] = "<https://news.supplier.example/unsubscribe>"
        msg.set_content("This week: prices of steel and copper. Read more on our website.\n")
        store(msg, when, "")
        threads.append({"thread": f"news {n}", "subject": msg["Subject"], "messages": [
            {"id": mid, "date": when, "side": "buyer", "human": False, "to_us": True}]})

    for n in range(n_internal):  # a colleague asks, we answer: nothing to draft
        when = now - rng.randint(3600, 200 * DAY)
        refs, msgs = [], []
        for k, (frm, to) in enumerate([(COLLEAGUE, OWN), (OWN, COLLEAGUE)]):
            when += k * rng.randint(600, 86400)
            if when > now - 600:
                break
            msg = EmailMessage()
            mid = f"<internal.{n}.{k}.{rng.getrandbits(40):010x}@acme.test>"
            msg["Date"] = format_datetime(datetime.fromtimestamp(when, timezone.utc))
            msg["From"], msg["To"] = addr(frm), addr(to)
            msg["Subject"] = ("Re: " if k else "") + f"Stock check, shelf {n}"
            msg["Message-ID"] = mid
            if refs:
                msg["In-Reply-To"], msg["References"] = refs[-1], " ".join(refs)
            msg.set_content("Can you check the stock on this shelf?\n" if k == 0 else "Done, all there.\n")
            store(msg, when, ".Sent" if frm == OWN else "")
            msgs.append({"id": mid, "date": when, "side": "own" if frm == OWN else "colleague",
                         "human": True, "to_us": to == OWN})
            refs.append(mid)
        threads.append({"thread": f"internal {n}", "subject": f"Stock check, shelf {n}", "messages": msgs})

    with open(args.threads_json, "w") as f:
        json.dump({"now": now, "threads": threads}, f)
    total = counts[""] + counts[".Sent"]
    print(f"{len(threads)} threads, {total} messages (INBOX {counts['']}, Sent {counts['.Sent']}), "
          f"{len(buyers)} buyers at 60 companies")


def followup_due(at, days):
    """`at` advanced by `days` weekdays in UTC; a weekend date counts from Monday 00:00."""
    d = datetime.fromtimestamp(at, timezone.utc)
    if d.weekday() >= 5:
        d = (d + timedelta(days=7 - d.weekday())).replace(hour=0, minute=0, second=0)
    d += timedelta(days=days // 5 * 7)
    left = days % 5
    while left:
        d += timedelta(days=1)
        if d.weekday() < 5:
            left -= 1
    return d.timestamp()


def truth(threads, now):
    """({thread: {"kind": "reply"|"followup N", "trigger": Message-ID}} for the threads that need a
    draft, {category: number of threads}) at `now`."""
    out, why = {}, {}

    def note(category, thread=None, kind=None, trigger=None):
        why[category] = why.get(category, 0) + 1
        if thread:
            out[thread] = {"kind": kind, "trigger": trigger}

    for t in threads:
        msgs = t["messages"]
        human = [i for i, m in enumerate(msgs) if m["human"]]
        if not human:
            note("no draft: automated only (newsletter)")
            continue
        last = msgs[human[-1]]
        age = now - last["date"]
        if last["side"] == "buyer":
            if not last["to_us"]:
                note("no draft: buyer last, not addressed to us")
            elif age > 14 * DAY:
                note("no draft: buyer last, older than 14 days")
            else:
                note("reply: buyer last, within 14 days", t["thread"], "reply", last["id"])
        elif last["side"] == "colleague":
            note("no draft: a colleague wrote last")
        else:
            buyer = [i for i in human if msgs[i]["side"] == "buyer"]
            if not buyer:
                note("no draft: ours last, no buyer in the thread (outreach, internal)")
                continue
            sent = sum(1 for i in human if i > buyer[-1]) - 1
            auto = any(not m["human"] for m in msgs[human[-1]:])
            if sent >= 2:
                note("no draft: ours last, 2 follow-ups sent already")
            elif age > 30 * DAY:
                note("no draft: ours last, older than 30 days")
            elif now < followup_due(last["date"], 3):
                note("no draft: ours last, 3 business days not yet over")
            else:
                note(f"follow-up {sent + 1}" + (" (after an out-of-office)" if auto else ""),
                     t["thread"], f"followup {sent + 1}", last["id"])
    return out, why


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("maildir")
    w.add_argument("threads_json")
    w.add_argument("--threads", type=int, default=2500)
    w.add_argument("--messages", type=int, default=10000)
    w.add_argument("--now-epoch", type=int, default=int(time.time()))
    w.add_argument("--seed", type=int, default=8)
    t = sub.add_parser("truth")
    t.add_argument("threads_json")
    t.add_argument("--now-epoch", type=int, default=int(time.time()))
    args = ap.parse_args()
    if args.cmd == "write":
        write_mailbox(args)
    else:
        with open(args.threads_json) as f:
            data = json.load(f)
        drafts, why = truth(data["threads"], args.now_epoch)
        json.dump({"now": args.now_epoch, "drafts": drafts, "why": why}, sys.stdout, indent=1)
        print()


if __name__ == "__main__":
    sys.exit(main())
