//! The pass step that asks the model whether a new thread continues an open deal of the same
//! company (issue 10: by default each thread is one deal; a new thread the model judges to
//! continue an open deal joins it). For each thread of the review window that is a NEW deal
//! (its first human buyer message is in the window) and was never judged, the company (the
//! buyer's domain; never free mail) is looked up in the store's relationship index of every
//! mailbox sharing the store (a teammate's deal counts: the record is one); the most recent
//! OPEN deal of that company (another thread someone at the company wrote in, begun before this one,
//! its latest human message within [`OPEN_DAYS`], not won or lost by a stage keyword and not
//! gone dark) is the one candidate, and the model is asked once. Every answer is stored, a
//! "no" and an unusable answer too, so the pair is never asked again; a new thread with no
//! open deal to compare, one that began before the window or one from free mail is marked
//! too, so each thread costs the lookup once.
//!
//! The calls are capped per mailbox and day (the mailbox's time zone) at
//! `pipeline.max_stage_calls_per_day`, counted apart from the stage calls in the store's
//! `deal_joins` tree; their tokens go to the mailbox's usage of the day. `--dry-run` makes no
//! call. A model failure that is not about the answer stops the join calls for this pass (and
//! is logged); nothing here stops the pass.
//!
//! It decides no deal itself: the record folds the threads (`record::Builder::finish`), with
//! the user's `tend deal` winning over what the model said.

use crate::config::{MailboxConfig, Outcome, Pipeline};
use crate::draft::join;
use crate::llm::{LanguageModel, LlmError};
use crate::parse::Email;
use crate::record::company_of;
use crate::store::{corrections::Corrections, Decoded, Store, UsageDay};
use crate::thread::Thread;
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// A deal is open for joining while its latest human message is at most this old.
pub const OPEN_DAYS: i64 = 60;
/// The judgement stored for a new thread whose company had no open deal when it came.
const NO_DEAL: &str = "no open deal of the company when the thread began";
/// ... whose first buyer message came before the window: no new deal.
const OLD: &str = "the thread began before the window: an existing deal";
/// ... whose buyer writes from free mail: each person stands alone, no company to join.
const FREE_MAIL: &str = "free mail: no company";
/// Threads of the company looked at, newest first, to find the open deal.
const CANDIDATES: usize = 8;

/// Asks about every new deal of the window that may continue an open one; logs, never fails.
/// The window's threads and the candidates are decoded through `decoded` (the pass's, which
/// `attend` filled with the same threads; every new thread of a company reads the same
/// candidates).
pub async fn judge<M: LanguageModel>(
    mb: &MailboxConfig,
    pipeline: &Pipeline,
    store: &Store,
    model: &M,
    dry_run: bool,
    now: DateTime<Utc>,
    decoded: &Decoded,
) {
    if let Err(err) = judge_all(mb, pipeline, store, model, dry_run, now, decoded).await {
        tracing::warn!("deal joins: stopped for this pass: {err:#}");
    }
}

async fn judge_all<M: LanguageModel>(
    mb: &MailboxConfig,
    pipeline: &Pipeline,
    store: &Store,
    model: &M,
    dry_run: bool,
    now: DateTime<Utc>,
    decoded: &Decoded,
) -> Result<()> {
    let window = mb
        .rules
        .reply_window_days
        .max(mb.rules.followup_window_days) as i64;
    let since = now.timestamp() - (window + 1) * 86_400;
    let day = now.with_timezone(&mb.timezone).date_naive();
    // Won or lost by a stage keyword (the mailbox's own word on a deal).
    let stages = store.user_stages(&Corrections::default())?;
    let ended = |thread: &str| {
        stages
            .get(thread)
            .and_then(|list| list.last())
            .and_then(|c| pipeline.stage(&c.stage))
            .is_some_and(|s| s.outcome.is_some())
    };
    for id in store.recent_threads(&mb.name, since)? {
        if store.join_judged(&id)?.is_some() {
            continue;
        }
        let Some(thread) = store.thread_decoded(&id, decoded)? else {
            continue;
        };
        let Some(first) = buyer_messages(mb, &thread).next() else {
            continue;
        };
        let (Some(opened), Some(from)) = (first.date, first.from.as_ref()) else {
            continue;
        };
        // Neither changes later: such a thread is marked, so later passes skip it at once.
        let settled = if opened < since {
            Some(OLD)
        } else if company_of(&from.email).is_none() {
            Some(FREE_MAIL)
        } else {
            None
        };
        let (None, Some(company)) = (settled, company_of(&from.email)) else {
            if let (Some(why), false) = (settled, dry_run) {
                store.record_join(&thread.id, "", false, why, now.timestamp())?;
            }
            continue;
        };
        let Some(deal) = open_deal(
            mb, pipeline, store, decoded, &thread, &company, opened, now, &ended,
        )?
        else {
            // Remembered, so later passes do not look again: an open deal begun before this
            // thread was synced before it.
            if !dry_run {
                store.record_join(&thread.id, "", false, NO_DEAL, now.timestamp())?;
            }
            continue;
        };
        if dry_run {
            tracing::info!(thread = %thread.id, deal = %deal.id, "dry run: would ask whether the thread continues the deal");
            continue;
        }
        if store.join_calls(&mb.name, day)? >= pipeline.max_stage_calls_per_day {
            tracing::info!(
                "deal joins: the day's {} calls are made; the rest wait for tomorrow",
                pipeline.max_stage_calls_per_day
            );
            return Ok(());
        }
        let deal_texts: Vec<&str> = deal
            .messages
            .iter()
            .filter(|m| human(m))
            .map(|m| m.new_text.as_str())
            .collect();
        let messages = join::request(
            &join::Side {
                subject: deal.messages.first().map_or("", |m| m.subject.as_str()),
                messages: deal_texts,
            },
            &join::Side {
                subject: &first.subject,
                messages: vec![first.new_text.as_str()],
            },
        );
        let schema = join::answer_schema();
        let (answer, used) = crate::llm::counting(model.complete(&messages, Some(&schema))).await;
        store.add_join_call(&mb.name, day)?;
        store.add_usage(
            &mb.name,
            day,
            &UsageDay {
                calls: used.calls,
                input_tokens: used.input_tokens,
                output_tokens: used.output_tokens,
                ..UsageDay::default()
            },
        )?;
        let judgement = match answer {
            Ok(text) => join::interpret(&text),
            Err(err)
                if err
                    .downcast_ref::<LlmError>()
                    .is_some_and(|e| e.is_unusable_answer()) =>
            {
                None
            }
            Err(err) => {
                return Err(err.context("asking the model whether a thread continues a deal"))
            }
        };
        let (continues, reason) = match judgement {
            Some(j) => (j.continues, j.reason),
            None => (false, "the model's answer was unusable".to_string()),
        };
        tracing::info!(thread = %thread.id, deal = %deal.id, continues, "judged whether the thread continues an open deal");
        store.record_join(&thread.id, &deal.id, continues, &reason, now.timestamp())?;
    }
    Ok(())
}

/// A message a person wrote (machine-sent mail and auto-replies are no conversation).
fn human(m: &Email) -> bool {
    m.automated.is_none() && !m.out_of_office
}

/// The thread's human messages from the buyer side, in thread order.
fn buyer_messages<'a>(
    mb: &'a MailboxConfig,
    thread: &'a Thread,
) -> impl Iterator<Item = &'a Email> {
    thread.messages.iter().filter(move |m| {
        human(m)
            && m.from.as_ref().is_some_and(|f| {
                !mb.identity.is_own(&f.email) && !mb.identity.is_internal(&f.email)
            })
    })
}

/// The most recent open deal of `company` other than `thread`, begun before `opened`, among
/// the company's threads of every mailbox sharing the store (a teammate's deal is one too: the
/// record is one for all mailboxes). A candidate's buyer side is whoever writes from the
/// company's domain, which needs no mailbox's identity.
#[allow(clippy::too_many_arguments)]
fn open_deal(
    mb: &MailboxConfig,
    pipeline: &Pipeline,
    store: &Store,
    decoded: &Decoded,
    thread: &Thread,
    company: &str,
    opened: i64,
    now: DateTime<Utc>,
    ended: &dyn Fn(&str) -> bool,
) -> Result<Option<Thread>> {
    let parties = [format!("@{company}")];
    let at_company = |m: &Email| {
        m.from
            .as_ref()
            .is_some_and(|f| company_of(&f.email).as_deref() == Some(company))
    };
    let mut mailboxes = store.synced_mailboxes()?;
    if !mailboxes.contains(&mb.name) {
        mailboxes.push(mb.name.clone());
    }
    let mut latest: BTreeMap<i64, Thread> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for name in &mailboxes {
        for other in store.related_threads(name, &parties, &thread.id, CANDIDATES, decoded)? {
            if !seen.insert(other.id.clone()) {
                continue;
            }
            let Some(began) = other
                .messages
                .iter()
                .filter(|m| human(m) && at_company(m))
                .find_map(|m| m.date)
            else {
                continue;
            };
            let last = other
                .messages
                .iter()
                .filter(|m| human(m))
                .filter_map(|m| m.date.map(|d| (d, m)))
                .max_by_key(|(d, _)| *d);
            let Some((last_at, last)) = last else {
                continue;
            };
            if began >= opened || last_at < now.timestamp() - OPEN_DAYS * 86_400 || ended(&other.id)
            {
                continue;
            }
            // We wrote last and nobody answered for `lost_after_days`: the deal went dark.
            let dark = last_at + i64::from(pipeline.lost_after_days) * 86_400 <= now.timestamp();
            let lost_exists = pipeline
                .stages
                .iter()
                .any(|s| s.outcome == Some(Outcome::Lost));
            if !at_company(last) && dark && lost_exists {
                continue;
            }
            latest.entry(last_at).or_insert(other);
        }
    }
    Ok(latest.pop_last().map(|(_, t)| t))
}

#[cfg(test)]
mod tests;
