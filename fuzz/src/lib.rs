//! The invariants the fuzz targets assert, one function per target, each taking the raw fuzz
//! input. A panic is a finding. The same file is compiled into tests/fuzz_regressions.rs, so a
//! crash kept under tests/fixtures/fuzz/<target>/ is replayed by plain `cargo test` through the
//! very checks that found it. It asserts only what the code promises (caps, no empty ids,
//! normalised text), not how it decides; slow inputs are caught by libFuzzer's `-timeout`.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use tend::config::Identity;
use tend::draft::{interpret_with, Answer, BODY_CAP};
use tend::llm::readers::{self, server_message, MESSAGE_CAP};
use tend::parse::TEXT_CAP;
use tend::parse::{
    html_to_text as convert_html, new_text, parse as parse_email, unflow, Addr, Email,
};
use tend::thread::{self, Orphan};

/// Target `parse`: the whole message parser on arbitrary bytes.
pub fn parse(data: &[u8]) {
    let Ok(e) = parse_email(data) else {
        return;
    };
    assert!(
        e.text.len() <= TEXT_CAP,
        "text over TEXT_CAP: {}",
        e.text.len()
    );
    assert!(
        e.new_text.len() <= e.text.len(),
        "new_text longer than the text"
    );
    assert!(valid_id(&e.message_id), "bad Message-ID {:?}", e.message_id);
    if let Some(id) = &e.in_reply_to {
        assert!(valid_id(id), "bad In-Reply-To {id:?}");
    }
    let mut refs = HashSet::new();
    for id in &e.references {
        assert!(valid_id(id), "bad References id {id:?}");
        assert!(refs.insert(id), "References not deduplicated: {id:?}");
    }
    for a in e.from.iter().chain(&e.reply_to).chain(&e.to).chain(&e.cc) {
        check_addr(a);
    }
    assert!(
        !e.subject.contains(['\r', '\n', '\t']) && !e.subject.contains("  "),
        "subject not collapsed: {:?}",
        e.subject
    );
    assert_eq!(e.subject, e.subject.trim());
    if let Some(why) = &e.automated {
        assert!(!why.is_empty());
    }
    assert!(
        !e.out_of_office || e.automated.is_some(),
        "out of office but not automated"
    );
    // Pure and deterministic: the synthetic Message-ID and everything else come from the bytes.
    assert_eq!(
        parse_email(data).ok().as_ref(),
        Some(&e),
        "parse is not deterministic"
    );
}

/// A message id as `parse` hands it on: non-empty, one token.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && !id.contains(char::is_whitespace)
}

fn check_addr(a: &Addr) {
    assert!(a.email.contains('@'), "address without '@': {:?}", a.email);
    assert_eq!(a.email, a.email.trim(), "address not trimmed");
    if let Some(name) = &a.name {
        assert!(
            !name.is_empty() && !name.contains(['\r', '\n']),
            "bad name {name:?}"
        );
    }
}

/// Target `html_to_text`: the hand-written HTML converter on arbitrary text.
pub fn html_to_text(data: &[u8]) {
    let html = String::from_utf8_lossy(data);
    let text = convert_html(&html);
    // Conversion stops once TEXT_CAP bytes of lines are out; the last line may still carry one
    // word (at most the input), 32 levels of "> " and an entity. body_text caps the rest.
    assert!(
        text.len() <= 2 * TEXT_CAP + html.len() + 256,
        "{} bytes of text from {} bytes of HTML",
        text.len(),
        html.len()
    );
    assert_eq!(text, text.trim_end(), "trailing whitespace");
    assert!(!text.starts_with('\n'), "leading blank line");
}

/// Target `quote`: the quote stripper (`new_text`) and format=flowed (`unflow`).
pub fn quote(data: &[u8]) {
    let (delsp, rest) = match data.split_first() {
        Some((b, rest)) => (b & 1 == 1, rest),
        None => (false, data),
    };
    let text = String::from_utf8_lossy(rest);
    let new = new_text(&text);
    assert!(new.len() <= text.len(), "new_text grew the text");
    assert_eq!(new, new.trim(), "new_text not trimmed");
    if !text.trim().is_empty() {
        assert!(!new.is_empty(), "new_text lost every word");
    }
    let flat = text.replace('\r', "");
    let joined = unflow(&flat, delsp);
    // Joining only removes bytes, except the "\n" + "> " that closes a soft line whose quote
    // depth changes: at most three bytes per line.
    let lines = flat.split('\n').count();
    assert!(
        joined.len() <= flat.len() + 3 * lines,
        "unflow grew {} bytes to {}",
        flat.len(),
        joined.len()
    );
}

/// Target `model_answer`: the reader of the model's answer and of the chat completion around it.
pub fn model_answer(data: &[u8]) {
    let (flags, rest) = match data.split_first() {
        Some((b, rest)) => (*b, rest),
        None => (0, data),
    };
    if let Ok(content) = readers::openai(rest) {
        assert!(!content.trim().is_empty(), "an empty completion passed");
    }
    if let Ok(content) = readers::anthropic(rest) {
        assert!(!content.trim().is_empty(), "an empty tool input passed");
    }
    let message = server_message(rest);
    assert!(!message.is_empty());
    assert!(
        message.chars().count() <= MESSAGE_CAP + 3,
        "server message not truncated"
    );
    assert!(
        !message.contains(char::is_control),
        "control character in a log line"
    );

    let answer = String::from_utf8_lossy(rest);
    let signature = (flags & 2 == 2).then_some("Alice Seller\nShop GmbH");
    let may_veto = flags & 1 == 1;
    match interpret_with(&answer, signature, may_veto) {
        Ok(Answer::Body { body, reason }) => {
            assert!(!body.trim().is_empty(), "an empty body passed");
            assert!(body.chars().count() <= BODY_CAP, "body over BODY_CAP");
            assert!(!body.contains('\r'), "CR in the body");
            assert_eq!(body, body.trim_end(), "body not normalised at the end");
            if let Some(r) = reason {
                check_reason(&r);
            }
        }
        Ok(Answer::Veto { reason }) => {
            assert!(may_veto, "a veto although the model may not veto");
            check_reason(&reason);
        }
        Err(_) => {}
    }
}

fn check_reason(r: &str) {
    assert!(!r.is_empty() && r.chars().count() <= 300, "reason {r:?}");
    assert!(
        !r.contains(char::is_control),
        "control character in the reason"
    );
}

/// Target `thread_resolve`: files a few messages, built from the input, one after the other
/// through [`thread::resolve`] the way the store does (id -> thread, subject key -> thread,
/// merged threads followed as aliases), and checks every placement.
///
/// Input: messages separated by a line "--"; in each, one field per line (an empty line for
/// none): Message-ID, In-Reply-To, References (space separated), From, To (comma separated),
/// Subject.
pub fn thread_resolve(data: &[u8]) {
    let me = Identity {
        addresses: vec!["me@shop.example".into(), "sales@shop.example".into()],
        internal_domains: vec!["shop.example".into()],
    };
    let text = String::from_utf8_lossy(data);
    let store = Store::default();
    for (n, block) in text.split("\n--\n").take(16).enumerate() {
        let Some(email) = email_from(block, n) else {
            continue;
        };
        let asked = RefCell::new(Vec::<String>::new());
        let placement = thread::resolve(
            &email,
            &me,
            |k| {
                store
                    .lookup(&store.ids, k)
                    .inspect(|t| asked.borrow_mut().push(t.clone()))
            },
            |k| {
                store
                    .lookup(&store.subjects, k)
                    .inspect(|t| asked.borrow_mut().push(t.clone()))
            },
        );
        let seen = asked.into_inner();
        let t = &placement.thread;
        assert!(!t.is_empty(), "empty thread id");
        assert!(!placement.absorbs.contains(t), "a thread absorbs itself");
        for (i, a) in placement.absorbs.iter().enumerate() {
            assert!(seen.contains(a), "absorbs {a:?}, which no lookup returned");
            assert!(!placement.absorbs[..i].contains(a), "absorbs {a:?} twice");
        }
        let mut own = email
            .references
            .iter()
            .chain(&email.in_reply_to)
            .chain([&email.message_id]);
        assert!(
            seen.contains(t) || own.any(|id| id == t),
            "thread {t:?} is neither known nor one of the message's own ids"
        );
        if placement.orphan == Orphan::Starts {
            assert!(
                thread::ancestors(&email).is_empty(),
                "an orphan that names ancestors"
            );
        }
        store.file(&email, &me, &placement);
    }
}

/// The store's lookups, in memory.
#[derive(Default)]
struct Store {
    ids: RefCell<HashMap<String, String>>,
    subjects: RefCell<HashMap<String, String>>,
    aliases: RefCell<HashMap<String, String>>,
}

impl Store {
    fn lookup(&self, map: &RefCell<HashMap<String, String>>, k: &str) -> Option<String> {
        let mut t = map.borrow().get(k)?.clone();
        // The store follows at most this many merges (store::filing MAX_ALIAS_HOPS).
        for _ in 0..16 {
            match self.aliases.borrow().get(&t) {
                Some(next) => t = next.clone(),
                None => break,
            }
        }
        Some(t)
    }

    fn file(&self, email: &Email, me: &Identity, p: &thread::Placement) {
        let t = &p.thread;
        for other in &p.absorbs {
            self.aliases.borrow_mut().insert(other.clone(), t.clone());
        }
        let mut ids = self.ids.borrow_mut();
        ids.insert(email.message_id.clone(), t.clone());
        for a in thread::ancestors(email) {
            ids.entry(a.to_string()).or_insert_with(|| t.clone());
        }
        if let Some(k) = thread::subject_key(email, me) {
            let mut subjects = self.subjects.borrow_mut();
            match p.orphan {
                Orphan::Starts => {
                    subjects.insert(thread::orphan_key(&k), t.clone());
                }
                Orphan::Claims => {
                    subjects.remove(&thread::orphan_key(&k));
                }
                Orphan::None => {}
            }
            subjects.insert(k, t.clone());
        }
    }
}

/// One message from its block of lines, written as RFC 5322 headers and read by `parse`, so the
/// ids and addresses are what `resolve` gets in the daemon (and this file needs no change when
/// `Email` gains a field). `None` when `parse` refuses the message.
fn email_from(block: &str, n: usize) -> Option<Email> {
    let mut lines = block.lines();
    let mut field = || lines.next().unwrap_or_default();
    let bracketed = |s: &str| {
        s.split_whitespace()
            .map(|id| format!("<{id}>"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut raw = String::new();
    for (name, value) in [
        ("Message-ID", bracketed(field())),
        ("In-Reply-To", bracketed(field())),
        ("References", bracketed(field())),
        ("From", field().to_string()),
        ("To", field().to_string()),
        ("Subject", field().to_string()),
    ] {
        if !value.trim().is_empty() {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    // Messages without any field still differ (their synthetic Message-IDs come from the bytes).
    raw.push_str(&format!("X-Fuzz-Message: {n}\r\n\r\n"));
    parse_email(raw.as_bytes()).ok()
}
