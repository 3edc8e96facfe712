//! Talking to systemd, the only user of sd-notify: READY, RELOADING, STOPPING, the one-line
//! STATUS and WATCHDOG pings over `$NOTIFY_SOCKET`. Outside systemd (no `NOTIFY_SOCKET`) every
//! call does nothing. A failed notification is logged at debug and otherwise ignored: systemd
//! being unreachable must never stop the work.
//!
//! It does not decide when tend is ready or healthy; the daemon's service loop does.

use sd_notify::NotifyState;
use std::time::Duration;

fn send(states: &[NotifyState]) {
    if let Err(err) = sd_notify::notify(states) {
        tracing::debug!("sd_notify failed: {err}");
    }
}

/// Config and store are open; `status` is the first STATUS line.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// The one-line status `systemctl status` shows.
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// A reload (SIGHUP) started; `ready` ends it.
pub fn reloading() {
    send(&[NotifyState::Reloading]);
}

/// Shutdown started.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// The work loop is alive.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// How often to ping the watchdog (half of `WatchdogSec=`), if systemd asked for pings.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 2)
}
