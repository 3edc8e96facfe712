//! The sweep index against a real sled store in a temp dir: it mirrors `mailbox_threads`
//! after filing, after a merge (finished at once or on the next open), and when built for a
//! store from before it.

use super::*;
use crate::store::filing::tests::{me, msg};
use std::collections::BTreeSet;

/// Every index entry, as (mailbox, date, thread).
fn entries(store: &Store) -> BTreeSet<(String, i64, String)> {
    store
        .sweep
        .iter()
        .keys()
        .map(|k| k.unwrap())
        .filter(|k| k.as_ref() != BUILT)
        .map(|k| {
            let sep = k.iter().position(|b| *b == 0).unwrap();
            let date = u64::from_be_bytes(k[sep + 1..sep + 9].try_into().unwrap()) ^ (1 << 63);
            (
                String::from_utf8_lossy(&k[..sep]).into_owned(),
                date as i64,
                String::from_utf8_lossy(&k[sep + 9..]).into_owned(),
            )
        })
        .collect()
}

/// What the index must hold: `mailbox_threads`, keyed by date.
fn expected(store: &Store) -> BTreeSet<(String, i64, String)> {
    store
        .mailbox_threads
        .iter()
        .map(|item| {
            let (k, v) = item.unwrap();
            let sep = k.iter().position(|b| *b == 0).unwrap();
            (
                String::from_utf8_lossy(&k[..sep]).into_owned(),
                be_i64(&v),
                String::from_utf8_lossy(&k[sep + 1..]).into_owned(),
            )
        })
        .collect()
}

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

/// The honest late parent of `an_honest_late_message_merges_the_two_halves`: q (100) and a
/// (300) start two threads, p (200) joins them into q's.
fn halves() -> [crate::parse::Email; 3] {
    [
        msg(
            "q@b",
            &[],
            "bob@buyer.test",
            "alice@acme.test",
            "Pricing",
            100,
        ),
        msg(
            "a@b",
            &["p@acme"],
            "bob@buyer.test",
            "alice@acme.test",
            "Automatic reply: Re: Pricing",
            300,
        ),
        msg(
            "p@acme",
            &["q@b"],
            "alice@acme.test",
            "bob@buyer.test",
            "Re: Pricing",
            200,
        ),
    ]
}

#[test]
fn a_newer_message_moves_its_thread_in_the_sweep_and_leaves_no_stale_entry() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 0).unwrap();
    let [q, _, p] = halves();
    store.save("m", &me(), &q).unwrap();
    assert_eq!(
        store.recent_threads("m", 150).unwrap(),
        Vec::<String>::new()
    );
    store.save("m", &me(), &p).unwrap();
    assert_eq!(store.recent_threads("m", 150).unwrap(), ["q@b"]);
    assert_eq!(
        store.recent_threads("m", 201).unwrap(),
        Vec::<String>::new()
    );
    // An older message (a re-sync of another folder) does not move it back.
    store.save("m2", &me(), &q).unwrap();
    assert_eq!(store.recent_threads("m2", 0).unwrap(), ["q@b"]);
    assert_eq!(
        store.recent_threads("m2", 101).unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(entries(&store), expected(&store));
    assert_eq!(entries(&store).len(), 2, "one entry per mailbox and thread");
}

#[test]
fn a_merged_thread_has_one_sweep_entry_at_the_newest_date_of_both_halves() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 0).unwrap();
    let [q, a, p] = halves();
    store.save_all("m", &me(), &[q, a]).unwrap();
    store.save("m", &me(), &p).unwrap();
    assert_eq!(
        entries(&store),
        BTreeSet::from([("m".to_string(), 300, "q@b".to_string())])
    );
    assert_eq!(entries(&store), expected(&store));
    assert_eq!(store.recent_threads("m", 250).unwrap(), ["q@b"]);
}

#[test]
fn a_merge_cut_short_is_swept_under_the_absorbing_thread_and_mirrored_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), 0).unwrap();
        let [q, a, p] = halves();
        store.save_all("m", &me(), &[q, a]).unwrap();
        // The filing transaction alone: the alias is committed, the members are not moved.
        let (_, absorbed) = store.file_one("m", &me(), &p).unwrap();
        assert_eq!(absorbed, ["p@acme"]);
        assert_eq!(store.recent_threads("m", 250).unwrap(), ["q@b"]);
        assert_eq!(entries(&store), expected(&store));
        store.flush().unwrap();
    }
    let store = reopen(dir.path());
    assert_eq!(entries(&store), expected(&store));
    assert_eq!(entries(&store).len(), 1);
    assert_eq!(store.recent_threads("m", 250).unwrap(), ["q@b"]);
}

#[test]
fn a_store_from_before_the_sweep_is_indexed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), 0).unwrap();
        let [q, a, p] = halves();
        store.save_all("m", &me(), &[q.clone(), a]).unwrap();
        store.save("m", &me(), &p).unwrap();
        store.save("other", &me(), &q).unwrap();
        // What a store written before the index holds: no sweep tree at all.
        store.sweep.clear().unwrap();
        store.flush().unwrap();
    }
    let store = reopen(dir.path());
    assert_eq!(
        entries(&store),
        BTreeSet::from([
            ("m".to_string(), 300, "q@b".to_string()),
            ("other".to_string(), 100, "q@b".to_string()),
        ])
    );
    assert_eq!(store.recent_threads("m", 250).unwrap(), ["q@b"]);
    assert_eq!(store.recent_threads("other", 0).unwrap(), ["q@b"]);
    assert_eq!(
        store.recent_threads("other", 101).unwrap(),
        Vec::<String>::new()
    );
}
