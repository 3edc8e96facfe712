//! The only module that knows the order of the stages: sync (imap -> parse -> store), review
//! (store -> detect), attend (draft -> deliver), and the loop of `tend run`. Every other module
//! does one stage and returns; this one decides what happens next, and when a failure in one
//! thread or mailbox must not stop the others.

use crate::config::{Config, MailboxConfig};
use crate::detect::{self, Contact, Finding, Verdict};
use crate::draft::{self, compose, Outcome};
use crate::imap::{self, Fetched, FolderNames, Session};
use crate::llm::{LanguageModel, LlmError};
use crate::parse::{self, Email};
use crate::store::{Cursor, DraftRecord, DraftState, Store};
use crate::thread::Thread;
use crate::{deliver, deliver::Delivery};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::io::IsTerminal;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Largest part of one message fetched; attachments beyond it are cut, text survives.
const FETCH_CAP: u32 = 2 * 1024 * 1024;
/// At most this many messages, and this many bytes, are held in memory per fetch.
const BATCH_COUNT: usize = 250;
const BATCH_BYTES: u64 = 32 * 1024 * 1024;

/// What one sync did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SyncReport {
    pub fetched: usize,
    pub new: usize,
    pub unparseable: usize,
}

/// One thread as `status` and `explain` show it.
#[derive(Debug, Clone)]
pub struct Review {
    pub thread: Thread,
    pub verdict: Verdict,
    /// What happened to the draft for this finding, if anything yet.
    pub draft: Option<DraftState>,
}

/// What a pass did about one finding.
#[derive(Debug)]
pub enum Action {
    /// A draft written to Drafts (or, in a dry run, only composed).
    Drafted {
        draft: draft::Draft,
        delivery: Option<Delivery>,
    },
    /// The model judged no answer is needed.
    Vetoed { thread_id: String, reason: String },
    /// Someone answered while the model was drafting; nothing was written.
    Superseded { thread_id: String },
    /// Drafts already held it: nothing new to do.
    AlreadyThere { thread_id: String },
    /// The model or the server failed; retried on the next pass.
    Failed { thread_id: String, error: String },
}

/// Connects, finds the folders, and says which ones it uses.
pub async fn open(mb: &MailboxConfig) -> Result<(Session, FolderNames)> {
    let mut session = Session::connect(&mb.imap)
        .await
        .with_context(|| format!("connecting to {}", imap::describe(&mb.imap)))?;
    let folders = session.folders(&mb.folders).await?;
    Ok((session, folders))
}

/// Fetches what is new in INBOX and Sent and stores it.
pub async fn sync(
    mb: &MailboxConfig,
    store: &Store,
    session: &mut Session,
    folders: &FolderNames,
) -> Result<SyncReport> {
    let mut report = SyncReport::default();
    for folder in std::iter::once(&folders.inbox).chain(folders.sent.as_ref()) {
        sync_folder(mb, store, session, folder, &mut report)
            .await
            .with_context(|| format!("syncing {folder:?}"))?;
    }
    store.flush()?;
    Ok(report)
}

async fn sync_folder(
    mb: &MailboxConfig,
    store: &Store,
    session: &mut Session,
    folder: &str,
    report: &mut SyncReport,
) -> Result<()> {
    let state = session.examine(folder).await?;
    let last = match store.cursor(&mb.name, folder)? {
        Some(c) if c.uidvalidity == state.uidvalidity => c.last_uid,
        Some(c) => {
            // RFC 3501 2.3.1.1: old UIDs mean nothing now. Re-fetch all; storing by Message-ID
            // makes what we already had a no-op.
            tracing::warn!(
                folder,
                old = c.uidvalidity,
                new = state.uidvalidity,
                "UIDVALIDITY changed; re-syncing the folder"
            );
            0
        }
        None => 0,
    };
    if state.exists == 0
        || state
            .uid_next
            .is_some_and(|next| next <= last.saturating_add(1))
    {
        return Ok(());
    }
    let uids = session.uids_after(last).await?;
    let total = uids.len();
    let progress = std::io::stderr().is_terminal();
    // Fetching waits on the server, parsing and storing on the CPU and the disk: a worker
    // thread files batch N while batch N+1 is fetched. It files batches in order and moves
    // the cursor only after a batch is stored.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Vec<Fetched>, u32)>(2);
    let worker = {
        let (store, mb, folder) = (store.clone(), mb.clone(), folder.to_string());
        let uidvalidity = state.uidvalidity;
        let horizon = horizon(&mb, Utc::now());
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || -> Result<SyncReport> {
            let _in_mailbox = span.enter();
            let mut report = SyncReport::default();
            let mut done = 0;
            while let Some((fetched, last_uid)) = rx.blocking_recv() {
                report.fetched += fetched.len();
                done += fetched.len();
                let emails = parse_batch(&folder, fetched, horizon, &mut report);
                let saved = store.save_all(&mb.name, &mb.identity, &emails)?;
                report.new += saved.iter().filter(|s| s.new).count();
                let cursor = Cursor {
                    uidvalidity,
                    last_uid,
                };
                store.set_cursor(&mb.name, &folder, cursor)?;
                // Durable per batch, so a killed first import resumes where it stopped.
                store.flush()?;
                tracing::debug!(folder, last_uid, stored = emails.len(), "batch stored");
                if progress {
                    eprint!("\r{}: {folder}: {done}/{total} messages", mb.name);
                }
            }
            Ok(report)
        })
    };
    let mut fetching = Ok(());
    for batch in imap::batches(&uids, BATCH_COUNT, BATCH_BYTES) {
        let last_uid = *batch.last().expect("batches are never empty");
        match session.fetch(&batch, FETCH_CAP).await {
            // A closed channel means the worker failed; its error is reported below.
            Ok(fetched) => {
                if tx.send((fetched, last_uid)).await.is_err() {
                    break;
                }
            }
            Err(err) => {
                fetching = Err(err);
                break;
            }
        }
    }
    drop(tx);
    let filed = worker.await.context("the storing thread panicked")??;
    report.fetched += filed.fetched;
    report.new += filed.new;
    report.unparseable += filed.unparseable;
    fetching?;
    if progress && total > 0 {
        eprintln!();
    }
    Ok(())
}

/// Messages older than this (Unix seconds) are never drafted for, so their full text, which
/// only serves to quote a draft's parent, is not kept; their own new words are.
fn horizon(mb: &MailboxConfig, now: DateTime<Utc>) -> i64 {
    let window = mb
        .rules
        .reply_window_days
        .max(mb.rules.followup_window_days) as i64;
    now.timestamp() - (window + 1) * 86_400
}

/// Parses a fetched batch; what does not parse is counted, logged and skipped.
fn parse_batch(
    folder: &str,
    fetched: Vec<Fetched>,
    horizon: i64,
    report: &mut SyncReport,
) -> Vec<Email> {
    let mut emails = Vec::with_capacity(fetched.len());
    for msg in fetched {
        match parse::parse(&msg.raw) {
            Ok(mut email) => {
                email.date = email.date.or(msg.internal_date);
                if email.date.is_none_or(|d| d < horizon) {
                    email.text = String::new();
                }
                emails.push(email);
            }
            Err(err) => {
                report.unparseable += 1;
                tracing::warn!(
                    folder,
                    uid = msg.uid,
                    "skipping a message that does not parse: {err}"
                );
            }
        }
    }
    emails
}

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
    let org = address
        .rsplit_once('@')
        .and_then(|(_, d)| store.contact(&mb.name, &format!("@{d}")).ok())
        .unwrap_or_default();
    Contact {
        received: person.received,
        sent: person.sent,
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
        let outcome = match draft::write(model, mb, &review.thread, finding, now).await {
            Ok(o) => o,
            Err(err) => {
                tracing::warn!(thread = %thread_id, "no draft this time: {err:#}");
                // A model that is down, rate limiting or refusing our key fails every thread
                // alike: stop asking until the next pass instead of hammering it.
                let give_up = matches!(
                    err.downcast_ref::<LlmError>(),
                    Some(
                        LlmError::RateLimited { .. }
                            | LlmError::Unavailable(_)
                            | LlmError::Rejected(_)
                    )
                );
                actions.push(Action::Failed {
                    thread_id,
                    error: format!("{err:#}"),
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
                        sync(mb, store, s, folders).await?;
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

fn drafts_folder(folders: &FolderNames) -> Result<&str> {
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

/// One full pass over one mailbox: sync, review, draft, deliver.
pub async fn pass<M: LanguageModel>(
    mb: &MailboxConfig,
    store: &Store,
    model: &M,
    dry_run: bool,
    shutdown: &CancellationToken,
) -> Result<(SyncReport, Vec<Action>)> {
    let (mut session, folders) = open(mb).await?;
    let report = sync(mb, store, &mut session, &folders).await?;
    let now = Utc::now();
    let actions = if dry_run {
        attend(mb, store, model, None, now, shutdown).await?
    } else {
        drafts_folder(&folders)?;
        attend(
            mb,
            store,
            model,
            Some((&mut session, &folders)),
            now,
            shutdown,
        )
        .await?
    };
    session.logout().await;
    Ok((report, actions))
}

/// The span every log line about one mailbox carries.
pub fn span(mb: &MailboxConfig) -> tracing::Span {
    tracing::info_span!("mailbox", name = %mb.name)
}

/// `tend run`: a pass over every mailbox every poll interval until `shutdown`; `after_round`
/// runs after each round (the CLI leaves a status snapshot with it).
pub async fn run<M: LanguageModel>(
    config: &Config,
    store: &Store,
    model: &M,
    shutdown: CancellationToken,
    after_round: impl Fn(&Store),
) -> Result<()> {
    loop {
        for mb in &config.mailboxes {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            let span = span(mb);
            match pass(mb, store, model, false, &shutdown)
                .instrument(span.clone())
                .await
            {
                Ok((r, actions)) => tracing::info!(parent: &span,
                    fetched = r.fetched,
                    new = r.new,
                    drafts = actions.iter().filter(|a| matches!(a, Action::Drafted { .. })).count(),
                    "pass done"
                ),
                // One mailbox failing must not stop the others; the next pass retries.
                Err(err) => tracing::error!(parent: &span, "pass failed: {err:#}"),
            }
        }
        after_round(store);
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(config.poll_interval) => {}
        }
    }
}
