//! The two threads behind a folder's fetch: one parses each fetched batch and makes its
//! messages' frames for the texts file (`store::Framed`: deflating is off the busier thread),
//! the other stores it
//! and then moves the cursor, so the socket reader never waits on the parser and the parser
//! never waits on sled (on two cores the three overlap). Both take batches in order through
//! channels of one batch each, so at most a few batches are held at once however large the
//! folder. It does not fetch (that is `sync::fetch`) and decides nothing about the cursor
//! beyond writing the one each batch carries.

use super::progress::Progress;
use super::SyncReport;
use crate::config::MailboxConfig;
use crate::imap::Fetched;
use crate::parse::{self, Email};
use crate::store::{Cursor, Framed, Store};
use anyhow::{Context, Result};
use tokio::sync::mpsc;

/// A fetched batch and the cursor its storing may move the folder to.
pub struct Filed {
    pub messages: Vec<Fetched>,
    pub cursor: u32,
}

/// The running threads: send batches with [`Workers::file`], then [`Workers::finish`].
pub struct Workers {
    tx: mpsc::Sender<Filed>,
    parser: tokio::task::JoinHandle<Result<usize>>,
    storer: tokio::task::JoinHandle<Result<SyncReport>>,
}

impl Workers {
    /// Starts the threads for `folder`; texts of messages older than `horizon` are not kept.
    pub fn start(
        mb: &MailboxConfig,
        store: &Store,
        folder: &str,
        uidvalidity: u32,
        horizon: i64,
        progress: Progress,
    ) -> Workers {
        // One batch waits for the parser while it parses another; the same for the storer.
        let (tx, mut rx) = mpsc::channel::<Filed>(1);
        let (parsed_tx, mut parsed_rx) = mpsc::channel::<(Framed, usize, u32)>(1);
        let span = tracing::Span::current();
        let parser = {
            let (folder, span) = (folder.to_string(), span.clone());
            tokio::task::spawn_blocking(move || -> Result<usize> {
                let _in_mailbox = span.enter();
                let mut unparseable = 0;
                while let Some(batch) = rx.blocking_recv() {
                    let n = batch.messages.len();
                    let emails = parse_batch(&folder, batch.messages, horizon, &mut unparseable);
                    // Deflated here: the storing thread is the busier one.
                    let framed = Framed::new(emails);
                    // A closed channel means the storer failed; its error is reported.
                    if parsed_tx.blocking_send((framed, n, batch.cursor)).is_err() {
                        break;
                    }
                }
                Ok(unparseable)
            })
        };
        let storer = {
            let (store, mb, folder) = (store.clone(), mb.clone(), folder.to_string());
            tokio::task::spawn_blocking(move || -> Result<SyncReport> {
                let _in_mailbox = span.enter();
                let mut report = SyncReport::default();
                while let Some((framed, fetched, last_uid)) = parsed_rx.blocking_recv() {
                    report.fetched += fetched;
                    let saved = store.save_framed(&mb.name, &mb.identity, &framed)?;
                    let emails = framed.emails();
                    store.note_own(&mb.name, &mb.identity, emails)?;
                    report.new += saved.iter().filter(|s| s.new).count();
                    let cursor = Cursor {
                        uidvalidity,
                        last_uid,
                    };
                    store.set_cursor(&mb.name, &folder, cursor)?;
                    // Durable per batch, so a killed first import resumes where it stopped.
                    store.flush()?;
                    progress.stored(fetched);
                    tracing::debug!(folder, last_uid, stored = emails.len(), "batch stored");
                }
                Ok(report)
            })
        };
        Workers { tx, parser, storer }
    }

    /// Hands a batch on, waiting while both threads are busy. `false`: a thread has stopped
    /// (failed); [`Workers::finish`] says why.
    pub async fn file(&self, batch: Filed) -> bool {
        self.tx.send(batch).await.is_ok()
    }

    /// Waits until everything handed on is stored; what the threads filed, or why they stopped.
    pub async fn finish(self) -> Result<SyncReport> {
        drop(self.tx);
        let stored = self.storer.await.context("the storing thread panicked");
        let unparseable = self.parser.await.context("the parsing thread panicked");
        let mut report = stored??;
        report.unparseable += unparseable??;
        Ok(report)
    }
}

/// Parses a fetched batch; what does not parse is counted, logged and skipped.
fn parse_batch(
    folder: &str,
    fetched: Vec<Fetched>,
    horizon: i64,
    unparseable: &mut usize,
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
                *unparseable += 1;
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
