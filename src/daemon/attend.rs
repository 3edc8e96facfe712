//! Review and attend: judge each recent thread from the store (with what the store knows about
//! its counterparts), then draft for what needs an answer and deliver it, unless Drafts already
//! holds it or someone answered while the model was writing. It does not fetch on its own: it
//! calls `sync` only to look again before delivering.

use super::{sync, Action, Review};
use crate::config::MailboxConfig;
use crate::deliver;
use crate::detect::{self, Contact, Finding, Verdict};
use crate::draft::{self, compose, Outcome};
use crate::imap::{FolderNames, Session};
use crate::llm::{LanguageModel, LlmError};
use crate::store::{DraftRecord, DraftState, Store};
use crate::thread::Thread;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

/// Judges every recent thread of the mailbox from the store alone.
pub fn review(mb: &MailboxConfig, store: &Store, now: DateTime<Utc>) -> Result<Vec<Review>> {
    let window = mb
        .rules
        .reply_window_days
        .max(mb.rules.followup_window_days) as i64;
    let since = now.timestamp() - (window + 1) * 86_400;
    let mut out = Vec::new();
    for id in store.recent_threads(&mb.name, since)? {
        if let Some(thread) = store.thread(&id)? {
            out.push(judge(mb, store, thread, now)?);
        }
    }
    out.sort_by_key(|r| r.thread.messages.last().and_then(|m| m.date));
    Ok(out)
}

/// Judges one thread, for `explain`.
pub fn judge(
    mb: &MailboxConfig,
    store: &Store,
    thread: Thread,
    now: DateTime<Utc>,
) -> Result<Review> {
    let contact = |address: &str| contact(mb, store, address);
    let verdict = detect::assess(&thread, &mb.identity, &mb.rules, mb.timezone, &contact, now);
    let draft = match &verdict {
        Verdict::Attention(f) => deliver::already_handled(store, &draft_id(mb, f))?,
        Verdict::Quiet { .. } => None,
    };
    Ok(Review {
        thread,
        verdict,
        draft,
    })
}

fn contact(mb: &MailboxConfig, store: &Store, address: &str) -> Contact {
    let person = store.contact(&mb.name, address).unwrap_or_default();
    // On a free-mail domain (gmail.com, ...) everyone else at the domain is a stranger.
    let org = address
        .rsplit_once('@')
        .filter(|(_, d)| !crate::config::is_freemail(d))
        .and_then(|(_, d)| store.contact(&mb.name, &format!("@{d}")).ok())
        .unwrap_or_default();
    Contact {
        received: person.received,
        sent: person.sent,
        last_inbound_from_person: person.last_received,
        last_inbound_from_org: org.last_received,
    }
}

/// The deterministic Message-ID of the draft for a finding.
pub fn draft_id(mb: &MailboxConfig, f: &Finding) -> String {
    let domain = mb
        .identity
        .primary()
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    compose::message_id(&mb.name, &f.thread_id, &f.trigger, domain)
}

/// Drafts an answer for every finding not dealt with yet. With `session: None` (a dry run)
/// drafts are composed and returned but nothing is written anywhere.
pub async fn attend<M: LanguageModel>(
    mb: &MailboxConfig,
    store: &Store,
    model: &M,
    mut session: Option<(&mut Session, &FolderNames)>,
    now: DateTime<Utc>,
    shutdown: &CancellationToken,
) -> Result<Vec<Action>> {
    let mut actions = Vec::new();
    for review in review(mb, store, now)? {
        if shutdown.is_cancelled() {
            break;
        }
        let Verdict::Attention(finding) = &review.verdict else {
            continue;
        };
        if review.draft.is_some() {
            continue;
        }
        let id = draft_id(mb, finding);
        let record = |state| DraftRecord {
            mailbox: mb.name.clone(),
            thread_id: finding.thread_id.clone(),
            trigger: finding.trigger.clone(),
            state,
            at: now.timestamp(),
        };
        let thread_id = finding.thread_id.clone();
        // Drafts may hold it already (a lost state directory): look before paying the model.
        if let Some((s, folders)) = session.as_mut() {
            let drafts = drafts_folder(folders)?;
            if deliver::recover(s, drafts, store, &record(DraftState::Appended), &id).await? {
                actions.push(Action::AlreadyThere { thread_id });
                continue;
            }
        }
        // The model may take minutes; shutdown does not wait for it. Nothing is recorded yet,
        // so the draft is written on the next start.
        super::health::beat(model.time_limit() * 2 + mb.imap.timeout * 8);
        let written = tokio::select! {
            r = draft::write(model, mb, &review.thread, finding, now) => r,
            _ = shutdown.cancelled() => break,
        };
        let outcome = match written {
            Ok(o) => o,
            Err(err) => {
                tracing::warn!(thread = %thread_id, "no draft this time: {err:#}");
                // A model that is down, rate limiting or refusing our key fails every thread
                // alike: stop asking until the next pass instead of hammering it.
                let (give_up, retry_after) = match err.downcast_ref::<LlmError>() {
                    Some(LlmError::RateLimited { retry_after }) => (true, *retry_after),
                    Some(LlmError::Unavailable(_) | LlmError::Rejected(_)) => (true, None),
                    _ => (false, None),
                };
                actions.push(Action::Failed {
                    thread_id,
                    error: format!("{err:#}"),
                    retry_after,
                });
                if give_up {
                    break;
                }
                continue;
            }
        };
        match outcome {
            Outcome::Veto { reason } => {
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
                        let rec = record(DraftState::Appended);
                        let drafts = drafts_folder(folders)?;
                        Some(deliver::deliver(s, drafts, store, &rec, &id, &d.raw).await?)
                    }
                };
                tracing::info!(thread = %thread_id, message_id = %d.message_id, ?delivery, "draft ready");
                actions.push(Action::Drafted { draft: d, delivery });
            }
        }
    }
    Ok(actions)
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
    Ok(matches!(judge(mb, store, thread, now)?.verdict,
        Verdict::Attention(f) if f.trigger == finding.trigger && f.kind == finding.kind))
}
