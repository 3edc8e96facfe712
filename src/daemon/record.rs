//! The sales record from the store: every stored thread of every mailbox, one at a time,
//! through [`record::Builder`], with the stages the model inferred and the user's corrections,
//! and every draft of ours with what became of it. Reading the threads one by one keeps the
//! memory to the record's metadata whatever the size of the mailboxes.
//!
//! `tend run` rebuilds it on a thread of its own at most every ten minutes, after a change,
//! and leaves it in the state directory for `tend report` (which cannot open the store while
//! the service holds it), with the latency histogram of the Prometheus endpoint.
//!
//! It decides nothing about the record itself (`record` does) and computes no numbers
//! (`report`).

use crate::config::Config;
use crate::metrics::Metrics;
use crate::record::{self, Builder, DraftNote, DraftOutcome, JoinSource, Known, Record};
use crate::report::numbers::{self, Turn};
use crate::store::corrections::{self, JoinWord};
use crate::store::{CopyStatus, Fate, Store};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where `tend run` leaves the record for `tend report`.
pub fn snapshot_path(state_dir: &Path) -> PathBuf {
    state_dir.join("record.json")
}

/// Builds the record of every configured mailbox, with the user's stage corrections (the
/// corrections file and the stage keywords seen in the mailboxes). With `as_of`, the record
/// as it stood at `now`: later mail and changes are left out.
pub fn build(config: &Config, store: &Store, now: DateTime<Utc>, as_of: bool) -> Result<Record> {
    let we_wrote_to = |address: &str| {
        config
            .mailboxes
            .iter()
            .any(|mb| store.contact(&mb.name, address).is_ok_and(|c| c.sent > 0))
    };
    let corrections = corrections::load(&config.state_dir)?;
    let mut by_thread = store.user_stages(&corrections)?;
    let joins_said = corrections.joins_by_thread(&|id| store.thread_of(id).ok().flatten());
    let mut builder = Builder::new(
        &config.mailboxes,
        &config.pipeline,
        now.timestamp(),
        &we_wrote_to,
    );
    if as_of {
        builder = builder.as_of_now();
    }
    for mb in &config.mailboxes {
        for id in store.recent_threads(&mb.name, i64::MIN)? {
            if builder.knows(&id) {
                continue;
            }
            let Some(thread) = store.thread_said(&id)? else {
                continue;
            };
            let known = Known {
                inferred: inferred(store, &thread.id)?,
                corrections: by_thread.remove(&thread.id).unwrap_or_default(),
                joins: joins(store, &joins_said, &thread.id)?,
            };
            builder.add_thread(mb, &thread, known);
        }
        for (_, copy) in store.copies(&mb.name)? {
            builder.add_draft(DraftNote {
                mailbox: mb.name.clone(),
                thread_id: copy.thread_id.clone(),
                at: copy.at,
                outcome: outcome(&copy.status, copy.fate.as_ref()),
            });
        }
    }
    Ok(builder.finish())
}

/// The deal a thread continues: the user's word (`tend deal`) over the model's judgement.
fn joins(
    store: &Store,
    said: &std::collections::BTreeMap<String, JoinWord>,
    thread: &str,
) -> Result<Option<(String, String, JoinSource)>> {
    Ok(match said.get(thread) {
        Some(JoinWord::Split) => None,
        Some(JoinWord::Join { thread: deal, note }) => Some((
            deal.clone(),
            note.clone()
                .unwrap_or_else(|| "joined by the user (tend deal --join)".to_string()),
            JoinSource::Command,
        )),
        None => store
            .join_of(thread)?
            .map(|(deal, reason)| (deal, reason, JoinSource::Inferred)),
    })
}

/// The stages the model inferred for a thread.
fn inferred(store: &Store, thread: &str) -> Result<Vec<record::StageChange>> {
    store.stage_history(thread)
}

/// The record is rebuilt at most this often: reading every stored thread costs seconds on a
/// large mailbox.
const EVERY: Duration = Duration::from_secs(600);

/// Rebuilds the record on a thread of its own, unless one was built less than [`EVERY`] ago
/// or one is being built: writes it for `tend report` and gives each mailbox's answered
/// waits (all time) to the latency histogram of `metrics`.
pub fn refresh(config: &Config, store: &Store, metrics: &Metrics) {
    static RUNNING: AtomicBool = AtomicBool::new(false);
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    let due = LAST
        .lock()
        .map(|l| l.is_none_or(|t| t.elapsed() >= EVERY))
        .unwrap_or(false);
    if !due || RUNNING.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Ok(mut l) = LAST.lock() {
        *l = Some(Instant::now());
    }
    let (config, store, metrics) = (Arc::new(config.clone()), store.clone(), metrics.clone());
    let spawned = std::thread::Builder::new()
        .name("record".into())
        .spawn(move || {
            if let Err(err) = refresh_now(&config, &store, &metrics) {
                tracing::warn!("could not rebuild the record for tend report: {err:#}");
            }
            // The record of a large store is tens of megabytes while it is built; without
            // this, an idle service would keep that peak for hours (measured at 200,000
            // messages: idle RSS 190 MB, of which the live heap was 85 MB).
            crate::alloc::give_back();
            RUNNING.store(false, Ordering::SeqCst);
        });
    if spawned.is_err() {
        RUNNING.store(false, Ordering::SeqCst);
    }
}

fn refresh_now(config: &Config, store: &Store, metrics: &Metrics) -> Result<()> {
    let now = Utc::now();
    let record = build(config, store, now, false)?;
    let owner: std::collections::HashMap<&str, &str> = record
        .deals
        .iter()
        .map(|d| (d.id.as_str(), d.owner.as_str()))
        .collect();
    let mut answered: std::collections::HashMap<&str, Vec<i64>> = std::collections::HashMap::new();
    let waits = numbers::waits(&record, DateTime::<Utc>::MIN_UTC, now);
    for w in waits.iter().filter(|w| w.turn == Turn::Ours) {
        if let (Some(mb), Some(s)) = (owner.get(w.deal.as_str()), w.seconds()) {
            answered.entry(mb).or_default().push(s);
        }
    }
    for mb in &config.mailboxes {
        let seconds = answered
            .get(mb.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        metrics.set_latencies(&mb.name, seconds);
    }
    // Written as it is encoded: the record of 200,000 messages is 75 MB of JSON, which
    // encoded whole first took 134 MB more at the peak (heaptrack).
    write_atomic_with(&snapshot_path(&config.state_dir), |out| {
        serde_json::to_writer(out, &record).context("encoding the record")
    })
}

/// Writes `path` whole or not at all: a temporary file beside it, renamed over it, so a reader
/// (`tend report`, a browser) never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |out| {
        out.write_all(bytes)
            .with_context(|| format!("writing {}", path.display()))
    })
}

/// [`write_atomic`] of what `write` writes, through a buffer.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    // The whole name and ".tmp": `record.json` and a report page `record.html` beside it
    // must not share `record.tmp`.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let file = File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    let mut out = BufWriter::new(file);
    write(&mut out)?;
    out.into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// What the user did with a draft of ours, as the report counts it.
fn outcome(status: &CopyStatus, fate: Option<&Fate>) -> DraftOutcome {
    match fate {
        Some(Fate::SentAsWritten { .. }) => DraftOutcome::SentAsWritten,
        Some(Fate::SentAfterEdits { .. }) => DraftOutcome::SentEdited,
        Some(Fate::AnsweredWithout { .. } | Fate::DeletedUnanswered) => DraftOutcome::Ignored,
        // Replaced by a newer draft of ours: the newer one carries the outcome.
        None if matches!(status, CopyStatus::Replaced { .. }) => DraftOutcome::Replaced,
        None => DraftOutcome::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draft::test_support::{mailbox, parsed as mail};

    /// The record reads each stored thread's headers and new text (`Store::thread_said`):
    /// who wrote when and the price stated, the same as from the whole thread, never a price
    /// only quoted. Written as it is encoded, it reads back as the record built.
    #[test]
    fn the_record_is_built_from_what_was_said_and_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mb = mailbox();
        let config = Config::test_default(dir.path(), vec![mb.clone()]);
        let store = Store::open(&dir.path().join("db"), 0).unwrap();
        let ask = mail("Message-ID: <q@buyer.test>\nFrom: Bob <bob@buyer.test>\nTo: alice@shop.example\nSubject: Quote\nDate: Tue, 4 Jun 2024 10:00:00 +0000\n\nWhat would 50 seats cost? Last year's vendor said EUR 9,000.\n");
        let answer = mail("Message-ID: <a@shop.example>\nFrom: alice@shop.example\nTo: bob@buyer.test\nIn-Reply-To: <q@buyer.test>\nSubject: Re: Quote\nDate: Wed, 5 Jun 2024 09:00:00 +0000\n\nEUR 12,000 a year.\n\nOn Tue, Bob wrote:\n> What would 50 seats cost? Last year's vendor said EUR 9,000.\n");
        let thanks = mail("Message-ID: <t@buyer.test>\nFrom: Bob <bob@buyer.test>\nTo: alice@shop.example\nIn-Reply-To: <a@shop.example>\nSubject: Re: Quote\nDate: Thu, 6 Jun 2024 09:00:00 +0000\n\nThanks, we will decide next week.\n\nOn Wed, alice wrote:\n> EUR 13,000 a year.\n");
        store
            .save_all(&mb.name, &mb.identity, &[ask, answer, thanks])
            .unwrap();
        let thread = store.thread_of("q@buyer.test").unwrap().unwrap();
        let said = store.thread_said(&thread).unwrap().unwrap();
        let whole = store.thread(&thread).unwrap().unwrap();
        assert!(said.messages.iter().all(|m| m.text.is_empty()));
        assert!(whole.messages[2].text.contains("EUR 13,000"));

        let now = DateTime::from_timestamp(1_717_700_000, 0).unwrap();
        let record = build(&config, &store, now, false).unwrap();
        assert_eq!(record.deals.len(), 1);
        let deal = &record.deals[0];
        assert_eq!(deal.value.as_deref(), Some("EUR 12,000"), "{deal:?}");
        let said: Vec<_> = deal.touches().map(|t| t.message_id.as_str()).collect();
        assert_eq!(said, ["q@buyer.test", "a@shop.example", "t@buyer.test"]);

        let metrics = Metrics::new();
        refresh_now(&config, &store, &metrics).unwrap();
        let read: Record =
            serde_json::from_slice(&std::fs::read(snapshot_path(dir.path())).unwrap()).unwrap();
        assert_eq!(read.deals.len(), 1);
        assert_eq!(read.deals[0].value, deal.value);
        assert!(!dir.path().join("record.json.tmp").exists());
        // A report page beside it has a temporary file of its own.
        let page = dir.path().join("record.html");
        write_atomic_with(&page, |out| {
            refresh_now(&config, &store, &metrics)?;
            out.write_all(b"<html>").map_err(Into::into)
        })
        .unwrap();
        assert_eq!(std::fs::read(&page).unwrap(), b"<html>");
        assert!(snapshot_path(dir.path()).exists());
    }
}
