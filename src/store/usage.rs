//! What the model cost, per mailbox and day: drafts and vetoes the model gave, answers received
//! and the tokens the provider reported for them (`usage` tree, key mailbox \0 YYYY-MM-DD in the
//! mailbox's own time zone, a JSON [`UsageDay`]). Counts only; it does not decide anything (a
//! daily draft limit reads it elsewhere) and knows nothing of providers.

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
    key(mailbox, &day.format("%Y-%m-%d").to_string())
}

impl Store {
    /// Adds `more` to `mailbox`'s counts for `day`, atomically (tasks of several mailboxes and
    /// a `tend once` never share a key, but the update is cheap to make safe anyway).
    pub fn add_usage(&self, mailbox: &str, day: NaiveDate, more: &UsageDay) -> Result<()> {
        self.usage
            .update_and_fetch(day_key(mailbox, day), |old| {
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
        let v = self
            .usage
            .get(day_key(mailbox, day))
            .context("reading the model's token usage")?;
        Ok(v.and_then(|v| serde_json::from_slice(&v).ok())
            .unwrap_or_default())
    }
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
    }
}
