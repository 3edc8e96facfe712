//! Fetching a folder's new messages for the sync: batches pipelined on the connection (several
//! `UID FETCH` in flight, so a distant server is never waited on for a round trip per batch),
//! each answer compared with what it asked for, what is missing asked for again alone, and
//! every batch handed to the workers in order with the cursor its storing may reach, never past
//! the first message that could not be fetched. It does not parse or store (`sync::worker`).

use super::worker::{Filed, Workers};
use crate::daemon::health::beat;
use crate::imap::{self, FetchAnswer, Pipeline, Session};
use anyhow::Result;
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Largest part of one message fetched. A larger multipart message is fetched as its header
/// and its text parts, up to this much text, wherever they lie (`imap::large`), so inline
/// images or a PDF before the text do not cost the text; a larger single-part message, or one
/// whose structure the server will not give, is cut after this many bytes.
const FETCH_CAP: u32 = 2 * 1024 * 1024;
/// At most this many messages, and this many bytes, per batch. With a batch being read, one
/// waiting for the parser, one being parsed and one being stored, this bounds what a first
/// sync holds, whatever the folder's size.
const BATCH_COUNT: usize = 250;
const BATCH_BYTES: u64 = 4 * 1024 * 1024;
/// `UID FETCH` commands kept in flight. Answers are read one command at a time, so more in
/// flight costs no memory; two already hide a round trip behind a batch's transfer.
const IN_FLIGHT: usize = 4;

/// How far a folder's fetch got.
#[derive(Debug, Default)]
pub struct Fetch {
    /// The lowest UID that could not be fetched: the cursor stays below it.
    pub hole: Option<u32>,
    /// Messages that could not be fetched.
    pub unfetched: usize,
    /// Stopped early (shutdown, or the server refusing message after message).
    pub stopped: bool,
}

/// Fetches every listed message and hands them to `workers`, batch by batch in UID order.
pub async fn fetch_folder(
    session: &mut Session,
    folder: &str,
    listed: &[(u32, u32)],
    workers: &Workers,
    shutdown: &CancellationToken,
    timeout: Duration,
) -> Result<Fetch> {
    let large: HashSet<u32> = listed
        .iter()
        .filter(|(_, size)| *size > FETCH_CAP)
        .map(|(uid, _)| *uid)
        .collect();
    let mut todo = imap::batches(listed, BATCH_COUNT, BATCH_BYTES).peekable();
    let mut pipe = Pipeline::new(FETCH_CAP);
    let mut out = Fetch::default();
    loop {
        // Only batches of plain messages are pipelined: one with a message over the cap takes
        // several commands of its own (`imap::large`), on a connection with nothing in flight.
        while pipe.len() < IN_FLIGHT && !shutdown.is_cancelled() {
            match todo.next_if(|b| !b.iter().any(|u| large.contains(u))) {
                Some(batch) => session.send_fetch(&mut pipe, batch).await?,
                None => break,
            }
        }
        // Reading a batch is bounded by four timeouts; retrying its missing messages by four
        // each; storing one takes far less.
        beat(timeout * 6);
        if let Some((asked, answer)) = session.next_fetched(&mut pipe).await? {
            if is_whole(&asked, &answer) {
                let got = Batch {
                    messages: answer.messages,
                    ..Batch::default()
                };
                if !deliver(&mut out, workers, &asked, got).await {
                    break;
                }
                continue;
            }
            // Asking again needs a quiet connection: read what is still in flight first.
            let mut answers = vec![(asked, answer)];
            while let Some(next) = session.next_fetched(&mut pipe).await? {
                answers.push(next);
            }
            for (asked, answer) in answers {
                let got = if out.stopped {
                    // Given up on this server for now: keep what came, ask for nothing.
                    Batch {
                        messages: answer.messages,
                        ..Batch::default()
                    }
                } else {
                    settle(session, folder, &asked, answer, Vec::new(), timeout).await?
                };
                if !deliver(&mut out, workers, &asked, got).await {
                    return Ok(out);
                }
            }
            if out.stopped {
                break;
            }
            continue;
        }
        if shutdown.is_cancelled() {
            out.stopped = true;
            break;
        }
        let Some(batch) = todo.next() else { break };
        let got = fetch_alone(session, folder, &batch, &large, timeout).await?;
        if !deliver(&mut out, workers, &batch, got).await || out.stopped {
            break;
        }
    }
    // Never leave an answer unread: the session goes on to other commands.
    while session.next_fetched(&mut pipe).await?.is_some() {}
    Ok(out)
}

/// Did `answer` bring every message asked for, and end OK?
fn is_whole(asked: &[u32], answer: &FetchAnswer) -> bool {
    answer.refused.is_none()
        && answer.messages.len() == asked.len()
        && answer.messages.iter().zip(asked).all(|(m, u)| m.uid == *u)
}

/// Hands `got`, the answer to `asked`, to the workers with the cursor it may move the folder
/// to. `false`: the workers stopped (their error is reported by `Workers::finish`).
async fn deliver(out: &mut Fetch, workers: &Workers, asked: &[u32], got: Batch) -> bool {
    out.unfetched += got.failed.len();
    if let Some(&first) = got.failed.first() {
        out.hole = Some(out.hole.map_or(first, |h| h.min(first)));
    }
    out.stopped |= got.gave_up;
    let Some(&last) = asked.last() else {
        return true;
    };
    // Later batches are still stored, but the cursor does not pass the hole.
    let cursor = out.hole.map_or(last, |h| h - 1);
    workers
        .file(Filed {
            messages: got.messages,
            cursor,
        })
        .await
}

/// One batch as far as it could be fetched.
#[derive(Default)]
struct Batch {
    messages: Vec<imap::Fetched>,
    /// UIDs that could not be fetched, ascending; asked for again on the next pass.
    failed: Vec<u32>,
    /// The server refused message after message: the folder's later batches wait too.
    gave_up: bool,
}

/// Single fetches refused in a row after which the server is taken to be failing as a whole,
/// not choking on one message: the rest of the batch is not asked for one by one.
const REFUSALS_IN_A_ROW: usize = 3;

/// Fetches a batch holding messages over the cap on its own: those as their header and text
/// parts, the rest in one FETCH, then what is missing alone.
async fn fetch_alone(
    session: &mut Session,
    folder: &str,
    batch: &[u32],
    large: &HashSet<u32>,
    timeout: Duration,
) -> Result<Batch> {
    // What the text-parts fetch does not serve is fetched below like the others, cut at the cap.
    let mut messages = Vec::new();
    let mut small = Vec::with_capacity(batch.len());
    for &uid in batch {
        if large.contains(&uid) {
            beat(timeout * 6);
            if let Some(m) = session.fetch_text_parts(uid, FETCH_CAP).await? {
                messages.push(m);
                continue;
            }
        }
        small.push(uid);
    }
    let answer = session.fetch(&small, FETCH_CAP).await?;
    settle(session, folder, batch, answer, messages, timeout).await
}

/// Compares `answer` (with `messages` already fetched otherwise) with `batch`: a UID missing
/// from it (a partial FETCH, as Gmail's "Some messages could not be FETCHed") is asked for
/// again alone. The connection must have nothing in flight.
///
/// Alone, a missing UID tells its story plainly. RFC 3501 6.4.8 makes a UID that no longer
/// exists no error: the server answers OK and sends nothing for it, so an OK without the
/// message means it was expunged meanwhile and is rightly skipped. A NO (or BAD) means the
/// server has it and would not give it, as does a NIL body; that message is a failure and
/// keeps the cursor below it. The one NO that means "gone" says so: RFC 5530 EXPUNGEISSUED.
async fn settle(
    session: &mut Session,
    folder: &str,
    batch: &[u32],
    answer: FetchAnswer,
    mut messages: Vec<imap::Fetched>,
    timeout: Duration,
) -> Result<Batch> {
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
        beat(timeout * 5);
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
