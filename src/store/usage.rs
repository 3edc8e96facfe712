//! What the model cost: per mailbox and day, the drafts and vetoes the model gave, the answers
//! received and the tokens the provider reported for them (`usage` tree, key
//! `day \0 mailbox \0 YYYY-MM-DD` in the mailbox's own time zone, a JSON [`UsageDay`]); and per
//! draft (key `draft \0 draft Message-ID`, the same [`UsageDay`] with drafts/vetoes 0 or 1), for
//! `explain`. Counts only; it does not decide anything (a daily draft limit reads it elsewhere)
//! and knows nothing of providers.

use super::{json, key, Store};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One mailbox's model use on one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDay {
    /// Drafts the model wrote (composed; a draft dropped because someone answered meanwhile
    /// still cost its tokens and counts).
    pub drafts: u32,
    /// Findings the model judged to need no reply.
    pub vetoes: u32,
    /// Answers received from the model, retries of unusable answers included.
    pub calls: u32,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl UsageDay {
    fn add(&mut self, other: &UsageDay) {
        self.drafts += other.drafts;
        self.vetoes += other.vetoes;
        self.calls += other.calls;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
    }
}

fn day_key(mailbox: &str, day: NaiveDate) -> Vec<u8> {
    key("day", &format!("{mailbox}\0{}", day.format("%Y-%m-%d")))
}

fn draft_key(draft_id: &str) -> Vec<u8> {
    key("draft", draft_id)
}

impl Store {
    /// Adds `more` to `mailbox`'s counts for `day`, atomically (tasks of several mailboxes and
    /// a `tend once` never share a key, but the update is cheap to make safe anyway).
    pub fn add_usage(&self, mailbox: &str, day: NaiveDate, more: &UsageDay) -> Result<()> {
        self.add_at(day_key(mailbox, day), more)
    }

    /// Adds `more` to what the draft `draft_id` (its Message-ID) has cost over every attempt.
    pub fn add_draft_usage(&self, draft_id: &str, more: &UsageDay) -> Result<()> {
        self.add_at(draft_key(draft_id), more)
    }

    /// What the draft `draft_id` has cost so far; zero when nothing was recorded.
    pub fn draft_usage(&self, draft_id: &str) -> Result<UsageDay> {
        self.read_at(draft_key(draft_id))
    }

    fn add_at(&self, k: Vec<u8>, more: &UsageDay) -> Result<()> {
        self.usage
            .update_and_fetch(k, |old| {
                let mut sum: UsageDay = old
                    .and_then(|v| serde_json::from_slice(v).ok())
                    .unwrap_or_default();
                sum.add(more);
                Some(json(&sum))
            })
            .context("recording the model's token usage")?;
        Ok(())
    }

    /// `mailbox`'s counts for `day`; zero when nothing was recorded.
    pub fn usage(&self, mailbox: &str, day: NaiveDate) -> Result<UsageDay> {
        self.read_at(day_key(mailbox, day))
    }

    fn read_at(&self, k: Vec<u8>) -> Result<UsageDay> {
        let v = self
            .usage
            .get(k)
            .context("reading the model's token usage")?;
        Ok(v.and_then(|v| serde_json::from_slice(&v).ok())
            .unwrap_or_default())
    }
}

/// A day's count of calls in `tree` at `key` (a big-endian u32; none yet: 0).
pub(super) fn count(tree: &sled::Tree, key: Vec<u8>, what: &str) -> Result<u32> {
    let v = tree
        .get(key)
        .with_context(|| format!("reading the {what} of the day"))?;
    Ok(v.and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
        .map_or(0, u32::from_be_bytes))
}

/// Counts one more call in `tree` at `key`.
pub(super) fn bump(tree: &sled::Tree, key: Vec<u8>, what: &str) -> Result<()> {
    tree.update_and_fetch(key, |old| {
        let n = old
            .and_then(|v| <[u8; 4]>::try_from(v).ok())
            .map_or(0, u32::from_be_bytes);
        Some(n.saturating_add(1).to_be_bytes().to_vec())
    })
    .with_context(|| format!("counting one of the {what}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_adds_up_per_mailbox_and_day() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        let d1 = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let d2 = d1.succ_opt().unwrap();
        let one = UsageDay {
            drafts: 1,
            calls: 2,
            input_tokens: 1000,
            output_tokens: 120,
            ..UsageDay::default()
        };
        store.add_usage("alice", d1, &one).unwrap();
        store.add_usage("alice", d1, &one).unwrap();
        store.add_usage("bob", d1, &one).unwrap();
        let a = store.usage("alice", d1).unwrap();
        assert_eq!(
            (a.drafts, a.calls, a.input_tokens, a.output_tokens),
            (2, 4, 2000, 240)
        );
        assert_eq!(store.usage("bob", d1).unwrap(), one);
        assert_eq!(store.usage("alice", d2).unwrap(), UsageDay::default());
        store.add_draft_usage("d1@x", &one).unwrap();
        store.add_draft_usage("d1@x", &one).unwrap();
        assert_eq!(store.draft_usage("d1@x").unwrap().input_tokens, 2000);
        assert_eq!(store.draft_usage("d2@x").unwrap(), UsageDay::default());
        // Day and draft keys never meet, whatever the names.
        assert_eq!(store.usage("d1@x", d1).unwrap(), UsageDay::default());
    }
}
