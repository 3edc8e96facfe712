//! The corrections file: round trip, atomic replacement, mode 600, a damaged file refused and
//! kept, a rebuild of the store survived; and the resolution into stage changes.

use super::*;
use crate::store::Store;
use std::os::unix::fs::PermissionsExt;

#[test]
fn corrections_round_trip_through_the_file() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(load(dir.path()).unwrap(), Corrections::default());
    let mut c = Corrections::default();
    c.set(
        "<q1@buyer.test>",
        Some("proposal"),
        100,
        Some(" sent the offer "),
    );
    c.set("q1@buyer.test", None, 200, Some(""));
    c.save(dir.path()).unwrap();
    let back = load(dir.path()).unwrap();
    assert_eq!(back, c);
    assert_eq!(
        back.entries(),
        [
            Correction {
                message_id: "q1@buyer.test".into(),
                stage: Some("proposal".into()),
                at: 100,
                note: Some("sent the offer".into()),
            },
            Correction {
                message_id: "q1@buyer.test".into(),
                stage: None,
                at: 200,
                note: None,
            },
        ]
    );
}

#[test]
fn the_file_is_mode_600_and_no_temp_file_stays() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Corrections::default();
    c.set("a@b", Some("demo"), 1, None);
    c.save(dir.path()).unwrap();
    c.set("a@b", Some("won"), 2, None);
    c.save(dir.path()).unwrap();
    let mode = std::fs::metadata(path(dir.path()))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, [FILE]);
    assert_eq!(load(dir.path()).unwrap().entries().len(), 2);
}

#[test]
fn a_temp_file_left_by_a_crash_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Corrections::default();
    c.set("a@b", Some("demo"), 1, None);
    c.save(dir.path()).unwrap();
    // A crash after the temp file was half written, before the rename.
    let tmp = dir.path().join(format!(".{FILE}.tmp-1-2"));
    std::fs::write(&tmp, b"{\"version\": 1, \"correc").unwrap();
    assert_eq!(load(dir.path()).unwrap(), c);
    c.set("a@b", Some("won"), 2, None);
    c.save(dir.path()).unwrap();
    assert_eq!(load(dir.path()).unwrap(), c);
}

#[test]
fn a_damaged_file_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let damaged = b"{\"version\": 1, \"corrections\": [{\"message_id\": ";
    std::fs::write(path(dir.path()), damaged).unwrap();
    let err = format!("{:#}", load(dir.path()).unwrap_err());
    assert!(err.contains("damaged") && err.contains(FILE), "{err}");
    assert_eq!(std::fs::read(path(dir.path())).unwrap(), damaged);
    // A later format is not misread either.
    std::fs::write(path(dir.path()), b"{\"version\": 9, \"corrections\": []}").unwrap();
    let err = format!("{:#}", load(dir.path()).unwrap_err());
    assert!(err.contains("format 9"), "{err}");
}

#[test]
fn corrections_survive_a_rebuild_of_the_store() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), 0).unwrap());
    let mut c = Corrections::default();
    c.set(
        "q1@buyer.test",
        Some("negotiation"),
        5,
        Some("asked for 10% off"),
    );
    c.save(dir.path()).unwrap();
    // The store is derived state: deleted, it is rebuilt from the mailbox.
    std::fs::remove_dir_all(dir.path().join("db")).unwrap();
    drop(Store::open(dir.path(), 0).unwrap());
    assert_eq!(load(dir.path()).unwrap(), c);
}

fn threads(id: &str) -> Option<String> {
    match id {
        "q1@b" | "r1@b" => Some("t1".into()),
        "q2@b" => Some("t2".into()),
        _ => None,
    }
}

fn dates(id: &str) -> Option<i64> {
    match id {
        "q1@b" => Some(1_000),
        "r1@b" => Some(3_000),
        "q2@b" => Some(500),
        _ => None,
    }
}

fn brief(list: &[StageChange]) -> Vec<(&str, i64, StageSource)> {
    list.iter()
        .map(|s| (s.stage.as_str(), s.at, s.source))
        .collect()
}

#[test]
fn commands_and_keywords_resolve_per_thread_the_later_winning() {
    let mut c = Corrections::default();
    c.set("q1@b", Some("demo"), 2_000, Some("call on Monday"));
    c.set("unknown@x", Some("qualified"), 2_500, None);
    let tagged = vec![
        ("r1@b".to_string(), "proposal".to_string()),
        ("q2@b".to_string(), "won".to_string()),
        // The same tag seen from a teammate's mailbox counts once.
        ("q2@b".to_string(), "won".to_string()),
        // Not stored yet: no date to place it by.
        ("later@b".to_string(), "lost".to_string()),
    ];
    let out = c.stage_changes(&tagged, &threads, &dates);
    assert_eq!(
        out.keys().map(String::as_str).collect::<Vec<_>>(),
        ["t1", "t2", "unknown@x"]
    );
    // The command is dated by the message it names (q1, 1000); the tag on a later message
    // (3000) wins over it.
    assert_eq!(
        brief(&out["t1"]),
        [
            ("demo", 1_000, StageSource::Command),
            ("proposal", 3_000, StageSource::Keyword)
        ]
    );
    assert_eq!(out["t1"][0].evidence.as_deref(), Some("call on Monday"));
    assert_eq!(out["t1"][1].message_id.as_deref(), Some("r1@b"));
    assert_eq!(brief(&out["t2"]), [("won", 500, StageSource::Keyword)]);
    assert_eq!(
        brief(&out["unknown@x"]),
        [("qualified", 2_500, StageSource::Command)]
    );
}

#[test]
fn a_clear_withdraws_the_threads_earlier_commands_but_not_its_tags() {
    let mut c = Corrections::default();
    c.set("q1@b", Some("demo"), 2_000, None);
    // Cleared through another message of the same thread.
    c.set("<r1@b>", None, 2_100, None);
    c.set("q1@b", Some("negotiation"), 2_200, None);
    c.set("q2@b", Some("lost"), 2_300, None);
    c.set("q2@b", None, 2_400, None);
    let tagged = vec![("q1@b".to_string(), "qualified".to_string())];
    let out = c.stage_changes(&tagged, &threads, &dates);
    assert_eq!(
        brief(&out["t1"]),
        [
            ("qualified", 1_000, StageSource::Keyword),
            // Dated by q1 like the tag; on a tie the command comes last.
            ("negotiation", 1_000, StageSource::Command)
        ]
    );
    assert!(!out.contains_key("t2"), "{out:?}");
}

#[test]
fn on_a_tie_the_command_comes_last() {
    let mut c = Corrections::default();
    c.set("q1@b", Some("demo"), 1_000, None);
    let tagged = vec![("q1@b".to_string(), "proposal".to_string())];
    let out = c.stage_changes(&tagged, &threads, &dates);
    assert_eq!(out["t1"].last().unwrap().source, StageSource::Command);
}

#[test]
fn ids_lose_their_brackets() {
    assert_eq!(bare_id(" <a@b> "), "a@b");
    assert_eq!(bare_id("a@b"), "a@b");
}

#[test]
fn a_file_from_before_joins_loads_and_one_without_joins_is_written_as_before() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        path(dir.path()),
        r#"{"version": 1, "corrections": [{"message_id": "q1@b", "stage": "won", "at": 5}]}"#,
    )
    .unwrap();
    let c = load(dir.path()).unwrap();
    assert_eq!(c.entries().len(), 1);
    assert!(c.join_entries().is_empty());
    c.save(dir.path()).unwrap();
    let text = std::fs::read_to_string(path(dir.path())).unwrap();
    assert!(!text.contains("joins"), "{text}");
}

#[test]
fn join_corrections_round_trip_and_the_latest_word_per_thread_wins() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Corrections::default();
    c.set_join("<q2@b>", Some("<q1@b>"), 100, Some(" the PO "));
    c.save(dir.path()).unwrap();
    let back = load(dir.path()).unwrap();
    assert_eq!(back, c);
    assert_eq!(
        back.joins_by_thread(&threads)["t2"],
        JoinWord::Join {
            thread: "t1".into(),
            note: Some("the PO".into())
        }
    );
    c.set_join("q2@b", None, 200, None);
    let words = c.joins_by_thread(&threads);
    assert_eq!(words["t2"], JoinWord::Split, "the later --split wins");
    assert_eq!(words.len(), 1);
    // A message no thread knows yet stands for a thread of its own.
    c.set_join("new@b", Some("r1@b"), 300, None);
    assert!(matches!(
        &c.joins_by_thread(&threads)["new@b"],
        JoinWord::Join { thread, .. } if thread == "t1"
    ));
}
