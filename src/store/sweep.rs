//! The sweep index: each mailbox's threads ordered by the date of their newest message
//! (`sweep` tree: mailbox \0 date (8 bytes, in the date's order) thread id -> ()), so a
//! pass's review reads only the threads recent enough to need attention
//! ([`Store::recent_threads`], a range from the window's start) instead of walking every
//! thread the mailbox ever had. It mirrors `mailbox_threads` (mailbox \0 thread -> newest
//! date) and is written in the same transactions: filing a newer message moves a thread's
//! entry, a merge moves the absorbed thread's onto the one that absorbed it. A store from
//! before the index is indexed once, on open.
//!
//! It does not judge threads (that is `detect`) nor decide merges (`thread::admit`).

use super::filing::be_i64;
use super::{key, Store};
use anyhow::{Context, Result};
use sled::transaction::{TransactionalTree, UnabortableTransactionError};
use std::collections::HashSet;

/// Set once the index covers every entry of `mailbox_threads`. Not a mailbox key: a lone
/// 0xff is no UTF-8 name.
const BUILT: &[u8] = &[0xff];

/// An index key. The sign bit flipped, so that big-endian bytes sort as the dates do
/// (an undated thread is filed at 0, a date before 1970 is negative).
fn entry(mailbox: &str, date: i64, thread: &str) -> Vec<u8> {
    let mut k = key(mailbox, "");
    k.extend_from_slice(&((date as u64) ^ (1 << 63)).to_be_bytes());
    k.extend_from_slice(thread.as_bytes());
    k
}

/// Inside a filing or merge transaction: `thread`'s newest date in `mailbox` went from
/// `old` (none: the mailbox did not know the thread) to `new`.
pub(super) fn moved(
    tree: &TransactionalTree,
    mailbox: &str,
    thread: &str,
    old: Option<i64>,
    new: i64,
) -> Result<(), UnabortableTransactionError> {
    if let Some(old) = old {
        tree.remove(entry(mailbox, old, thread))?;
    }
    tree.insert(entry(mailbox, new, thread), &[])?;
    Ok(())
}

/// Inside a merge transaction: `mailbox` no longer has `thread` (absorbed by another).
pub(super) fn gone(
    tree: &TransactionalTree,
    mailbox: &str,
    thread: &str,
    date: i64,
) -> Result<(), UnabortableTransactionError> {
    tree.remove(entry(mailbox, date, thread))?;
    Ok(())
}

impl Store {
    /// Threads of `mailbox` with a message dated at or after `since` (Unix seconds), each
    /// once, under the name of the thread it was merged into, in the order of their ids.
    pub fn recent_threads(&self, mailbox: &str, since: i64) -> Result<Vec<String>> {
        let prefix = key(mailbox, "");
        // Past every key of the mailbox: its name followed by \x01 instead of \0.
        let mut end = prefix.clone();
        if let Some(last) = end.last_mut() {
            *last = 1;
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for item in self.sweep.range(entry(mailbox, since, "")..end) {
            let (k, _) = item.context("scanning the sweep index")?;
            let Some(id) = k.get(prefix.len() + 8..) else {
                continue;
            };
            let t = self.follow(&String::from_utf8_lossy(id))?;
            if seen.insert(t.clone()) {
                out.push(t);
            }
        }
        // The order the review saw before the index (`mailbox_threads`, by id): threads whose
        // newest messages share a date stay in the same order among the findings.
        out.sort();
        Ok(out)
    }

    /// [`Store::recent_threads`] with the date of each thread's newest message, newest first
    /// (the stage step reads a thread only when it has a message newer than it looked at).
    pub fn recent_threads_dated(&self, mailbox: &str, since: i64) -> Result<Vec<(i64, String)>> {
        let prefix = key(mailbox, "");
        let mut end = prefix.clone();
        if let Some(last) = end.last_mut() {
            *last = 1;
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        // Newest first, so a thread merged into another is listed with its newest date.
        for item in self.sweep.range(entry(mailbox, since, "")..end).rev() {
            let (k, _) = item.context("scanning the sweep index")?;
            let (Some(date), Some(id)) = (
                k.get(prefix.len()..prefix.len() + 8),
                k.get(prefix.len() + 8..),
            ) else {
                continue;
            };
            let date = (be_i64(date) as u64 ^ (1 << 63)) as i64;
            let t = self.follow(&String::from_utf8_lossy(id))?;
            if seen.insert(t.clone()) {
                out.push((date, t));
            }
        }
        Ok(out)
    }

    /// On open: indexes a store from before the index, from `mailbox_threads` (once).
    pub(super) fn index_sweep(&self) -> Result<()> {
        if self
            .sweep
            .contains_key(BUILT)
            .context("reading the sweep index")?
        {
            return Ok(());
        }
        // An index cut short by a crash is started again from nothing.
        self.sweep.clear().context("clearing the sweep index")?;
        for item in self.mailbox_threads.iter() {
            let (k, v) = item.context("scanning the mailboxes' threads")?;
            let Some(sep) = k.iter().position(|b| *b == 0) else {
                continue;
            };
            let mailbox = String::from_utf8_lossy(&k[..sep]);
            let thread = String::from_utf8_lossy(&k[sep + 1..]);
            self.sweep
                .insert(entry(&mailbox, be_i64(&v), &thread), &[])
                .context("writing the sweep index")?;
        }
        self.sweep
            .insert(BUILT, b"1".as_slice())
            .context("writing the sweep index")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
