//! The store's format version, and the migration of a store written by an older tend. The
//! version is a key of sled's default tree; a store without it is format 1. From a store of
//! an older format, everything derived from the mailboxes (messages, threads, indexes, contacts, facts,
//! the voice and its index, cursors) is dropped and the next sync rebuilds it with every
//! folder's cursor reset, saying so in the log; what only tend knows is kept as it is: the
//! draft ledger and its trigger index, the draft failures, the copies in Drafts, the last look
//! at Drafts, the usage of the model, its deal-join judgements, and the stages it inferred
//! with their marks and daily counts (`stages`; keyed by thread id, which is the id of the
//! message that started the thread, so a rebuilt thread mostly finds its history again).
//! Every tree not named here is rebuilt, so an index added later is too.
//!
//! It does not know what the trees hold; `Store::open_at` opens them after this has run.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Format 4: a message's headers first in its frame of the texts file, so a sweep reads them
/// without inflating the texts (`texts`). Format 3 put the messages' texts in that file beside
/// sled's trees, their entries small (`texts`, `record`); format 2 kept each message deflated
/// in its entry.
pub(super) const FORMAT: u64 = 4;
/// Older formats opened as they are, only their number raised: format 3's frames (the whole
/// message as one JSON) still read. Raised all the same, so that a tend of format 3 refuses
/// the store ("written by a newer tend") instead of calling the new frames damage.
const IN_PLACE: [u64; 1] = [3];
const FORMAT_KEY: &[u8] = b"tend_store_format";

/// Trees a migration keeps: state that is not in any mailbox.
const KEEP: [&str; 10] = [
    "ledger",
    "ledger_triggers",
    "failures",
    "draft_copies",
    "drafts_seen",
    "usage",
    "stages",
    "stage_seen",
    "stage_calls",
    // The model's deal-join judgements (`joins`): asked once, in no mailbox.
    "deal_joins",
];

/// The format version recorded in `db`, if any.
pub(super) fn version(db: &sled::Db) -> Result<Option<u64>> {
    let v = db.get(FORMAT_KEY).context("reading the store's format")?;
    Ok(v.and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok().map(u64::from_be_bytes)))
}

/// Where a migration keeps the old store until the new one holds what it keeps.
fn old_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".format1");
    PathBuf::from(p)
}

/// Brings the store at `path` (open as `db`) to [`FORMAT`] before its trees are opened, and
/// returns the database to use. An old store with mail in it is moved to `db.format1`, a new
/// one is made at `path` with the kept trees, and the old one is removed: rewriting in place
/// would keep the old log's size on disk, and dropping its trees pulls every page of them
/// into memory (measured: 226 MB of RSS on the 50k bench store). A crash in between leaves
/// `db.format1`, which the next open finishes from.
pub(super) fn migrate(
    db: sled::Db,
    path: &Path,
    open: &dyn Fn(&Path) -> Result<sled::Db>,
) -> Result<sled::Db> {
    let old = old_path(path);
    match version(&db)? {
        Some(v) if v == FORMAT || IN_PLACE.contains(&v) => {
            if v != FORMAT {
                tracing::info!("the store at {} is of format {v}: now format {FORMAT}, nothing rebuilt", path.display());
                db.insert(FORMAT_KEY, &FORMAT.to_be_bytes())
                    .context("writing the store's format")?;
                db.flush().context("flushing the store's format")?;
            }
            if old.exists() {
                remove_old(&old);
            }
            if !super::texts::lost(&db, path)? {
                return Ok(db);
            }
            // sled's trees are whole, so what only tend knows is kept, as for an old format.
            tracing::error!(
                "the message texts in {} are missing or cut short (restored from an older backup?): \
                 keeping the draft ledger, the draft failures and copies and the usage, and rebuilding \
                 the messages from the mailboxes (this sync fetches every folder again)",
                path.display()
            );
            return rebuild(db, path, &old, open);
        }
        Some(v) if v > FORMAT => anyhow::bail!(
            "the store at {} is of format {v}, written by a newer tend (this one reads format {FORMAT}); \
             run the newer tend, or move the store aside to rebuild it from the mailboxes",
            path.display()
        ),
        _ => {}
    }
    if old.exists() {
        // An interrupted migration: `db` is the new store, perhaps with part of what is kept.
        tracing::warn!("finishing the migration of the store at {}", path.display());
        let src = open(&old)?;
        copy_kept(&src, &db, path)?;
        drop(src);
        return finish(db, &old);
    }
    if !holds_mail(&db, path)? {
        return finish(db, &old);
    }
    tracing::warn!(
        "the store at {} is of an older format: keeping the draft ledger, the draft failures and copies and the usage, \
         and rebuilding the messages from the mailboxes (this sync fetches every folder again)",
        path.display()
    );
    rebuild(db, path, &old, open)
}

/// Moves the store at `path` to `old`, makes a new one there with the trees a migration keeps,
/// and removes the old one.
fn rebuild(
    db: sled::Db,
    path: &Path,
    old: &Path,
    open: &dyn Fn(&Path) -> Result<sled::Db>,
) -> Result<sled::Db> {
    db.flush().context("flushing the old store")?;
    drop(db);
    std::fs::rename(path, old)
        .with_context(|| format!("moving the old store to {}", old.display()))?;
    // sled's flusher lets go of the old store shortly after its last handle is dropped; the
    // new store is made only once it has (its lock is free), so nothing of the old one is
    // written into the new directory.
    let start = std::time::Instant::now();
    let src = loop {
        match open(old) {
            Ok(src) => break src,
            Err(e) if super::is_locked(&e) && start.elapsed().as_secs() < 30 => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => return Err(e),
        }
    };
    let fresh = open(path)?;
    copy_kept(&src, &fresh, path)?;
    drop(src);
    finish(fresh, old)
}

/// Does any tree derived from the mailboxes hold something?
fn holds_mail(db: &sled::Db, path: &Path) -> Result<bool> {
    let default = db.name();
    for name in db.tree_names() {
        if name == default || KEEP.iter().any(|k| k.as_bytes() == name.as_ref()) {
            continue;
        }
        let tree = db
            .open_tree(&name)
            .with_context(|| format!("opening a tree in {}", path.display()))?;
        if !tree.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Copies the trees a migration keeps from `src` to `dst`.
fn copy_kept(src: &sled::Db, dst: &sled::Db, path: &Path) -> Result<()> {
    let names = src.tree_names();
    for name in KEEP {
        if !names.iter().any(|n| n.as_ref() == name.as_bytes()) {
            continue;
        }
        let from = src
            .open_tree(name)
            .with_context(|| format!("opening tree {name} of the old store"))?;
        let to = dst
            .open_tree(name)
            .with_context(|| format!("opening tree {name} in {}", path.display()))?;
        for item in from.iter() {
            let (k, v) = item.with_context(|| format!("reading tree {name} of the old store"))?;
            to.insert(k, v)
                .with_context(|| format!("writing tree {name} in {}", path.display()))?;
        }
    }
    Ok(())
}

/// Records the format, makes it durable, then removes the old store.
fn finish(db: sled::Db, old: &Path) -> Result<sled::Db> {
    db.insert(FORMAT_KEY, &FORMAT.to_be_bytes())
        .context("writing the store's format")?;
    db.flush().context("flushing the migrated store")?;
    if old.exists() {
        remove_old(old);
    }
    Ok(db)
}

/// The old store is garbage once the new one is durable; one left behind goes on the next open.
fn remove_old(old: &Path) {
    if let Err(e) = std::fs::remove_dir_all(old) {
        tracing::warn!("could not remove the old store at {}: {e}", old.display());
    }
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
        assert!(
            !super::old_path(&dir.path().join("db")).exists(),
            "the old store is gone once the new one holds the ledger"
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
    fn a_migration_cut_short_is_finished_from_the_old_store() {
        let dir = tempfile::tempdir().unwrap();
        // The old store moved aside, and the new one made but not yet given the ledger.
        format_1_store(dir.path());
        let db = dir.path().join("db");
        std::fs::rename(&db, super::old_path(&db)).unwrap();
        drop(sled::open(&db).unwrap());
        let store = reopen(dir.path());
        assert_eq!(store.format_version().unwrap(), Some(super::FORMAT));
        assert_eq!(
            store.draft("d@acme.test").unwrap().unwrap().state,
            DraftState::Appended
        );
        assert!(!super::old_path(&db).exists());
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
