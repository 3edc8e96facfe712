//! The language model: trait [`LanguageModel`] and the OpenAI-compatible chat-completions
//! provider over HTTP ([`OpenAi`]). The only user of reqwest. It does not build prompts (that is
//! `draft::prompt`) and does not decide what a reply says. Failures are an [`LlmError`] inside
//! the `anyhow::Error`, so the daemon can `downcast_ref` and branch (back off, retry, give up).
//! Structured answers are asked for with a JSON Schema (`response_format: json_schema`); a server
//! too old for that (HTTP 400) gets `json_object` instead, remembered for the process. A
//! `Retry-After` is remembered too: one [`OpenAi`] is shared by every mailbox task, and until the
//! server's deadline every call fails at once as [`LlmError::RateLimited`] without a request.

use anyhow::Result;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
const MESSAGE_CAP: usize = 300;

/// Longest Retry-After honoured; a server asking for more gets this.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

/// Why a model call failed, in the kinds a caller branches on.
///
/// The daemon asks one question of a failure: is it about the server (every request would fail
/// alike, so stop asking for this pass) or about this request (this thread is too long, breaks a
/// content policy, took too long to generate, or crashed the server: record it on the finding
/// and go on with the others)? [`LlmError::for_everyone`] answers it. Server-wide are: no
/// connection at all (refused, DNS, TLS), 401/403 (the key), 404 (the model name or the URL),
/// 429 (rate limit), and 502/503/504 (a gateway or an overloaded server: nothing in our request
/// causes those). Everything else is blamed on the request: 400/413/422 and other 4xx say so
/// themselves; 500 is what llama.cpp and vLLM answer to a prompt they choke on; a timeout is most
/// often one long generation; an unusable 200 is this answer. Blaming the request when the
/// server was at fault costs one failed call per finding and a backoff; blaming the server when
/// one thread was at fault stops every draft of the mailbox, so the doubtful cases go here.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// HTTP 429, or a `Retry-After` deadline not yet passed: wait, then retry. Server-wide.
    #[error("the model server is rate limiting (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// No connection, or 502/503/504: the server is down. Server-wide; retry later.
    #[error("the model server is unavailable: {0}")]
    Unavailable(String),
    /// 401, 403, 404: the key, the model name or the URL is wrong. Server-wide.
    #[error("the model server refuses us: {0}")]
    Refused(String),
    /// Any other 4xx (400 context too long or content policy, 413, 422): this request.
    #[error("the model server rejected the request: {0}")]
    Rejected(String),
    /// A timeout, a 500 or another 5xx, a connection lost mid-answer: this request, transient.
    #[error("the model call failed: {0}")]
    Failed(String),
    /// 200 but not a chat completion we can use (bad JSON, no choices, empty or oversized).
    #[error("the model server's answer is unusable: {0}")]
    BadAnswer(String),
}

impl LlmError {
    /// Would every other request fail the same way now? Then a caller stops asking.
    pub fn for_everyone(&self) -> bool {
        matches!(
            self,
            LlmError::RateLimited { .. } | LlmError::Unavailable(_) | LlmError::Refused(_)
        )
    }
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
    /// No request before this: the server's last `Retry-After`, for every task sharing us.
    not_before: Mutex<Option<Instant>>,
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
        let mut builder = reqwest::Client::builder();
        if let Some(path) = &config.ca_file {
            // Added to the compiled-in roots: a self-hosted server behind a company CA.
            let pem = std::fs::read(path)
                .with_context(|| format!("reading the model CA file {}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("reading the certificates in {}", path.display()))?;
            anyhow::ensure!(
                !certs.is_empty(),
                "the model CA file {} holds no PEM certificate",
                path.display()
            );
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
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
            not_before: Mutex::new(None),
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
        if let Some(wait) = self.waiting() {
            return Err(LlmError::RateLimited {
                retry_after: Some(wait),
            });
        }
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

    /// How long until the server's last `Retry-After` has passed, if it has not.
    pub fn waiting(&self) -> Option<Duration> {
        let guard = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .and_then(|at| at.checked_duration_since(Instant::now()))
            .filter(|d| !d.is_zero())
    }

    /// Remembers a `Retry-After` (429 or 503) for every caller; a later deadline wins.
    fn hold_off(&self, wait: Duration) {
        let at = Instant::now() + wait;
        let mut guard = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none_or(|old| old < at) {
            *guard = Some(at);
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
            let err = status_error(status, retry_after, &bytes);
            // RFC 9110 10.2.3: Retry-After on a 429 or a 503 says when to come back.
            if let (Some(wait), true) = (retry_after, err.for_everyone()) {
                self.hold_off(wait);
            }
            return Err(err);
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
        // No connection at all (refused, DNS, TLS, connect timeout): the server, for everyone.
        // A timeout or a reset after connecting: most likely this one long request.
        if err.is_connect() {
            LlmError::Unavailable(format!("cannot connect: {}", error_chain(&err)))
        } else if err.is_timeout() {
            LlmError::Failed(format!("timed out: {}", error_chain(&err)))
        } else {
            LlmError::Failed(format!("request failed: {}", error_chain(&err)))
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
                return Err(LlmError::Failed(format!(
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
    let text = format!("HTTP {status}: {message}");
    // Which of these are server-wide: see [`LlmError`].
    match code {
        429 => LlmError::RateLimited { retry_after },
        401 | 403 | 404 => LlmError::Refused(text),
        502..=504 => LlmError::Unavailable(text),
        408 | 500..=599 => LlmError::Failed(text),
        _ => LlmError::Rejected(text),
    }
}

/// The server's own words: `error.message` of an OpenAI error body, else the text, truncated.
fn server_message(body: &[u8]) -> String {
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
fn parse_completion(bytes: &[u8]) -> Result<String, LlmError> {
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
        assert!(matches!(kind(S::REQUEST_TIMEOUT), LlmError::Failed(_)));
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
