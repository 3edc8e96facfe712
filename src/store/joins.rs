//! The model's judgements of which new thread continues an open deal (tree `deal_joins`): key
//! `judged \0 new thread id` -> a JSON [`JoinJudgement`], written once per new thread whatever
//! the answer, so the model is asked about a thread once; and the join calls made per mailbox
//! and day (key `calls \0 mailbox \0 YYYY-MM-DD`, a u32 big-endian), which the daemon caps
//! like stage calls. A format migration keeps the tree (`format::KEEP`): what the model said
//! is in no mailbox, and asking again costs money.
//!
//! The user's own word (`tend deal`) is not here but in the corrections file, which wins; this
//! does not decide anything, it only remembers.

use super::{json, key, Store};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What the model said about one new thread and the open deal it was shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinJudgement {
    /// The thread id of the open deal it was compared with.
    pub deal: String,
    pub continues: bool,
    /// The model's reason (capped), or why no usable answer came.
    pub reason: String,
    /// Unix seconds of the judgement.
    pub at: i64,
}

/// Longest reason kept, in characters.
const REASON_CAP: usize = 300;

impl Store {
    fn deal_joins(&self) -> Result<sled::Tree> {
        // Opened on use: sled hands back the same tree.
        self.db
            .open_tree("deal_joins")
            .context("opening tree deal_joins")
    }

    /// The judgement recorded for `thread` (or the thread it was merged into), if any.
    pub fn join_judged(&self, thread: &str) -> Result<Option<JoinJudgement>> {
        let tree = self.deal_joins()?;
        let mut found = tree
            .get(key("judged", thread))
            .context("reading a deal join")?;
        if found.is_none() {
            let merged = self.follow(thread)?;
            if merged != thread {
                found = tree
                    .get(key("judged", &merged))
                    .context("reading a deal join")?;
            }
        }
        Ok(found.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// The deal `thread` continues, by the model's judgement: the deal's thread id (followed
    /// through merges) and the reason. `None` when not judged or judged to stand alone.
    pub fn join_of(&self, thread: &str) -> Result<Option<(String, String)>> {
        match self.join_judged(thread)? {
            Some(j) if j.continues => Ok(Some((self.follow(&j.deal)?, j.reason))),
            _ => Ok(None),
        }
    }

    /// Records the model's judgement of `thread` against the open deal `deal`, replacing any
    /// earlier one.
    pub fn record_join(
        &self,
        thread: &str,
        deal: &str,
        continues: bool,
        reason: &str,
        at: i64,
    ) -> Result<()> {
        let judgement = JoinJudgement {
            deal: deal.to_string(),
            continues,
            reason: reason.chars().take(REASON_CAP).collect(),
            at,
        };
        self.deal_joins()?
            .insert(key("judged", thread), json(&judgement))
            .context("recording a deal join")?;
        Ok(())
    }

    /// Join calls made for `mailbox` on `day` (its own time zone).
    pub fn join_calls(&self, mailbox: &str, day: NaiveDate) -> Result<u32> {
        super::usage::count(&self.deal_joins()?, calls_key(mailbox, day), "join calls")
    }

    /// Counts one more join call for `mailbox` on `day`.
    pub fn add_join_call(&self, mailbox: &str, day: NaiveDate) -> Result<()> {
        super::usage::bump(&self.deal_joins()?, calls_key(mailbox, day), "join calls")
    }
}

impl Store {
    /// The mailboxes that have synced into this store (their folder cursors), by name: the
    /// join step looks for a company's open deal in every one of them.
    pub fn synced_mailboxes(&self) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for item in self.cursors.iter() {
            let (k, _) = item.context("reading the folder cursors")?;
            let name = k.split(|b| *b == 0).next().unwrap_or_default();
            let name = String::from_utf8_lossy(name).into_owned();
            if out.last() != Some(&name) {
                out.push(name);
            }
        }
        Ok(out)
    }
}

fn calls_key(mailbox: &str, day: NaiveDate) -> Vec<u8> {
    key("calls", &format!("{mailbox}\0{}", day.format("%Y-%m-%d")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_judgement_is_kept_once_per_thread_and_only_a_yes_joins() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        assert_eq!(store.join_judged("new").unwrap(), None);
        store
            .record_join("new", "old", false, "another pilot", 5)
            .unwrap();
        assert!(
            store.join_judged("new").unwrap().is_some(),
            "judged: not asked again"
        );
        assert_eq!(store.join_of("new").unwrap(), None);
        store
            .record_join("new", "old", true, "the PO we quoted", 6)
            .unwrap();
        assert_eq!(
            store.join_of("new").unwrap(),
            Some(("old".to_string(), "the PO we quoted".to_string()))
        );
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(store.join_calls("alice", d).unwrap(), 0);
        store.add_join_call("alice", d).unwrap();
        store.add_join_call("alice", d).unwrap();
        assert_eq!(store.join_calls("alice", d).unwrap(), 2);
        assert_eq!(store.join_calls("bob", d).unwrap(), 0);
    }
}
