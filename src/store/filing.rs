//! Filing messages: the one sled transaction that stores a batch of messages under their
//! threads for a mailbox (messages, Message-ID and subject indexes, per-mailbox thread dates,
//! contact counts), and the merge of threads a new message proves to be one. Storing a message
//! twice (same Message-ID) changes nothing.
//!
//! It does not choose the thread (that is `thread::resolve`); it records the choice.

use super::{json, key, ContactRecord, Record, Saved, Store};
use crate::config::Identity;
use crate::parse::Email;
use crate::thread::{self, Orphan};
use anyhow::{Context, Result};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

/// Alias chains are short; a longer one would mean a cycle from a corrupt store.
const MAX_ALIAS_HOPS: usize = 16;

fn be_i64(v: &[u8]) -> i64 {
    <[u8; 8]>::try_from(v).map(i64::from_be_bytes).unwrap_or(0)
}

fn abort<E: std::fmt::Display>(e: E) -> ConflictableTransactionError<anyhow::Error> {
    ConflictableTransactionError::Abort(anyhow::anyhow!("{e}"))
}

impl Store {
    /// Files one message; the daemon always files whole batches with [`Store::save_all`].
    #[cfg(test)]
    fn save(&self, mailbox: &str, me: &Identity, email: &Email) -> Result<Saved> {
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
}
