//! Merges against a real sled store in a temp dir: the evidence a merge needs, the cap, every
//! read path after a merge, and a merge cut short by a crash.

use super::*;
use crate::store::filing::tests::{me, msg};
use crate::store::{key, Record};

fn ids(t: &crate::thread::Thread) -> Vec<&str> {
    t.messages.iter().map(|e| e.message_id.as_str()).collect()
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, 0).unwrap()
}

/// 1.2.2: anyone Cc'd on a conversation knows its ids. Mallory, Cc'd on Anna's thread only,
/// names Anna's and Bob's messages: he joins Anna's thread (he is in it) but Bob's thread,
/// with which his message shares nobody and no subject, is not pulled in.
#[test]
fn a_hostile_references_header_does_not_merge_two_customers_threads() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut anna = msg(
        "anna1@a",
        &[],
        "anna@a.test",
        "alice@acme.test",
        "Pricing",
        100,
    );
    anna.cc = vec![crate::parse::Addr {
        name: None,
        email: "mallory@evil.test".into(),
    }];
    let bob = msg(
        "bob1@b",
        &[],
        "bob@b.test",
        "alice@acme.test",
        "Contract renewal",
        200,
    );
    store.save("m", &me(), &anna).unwrap();
    store.save("m", &me(), &bob).unwrap();
    let evil = msg(
        "evil1@e",
        &["anna1@a", "bob1@b"],
        "mallory@evil.test",
        "alice@acme.test",
        "Re: Hello",
        300,
    );
    assert_eq!(store.save("m", &me(), &evil).unwrap().thread_id, "anna1@a");
    assert_eq!(ids(&store.thread("bob1@b").unwrap().unwrap()), ["bob1@b"]);
    assert_eq!(
        store.thread_of("bob1@b").unwrap().as_deref(),
        Some("bob1@b")
    );
    let anna_thread = store.thread("anna1@a").unwrap().unwrap();
    assert_eq!(ids(&anna_thread), ["anna1@a", "evil1@e"]);
    let mut recent = store.recent_threads("m", 0).unwrap();
    recent.sort();
    assert_eq!(recent, ["anna1@a", "bob1@b"]);
}

/// 1.2.2: a stranger who names one message of another customer's thread does not join it,
/// so the draft answering the stranger never sees that conversation.
#[test]
fn a_hostile_reference_to_one_thread_does_not_join_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let anna = msg(
        "anna1@a",
        &[],
        "anna@a.test",
        "alice@acme.test",
        "Pricing",
        100,
    );
    store.save("m", &me(), &anna).unwrap();
    let evil = msg(
        "evil1@e",
        &["anna1@a"],
        "mallory@evil.test",
        "alice@acme.test",
        "Re: Hello",
        300,
    );
    assert_eq!(store.save("m", &me(), &evil).unwrap().thread_id, "evil1@e");
    assert_eq!(ids(&store.thread("anna1@a").unwrap().unwrap()), ["anna1@a"]);
    assert_eq!(ids(&store.thread("evil1@e").unwrap().unwrap()), ["evil1@e"]);
    // Anna's own reply, or ours to her, still joins.
    let ours = msg(
        "r@acme",
        &["anna1@a"],
        "alice@acme.test",
        "anna@a.test",
        "Re: Pricing",
        400,
    );
    assert_eq!(store.save("m", &me(), &ours).unwrap().thread_id, "anna1@a");
}

/// 1.2.2: even with evidence, one message ties at most `thread::MAX_MERGED` threads.
#[test]
fn one_message_merges_at_most_a_few_threads() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut refs = Vec::new();
    for i in 0..4 {
        let id = format!("q{i}@buyer");
        // Four requests from the same buyer with the same subject.
        let q = msg(
            &id,
            &[],
            "bob@buyer.test",
            "alice@acme.test",
            "Quote",
            100 + i,
        );
        store.save("m", &me(), &q).unwrap();
        refs.push(id);
    }
    let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
    let all = msg(
        "all@x",
        &refs,
        "bob@buyer.test",
        "alice@acme.test",
        "Re: Quote",
        500,
    );
    store.save("m", &me(), &all).unwrap();
    assert_eq!(store.recent_threads("m", 0).unwrap().len(), 4);
    assert_eq!(
        ids(&store.thread("q1@buyer").unwrap().unwrap()),
        ["q1@buyer"]
    );
}

/// 1.2.1/1.2.2: the honest case: a reply arrived before its parent and started a thread of
/// its own; the parent, from the same people, links both halves, and every read path sees one
/// thread.
#[test]
fn an_honest_late_message_merges_the_two_halves() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let q = msg(
        "q@b",
        &[],
        "bob@buyer.test",
        "alice@acme.test",
        "Pricing",
        100,
    );
    // The buyer's out-of-office on our proposal, synced before Sent: names only the proposal.
    let a = msg(
        "a@b",
        &["p@acme"],
        "bob@buyer.test",
        "alice@acme.test",
        "Automatic reply: Re: Pricing",
        300,
    );
    store.save("m", &me(), &q).unwrap();
    assert_eq!(store.save("m", &me(), &a).unwrap().thread_id, "p@acme");
    let p = msg(
        "p@acme",
        &["q@b"],
        "alice@acme.test",
        "bob@buyer.test",
        "Re: Pricing",
        200,
    );
    assert_eq!(store.save("m", &me(), &p).unwrap().thread_id, "q@b");
    let t = store.thread("p@acme").unwrap().unwrap();
    assert_eq!(
        (t.id.as_str(), ids(&t)),
        ("q@b", vec!["q@b", "p@acme", "a@b"])
    );
    assert_eq!(store.thread_of("a@b").unwrap().as_deref(), Some("q@b"));
    assert_eq!(store.recent_threads("m", 0).unwrap(), ["q@b"]);
    assert_eq!(store.recent_threads("m", 250).unwrap(), ["q@b"]);
    // A re-fetch of a moved message lands in the merged thread.
    assert_eq!(store.save("m2", &me(), &a).unwrap().thread_id, "q@b");
}

/// 1.2.1: a crash between the commit that records a merge and the move of its members leaves
/// an alias whose source still has members. Every read path follows the alias meanwhile, and
/// the next open finishes the merge.
#[test]
fn an_interrupted_merge_is_finished_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        let q = msg(
            "q@b",
            &[],
            "bob@buyer.test",
            "alice@acme.test",
            "Pricing",
            100,
        );
        let a = msg(
            "a@b",
            &["p@acme"],
            "bob@buyer.test",
            "alice@acme.test",
            "Automatic reply: Re: Pricing",
            300,
        );
        store.save("m", &me(), &q).unwrap();
        store.save("m", &me(), &a).unwrap();
        let p = msg(
            "p@acme",
            &["q@b"],
            "alice@acme.test",
            "bob@buyer.test",
            "Re: Pricing",
            200,
        );
        // The filing transaction alone: the alias is committed, the members are not moved.
        let (_, absorbed) = store.file_one("m", &me(), &p).unwrap();
        assert_eq!(absorbed, ["p@acme"]);
        assert!(store
            .thread_msgs
            .scan_prefix(key("p@acme", ""))
            .next()
            .is_some());
        assert_eq!(store.thread_of("a@b").unwrap().as_deref(), Some("q@b"));
        assert_eq!(store.recent_threads("m", 0).unwrap(), ["q@b"]);
        // The early path of a re-fetch follows the alias too.
        let again = store.file_one("m", &me(), &a).unwrap().0;
        assert_eq!(again[0].thread_id, "q@b");
        store.flush().unwrap();
    }
    let store = reopen(dir.path());
    assert!(store
        .thread_msgs
        .scan_prefix(key("p@acme", ""))
        .next()
        .is_none());
    let t = store.thread("q@b").unwrap().unwrap();
    assert_eq!(ids(&t), ["q@b", "p@acme", "a@b"]);
    assert_eq!(store.recent_threads("m", 0).unwrap(), ["q@b"]);
    let stored = Record::decode(&store.messages.get("a@b").unwrap().unwrap()).unwrap();
    assert_eq!(stored.thread, "q@b");
}

/// sled lets go of its lock shortly after the last handle is dropped.
fn reopen(dir: &std::path::Path) -> Store {
    let start = std::time::Instant::now();
    loop {
        match Store::open(dir, 0) {
            Ok(s) => return s,
            Err(e) if super::super::is_locked(&e) && start.elapsed().as_secs() < 10 => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("{e:#}"),
        }
    }
}
