//! Filing against a real sled store in a temp dir: storing twice, list copies of our own
//! mail, the subject fallback's time limits, hostile header sizes and future dates.

use super::*;
use crate::parse::Addr;

pub(crate) fn me() -> Identity {
    Identity {
        addresses: vec!["alice@acme.test".into()],
        internal_domains: vec!["acme.test".into()],
    }
}

fn mail(id: &str, irt: Option<&str>, from: &str, to: &str, date: i64) -> Email {
    let a = |e: &str| Addr {
        name: None,
        email: e.into(),
    };
    Email {
        message_id: id.into(),
        in_reply_to: irt.map(Into::into),
        references: irt.iter().map(|r| r.to_string()).collect(),
        from: Some(a(from)),
        reply_to: vec![],
        to: vec![a(to)],
        cc: vec![],
        date: Some(date),
        subject: "Pricing".into(),
        new_text: "hi".into(),
        text: "hi".into(),
        automated: None,
        out_of_office: false,
        ooo_until: None,
    }
}

#[test]
fn saving_twice_changes_nothing_and_threads_join() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 0).unwrap();
    let a = mail("a@x", None, "bob@buyer.test", "alice@acme.test", 100);
    let b = mail("b@x", Some("a@x"), "alice@acme.test", "bob@buyer.test", 200);
    assert_eq!(
        store.save("m", &me(), &a).unwrap(),
        Saved {
            thread_id: "a@x".into(),
            new: true
        }
    );
    assert_eq!(
        store.save("m", &me(), &b).unwrap(),
        Saved {
            thread_id: "a@x".into(),
            new: true
        }
    );
    assert_eq!(
        store.save("m", &me(), &b).unwrap(),
        Saved {
            thread_id: "a@x".into(),
            new: false
        }
    );
    let t = store.thread("a@x").unwrap().unwrap();
    assert_eq!(
        t.messages
            .iter()
            .map(|e| e.message_id.as_str())
            .collect::<Vec<_>>(),
        ["a@x", "b@x"]
    );
    let c = store.contact("m", "bob@buyer.test").unwrap();
    assert_eq!(
        (c.received, c.sent, c.last_received, c.last_sent),
        (1, 1, Some(100), Some(200))
    );
    assert_eq!(store.contact("m", "@buyer.test").unwrap().received, 1);
    assert_eq!(store.recent_threads("m", 150).unwrap(), ["a@x"]);
    assert!(store.recent_threads("m", 201).unwrap().is_empty());
    assert!(store.recent_threads("other", 0).unwrap().is_empty());
}

const DAY: i64 = 86_400;

/// A message with full threading headers: `refs` oldest first, In-Reply-To the last of them.
pub(crate) fn msg(
    id: &str,
    refs: &[&str],
    from: &str,
    to: &str,
    subject: &str,
    date: i64,
) -> Email {
    let mut e = mail(id, refs.last().copied(), from, to, date);
    e.references = refs.iter().map(|r| r.to_string()).collect();
    e.subject = subject.into();
    e
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, 0).unwrap()
}

/// 1.3.3: our own reply to a buyer who Cc'd a group we are on: the group's copy (List-Id)
/// reaches INBOX before Sent is read. It is still ours, and the Sent copy replaces it.
#[test]
fn our_own_reply_arriving_first_as_a_list_copy_is_still_ours() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let q = msg(
        "q@b",
        &[],
        "nina@buyer.test",
        "alice@acme.test",
        "Valves",
        100,
    );
    let sent = msg(
        "r@acme",
        &["q@b"],
        "alice@acme.test",
        "nina@buyer.test",
        "Re: Valves",
        200,
    );
    let mut list_copy = sent.clone();
    list_copy.automated = Some("List-Id: Purchasing <purchasing.buyer.test>".into());
    list_copy.subject = "[purchasing] Re: Valves".into();
    store.save("m", &me(), &q).unwrap();
    store.save("m", &me(), &list_copy).unwrap();
    let t = store.thread("q@b").unwrap().unwrap();
    assert_eq!(t.messages[1].automated, None, "list signs on our own From");
    assert_eq!(store.contact("m", "nina@buyer.test").unwrap().sent, 1);
    store.save("m", &me(), &sent).unwrap();
    let t = store.thread("q@b").unwrap().unwrap();
    assert_eq!(
        t.messages[1].subject, "Re: Valves",
        "the copy from Sent wins"
    );
    // Someone else's message through the list stays a list message.
    let mut other = msg(
        "o@b",
        &["q@b"],
        "carl@buyer.test",
        "purchasing@buyer.test",
        "Re: Valves",
        300,
    );
    other.automated = Some("List-Id: Purchasing <purchasing.buyer.test>".into());
    store.save("m", &me(), &other).unwrap();
    let t = store.thread("q@b").unwrap().unwrap();
    assert!(t.messages[2].automated.is_some());
}

/// 1.2.3: a header-less "Re: Invoice" joins the last "Invoice" thread with that person only
/// when that thread saw a message within `thread::SUBJECT_JOIN_DAYS`.
#[test]
fn the_subject_fallback_joins_only_a_recent_thread() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let inv = msg(
        "inv@acme",
        &[],
        "alice@acme.test",
        "bob@buyer.test",
        "Invoice",
        0,
    );
    store.save("m", &me(), &inv).unwrap();
    let soon = msg(
        "r1@b",
        &[],
        "bob@buyer.test",
        "alice@acme.test",
        "Re: Invoice",
        10 * DAY,
    );
    assert_eq!(store.save("m", &me(), &soon).unwrap().thread_id, "inv@acme");
    // The key's date moved with the reply: 95 days after the original, 85 after the reply.
    let later = msg(
        "r2@b",
        &[],
        "bob@buyer.test",
        "alice@acme.test",
        "Re: Invoice",
        95 * DAY,
    );
    assert_eq!(
        store.save("m", &me(), &later).unwrap().thread_id,
        "inv@acme"
    );
    let year = msg(
        "r3@b",
        &[],
        "bob@buyer.test",
        "alice@acme.test",
        "Re: Invoice",
        400 * DAY,
    );
    assert_eq!(store.save("m", &me(), &year).unwrap().thread_id, "r3@b");
}

/// 1.2.3: an orphan reply (its original never seen) is claimed only by an original within
/// `thread::ORPHAN_CLAIM_DAYS` of it, not by a new mail with the same subject months later.
#[test]
fn an_orphan_reply_expires() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let orphan = msg(
        "o1@b",
        &[],
        "gil@g.test",
        "alice@acme.test",
        "Re: Licences",
        0,
    );
    assert_eq!(store.save("m", &me(), &orphan).unwrap().thread_id, "o1@b");
    let cold = msg(
        "n1@acme",
        &[],
        "alice@acme.test",
        "gil@g.test",
        "Licences",
        60 * DAY,
    );
    assert_eq!(store.save("m", &me(), &cold).unwrap().thread_id, "n1@acme");
    let orphan2 = msg(
        "o2@b",
        &[],
        "hal@h.test",
        "alice@acme.test",
        "Re: Licences",
        100 * DAY,
    );
    store.save("m", &me(), &orphan2).unwrap();
    let original = msg(
        "n2@acme",
        &[],
        "alice@acme.test",
        "hal@h.test",
        "Licences",
        99 * DAY,
    );
    assert_eq!(store.save("m", &me(), &original).unwrap().thread_id, "o2@b");
}

/// 3.4: a 2 MiB References header (about 100k ids) and 10,000 Cc addresses parse, thread and
/// file in bounded time, and only a capped number of ids reaches the store.
#[test]
fn a_2mb_references_header_parses_threads_and_files_in_bounded_time() {
    let mut raw = String::from(
        "From: mallory@evil.test\r\nTo: alice@acme.test\r\nSubject: Re: x\r\nMessage-ID: <big@evil.test>\r\nReferences:",
    );
    let mut n = 0;
    while raw.len() < 2 * 1024 * 1024 {
        raw.push_str(&format!(" <id{n}@spam.test>\r\n"));
        n += 1;
    }
    raw.push_str("Cc:");
    for i in 0..10_000 {
        raw.push_str(&format!(" c{i}@spam.test,\r\n"));
    }
    raw.push_str(" last@spam.test\r\n\r\nbody\r\n");
    let start = std::time::Instant::now();
    let email = crate::parse::parse(raw.as_bytes()).unwrap();
    assert_eq!(email.references.len(), crate::parse::MAX_REFERENCES);
    assert_eq!(email.references[0], "id0@spam.test");
    assert_eq!(
        email.references.last().unwrap(),
        &format!("id{}@spam.test", n - 1)
    );
    assert_eq!(email.cc.len(), crate::parse::MAX_RECIPIENTS);
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.save_all("m", &me(), &[email.clone(), email]).unwrap();
    let named = store.msg_thread.len();
    assert!(
        named <= crate::parse::MAX_REFERENCES + 1,
        "{named} ids indexed"
    );
    // A coarse guard only (measured 0.4 s in a debug build; uncapped, this took minutes).
    assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
}

/// 1.3.2 (b): a Date far in the future (a spam trick) is clamped to INTERNALDATE, so the
/// message is not "latest" (nor "recent") forever; a Date up to a day ahead is a clock
/// error tend keeps, and a missing Date falls back to INTERNALDATE.
#[test]
fn future_dated_spam_does_not_stay_latest_forever() {
    use crate::parse::settle_date;
    let arrived = 1_800_000_000;
    assert_eq!(
        settle_date(Some(arrived + 400 * DAY), Some(arrived)),
        Some(arrived)
    );
    assert_eq!(
        settle_date(Some(arrived + 3600), Some(arrived)),
        Some(arrived + 3600)
    );
    assert_eq!(
        settle_date(Some(arrived - DAY), Some(arrived)),
        Some(arrived - DAY)
    );
    assert_eq!(settle_date(None, Some(arrived)), Some(arrived));
    assert_eq!(settle_date(Some(5), None), Some(5));
    let raw = "From: spam@spam.test\r\nTo: alice@acme.test\r\nSubject: Win\r\nMessage-ID: <s@spam.test>\r\nDate: Thu, 1 Jan 2099 00:00:00 +0000\r\n\r\nbody\r\n";
    let mut spam = crate::parse::parse(raw.as_bytes()).unwrap();
    spam.date = settle_date(spam.date, Some(arrived));
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let q = msg(
        "q@b",
        &[],
        "bob@buyer.test",
        "alice@acme.test",
        "Pricing",
        arrived - 60,
    );
    store.save_all("m", &me(), &[q, spam]).unwrap();
    assert!(store
        .recent_threads("m", arrived + 2 * DAY)
        .unwrap()
        .is_empty());
}

/// A NUL inside a Message-ID would split the store's `thread \0 id` keys, so that a crafted
/// thread id could list a message under another thread's prefix. Ids keep no control chars.
#[test]
fn message_ids_never_carry_control_characters() {
    use crate::parse::extract_ids;
    assert_eq!(
        extract_ids("<anna1@a\u{0}x> b\u{1}c@d"),
        ["anna1@ax", "bc@d"]
    );
    let raw = "From: m@evil.test\r\nTo: alice@acme.test\r\nMessage-ID: <m\u{0}1@evil.test>\r\nReferences: <anna1@a\u{0}x>\r\nSubject: s\r\n\r\nbody\r\n";
    let e = crate::parse::parse(raw.as_bytes()).unwrap();
    assert_eq!(e.message_id, "m1@evil.test");
    assert_eq!(e.references, ["anna1@ax"]);
}
