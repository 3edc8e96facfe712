//! Sync: fetch what is new in INBOX and Sent ([`fetch`], pipelined), parse it and store it on
//! threads of their own ([`worker`]), moving a folder's cursor only after its messages are
//! stored; then look at Drafts (`drafts::look`). It does not judge threads or draft; that is
//! `attend`.

mod fetch;
mod progress;
mod worker;

pub use progress::so_far;

use super::SyncReport;
use crate::config::MailboxConfig;
use crate::imap::{FolderNames, FolderState, Session};
use crate::store::{Cursor, Store};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use progress::Progress;
use tokio_util::sync::CancellationToken;
use worker::Workers;

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
    if let Some(drafts) = folders.drafts.as_ref().filter(|_| !shutdown.is_cancelled()) {
        super::drafts::look(mb, store, session, drafts, Utc::now().timestamp())
            .await
            .with_context(|| format!("looking at {drafts:?}"))?;
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
    let listed = session.uids_after(last).await?;
    let first = last == 0;
    let progress = Progress::start(&mb.name, folder, report.fetched, listed.len(), first);
    let horizon = horizon(mb, Utc::now());
    let workers = Workers::start(mb, store, folder, state.uidvalidity, horizon, progress);
    let fetching = fetch::fetch_folder(
        session,
        folder,
        &listed,
        &workers,
        shutdown,
        mb.imap.timeout,
    )
    .await;
    let filed = workers.finish().await?;
    report.fetched += filed.fetched;
    report.new += filed.new;
    report.unparseable += filed.unparseable;
    let got = fetching?;
    report.unfetched += got.unfetched;
    if got.hole.is_some() || got.stopped {
        if let Some(next) = state.uid_next {
            report.held.insert(folder.to_string(), next);
        }
    } else {
        // The listing was OK and every UID in it was stored or shown gone.
        advance(store)?;
    }
    Ok(())
}

/// Does `folder`, as just opened, hold mail the store has not seen? Without UIDNEXT from the
/// server the answer is no: IDLE or the next poll will find it. `last` is the report of the
/// last pass: a folder it left below a message the server would not give is behind only once
/// new mail came (UIDNEXT grew), or the daemon would ask again for that message without pause.
pub(super) fn behind(
    mb: &MailboxConfig,
    store: &Store,
    folder: &str,
    state: FolderState,
    last: &SyncReport,
) -> Result<bool> {
    if let Some(&next) = last.held.get(folder) {
        return Ok(state.uid_next.is_some_and(|n| n > next));
    }
    Ok(match store.cursor(&mb.name, folder)? {
        None => true,
        Some(c) if c.uidvalidity != state.uidvalidity => true,
        Some(c) => state
            .uid_next
            .is_some_and(|n| n > c.last_uid.saturating_add(1)),
    })
}

/// Has `folder` grown past what the store holds, by the UIDNEXT a `STATUS` gave? Like
/// [`behind`], but without opening the folder (a UIDVALIDITY change is found by the next pass).
pub(super) fn grew(
    mb: &MailboxConfig,
    store: &Store,
    folder: &str,
    uid_next: Option<u32>,
    last: &SyncReport,
) -> Result<bool> {
    let Some(next) = uid_next else {
        return Ok(false);
    };
    if let Some(&held) = last.held.get(folder) {
        return Ok(next > held);
    }
    Ok(match store.cursor(&mb.name, folder)? {
        None => true,
        Some(c) => next > c.last_uid.saturating_add(1),
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
