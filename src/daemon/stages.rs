//! The pass step after `attend`: a stage-only model call for each thread of the review's window
//! whose latest buyer message no stage was inferred for yet and that got no draft call this
//! pass (a draft's call infers the stage at no extra cost, `attend` stores it through
//! [`record`]). Newest threads first, at most `pipeline.max_stage_calls_per_day` a mailbox and
//! day (its time zone; counted in the store, so a restart does not reset it). A model failure
//! ends the stage calls of this pass and is logged; the drafts are done by then and never wait
//! for it. A request the model refuses (or answers unusably) is not asked again for the same
//! message, so one thread too long for the model does not cost a call every pass. Its tokens count in the mailbox's usage like a draft's.
//!
//! A dry run makes no stage calls: it writes nothing, and a stage that is not stored would be
//! paid for again on every run.

use super::Action;
use crate::config::{MailboxConfig, Pipeline};
use crate::draft::stage::{self, Inferred};
use crate::llm::{LanguageModel, LlmError};
use crate::record::{StageChange, StageSource};
use crate::store::{StageSeen, Store, UsageDay};
use crate::thread::Thread;
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use tokio_util::sync::CancellationToken;

/// What the stage-only step of a pass did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StageReport {
    /// Stage-only calls answered.
    pub asked: u32,
    /// Threads whose stage history changed.
    pub changed: u32,
    /// Threads left for another day by the daily cap.
    pub capped: u32,
    /// Why the calls stopped early, when the model failed.
    pub error: Option<String>,
}

/// Stores what a model call inferred for `thread`: the stage change (see
/// `Store::add_stage`) caused by the thread's latest buyer message ([`stage::cause`]), dated
/// by it, and that message as the one a stage was inferred for, also when the answer named no
/// stage (so it is not asked again). True when the history changed.
pub(super) fn record(
    store: &Store,
    mb: &MailboxConfig,
    thread: &Thread,
    inferred: Option<&Inferred>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some(cause) = stage::cause(thread, mb) else {
        return Ok(false);
    };
    let mut changed = false;
    if let Some(i) = inferred {
        let change = StageChange {
            stage: i.stage.clone(),
            at: cause.date.unwrap_or_else(|| now.timestamp()),
            message_id: Some(cause.message_id.clone()),
            source: StageSource::Inferred,
            evidence: i.evidence.clone(),
        };
        changed = store.add_stage(&thread.id, change)?;
        if changed {
            tracing::info!(thread = %thread.id, stage = %i.stage, "the deal's stage changed");
        }
    }
    let seen = StageSeen {
        message_id: cause.message_id.clone(),
        at: cause.date,
        through: newest(thread),
    };
    store.set_stage_seen(&thread.id, &seen)?;
    Ok(changed)
}

/// The date of the thread's newest dated message.
fn newest(thread: &Thread) -> Option<i64> {
    thread.messages.iter().filter_map(|m| m.date).max()
}

/// Does `thread` have a buyer message newer than the one a stage was last inferred for?
fn unseen(thread: &Thread, mb: &MailboxConfig, seen: Option<&StageSeen>) -> Option<Option<i64>> {
    let latest = thread
        .messages
        .iter()
        .rev()
        .find(|m| stage::is_buyer(m, mb))?;
    match seen {
        Some(s) if s.message_id == latest.message_id || latest.date < s.at => None,
        _ => Some(latest.date),
    }
}

/// The threads `attend` asked the model about this pass (a draft, a veto, a failed answer),
/// or `None` when the model server failed for everyone (then no stage call is made either).
fn asked_by_attend(actions: &[Action]) -> Option<HashSet<&str>> {
    let mut asked = HashSet::new();
    for a in actions {
        match a {
            Action::ModelDown { .. } => return None,
            Action::Drafted { draft, .. } => {
                asked.insert(draft.thread_id.as_str());
            }
            Action::Vetoed { thread_id, .. }
            | Action::Superseded { thread_id }
            | Action::Failed { thread_id, .. } => {
                asked.insert(thread_id.as_str());
            }
            _ => {}
        }
    }
    Some(asked)
}

/// The stage-only step of a pass (see the module comment); failures are logged, never raised:
/// the pass's drafts are done by now.
pub(super) async fn after_attend<M: LanguageModel>(
    mb: &MailboxConfig,
    pipeline: &Pipeline,
    store: &Store,
    model: &M,
    actions: &[Action],
    now: DateTime<Utc>,
    shutdown: &CancellationToken,
) -> StageReport {
    let Some(asked) = asked_by_attend(actions) else {
        return StageReport::default();
    };
    match infer(mb, pipeline, store, model, &asked, now, shutdown).await {
        Ok(report) => {
            if report.asked > 0 || report.capped > 0 {
                tracing::info!(
                    asked = report.asked,
                    changed = report.changed,
                    capped = report.capped,
                    "stages inferred"
                );
            }
            report
        }
        Err(err) => {
            tracing::warn!("no stage calls this pass: {err:#}");
            StageReport {
                error: Some(format!("{err:#}")),
                ..StageReport::default()
            }
        }
    }
}

/// Asks the model for the stage of each thread that needs one, skipping those in `asked`.
pub async fn infer<M: LanguageModel>(
    mb: &MailboxConfig,
    pipeline: &Pipeline,
    store: &Store,
    model: &M,
    asked: &HashSet<&str>,
    now: DateTime<Utc>,
    shutdown: &CancellationToken,
) -> Result<StageReport> {
    let mut report = StageReport::default();
    if pipeline.stages.is_empty() || pipeline.max_stage_calls_per_day == 0 {
        return Ok(report);
    }
    let day = now.with_timezone(&mb.timezone).date_naive();
    let mut left = pipeline
        .max_stage_calls_per_day
        .saturating_sub(store.stage_calls(&mb.name, day)?);
    // Ids and dates only: the window's threads are read again one at a time when asked. A
    // thread with nothing newer than it was looked at is not read at all: the review reads
    // the window on every pass already, this step should not do it twice.
    let mut due: Vec<(Option<i64>, String)> = Vec::new();
    for (latest, id) in store.recent_threads_dated(&mb.name, super::review::since(mb, now))? {
        if asked.contains(id.as_str()) {
            continue;
        }
        let seen = store.stage_seen(&id)?;
        if seen.as_ref().is_some_and(|s| s.through >= Some(latest)) {
            continue;
        }
        // Who wrote when is all `unseen` reads: headers only.
        let Some(thread) = store.thread_heads(&id)? else {
            continue;
        };
        match unseen(&thread, mb, seen.as_ref()) {
            Some(at) => due.push((at, thread.id)),
            // Nothing new from the buyer (our own reply, a machine's): looked at through it.
            // A thread the buyer never wrote in gets a mark naming no message.
            None => {
                let mut mark = seen.unwrap_or(StageSeen {
                    message_id: String::new(),
                    at: None,
                    through: None,
                });
                if mark.through < newest(&thread) {
                    mark.through = newest(&thread);
                    store.set_stage_seen(&thread.id, &mark)?;
                }
            }
        }
    }
    due.sort_by(|a, b| b.cmp(a));
    let schema = stage::schema(pipeline);
    for (_, id) in due {
        if left == 0 {
            report.capped += 1;
            continue;
        }
        if shutdown.is_cancelled() {
            break;
        }
        let Some(thread) = store.thread(&id)? else {
            continue;
        };
        let messages = stage::request(&thread, mb, pipeline);
        super::health::beat(model.time_limit() * 2 + mb.imap.timeout * 8);
        let (answer, used) = tokio::select! {
            r = crate::llm::counting(model.complete(&messages, Some(&schema))) => r,
            _ = shutdown.cancelled() => break,
        };
        let cost = UsageDay {
            calls: used.calls,
            input_tokens: used.input_tokens,
            output_tokens: used.output_tokens,
            ..UsageDay::default()
        };
        store.add_usage(&mb.name, day, &cost)?;
        match answer {
            Ok(text) => {
                store.add_stage_call(&mb.name, day)?;
                left -= 1;
                report.asked += 1;
                let inferred = stage::from_answer(&text, pipeline, &thread);
                if record(store, mb, &thread, inferred.as_ref(), now)? {
                    report.changed += 1;
                }
            }
            Err(err) => {
                tracing::warn!(thread = %id, "the model failed; no more stage calls this pass: {err:#}");
                // Refused for this request (too long, content policy) or answered unusably:
                // the same thread fails alike, so this message is not asked about again (nor
                // paid for on every pass). Down, rate limited, timed out: asked next pass.
                let kind = err.downcast_ref::<LlmError>();
                if kind
                    .is_some_and(|k| matches!(k, LlmError::Rejected(_)) || k.is_unusable_answer())
                {
                    store.add_stage_call(&mb.name, day)?;
                    record(store, mb, &thread, None, now)?;
                }
                report.error = Some(format!("{err:#}"));
                break;
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests;
