//! The relationship index: which threads of a mailbox each person and each company took part
//! in, so a draft can be shown the other threads with its contact and their company without
//! walking the whole store. Keys are `mailbox \0 party \0 thread id` -> the date of the newest
//! message filed under it (i64 big-endian), where a party is a canonical address (the person)
//! or `@domain` (the company; never for a free-mail domain, where each address is its own
//! person). Written in the filing transaction (`filing` calls [`index_message`]); a store from
//! before the index is filled once on open from the stored messages.
//!
//! It does not decide which threads a draft may see or what of them: `draft::memory` filters
//! and summarises; this only finds the candidates.

use super::{filing::be_i64, key, Decoded, Store};
use crate::config::domains::{canonical, domain_of, is_freemail};
use crate::parse::Email;
use crate::thread::Thread;
use anyhow::{Context, Result};
use sled::transaction::{TransactionalTree, UnabortableTransactionError};
use std::collections::HashMap;

/// Marks a store whose index is complete (absent: an older store, filled on open). No UTF-8
/// key starts with 0xff, so no mailbox prefix ever scans it.
const BUILT: &[u8] = &[0xff];

/// The index keys an address counts under: the person, and their company unless the domain
/// is a free-mail service. `Anna+RFQ@Buyer.Example` -> `anna@buyer.example`, `@buyer.example`.
pub fn party_keys(address: &str) -> Vec<String> {
    let person = canonical(address);
    if person.is_empty() {
        return Vec::new();
    }
    let domain = domain_of(&person);
    let mut out = vec![person];
    if !domain.is_empty() && !is_freemail(&domain) {
        out.push(format!("@{domain}"));
    }
    out
}

/// Everyone on a message (From, To, Cc), as index keys. Automated mail (bounces, list
/// traffic, a shop's notifications) is no conversation with anyone. Our own addresses are
/// indexed too: the index is filled on open without knowing whose they are, and nobody asks
/// for them.
fn message_keys(email: &Email) -> Vec<String> {
    if email.automated.is_some() {
        return Vec::new();
    }
    let mut out: Vec<String> = email
        .from
        .iter()
        .chain(&email.to)
        .chain(&email.cc)
        .flat_map(|a| party_keys(&a.email))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn entry(mailbox: &str, party: &str, thread: &str) -> Vec<u8> {
    let mut k = key(mailbox, party);
    k.push(0);
    k.extend_from_slice(thread.as_bytes());
    k
}

/// Indexes one message new to `mailbox`, filed under `thread` (inside the filing transaction).
pub(super) fn index_message(
    tree: &TransactionalTree,
    mailbox: &str,
    email: &Email,
    thread: &str,
) -> Result<(), UnabortableTransactionError> {
    let date = email.date.unwrap_or(0);
    for party in message_keys(email) {
        let k = entry(mailbox, &party, thread);
        if tree.get(&k)?.is_none_or(|v| be_i64(&v) < date) {
            tree.insert(k, &date.to_be_bytes())?;
        }
    }
    Ok(())
}

impl Store {
    /// Fills the index of a store filed before it existed: every message each mailbox has,
    /// under the thread it now belongs to. Once; then filing keeps it.
    pub(super) fn index_related(&self) -> Result<()> {
        if self
            .related
            .contains_key(BUILT)
            .context("reading the index")?
        {
            return Ok(());
        }
        let mut filled = 0usize;
        for item in self.mailbox_msgs.iter().keys() {
            let k = item.context("scanning the mailboxes' messages")?;
            let Some(sep) = k.iter().position(|b| *b == 0) else {
                continue;
            };
            let mailbox = String::from_utf8_lossy(&k[..sep]);
            let Some(v) = self
                .messages
                .get(&k[sep + 1..])
                .context("reading a message")?
            else {
                continue;
            };
            let Ok((r, email)) = self.entry_of(&v) else {
                continue;
            };
            let thread = self.follow(&r.thread)?;
            let date = email.date.unwrap_or(0);
            for party in message_keys(&email) {
                let k = entry(&mailbox, &party, &thread);
                let newer = self
                    .related
                    .get(&k)
                    .context("reading the index")?
                    .is_none_or(|v| be_i64(&v) < date);
                if newer {
                    self.related
                        .insert(k, &date.to_be_bytes())
                        .context("writing the index")?;
                }
            }
            filled += 1;
        }
        if filled > 0 {
            tracing::info!(
                messages = filled,
                "indexed the stored messages by person and company"
            );
        }
        self.related
            .insert(BUILT, b"1".as_slice())
            .context("writing the index")?;
        Ok(())
    }

    /// The threads of `mailbox` that any of `parties` (see [`party_keys`]) took part in,
    /// newest first, at most `max`, without the thread `except` (or what it was merged into).
    /// Their records are decoded through `memo`: the next draft to the same company reads the
    /// same threads.
    pub fn related_threads(
        &self,
        mailbox: &str,
        parties: &[String],
        except: &str,
        max: usize,
        memo: &Decoded,
    ) -> Result<Vec<Thread>> {
        let except = self.follow(except)?;
        // Each entry's own thread first: a company has hundreds, and only the newest few are
        // followed to what they were merged into (a read each).
        let mut raw: HashMap<Vec<u8>, i64> = HashMap::new();
        for party in parties {
            let prefix = entry(mailbox, party, "");
            for item in self.related.scan_prefix(&prefix) {
                let (k, v) = item.context("scanning the index")?;
                let d = raw.entry(k[prefix.len()..].to_vec()).or_insert(i64::MIN);
                *d = (*d).max(be_i64(&v));
            }
        }
        let mut raw: Vec<(Vec<u8>, i64)> = raw.into_iter().collect();
        raw.sort_by_key(|r| std::cmp::Reverse(r.1));
        // Newest first, a day's worth at a time: a merged thread counts at the date of its
        // newest entry, which is the first met, and equal dates go by the followed id.
        let mut ids: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for day in raw.chunk_by(|a, b| a.1 == b.1) {
            if ids.len() >= max {
                break;
            }
            let mut new: Vec<String> = Vec::new();
            for (id, _) in day {
                let t = self.follow(&String::from_utf8_lossy(id))?;
                if t != except && seen.insert(t.clone()) {
                    new.push(t);
                }
            }
            new.sort();
            ids.extend(new);
        }
        let mut out = Vec::new();
        for id in ids.into_iter().take(max) {
            if let Some(t) = self.thread_decoded(&id, memo)? {
                out.push(t);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Identity;
    use crate::parse::Addr;

    fn me() -> Identity {
        Identity {
            addresses: vec!["alice@shop.example".into()],
            internal_domains: vec!["shop.example".into()],
        }
    }

    fn mail(id: &str, from: &str, to: &str, subject: &str, date: i64) -> Email {
        let addr = |a: &str| Addr {
            name: None,
            email: a.into(),
        };
        Email {
            message_id: id.into(),
            in_reply_to: None,
            references: vec![],
            from: Some(addr(from)),
            reply_to: vec![],
            to: vec![addr(to)],
            cc: vec![],
            date: Some(date),
            subject: subject.into(),
            new_text: "text".into(),
            text: "text".into(),
            automated: None,
            out_of_office: false,
            ooo_until: None,
        }
    }

    fn ids(threads: &[Thread]) -> Vec<&str> {
        threads.iter().map(|t| t.id.as_str()).collect()
    }

    #[test]
    fn party_keys_by_company_and_person_by_person_on_free_mail() {
        assert_eq!(
            party_keys("Anna+RFQ@Buyer.Example"),
            ["anna@buyer.example", "@buyer.example"]
        );
        assert_eq!(party_keys("anna@gmail.com"), ["anna@gmail.com"]);
    }

    #[test]
    fn a_contacts_and_a_companys_threads_are_found_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        let m = me();
        for e in [
            mail(
                "a@b",
                "anna@buyer.example",
                "alice@shop.example",
                "PVC",
                100,
            ),
            mail(
                "b@b",
                "carl@buyer.example",
                "alice@shop.example",
                "Ties",
                300,
            ),
            mail(
                "c@b",
                "alice@shop.example",
                "anna@buyer.example",
                "Order",
                200,
            ),
            mail(
                "d@o",
                "olga@other.example",
                "alice@shop.example",
                "Other",
                400,
            ),
            mail("e@g", "pat@gmail.com", "alice@shop.example", "Pat", 500),
            mail("f@g", "quinn@gmail.com", "alice@shop.example", "Quinn", 600),
        ] {
            store.save("alice", &m, &e).unwrap();
        }
        let company = party_keys("anna@buyer.example");
        let found = store
            .related_threads("alice", &company, "a@b", 10, &Decoded::default())
            .unwrap();
        assert_eq!(ids(&found), ["b@b", "c@b"], "the company's, newest first");
        assert_eq!(
            ids(&store
                .related_threads("alice", &company, "a@b", 1, &Decoded::default())
                .unwrap()),
            ["b@b"]
        );
        // Another mailbox has none of them.
        assert!(store
            .related_threads("bob", &company, "x", 10, &Decoded::default())
            .unwrap()
            .is_empty());
        // Free mail: the person alone, never everyone at gmail.com.
        let pat = party_keys("pat@gmail.com");
        assert!(store
            .related_threads("alice", &pat, "e@g", 10, &Decoded::default())
            .unwrap()
            .is_empty());
        assert_eq!(
            ids(&store
                .related_threads("alice", &pat, "x", 10, &Decoded::default())
                .unwrap()),
            ["e@g"]
        );
    }

    #[test]
    fn a_message_first_seen_as_a_list_copy_is_indexed_when_the_direct_copy_comes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        let mut via_list = mail(
            "a@b",
            "anna@buyer.example",
            "team@lists.example",
            "PVC",
            100,
        );
        via_list.automated = Some("List-Id: <team.lists.example>".into());
        store.save("alice", &me(), &via_list).unwrap();
        let company = party_keys("anna@buyer.example");
        assert!(store
            .related_threads("alice", &company, "x", 10, &Decoded::default())
            .unwrap()
            .is_empty());
        let direct = mail(
            "a@b",
            "anna@buyer.example",
            "alice@shop.example",
            "PVC",
            100,
        );
        store.save("alice", &me(), &direct).unwrap();
        assert_eq!(
            ids(&store
                .related_threads("alice", &company, "x", 10, &Decoded::default())
                .unwrap()),
            ["a@b"]
        );
    }

    #[test]
    fn an_older_store_is_indexed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), 0).unwrap();
            store
                .save(
                    "alice",
                    &me(),
                    &mail(
                        "a@b",
                        "anna@buyer.example",
                        "alice@shop.example",
                        "PVC",
                        100,
                    ),
                )
                .unwrap();
            // What a store filed before the index looks like.
            store.related.clear().unwrap();
            store.flush().unwrap();
        }
        let store = loop {
            // sled lets go of its lock shortly after the last handle is dropped.
            match Store::open(dir.path(), 0) {
                Ok(s) => break s,
                Err(e) if super::super::is_locked(&e) => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(e) => panic!("{e:#}"),
            }
        };
        let found = store
            .related_threads(
                "alice",
                &party_keys("bob@buyer.example"),
                "x",
                10,
                &Decoded::default(),
            )
            .unwrap();
        assert_eq!(ids(&found), ["a@b"]);
    }
}
