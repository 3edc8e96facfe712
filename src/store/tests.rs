//! The handle's own tests: opening, reopening, a locked or damaged store.

use super::*;

#[test]
fn cursors_and_ledger_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), 0).unwrap();
        store
            .set_cursor(
                "m",
                "INBOX",
                Cursor {
                    uidvalidity: 7,
                    last_uid: 42,
                },
            )
            .unwrap();
        let rec = DraftRecord {
            mailbox: "m".into(),
            thread_id: "t".into(),
            trigger: "x".into(),
            state: DraftState::Appended,
            at: 1,
        };
        store.record_draft("d@acme.test", &rec).unwrap();
    }
    let store = Store::open(dir.path(), 0).unwrap();
    assert_eq!(
        store.cursor("m", "INBOX").unwrap(),
        Some(Cursor {
            uidvalidity: 7,
            last_uid: 42
        })
    );
    assert_eq!(store.cursor("m", "Sent").unwrap(), None);
    assert_eq!(
        store.draft("d@acme.test").unwrap().unwrap().state,
        DraftState::Appended
    );
}

#[test]
fn a_store_locked_by_another_process_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    // What a running `tend run` holds while `tend status` tries to open the store.
    let running = Store::open(dir.path(), 0).unwrap();
    running
        .set_cursor(
            "m",
            "INBOX",
            Cursor {
                uidvalidity: 1,
                last_uid: 5,
            },
        )
        .unwrap();
    running.flush().unwrap();
    let err = Store::open(dir.path(), 7)
        .err()
        .expect("the store is locked");
    assert!(
        format!("{err:#}").contains("another tend process"),
        "{err:#}"
    );
    assert!(
        !dir.path().join("db.broken-7").exists(),
        "a locked store is never moved aside"
    );
    drop(running);
    // sled's flusher thread lets go of the lock shortly after the last handle is dropped.
    let start = std::time::Instant::now();
    let reopened = loop {
        match Store::open(dir.path(), 8) {
            Ok(store) => break store,
            Err(err) if is_locked(&err) && start.elapsed().as_secs() < 10 => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(err) => panic!("{err:#}"),
        }
    };
    assert_eq!(
        reopened.cursor("m", "INBOX").unwrap(),
        Some(Cursor {
            uidvalidity: 1,
            last_uid: 5
        })
    );
}

#[test]
fn a_store_that_will_not_open_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("db")).unwrap();
    // sled expects its own files here; garbage in `conf` makes it refuse to open.
    std::fs::write(dir.path().join("db/conf"), b"\xff\xfe not a sled config").unwrap();
    let store = Store::open(dir.path(), 99).unwrap();
    assert!(dir.path().join("db.broken-99").exists());
    assert_eq!(store.cursor("m", "INBOX").unwrap(), None);
}
