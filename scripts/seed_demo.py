#!/usr/bin/env python3
"""Seed a Maildir++ mailbox with a handful of realistic sales threads for the demo.

    seed_demo.py MAILDIR_USER_DIR --now-epoch N [--expect FILE]

MAILDIR_USER_DIR is Dovecot's directory for one user (e.g. BASE/mail/alice): INBOX is its
cur/new/tmp, Sent is .Sent/, Drafts is .Drafts/. Files are written straight into cur/ with the
Seen flag; Dovecot picks them up on the next SELECT. Dates are relative to --now-epoch so the
threads stay inside tend's windows (reply drafts for buyer mail < 14 days old, follow-ups when
our message waited >= 3 business days and is < 30 days old).

The mailbox owner is Alice Example <alice@acme.test> (domain acme.test is internal).
Threads:
  a  pricing question from a buyer two days ago, after an earlier exchange -> reply draft
  b  our proposal sent 7 days ago, no answer since                         -> follow-up draft
  c  a newsletter (List-Unsubscribe, Precedence: bulk)                      -> nothing
  d  an out-of-office auto-reply to our message of yesterday                -> nothing
  e  a buyer question we already answered (our reply is the latest, < 1 day) -> nothing
  f  a colleague's internal note (acme.test)                                -> nothing

--expect FILE writes the drafts tend should produce as JSON: a list of
{"thread", "kind", "to", "in_reply_to", "subject"} (2 entries).
"""
import argparse
import base64
import json
import os
import random
import socket
import sys
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime

HOSTNAME = "tend-demo"
rng = random.Random(20240611)

ALICE = "Alice Example <alice@acme.test>"
ALICE_SIG = "-- \nAlice Example\nAccount Executive, Acme Analytics\n+49 30 5550 1234 | acme.test"

BERLIN = timezone(timedelta(hours=1))
TZS = {
    "berlin": BERLIN,
    "london": timezone(timedelta(hours=0)),
    "milan": timezone(timedelta(hours=1)),
    "newyork": timezone(timedelta(hours=-5)),
    "utc": timezone.utc,
}


def ts(now, *, days=0, hours=0, minutes=0, tz="berlin"):
    """A time `days/hours/minutes` before now, as an aware datetime in the given zone."""
    t = now - timedelta(days=days, hours=hours, minutes=minutes)
    return t.astimezone(TZS[tz])


def hexid(n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def b64id(n):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(alphabet) for _ in range(n))


def gmail_id():
    return f"<CA{b64id(10)}+{b64id(14)}_{b64id(20)}@mail.gmail.com>"


def outlook_id(dom="eurprd04"):
    box = f"AM{rng.randint(0, 9)}PR{rng.randint(10, 99)}MB{rng.randint(1000, 9999)}"
    return f"<{box}{b64id(12).upper()}@{box}.{dom}.prod.outlook.com>"


def apple_id(domain):
    u = hexid(8).upper() + "-" + hexid(4).upper() + "-" + hexid(4).upper() + "-" + hexid(4).upper() + "-" + hexid(12).upper()
    return f"<{u}@{domain}>"


def thunderbird_id():
    u = f"{hexid(8)}-{hexid(4)}-{hexid(4)}-{hexid(4)}-{hexid(12)}"
    return f"<{u}@acme.test>"


def quote(text):
    return "\n".join(("> " + line) if line else ">" for line in text.rstrip("\n").split("\n"))


def attribution_gmail(when, who):
    return f"On {when.strftime('%a, %b %-d, %Y at %-I:%M %p')} {who} wrote:"


def attribution_tb(when, who):
    return f"On {when.strftime('%d.%m.%Y %H:%M')}, {who} wrote:"


def inbound_trace(msg, to_addr, when, sender_host, sender_ip):
    """Received/Return-Path headers a delivering MTA would add on top."""
    rcv = format_datetime(when.astimezone(BERLIN))
    trace = [
        ("Return-Path", f"<{msg['From'].addresses[0].addr_spec}>"),
        ("Delivered-To", to_addr),
        ("Received", f"from {sender_host} ({sender_host} [{sender_ip}]) by mx1.acme.test (Postfix) "
                     f"with ESMTPS id {hexid(10).upper()} for <{to_addr}>; {rcv}"),
    ]
    # Trace headers go on top, as the delivering MTA prepends them.
    msg._headers[0:0] = [msg.policy.header_store_parse(n, v) for n, v in trace]


def build(headers, text, html=None, attachment=None):
    """An EmailMessage: headers (ordered list of (name, value)), a text body, optional html/attachment."""
    msg = EmailMessage()
    for name, value in headers:
        msg[name] = value
    msg.set_content(text, cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
    if attachment is not None:
        fname, ctype, data = attachment
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=fname)
    return msg


def html_of(text):
    paras = text.split("\n\n")
    body = "".join("<div dir=\"ltr\">" + p.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                   .replace("\n", "<br>") + "</div><br>" for p in paras)
    return f"<html><head></head><body>{body}</body></html>\n"


class Maildir:
    def __init__(self, root):
        self.root = root
        self.seq = 0
        for folder in ("", ".Sent", ".Drafts"):
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(root, folder, sub), exist_ok=True)
        # Maildir++ subfolders are listed only when subscribed or present; Dovecot finds them by dir.

    def put(self, folder, msg, when, flags="S"):
        data = msg.as_bytes()
        self.seq += 1
        epoch = int(when.timestamp())
        name = f"{epoch}.M{self.seq:06d}P{os.getpid()}.{HOSTNAME},S={len(data)}:2,{flags}"
        path = os.path.join(self.root, folder, "cur", name)
        tmp = os.path.join(self.root, folder, "tmp", name.split(":")[0])
        with open(tmp, "wb") as f:
            f.write(data)
        os.utime(tmp, (epoch, epoch))  # Dovecot takes INTERNALDATE from the file's mtime
        os.rename(tmp, path)
        return path


def seed(root, now):
    md = Maildir(root)
    expect = []

    # ---- (a) unanswered pricing question (Gmail buyer, Thunderbird us) ----------------------
    jonas = "Jonas Weber <jonas.weber@nordwind-logistik.example>"
    a1_when = ts(now, days=9, hours=3, tz="berlin")
    a1_id = gmail_id()
    a1_text = (
        "Hi Alice,\n\n"
        "we met briefly at the Logistics Data Summit in Hamburg. We are a mid-sized freight\n"
        "forwarder (about 140 people) and our dispatch team is still reporting out of Excel.\n\n"
        "Could you send me some information on Acme Analytics - mainly how long an\n"
        "onboarding takes and whether you can connect to our TMS (Transporeon + an in-house\n"
        "Postgres)?\n\n"
        "Thanks and best regards,\n"
        "Jonas\n\n"
        "--\n"
        "Jonas Weber\n"
        "Head of Operations Excellence\n"
        "Nordwind Logistik GmbH | Am Sandtorkai 12 | 20457 Hamburg\n"
    )
    a1 = build([
        ("MIME-Version", "1.0"),
        ("Date", format_datetime(a1_when)),
        ("Message-ID", a1_id),
        ("Subject", "Dashboards for our dispatch team"),
        ("From", jonas),
        ("To", ALICE),
        ("Content-Language", "en"),
    ], a1_text, html_of(a1_text))
    inbound_trace(a1, "alice@acme.test", a1_when + timedelta(seconds=3), "mail-sor-f41.google.com", "209.85.220.41")
    a1["X-Gm-Message-State"] = "AOJu0Y" + b64id(40)
    md.put("", a1, a1_when)

    a2_when = ts(now, days=8, hours=1, tz="berlin")
    a2_id = thunderbird_id()
    a2_text = (
        "Hi Jonas,\n\n"
        "great to hear from you, and thanks for stopping by our booth in Hamburg.\n\n"
        "Short answers to your questions:\n"
        "- Onboarding: typically 3-4 weeks from kickoff to the first live dashboards.\n"
        "- Transporeon: we have a standard connector; Postgres is supported out of the box.\n\n"
        "I have attached our one-pager. Would a 30-minute demo next week work for you and\n"
        "whoever leads dispatch?\n\n"
        "Best,\nAlice\n\n"
        f"{ALICE_SIG}\n\n"
        f"{attribution_tb(a1_when, jonas)}\n{quote(a1_text)}\n"
    )
    a2 = build([
        ("Message-ID", a2_id),
        ("Date", format_datetime(a2_when)),
        ("MIME-Version", "1.0"),
        ("User-Agent", "Mozilla Thunderbird"),
        ("Subject", "Re: Dashboards for our dispatch team"),
        ("Content-Language", "en-US"),
        ("To", jonas),
        ("References", a1_id),
        ("From", ALICE),
        ("In-Reply-To", a1_id),
    ], a2_text, attachment=("Acme-Analytics-One-Pager.pdf", "application/pdf", b"%PDF-1.4\n%fake one-pager\n" + os.urandom(900)))
    md.put(".Sent", a2, a2_when)

    a3_when = ts(now, days=2, hours=2, tz="berlin")
    a3_id = gmail_id()
    a3_text = (
        "Hi Alice,\n\n"
        "thanks again for the demo on Tuesday, the team liked the delay-heatmap a lot.\n\n"
        "Before I take this to our CFO: what would the annual price be for 25 named users\n"
        "(dispatch + two people in controlling)? And is there any discount if we sign before\n"
        "the end of the quarter? We would also need the invoice in EUR from a German entity.\n\n"
        "Best,\nJonas\n\n"
        f"{attribution_gmail(a2_when, ALICE)}\n\n{quote(a2_text.split(ALICE_SIG)[0].rstrip())}\n"
    )
    a3 = build([
        ("MIME-Version", "1.0"),
        ("References", f"{a1_id} {a2_id}"),
        ("In-Reply-To", a2_id),
        ("From", jonas),
        ("Date", format_datetime(a3_when)),
        ("Message-ID", a3_id),
        ("Subject", "Re: Dashboards for our dispatch team"),
        ("To", ALICE),
        ("Cc", "Lena Hoffmann <lena.hoffmann@nordwind-logistik.example>"),
    ], a3_text, html_of(a3_text))
    inbound_trace(a3, "alice@acme.test", a3_when + timedelta(seconds=2), "mail-sor-f73.google.com", "209.85.220.73")
    md.put("", a3, a3_when)
    expect.append({"thread": "a", "kind": "reply", "to": "jonas.weber@nordwind-logistik.example",
                   "in_reply_to": a3_id, "subject": "Re: Dashboards for our dispatch team"})

    # ---- (b) proposal gone quiet for a week (Outlook buyer) ---------------------------------
    priya = "Priya Raman <priya.raman@brightfield-retail.example>"
    b1_when = ts(now, days=12, hours=5, tz="london")
    b1_id = outlook_id()
    b1_text = (
        "Hello Alice,\n\n"
        "Brightfield Retail runs 38 stores across the UK and we are reviewing our BI tooling\n"
        "for the next financial year. Your colleague mentioned you have retail templates\n"
        "(basket analysis, store comparisons).\n\n"
        "Could you put together a proposal for roughly 60 users, with SSO (Azure AD) and a\n"
        "UK/EU data residency option? We would like to decide before the end of next month.\n\n"
        "Kind regards,\n\n"
        "Priya Raman\n"
        "Head of Commercial Insight | Brightfield Retail Ltd\n"
        "T: +44 20 7946 0321\n\n"
        "This e-mail and any attachments are confidential and intended solely for the addressee.\n"
    )
    b1 = build([
        ("From", priya),
        ("To", "\"alice@acme.test\" <alice@acme.test>"),
        ("Subject", "Proposal request - BI platform for store analytics"),
        ("Thread-Topic", "Proposal request - BI platform for store analytics"),
        ("Thread-Index", "AQHa" + b64id(28) + "=="),
        ("Date", format_datetime(b1_when)),
        ("Message-ID", b1_id),
        ("Accept-Language", "en-GB, en-US"),
        ("Content-Language", "en-GB"),
        ("X-MS-Has-Attach", ""),
        ("X-MS-TNEF-Correlator", ""),
        ("X-MS-Exchange-Organization-SCL", "1"),
        ("MIME-Version", "1.0"),
    ], b1_text, html_of(b1_text))
    inbound_trace(b1, "alice@acme.test", b1_when + timedelta(seconds=4),
                  "mail-am6eur05on2071.outbound.protection.outlook.com", "40.107.22.71")
    md.put("", b1, b1_when)

    b2_when = ts(now, days=7, hours=4, tz="berlin")
    b2_id = thunderbird_id()
    b2_text = (
        "Hello Priya,\n\n"
        "thank you for the detailed brief. Please find our proposal attached. In short:\n\n"
        "- Acme Analytics Business, 60 named users, annual billing: GBP 41,400 / year\n"
        "- Retail template pack (basket analysis, store league tables) included\n"
        "- SSO via Azure AD (SAML) and EU data residency (Frankfurt) included\n"
        "- Onboarding: 4 weeks, fixed price GBP 6,500\n\n"
        "The prices are valid until the end of the month. I am happy to walk your team\n"
        "through it in a short call - just let me know a slot that suits you.\n\n"
        "Kind regards,\nAlice\n\n"
        f"{ALICE_SIG}\n\n"
        f"{attribution_tb(b1_when, priya)}\n{quote(b1_text)}\n"
    )
    b2 = build([
        ("Message-ID", b2_id),
        ("Date", format_datetime(b2_when)),
        ("MIME-Version", "1.0"),
        ("User-Agent", "Mozilla Thunderbird"),
        ("Subject", "Re: Proposal request - BI platform for store analytics"),
        ("Content-Language", "en-GB"),
        ("To", priya),
        ("References", b1_id),
        ("In-Reply-To", b1_id),
        ("From", ALICE),
    ], b2_text, attachment=("Acme-Proposal-Brightfield.pdf", "application/pdf", b"%PDF-1.4\n%fake proposal\n" + os.urandom(2400)))
    md.put(".Sent", b2, b2_when)
    expect.append({"thread": "b", "kind": "followup", "to": "priya.raman@brightfield-retail.example",
                   "in_reply_to": b2_id, "subject": "Re: Proposal request - BI platform for store analytics"})

    # ---- (c) newsletter --------------------------------------------------------------------
    c_when = ts(now, days=1, hours=6, tz="newyork")
    c_text = (
        "SaaS Sales Weekly - Issue #212\n\n"
        "1. Why your follow-up cadence is too polite\n"
        "2. Benchmarks: win rates by deal size in 2024\n"
        "3. Webinar: forecasting without spreadsheets\n\n"
        "Read online: https://news.saasweekly.example/issues/212\n\n"
        "You receive this because you subscribed at saasweekly.example.\n"
        "Unsubscribe: https://news.saasweekly.example/u/" + b64id(24) + "\n"
    )
    c = build([
        ("Date", format_datetime(c_when)),
        ("From", "SaaS Sales Weekly <news@saasweekly.example>"),
        ("Reply-To", "SaaS Sales Weekly <hello@saasweekly.example>"),
        ("To", "alice@acme.test"),
        ("Message-ID", f"<{b64id(24)}@mailer.saasweekly.example>"),
        ("Subject", "Issue #212: Your follow-ups are too polite"),
        ("MIME-Version", "1.0"),
        ("List-Unsubscribe", "<https://news.saasweekly.example/u/" + b64id(24) + ">, <mailto:unsubscribe@saasweekly.example>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("List-Id", "SaaS Sales Weekly <weekly.saasweekly.example>"),
        ("Precedence", "bulk"),
        ("X-Campaign-Id", b64id(12)),
        ("Feedback-ID", "212:weekly:saasweekly"),
    ], c_text, html_of(c_text))
    inbound_trace(c, "alice@acme.test", c_when + timedelta(seconds=30), "o1.mailer.saasweekly.example", "198.51.100.23")
    md.put("", c, c_when)

    # ---- (d) out-of-office auto-reply to our message of yesterday ---------------------------
    marco = "Marco Bianchi <m.bianchi@ferrantipack.example>"
    d1_when = ts(now, days=6, hours=2, tz="milan")
    d1_id = outlook_id("eurprd08")
    d1_text = (
        "Hi Alice,\n\n"
        "quick question about the pilot: can we keep the data of the pilot workspace if we\n"
        "move on to a paid plan afterwards?\n\n"
        "Thanks,\nMarco\n\n"
        "Marco Bianchi | IT Manager\nFerranti Packaging S.p.A.\n"
    )
    d1 = build([
        ("From", marco),
        ("To", ALICE),
        ("Subject", "Pilot workspace data"),
        ("Thread-Topic", "Pilot workspace data"),
        ("Thread-Index", "AQHb" + b64id(28) + "=="),
        ("Date", format_datetime(d1_when)),
        ("Message-ID", d1_id),
        ("Content-Language", "it-IT"),
        ("MIME-Version", "1.0"),
    ], d1_text, html_of(d1_text))
    inbound_trace(d1, "alice@acme.test", d1_when + timedelta(seconds=5),
                  "mail-db8eur05on2050.outbound.protection.outlook.com", "40.107.20.50")
    md.put("", d1, d1_when)

    d2_when = ts(now, hours=26, tz="berlin")
    d2_id = thunderbird_id()
    d2_text = (
        "Hi Marco,\n\n"
        "yes - when you convert the pilot to a paid plan, the workspace, its data sources and\n"
        "all dashboards stay exactly as they are. Nothing needs to be exported.\n\n"
        "Shall I send you the order form so we can line it up with the end of the pilot?\n\n"
        "Best,\nAlice\n\n"
        f"{ALICE_SIG}\n\n"
        f"{attribution_tb(d1_when, marco)}\n{quote(d1_text)}\n"
    )
    d2 = build([
        ("Message-ID", d2_id),
        ("Date", format_datetime(d2_when)),
        ("MIME-Version", "1.0"),
        ("User-Agent", "Mozilla Thunderbird"),
        ("Subject", "Re: Pilot workspace data"),
        ("To", marco),
        ("References", d1_id),
        ("In-Reply-To", d1_id),
        ("From", ALICE),
    ], d2_text)
    md.put(".Sent", d2, d2_when)

    d3_when = ts(now, hours=25, minutes=58, tz="milan")
    d3_text = (
        "Thank you for your message. I am out of the office until Monday with limited access\n"
        "to e-mail. For urgent matters please contact it-support@ferrantipack.example.\n\n"
        "Grazie per il messaggio. Sono fuori ufficio fino a lunedi.\n\n"
        "Marco Bianchi\n"
    )
    d3 = build([
        ("From", marco),
        ("To", ALICE),
        ("Subject", "Automatic reply: Re: Pilot workspace data"),
        ("Thread-Topic", "Re: Pilot workspace data"),
        ("Date", format_datetime(d3_when)),
        ("Message-ID", outlook_id("eurprd08")),
        ("In-Reply-To", d2_id),
        ("References", f"{d1_id} {d2_id}"),
        ("Auto-Submitted", "auto-replied"),
        ("X-Auto-Response-Suppress", "All"),
        ("X-MS-Exchange-Inbox-Rules-Loop", "m.bianchi@ferrantipack.example"),
        ("Content-Language", "it-IT"),
        ("MIME-Version", "1.0"),
    ], d3_text)
    inbound_trace(d3, "alice@acme.test", d3_when + timedelta(seconds=5),
                  "mail-db8eur05on2050.outbound.protection.outlook.com", "40.107.20.50")
    md.put("", d3, d3_when)

    # ---- (e) a question we already answered (Apple Mail buyer) ------------------------------
    sofia = "Sofia Lindqvist <sofia@lindqvist-design.example>"
    e1_when = ts(now, days=2, hours=5, tz="berlin")
    e1_id = apple_id("lindqvist-design.example")
    e1_text = (
        "Hi Alice,\n\n"
        "does the Starter plan include the Shopify connector, or is that only in Business?\n\n"
        "Sofia\n\n"
        "Sent from my iPhone\n"
    )
    e1 = build([
        ("Mime-Version", "1.0 (1.0)"),
        ("Subject", "Shopify connector in Starter?"),
        ("From", sofia),
        ("Date", format_datetime(e1_when)),
        ("Message-Id", e1_id),
        ("To", ALICE),
        ("X-Mailer", "iPhone Mail (21F90)"),
    ], e1_text)
    inbound_trace(e1, "alice@acme.test", e1_when + timedelta(seconds=2), "mr85p00im-zteg06021501.me.com", "17.58.23.185")
    md.put("", e1, e1_when)

    e2_when = ts(now, hours=20, tz="berlin")
    e2_text = (
        "Hi Sofia,\n\n"
        "good news: the Shopify connector is included in every plan, Starter too. You can\n"
        "switch it on under Settings > Data sources.\n\n"
        "Best,\nAlice\n\n"
        f"{ALICE_SIG}\n\n"
        f"{attribution_tb(e1_when, sofia)}\n{quote(e1_text)}\n"
    )
    e2 = build([
        ("Message-ID", thunderbird_id()),
        ("Date", format_datetime(e2_when)),
        ("MIME-Version", "1.0"),
        ("User-Agent", "Mozilla Thunderbird"),
        ("Subject", "Re: Shopify connector in Starter?"),
        ("To", sofia),
        ("References", e1_id),
        ("In-Reply-To", e1_id),
        ("From", ALICE),
    ], e2_text)
    md.put(".Sent", e2, e2_when)

    # ---- (f) an internal note from a colleague ----------------------------------------------
    f_when = ts(now, days=1, hours=3, tz="berlin")
    f_text = (
        "Hi Alice,\n\n"
        "FYI: the Q3 price list is final, new PDFs are in the shared drive. Old discounts stay\n"
        "valid for deals signed before the 30th.\n\n"
        "Tom\n"
    )
    f = build([
        ("Message-ID", thunderbird_id()),
        ("Date", format_datetime(f_when)),
        ("MIME-Version", "1.0"),
        ("User-Agent", "Mozilla Thunderbird"),
        ("Subject", "Q3 price list"),
        ("To", ALICE),
        ("From", "Tom Brenner <tom.brenner@acme.test>"),
    ], f_text)
    inbound_trace(f, "alice@acme.test", f_when + timedelta(seconds=1), "mail.acme.test", "192.0.2.10")
    md.put("", f, f_when)

    return expect


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("maildir", help="the user's Maildir, e.g. BASE/mail/alice")
    ap.add_argument("--now-epoch", type=int, required=True)
    ap.add_argument("--expect", help="write the expected drafts (JSON) here")
    args = ap.parse_args()
    now = datetime.fromtimestamp(args.now_epoch, timezone.utc)
    expect = seed(args.maildir, now)
    if args.expect:
        with open(args.expect, "w") as f:
            json.dump(expect, f, indent=2)
    print(f"seeded {args.maildir}: 6 threads, {len(expect)} drafts expected", file=sys.stderr)


if __name__ == "__main__":
    main()
