//! Sync: fetch what is new in INBOX and Sent, parse it and store it, moving a folder's cursor
//! only after its messages are stored; then look at Drafts (`drafts::look`). A worker thread parses and stores one batch while the
//! next is fetched. It does not judge threads or draft; that is `attend`.

use super::SyncReport;
use crate::config::MailboxConfig;
use crate::imap::{self, Fetched, FolderNames, FolderState, Session};
use crate::parse::{self, Email};
use crate::store::{Cursor, Store};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};
use std::io::IsTerminal;
use tokio_util::sync::CancellationToken;

/// Largest part of one message fetched. A larger multipart message is fetched as its header
/// and its text parts, up to this much text, wherever they lie (`imap::large`), so inline
/// images or a PDF before the text do not cost the text; a larger single-part message, or one
/// whose structure the server will not give, is cut after this many bytes.
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
    let uids = session.uids_after(last).await?;
    let sizes: HashMap<u32, u32> = uids.iter().copied().collect();
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
                store.note_own(&mb.name, &mb.identity, &emails)?;
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
    // The lowest UID that could not be fetched: the cursor stays below it.
    let mut hole: Option<u32> = None;
    for batch in imap::batches(&uids, BATCH_COUNT, BATCH_BYTES) {
        if shutdown.is_cancelled() {
            complete = false;
            break;
        }
        // A batch fetch is bounded by four timeouts (each retry of a missing message promises
        // anew); storing one takes far less.
        super::health::beat(mb.imap.timeout * 6);
        let last_uid = *batch.last().expect("batches are never empty");
        match fetch_batch(session, folder, &batch, &sizes, mb.imap.timeout).await {
            Ok(got) => {
                report.unfetched += got.failed.len();
                if let Some(&first) = got.failed.first() {
                    hole = Some(hole.map_or(first, |h| h.min(first)));
                }
                // Later batches are still stored, but the cursor does not pass the hole.
                let cursor = hole.map_or(last_uid, |h| h - 1);
                // A closed channel means the worker failed; its error is reported below.
                if tx.send((got.messages, cursor)).await.is_err() {
                    break;
                }
                if got.gave_up {
                    complete = false;
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
    if hole.is_some() || !complete {
        if let Some(next) = state.uid_next {
            report.held.insert(folder.to_string(), next);
        }
    } else {
        // The listing was OK and every UID in it was stored or shown gone.
        advance(store)?;
    }
    Ok(())
}

/// One batch as far as it could be fetched.
struct Batch {
    messages: Vec<Fetched>,
    /// UIDs that could not be fetched, ascending; asked for again on the next pass.
    failed: Vec<u32>,
    /// The server refused message after message: the folder's later batches wait too.
    gave_up: bool,
}

/// Single fetches refused in a row after which the server is taken to be failing as a whole,
/// not choking on one message: the rest of the batch is not asked for one by one.
const REFUSALS_IN_A_ROW: usize = 3;

/// Fetches `batch` and compares the answer with it: a UID missing from the answer (a partial
/// FETCH, as Gmail's "Some messages could not be FETCHed") is asked for again alone.
///
/// Alone, a missing UID tells its story plainly. RFC 3501 6.4.8 makes a UID that no longer
/// exists no error: the server answers OK and sends nothing for it, so an OK without the
/// message means it was expunged meanwhile and is rightly skipped. A NO (or BAD) means the
/// server has it and would not give it, as does a NIL body; that message is a failure and
/// keeps the cursor below it. The one NO that means "gone" says so: RFC 5530 EXPUNGEISSUED.
async fn fetch_batch(
    session: &mut Session,
    folder: &str,
    batch: &[u32],
    sizes: &HashMap<u32, u32>,
    timeout: std::time::Duration,
) -> Result<Batch> {
    // Over the cap: the header and the text parts, wherever they lie. What that does not
    // serve is fetched below like the others, cut at the cap.
    let mut messages = Vec::new();
    let mut small = Vec::with_capacity(batch.len());
    for &uid in batch {
        if sizes.get(&uid).is_some_and(|s| *s > FETCH_CAP) {
            super::health::beat(timeout * 6);
            if let Some(m) = session.fetch_text_parts(uid, FETCH_CAP).await? {
                messages.push(m);
                continue;
            }
        }
        small.push(uid);
    }
    let answer = session.fetch(&small, FETCH_CAP).await?;
    messages.extend(answer.messages);
    let have: BTreeSet<u32> = messages.iter().map(|m| m.uid).collect();
    let missing: Vec<u32> = batch
        .iter()
        .copied()
        .filter(|u| !have.contains(u))
        .collect();
    if let Some(refused) = &answer.refused {
        tracing::warn!(
            folder,
            asked = batch.len(),
            missing = missing.len(),
            "{refused}; asking for each missing message alone"
        );
    }
    let mut failed = Vec::new();
    let mut in_a_row = 0;
    for (i, &uid) in missing.iter().enumerate() {
        if in_a_row >= REFUSALS_IN_A_ROW {
            let rest = &missing[i..];
            tracing::warn!(
                folder,
                first = rest[0],
                last = rest[rest.len() - 1],
                "{} more messages not asked for after {in_a_row} refusals in a row; the next pass asks again",
                rest.len()
            );
            failed.extend_from_slice(rest);
            messages.sort_unstable_by_key(|m| m.uid);
            return Ok(Batch {
                messages,
                failed,
                gave_up: true,
            });
        }
        // Each retry is bounded by four timeouts; a batch may need many.
        super::health::beat(timeout * 5);
        let single = session.fetch(&[uid], FETCH_CAP).await?;
        if let Some(m) = single.messages.into_iter().next() {
            in_a_row = 0;
            messages.push(m);
            continue;
        }
        let why = match (&single.refused, single.nil.is_empty()) {
            (Some(r), _) if r.expunge_issued() => None,
            (Some(r), _) => Some(r.to_string()),
            (None, false) => Some("the server sent its body as NIL".to_string()),
            (None, true) => None,
        };
        match why {
            Some(why) => {
                in_a_row += 1;
                tracing::warn!(
                    folder,
                    uid,
                    "cannot fetch this message; the cursor stays below it and the next pass asks again: {why}"
                );
                failed.push(uid);
            }
            None => {
                in_a_row = 0;
                tracing::debug!(folder, uid, "expunged meanwhile; skipped");
            }
        }
    }
    messages.sort_unstable_by_key(|m| m.uid);
    Ok(Batch {
        messages,
        failed,
        gave_up: false,
    })
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
