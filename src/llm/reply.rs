//! What the model server answered, read defensively, whatever the protocol: a status and its
//! body become the [`LlmError`] kind the daemon branches on (with the server's own words, cleaned
//! and cut; OpenAI and Anthropic both put them in `error.message`), a `Retry-After` a duration;
//! bodies are read only up to a cap. No requests are made here (`Client` sends them), and a
//! 200's content is each protocol's own file.

use super::LlmError;
use std::time::Duration;

/// Longest server error message kept in [`LlmError::Rejected`].
pub const MESSAGE_CAP: usize = 300;

/// Longest Retry-After honoured; a server asking for more gets this.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

/// A request that never got an HTTP status.
pub(super) fn transport_error(err: &reqwest::Error) -> LlmError {
    if err.is_builder() {
        LlmError::Rejected(format!(
            "cannot build the request: {}",
            sanitize(&err.to_string())
        ))
    } else {
        // No connection at all (refused, DNS, TLS, connect timeout): the server, for everyone.
        // A timeout or a reset after connecting: most likely this one long request.
        if err.is_connect() {
            LlmError::Unavailable(format!("cannot connect: {}", error_chain(err)))
        } else if err.is_timeout() {
            LlmError::Failed(format!("timed out: {}", error_chain(err)))
        } else {
            LlmError::Failed(format!("request failed: {}", error_chain(err)))
        }
    }
}

/// The error and its sources on one line (reqwest hides the useful part in the source).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    sanitize(&out)
}

/// Reads the body, refusing more than `cap` bytes without buffering them.
pub(super) async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, LlmError> {
    let too_big = || LlmError::BadAnswer(format!("response larger than {cap} bytes"));
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_big());
    }
    let mut out = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() + chunk.len() > cap {
                    return Err(too_big());
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(out),
            Err(err) => {
                return Err(LlmError::Failed(format!(
                    "reading the response: {}",
                    error_chain(&err)
                )))
            }
        }
    }
}

/// At most `cap` bytes of an error body, for its message; the rest and read errors are ignored.
pub(super) async fn read_prefix(mut response: reqwest::Response, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = cap - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= cap {
            break;
        }
    }
    out
}

/// A non-2xx status -> the kind the caller branches on.
pub(super) fn status_error(
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> LlmError {
    let message = server_message(body);
    let code = status.as_u16();
    let text = format!("HTTP {status}: {message}");
    // Which of these are server-wide: see [`LlmError`]. 529 is Anthropic's "overloaded_error",
    // for every customer at once.
    match code {
        429 => LlmError::RateLimited { retry_after },
        401 | 403 | 404 => LlmError::Refused(text),
        502..=504 | 529 => LlmError::Unavailable(text),
        408 | 409 | 500..=599 => LlmError::Failed(text),
        _ => LlmError::Rejected(text),
    }
}

/// The server's own words: `error.message` of an OpenAI error body, else the text, truncated.
pub(super) fn server_message(body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            e.get("message")
                .and_then(|m| m.as_str())
                .or_else(|| e.as_str())
                .map(str::to_string)
        });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let text = sanitize(text.trim());
    if text.is_empty() {
        "(no message)".into()
    } else {
        truncate(&text, MESSAGE_CAP)
    }
}

/// Control characters from a server must not reach a log line as such.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

pub(super) fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 section 10.2.3), capped.
pub(super) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let delay = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        let secs = (at.timestamp() - chrono::Utc::now().timestamp()).max(0);
        Duration::from_secs(secs as u64)
    };
    Some(delay.min(RETRY_AFTER_CAP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("999999"), Some(RETRY_AFTER_CAP));
        // A date in the past means "now".
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn status_kinds() {
        use reqwest::StatusCode as S;
        let kind = |s: S| status_error(s, None, br#"{"error":{"message":"nope"}}"#);
        assert!(matches!(
            kind(S::TOO_MANY_REQUESTS),
            LlmError::RateLimited { retry_after: None }
        ));
        assert!(matches!(kind(S::BAD_GATEWAY), LlmError::Unavailable(_)));
        assert!(matches!(kind(S::REQUEST_TIMEOUT), LlmError::Failed(_)));
        assert!(matches!(kind(S::CONFLICT), LlmError::Failed(_)));
        let overloaded = S::from_u16(529).unwrap();
        assert!(matches!(kind(overloaded), LlmError::Unavailable(_)));
        assert!(matches!(
            kind(S::INTERNAL_SERVER_ERROR),
            LlmError::Failed(_)
        ));
        match kind(S::UNAUTHORIZED) {
            LlmError::Refused(m) => assert!(m.contains("nope"), "{m}"),
            other => panic!("{other:?}"),
        }
        for s in [
            S::BAD_REQUEST,
            S::PAYLOAD_TOO_LARGE,
            S::UNPROCESSABLE_ENTITY,
        ] {
            assert!(matches!(kind(s), LlmError::Rejected(_)), "{s}");
        }
        let everyone = |s: S| kind(s).for_everyone();
        assert!(everyone(S::TOO_MANY_REQUESTS) && everyone(S::FORBIDDEN) && everyone(S::NOT_FOUND));
        assert!(everyone(S::SERVICE_UNAVAILABLE) && everyone(S::GATEWAY_TIMEOUT));
        assert!(!everyone(S::BAD_REQUEST) && !everyone(S::PAYLOAD_TOO_LARGE));
        assert!(!everyone(S::INTERNAL_SERVER_ERROR) && !everyone(S::REQUEST_TIMEOUT));
    }

    #[test]
    fn server_message_truncated_and_cleaned() {
        let long = "x".repeat(5000);
        assert!(server_message(long.as_bytes()).chars().count() <= MESSAGE_CAP + 3);
        assert_eq!(server_message(b"bad\r\nkey"), "bad  key");
        assert_eq!(server_message(b""), "(no message)");
        assert_eq!(server_message(br#"{"error":"plain"}"#), "plain");
    }
}
