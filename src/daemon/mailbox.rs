//! One mailbox as a long-running task: connect, pass, then wait on IDLE (or poll) and pass
//! again on every wake-up, until stopped. A session is used until it errors, then dropped and
//! reopened after a jittered backoff (reset by a good pass); a refused login waits long and says
//! so loudly. Sent is checked on every pass, and a pass also runs every poll interval even
//! without new INBOX mail: our own replies in Sent and the passing of time (follow-ups) change
//! what needs a draft. Between IDLEs, a `STATUS` of Sent's UIDNEXT starts a pass as soon as a
//! reply sent by hand lands there, so our draft in that thread goes within a minute.
//!
//! It does not know about other mailboxes, signals or systemd; `service` runs these tasks.

use super::health::{self, Backoff, Health, State};
use super::{open, span, sync, work, Action, SyncReport};
use crate::config::{MailboxConfig, Pipeline};
use crate::imap::{FolderNames, LoginError, Session, Wake};
use crate::llm::LanguageModel;
use crate::store::Store;
use anyhow::Result;
use chrono::Utc;
use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// After a pass the model server stopped (down, rate limiting, refusing us), the model is asked
/// again this soon, doubling up to the poll interval while failures go on, and never before the
/// server's Retry-After.
const MODEL_RETRY_FIRST: Duration = Duration::from_secs(10);
/// How long a mailbox whose task panicked waits before it starts again.
const PANIC_PAUSE: Duration = Duration::from_secs(60);
/// IDLE is re-issued at least this often: RFC 2177 lets a server drop an IDLE after 29 minutes.
const IDLE_MAX: Duration = Duration::from_secs(25 * 60);
/// With a Sent folder, IDLE on INBOX ends at least this often for a `STATUS` of Sent, so a reply
/// sent by hand removes our draft within a minute. Not left to the IDLE's silence probe: a
/// server's keep-alive ("* OK Still here", every 2 minutes on Dovecot) restarts that one, which
/// stretched a wait to 57 s when measured.
const SENT_CHECK: Duration = Duration::from_secs(25);
/// How long a mailbox started with the service waits for the others' first sync before it
/// drafts anyway (one that cannot connect must not hold the rest back for long).
const START_WAIT: Duration = Duration::from_secs(60);

/// At start-up, every mailbox syncs once before any of them drafts. Mailboxes share threads: a
/// colleague's reply in their own Sent, not synced yet, would leave my finding open, and my
/// task would draft for a thread already answered (seen in tests/service.rs).
pub(super) struct StartGate {
    left: tokio::sync::watch::Sender<usize>,
}

impl StartGate {
    pub(super) fn new(mailboxes: usize) -> Arc<StartGate> {
        Arc::new(StartGate {
            left: tokio::sync::watch::Sender::new(mailboxes),
        })
    }

    /// This mailbox's first sync is stored.
    fn arrive(&self) {
        self.left.send_modify(|n| *n = n.saturating_sub(1));
    }

    /// Until every mailbox arrived, or `limit`; false when the limit came first.
    async fn wait(&self, limit: Duration) -> bool {
        let mut rx = self.left.subscribe();
        tokio::time::timeout(limit, rx.wait_for(|n| *n == 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// What a mailbox task needs, owned, so it can run on its own.
pub(super) struct Watch<M> {
    pub mb: MailboxConfig,
    /// The service's sales stages (`tend.toml`, not reloaded with the mailbox files).
    pub pipeline: Arc<Pipeline>,
    pub store: Store,
    pub model: Arc<M>,
    pub poll: Duration,
    pub health: Arc<Health>,
    /// Cancelled on shutdown, or when this mailbox is removed or changed by a reload.
    pub stop: CancellationToken,
    /// Notified by a reload: a mailbox waiting to reconnect tries again now.
    pub retry: Arc<Notify>,
    /// For a mailbox started with the service: wait for every mailbox's first sync before the
    /// first draft. Taken at the first pass, so a reconnect does not wait again.
    pub gate: std::sync::Mutex<Option<Arc<StartGate>>>,
}

impl<M: LanguageModel + 'static> Watch<M> {
    /// Runs until `stop`. A panic (a bug, but one mailbox's bug) is logged and the mailbox
    /// started again after a pause, instead of silencing it until tend restarts.
    pub async fn run(self) {
        let name = self.mb.name.clone();
        let health = self.health.clone();
        let span = span(&self.mb);
        let guarded = async {
            loop {
                match AssertUnwindSafe(self.watch()).catch_unwind().await {
                    Ok(()) => break,
                    Err(panic) => {
                        let what = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        tracing::error!(
                            "the mailbox task panicked ({what}); restarting it in 60 s"
                        );
                        let retry = Utc::now() + PANIC_PAUSE;
                        let error = format!("internal error: {what}");
                        self.health.set(
                            &self.mb.name,
                            State::Waiting { error, retry },
                            PANIC_PAUSE,
                        );
                        tokio::select! {
                            _ = tokio::time::sleep(PANIC_PAUSE) => {}
                            _ = self.stop.cancelled() => break,
                        }
                    }
                }
            }
        };
        health::scope(health, name, guarded).instrument(span).await;
    }

    async fn watch(&self) {
        let name = &self.mb.name;
        let timeout = self.mb.imap.timeout;
        let mut backoff = Backoff::new();
        loop {
            // Connect, TLS and login are each bounded by the timeout.
            self.health.set(name, State::Connecting, timeout * 4);
            let opened = tokio::select! {
                r = open(&self.mb) => r,
                _ = self.stop.cancelled() => break,
            };
            let err = match opened {
                Ok((session, folders)) => match self.serve(session, folders, &mut backoff).await {
                    Ok(()) => break,
                    Err(err) => err,
                },
                Err(err) => {
                    crate::metrics::with(|m| m.synced(name, false, Utc::now()));
                    err
                }
            };
            // A mailbox that cannot connect (or failed its first sync) holds no one back.
            if let Some(gate) = self.gate.lock().ok().and_then(|mut g| g.take()) {
                gate.arrive();
            }
            let now = Utc::now();
            let (delay, state) = match err.downcast_ref::<LoginError>() {
                Some(refused @ LoginError::Refused { .. }) => {
                    let delay = backoff.refused();
                    tracing::error!(
                        retry_in_s = delay.as_secs(),
                        "LOGIN REFUSED: {refused}; tend retries in {} min, or at once on \
                         `systemctl reload tend`",
                        delay.as_secs() / 60
                    );
                    let error = refused.to_string();
                    (
                        delay,
                        State::LoginRefused {
                            error,
                            retry: now + delay,
                        },
                    )
                }
                _ => {
                    let delay = backoff.failed();
                    tracing::warn!(
                        retry_in_s = delay.as_secs(),
                        "{err:#}; reconnecting in {} s",
                        delay.as_secs()
                    );
                    let error = format!("{err:#}");
                    (
                        delay,
                        State::Waiting {
                            error,
                            retry: now + delay,
                        },
                    )
                }
            };
            self.health.set(name, state, delay);
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.retry.notified() => tracing::info!("reload: retrying now"),
                _ = self.stop.cancelled() => break,
            }
        }
        self.health.set(name, State::Stopped, Duration::ZERO);
        tracing::info!("stopped");
    }

    /// Passes and waits on one session until it fails (`Err`) or the task is stopped (`Ok`).
    async fn serve(
        &self,
        mut session: Session,
        folders: FolderNames,
        backoff: &mut Backoff,
    ) -> Result<()> {
        let (mb, name, timeout) = (&self.mb, &self.mb.name, self.mb.imap.timeout);
        if !session.can_idle() {
            tracing::info!(
                poll_s = self.poll.as_secs(),
                "the server has no IDLE: polling instead"
            );
        }
        let mut changed = true;
        let mut last_pass = Instant::now();
        // When the model is to be asked again after the server failed for everyone.
        let mut model_due: Option<Instant> = None;
        let mut model_retry = MODEL_RETRY_FIRST;
        let mut last_report = SyncReport::default();
        let gate = self.gate.lock().ok().and_then(|mut g| g.take());
        if let Some(gate) = gate {
            self.health
                .set(name, State::Syncing, timeout * 8 + START_WAIT);
            let synced = sync(mb, &self.store, &mut session, &folders, &self.stop).await;
            crate::metrics::with(|m| m.synced(name, synced.is_ok(), Utc::now()));
            // Arrived even when the sync failed: the others must not wait for a retry.
            gate.arrive();
            synced?;
            tokio::select! {
                all = gate.wait(START_WAIT) => if !all {
                    tracing::warn!(
                        "not every mailbox finished its first sync within {} s; drafting anyway",
                        START_WAIT.as_secs()
                    );
                },
                _ = self.stop.cancelled() => {}
            }
        }
        loop {
            if self.stop.is_cancelled() {
                session.logout().await;
                return Ok(());
            }
            // The next full pass: the poll interval, or the model's retry if that comes first.
            let poll_due = last_pass + self.poll;
            let due = model_due.map_or(poll_due, |m| m.min(poll_due));
            if changed || Instant::now() >= due {
                self.health.set(name, State::Syncing, timeout * 8);
                let model = &*self.model;
                let (store, pipeline) = (&self.store, &self.pipeline);
                let worked = work(
                    mb,
                    pipeline,
                    store,
                    model,
                    &mut session,
                    &folders,
                    false,
                    &self.stop,
                )
                .await;
                crate::metrics::with(|m| m.synced(name, worked.is_ok(), Utc::now()));
                let (report, actions) = worked?;
                backoff.reset();
                let drafted = actions
                    .iter()
                    .filter(|a| {
                        matches!(
                            a,
                            Action::Drafted {
                                delivery: Some(_),
                                ..
                            }
                        )
                    })
                    .count();
                self.health.synced(name, Utc::now(), drafted as u32);
                self.health.unfetched(name, report.unfetched);
                // A model server that failed for everyone is asked again soon, not only at the
                // next poll: that draft is what the user is waiting for. Never before its
                // Retry-After, in full: the retry pass is set for it, not clipped to the poll
                // interval. A pass that comes earlier (the poll, IDLE, another mailbox sharing
                // the model) does not reach the server either: the client refuses every call
                // before the deadline. A failure of one finding has its own backoff (attend).
                let down = actions.iter().find_map(|a| match a {
                    Action::ModelDown { retry_after, .. } => Some(retry_after.unwrap_or_default()),
                    _ => None,
                });
                if let Some(asked) = down {
                    let retry = model_retry.max(asked);
                    model_due = Some(Instant::now() + retry);
                    model_retry = (model_retry * 2).min(self.poll);
                    tracing::info!(
                        retry_in_s = retry.as_secs(),
                        "the model server failed; retrying soon"
                    );
                } else {
                    (model_due, model_retry) = (None, MODEL_RETRY_FIRST);
                }
                if report.new > 0 || !actions.is_empty() {
                    tracing::info!(
                        fetched = report.fetched,
                        new = report.new,
                        drafts = drafted,
                        "pass done"
                    );
                } else {
                    tracing::debug!("pass done: nothing new");
                }
                (changed, last_pass, last_report) = (false, Instant::now(), report);
                // What the pass read is free now; an idle service should not keep its size.
                crate::alloc::give_back();
                continue;
            }
            // A reply the user sent by hand lands in Sent, which IDLE on INBOX does not see: a
            // cheap STATUS after every IDLE (which ends at the latest every `timeout / 2`, its
            // liveness probe) notices it, and the pass removes our draft from that thread.
            if let Some(sent) = &folders.sent {
                let next = session.uid_next(sent).await?;
                if super::sync::grew(mb, &self.store, sent, next, &last_report)? {
                    tracing::debug!(folder = %sent, "Sent grew");
                    changed = true;
                    continue;
                }
            }
            // Mail that came in after the pass fetched INBOX would not wake an IDLE started
            // now: look first.
            let inbox = session.examine(&folders.inbox).await?;
            if super::sync::behind(mb, &self.store, &folders.inbox, inbox, &last_report)? {
                changed = true;
                continue;
            }
            let wait = due.saturating_duration_since(Instant::now());
            if session.can_idle() {
                let limit = match folders.sent {
                    Some(_) => wait.min(IDLE_MAX).min(SENT_CHECK),
                    None => wait.min(IDLE_MAX),
                };
                self.health.set(name, State::Idle, limit + timeout);
                tracing::debug!(folder = %folders.inbox, "waiting on IDLE");
                let (s, wake) = session.idle(limit, &self.stop).await?;
                session = s;
                if wake == Wake::Changed {
                    tracing::debug!("IDLE: the inbox changed");
                    changed = true;
                }
            } else {
                self.health.set(name, State::Polling, wait);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.stop.cancelled() => {}
                }
            }
        }
    }
}
