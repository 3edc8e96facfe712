//! Merging threads: moving the members of a thread that another absorbed (its alias is
//! already recorded by `filing`) in one transaction, and finishing on open every merge that
//! a crash cut short, the thread's inferred stages with them. Also fills in the per-thread
//! `Facts` of a store written before they existed. It does not decide which threads merge (`thread::admit` does).

use super::filing::{be_i64, MAX_ALIAS_HOPS};
use super::{json, key, Record, Store};
use crate::thread::Facts;
use anyhow::{Context, Result};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::collections::HashMap;

impl Store {
    /// The thread `t` was merged into, following aliases; `t` itself when it was not.
    pub(super) fn follow(&self, t: &str) -> Result<String> {
        let mut t = t.to_string();
        for _ in 0..MAX_ALIAS_HOPS {
            match self.aliases.get(t.as_bytes()).context("reading an alias")? {
                Some(next) => t = String::from_utf8_lossy(&next).into_owned(),
                None => break,
            }
        }
        Ok(t)
    }

    /// Moves every message of the absorbed thread `from` into the thread its alias names,
    /// and each mailbox's entry for it, in one transaction: a crash leaves the merge either
    /// done or not begun (and [`Store::repair_threads`] then does it). Nothing files into
    /// `from` any more once its alias is committed, so the keys read before the transaction
    /// are all there is to move.
    pub(super) fn finish_merge(&self, from: &str) -> Result<()> {
        let into = self.follow(from)?;
        if into == from {
            return Ok(());
        }
        let prefix = key(from, "");
        let ids: Vec<sled::IVec> = self
            .thread_msgs
            .scan_prefix(&prefix)
            .keys()
            .map(|k| k.map(|k| sled::IVec::from(&k[prefix.len()..])))
            .collect::<Result<_, _>>()?;
        let suffix = key("", from);
        let entries: Vec<sled::IVec> = self
            .mailbox_threads
            .iter()
            .keys()
            .filter(|k| k.as_ref().map_or(true, |k| k.ends_with(&suffix)))
            .collect::<Result<_, _>>()?;
        let trees = (
            &self.messages,
            &self.msg_thread,
            &self.thread_msgs,
            &self.mailbox_threads,
            &self.sweep,
            &self.stages,
            &self.stage_seen,
        );
        trees
            .transaction(
                |(messages, msg_thread, thread_msgs, mailbox_threads, sweep, stages, seen)| {
                    for id in &ids {
                        // A stored message's entry names its thread; an id only named
                        // has an entry of `msg_thread`.
                        if let Some(v) = messages.get(id)? {
                            let mut r = Record::decode(&v).map_err(|e| {
                                ConflictableTransactionError::Abort(anyhow::anyhow!("{e:#}"))
                            })?;
                            r.thread = into.clone();
                            messages.insert(id, r.encode())?;
                        } else {
                            msg_thread.insert(id, into.as_bytes())?;
                        }
                        let id = String::from_utf8_lossy(id);
                        thread_msgs.insert(key(&into, &id), &[])?;
                        thread_msgs.remove(key(from, &id))?;
                    }
                    // Each mailbox that knew `from` now knows `into`, with the later date.
                    for k in &entries {
                        let Some(date) = mailbox_threads.remove(k)? else {
                            continue;
                        };
                        let mailbox = String::from_utf8_lossy(&k[..k.len() - suffix.len()]);
                        let into_key = key(&mailbox, &into);
                        let keep = mailbox_threads.get(&into_key)?.map(|v| be_i64(&v));
                        let newest = be_i64(&date).max(keep.unwrap_or(i64::MIN));
                        mailbox_threads.insert(into_key, &newest.to_be_bytes())?;
                        super::sweep::gone(sweep, &mailbox, from, be_i64(&date))?;
                        super::sweep::moved(sweep, &mailbox, &into, keep, newest)?;
                    }
                    // The stages inferred for `from` follow its messages (`stages`).
                    if let Some(h) = stages.remove(from.as_bytes())? {
                        let into_h = stages.get(into.as_bytes())?;
                        let both = super::stages::merged(
                            super::stages::decode_history(into_h.as_deref()),
                            super::stages::decode_history(Some(&h)),
                        );
                        stages.insert(into.as_bytes(), super::stages::encode_history(&both))?;
                    }
                    if let Some(s) = seen.remove(from.as_bytes())? {
                        let from_seen = super::stages::decode_seen(Some(&s));
                        let into_seen =
                            super::stages::decode_seen(seen.get(into.as_bytes())?.as_deref());
                        let mark = match (into_seen, from_seen) {
                            (Some(a), Some(b)) => Some(super::stages::later(a, b)),
                            (a, b) => a.or(b),
                        };
                        if let Some(mark) = mark {
                            seen.insert(into.as_bytes(), super::stages::encode_seen(&mark))?;
                        }
                    }
                    Ok(())
                },
            )
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => anyhow::Error::new(e),
            })
    }

    /// Run on open: finishes every merge whose absorbed thread still has members (a crash
    /// between the commit of the alias and the move), and computes the facts of threads
    /// filed before the store kept them, so their merges can be judged.
    pub(super) fn repair_threads(&self) -> Result<()> {
        for item in self.aliases.iter().keys() {
            let from = item.context("scanning aliases")?;
            let from = String::from_utf8_lossy(&from).into_owned();
            let pending = self
                .thread_msgs
                .scan_prefix(key(&from, ""))
                .next()
                .is_some();
            if pending {
                tracing::info!(thread = from, "finishing an interrupted thread merge");
                self.finish_merge(&from)
                    .with_context(|| format!("finishing the merge of thread {from}"))?;
            }
        }
        if self.facts.is_empty() && !self.messages.is_empty() {
            self.fill_facts()?;
        }
        Ok(())
    }

    /// Facts for every thread from its stored messages. The identity of the mailbox that
    /// filed them is not known here, so every address counts: more evidence, never less.
    fn fill_facts(&self) -> Result<()> {
        let nobody = crate::config::Identity {
            addresses: Vec::new(),
            internal_domains: Vec::new(),
        };
        let mut all: HashMap<String, Facts> = HashMap::new();
        for item in self.messages.iter().values() {
            let v = item.context("scanning messages")?;
            let Ok((r, email)) = self.entry_of(&v) else {
                continue;
            };
            all.entry(r.thread).or_default().add(&email, &nobody);
        }
        for (t, f) in all {
            self.facts
                .insert(t.as_bytes(), json(&f))
                .context("writing thread facts")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
