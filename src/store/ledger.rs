//! The draft ledger (what became of every draft tend wanted to write: appended or vetoed, never
//! written again) and the draft failures (a finding whose draft failed for a reason of its own,
//! with a count and when to try again). Both are keyed by the draft's Message-ID; an index by
//! (mailbox, trigger) finds a ledger entry whatever formula named its draft, so a store from an
//! older tend keeps its drafts. It does not decide when to retry; `daemon::attend` does.
//!
//! Beside them, the lifecycle of each draft we appended ([`DraftCopy`]: where the server stored
//! it, what became of it) and the last look at Drafts ([`DraftsView`]: which threads hold a
//! draft, and whether it is ours unmodified), which `status` reads without a connection.

use super::{json, key, Store};
use crate::imap::Placed;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One draft we appended, as the server stored it, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DraftCopy {
    pub mailbox: String,
    pub thread_id: String,
    pub trigger: String,
    pub placed: Placed,
    /// The words we wrote (the model's body), to compare with what the user sent.
    pub body: String,
    /// Unix seconds of the APPEND.
    pub at: i64,
    pub status: CopyStatus,
    /// What the user did about the trigger, once a reply of ours appeared (or the draft went).
    #[serde(default)]
    pub fate: Option<Fate>,
}

/// Where our draft is now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CopyStatus {
    /// In Drafts, unmodified, at the recorded UID.
    InDrafts,
    /// Removed by us: a newer draft of ours replaced it.
    Replaced { at: i64 },
    /// Removed by us: the thread was answered without it.
    RemovedAnswered { at: i64 },
    /// Flagged `\Deleted` by us but not expunged: the server has no UIDPLUS.
    FlaggedDeleted { at: i64 },
    /// Gone from Drafts by the user's hand (sent, deleted, or replaced by an edited copy).
    GoneByUser { at: i64 },
    /// Left where it was recorded: its folder is no longer the Drafts folder (a changed
    /// `[folders] drafts`), so tend refused to remove it and never touches it again.
    Stranded { at: i64 },
}

impl CopyStatus {
    /// Still ours to remove (or to leave standing for its finding)?
    pub fn in_drafts(&self) -> bool {
        matches!(self, CopyStatus::InDrafts)
    }
}

/// What became of a draft of ours, judged when a reply of ours appears in its thread after its
/// trigger (or when it went with no reply).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Fate {
    /// Sent with (nearly) our words: similarity at least [`AS_WRITTEN`].
    SentAsWritten { similarity: f64 },
    /// Sent after edits: the reply shares our words in part.
    SentAfterEdits { similarity: f64 },
    /// Answered in other words.
    AnsweredWithout { similarity: f64 },
    /// The draft left Drafts and no reply came (yet: a reply later still decides).
    DeletedUnanswered,
}

/// Similarity from which a reply counts as our draft sent as written.
pub const AS_WRITTEN: f64 = 0.9;
/// Similarity below which a reply counts as written without our draft.
pub const WITHOUT: f64 = 0.3;

impl Fate {
    /// The fate of a draft whose thread got a reply sharing `similarity` of its word bigrams.
    pub fn of_reply(similarity: f64) -> Fate {
        if similarity >= AS_WRITTEN {
            Fate::SentAsWritten { similarity }
        } else if similarity >= WITHOUT {
            Fate::SentAfterEdits { similarity }
        } else {
            Fate::AnsweredWithout { similarity }
        }
    }
}

impl std::fmt::Display for Fate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fate::SentAsWritten { similarity } => {
                write!(f, "sent as written (similarity {similarity:.2})")
            }
            Fate::SentAfterEdits { similarity } => {
                write!(f, "sent after edits (similarity {similarity:.2})")
            }
            Fate::AnsweredWithout { similarity } => {
                write!(f, "answered without it (similarity {similarity:.2})")
            }
            Fate::DeletedUnanswered => write!(f, "deleted unanswered"),
        }
    }
}

/// Dice coefficient on word bigrams (lowercased words, punctuation dropped): 1.0 for the same
/// words in the same order, 0.0 for nothing in common.
pub fn similarity(ours: &str, theirs: &str) -> f64 {
    fn bigrams(text: &str) -> BTreeMap<(String, String), u32> {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        let mut out = BTreeMap::new();
        for pair in words.windows(2) {
            *out.entry((pair[0].clone(), pair[1].clone())).or_insert(0) += 1;
        }
        out
    }
    let (a, b) = (bigrams(ours), bigrams(theirs));
    let total: u32 = a.values().sum::<u32>() + b.values().sum::<u32>();
    if total == 0 {
        return 0.0;
    }
    let common: u32 = a
        .iter()
        .map(|(k, n)| (*n).min(b.get(k).copied().unwrap_or(0)))
        .sum();
    2.0 * common as f64 / total as f64
}

/// The last look at Drafts: per thread, the drafts it holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DraftsView {
    pub uidvalidity: u32,
    pub threads: BTreeMap<String, Vec<SeenDraft>>,
}

/// One draft in Drafts that threads to a stored thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeenDraft {
    pub uid: u32,
    /// Our draft's Message-ID when this is our unmodified draft (its recorded UID); `None`: the
    /// user's own draft, or ours edited (a new UID).
    pub ours: Option<String>,
}

impl DraftsView {
    /// Does `thread` hold a draft that is not ours unmodified (the user's, or ours edited)?
    pub fn holds_other(&self, thread: &str) -> bool {
        self.threads
            .get(thread)
            .is_some_and(|d| d.iter().any(|s| s.ours.is_none()))
    }
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

impl Store {
    /// Records (or updates) the lifecycle of a draft we appended; durable before returning.
    pub fn record_copy(&self, draft_id: &str, copy: &DraftCopy) -> Result<()> {
        self.copies
            .insert(key(&copy.mailbox, draft_id), json(copy))
            .context("writing the draft copies")?;
        self.flush()
    }

    /// The lifecycle of one draft of ours.
    pub fn copy(&self, mailbox: &str, draft_id: &str) -> Result<Option<DraftCopy>> {
        let v = self
            .copies
            .get(key(mailbox, draft_id))
            .context("reading the draft copies")?;
        Ok(v.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// Every draft of ours in `mailbox`, with its Message-ID.
    pub fn copies(&self, mailbox: &str) -> Result<Vec<(String, DraftCopy)>> {
        let prefix = key(mailbox, "");
        let mut out = Vec::new();
        for item in self.copies.scan_prefix(&prefix) {
            let (k, v) = item.context("scanning the draft copies")?;
            let id = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            if let Ok(c) = serde_json::from_slice::<DraftCopy>(&v) {
                out.push((id, c));
            }
        }
        Ok(out)
    }

    /// Saves the last look at Drafts for `mailbox`.
    pub fn set_drafts_view(&self, mailbox: &str, view: &DraftsView) -> Result<()> {
        self.drafts_seen
            .insert(mailbox, json(view))
            .context("writing the drafts view")?;
        Ok(())
    }

    /// The last look at Drafts for `mailbox` (empty before the first).
    pub fn drafts_view(&self, mailbox: &str) -> Result<DraftsView> {
        let v = self
            .drafts_seen
            .get(mailbox)
            .context("reading the drafts view")?;
        Ok(v.and_then(|v| serde_json::from_slice(&v).ok())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dice_on_word_bigrams_tells_sent_as_written_from_edited_from_other_words() {
        let ours = "Hi Bob, the 50-seat plan is 9,000 a year. I can send the order form today.";
        assert!((similarity(ours, ours) - 1.0).abs() < 1e-9);
        let edited =
            "Hi Bob, the 50-seat plan is 8,500 a year for you. I can send the order form tomorrow.";
        let s = similarity(ours, edited);
        assert!(
            matches!(Fate::of_reply(s), Fate::SentAfterEdits { .. }),
            "{s}"
        );
        let other = "Let us talk on the phone on Monday.";
        assert!(matches!(
            Fate::of_reply(similarity(ours, other)),
            Fate::AnsweredWithout { .. }
        ));
        assert_eq!(similarity("", ""), 0.0);
    }

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
