//! Inputs shared by the micro-benchmarks: a few real-client fixture messages
//! (tests/fixtures/parse) and a synthetic threaded mailbox shaped like scripts/bench_mailbox.py
//! (buyer asks, we answer, full References chains, quoted history), built in memory and parsed
//! once so each benchmark times only its own stage. Deterministic: no clock, no randomness.

// Each bench target includes this module and uses part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use tend::config::Identity;
use tend::parse::Email;

/// The moment every benchmark judges at: 2026-11-27 12:00 UTC, after every synthetic date.
pub const NOW: i64 = 1_795_780_800;

/// The fixtures the parse benchmark reads, one of each kind tend meets: a plain reply, a
/// flowed one, an auto-reply, a newsletter, a Latin-1 reply and a malformed MIME message.
pub const FIXTURES: [&str; 6] = [
    "001-gmail-reply.eml",
    "004-thunderbird-flowed.eml",
    "005-exchange-auto-reply.eml",
    "007-newsletter-mailchimp.eml",
    "012-german-aw-latin1.eml",
    "015-malformed-mime.eml",
];

pub fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "fixtures",
        "parse",
        name,
    ]
    .iter()
    .collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

pub fn me() -> Identity {
    Identity {
        addresses: vec!["alice@acme.test".into()],
        internal_domains: vec!["acme.test".into()],
    }
}

const SENTENCES: [&str; 6] = [
    "Could you send the pricing proposal for the renewal of our seats before Friday?",
    "We reviewed the security questionnaire with our procurement team this week.",
    "The dashboard rollout is on track and the pilot team is happy with the connector.",
    "Please confirm the timeline so legal can approve the contract terms in time.",
    "Our budget approval for next quarter depends on the discount we agree on.",
    "Thanks for the demo, the export and the data warehouse access look good.",
];

/// Message `k` of thread `t`, as raw RFC 5322 bytes: even `k` from the buyer, odd from us,
/// each naming the whole chain before it, the text quoting the previous message.
pub fn raw_message(t: usize, k: usize) -> Vec<u8> {
    let buyer = format!("buyer{t}@company{}.example", t % 97);
    let ours = k % 2 == 1;
    let (from, to) = if ours {
        ("Alice Example <alice@acme.test>".to_string(), buyer.clone())
    } else {
        (
            format!("Buyer {t} <{buyer}>"),
            "alice@acme.test".to_string(),
        )
    };
    let id = |k: usize| {
        format!(
            "<bench.{t}.{k}@{}>",
            if k % 2 == 1 {
                "acme.test"
            } else {
                "company.example"
            }
        )
    };
    let mut head = format!(
        "Message-ID: {}\r\nDate: {}\r\nFrom: {from}\r\nTo: {to}\r\nSubject: {}Pricing for next year #{t}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n",
        id(k),
        rfc2822(NOW - 86_400 * 5 + (t as i64 % 50) * 3_600 + k as i64 * 7_200),
        if k > 0 { "Re: " } else { "" },
    );
    if k > 0 {
        let refs: Vec<String> = (0..k).map(id).collect();
        head.push_str(&format!(
            "In-Reply-To: {}\r\nReferences: {}\r\n",
            id(k - 1),
            refs.join(" ")
        ));
    }
    let mut body = String::from("Hi,\r\n\r\n");
    for s in 0..6 {
        body.push_str(SENTENCES[(t + k + s) % SENTENCES.len()]);
        body.push_str("\r\n");
    }
    body.push_str("\r\nRegards\r\n");
    if k > 0 {
        body.push_str("\r\nOn Monday, the other side wrote:\r\n");
        for s in 0..12 {
            body.push_str("> ");
            body.push_str(SENTENCES[(t + s) % SENTENCES.len()]);
            body.push_str("\r\n");
        }
    }
    format!("{head}\r\n{body}").into_bytes()
}

fn rfc2822(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .expect("a date within chrono's range")
        .to_rfc2822()
}

/// `threads` threads of `per_thread` messages each, parsed, in thread then message order.
pub fn mailbox(threads: usize, per_thread: usize) -> Vec<Email> {
    let mut out = Vec::with_capacity(threads * per_thread);
    for t in 0..threads {
        for k in 0..per_thread {
            out.push(tend::parse::parse(&raw_message(t, k)).expect("synthetic mail parses"));
        }
    }
    out
}
