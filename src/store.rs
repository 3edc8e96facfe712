//! The sled database: messages, threads, contacts, folder cursors and the draft ledger. The
//! only user of sled. It is derived state: the mailbox is the truth, so a store that will not
//! open is moved aside and rebuilt by a fresh sync. Related trees are written in one
//! transaction, and storing a message twice (same Message-ID) changes nothing.
//!
//! It does not decide anything about threads (that is `thread::resolve`) or about attention.

use crate::config::Identity;
use crate::parse::Email;
use crate::thread::{self, Orphan, Thread};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;
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

/// What happened to a draft tend wanted to write, keyed by the draft's Message-ID.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DraftRecord {
    pub mailbox: String,
    pub thread_id: String,
    pub trigger: String,
    pub state: DraftState,
    /// Unix seconds of the decision.
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DraftState {
    /// The draft is (or was: the user may have deleted it) in Drafts. Never written again.
    Appended,
    /// The model judged that no answer is needed; its reason is kept for `explain`.
    Vetoed { reason: String },
}

/// A stored message and the thread it was filed under.
#[derive(Serialize, Deserialize)]
struct Record {
    thread: String,
    email: Email,
}

/// The result of [`Store::save`].
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
    /// Message-ID -> Record.
    messages: sled::Tree,
    /// Message-ID (stored or only named as an ancestor) -> thread id.
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
    /// merged thread id -> the thread that absorbed it.
    aliases: sled::Tree,
}

/// Alias chains are short; a longer one would mean a cycle from a corrupt store.
const MAX_ALIAS_HOPS: usize = 16;

fn key(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + b.len() + 1);
    k.extend_from_slice(a.as_bytes());
    k.push(0);
    k.extend_from_slice(b.as_bytes());
    k
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising our own plain structs cannot fail.
    serde_json::to_vec(v).expect("serialisable")
}

/// Did sled refuse to open because the files are damaged (as opposed to locked or unreadable)?
fn is_damage(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<sled::Error>(),
        Some(
            sled::Error::Corruption { .. }
                | sled::Error::ReportableBug(_)
                | sled::Error::Unsupported(_)
        )
    )
}

/// Did sled refuse to open because another process (a running `tend run`) holds its lock?
pub fn is_locked(err: &anyhow::Error) -> bool {
    matches!(err.downcast_ref::<sled::Error>(), Some(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock"))
}

fn be_i64(v: &[u8]) -> i64 {
    <[u8; 8]>::try_from(v).map(i64::from_be_bytes).unwrap_or(0)
}

fn abort<E: std::fmt::Display>(e: E) -> ConflictableTransactionError<anyhow::Error> {
    ConflictableTransactionError::Abort(anyhow::anyhow!("{e}"))
}

impl Store {
    /// Opens (or creates) the store in `dir`. A store that will not open is moved aside to
    /// `dir.broken-<unix time>` and a new one is created: the next sync rebuilds it.
    pub fn open(dir: &Path, now: i64) -> Result<Store> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the state directory {}", dir.display()))?;
        let path = dir.join("db");
        match Self::open_at(&path) {
            Ok(store) => Ok(store),
            // Only a store that is damaged is moved aside. One that is locked by another tend
            // process, or that we may not read, is someone else's business: say so and stop.
            Err(err) if path.exists() && is_damage(&err) => {
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
            Err(err) => Err(err),
        }
    }

    fn open_at(path: &Path) -> Result<Store> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(64 * 1024 * 1024)
            .open()
            .with_context(|| format!("opening the store at {}", path.display()))?;
        let tree = |name: &str| {
            db.open_tree(name)
                .with_context(|| format!("opening tree {name} in {}", path.display()))
        };
        Ok(Store {
            messages: tree("messages")?,
            msg_thread: tree("msg_thread")?,
            thread_msgs: tree("thread_msgs")?,
            subjects: tree("subjects")?,
            mailbox_msgs: tree("mailbox_msgs")?,
            mailbox_threads: tree("mailbox_threads")?,
            contacts: tree("contacts")?,
            cursors: tree("cursors")?,
            ledger: tree("ledger")?,
            aliases: tree("aliases")?,
            db,
        })
    }

    /// Files `email` under its thread for `mailbox`, in one transaction. Harmless to repeat.
    pub fn save(&self, mailbox: &str, me: &Identity, email: &Email) -> Result<Saved> {
        let mut saved = self.save_all(mailbox, me, std::slice::from_ref(email))?;
        Ok(saved.pop().expect("one result per message"))
    }

    /// Files a batch of messages in one transaction: all or none of them are stored. One
    /// transaction per fetched batch rather than per message, because each sled transaction
    /// ends in a write to its log (measured: 4x the time of the fetch for 10,000 messages).
    pub fn save_all(&self, mailbox: &str, me: &Identity, emails: &[Email]) -> Result<Vec<Saved>> {
        let trees = (
            &self.messages,
            &self.msg_thread,
            &self.thread_msgs,
            &self.subjects,
            &self.mailbox_msgs,
            &self.mailbox_threads,
            &self.contacts,
            &self.aliases,
        );
        let result = trees.transaction(
            |(
                messages,
                msg_thread,
                thread_msgs,
                subjects,
                mailbox_msgs,
                mailbox_threads,
                contacts,
                aliases,
            )| {
                let tx = Tx {
                    messages,
                    msg_thread,
                    thread_msgs,
                    subjects,
                    mailbox_msgs,
                    mailbox_threads,
                    contacts,
                    aliases,
                };
                let mut out = Vec::with_capacity(emails.len());
                let mut absorbed = Vec::new();
                for email in emails {
                    out.push(tx.file(mailbox, me, email, &mut absorbed)?);
                }
                Ok((out, absorbed))
            },
        );
        let (saved, absorbed) = result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => anyhow::Error::new(e),
        })?;
        for (other, into) in absorbed {
            self.merge(&other, &into)
                .with_context(|| format!("merging thread {other} into {into}"))?;
        }
        Ok(saved)
    }

    /// Moves every message of thread `from` into `into`. The alias is already recorded, so
    /// lookups land in `into` even if this is interrupted.
    fn merge(&self, from: &str, into: &str) -> Result<()> {
        let prefix = key(from, "");
        let ids: Vec<sled::IVec> = self
            .thread_msgs
            .scan_prefix(&prefix)
            .keys()
            .map(|k| k.map(|k| sled::IVec::from(&k[prefix.len()..])))
            .collect::<Result<_, _>>()?;
        for id in &ids {
            if let Some(v) = self.messages.get(id)? {
                let mut r: Record =
                    serde_json::from_slice(&v).context("decoding a stored message")?;
                r.thread = into.to_string();
                self.messages.insert(id, json(&r))?;
            }
            self.msg_thread.insert(id, into.as_bytes())?;
            let id = String::from_utf8_lossy(id);
            self.thread_msgs.insert(key(into, &id), &[])?;
            self.thread_msgs.remove(key(from, &id))?;
        }
        // Each mailbox that knew `from` now knows `into`, with the later of the two dates.
        let suffix = key("", from);
        let entries: Vec<(sled::IVec, sled::IVec)> = self
            .mailbox_threads
            .iter()
            .filter(|r| r.as_ref().map_or(true, |(k, _)| k.ends_with(&suffix)))
            .collect::<Result<_, _>>()?;
        for (k, date) in entries {
            let mailbox = String::from_utf8_lossy(&k[..k.len() - suffix.len()]).into_owned();
            let into_key = key(&mailbox, into);
            let keep = self
                .mailbox_threads
                .get(&into_key)?
                .map_or(i64::MIN, |v| be_i64(&v));
            self.mailbox_threads
                .insert(into_key, &be_i64(&date).max(keep).to_be_bytes())?;
            self.mailbox_threads.remove(k)?;
        }
        Ok(())
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

    /// Threads of `mailbox` with a message dated at or after `since` (Unix seconds).
    pub fn recent_threads(&self, mailbox: &str, since: i64) -> Result<Vec<String>> {
        let prefix = key(mailbox, "");
        let mut out = Vec::new();
        for item in self.mailbox_threads.scan_prefix(&prefix) {
            let (k, v) = item.context("scanning threads")?;
            let latest = <[u8; 8]>::try_from(v.as_ref())
                .map(i64::from_be_bytes)
                .unwrap_or(0);
            if latest >= since {
                out.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
            }
        }
        Ok(out)
    }

    /// The thread with id `thread_id`, messages oldest first; `None` when unknown.
    pub fn thread(&self, thread_id: &str) -> Result<Option<Thread>> {
        let prefix = key(thread_id, "");
        let mut messages = Vec::new();
        for item in self.thread_msgs.scan_prefix(&prefix) {
            let (k, _) = item.context("scanning a thread")?;
            let id = &k[prefix.len()..];
            if let Some(v) = self.messages.get(id).context("reading a message")? {
                let r: Record = serde_json::from_slice(&v).context("decoding a stored message")?;
                messages.push(r.email);
            }
        }
        if messages.is_empty() {
            return Ok(None);
        }
        // Undated messages sort first: they can answer but never start a wait.
        messages.sort_by_key(|e| (e.date.unwrap_or(i64::MIN), e.message_id.clone()));
        Ok(Some(Thread {
            id: thread_id.to_string(),
            messages,
        }))
    }

    /// The thread a Message-ID was filed under.
    pub fn thread_of(&self, message_id: &str) -> Result<Option<String>> {
        let v = self
            .msg_thread
            .get(message_id)
            .context("reading a message's thread")?;
        Ok(v.map(|v| String::from_utf8_lossy(&v).into_owned()))
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

    /// The ledger entry of a draft Message-ID.
    pub fn draft(&self, draft_id: &str) -> Result<Option<DraftRecord>> {
        let v = self
            .ledger
            .get(draft_id)
            .context("reading the draft ledger")?;
        Ok(v.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// Records what happened to a draft, and makes it durable before returning.
    pub fn record_draft(&self, draft_id: &str, record: &DraftRecord) -> Result<()> {
        self.ledger
            .insert(draft_id, json(record))
            .context("writing the draft ledger")?;
        self.flush()
    }

    /// Makes everything written so far durable. Called before any side effect on the server.
    pub fn flush(&self) -> Result<()> {
        self.db.flush().context("flushing the store to disk")?;
        Ok(())
    }
}

/// The trees of one transaction.
struct Tx<'a> {
    messages: &'a TransactionalTree,
    msg_thread: &'a TransactionalTree,
    thread_msgs: &'a TransactionalTree,
    subjects: &'a TransactionalTree,
    mailbox_msgs: &'a TransactionalTree,
    mailbox_threads: &'a TransactionalTree,
    contacts: &'a TransactionalTree,
    aliases: &'a TransactionalTree,
}

type TxResult<T> = Result<T, ConflictableTransactionError<anyhow::Error>>;

impl Tx<'_> {
    /// The thread a Message-ID (or subject key) maps to, following merges. A read error only
    /// loses a threading hint; the message is still kept.
    fn lookup(&self, tree: &TransactionalTree, k: &str) -> Option<String> {
        let v = tree.get(k).ok().flatten()?;
        let mut t = String::from_utf8_lossy(&v).into_owned();
        for _ in 0..MAX_ALIAS_HOPS {
            match self.aliases.get(t.as_bytes()).ok().flatten() {
                Some(next) => t = String::from_utf8_lossy(&next).into_owned(),
                None => break,
            }
        }
        Some(t)
    }

    /// Files one message; threads it proves to be part of its own are pushed to `absorbed`
    /// as (absorbed, into), for the caller to merge after the commit.
    fn file(
        &self,
        mailbox: &str,
        me: &Identity,
        email: &Email,
        absorbed: &mut Vec<(String, String)>,
    ) -> TxResult<Saved> {
        let id = email.message_id.as_str();
        let thread_id = match self.messages.get(id)? {
            Some(bytes) => {
                serde_json::from_slice::<Record>(&bytes)
                    .map_err(abort)?
                    .thread
            }
            None => {
                let placement = thread::resolve(
                    email,
                    me,
                    |k| self.lookup(self.msg_thread, k),
                    |k| self.lookup(self.subjects, k),
                );
                let t = placement.thread;
                for other in placement.absorbs {
                    self.aliases.insert(other.as_bytes(), t.as_bytes())?;
                    absorbed.push((other, t.clone()));
                }
                let record = Record {
                    thread: t.clone(),
                    email: email.clone(),
                };
                self.messages.insert(id, json(&record))?;
                self.msg_thread.insert(id, t.as_bytes())?;
                for a in thread::ancestors(email) {
                    if self.msg_thread.get(a)?.is_none() {
                        self.msg_thread.insert(a, t.as_bytes())?;
                    }
                }
                self.thread_msgs.insert(key(&t, id), &[])?;
                if let Some(k) = thread::subject_key(email, me) {
                    let orphan = thread::orphan_key(&k);
                    match placement.orphan {
                        Orphan::Starts => {
                            self.subjects.insert(orphan.as_bytes(), t.as_bytes())?;
                        }
                        Orphan::Claims => {
                            self.subjects.remove(orphan.as_bytes())?;
                        }
                        Orphan::None => {}
                    }
                    self.subjects.insert(k.as_bytes(), t.as_bytes())?;
                }
                t
            }
        };
        if self.mailbox_msgs.insert(key(mailbox, id), &[])?.is_some() {
            return Ok(Saved {
                thread_id,
                new: false,
            });
        }
        let tkey = key(mailbox, &thread_id);
        let date = email.date.unwrap_or(0);
        let latest = self.mailbox_threads.get(&tkey)?.map(|v| be_i64(&v));
        if latest.is_none_or(|l| l < date) {
            self.mailbox_threads.insert(tkey, &date.to_be_bytes())?;
        }
        for (k, inbound) in contact_keys(email, me) {
            let ck = key(mailbox, &k);
            let mut c: ContactRecord = match self.contacts.get(&ck)? {
                Some(v) => serde_json::from_slice(&v).unwrap_or_default(),
                None => ContactRecord::default(),
            };
            if inbound {
                c.received += 1;
                c.last_received = c.last_received.max(email.date);
            } else {
                c.sent += 1;
                c.last_sent = c.last_sent.max(email.date);
            }
            self.contacts.insert(ck, json(&c))?;
        }
        Ok(Saved {
            thread_id,
            new: true,
        })
    }
}

/// The contact keys a message counts towards, and whether it is inbound for them: the
/// external sender and its "@domain", or each external recipient of ours.
fn contact_keys(email: &Email, me: &Identity) -> Vec<(String, bool)> {
    let Some(from) = email.from.as_ref() else {
        return Vec::new();
    };
    if email.automated.is_some() {
        return Vec::new();
    }
    let domain = |a: &str| a.rsplit_once('@').map(|(_, d)| format!("@{d}"));
    let mut out = Vec::new();
    if !me.is_internal(&from.email) {
        out.push((from.email.clone(), true));
        out.extend(domain(&from.email).map(|d| (d, true)));
    } else if me.is_own(&from.email) {
        for a in email.to.iter().chain(&email.cc) {
            if !me.is_internal(&a.email) && !out.iter().any(|(k, _)| *k == a.email) {
                out.push((a.email.clone(), false));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Addr;

    fn me() -> Identity {
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
}
