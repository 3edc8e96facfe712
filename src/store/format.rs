//! The store's format version, and the migration of a store written by an older tend. The
//! version is a key of sled's default tree. A store without it is format 1 (messages as plain
//! JSON): everything derived from the mailboxes (messages, threads, indexes, contacts, facts,
//! the voice and its index, cursors) is dropped and the next sync rebuilds it with every
//! folder's cursor reset, saying so in the log; what only tend knows is kept as it is: the
//! draft ledger and its trigger index, the draft failures, the copies in Drafts, the last look
//! at Drafts and the usage of the model. Dropping rather than keeping every tree not named
//! here, so an index added later is rebuilt too.
//!
//! It does not know what the trees hold; `Store::open_at` opens them after this has run.

use anyhow::{Context, Result};
use std::path::Path;

/// Format 2: message records deflated (`record`).
pub(super) const FORMAT: u64 = 2;
const FORMAT_KEY: &[u8] = b"tend_store_format";

/// Trees a migration keeps: state that is not in any mailbox.
const KEEP: [&str; 6] = [
    "ledger",
    "ledger_triggers",
    "failures",
    "draft_copies",
    "drafts_seen",
    "usage",
];

/// The format version recorded in `db`, if any.
pub(super) fn version(db: &sled::Db) -> Result<Option<u64>> {
    let v = db.get(FORMAT_KEY).context("reading the store's format")?;
    Ok(v.and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok().map(u64::from_be_bytes)))
}

/// Brings the store at `path` to [`FORMAT`] before its trees are opened.
pub(super) fn migrate(db: &sled::Db, path: &Path) -> Result<()> {
    match version(db)? {
        Some(FORMAT) => return Ok(()),
        Some(v) if v > FORMAT => anyhow::bail!(
            "the store at {} is of format {v}, written by a newer tend (this one reads format {FORMAT}); \
             run the newer tend, or move the store aside to rebuild it from the mailboxes",
            path.display()
        ),
        _ => {}
    }
    let default = db.name();
    let derived: Vec<sled::IVec> = db
        .tree_names()
        .into_iter()
        .filter(|n| *n != default && !KEEP.iter().any(|k| k.as_bytes() == n.as_ref()))
        .collect();
    let mut held = false;
    for name in &derived {
        held |= !db
            .open_tree(name)
            .with_context(|| format!("opening a tree in {}", path.display()))?
            .is_empty();
    }
    if held {
        tracing::warn!(
            "the store at {} is of an older format: keeping the draft ledger, the draft failures and copies and the usage, \
             and rebuilding the messages from the mailboxes (this sync fetches every folder again)",
            path.display()
        );
    }
    for name in derived {
        db.drop_tree(&name)
            .with_context(|| format!("dropping a tree of the old format in {}", path.display()))?;
    }
    db.insert(FORMAT_KEY, &FORMAT.to_be_bytes())
        .context("writing the store's format")?;
    db.flush().context("flushing the migrated store")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::store::{Cursor, DraftRecord, DraftState, Store};

    /// A store as tend wrote it before format 2, made with sled directly.
    fn format_1_store(dir: &std::path::Path) {
        let db = sled::open(dir.join("db")).unwrap();
        let record = serde_json::json!({"thread": "q@b", "email": {
            "message_id": "q@b", "in_reply_to": null, "references": [], "from": null,
            "reply_to": [], "to": [], "cc": [], "date": 5, "subject": "Hi", "new_text": "Hi",
            "text": "Hi", "automated": null, "out_of_office": false}});
        db.open_tree("messages")
            .unwrap()
            .insert("q@b", serde_json::to_vec(&record).unwrap())
            .unwrap();
        db.open_tree("msg_thread")
            .unwrap()
            .insert("q@b", "q@b")
            .unwrap();
        let cursor = Cursor {
            uidvalidity: 3,
            last_uid: 9,
        };
        db.open_tree("cursors")
            .unwrap()
            .insert(b"m\0INBOX", serde_json::to_vec(&cursor).unwrap())
            .unwrap();
        let draft = DraftRecord {
            mailbox: "m".into(),
            thread_id: "q@b".into(),
            trigger: "q@b".into(),
            state: DraftState::Appended,
            at: 1,
        };
        db.open_tree("ledger")
            .unwrap()
            .insert("d@acme.test", serde_json::to_vec(&draft).unwrap())
            .unwrap();
        db.flush().unwrap();
    }

    #[test]
    fn an_older_store_keeps_its_ledger_and_rebuilds_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        format_1_store(dir.path());
        let store = Store::open(dir.path(), 0).unwrap();
        assert_eq!(store.format_version().unwrap(), Some(super::FORMAT));
        let kept = store
            .draft("d@acme.test")
            .unwrap()
            .expect("the ledger is kept");
        assert_eq!(kept.state, DraftState::Appended);
        assert_eq!(
            store.draft_for_trigger("m", "q@b").unwrap().unwrap(),
            kept,
            "and indexed by trigger"
        );
        assert_eq!(
            store.cursor("m", "INBOX").unwrap(),
            None,
            "the cursor is reset: the next sync fetches the folder again"
        );
        assert_eq!(
            store.thread_of("q@b").unwrap(),
            None,
            "messages are rebuilt"
        );
        let cursor = Cursor {
            uidvalidity: 4,
            last_uid: 1,
        };
        store.set_cursor("m", "INBOX", cursor).unwrap();
        store.flush().unwrap();
        drop(store);
        // A store of the current format is left as it is.
        let again = reopen(dir.path());
        assert_eq!(again.cursor("m", "INBOX").unwrap(), Some(cursor));
        assert!(again.draft("d@acme.test").unwrap().is_some());
    }

    /// Opens the store once sled's flusher of the last handle lets go of the lock.
    fn reopen(dir: &std::path::Path) -> Store {
        let start = std::time::Instant::now();
        loop {
            match Store::open(dir, 0) {
                Ok(s) => return s,
                Err(e) if crate::store::is_locked(&e) && start.elapsed().as_secs() < 10 => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(e) => panic!("{e:#}"),
            }
        }
    }

    #[test]
    fn a_store_of_a_newer_format_is_refused_not_dropped() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path().join("db")).unwrap();
            db.insert(super::FORMAT_KEY, &(super::FORMAT + 1).to_be_bytes())
                .unwrap();
            db.open_tree("messages")
                .unwrap()
                .insert("q@b", "x")
                .unwrap();
            db.flush().unwrap();
        }
        let err = Store::open(dir.path(), 0).err().expect("refused");
        assert!(format!("{err:#}").contains("newer tend"), "{err:#}");
        let db = sled::open(dir.path().join("db")).unwrap();
        assert!(db
            .open_tree("messages")
            .unwrap()
            .contains_key("q@b")
            .unwrap());
    }
}
