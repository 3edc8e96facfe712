//! `tend run`: one task per mailbox over one store, under a `TaskTracker`; signals (SIGTERM and
//! SIGINT stop, SIGHUP reloads the mailbox files); systemd's READY, STATUS and WATCHDOG; a
//! status snapshot for `tend status` while this process holds the store; and, with
//! `metrics_listen`, the Prometheus endpoint (`crate::metrics`), bound before any mailbox starts.
//!
//! A failing mailbox never stops the others: each task reconnects on its own. Shutdown cancels
//! every task, waits for them a bounded time (a model call is abandoned, an APPEND in flight is
//! let finish) and flushes the store. A reload starts added mailboxes, stops removed ones and
//! restarts changed ones; an invalid file leaves everything running as it was. A mailbox task
//! that does not stop in time (an APPEND or a FETCH waiting out its timeout) is never doubled:
//! its successor starts only once it has ended.

use super::health::Health;
use super::mailbox::{StartGate, Watch};
use crate::config::{self, Config, MailboxConfig};
use crate::llm::LanguageModel;
use crate::metrics::{self, Metrics};
use crate::store::Store;
use crate::systemd;
use anyhow::{Context, Result};
use chrono::Utc;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long shutdown waits for the mailbox tasks; systemd's stop timeout is longer.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);
/// How often the service refreshes STATUS (and the snapshot, if something changed) when
/// systemd asks for no faster watchdog.
const TICK: Duration = Duration::from_secs(5);
/// The snapshot is rewritten at least this often, so its relative times stay roughly true.
const SNAPSHOT_MAX_AGE: Duration = Duration::from_secs(60);

/// What the service calls to leave a status snapshot; given the config, the store and health.
pub type Snapshot = dyn Fn(&Config, &Store, &Health) + Send + Sync;

/// A running mailbox task.
struct Running {
    config: MailboxConfig,
    stop: CancellationToken,
    retry: Arc<Notify>,
    task: JoinHandle<()>,
}

/// A mailbox task told to stop that had not ended within the grace period, and the
/// configuration to start once it has (`None`: the mailbox was removed).
struct Stopping {
    task: JoinHandle<()>,
    next: Option<MailboxConfig>,
}

struct Service<M> {
    config: Config,
    store: Store,
    model: Arc<M>,
    health: Arc<Health>,
    /// What the mailbox tasks count, for the Prometheus endpoint (`metrics_listen`).
    metrics: Metrics,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    running: BTreeMap<String, Running>,
    stopping: BTreeMap<String, Stopping>,
    /// The mailboxes started with the service sync once each before any of them drafts; one
    /// added or restarted later has nothing to wait for.
    gate: Option<Arc<StartGate>>,
}

/// Runs every mailbox until SIGTERM or SIGINT. `snapshot` is called whenever the status may
/// have changed (at most every few seconds).
pub async fn run<M: LanguageModel + 'static>(
    config: Config,
    store: Store,
    model: M,
    snapshot: Box<Snapshot>,
) -> Result<()> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    // Bound before any mailbox starts: an address that cannot be had fails `tend run` at once.
    let metrics = Metrics::new();
    let endpoint = match config.metrics_listen {
        Some(addr) => Some(metrics::serve(addr, metrics.clone()).await?),
        None => None,
    };
    let mut service = Service {
        config,
        store,
        model: Arc::new(model),
        health: Arc::new(Health::default()),
        metrics,
        tracker: TaskTracker::new(),
        shutdown: CancellationToken::new(),
        running: BTreeMap::new(),
        stopping: BTreeMap::new(),
        gate: None,
    };
    service.gate = Some(StartGate::new(service.config.mailboxes.len()));
    for mb in service.config.mailboxes.clone() {
        service.start(mb);
    }
    service.gate = None;
    tracing::info!(
        mailboxes = service.running.len(),
        "tend running; it never sends mail"
    );
    systemd::ready(&service.health.status_line(Utc::now()));
    let watchdog = systemd::watchdog_interval();
    let mut tick = tokio::time::interval(watchdog.map_or(TICK, |w| w.min(TICK)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // (health version, when) of the last snapshot written.
    let mut written: Option<(u64, tokio::time::Instant)> = None;
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: stopping"); break; }
            _ = hup.recv() => {
                systemd::reloading();
                service.reload().await;
                systemd::ready(&service.health.status_line(Utc::now()));
            }
            _ = tick.tick() => {
                service.reap();
                // Fed only while every mailbox task keeps its promise to report back.
                if watchdog.is_some() && service.health.all_on_time() {
                    systemd::watchdog();
                }
                systemd::status(&service.health.status_line(Utc::now()));
                // Reviewing every thread and writing a file every tick would be constant work
                // for an idle service: only after a change, or once the last one has aged.
                let version = service.health.version();
                if written.is_none_or(|(v, at)| v != version || at.elapsed() >= SNAPSHOT_MAX_AGE) {
                    snapshot(&service.config, &service.store, &service.health);
                    // The record for `tend report` and the latency histogram: on a thread of
                    // its own, at most every ten minutes, once every mailbox has synced.
                    if service.health.snapshot().values().all(|h| h.last_sync.is_some()) {
                        super::record::refresh(&service.config, &service.store, &service.metrics);
                    }
                    written = Some((version, tokio::time::Instant::now()));
                }
            }
        }
    }
    systemd::stopping();
    service.stop().await;
    if let Some(endpoint) = endpoint {
        endpoint.stop().await;
    }
    snapshot(&service.config, &service.store, &service.health);
    Ok(())
}

impl<M: LanguageModel + 'static> Service<M> {
    fn start(&mut self, mb: MailboxConfig) {
        self.health.register(&mb.name, mb.timezone);
        let stop = self.shutdown.child_token();
        let retry = Arc::new(Notify::new());
        let watch = Watch {
            mb: mb.clone(),
            pipeline: Arc::new(self.config.pipeline.clone()),
            store: self.store.clone(),
            model: self.model.clone(),
            poll: self.config.poll_interval,
            health: self.health.clone(),
            stop: stop.clone(),
            retry: retry.clone(),
            gate: std::sync::Mutex::new(self.gate.clone()),
        };
        let task = self
            .tracker
            .spawn(metrics::scope(self.metrics.clone(), watch.run()));
        let name = mb.name.clone();
        self.running.insert(
            name,
            Running {
                config: mb,
                stop,
                retry,
                task,
            },
        );
    }

    /// Stops one mailbox and waits a bounded time for its task. A task still running then (it
    /// waits out an IMAP timeout) is kept in `stopping` with `next` to start after it: two
    /// tasks never serve one mailbox, and the old one's last `Stopped` cannot overwrite the
    /// state of its successor.
    /// Returns whether it ended in time.
    async fn stop_one(&mut self, name: &str, next: Option<MailboxConfig>) -> bool {
        let Some(r) = self.running.remove(name) else {
            return true;
        };
        r.stop.cancel();
        let mut task = r.task;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_ok()
        {
            if let Some(mb) = next {
                self.start(mb);
            }
            return true;
        }
        tracing::warn!(
            mailbox = name,
            "its task did not stop in time; it is started again once it has ended"
        );
        self.stopping
            .insert(name.to_string(), Stopping { task, next });
        false
    }

    /// Starts the successors of the tasks in `stopping` that have ended by now.
    fn reap(&mut self) {
        let ended: Vec<String> = self
            .stopping
            .iter()
            .filter(|(_, s)| s.task.is_finished())
            .map(|(name, _)| name.clone())
            .collect();
        for name in ended {
            if let Some(Stopping { next: Some(mb), .. }) = self.stopping.remove(&name) {
                tracing::info!(mailbox = %name, "its old task has ended; started again");
                self.start(mb);
            }
        }
    }

    /// SIGHUP: re-read the configuration and apply the mailbox changes.
    async fn reload(&mut self) {
        let path = self.config.path.clone();
        let new = match config::load(&path) {
            Ok(c) => c,
            Err(err) => {
                tracing::error!("reload refused, the running configuration stays: {err}");
                return;
            }
        };
        if new.llm != self.config.llm
            || new.state_dir != self.config.state_dir
            || new.poll_interval != self.config.poll_interval
            || new.pipeline != self.config.pipeline
            || new.metrics_listen != self.config.metrics_listen
        {
            tracing::warn!(
                "tend.toml changed: only mailbox files are reloaded; restart tend for the rest"
            );
        }
        let wanted: BTreeMap<String, MailboxConfig> = new
            .mailboxes
            .iter()
            .map(|m| (m.name.clone(), m.clone()))
            .collect();
        let names: Vec<String> = self.running.keys().cloned().collect();
        let (mut added, mut removed, mut changed) = (0, 0, 0);
        for name in names {
            match wanted.get(&name) {
                None => {
                    self.stop_one(&name, None).await;
                    self.health.remove(&name);
                    self.metrics.forget(&name);
                    tracing::info!(mailbox = %name, "reload: mailbox file removed; stopped");
                    removed += 1;
                }
                Some(mb) if *mb != self.running[&name].config => {
                    if self.stop_one(&name, Some(mb.clone())).await {
                        tracing::info!(mailbox = %name, "reload: mailbox file changed; restarted");
                    }
                    changed += 1;
                }
                // Unchanged: one waiting after a failure (a fixed password file) tries now.
                Some(_) => self.running[&name].retry.notify_one(),
            }
        }
        // A task still ending gets the newest wish for its mailbox.
        for (name, s) in self.stopping.iter_mut() {
            s.next = wanted.get(name).cloned();
        }
        for (name, mb) in wanted {
            if !self.running.contains_key(&name) && !self.stopping.contains_key(&name) {
                self.start(mb);
                tracing::info!(mailbox = %name, "reload: new mailbox file; started");
                added += 1;
            }
        }
        self.reap();
        self.config.mailboxes = new.mailboxes;
        tracing::info!(added, removed, changed, "reload done");
    }

    /// Shutdown: cancel every task, wait a bounded time, make the store durable.
    async fn stop(&mut self) {
        self.shutdown.cancel();
        self.tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "mailbox tasks still busy after {SHUTDOWN_GRACE:?}; exiting anyway \
                 (a draft not yet written is written on the next start)"
            );
        }
        if let Err(err) = self.store.flush() {
            tracing::error!("flushing the store: {err:#}");
        }
        tracing::info!("stopped");
    }
}
