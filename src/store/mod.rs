//! The sled database: messages, threads, contacts, folder cursors and the draft ledger. The
//! only user of sled. It is derived state: the mailbox is the truth, so a store that will not
//! open is moved aside and rebuilt by a fresh sync. This file owns the `Store` handle and its
//! trees, opening (moving a damaged store aside, refusing a locked one), the reads, cursors and
//! flushing; a message's entry is `record` and its text a frame of `texts`, the format version and the migration of an older
//! store `format`; filing a message under its thread in one transaction is `filing`, the draft ledger
//! and the draft failures are `ledger`, the learned voice and its index of our messages `voice`,
//! the index of each person's and company's threads `related`, the inferred stage history of
//! each thread `stages`, the stages set by IMAP keywords `stage_keywords`. The user's stage
//! corrections are not in sled but beside it (`corrections`), so a rebuild keeps them.
//!
//! It does not decide anything about threads (that is `thread::resolve`) or about attention.

pub mod corrections;
mod decoded;
mod filing;
mod format;
mod joins;
mod ledger;
mod merge;
mod params;
mod payload;
mod record;
mod related;
mod stage_keywords;
mod stages;
mod sweep;
mod texts;
mod usage;
mod voice;

pub use decoded::Decoded;
pub use joins::JoinJudgement;
pub use ledger::{
    similarity, CopyStatus, DraftCopy, DraftRecord, DraftState, DraftsView, FailureRecord, Fate,
    SeenDraft,
};
pub use related::party_keys;
pub use stages::StageSeen;
pub use texts::Framed;
pub use usage::UsageDay;

use record::Record;

use crate::thread::Thread;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where a folder's sync stopped: everything up to `last_uid` under `uidvalidity` is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub uidvalidity: u32,
    pub last_uid: u32,
}

/// One counterpart address, as seen from one mailbox.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactRecord {
    /// Messages from them to us.
    pub received: u32,
    /// Messages from us to them.
    pub sent: u32,
    pub last_received: Option<i64>,
    pub last_sent: Option<i64>,
}

/// What [`Store::save_all`] did with one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    pub thread_id: String,
    /// False when this mailbox already had the message (a re-fetch).
    pub new: bool,
}

/// The open database and its trees. Cloning is cheap and shares the database (sled handles
/// are reference-counted), so a worker thread can store while the session fetches.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    /// The messages themselves, named by their entries in `messages`.
    texts: texts::Texts,
    /// Message-ID -> Record (the entry; the message is in `texts`).
    messages: sled::Tree,
    /// Message-ID only named as an ancestor -> thread id (a stored message's entry says its
    /// thread).
    msg_thread: sled::Tree,
    /// thread id \0 Message-ID -> ().
    thread_msgs: sled::Tree,
    /// subject key -> thread id.
    subjects: sled::Tree,
    /// mailbox \0 Message-ID -> (): which mailbox has seen which message.
    mailbox_msgs: sled::Tree,
    /// mailbox \0 thread id -> latest date in the thread (i64 big-endian).
    mailbox_threads: sled::Tree,
    /// mailbox \0 address or "@domain" -> ContactRecord.
    contacts: sled::Tree,
    /// mailbox \0 folder -> Cursor.
    cursors: sled::Tree,
    /// draft Message-ID -> DraftRecord.
    ledger: sled::Tree,
    /// mailbox \0 trigger Message-ID -> draft Message-ID: finds an entry whatever formula
    /// named the draft (ids before 0.2 hashed the mailbox file name and the thread id).
    ledger_triggers: sled::Tree,
    /// draft Message-ID -> FailureRecord.
    failures: sled::Tree,
    /// mailbox \0 draft Message-ID -> DraftCopy: where the server stored our draft, its fate.
    copies: sled::Tree,
    /// mailbox -> DraftsView: the last look at Drafts.
    drafts_seen: sled::Tree,
    /// merged thread id -> the thread that absorbed it.
    aliases: sled::Tree,
    /// thread id -> `thread::Facts` (outside participants, subjects), to judge a merge.
    facts: sled::Tree,
    /// mailbox \0 YYYY-MM-DD -> `UsageDay` (drafts and tokens of the model that day).
    usage: sled::Tree,
    /// mailbox \0 "voice" -> the learned `voice::Voice`; "stale", "indexed" -> () (`voice`).
    voice: sled::Tree,
    /// mailbox \0 date (8 bytes) Message-ID -> (): our own messages, for the voice.
    voice_own: sled::Tree,
    /// mailbox \0 person or "@company" \0 thread id -> latest date (see `related`).
    related: sled::Tree,
    /// mailbox \0 latest date (8 bytes) thread id -> (): `mailbox_threads` by date (`sweep`).
    sweep: sled::Tree,
    /// thread id -> the inferred `Vec<record::StageChange>` (`stages`).
    stages: sled::Tree,
    /// thread id -> `StageSeen`: the buyer message a stage was last inferred for (`stages`).
    stage_seen: sled::Tree,
    /// mailbox \0 YYYY-MM-DD -> stage-only model calls that day (u32 big-endian, `stages`).
    stage_calls: sled::Tree,
    /// "end" -> the texts file's length the committed entries need (`texts::lost`).
    texts_end: sled::Tree,
}

/// sled's page cache. It was 64 MiB: a first sync of the 50k bench mailbox peaked at 142 MB
/// of RSS with it, 95 MB with 16 MiB, for about a fifth more CPU (pages read back from the
/// OS's cache). sled counts less than a page costs in memory, so the RSS share is larger than
/// this figure.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// sled's segment size for a new store: sled's default, 512 KiB. A store keeps the size it was
/// made with: sled refuses to open it with another (see `params`). Measured on a first sync of
/// the 50k bench mailbox (240 MB on disk, 84 MB peak RSS here): 2 MiB 236 MB; 4 MiB 164 MB;
/// 8 MiB 126-134 MB but 98-115 MB of RSS (each of sled's IO buffers is a segment); 16 MiB
/// 164 MB, 108 MB. Disk is won only by giving up the memory goal, so the default stays.
const SEGMENT_BYTES: usize = 512 * 1024;

fn key(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + b.len() + 1);
    k.extend_from_slice(a.as_bytes());
    k.push(0);
    k.extend_from_slice(b.as_bytes());
    k
}

/// A thread of the messages read for it, in order; none without messages.
fn ordered(id: String, mut messages: Vec<crate::parse::Email>) -> Option<Thread> {
    if messages.is_empty() {
        return None;
    }
    // Causality before clocks: a Date is the sender's claim, In-Reply-To is evidence.
    // An undated message with no parent here sorts first (it never starts a wait); one
    // that answers comes right after its parent.
    crate::thread::order(&mut messages);
    Some(Thread { id, messages })
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising our own plain structs cannot fail.
    serde_json::to_vec(v).expect("serialisable")
}

/// Did sled refuse to open because the files are damaged (as opposed to locked, unreadable, or
/// written with parameters this build cannot open)? sled says `Unsupported` both for a `conf`
/// it cannot parse (damage) and for one it parses but will not honour (another sled version,
/// compression): only the first is damage, or a store of another sled would lose its ledger.
fn is_damage(err: &anyhow::Error, path: &Path) -> bool {
    match err.downcast_ref::<sled::Error>() {
        Some(sled::Error::Corruption { .. } | sled::Error::ReportableBug(_)) => true,
        Some(sled::Error::Unsupported(_)) => params::stored(path).is_none(),
        _ => false,
    }
}

fn is_unsupported(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<sled::Error>(),
        Some(sled::Error::Unsupported(_))
    )
}

/// Did sled refuse to open because another process (a running `tend run`) holds its lock?
pub fn is_locked(err: &anyhow::Error) -> bool {
    matches!(err.downcast_ref::<sled::Error>(), Some(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock"))
}

impl Store {
    /// Opens (or creates) the store in `dir`. A store that will not open is moved aside to
    /// `dir.broken-<unix time>` and a new one is created: the next sync rebuilds it.
    pub fn open(dir: &Path, now: i64) -> Result<Store> {
        // 0700: the store holds the whole mail text; a hand-run tend has no UMask=0077.
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(dir)
            .with_context(|| format!("creating the state directory {}", dir.display()))?;
        let path = dir.join("db");
        match Self::open_retrying(&path) {
            Ok(store) => Ok(store),
            // Only a store that is damaged is moved aside. One that is locked by another tend
            // process, or that we may not read, is someone else's business: say so and stop.
            Err(err) if path.exists() && is_damage(&err, &path) => {
                let aside = PathBuf::from(format!("{}.broken-{now}", path.display()));
                tracing::error!(
                    "the store at {} is damaged ({err:#}); moving it to {} and rebuilding it from the mailboxes",
                    path.display(),
                    aside.display()
                );
                std::fs::rename(&path, &aside)
                    .with_context(|| format!("moving the broken store to {}", aside.display()))?;
                Self::open_at(&path)
            }
            Err(err) if is_locked(&err) => Err(err.context(format!(
                "another tend process is using the store in {} (is `tend run` running? stop it first)",
                dir.display()
            ))),
            Err(err) if params::stored(&path).is_some() && is_unsupported(&err) => {
                Err(err.context(format!(
                    "the store in {} was written by a sled this tend cannot open; it is left as it is \
                     (move it aside to rebuild it from the mailboxes, which loses the draft ledger)",
                    dir.display()
                )))
            }
            Err(err) => Err(err),
        }
    }

    /// sled's flusher thread keeps the file lock of a store whose last handle was just dropped
    /// until it next wakes, so a store reopened at once by the same process (a migration, a
    /// test) can find it still locked: a lock is asked for again for up to a second before it
    /// is taken for another process's.
    fn open_retrying(path: &Path) -> Result<Store> {
        let start = std::time::Instant::now();
        loop {
            match Self::open_at(path) {
                Err(e) if is_locked(&e) && start.elapsed() < std::time::Duration::from_secs(1) => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                other => return other,
            }
        }
    }

    fn open_at(path: &Path) -> Result<Store> {
        let open = |path: &Path| {
            // An existing store is opened with the segment size it was made with.
            let segment = params::stored(path).map_or(SEGMENT_BYTES, |p| p.segment_size);
            sled::Config::new()
                .path(path)
                .cache_capacity(CACHE_BYTES)
                .segment_size(segment)
                .open()
                .with_context(|| format!("opening the store at {}", path.display()))
        };
        let db = format::migrate(open(path)?, path, &open)?;
        let tree = |name: &str| {
            db.open_tree(name)
                .with_context(|| format!("opening tree {name} in {}", path.display()))
        };
        let store = Store {
            texts: texts::Texts::open(path)?,
            texts_end: tree(texts::END_TREE)?,
            messages: tree("messages")?,
            msg_thread: tree("msg_thread")?,
            thread_msgs: tree("thread_msgs")?,
            subjects: tree("subjects")?,
            mailbox_msgs: tree("mailbox_msgs")?,
            mailbox_threads: tree("mailbox_threads")?,
            contacts: tree("contacts")?,
            cursors: tree("cursors")?,
            ledger: tree("ledger")?,
            ledger_triggers: tree("ledger_triggers")?,
            failures: tree("failures")?,
            copies: tree("draft_copies")?,
            drafts_seen: tree("drafts_seen")?,
            aliases: tree("aliases")?,
            facts: tree("thread_facts")?,
            usage: tree("usage")?,
            voice: tree("voice")?,
            voice_own: tree("voice_own")?,
            related: tree("related")?,
            sweep: tree("sweep")?,
            stages: tree("stages")?,
            stage_seen: tree("stage_seen")?,
            stage_calls: tree("stage_calls")?,
            db,
        };
        store.repair_threads()?;
        store.index_ledger()?;
        store.index_related()?;
        store.note_own_from_start()?;
        store.index_sweep()?;
        Ok(store)
    }

    /// The format version of the store (see `format`): the current one once it is open.
    pub fn format_version(&self) -> Result<Option<u64>> {
        format::version(&self.db)
    }

    /// The stored cursor of a folder, if any.
    pub fn cursor(&self, mailbox: &str, folder: &str) -> Result<Option<Cursor>> {
        let v = self
            .cursors
            .get(key(mailbox, folder))
            .context("reading a cursor")?;
        Ok(v.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// Records that everything up to `cursor` is stored. Call only after the messages are saved.
    pub fn set_cursor(&self, mailbox: &str, folder: &str, cursor: Cursor) -> Result<()> {
        self.cursors
            .insert(key(mailbox, folder), json(&cursor))
            .context("writing a cursor")?;
        Ok(())
    }

    /// The thread with id `thread_id` (or the thread it was merged into), messages in the
    /// order of `thread::order`: a reply after what it answers, then by date. `None` when
    /// unknown.
    pub fn thread(&self, thread_id: &str) -> Result<Option<Thread>> {
        self.thread_read(thread_id, |_, v| self.email_of(&v))
    }

    /// [`Store::thread`] with each message's headers only, its texts empty
    /// ([`crate::parse::Email::without_text`]): all that judging a thread reads (`detect`
    /// never looks at a text), for a fraction of the cost of inflating the texts too.
    pub fn thread_heads(&self, thread_id: &str) -> Result<Option<Thread>> {
        self.thread_read(thread_id, |_, v| {
            self.texts.read_head(Record::decode(&v)?.text)
        })
    }

    /// [`Store::thread`] with each message's headers and `new_text`, `text` empty: what the
    /// sales record reads of every stored thread (who wrote when, and a price one side stated),
    /// without inflating the quoted text that is most of a long thread's bytes.
    pub fn thread_said(&self, thread_id: &str) -> Result<Option<Thread>> {
        self.thread_read(thread_id, |_, v| {
            self.texts.read_said(Record::decode(&v)?.text)
        })
    }

    /// The thread `thread_id` follows to, each message read from its Message-ID and entry by
    /// `read`.
    fn thread_read(
        &self,
        thread_id: &str,
        read: impl Fn(&[u8], sled::IVec) -> Result<crate::parse::Email>,
    ) -> Result<Option<Thread>> {
        let thread_id = self.follow(thread_id)?;
        let prefix = key(&thread_id, "");
        let mut messages = Vec::new();
        for item in self.thread_msgs.scan_prefix(&prefix) {
            let (k, _) = item.context("scanning a thread")?;
            let id = &k[prefix.len()..];
            if let Some(v) = self.messages.get(id).context("reading a message")? {
                messages.push(read(id, v)?);
            }
        }
        Ok(ordered(thread_id, messages))
    }

    /// The message whose entry is `v`, read from the texts file.
    fn email_of(&self, v: &[u8]) -> Result<crate::parse::Email> {
        Ok(self.entry_of(v)?.1)
    }

    /// The entry `v` decoded, and its message read from the texts file.
    fn entry_of(&self, v: &[u8]) -> Result<(Record, crate::parse::Email)> {
        let r = Record::decode(v)?;
        let email = self.texts.read(r.text)?;
        Ok((r, email))
    }

    /// The stored message with this Message-ID, if any.
    fn email(&self, id: &[u8]) -> Result<Option<crate::parse::Email>> {
        match self.messages.get(id).context("reading a message")? {
            Some(v) => Ok(Some(self.email_of(&v)?)),
            None => Ok(None),
        }
    }

    /// The thread a Message-ID was filed under (or the thread that absorbed it).
    pub fn thread_of(&self, message_id: &str) -> Result<Option<String>> {
        if let Some(v) = self.messages.get(message_id).context("reading a message")? {
            return Ok(Some(self.follow(&Record::decode(&v)?.thread)?));
        }
        let v = self
            .msg_thread
            .get(message_id)
            .context("reading a message's thread")?;
        match v {
            Some(v) => Ok(Some(self.follow(&String::from_utf8_lossy(&v))?)),
            None => Ok(None),
        }
    }

    /// What `mailbox` knows about an address, or about a whole domain when given "@domain".
    pub fn contact(&self, mailbox: &str, address: &str) -> Result<ContactRecord> {
        let v = self
            .contacts
            .get(key(mailbox, address))
            .context("reading a contact")?;
        Ok(v.and_then(|v| serde_json::from_slice(&v).ok())
            .unwrap_or_default())
    }

    /// Makes everything written so far durable. Called before any side effect on the server.
    pub fn flush(&self) -> Result<()> {
        self.db.flush().context("flushing the store to disk")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
