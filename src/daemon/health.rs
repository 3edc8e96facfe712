//! What each mailbox task is doing, for `status`, systemd's one-line STATUS and the watchdog;
//! and the reconnect backoff. Tasks report here; the service reads. A task also promises, before
//! each step, when it will report again (`beat`): the watchdog is fed only while every task
//! keeps its promise, so a task stuck on an await nobody bounded stops the pings and systemd
//! restarts tend.
//!
//! It does not decide when to reconnect or what a pass does; that is `mailbox`.

use super::sync::so_far;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one mailbox task is doing now.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Connecting,
    Syncing,
    /// Waiting on IDLE for new mail.
    Idle,
    /// The server has no IDLE: waiting for the next poll.
    Polling,
    /// The last attempt failed; the next one is at `retry`.
    Waiting {
        error: String,
        retry: DateTime<Utc>,
    },
    /// The server refused the login: a wrong or expired password, a revoked app password.
    LoginRefused {
        error: String,
        retry: DateTime<Utc>,
    },
    Stopped,
}

/// One mailbox as the service reports it.
#[derive(Debug, Clone)]
pub struct MailboxHealth {
    pub state: State,
    pub last_sync: Option<DateTime<Utc>>,
    /// Drafts written on `.0` (the mailbox's local date).
    pub drafts_today: (NaiveDate, u32),
    /// Messages the last pass could not fetch (asked again on the next).
    pub unfetched: usize,
    /// During a first sync: messages stored so far, and listed in all.
    pub first_sync: Option<(u64, u64)>,
    timezone: chrono_tz::Tz,
    /// The task promised to report again before this.
    due: Instant,
    overdue_logged: bool,
}

/// Every mailbox task's health, shared between the tasks and the service.
#[derive(Debug, Default)]
pub struct Health {
    inner: Mutex<BTreeMap<String, MailboxHealth>>,
    /// Bumped by every change a person would see (not by `beat`), so the status snapshot is
    /// rewritten only when it would read differently.
    version: AtomicU64,
}

tokio::task_local! {
    /// The health entry the current mailbox task reports to, for `beat` deep in a pass.
    static TASK: (Arc<Health>, String);
}

/// Runs `fut` as the mailbox task `name`, so `beat` inside it reports there.
pub async fn scope<F: std::future::Future>(health: Arc<Health>, name: String, fut: F) -> F::Output {
    TASK.scope((health, name), fut).await
}

/// The current mailbox task promises to report again within `within`. Outside a mailbox task
/// (the one-shot commands) it does nothing.
pub fn beat(within: Duration) {
    let _ = TASK.try_with(|(health, name)| health.update(name, |h| h.due = deadline(within)));
}

/// The health entry of the current mailbox task, for a thread outside it to report to.
pub fn current() -> Option<(Arc<Health>, String)> {
    TASK.try_with(|task| task.clone()).ok()
}

fn deadline(within: Duration) -> Instant {
    // Slack for a busy machine: the promise is about hangs, not about being a few seconds late.
    Instant::now() + within + Duration::from_secs(30)
}

impl Health {
    /// A task starts (or restarts) for `name`.
    pub fn register(&self, name: &str, timezone: chrono_tz::Tz) {
        let today = Utc::now().with_timezone(&timezone).date_naive();
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let drafts_today = map.get(name).map_or((today, 0), |h| h.drafts_today);
        let last_sync = map.get(name).and_then(|h| h.last_sync);
        let unfetched = map.get(name).map_or(0, |h| h.unfetched);
        self.version.fetch_add(1, Ordering::Relaxed);
        map.insert(
            name.to_string(),
            MailboxHealth {
                state: State::Connecting,
                last_sync,
                drafts_today,
                unfetched,
                first_sync: None,
                timezone,
                due: deadline(Duration::from_secs(300)),
                overdue_logged: false,
            },
        );
    }

    /// The mailbox is gone from the configuration.
    pub fn remove(&self, name: &str) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        self.version.fetch_add(1, Ordering::Relaxed);
    }

    fn update(&self, name: &str, f: impl FnOnce(&mut MailboxHealth)) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = map.get_mut(name) {
            f(h);
        }
    }

    /// The task is now in `state` and will report again within `within`.
    pub fn set(&self, name: &str, state: State, within: Duration) {
        self.update(name, |h| {
            if h.state != state {
                self.version.fetch_add(1, Ordering::Relaxed);
            }
            h.state = state;
            h.due = deadline(within);
            h.overdue_logged = false;
        });
    }

    /// A pass finished at `now`, writing `drafts` drafts.
    pub fn synced(&self, name: &str, now: DateTime<Utc>, drafts: u32) {
        self.update(name, |h| {
            self.version.fetch_add(1, Ordering::Relaxed);
            h.last_sync = Some(now);
            let today = now.with_timezone(&h.timezone).date_naive();
            if h.drafts_today.0 != today {
                h.drafts_today = (today, 0);
            }
            h.drafts_today.1 += drafts;
        });
    }

    /// The last pass left `n` messages it could not fetch.
    pub fn unfetched(&self, name: &str, n: usize) {
        self.update(name, |h| {
            if h.unfetched != n {
                self.version.fetch_add(1, Ordering::Relaxed);
            }
            h.unfetched = n;
        });
    }

    /// How far a first sync has come (`None`: none is running).
    pub fn first_sync(&self, name: &str, progress: Option<(u64, u64)>) {
        self.update(name, |h| h.first_sync = progress);
        self.version.fetch_add(1, Ordering::Relaxed);
    }

    /// Changes so far; equal numbers mean nothing visible changed in between.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    /// A copy of every mailbox's health, by name.
    pub fn snapshot(&self) -> BTreeMap<String, MailboxHealth> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Have all tasks kept their promise? Logs each newly overdue task once.
    pub fn all_on_time(&self) -> bool {
        let now = Instant::now();
        let mut ok = true;
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for (name, h) in map.iter_mut() {
            if h.state != State::Stopped && h.due < now {
                ok = false;
                if !h.overdue_logged {
                    h.overdue_logged = true;
                    tracing::error!(mailbox = %name, state = ?h.state,
                        "mailbox task stopped making progress; no longer feeding the watchdog");
                }
            }
        }
        ok
    }

    /// One line for systemd's STATUS: "3 mailboxes, 2 drafts today, last sync 12 s ago".
    pub fn status_line(&self, now: DateTime<Utc>) -> String {
        let map = self.snapshot();
        let drafts: u32 = map.values().map(|h| h.drafts_on(now)).sum();
        let mut line = format!(
            "{}, {} today",
            count(map.len(), "mailbox", "mailboxes"),
            count(drafts as usize, "draft", "drafts")
        );
        // The stalest mailbox is the honest "last sync"; one that never got in is named below.
        match map.values().filter_map(|h| h.last_sync).min() {
            Some(t) => line.push_str(&format!(
                ", last sync {} s ago",
                (now - t).num_seconds().max(0)
            )),
            None if !map.is_empty() => line.push_str(", not synced yet"),
            None => {}
        }
        for (name, h) in &map {
            match &h.state {
                State::LoginRefused { .. } => line.push_str(&format!("; {name}: LOGIN REFUSED")),
                State::Waiting { .. } => line.push_str(&format!("; {name}: reconnecting")),
                _ => {}
            }
            if let Some((done, total)) = h.first_sync {
                line.push_str(&format!("; {name}: first sync {}", so_far(done, total)));
            }
        }
        line
    }
}

impl MailboxHealth {
    /// Drafts written on the mailbox's local date at `now`.
    pub fn drafts_on(&self, now: DateTime<Utc>) -> u32 {
        let today = now.with_timezone(&self.timezone).date_naive();
        if self.drafts_today.0 == today {
            self.drafts_today.1
        } else {
            0
        }
    }

    /// One line for `tend status`.
    pub fn describe(&self, now: DateTime<Utc>) -> String {
        let ago = |t: DateTime<Utc>| format!("{} s ago", (now - t).num_seconds().max(0));
        let in_ = |t: DateTime<Utc>| format!("in {} s", (t - now).num_seconds().max(0));
        let state = match &self.state {
            State::Connecting => "connecting".to_string(),
            State::Syncing => match self.first_sync {
                Some((done, total)) => format!("first sync, {}", so_far(done, total)),
                None => "syncing".to_string(),
            },
            State::Idle => "waiting for new mail (IDLE)".to_string(),
            State::Polling => "waiting for the next poll (the server has no IDLE)".to_string(),
            State::Waiting { error, retry } => {
                format!("failed, retrying {}: {error}", in_(*retry))
            }
            State::LoginRefused { error, retry } => format!(
                "LOGIN REFUSED, retrying {} (or on `systemctl reload tend`): {error}",
                in_(*retry)
            ),
            State::Stopped => "stopped".to_string(),
        };
        let synced = self.last_sync.map_or("never synced".to_string(), |t| {
            format!("last sync {}", ago(t))
        });
        let drafts = count(self.drafts_on(now) as usize, "draft", "drafts");
        let unfetched = match self.unfetched {
            0 => String::new(),
            n => format!(
                "; {} the server would not give (asked again every pass; see the log)",
                count(n, "message", "messages")
            ),
        };
        format!("{state}; {synced}; {drafts} today{unfetched}")
    }
}

/// "1 draft", "3 drafts".
fn count(n: usize, one: &str, many: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// Reconnect delays: about 2 s doubling to 5 min, jittered so many tend processes (or
/// mailboxes on one server) do not retry in step; reset after a pass succeeds. A refused login
/// waits long: retrying a wrong password quickly only gets the account locked.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_secs(2);
    pub const MAX: Duration = Duration::from_secs(300);
    pub const REFUSED: Duration = Duration::from_secs(1800);

    pub fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    /// The wait after a failure.
    pub fn failed(&mut self) -> Duration {
        let d = jitter(self.next);
        self.next = (self.next * 2).min(Self::MAX);
        d
    }

    /// The wait after a refused login.
    pub fn refused(&mut self) -> Duration {
        self.next = Self::MAX;
        jitter(Self::REFUSED)
    }

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

/// `d` scaled by a random factor between 0.75 and 1.25.
fn jitter(d: Duration) -> Duration {
    // RandomState is seeded randomly per process: enough randomness for spreading retries.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos() ^ d.as_nanos());
    let unit = (h.finish() % 10_000) as f64 / 10_000.0;
    d.mul_f64(0.75 + unit / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut b = Backoff::new();
        let waits: Vec<Duration> = (0..10).map(|_| b.failed()).collect();
        assert!(waits[0] >= Duration::from_millis(1500) && waits[0] <= Duration::from_millis(2500));
        assert!(waits[1] >= Duration::from_secs(3) && waits[1] <= Duration::from_secs(5));
        let last = *waits.last().unwrap();
        assert!(last >= Backoff::MAX.mul_f64(0.75) && last <= Backoff::MAX.mul_f64(1.25));
        b.reset();
        assert!(b.failed() <= Duration::from_millis(2500));
        assert!(b.refused() >= Duration::from_secs(1350));
    }

    #[test]
    fn jitter_spreads_retries() {
        let waits: std::collections::BTreeSet<u128> = (0..20)
            .map(|_| jitter(Duration::from_secs(100)).as_millis())
            .collect();
        assert!(waits.len() > 10, "{waits:?}");
    }

    #[test]
    fn status_line_counts_drafts_and_names_trouble() {
        let health = Health::default();
        let now = Utc::now();
        assert_eq!(health.status_line(now), "0 mailboxes, 0 drafts today");
        health.register("alice", chrono_tz::UTC);
        health.register("bob", chrono_tz::Europe::Berlin);
        assert_eq!(
            health.status_line(now),
            "2 mailboxes, 0 drafts today, not synced yet"
        );
        health.synced("alice", now - chrono::Duration::seconds(12), 2);
        health.synced("bob", now - chrono::Duration::seconds(3), 0);
        let retry = now + chrono::Duration::seconds(60);
        let refused = State::LoginRefused {
            error: "no".into(),
            retry,
        };
        health.set("bob", refused, Duration::from_secs(60));
        assert_eq!(
            health.status_line(now),
            "2 mailboxes, 2 drafts today, last sync 12 s ago; bob: LOGIN REFUSED"
        );
        assert!(health.snapshot()["bob"]
            .describe(now)
            .starts_with("LOGIN REFUSED"));
    }

    #[test]
    fn a_task_past_its_promise_stops_the_watchdog() {
        let health = Health::default();
        health.register("alice", chrono_tz::UTC);
        assert!(health.all_on_time());
        health.update("alice", |h| h.due = Instant::now() - Duration::from_secs(1));
        assert!(!health.all_on_time());
        health.set("alice", State::Idle, Duration::from_secs(60));
        assert!(health.all_on_time());
    }
}
