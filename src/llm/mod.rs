//! The language model: trait [`LanguageModel`] and [`Client`], its one implementation over HTTP,
//! speaking either the OpenAI-compatible chat-completions protocol (`openai`) or Anthropic's
//! Messages API (`anthropic`). The only user of reqwest. It does not build prompts (that is
//! `draft::prompt`) and does not decide what a reply says. Failures are an [`LlmError`] inside
//! the `anyhow::Error`, so the daemon can `downcast_ref` and branch (back off, retry, give up).
//! Each call is retried here the way the official SDKs do it (`retry`); the error that comes out
//! after the last try keeps its kind. A `Retry-After` is remembered for every task sharing the
//! client: until that deadline every call fails at once as [`LlmError::RateLimited`] without a
//! request. Tokens used are added to the counter of the task that asked ([`counting`]). Reading
//! what a server answered (status kinds, capped bodies, Retry-After) is `reply`; each protocol's
//! request and answer shapes are its own file.

use anyhow::Result;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::{LlmConfig, Provider};
use reply::{read_capped, read_prefix, status_error, transport_error};

mod anthropic;
mod openai;
mod reply;
mod retry;
mod usage;

use usage::add_usage;
pub use usage::{counting, Usage};

/// The servers' answers as the clients read them, pure: for the fuzz targets (`fuzz/`) and
/// their regression tests, which feed them arbitrary bytes.
pub mod readers {
    pub use super::reply::MESSAGE_CAP;
    use super::LlmError;

    /// The text of an OpenAI chat completion, or why it is none.
    pub fn openai(bytes: &[u8]) -> Result<String, LlmError> {
        super::openai::read(bytes).text
    }

    /// The tool input of an Anthropic Messages answer, or why it is none.
    pub fn anthropic(bytes: &[u8]) -> Result<String, LlmError> {
        super::anthropic::read(bytes).text
    }

    /// An error body as a log line: capped, without control characters.
    pub fn server_message(bytes: &[u8]) -> String {
        super::reply::server_message(bytes)
    }
}

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

/// The shape an answer must have: a named JSON Schema. OpenAI-compatible servers get it as
/// `response_format: json_schema` (OpenAI, llama.cpp, vLLM and Ollama constrain the output to
/// it, which a small model needs far more than a description in words); Anthropic as the
/// `input_schema` of the one tool the model must call.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerSchema {
    /// `[a-zA-Z0-9_-]`, at most 64 characters (OpenAI's rule, and Anthropic's for tool names).
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

    /// The longest one call may take, retries included; the daemon's watchdog allows for it.
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
/// 429 (rate limit), and 502/503/504/529 (a gateway or an overloaded server: nothing in our
/// request causes those). Everything else is blamed on the request: 400/413/422 and other 4xx say
/// so themselves; 500 is what llama.cpp and vLLM answer to a prompt they choke on; a timeout is
/// most often one long generation; an unusable 200 is this answer. Blaming the request when the
/// server was at fault costs one failed call per finding and a backoff; blaming the server when
/// one thread was at fault stops every draft of the mailbox, so the doubtful cases go here.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// HTTP 429, or a `Retry-After` deadline not yet passed: wait, then retry. Server-wide.
    #[error("the model server is rate limiting (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// No connection, or 502/503/504/529: the server is down or overloaded. Server-wide.
    #[error("the model server is unavailable: {0}")]
    Unavailable(String),
    /// 401, 403, 404: the key, the model name or the URL is wrong. Server-wide.
    #[error("the model server refuses us: {0}")]
    Refused(String),
    /// Any other 4xx (400 context too long or content policy, 413, 422): this request.
    #[error("the model server rejected the request: {0}")]
    Rejected(String),
    /// A timeout, a 500 or another 5xx, a 408/409, a connection lost mid-answer: this request.
    #[error("the model call failed: {0}")]
    Failed(String),
    /// 200 but not an answer we can use (bad JSON, no choices, no tool call, empty, oversized).
    #[error("the model server's answer is unusable: {0}")]
    BadAnswer(String),
    /// 200, but the model stopped at `max_tokens` (OpenAI `finish_reason: "length"`, Anthropic
    /// `stop_reason: "max_tokens"`): what it wrote is cut off, never a draft.
    #[error("the model's answer was cut off: {0}")]
    Cut(String),
    /// 200, but the model declined (OpenAI `refusal` / `content_filter`, Anthropic
    /// `stop_reason: "refusal"`): never a draft.
    #[error("the model declined to answer: {0}")]
    Declined(String),
}

impl LlmError {
    /// Would every other request fail the same way now? Then a caller stops asking.
    pub fn for_everyone(&self) -> bool {
        matches!(
            self,
            LlmError::RateLimited { .. } | LlmError::Unavailable(_) | LlmError::Refused(_)
        )
    }

    /// The server answered, but with nothing to draft from: worth asking once more (the draft
    /// code does), then the model's failure for that finding.
    pub fn is_unusable_answer(&self) -> bool {
        matches!(
            self,
            LlmError::BadAnswer(_) | LlmError::Cut(_) | LlmError::Declined(_)
        )
    }
}

/// What one protocol makes of a 200: the answer text and the tokens it cost.
struct Answer {
    text: Result<String, LlmError>,
    input_tokens: u64,
    output_tokens: u64,
}

/// The two protocols: request shapes and answer readers; the HTTP, retries and deadline are
/// [`Client`]'s.
enum Protocol {
    OpenAi(openai::OpenAi),
    Anthropic(anthropic::Anthropic),
}

/// The model server over HTTP, shared (by reference or `Arc`) by every mailbox task.
pub struct Client {
    http: reqwest::Client,
    protocol: Protocol,
    base_url: String,
    model: String,
    /// The key's header (`Authorization: Bearer` or `x-api-key`), marked sensitive.
    auth: Option<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    timeout: Duration,
    max_retries: u32,
    /// No request before this: the server's last `Retry-After`, for every task sharing us.
    not_before: Mutex<Option<Instant>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the key.
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

impl Client {
    /// Builds the client; reads the API key (if configured) now, once.
    pub fn new(config: &LlmConfig) -> Result<Client> {
        use anyhow::Context;
        let auth = match &config.api_key {
            Some(secret) => {
                let key = secret.reveal().context("reading the model API key")?;
                let (name, text) = match config.provider {
                    Provider::OpenAi => (reqwest::header::AUTHORIZATION, format!("Bearer {key}")),
                    Provider::Anthropic => (
                        reqwest::header::HeaderName::from_static("x-api-key"),
                        key.to_string(),
                    ),
                };
                let mut value = reqwest::header::HeaderValue::from_str(&text).map_err(|_| {
                    anyhow::anyhow!(
                        "the model API key contains characters not allowed in an HTTP header"
                    )
                })?;
                value.set_sensitive(true);
                Some((name, value))
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
        let http = builder
            // Per request: each retry gets the whole time again.
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(30)))
            // A redirect could carry the key elsewhere; an API endpoint does not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tend/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client for the model")?;
        let base_url = config.base_url.trim_end_matches('/').to_string();
        let protocol = match config.provider {
            Provider::OpenAi => Protocol::OpenAi(openai::OpenAi::new(config)),
            Provider::Anthropic => Protocol::Anthropic(anthropic::Anthropic::new(config)),
        };
        Ok(Client {
            http,
            protocol,
            base_url,
            model: config.model.clone(),
            auth,
            timeout: config.timeout,
            max_retries: config.max_retries,
            not_before: Mutex::new(None),
        })
    }

    /// One answer; the error kind says whether to retry later.
    pub async fn chat(
        &self,
        messages: &[ChatMessage],
        schema: Option<&AnswerSchema>,
    ) -> Result<String, LlmError> {
        match &self.protocol {
            Protocol::OpenAi(p) => p.chat(self, messages, schema).await,
            Protocol::Anthropic(p) => {
                let body = p.body(messages, schema, None);
                let answer = self.post(&p.url(&self.base_url), &body).await?;
                answer.text
            }
        }
    }

    /// `tend check`: a real one-token request to the configured model with the configured
    /// sampling, so a wrong model name, a key that may not chat or a parameter the model refuses
    /// fails here and not at the first draft (review 1.7.4). Retried like any call.
    pub async fn check(&self) -> Result<()> {
        let hello = [ChatMessage {
            role: Role::User,
            content: "Say OK.".into(),
        }];
        let (url, body) = match &self.protocol {
            Protocol::OpenAi(p) => (p.url(&self.base_url), p.body(&hello, None, Some(1))),
            Protocol::Anthropic(p) => (p.url(&self.base_url), p.body(&hello, None, Some(1))),
        };
        // A 200 from the model, whatever it says (one token is cut, of course): the URL, the
        // key and the model name work.
        self.post(&url, &body).await?;
        Ok(())
    }

    /// How long until the server's last `Retry-After` has passed, if it has not.
    pub fn waiting(&self) -> Option<Duration> {
        let guard = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .and_then(|at| at.checked_duration_since(Instant::now()))
            .filter(|d| !d.is_zero())
    }

    /// Remembers a `Retry-After` for every caller; a later deadline wins.
    fn hold_off(&self, wait: Duration) {
        let at = Instant::now() + wait;
        let mut guard = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none_or(|old| old < at) {
            *guard = Some(at);
        }
    }

    /// POSTs `body` to `url`, retrying as `retry` says, and reads the 200 with this protocol.
    /// The shared deadline is checked before every try, so a task that waits here never sends
    /// while another task's `Retry-After` runs.
    async fn post(&self, url: &str, body: &serde_json::Value) -> Result<Answer, LlmError> {
        let mut retries = 0;
        loop {
            if let Some(wait) = self.waiting() {
                return Err(LlmError::RateLimited {
                    retry_after: Some(wait),
                });
            }
            let failure = match self.send(url, body).await {
                Ok(bytes) => {
                    let answer = match &self.protocol {
                        Protocol::OpenAi(_) => openai::read(&bytes),
                        Protocol::Anthropic(_) => anthropic::read(&bytes),
                    };
                    add_usage(answer.input_tokens, answer.output_tokens);
                    return Ok(answer);
                }
                Err(f) => f,
            };
            // RFC 9110 10.2.3: Retry-After on a 429 or a 503 says when to come back; every
            // task sharing us waits for it, this one included.
            if let (Some(wait), true) = (failure.retry_after, failure.error.for_everyone()) {
                self.hold_off(wait);
            }
            let Some(wait) = retry::delay(&failure, retries, self.max_retries) else {
                return Err(failure.error);
            };
            retries += 1;
            tracing::info!(
                retry = retries,
                wait_ms = wait.as_millis() as u64,
                "the model call failed, retrying: {}",
                failure.error
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One try: the 200's body, or what went wrong and what the server said about retrying.
    async fn send(&self, url: &str, body: &serde_json::Value) -> Result<Vec<u8>, retry::Failure> {
        let mut request = self.http.post(url).json(body);
        if let Some((name, value)) = &self.auth {
            request = request.header(name, value.clone());
        }
        if let Protocol::Anthropic(_) = &self.protocol {
            request = request.header("anthropic-version", anthropic::VERSION);
        }
        tracing::debug!(url, model = %self.model, "asking the model");
        let started = Instant::now();
        let response = request
            .send()
            .await
            .map_err(|e| retry::Failure::transport(&e, transport_error(&e)))?;
        let status = response.status();
        let headers = retry::Hints::from(response.headers());
        if !status.is_success() {
            let bytes = read_prefix(response, ERROR_BODY_CAP).await;
            let error = status_error(status, headers.retry_after, &bytes);
            return Err(retry::Failure::status(status.as_u16(), error, headers));
        }
        let bytes = read_capped(response, RESPONSE_CAP)
            .await
            .map_err(retry::Failure::final_)?;
        tracing::debug!(
            answer_bytes = bytes.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "the model answered"
        );
        Ok(bytes)
    }
}

impl LanguageModel for Client {
    fn time_limit(&self) -> Duration {
        // Every try may take the whole timeout, and each wait between them is capped.
        self.timeout * (self.max_retries + 1) + retry::LONGEST_WAIT * self.max_retries
    }

    async fn complete(
        &self,
        messages: &[ChatMessage],
        schema: Option<&AnswerSchema>,
    ) -> Result<String> {
        Ok(self.chat(messages, schema).await?)
    }
}
