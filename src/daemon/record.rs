//! The sales record from the store: every stored thread of every mailbox, one at a time,
//! through [`record::Builder`], with the stages the model inferred and the user's corrections,
//! and every draft of ours with what became of it. Reading the threads one by one keeps the
//! memory to the record's metadata whatever the size of the mailboxes.
//!
//! It decides nothing about the record itself (`record` does) and computes no numbers
//! (`report`).

use crate::config::Config;
use crate::record::{self, Builder, DraftNote, DraftOutcome, Known, Record};
use crate::store::{CopyStatus, Fate, Store};
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Builds the record of every configured mailbox. `corrections` are the user's stage
/// corrections by Message-ID (any message of a thread), already resolved to changes. With
/// `as_of`, the record as it stood then: later mail and changes are left out.
pub fn build(
    config: &Config,
    store: &Store,
    corrections: &HashMap<String, Vec<record::StageChange>>,
    now: DateTime<Utc>,
    as_of: bool,
) -> Result<Record> {
    let we_wrote_to = |address: &str| {
        config
            .mailboxes
            .iter()
            .any(|mb| store.contact(&mb.name, address).is_ok_and(|c| c.sent > 0))
    };
    // Corrections name a message; the record wants them per thread.
    let mut by_thread: HashMap<String, Vec<record::StageChange>> = HashMap::new();
    for (message_id, changes) in corrections {
        if let Some(thread) = store.thread_of(message_id)? {
            by_thread
                .entry(thread)
                .or_default()
                .extend(changes.iter().cloned());
        }
    }
    let mut builder = Builder::new(
        &config.mailboxes,
        &config.pipeline,
        now.timestamp(),
        &we_wrote_to,
    );
    if as_of {
        builder = builder.as_of_now();
    }
    for mb in &config.mailboxes {
        for id in store.recent_threads(&mb.name, i64::MIN)? {
            let Some(thread) = store.thread(&id)? else {
                continue;
            };
            let known = Known {
                inferred: inferred(store, &thread.id)?,
                corrections: by_thread.remove(&thread.id).unwrap_or_default(),
            };
            builder.add_thread(mb, &thread, known);
        }
        for (_, copy) in store.copies(&mb.name)? {
            builder.add_draft(DraftNote {
                mailbox: mb.name.clone(),
                thread_id: copy.thread_id.clone(),
                at: copy.at,
                outcome: outcome(&copy.status, copy.fate.as_ref()),
            });
        }
    }
    Ok(builder.finish())
}

/// The stages the model inferred for a thread (none before stage inference stored any).
fn inferred(_store: &Store, _thread: &str) -> Result<Vec<record::StageChange>> {
    Ok(Vec::new())
}

/// What the user did with a draft of ours, as the report counts it.
fn outcome(status: &CopyStatus, fate: Option<&Fate>) -> DraftOutcome {
    match fate {
        Some(Fate::SentAsWritten { .. }) => DraftOutcome::SentAsWritten,
        Some(Fate::SentAfterEdits { .. }) => DraftOutcome::SentEdited,
        Some(Fate::AnsweredWithout { .. } | Fate::DeletedUnanswered) => DraftOutcome::Ignored,
        // Replaced by a newer draft of ours: the newer one carries the outcome.
        None if matches!(status, CopyStatus::Replaced { .. }) => DraftOutcome::Replaced,
        None => DraftOutcome::Pending,
    }
}
