//! The language model: trait [`LanguageModel`] and the OpenAI-compatible chat-completions
//! provider over HTTP ([`OpenAi`]). The only user of reqwest. It does not build prompts (that is
//! `draft::prompt`) and does not decide what a reply says. Failures are an [`LlmError`] inside
//! the `anyhow::Error`, so the daemon can `downcast_ref` and branch (back off, retry, give up).
//! Structured answers are asked for with a JSON Schema (`response_format: json_schema`); a server
//! too old for that (HTTP 400) gets `json_object` instead, remembered for the process.

use anyhow::Result;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::config::LlmConfig;

/// Who speaks in a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
}

/// One chat message sent to the model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

/// The shape an answer must have: a named JSON Schema, sent as the standard OpenAI
/// `response_format: {"type": "json_schema", ...}` (OpenAI, llama.cpp, vLLM and Ollama constrain
/// the output to it, which a small model needs far more than a description in words).
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerSchema {
    /// `[a-zA-Z0-9_-]`, at most 64 characters (OpenAI's rule).
    pub name: &'static str,
    /// A JSON Schema object; strict mode wants every property required and
    /// `additionalProperties: false`.
    pub schema: serde_json::Value,
}

/// A model that answers a chat; a second implementation is the test double in `tests/`.
pub trait LanguageModel: Send + Sync {
    /// Sends the chat and returns the assistant's text; `schema` asks for JSON of that shape.
    fn complete(
        &self,
        messages: &[ChatMessage],
        schema: Option<&AnswerSchema>,
    ) -> impl std::future::Future<Output = anyhow::Result<String>> + Send;

    /// The longest one call may take; the daemon's watchdog allows for it.
    fn time_limit(&self) -> Duration {
        Duration::from_secs(120)
    }
}

/// Largest response body read from the model server; more is refused, not buffered.
pub const RESPONSE_CAP: usize = 1024 * 1024;

/// Bytes of an error response read to find the server's message.
const ERROR_BODY_CAP: usize = 64 * 1024;

/// Longest server error message kept in [`LlmError::Rejected`].
pub const MESSAGE_CAP: usize = 300;

/// Longest Retry-After honoured; a server asking for more gets this.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

/// Why a model call failed, in the kinds a caller branches on.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// HTTP 429: wait (`retry_after` when the server said how long), then retry.
    #[error("the model server is rate limiting (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx, 408, connection refused, timeout: transient, retry later.
    #[error("the model server is unavailable: {0}")]
    Unavailable(String),
    /// Any other 4xx (bad key, unknown model, bad request): retrying will not help.
    #[error("the model server rejected the request: {0}")]
    Rejected(String),
    /// 200 but not a chat completion we can use (bad JSON, no choices, empty or oversized).
    #[error("the model server's answer is unusable: {0}")]
    BadAnswer(String),
}

/// An OpenAI-compatible chat-completions endpoint (OpenAI, llama.cpp, vLLM, Ollama, ...).
pub struct OpenAi {
    client: reqwest::Client,
    base_url: String,
    model: String,
    max_tokens: u32,
    temperature: f64,
    frequency_penalty: Option<f64>,
    /// `Bearer <key>`, marked sensitive; read once in [`OpenAi::new`].
    auth: Option<reqwest::header::HeaderValue>,
    timeout: Duration,
    /// Set once the server refused `json_schema` (HTTP 400, an older server): from then on this
    /// process asks for a plain `json_object` instead.
    no_json_schema: AtomicBool,
}

impl fmt::Debug for OpenAi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the key.
        f.debug_struct("OpenAi")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("max_tokens", &self.max_tokens)
            .field("temperature", &self.temperature)
            .field("frequency_penalty", &self.frequency_penalty)
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl OpenAi {
    /// Builds the client; reads the API key (if configured) now, once.
    pub fn new(config: &LlmConfig) -> Result<OpenAi> {
        use anyhow::Context;
        let auth = match &config.api_key {
            Some(secret) => {
                let key = secret.reveal().context("reading the model API key")?;
                let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {key}"))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "the model API key contains characters not allowed in an HTTP header"
                        )
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(30)))
            // A redirect could carry the bearer token elsewhere; an API endpoint does not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tend/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client for the model")?;
        Ok(OpenAi {
            client,
            base_url: config.base_url.trim_end_matches('/').to_string(),
            model: config.model.clone(),
            max_tokens: config.max_tokens,
            temperature: config.temperature,
            frequency_penalty: config.frequency_penalty,
            auth,
            timeout: config.timeout,
            no_json_schema: AtomicBool::new(false),
        })
    }

    /// One chat completion; the error kind says whether to retry. With a `schema`, asks for
    /// `json_schema`; a server that answers 400 to that gets the same call once more with
    /// `json_object`, and keeps getting `json_object` for the rest of the process.
    pub async fn chat(
        &self,
        messages: &[ChatMessage],
        schema: Option<&AnswerSchema>,
    ) -> Result<String, LlmError> {
        let Some(schema) = schema else {
            return self.post(messages, None).await;
        };
        let plain = serde_json::json!({ "type": "json_object" });
        if self.no_json_schema.load(Ordering::Relaxed) {
            return self.post(messages, Some(plain)).await;
        }
        let format = serde_json::json!({
            "type": "json_schema",
            "json_schema": { "name": schema.name, "strict": true, "schema": schema.schema },
        });
        match self.post(messages, Some(format)).await {
            Err(LlmError::Rejected(message)) if message.starts_with("HTTP 400") => {
                let retry = self.post(messages, Some(plain)).await;
                // A 400 to json_object too means the request itself is wrong (too long, say),
                // not the schema: then keep asking with json_schema.
                let also_400 =
                    matches!(&retry, Err(LlmError::Rejected(m)) if m.starts_with("HTTP 400"));
                if !also_400 && !self.no_json_schema.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        "the model server refused response_format json_schema ({message}); \
                         asking for json_object from now on"
                    );
                }
                retry
            }
            other => other,
        }
    }

    /// POSTs one chat-completions request with this `response_format`, if any.
    async fn post(
        &self,
        messages: &[ChatMessage],
        response_format: Option<serde_json::Value>,
    ) -> Result<String, LlmError> {
        let mut body = serde_json::json!({
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        });
        if let Some(penalty) = self.frequency_penalty {
            body["frequency_penalty"] = serde_json::json!(penalty);
        }
        let format = response_format
            .as_ref()
            .and_then(|f| f["type"].as_str())
            .unwrap_or("text")
            .to_string();
        if let Some(format) = response_format {
            body["response_format"] = format;
        }
        let prompt_chars: usize = messages.iter().map(|m| m.content.len()).sum();
        tracing::debug!(
            messages = messages.len(),
            prompt_bytes = prompt_chars,
            format,
            "asking the model"
        );
        let mut request = self
            .client
            .post(format!("{}/chat/completions", self.base_url))
            .json(&body);
        if let Some(auth) = &self.auth {
            request = request.header(reqwest::header::AUTHORIZATION, auth.clone());
        }
        let started = std::time::Instant::now();
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        if !status.is_success() {
            let bytes = read_prefix(response, ERROR_BODY_CAP).await;
            return Err(status_error(status, retry_after, &bytes));
        }
        let bytes = read_capped(response, RESPONSE_CAP).await?;
        tracing::debug!(
            answer_bytes = bytes.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "the model answered"
        );
        parse_completion(&bytes)
    }

    /// Is the server reachable and does it accept us? `GET {base_url}/models`; a 404 means
    /// reachable without a model listing, which is fine.
    pub async fn ping(&self) -> Result<()> {
        let mut request = self.client.get(format!("{}/models", self.base_url));
        if let Some(auth) = &self.auth {
            request = request.header(reqwest::header::AUTHORIZATION, auth.clone());
        }
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = read_prefix(response, ERROR_BODY_CAP).await;
        Err(status_error(status, retry_after, &bytes).into())
    }
}

impl LanguageModel for OpenAi {
    fn time_limit(&self) -> Duration {
        self.timeout
    }

    async fn complete(
        &self,
        messages: &[ChatMessage],
        schema: Option<&AnswerSchema>,
    ) -> Result<String> {
        Ok(self.chat(messages, schema).await?)
    }
}

/// A request that never got an HTTP status.
fn transport_error(err: reqwest::Error) -> LlmError {
    if err.is_builder() {
        LlmError::Rejected(format!(
            "cannot build the request: {}",
            sanitize(&err.to_string())
        ))
    } else {
        // Connect refused, DNS, TLS, timeout, reset: all transient from our side.
        let what = if err.is_timeout() {
            "timed out"
        } else if err.is_connect() {
            "cannot connect"
        } else {
            "request failed"
        };
        LlmError::Unavailable(format!("{what}: {}", error_chain(&err)))
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
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, LlmError> {
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
                return Err(LlmError::Unavailable(format!(
                    "reading the response: {}",
                    error_chain(&err)
                )))
            }
        }
    }
}

/// At most `cap` bytes of an error body, for its message; the rest and read errors are ignored.
async fn read_prefix(mut response: reqwest::Response, cap: usize) -> Vec<u8> {
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
fn status_error(
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> LlmError {
    let message = server_message(body);
    let code = status.as_u16();
    match code {
        429 => LlmError::RateLimited { retry_after },
        408 => LlmError::Unavailable(format!("HTTP {status}: {message}")),
        500..=599 => LlmError::Unavailable(format!("HTTP {status}: {message}")),
        _ => LlmError::Rejected(format!("HTTP {status}: {message}")),
    }
}

/// The server's own words: `error.message` of an OpenAI error body, else the text, truncated.
pub fn server_message(body: &[u8]) -> String {
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

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 section 10.2.3), capped.
fn parse_retry_after(value: &str) -> Option<Duration> {
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

/// `choices[0].message.content` of a chat completion.
pub fn parse_completion(bytes: &[u8]) -> Result<String, LlmError> {
    #[derive(serde::Deserialize)]
    struct Completion {
        choices: Vec<Choice>,
    }
    #[derive(serde::Deserialize)]
    struct Choice {
        message: Message,
        #[serde(default)]
        finish_reason: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Message {
        #[serde(default)]
        content: Option<String>,
    }
    let completion: Completion = serde_json::from_slice(bytes).map_err(|e| {
        LlmError::BadAnswer(format!(
            "not a chat completion: {}",
            truncate(&e.to_string(), 200)
        ))
    })?;
    let choice = completion
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| LlmError::BadAnswer("no choices in the answer".into()))?;
    if choice.finish_reason.as_deref() == Some("length") {
        tracing::debug!("the model's answer was cut at max_tokens");
    }
    match choice.message.content {
        Some(content) if !content.trim().is_empty() => Ok(content),
        _ => Err(LlmError::BadAnswer("the answer has no content".into())),
    }
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
        assert!(matches!(kind(S::REQUEST_TIMEOUT), LlmError::Unavailable(_)));
        match kind(S::UNAUTHORIZED) {
            LlmError::Rejected(m) => assert!(m.contains("nope"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn server_message_truncated_and_cleaned() {
        let long = "x".repeat(5000);
        assert!(server_message(long.as_bytes()).chars().count() <= MESSAGE_CAP + 3);
        assert_eq!(server_message(b"bad\r\nkey"), "bad  key");
        assert_eq!(server_message(b""), "(no message)");
        assert_eq!(server_message(br#"{"error":"plain"}"#), "plain");
    }

    #[test]
    fn completion_shapes() {
        let ok = br#"{"choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}"#;
        assert_eq!(parse_completion(ok).unwrap(), "hi");
        for bad in [
            &br#"{"choices":[]}"#[..],
            br#"{"choices":[{"message":{"content":null}}]}"#,
            br#"{"choices":[{"message":{"content":"  "}}]}"#,
            br#"{"object":"error"}"#,
            b"<html>",
        ] {
            assert!(matches!(parse_completion(bad), Err(LlmError::BadAnswer(_))));
        }
    }
}
