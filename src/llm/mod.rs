//! The language model: trait [`LanguageModel`] and the OpenAI-compatible chat-completions
//! provider over HTTP ([`OpenAi`]). The only user of reqwest. It does not build prompts (that is
//! `draft::prompt`) and does not decide what a reply says. Failures are an [`LlmError`] inside
//! the `anyhow::Error`, so the daemon can `downcast_ref` and branch (back off, retry, give up).
//! Structured answers are asked for with a JSON Schema (`response_format: json_schema`); a server
//! too old for that (HTTP 400) gets `json_object` instead, remembered for the process. A
//! `Retry-After` is remembered too: one [`OpenAi`] is shared by every mailbox task, and until the
//! server's deadline every call fails at once as [`LlmError::RateLimited`] without a request.
//! Reading what the server answered (status kinds, capped bodies, Retry-After) is `reply`.

use anyhow::Result;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::LlmConfig;
use reply::{
    parse_completion, parse_retry_after, read_capped, read_prefix, status_error, transport_error,
};

mod reply;

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
