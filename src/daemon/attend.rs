//! Attend: draft for each open finding of the review (`review`), newest first, and deliver
//! it, unless Drafts already holds it or someone answered while the model was writing. The newest findings come first; a
//! failure of the model server stops the pass, a failure of one finding is recorded on it with a
//! backoff (or for good, when it cannot heal) and the others go on. It does not fetch on its
//! own: it calls `sync` only to look again before delivering.

use super::{lifecycle, sync, Action};
use crate::config::{MailboxConfig, Pipeline};
use crate::deliver;
use crate::detect::{Finding, Verdict};
use crate::draft::{self, compose, Outcome};
use crate::imap::{FolderNames, Session};
use crate::llm::{LanguageModel, LlmError};
use crate::store::{Decoded, DraftRecord, DraftState, FailureRecord, Store};
use crate::thread::Thread;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

/// A finding whose draft failed for a reason that may heal waits this long, doubling with each
/// failure up to [`FAILURE_BACKOFF_MAX`].
const FAILURE_BACKOFF_FIRST: i64 = 10 * 60;
const FAILURE_BACKOFF_MAX: i64 = 86_400;

/// The deterministic Message-ID of the draft for a finding (see [`compose::message_id`]).
pub fn draft_id(mb: &MailboxConfig, f: &Finding) -> String {
    compose::message_id(mb, &f.trigger)
}

/// The Message-ID tend 0.1 would have given that draft: searched for, never written.
fn legacy_draft_id(mb: &MailboxConfig, f: &Finding) -> String {
    let domain = mb
        .identity
        .primary()
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    compose::legacy_message_id(&mb.name, &f.thread_id, &f.trigger, domain)
}

/// Drafts an answer for every finding not dealt with yet, and stores the deal's stage each
/// answer named (`stages::record`). With `session: None` (a dry run) drafts are composed and
/// returned but nothing is written anywhere. The window's threads and each draft's related
/// threads are decoded through `decoded`: drafts to one company read the same threads (see
/// `store::Decoded`), and the pass's joins read them again.
#[allow(clippy::too_many_arguments)]
pub async fn attend<M: LanguageModel>(
    mb: &MailboxConfig,
    pipeline: &Pipeline,
    store: &Store,
    model: &M,
    mut session: Option<(&mut Session, &FolderNames)>,
    now: DateTime<Utc>,
    shutdown: &CancellationToken,
    decoded: &Decoded,
) -> Result<Vec<Action>> {
    // Ours and no longer wanted (replaced, or answered by hand) goes first, so a thread
    // answered while tend was down loses our draft before anything else happens.
    let mut actions = lifecycle::tidy(
        mb,
        store,
        session.as_mut().map(|(s, f)| (&mut **s, *f)),
        now.timestamp(),
    )
    .await?;
    let mut budget = mb
        .rules
        .max_drafts_per_day
        .saturating_sub(lifecycle::drafted_today(mb, store, now)?);
    // Decoded once a pass (up to 500 of our messages, a megabyte of JSON), not once per
    // finding, and only by a pass that drafts: most passes find nothing new to write.
    let mut voice: Option<std::sync::Arc<crate::voice::Voice>> = None;
    let pipeline = std::sync::Arc::new(pipeline.clone());
    // What the re-judging of a thread read whole needs; read when the first one is.
    let mut known: Option<lifecycle::Known> = None;
    let ts = now.timestamp();
    for head in super::review::open_findings(mb, store, now)? {
        if shutdown.is_cancelled() {
            break;
        }
        if retry_pending(&head, ts) {
            continue;
        }
        // Past the day's drafts nothing is paid for or written, so the thread is not read
        // whole and Drafts is not searched for it: both come before the model on a day with
        // drafts left. Searching first cost two IMAP searches per waiting finding in every
        // pass (at 200,000 messages with 1,958 findings waiting, half the CPU of a pass that
        // found nothing new).
        if budget == 0 {
            let thread_id = head.thread.id.clone();
            // Except where the thread holds a draft not known as ours: it may be ours with its
            // ledger entry lost (a crash between the APPEND and the ledger write, a lost state
            // directory, an older tend's id). It is adopted now, as before: once the buyer
            // writes again the ids change, and it would pass for the user's for good.
            if let (true, Verdict::Attention(f), Some((s, folders))) =
                (head.hands_off, &head.verdict, session.as_mut())
            {
                let ids = [draft_id(mb, f), legacy_draft_id(mb, f)];
                if let Some(adopted) = adopt(mb, store, s, folders, f, &ids, ts).await? {
                    actions.extend(adopted);
                    continue;
                }
            }
            actions.push(if head.hands_off {
                Action::HandsOff { thread_id }
            } else {
                Action::Waiting { thread_id }
            });
            continue;
        }
        let known = match &mut known {
            Some(k) => &*k,
            None => known.insert(lifecycle::Known::read(mb, store)?),
        };
        let Some(review) = super::review::whole(mb, store, now, decoded, known, head)? else {
            continue;
        };
        let Verdict::Attention(finding) = &review.verdict else {
            continue;
        };
        // Judged again when it changed since: its failure may be another's now.
        if retry_pending(&review, ts) {
            continue;
        }
        let id = draft_id(mb, finding);
        let record = |state| draft_record(mb, finding, state, ts);
        let thread_id = finding.thread_id.clone();
        let dry_run = session.is_none();
        let fail = |error: String, heals: bool| -> Result<Action> {
            let failure = failed(review.failure.as_ref(), mb, finding, error, heals, ts);
            tracing::warn!(thread = %thread_id, failures = failure.count,
                retry_at = ?failure.retry_at, "no draft: {}", failure.error);
            if !dry_run {
                store.record_failure(&id, &failure)?;
            }
            Ok(Action::Failed {
                thread_id: thread_id.clone(),
                failure,
            })
        };
        // Who it would go to is known without the model: no recipient, no model bill.
        if let Some(error) = unaddressable(mb, &review.thread, finding) {
            actions.push(fail(error, false)?);
            continue;
        }
        // Drafts may hold it already: look before paying the model.
        let ids = [id.clone(), legacy_draft_id(mb, finding)];
        if let Some((s, folders)) = session.as_mut() {
            if let Some(adopted) = adopt(mb, store, s, folders, finding, &ids, ts).await? {
                actions.extend(adopted);
                continue;
            }
        }
        // A draft of the user's (or ours, edited) in the thread is theirs: none of ours beside it.
        // Looked at after the search above, which adopts our own draft after a lost state.
        if store.drafts_view(&mb.name)?.holds_other(&review.thread.id) {
            actions.push(Action::HandsOff {
                thread_id: review.thread.id.clone(),
            });
            continue;
        }
        // The model may take minutes; shutdown does not wait for it. Nothing is recorded yet,
        // so the draft is written on the next start.
        super::health::beat(model.time_limit() * 2 + mb.imap.timeout * 8);
        let shared = match &voice {
            Some(v) => v.clone(),
            None => voice
                .insert(std::sync::Arc::new(
                    store.voice(&mb.name)?.unwrap_or_default(),
                ))
                .clone(),
        };
        let grounding = draft::memory::grounding(
            store,
            mb,
            &review.thread,
            finding,
            shared,
            pipeline.clone(),
            decoded,
        )?;
        let (written, used) = tokio::select! {
            r = crate::llm::counting(draft::write_with(model, mb, &review.thread, finding, &grounding, now)) => r,
            _ = shutdown.cancelled() => break,
        };
        if !dry_run {
            record_usage(store, mb, &id, now, &written, used)?;
        }
        crate::metrics::with(|m| m.model_used(&mb.name, &used, written.as_ref().err()));
        let outcome = match written {
            Ok(o) => o,
            Err(err) => match err.downcast_ref::<LlmError>() {
                // Down, rate limiting, refusing our key or model: every thread would fail
                // alike, so stop asking until the next pass instead of hammering it.
                Some(kind) if kind.for_everyone() => {
                    tracing::warn!(thread = %thread_id, "no draft this time: {err:#}");
                    let retry_after = match kind {
                        LlmError::RateLimited { retry_after } => *retry_after,
                        _ => None,
                    };
                    actions.push(Action::ModelDown {
                        thread_id,
                        error: format!("{err:#}"),
                        retry_after,
                    });
                    break;
                }
                // This request: rejected (too long, content policy), timed out, a 500. May
                // heal (a restarted server, a bigger context), so it is tried again later.
                Some(LlmError::Rejected(_) | LlmError::Failed(_)) => {
                    actions.push(fail(format!("{err:#}"), true)?);
                    continue;
                }
                // An answer unusable twice, or a draft that cannot be composed: the same
                // thread gives the same result, so not paid for again until a new message.
                _ => {
                    actions.push(fail(format!("{err:#}"), false)?);
                    continue;
                }
            },
        };
        // The stage is the answer's, whatever becomes of the draft (answered meanwhile too).
        if !dry_run {
            super::stages::record(store, mb, &review.thread, outcome.stage(), now)?;
        }
        match outcome {
            Outcome::Veto { reason, .. } => {
                if session.is_some() {
                    store.record_draft(
                        &id,
                        &record(DraftState::Vetoed {
                            reason: reason.clone(),
                        }),
                    )?;
                }
                tracing::info!(thread = %thread_id, "the model says no reply is needed: {reason}");
                actions.push(Action::Vetoed { thread_id, reason });
            }
            Outcome::Draft(d) => {
                let delivery = match session.as_mut() {
                    None => None,
                    Some((s, folders)) => {
                        // The model took a while: if someone answered meanwhile, the draft is moot.
                        sync(mb, store, s, folders, shutdown).await?;
                        if shutdown.is_cancelled() {
                            break;
                        }
                        if !still_needed(mb, store, finding, now)? {
                            tracing::info!(thread = %thread_id, "answered while drafting; draft dropped");
                            actions.push(Action::Superseded { thread_id });
                            continue;
                        }
                        if store.drafts_view(&mb.name)?.holds_other(&review.thread.id) {
                            tracing::info!(thread = %thread_id, "a draft of the user's appeared while drafting; ours dropped");
                            actions.push(Action::HandsOff { thread_id });
                            continue;
                        }
                        let rec = record(DraftState::Appended);
                        let drafts = drafts_folder(folders)?;
                        let delivery =
                            deliver::deliver(s, drafts, store, &rec, &ids, &d.raw).await?;
                        if delivery == deliver::Delivery::Appended {
                            budget = budget.saturating_sub(1);
                            crate::metrics::with(|m| m.draft_written(&mb.name));
                            // Test hook: die between the new draft and the old one's removal.
                            #[cfg(debug_assertions)]
                            if std::env::var_os("TEND_TEST_CRASH_BEFORE_REMOVAL").is_some() {
                                std::process::abort();
                            }
                            // The new draft is in: now the older one of ours in the thread goes.
                            actions.extend(
                                lifecycle::tidy(mb, store, Some((&mut **s, *folders)), ts).await?,
                            );
                        }
                        Some(delivery)
                    }
                };
                tracing::info!(thread = %thread_id, message_id = %d.message_id, ?delivery, "draft ready");
                actions.push(Action::Drafted { draft: d, delivery });
            }
        }
    }
    Ok(actions)
}

/// The failure after `before`: one more, and when to try again (never, if it cannot heal).
/// Did this finding's draft fail before, and is it not to be tried again yet?
fn retry_pending(review: &super::Review, ts: i64) -> bool {
    review
        .failure
        .as_ref()
        .is_some_and(|f| f.retry_at.is_none_or(|at| at > ts))
}

/// The ledger entry of the draft for `finding`, decided at `ts`.
fn draft_record(mb: &MailboxConfig, finding: &Finding, state: DraftState, ts: i64) -> DraftRecord {
    DraftRecord {
        mailbox: mb.name.clone(),
        thread_id: finding.thread_id.clone(),
        trigger: finding.trigger.clone(),
        state,
        at: ts,
    }
}

/// Drafts may hold the draft for `finding` already, under one of `ids` (its id, then the
/// legacy one): after a lost state directory, a crash between the APPEND and the ledger
/// write, or as an older tend wrote it. When there it is recorded as ours, and the actions
/// say so; the older draft of ours in the thread that it replaces goes in this pass.
async fn adopt(
    mb: &MailboxConfig,
    store: &Store,
    session: &mut Session,
    folders: &FolderNames,
    finding: &Finding,
    ids: &[String],
    ts: i64,
) -> Result<Option<Vec<Action>>> {
    let record = draft_record(mb, finding, DraftState::Appended, ts);
    if !deliver::recover(session, drafts_folder(folders)?, store, &record, ids).await? {
        return Ok(None);
    }
    let mut actions = vec![Action::AlreadyThere {
        thread_id: finding.thread_id.clone(),
    }];
    actions.extend(lifecycle::tidy(mb, store, Some((session, folders)), ts).await?);
    Ok(Some(actions))
}

fn failed(
    before: Option<&FailureRecord>,
    mb: &MailboxConfig,
    finding: &Finding,
    error: String,
    heals: bool,
    now: i64,
) -> FailureRecord {
    let count = before.map_or(0, |f| f.count).saturating_add(1);
    let backoff = FAILURE_BACKOFF_FIRST
        .saturating_mul(1 << (count - 1).min(16))
        .min(FAILURE_BACKOFF_MAX);
    FailureRecord {
        mailbox: mb.name.clone(),
        trigger: finding.trigger.clone(),
        count,
        error,
        at: now,
        retry_at: heals.then_some(now + backoff),
    }
}

/// Why no draft can be addressed for `finding`, before the model is asked.
fn unaddressable(mb: &MailboxConfig, thread: &Thread, finding: &Finding) -> Option<String> {
    // A trigger missing from its thread is reported by `draft::write`.
    match compose::addressees(thread, finding, mb) {
        Err(err) if err.downcast_ref::<compose::NoRecipient>().is_some() => {
            Some(format!("{err:#}"))
        }
        _ => None,
    }
}

pub(super) fn drafts_folder(folders: &FolderNames) -> Result<&str> {
    folders
        .drafts
        .as_deref()
        .context("no Drafts folder found: set [folders] drafts in the mailbox file")
}

/// Does the thread still need the draft for `finding`, judged on what the store holds now?
fn still_needed(
    mb: &MailboxConfig,
    store: &Store,
    finding: &Finding,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some(thread_id) = store.thread_of(&finding.trigger)? else {
        return Ok(false);
    };
    let Some(thread) = store.thread(&thread_id)? else {
        return Ok(false);
    };
    Ok(
        matches!(super::review::judge(mb, store, thread, now)?.verdict,
        Verdict::Attention(f) if f.trigger == finding.trigger && f.kind == finding.kind),
    )
}

/// Adds what this draft cost (every answer, a failed one too) to the mailbox's day and to the
/// draft's own record.
fn record_usage(
    store: &Store,
    mb: &MailboxConfig,
    draft_id: &str,
    now: DateTime<Utc>,
    written: &Result<Outcome>,
    used: crate::llm::Usage,
) -> Result<()> {
    let day = now.with_timezone(&mb.timezone).date_naive();
    let counts = crate::store::UsageDay {
        drafts: u32::from(matches!(written, Ok(Outcome::Draft(_)))),
        vetoes: u32::from(matches!(written, Ok(Outcome::Veto { .. }))),
        calls: used.calls,
        input_tokens: used.input_tokens,
        output_tokens: used.output_tokens,
    };
    store.add_usage(&mb.name, day, &counts)?;
    store.add_draft_usage(draft_id, &counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Kind;
    use crate::draft::test_support::{finding, mailbox};

    #[test]
    fn a_failure_that_may_heal_backs_off_from_10_minutes_doubling_to_a_day() {
        let (mb, f) = (mailbox(), finding("q@buyer", Kind::Reply));
        let mut last = None;
        let mut waits = Vec::new();
        for _ in 0..12 {
            let next = failed(last.as_ref(), &mb, &f, "HTTP 400".into(), true, 1_000);
            waits.push(next.retry_at.unwrap() - 1_000);
            last = Some(next);
        }
        assert_eq!(&waits[..4], [600, 1200, 2400, 4800]);
        assert_eq!(*waits.last().unwrap(), 86_400);
        assert_eq!(last.unwrap().count, 12);
        let never = failed(None, &mb, &f, "no recipient".into(), false, 1_000);
        assert_eq!((never.count, never.retry_at), (1, None));
    }
}
