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

#[test]
fn a_store_of_another_segment_size_opens_with_its_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let other = if SEGMENT_BYTES == 1 << 20 {
        1 << 21
    } else {
        1 << 20
    };
    {
        let sled_db = sled::Config::new()
            .path(&db)
            .segment_size(other)
            .open()
            .unwrap();
        sled_db.flush().unwrap();
    }
    {
        let store = reopen(dir.path(), 1);
        let rec = DraftRecord {
            mailbox: "m".into(),
            thread_id: "t".into(),
            trigger: "x".into(),
            state: DraftState::Appended,
            at: 1,
        };
        store.record_draft("d@acme.test", &rec).unwrap();
        store.flush().unwrap();
    }
    let store = reopen(dir.path(), 2);
    assert!(
        store.draft("d@acme.test").unwrap().is_some(),
        "the ledger is kept"
    );
    assert_eq!(params::stored(&db).unwrap().segment_size, other);
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("broken"))
        .collect();
    assert!(aside.is_empty(), "nothing moved aside");
}

#[test]
fn a_store_of_another_sled_version_is_refused_not_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    {
        let store = Store::open(dir.path(), 0).unwrap();
        let rec = DraftRecord {
            mailbox: "m".into(),
            thread_id: "t".into(),
            trigger: "x".into(),
            state: DraftState::Appended,
            at: 1,
        };
        store.record_draft("d@acme.test", &rec).unwrap();
        store.flush().unwrap();
    }
    // What a tend built on another sled leaves: a `conf` that parses, of another version.
    let conf = std::fs::read(db.join("conf")).unwrap();
    let text = String::from_utf8(conf[..conf.len() - 4].to_vec()).unwrap();
    let mut other = text.replace("version: 0.34", "version: 0.99").into_bytes();
    other.extend_from_slice(&conf[conf.len() - 4..]);
    std::fs::write(db.join("conf"), other).unwrap();
    let start = std::time::Instant::now();
    let err = loop {
        match Store::open(dir.path(), 5) {
            Err(e) if is_locked(&e) && start.elapsed().as_secs() < 10 => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => break e,
            Ok(_) => panic!("sled opened a store of another version"),
        }
    };
    assert!(format!("{err:#}").contains("left as it is"), "{err:#}");
    assert!(!dir.path().join("db.broken-5").exists(), "not moved aside");
    std::fs::write(db.join("conf"), conf).unwrap();
    let store = reopen(dir.path(), 6);
    assert!(
        store.draft("d@acme.test").unwrap().is_some(),
        "the ledger is still there"
    );
}

/// Opens the store once sled's flusher of the last handle lets go of the lock.
fn reopen(dir: &std::path::Path, now: i64) -> Store {
    let start = std::time::Instant::now();
    loop {
        match Store::open(dir, now) {
            Ok(s) => return s,
            Err(e) if is_locked(&e) && start.elapsed().as_secs() < 10 => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("{e:#}"),
        }
    }
}

/// sled's flusher thread lets go of the file lock only when it next wakes: a store dropped and
/// opened again at once by the same process was taken for one locked by another process. Here a
/// handle that another thread drops 200 ms later stands in for the flusher.
#[test]
fn a_store_reopened_at_once_by_the_same_process_opens() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 0).unwrap();
    let late = store.clone();
    let holder = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        drop(late);
    });
    drop(store);
    let reopened = Store::open(dir.path(), 0);
    holder.join().unwrap();
    reopened.unwrap_or_else(|e| panic!("reopening: {e:#}"));
}

/// The entries of `messages` name frames of the texts file: a store whose file is gone or
/// shorter than the entries need (deleted by hand, restored from an older backup than sled's
/// files) is rebuilt from the mailboxes; sled's trees are whole, so the ledger is kept.
#[test]
fn a_store_whose_texts_are_lost_is_rebuilt_keeping_its_ledger() {
    let me = crate::config::Identity {
        addresses: vec!["alice@shop.example".into()],
        internal_domains: vec![],
    };
    let msg = |id: &str| {
        crate::parse::parse(
            format!("Message-ID: <{id}>\r\nFrom: bob@buyer.test\r\nTo: alice@shop.example\r\nSubject: Hi\r\n\r\nA quote, please.\r\n")
                .as_bytes(),
        )
        .unwrap()
    };
    let rec = DraftRecord {
        mailbox: "m".into(),
        thread_id: "q@b".into(),
        trigger: "q@b".into(),
        state: DraftState::Appended,
        at: 1,
    };
    let cursor = Cursor {
        uidvalidity: 7,
        last_uid: 2,
    };
    for cut in [None, Some(0), Some(10)] {
        let dir = tempfile::tempdir().unwrap();
        let texts = dir.path().join("db/texts");
        {
            let store = Store::open(dir.path(), 0).unwrap();
            store.save("m", &me, &msg("q@b")).unwrap();
            let first = std::fs::metadata(&texts).unwrap().len();
            store.save("m", &me, &msg("r@b")).unwrap();
            store.record_draft("d@shop.example", &rec).unwrap();
            store.set_cursor("m", "INBOX", cursor).unwrap();
            store.flush().unwrap();
            let thread = store.thread("q@b").unwrap().unwrap();
            assert_eq!(
                thread.messages,
                [msg("q@b")],
                "read back from the texts file"
            );
            match cut {
                None => std::fs::remove_file(&texts).unwrap(),
                // Cut short, by all of the second message's frame or part of it.
                Some(n) => std::fs::OpenOptions::new()
                    .write(true)
                    .open(&texts)
                    .unwrap()
                    .set_len(first + n)
                    .unwrap(),
            }
        }
        let store = reopen(dir.path(), 7);
        assert_eq!(store.thread_of("q@b").unwrap(), None, "{cut:?}: rebuilt");
        assert_eq!(store.cursor("m", "INBOX").unwrap(), None, "fetched again");
        assert_eq!(
            store.draft("d@shop.example").unwrap(),
            Some(rec.clone()),
            "the ledger is kept"
        );
        assert!(!dir.path().join("db.broken-7").exists());
        drop(store);
        // A whole file is left alone: the store opens as it is.
        let store = reopen(dir.path(), 8);
        store.save("m", &me, &msg("q@b")).unwrap();
        store.flush().unwrap();
        drop(store);
        let store = reopen(dir.path(), 9);
        assert!(store.thread("q@b").unwrap().is_some());
    }
}

/// Format 3 differs from 4 only in how new frames are laid out, and format 3's frames still
/// read: such a store is opened as it is, its number raised, nothing rebuilt (a rebuild
/// would fetch every folder again), and its threads read whole and as headers.
#[test]
fn a_format_3_store_is_opened_in_place_and_its_threads_read_whole_and_as_headers() {
    let me = crate::config::Identity {
        addresses: vec!["alice@shop.example".into()],
        internal_domains: vec![],
    };
    let ask = crate::parse::parse(
        b"Message-ID: <q@b>\r\nFrom: bob@buyer.test\r\nTo: alice@shop.example\r\nSubject: Hi\r\n\r\nA quote for 50 seats, please.\r\n\r\n> older words\r\n",
    )
    .unwrap();
    let cursor = Cursor {
        uidvalidity: 7,
        last_uid: 2,
    };
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), 0).unwrap();
        store.save("m", &me, &ask).unwrap();
        store.set_cursor("m", "INBOX", cursor).unwrap();
        store
            .db
            .insert(b"tend_store_format", &3u64.to_be_bytes())
            .unwrap();
        store.flush().unwrap();
    }
    let store = loop {
        match Store::open(dir.path(), 0) {
            Ok(s) => break s,
            Err(e) if super::is_locked(&e) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("{e:#}"),
        }
    };
    assert_eq!(store.format_version().unwrap(), Some(4));
    assert_eq!(
        store.cursor("m", "INBOX").unwrap(),
        Some(cursor),
        "not rebuilt"
    );
    let whole = store.thread("q@b").unwrap().unwrap();
    assert_eq!(whole.messages, std::slice::from_ref(&ask));
    assert!(!whole.messages[0].new_text.is_empty() && !whole.messages[0].text.is_empty());
    let heads = store.thread_heads("q@b").unwrap().unwrap();
    assert_eq!(heads.id, whole.id);
    assert_eq!(heads.messages, [ask.without_text()]);
    assert!(store.thread_heads("x@y").unwrap().is_none());
}
