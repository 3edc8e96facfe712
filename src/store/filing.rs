//! Filing messages: the one sled transaction that stores a batch of messages under their
//! threads for a mailbox (the messages' entries and their texts, Message-ID and subject indexes, per-mailbox thread dates,
//! contact counts, each thread's [`Facts`], the relationship index of `related`), and records
//! the merges a new message proves (the alias; `merge` moves the members). Storing a message twice (same Message-ID) changes
//! nothing, except that a copy which did not come through a mailing list replaces one that
//! did (our own reply reaches INBOX as a list copy before Sent is read).
//!
//! It does not choose the thread (that is `thread::resolve`); it records the choice.

use super::texts::Frames;
use super::{json, key, ContactRecord, Framed, Record, Saved, Store};
use crate::config::Identity;
use crate::parse::{self, Email};
use crate::thread::{self, Facts, Orphan};
use anyhow::{Context, Result};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

/// Alias chains are short; a longer one would mean a cycle from a corrupt store.
pub(super) const MAX_ALIAS_HOPS: usize = 16;

pub(super) fn be_i64(v: &[u8]) -> i64 {
    <[u8; 8]>::try_from(v).map(i64::from_be_bytes).unwrap_or(0)
}

fn abort<E: std::fmt::Display>(e: E) -> ConflictableTransactionError<anyhow::Error> {
    ConflictableTransactionError::Abort(anyhow::anyhow!("{e}"))
}

/// A subject-index value: the thread and the date of the newest message written under the
/// key (`thread \0 unix seconds`; an entry of an older store has no date and is not used).
fn subject_value(thread: &str, date: Option<i64>) -> Vec<u8> {
    match date {
        Some(d) => format!("{thread}\u{0}{d}").into_bytes(),
        None => thread.as_bytes().to_vec(),
    }
}

fn parse_subject_value(v: &[u8]) -> (String, Option<i64>) {
    let v = String::from_utf8_lossy(v);
    match v.rsplit_once('\u{0}') {
        Some((t, d)) => (t.to_string(), d.parse().ok()),
        None => (v.into_owned(), None),
    }
}

/// Our own message, as a list delivered it back to us: the list's headers say nothing about
/// who wrote it, so they never make it "automated". Returns the message as filed and whether
/// it came through a list.
fn own_list_copy<'e>(email: &'e Email, me: &Identity) -> (Cow<'e, Email>, bool) {
    // A list that delivers our message back may also mark it bulk: for our own From, that too
    // only says how the copy travelled.
    let via_list = email
        .automated
        .as_deref()
        .is_some_and(|r| parse::is_list_sign(r) || r.starts_with("Precedence: bulk"));
    let ours = email.from.as_ref().is_some_and(|f| me.is_own(&f.email));
    if via_list && ours {
        let mut e = email.clone();
        e.automated = None;
        e.out_of_office = false;
        (Cow::Owned(e), true)
    } else {
        (Cow::Borrowed(email), via_list)
    }
}

impl Store {
    /// Files one message; the daemon always files whole batches with [`Store::save_all`].
    #[cfg(test)]
    pub(super) fn save(&self, mailbox: &str, me: &Identity, email: &Email) -> Result<Saved> {
        let mut saved = self.save_all(mailbox, me, std::slice::from_ref(email))?;
        Ok(saved.pop().expect("one result per message"))
    }

    /// Files a batch of messages in one transaction: all or none of them are stored. One
    /// transaction per fetched batch rather than per message, because each sled transaction
    /// ends in a write to its log (measured: 4x the time of the fetch for 10,000 messages).
    /// The merges it records are carried out right after, each in a transaction of its own
    /// (sled cannot scan inside a transaction); one cut short is finished on the next open.
    pub fn save_all(&self, mailbox: &str, me: &Identity, emails: &[Email]) -> Result<Vec<Saved>> {
        self.save_with(mailbox, me, emails, &Frames::of(emails))
    }

    /// [`Store::save_all`] with the messages' frames made beforehand, so that deflating them
    /// is off the storing thread.
    pub fn save_framed(&self, mailbox: &str, me: &Identity, batch: &Framed) -> Result<Vec<Saved>> {
        self.save_with(mailbox, me, batch.emails(), &batch.frames)
    }

    fn save_with(
        &self,
        mailbox: &str,
        me: &Identity,
        emails: &[Email],
        frames: &Frames,
    ) -> Result<Vec<Saved>> {
        let (saved, absorbed) = self.file_all(mailbox, me, emails, frames)?;
        for other in absorbed {
            self.finish_merge(&other)
                .with_context(|| format!("merging thread {other}"))?;
        }
        Ok(saved)
    }

    /// The filing transaction alone for one message: the merges it records are not carried out.
    #[cfg(test)]
    pub(super) fn file_one(
        &self,
        mailbox: &str,
        me: &Identity,
        email: &Email,
    ) -> Result<(Vec<Saved>, Vec<String>)> {
        let one = std::slice::from_ref(email);
        self.file_all(mailbox, me, one, &Frames::of(one))
    }

    /// The filing transaction of [`Store::save_all`], without the merges it records.
    pub(super) fn file_all(
        &self,
        mailbox: &str,
        me: &Identity,
        emails: &[Email],
        frames: &Frames,
    ) -> Result<(Vec<Saved>, Vec<String>)> {
        // Twelve trees: past the largest tuple sled makes transactional, so a slice, in the
        // order of `Tx`'s fields.
        let trees = [
            &self.messages,
            &self.msg_thread,
            &self.thread_msgs,
            &self.subjects,
            &self.mailbox_msgs,
            &self.mailbox_threads,
            &self.contacts,
            &self.aliases,
            &self.facts,
            &self.related,
            &self.sweep,
            &self.texts_end,
        ];
        // Held for the whole transaction: its frames go at the file's end, in order.
        let appending = RefCell::new(self.texts.appending()?);
        let result = trees[..].transaction(|t| {
            // sled runs this again on a conflict: the frames of an earlier attempt were not
            // named by anything that committed.
            appending.borrow_mut().restart().map_err(abort)?;
            let tx = Tx {
                texts: &appending,
                messages: &t[0],
                msg_thread: &t[1],
                thread_msgs: &t[2],
                subjects: &t[3],
                mailbox_msgs: &t[4],
                mailbox_threads: &t[5],
                contacts: &t[6],
                aliases: &t[7],
                facts: &t[8],
                related: &t[9],
                sweep: &t[10],
            };
            let mut out = Vec::with_capacity(emails.len());
            let mut absorbed = Vec::new();
            for (i, email) in emails.iter().enumerate() {
                out.push(tx.file(mailbox, me, email, frames.get(i), &mut absorbed)?);
            }
            // Durable before the entries naming them commit; the length they need commits
            // with them.
            let mut appending = appending.borrow_mut();
            appending.write().map_err(abort)?;
            t[11].insert(super::texts::END_KEY, &appending.end().to_be_bytes())?;
            Ok((out, absorbed))
        });
        result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => anyhow::Error::new(e),
        })
    }
}

/// The trees of one transaction, and the frames of the texts file it will name.
struct Tx<'a, 's> {
    texts: &'a RefCell<super::texts::Appending<'s>>,
    messages: &'a TransactionalTree,
    msg_thread: &'a TransactionalTree,
    thread_msgs: &'a TransactionalTree,
    subjects: &'a TransactionalTree,
    mailbox_msgs: &'a TransactionalTree,
    mailbox_threads: &'a TransactionalTree,
    contacts: &'a TransactionalTree,
    aliases: &'a TransactionalTree,
    facts: &'a TransactionalTree,
    related: &'a TransactionalTree,
    sweep: &'a TransactionalTree,
}

type TxResult<T> = Result<T, ConflictableTransactionError<anyhow::Error>>;

impl Tx<'_, '_> {
    /// The thread `t` was merged into, following aliases; `t` itself when it was not.
    fn follow(&self, t: String) -> TxResult<String> {
        let mut t = t;
        for _ in 0..MAX_ALIAS_HOPS {
            match self.aliases.get(t.as_bytes())? {
                Some(next) => t = String::from_utf8_lossy(&next).into_owned(),
                None => break,
            }
        }
        Ok(t)
    }

    /// The thread a Message-ID was filed under, or named under as an ancestor; merges not
    /// followed. A stored message's entry says its thread, so only the ids that are named but
    /// not stored have an entry of `msg_thread`: one write a message fewer.
    fn named(&self, k: &str) -> TxResult<Option<String>> {
        if let Some(v) = self.messages.get(k)? {
            match Record::decode(&v) {
                Ok(r) => return Ok(Some(r.thread)),
                // One bad entry must not stop every message that names it from being filed.
                Err(e) => tracing::warn!(message_id = k, "{e:#}"),
            }
        }
        Ok(self
            .msg_thread
            .get(k)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The thread a Message-ID maps to, following merges.
    fn lookup(&self, k: &str) -> TxResult<Option<String>> {
        match self.named(k)? {
            Some(t) => Ok(Some(self.follow(t)?)),
            None => Ok(None),
        }
    }

    /// Names the ancestors of `email` that nothing names yet under thread `t`.
    fn name_ancestors(&self, email: &Email, t: &str) -> TxResult<()> {
        for a in thread::ancestors(email) {
            if self.named(a)?.is_none() {
                self.msg_thread.insert(a, t.as_bytes())?;
            }
        }
        Ok(())
    }

    /// The thread a subject key (or orphan key) maps to, if its entry is recent enough for a
    /// message dated `date` (see `thread::subject_entry_usable`).
    fn by_subject(&self, k: &str, date: Option<i64>) -> TxResult<Option<String>> {
        let Some(v) = self.subjects.get(k)? else {
            return Ok(None);
        };
        let (t, at) = parse_subject_value(&v);
        if !thread::subject_entry_usable(k, at, date) {
            return Ok(None);
        }
        Ok(Some(self.follow(t)?))
    }

    /// A thread's facts; undecodable ones (a bug) offer no evidence.
    fn facts_of(&self, t: &str) -> TxResult<Option<Facts>> {
        Ok(self
            .facts
            .get(t.as_bytes())?
            .and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// Files one message; threads it merges into its own get their alias here and are pushed
    /// to `absorbed`, for the caller to move their members after the commit.
    fn file(
        &self,
        mailbox: &str,
        me: &Identity,
        email: &Email,
        frame: Option<&[u8]>,
        absorbed: &mut Vec<String>,
    ) -> TxResult<Saved> {
        let (email, via_list) = own_list_copy(email, me);
        // The frame made beforehand is of the message as parsed: one filed changed is
        // deflated here.
        let frame = frame.filter(|_| matches!(email, Cow::Borrowed(_)));
        let email = email.as_ref();
        let text = |tx: &Self| {
            let mut texts = tx.texts.borrow_mut();
            match frame {
                Some(f) => texts.push_frame(f),
                None => texts.push(email),
            }
        };
        let id = email.message_id.as_str();
        let thread_id = match self.messages.get(id)? {
            Some(bytes) => {
                let mut r = Record::decode(&bytes).map_err(abort)?;
                let t = self.follow(r.thread.clone())?;
                // The same message again: the copy that did not pass through a list (the one
                // in Sent) tells better what was sent.
                if r.via_list && !via_list {
                    r.text = text(self);
                    r.date = email.date;
                    r.via_list = false;
                    r.thread = t.clone();
                    self.messages.insert(id, r.encode())?;
                    self.name_ancestors(email, &t)?;
                }
                t
            }
            None => self.place(me, email, via_list, text(self), absorbed)?,
        };
        // Before the re-fetch check: the copy without list signs that replaced a list copy
        // (not indexed, being automated) is indexed now. Indexing again changes nothing.
        super::related::index_message(self.related, mailbox, email, &thread_id)?;
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
            super::sweep::moved(self.sweep, mailbox, &thread_id, latest, date)?;
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

    /// Stores a message seen for the first time under the thread `thread::resolve` chooses,
    /// with the merges `thread::admit` allows.
    fn place(
        &self,
        me: &Identity,
        email: &Email,
        via_list: bool,
        text: super::texts::TextRef,
        absorbed: &mut Vec<String>,
    ) -> TxResult<String> {
        let id = email.message_id.as_str();
        // `resolve` is pure and takes plain lookups; a read error (a conflict sled wants
        // retried) is kept aside and returned after it, so the transaction is retried.
        let failed = RefCell::new(None);
        let keep = |r: TxResult<Option<String>>| {
            r.unwrap_or_else(|e| {
                failed.borrow_mut().get_or_insert(e);
                None
            })
        };
        let mut placement = thread::resolve(
            email,
            me,
            |k| keep(self.lookup(k)),
            |k| keep(self.by_subject(k, email.date)),
        );
        if let Some(e) = failed.into_inner() {
            return Err(e);
        }
        if let Some(f) = self.facts_of(&placement.thread)? {
            if !thread::may_join(email, me, &f) {
                // Names a thread it shares nobody and nothing with: a conversation of its own.
                placement = thread::Placement {
                    thread: email.message_id.clone(),
                    absorbs: Vec::new(),
                    orphan: Orphan::None,
                };
            }
        }
        let t = placement.thread;
        let mut known = HashMap::new();
        for c in std::iter::once(&t).chain(&placement.absorbs) {
            if let Some(f) = self.facts_of(c)? {
                known.insert(c.clone(), f);
            }
        }
        let merged = thread::admit(email, me, &t, placement.absorbs, |x| known.get(x).cloned());
        let mut facts = known.remove(&t).unwrap_or_default();
        for other in merged {
            // The alias first: from this commit on every lookup of `other` lands in `t`.
            self.aliases.insert(other.as_bytes(), t.as_bytes())?;
            if let Some(f) = known.remove(&other) {
                facts.absorb(f);
            }
            absorbed.push(other);
        }
        facts.add(email, me);
        self.facts.insert(t.as_bytes(), json(&facts))?;
        let record = Record {
            thread: t.clone(),
            via_list,
            date: email.date,
            text,
        };
        self.messages.insert(id, record.encode())?;
        self.name_ancestors(email, &t)?;
        self.thread_msgs.insert(key(&t, id), &[])?;
        if let Some(k) = thread::subject_key(email, me) {
            let orphan = thread::orphan_key(&k);
            match placement.orphan {
                Orphan::Starts => {
                    self.subjects
                        .insert(orphan.as_bytes(), subject_value(&t, email.date))?;
                }
                Orphan::Claims => {
                    self.subjects.remove(orphan.as_bytes())?;
                }
                Orphan::None => {}
            }
            // The entry's date is that of the newest message under the key.
            let newest = match self.subjects.get(k.as_bytes())? {
                Some(v) => match parse_subject_value(&v) {
                    (old, Some(at)) if self.follow(old.clone())? == t => email.date.max(Some(at)),
                    _ => email.date,
                },
                None => email.date,
            };
            self.subjects
                .insert(k.as_bytes(), subject_value(&t, newest))?;
        }
        Ok(t)
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
pub(super) mod tests;
