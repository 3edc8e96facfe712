//! Sync: fetch what is new in INBOX and Sent, parse it and store it, moving a folder's cursor
//! only after its messages are stored. A worker thread parses and stores one batch while the
//! next is fetched. It does not judge threads or draft; that is `attend`.

use super::SyncReport;
use crate::config::MailboxConfig;
use crate::imap::{self, Fetched, FolderNames, FolderState, Session};
use crate::parse::{self, Email};
use crate::store::{Cursor, Store};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::io::IsTerminal;
use tokio_util::sync::CancellationToken;

/// Largest part of one message fetched; attachments beyond it are cut, text survives.
const FETCH_CAP: u32 = 2 * 1024 * 1024;
/// At most this many messages, and this many bytes, are held in memory per fetch.
const BATCH_COUNT: usize = 250;
const BATCH_BYTES: u64 = 32 * 1024 * 1024;

/// Fetches what is new in INBOX and Sent and stores it. On `shutdown` it stops between
/// batches: what was stored stays stored and the cursors say how far it got.
pub async fn sync(
    mb: &MailboxConfig,
    store: &Store,
    session: &mut Session,
    folders: &FolderNames,
    shutdown: &CancellationToken,
) -> Result<SyncReport> {
    let mut report = SyncReport::default();
    for folder in std::iter::once(&folders.inbox).chain(folders.sent.as_ref()) {
        if shutdown.is_cancelled() {
            break;
        }
        sync_folder(mb, store, session, folder, &mut report, shutdown)
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
    shutdown: &CancellationToken,
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
    // Every UID below UIDNEXT existed when the folder was opened and is fetched below (or was
    // expunged), so once they are stored the cursor may move to UIDNEXT - 1 even when the last
    // messages were deleted: otherwise `behind` would see new mail forever.
    let floor = Cursor {
        uidvalidity: state.uidvalidity,
        last_uid: state.uid_next.map_or(0, |n| n.saturating_sub(1)),
    };
    let advance = |store: &Store| -> Result<()> {
        match store.cursor(&mb.name, folder)? {
            Some(c) if c.uidvalidity == floor.uidvalidity && c.last_uid >= floor.last_uid => {}
            _ => store.set_cursor(&mb.name, folder, floor)?,
        }
        Ok(())
    };
    if state.exists == 0
        || state
            .uid_next
            .is_some_and(|next| next <= last.saturating_add(1))
    {
        return advance(store);
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
    let mut complete = true;
    for batch in imap::batches(&uids, BATCH_COUNT, BATCH_BYTES) {
        if shutdown.is_cancelled() {
            complete = false;
            break;
        }
        // A batch fetch is bounded by four timeouts; storing one takes far less.
        super::health::beat(mb.imap.timeout * 6);
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
    if complete {
        advance(store)?;
    }
    Ok(())
}

/// Does `folder`, as just opened, hold mail the store has not seen? Without UIDNEXT from the
/// server the answer is no: IDLE or the next poll will find it.
pub(super) fn behind(
    mb: &MailboxConfig,
    store: &Store,
    folder: &str,
    state: FolderState,
) -> Result<bool> {
    Ok(match store.cursor(&mb.name, folder)? {
        None => true,
        Some(c) if c.uidvalidity != state.uidvalidity => true,
        Some(c) => state
            .uid_next
            .is_some_and(|n| n > c.last_uid.saturating_add(1)),
    })
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
                email.date = parse::settle_date(email.date, msg.internal_date);
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
