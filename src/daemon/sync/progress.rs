//! How far a long sync has come, told to a person: a bar with an estimate on a terminal (the
//! only user of indicatif), and, during a first sync in the service, the mailbox's health entry,
//! which systemd's STATUS line shows ("alice: first sync 48,000 / 200,000"). The storing thread
//! reports each stored batch here. It does not decide what is fetched or when.

use crate::daemon::health::{self, Health};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Below this many messages a sync that is not a first one shows no bar: it is over at once.
const BAR_FROM: usize = 1_000;

/// One folder's sync, as shown.
pub struct Progress {
    bar: Option<ProgressBar>,
    /// Set during a first sync in a mailbox task: where STATUS is reported.
    health: Option<(Arc<Health>, String)>,
    done: AtomicU64,
    total: u64,
}

impl Progress {
    /// A folder's sync of `listed` messages starts, after `before` stored by this pass in the
    /// folders before it. `first`: the folder had no cursor (or a stale one), so this is the
    /// long first import.
    pub fn start(mailbox: &str, folder: &str, before: usize, listed: usize, first: bool) -> Self {
        let total = (before + listed) as u64;
        let bar = (std::io::stderr().is_terminal() && listed > 0 && (first || listed >= BAR_FROM))
            .then(|| {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                let style = ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {human_pos}/{human_len} messages, {eta} left",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(format!("{mailbox}: {folder}"));
                bar.set_position(before as u64);
                bar
            });
        let health = health::current().filter(|_| first);
        if let Some((health, name)) = &health {
            health.first_sync(name, Some((before as u64, total)));
        }
        Progress {
            bar,
            health,
            done: AtomicU64::new(before as u64),
            total,
        }
    }

    /// `n` more messages are stored.
    pub fn stored(&self, n: usize) {
        let done = self.done.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
        if let Some((health, name)) = &self.health {
            health.first_sync(name, Some((done.min(self.total), self.total)));
        }
    }
}

impl Drop for Progress {
    /// The folder is done, or failed: the bar stays as it ended, the STATUS part goes.
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
        }
        if let Some((health, name)) = &self.health {
            health.first_sync(name, None);
        }
    }
}

/// (48000, 200000) -> "48,000 / 200,000".
pub fn so_far(done: u64, total: u64) -> String {
    format!("{} / {}", thousands(done), thousands(total))
}

/// 48000 -> "48,000".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(48_000), "48,000");
        assert_eq!(thousands(1_200_000), "1,200,000");
    }

    #[tokio::test]
    async fn the_status_line_says_how_far_a_first_sync_has_come() {
        let health = Arc::new(Health::default());
        health.register("alice", chrono_tz::UTC);
        let line = || health.status_line(chrono::Utc::now());
        let task = health::scope(Arc::clone(&health), "alice".into(), async {
            let progress = Progress::start("alice", "INBOX", 0, 200_000, true);
            progress.stored(48_000);
            let during = (
                line(),
                health.snapshot()["alice"].describe(chrono::Utc::now()),
            );
            drop(progress);
            during
        });
        health.set(
            "alice",
            health::State::Syncing,
            std::time::Duration::from_secs(60),
        );
        let (during, status) = task.await;
        assert!(
            status.starts_with("first sync, 48,000 / 200,000;"),
            "{status}"
        );
        assert!(
            during.ends_with("; alice: first sync 48,000 / 200,000"),
            "{during}"
        );
        assert!(
            !line().contains("first sync"),
            "gone once it ends: {}",
            line()
        );
        // Not a first sync: the STATUS line stays as it was.
        let quiet = health::scope(Arc::clone(&health), "alice".into(), async {
            let progress = Progress::start("alice", "INBOX", 0, 5_000, false);
            progress.stored(100);
            line()
        });
        assert!(!quiet.await.contains("first sync"));
    }
}
