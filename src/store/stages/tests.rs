//! The stage history against a real sled store in a temp dir: appends, repeats, replacements,
//! the daily count, a format migration and a thread merge.

use super::*;
use crate::record::StageSource;
use crate::store::filing::tests::{me, msg};

fn change(stage: &str, message_id: &str, at: i64) -> StageChange {
    StageChange {
        stage: stage.into(),
        at,
        message_id: Some(message_id.into()),
        source: StageSource::Inferred,
        evidence: Some(format!("said in {message_id}")),
    }
}

fn stages(h: &[StageChange]) -> Vec<(&str, &str)> {
    h.iter()
        .map(|c| (c.stage.as_str(), c.message_id.as_deref().unwrap_or("")))
        .collect()
}

#[test]
fn history_appends_on_a_change_and_not_on_a_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 0).unwrap();
    assert!(store.stage_history("t@x").unwrap().is_empty());
    assert!(store.add_stage("t@x", change("new", "m1", 10)).unwrap());
    assert!(store
        .add_stage("t@x", change("proposal", "m2", 20))
        .unwrap());
    assert!(
        !store
            .add_stage("t@x", change("proposal", "m3", 30))
            .unwrap(),
        "the same stage again is no change"
    );
    assert!(store
        .add_stage("t@x", change("negotiation", "m4", 40))
        .unwrap());
    let h = store.stage_history("t@x").unwrap();
    assert_eq!(
        stages(&h),
        [("new", "m1"), ("proposal", "m2"), ("negotiation", "m4")]
    );
    assert_eq!(h[1].at, 20);
    assert!(store.stage_history("other@x").unwrap().is_empty());
}

#[test]
fn reinferring_from_the_same_message_replaces_never_doubles() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 0).unwrap();
    store.add_stage("t@x", change("new", "m1", 10)).unwrap();
    store.add_stage("t@x", change("demo", "m2", 20)).unwrap();
    assert!(!store.add_stage("t@x", change("demo", "m2", 20)).unwrap());
    assert!(store
        .add_stage("t@x", change("proposal", "m2", 20))
        .unwrap());
    assert_eq!(
        stages(&store.stage_history("t@x").unwrap()),
        [("new", "m1"), ("proposal", "m2")]
    );
    // Replaced by the stage before it: the change is gone, not a repeat.
    assert!(store.add_stage("t@x", change("new", "m2", 20)).unwrap());
    assert_eq!(
        stages(&store.stage_history("t@x").unwrap()),
        [("new", "m1")]
    );
    // A message of an earlier change does not rewrite what came after it.
    store.add_stage("t@x", change("demo", "m3", 30)).unwrap();
    assert!(!store.add_stage("t@x", change("won", "m1", 10)).unwrap());
    assert_eq!(
        stages(&store.stage_history("t@x").unwrap()),
        [("new", "m1"), ("demo", "m3")]
    );
}

#[test]
fn stage_calls_count_per_mailbox_and_day_and_the_mark_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 0).unwrap();
    let d1 = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let d2 = d1.succ_opt().unwrap();
    store.add_stage_call("alice", d1).unwrap();
    store.add_stage_call("alice", d1).unwrap();
    store.add_stage_call("bob", d1).unwrap();
    assert_eq!(store.stage_calls("alice", d1).unwrap(), 2);
    assert_eq!(store.stage_calls("bob", d1).unwrap(), 1);
    assert_eq!(store.stage_calls("alice", d2).unwrap(), 0);
    let seen = StageSeen {
        message_id: "m1".into(),
        at: Some(10),
        through: Some(20),
    };
    assert_eq!(store.stage_seen("t@x").unwrap(), None);
    store.set_stage_seen("t@x", &seen).unwrap();
    assert_eq!(store.stage_seen("t@x").unwrap(), Some(seen));
}

#[test]
fn the_history_survives_the_format_migration() {
    let dir = tempfile::tempdir().unwrap();
    {
        // A format 1 store (no format key) with mail in it, made with sled directly.
        let db = sled::open(dir.path().join("db")).unwrap();
        db.open_tree("messages")
            .unwrap()
            .insert("q@b", "{}")
            .unwrap();
        let history = vec![change("proposal", "q@b", 5)];
        db.open_tree("stages")
            .unwrap()
            .insert("q@b", encode_history(&history))
            .unwrap();
        let seen = StageSeen {
            message_id: "q@b".into(),
            at: Some(5),
            through: None,
        };
        db.open_tree("stage_seen")
            .unwrap()
            .insert("q@b", encode_seen(&seen))
            .unwrap();
        db.open_tree("stage_calls")
            .unwrap()
            .insert(b"m\x002026-12-01", &3u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(dir.path(), 0).unwrap();
    assert_eq!(
        store.format_version().unwrap(),
        Some(super::super::format::FORMAT)
    );
    assert_eq!(
        store.thread_of("q@b").unwrap(),
        None,
        "messages are rebuilt"
    );
    assert_eq!(
        stages(&store.stage_history("q@b").unwrap()),
        [("proposal", "q@b")]
    );
    assert_eq!(
        store.stage_seen("q@b").unwrap().map(|s| s.message_id),
        Some("q@b".into())
    );
    let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    assert_eq!(store.stage_calls("m", day).unwrap(), 3, "the cap holds");
}

/// The reply that arrived before its parent started a thread of its own, which a stage was
/// inferred for; the parent joins the halves, and the history follows into the merged thread.
#[test]
fn a_merged_threads_history_follows_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 0).unwrap();
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
    store
        .add_stage("q@b", change("qualified", "q@b", 100))
        .unwrap();
    assert_eq!(store.save("m", &me(), &a).unwrap().thread_id, "p@acme");
    store
        .add_stage("p@acme", change("proposal", "a@b", 300))
        .unwrap();
    let seen = |id: &str, at| StageSeen {
        message_id: id.into(),
        at: Some(at),
        through: Some(at),
    };
    store.set_stage_seen("q@b", &seen("q@b", 100)).unwrap();
    store.set_stage_seen("p@acme", &seen("a@b", 300)).unwrap();
    let p = msg(
        "p@acme",
        &["q@b"],
        "alice@acme.test",
        "bob@buyer.test",
        "Re: Pricing",
        200,
    );
    assert_eq!(store.save("m", &me(), &p).unwrap().thread_id, "q@b");
    assert_eq!(
        stages(&store.stage_history("q@b").unwrap()),
        [("qualified", "q@b"), ("proposal", "a@b")]
    );
    // Asked by the absorbed id, the alias leads to the same history.
    assert_eq!(store.stage_history("p@acme").unwrap().len(), 2);
    assert_eq!(store.stage_seen("q@b").unwrap(), Some(seen("a@b", 300)));
}

#[test]
fn merging_histories_orders_them_and_drops_repeats() {
    let a = vec![change("new", "m1", 10), change("proposal", "m3", 30)];
    let b = vec![change("new", "m2", 20), change("won", "m4", 40)];
    assert_eq!(
        stages(&merged(a, b)),
        [("new", "m1"), ("proposal", "m3"), ("won", "m4")]
    );
}

#[test]
fn recent_threads_come_dated_newest_first_for_the_stage_step() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 0).unwrap();
    let q = msg(
        "q@b",
        &[],
        "bob@buyer.test",
        "alice@acme.test",
        "Pricing",
        100,
    );
    let r = msg("r@c", &[], "cat@cat.test", "alice@acme.test", "Demo", 200);
    let old = msg("o@d", &[], "dan@dan.test", "alice@acme.test", "Old", -5);
    for m in [&q, &r, &old] {
        store.save("m", &me(), m).unwrap();
    }
    assert_eq!(
        store.recent_threads_dated("m", 0).unwrap(),
        [(200, "r@c".to_string()), (100, "q@b".to_string())]
    );
    assert!(store.recent_threads_dated("other", 0).unwrap().is_empty());
}
