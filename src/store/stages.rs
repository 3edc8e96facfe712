//! The sales stages the model inferred for each thread: the history of changes (`stages` tree,
//! thread id -> JSON `Vec<record::StageChange>`), the buyer message a stage was last inferred
//! for (`stage_seen`, so a stage-only call is made once per new buyer message) and the count
//! of stage-only calls per mailbox and day (`stage_calls`, the daily cap). What only tend knows:
//! a format migration keeps these trees, and a thread merge moves a thread's history and mark
//! into the thread that absorbed it (`merge`).
//!
//! It does not infer anything (`draft::stage`), decide when to ask (`daemon::stages`), nor hold
//! the user's corrections, which are kept apart so that a correction always wins.

use super::{json, key, Store};
use crate::record::StageChange;
use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The buyer message of a thread a stage was last inferred for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageSeen {
    pub message_id: String,
    /// Its Date (Unix seconds), to tell which of two marks is later when threads merge.
    pub at: Option<i64>,
    /// The date of the thread's newest message when it was last looked at: a thread with
    /// nothing newer is not read again for a stage.
    #[serde(default)]
    pub through: Option<i64>,
}

fn day_key(mailbox: &str, day: NaiveDate) -> Vec<u8> {
    key(mailbox, &day.format("%Y-%m-%d").to_string())
}

/// `history` with `change` added, and whether that changed it. The same stage as the last one
/// is no change; a change from the message that caused the last one replaces it (re-inferring
/// from one message never doubles), and is dropped when it then repeats the one before; one
/// from a message of an earlier change is stale and ignored, so later history is never
/// rewritten by it.
pub(super) fn added(
    mut history: Vec<StageChange>,
    change: StageChange,
) -> (Vec<StageChange>, bool) {
    let same_message =
        |c: &StageChange| c.message_id.is_some() && c.message_id == change.message_id;
    match history.last() {
        Some(last) if same_message(last) => {
            if last.stage == change.stage {
                return (history, false);
            }
            history.pop();
            if history.last().is_none_or(|c| c.stage != change.stage) {
                history.push(change);
            }
            (history, true)
        }
        _ if history.iter().any(same_message) => (history, false),
        Some(last) if last.stage == change.stage => (history, false),
        _ => {
            history.push(change);
            (history, true)
        }
    }
}

/// The histories of two merged threads as one: in order of `at`, one change per message, and
/// a stage repeated right after itself dropped.
pub(super) fn merged(a: Vec<StageChange>, b: Vec<StageChange>) -> Vec<StageChange> {
    let mut all: Vec<StageChange> = a.into_iter().chain(b).collect();
    all.sort_by_key(|c| c.at);
    let mut out: Vec<StageChange> = Vec::with_capacity(all.len());
    for c in all {
        let dup = c.message_id.is_some() && out.iter().any(|o| o.message_id == c.message_id);
        if dup || out.last().is_some_and(|o| o.stage == c.stage) {
            continue;
        }
        out.push(c);
    }
    out
}

/// The later of two marks (an undated one loses to a dated one), looked at through the later
/// of their dates.
pub(super) fn later(a: StageSeen, b: StageSeen) -> StageSeen {
    let through = a.through.max(b.through);
    let mark = if b.at > a.at { b } else { a };
    StageSeen { through, ..mark }
}

/// A stored history; an undecodable one reads as empty (it is re-inferred, not fatal).
pub(super) fn decode_history(v: Option<&[u8]>) -> Vec<StageChange> {
    v.and_then(|v| serde_json::from_slice(v).ok())
        .unwrap_or_default()
}

pub(super) fn decode_seen(v: Option<&[u8]>) -> Option<StageSeen> {
    v.and_then(|v| serde_json::from_slice(v).ok())
}

pub(super) fn encode_history(h: &[StageChange]) -> Vec<u8> {
    json(&h)
}

pub(super) fn encode_seen(s: &StageSeen) -> Vec<u8> {
    json(s)
}

impl Store {
    /// The stages the model inferred for the thread (or the thread it was merged into), in
    /// the order they were stored; empty when none.
    pub fn stage_history(&self, thread_id: &str) -> Result<Vec<StageChange>> {
        let thread_id = self.follow(thread_id)?;
        let v = self
            .stages
            .get(thread_id.as_bytes())
            .context("reading a thread's stage history")?;
        Ok(decode_history(v.as_deref()))
    }

    /// Adds an inferred stage change to the thread's history (see [`added`] for when it is no
    /// change); true when the history changed.
    pub fn add_stage(&self, thread_id: &str, change: StageChange) -> Result<bool> {
        let thread_id = self.follow(thread_id)?;
        let mut changed = false;
        self.stages
            .update_and_fetch(thread_id.as_bytes(), |old| {
                // Called again on a concurrent write: `changed` is the last call's verdict.
                let (history, c) = added(decode_history(old), change.clone());
                changed = c;
                Some(encode_history(&history))
            })
            .context("writing a thread's stage history")?;
        Ok(changed)
    }

    /// The buyer message of the thread a stage was last inferred for.
    pub fn stage_seen(&self, thread_id: &str) -> Result<Option<StageSeen>> {
        let thread_id = self.follow(thread_id)?;
        let v = self
            .stage_seen
            .get(thread_id.as_bytes())
            .context("reading a thread's stage mark")?;
        Ok(decode_seen(v.as_deref()))
    }

    /// Records that a stage was inferred for `seen` (the answer may have named none).
    pub fn set_stage_seen(&self, thread_id: &str, seen: &StageSeen) -> Result<()> {
        let thread_id = self.follow(thread_id)?;
        self.stage_seen
            .insert(thread_id.as_bytes(), encode_seen(seen))
            .context("writing a thread's stage mark")?;
        Ok(())
    }

    /// Stage-only model calls `mailbox` made on `day` (its own time zone's day).
    pub fn stage_calls(&self, mailbox: &str, day: NaiveDate) -> Result<u32> {
        super::usage::count(&self.stage_calls, day_key(mailbox, day), "stage calls")
    }

    /// Counts one more stage-only call for `mailbox` on `day`.
    pub fn add_stage_call(&self, mailbox: &str, day: NaiveDate) -> Result<()> {
        super::usage::bump(&self.stage_calls, day_key(mailbox, day), "stage calls")
    }
}

#[cfg(test)]
mod tests;
