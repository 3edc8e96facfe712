//! Waiting for new mail with IDLE (RFC 2177) on the open folder, bounded three ways: the
//! caller's deadline (so IDLE is re-issued well before the 29-minute limit and the daemon still
//! wakes for its timers), a silence limit that doubles as a liveness probe (a server that sent
//! nothing for half the timeout is asked to end IDLE and must answer within the other half, so a
//! black-holed connection is noticed within the configured timeout), and shutdown.
//!
//! It does not decide what a wake-up means; the daemon syncs after any of them.

use super::Session;
use anyhow::{Context, Result};
use async_imap::extensions::idle::IdleResponse;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why an IDLE ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The server reported a change to the folder (new mail, expunge, flags).
    Changed,
    /// The caller's deadline passed, or the server was quiet for a while and proved alive.
    Timeout,
    /// Shutdown was asked for.
    Shutdown,
}

impl Session {
    /// Idles on the open folder for at most `limit`. Consumes the session because async-imap's
    /// IDLE does; on any error the connection is gone and the caller reconnects.
    pub async fn idle(self, limit: Duration, shutdown: &CancellationToken) -> Result<(Self, Wake)> {
        let Session {
            inner,
            timeout,
            host,
            can_idle,
            uidplus,
            literal_plus,
            list_special_use,
            wire,
        } = self;
        let probe = (timeout / 2).max(Duration::from_millis(500));
        let mut handle = inner.idle();
        tokio::time::timeout(timeout, handle.init())
            .await
            .map_err(|_| anyhow::anyhow!("starting IDLE on {host} timed out"))?
            .with_context(|| format!("starting IDLE on {host}"))?;
        let wake = {
            // `wait_with_timeout` ends on `probe` of silence; the outer timeout bounds the whole
            // wait even when the server's keep-alives keep resetting that silence limit.
            let (wait, stop) = handle.wait_with_timeout(probe.min(limit));
            let wake = tokio::select! {
                r = tokio::time::timeout(limit, wait) => match r {
                    Err(_) => Wake::Timeout,
                    Ok(Ok(IdleResponse::NewData(_))) => Wake::Changed,
                    Ok(Ok(IdleResponse::Timeout | IdleResponse::ManualInterrupt)) => Wake::Timeout,
                    Ok(Err(err)) => {
                        return Err(anyhow::Error::new(err).context(format!("idling on {host}")))
                    }
                },
                _ = shutdown.cancelled() => Wake::Shutdown,
            };
            drop(stop);
            wake
        };
        // DONE must be answered promptly: this is the probe that notices a dead connection.
        let inner = tokio::time::timeout(probe, handle.done())
            .await
            .map_err(|_| {
                anyhow::anyhow!("{host} did not answer DONE within {probe:?}: connection lost")
            })?
            .with_context(|| format!("ending IDLE on {host}"))?;
        let mut session = Session {
            inner,
            timeout,
            host,
            can_idle,
            uidplus,
            literal_plus,
            list_special_use,
            wire,
        };
        session.drain();
        Ok((session, wake))
    }
}
