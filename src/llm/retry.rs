//! When a failed model call is tried again, and after how long: the official OpenAI and
//! Anthropic SDKs' policy. Retried are connection errors, 408, 409, 429, every 5xx and
//! Anthropic's 529 (overloaded); never 400, 401, 403, 404 or 422, whose answer would be the
//! same. A server's `x-should-retry: true|false` overrules that. The wait is the server's
//! `retry-after-ms` or `Retry-After` when it is at most [`LONGEST_WAIT`], else exponential from
//! 0.5 s, capped at 8 s, less up to a quarter of jitter. A longer `Retry-After` is not slept
//! here: the caller gets [`LlmError::RateLimited`] at once and the shared deadline does the
//! waiting. A timeout is not retried either: it is most often one long generation, and each
//! try may take the whole `timeout_seconds`. No I/O here; `Client::post` runs the loop.

use super::LlmError;
use std::time::Duration;

/// The longest server-given wait slept inside one call (the SDKs honour up to 60 s).
pub(super) const LONGEST_WAIT: Duration = Duration::from_secs(60);

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// What the response headers say about trying again.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Hints {
    pub(super) retry_after: Option<Duration>,
    /// `x-should-retry`, sent by OpenAI and Anthropic to overrule the status.
    pub(super) should_retry: Option<bool>,
}

impl From<&reqwest::header::HeaderMap> for Hints {
    fn from(headers: &reqwest::header::HeaderMap) -> Hints {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        // retry-after-ms (milliseconds, OpenAI and Anthropic) is finer than Retry-After.
        let ms = text("retry-after-ms")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .map(|ms| Duration::from_millis(ms as u64));
        let retry_after =
            ms.or_else(|| text("retry-after").and_then(super::reply::parse_retry_after));
        let should_retry = match text("x-should-retry") {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        };
        Hints {
            retry_after,
            should_retry,
        }
    }
}

/// One failed try.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) error: LlmError,
    pub(super) retry_after: Option<Duration>,
    retryable: bool,
}

impl Failure {
    /// A request that never got a status: a connection refused or reset is retried, a
    /// timeout or an unbuildable request is not.
    pub(super) fn transport(err: &reqwest::Error, error: LlmError) -> Failure {
        Failure {
            error,
            retry_after: None,
            retryable: !err.is_timeout() && !err.is_builder(),
        }
    }

    pub(super) fn status(code: u16, error: LlmError, hints: Hints) -> Failure {
        let by_status = matches!(code, 408 | 409 | 429) || code >= 500;
        Failure {
            error,
            retry_after: hints.retry_after,
            retryable: hints.should_retry.unwrap_or(by_status),
        }
    }

    /// Nothing to gain from another try (a 200 whose body could not be read whole).
    pub(super) fn final_(error: LlmError) -> Failure {
        Failure {
            error,
            retry_after: None,
            retryable: false,
        }
    }
}

/// How long to wait before try number `retries + 2`, or `None` to give up now.
pub(super) fn delay(failure: &Failure, retries: u32, max_retries: u32) -> Option<Duration> {
    if !failure.retryable || retries >= max_retries {
        return None;
    }
    match failure.retry_after {
        Some(wait) if wait <= LONGEST_WAIT => Some(wait),
        // Longer than a call should block: the shared deadline makes everyone wait instead.
        Some(_) => None,
        None => Some(backoff(retries)),
    }
}

/// 0.5 s, 1 s, 2 s, ... up to 8 s, each less 0 to 25 % (so many clients do not retry in step).
fn backoff(retries: u32) -> Duration {
    let full = FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(retries))
        .min(MAX_BACKOFF);
    full.mul_f64(1.0 - 0.25 * jitter())
}

/// A number in [0, 1) that differs from call to call; not for anything but spreading retries.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: u16, retry_after: Option<Duration>) -> Failure {
        let hints = Hints {
            retry_after,
            should_retry: None,
        };
        Failure::status(code, LlmError::Failed("x".into()), hints)
    }

    #[test]
    fn retried_statuses_as_the_sdks() {
        for code in [408, 409, 429, 500, 502, 503, 504, 529] {
            assert!(delay(&failure(code, None), 0, 2).is_some(), "{code}");
        }
        for code in [400, 401, 403, 404, 413, 422] {
            assert!(delay(&failure(code, None), 0, 2).is_none(), "{code}");
        }
        // Bounded.
        assert!(delay(&failure(500, None), 2, 2).is_none());
        assert!(delay(&failure(500, None), 0, 0).is_none());
    }

    #[test]
    fn should_retry_header_overrules_the_status() {
        let hints = |b| Hints {
            retry_after: None,
            should_retry: Some(b),
        };
        let no = Failure::status(500, LlmError::Failed("x".into()), hints(false));
        assert!(delay(&no, 0, 2).is_none());
        let yes = Failure::status(400, LlmError::Rejected("x".into()), hints(true));
        assert!(delay(&yes, 0, 2).is_some());
    }

    #[test]
    fn waits_are_the_servers_or_capped_exponential() {
        let short = failure(429, Some(Duration::from_secs(3)));
        assert_eq!(delay(&short, 0, 2), Some(Duration::from_secs(3)));
        let long = failure(429, Some(Duration::from_secs(600)));
        assert_eq!(delay(&long, 0, 2), None);
        for retries in 0..10 {
            let d = backoff(retries);
            let full = (FIRST_BACKOFF * 2u32.pow(retries.min(5))).min(MAX_BACKOFF);
            assert!(d <= full && d >= full.mul_f64(0.75), "{retries}: {d:?}");
        }
    }
}
