//! The draft ledger (what became of every draft tend wanted to write: appended or vetoed, never
//! written again) and the draft failures (a finding whose draft failed for a reason of its own,
//! with a count and when to try again). Both are keyed by the draft's Message-ID; an index by
//! (mailbox, trigger) finds a ledger entry whatever formula named its draft, so a store from an
//! older tend keeps its drafts. It does not decide when to retry; `daemon::attend` does.

use super::{json, key, Store};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

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

/// A finding whose draft failed for reasons of its own (the model rejected this thread, timed out
/// on it, answered it unusably; no recipient), keyed by the draft's Message-ID like the ledger.
/// A success removes it. Kept apart from the ledger: a failure is not "dealt with".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub mailbox: String,
    pub trigger: String,
    /// Failures so far.
    pub count: u32,
    /// The last one, as logged.
    pub error: String,
    /// Unix seconds of the last failure.
    pub at: i64,
    /// Not tried again before this (Unix seconds); `None`: never, for this trigger (it cannot
    /// heal; a new message in the thread is a new trigger and a new draft identity).
    pub retry_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DraftState {
    /// The draft is (or was: the user may have deleted it) in Drafts. Never written again.
    Appended,
    /// The model judged that no answer is needed; its reason is kept for `explain`.
    Vetoed { reason: String },
}

impl Store {
    /// A store from before the trigger index gets one, from the records themselves.
    pub(super) fn index_ledger(&self) -> Result<()> {
        if !self.ledger_triggers.is_empty() || self.ledger.is_empty() {
            return Ok(());
        }
        for item in self.ledger.iter() {
            let (id, v) = item.context("scanning the draft ledger")?;
            if let Ok(r) = serde_json::from_slice::<DraftRecord>(&v) {
                self.ledger_triggers
                    .insert(key(&r.mailbox, &r.trigger), id)
                    .context("indexing the draft ledger")?;
            }
        }
        Ok(())
    }

    /// The ledger entry of a draft Message-ID.
    pub fn draft(&self, draft_id: &str) -> Result<Option<DraftRecord>> {
        let v = self
            .ledger
            .get(draft_id)
            .context("reading the draft ledger")?;
        Ok(v.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// The ledger entry for `trigger` in `mailbox`, under whatever id it was recorded.
    pub fn draft_for_trigger(&self, mailbox: &str, trigger: &str) -> Result<Option<DraftRecord>> {
        let id = self
            .ledger_triggers
            .get(key(mailbox, trigger))
            .context("reading the draft ledger index")?;
        match id {
            Some(id) => self.draft(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// Records what happened to a draft (a failure recorded for it is over), and makes it
    /// durable before returning.
    pub fn record_draft(&self, draft_id: &str, record: &DraftRecord) -> Result<()> {
        self.ledger
            .insert(draft_id, json(record))
            .context("writing the draft ledger")?;
        self.ledger_triggers
            .insert(key(&record.mailbox, &record.trigger), draft_id.as_bytes())
            .context("writing the draft ledger index")?;
        self.failures
            .remove(draft_id)
            .context("clearing a draft failure")?;
        self.flush()
    }

    /// The failure recorded for a draft, if any.
    pub fn failure(&self, draft_id: &str) -> Result<Option<FailureRecord>> {
        let v = self
            .failures
            .get(draft_id)
            .context("reading the draft failures")?;
        Ok(v.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// Records a failure of a draft (replacing the one before, whose count it carries on).
    pub fn record_failure(&self, draft_id: &str, record: &FailureRecord) -> Result<()> {
        self.failures
            .insert(draft_id, json(record))
            .context("writing the draft failures")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_from_before_the_trigger_index_is_indexed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let rec = DraftRecord {
            mailbox: "m".into(),
            thread_id: "t".into(),
            trigger: "q@buyer".into(),
            state: DraftState::Appended,
            at: 1,
        };
        {
            let store = Store::open(dir.path(), 0).unwrap();
            store.record_draft("tend.old@acme.test", &rec).unwrap();
            // What an older tend left: the ledger without its index.
            store.ledger_triggers.clear().unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(dir.path(), 0).unwrap();
        assert_eq!(store.draft_for_trigger("m", "q@buyer").unwrap(), Some(rec));
        assert_eq!(store.draft_for_trigger("other", "q@buyer").unwrap(), None);
    }

    #[test]
    fn a_recorded_draft_ends_its_failure() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        let failure = FailureRecord {
            mailbox: "m".into(),
            trigger: "q".into(),
            count: 2,
            error: "HTTP 400".into(),
            at: 5,
            retry_at: Some(1205),
        };
        store.record_failure("d@x", &failure).unwrap();
        assert_eq!(store.failure("d@x").unwrap(), Some(failure));
        let rec = DraftRecord {
            mailbox: "m".into(),
            thread_id: "t".into(),
            trigger: "q".into(),
            state: DraftState::Appended,
            at: 9,
        };
        store.record_draft("d@x", &rec).unwrap();
        assert_eq!(store.failure("d@x").unwrap(), None);
    }
}
