//! TOML files -> one checked [`Config`]. Raw serde structs mirror the files exactly
//! (`deny_unknown_fields`), then one `validate` step turns them into checked values, so the rest
//! of tend never sees an unchecked string. Every error names the file and the key. Secrets are
//! not read here, only located: [`Secret::reveal`] reads them when a connection needs them.
//!
//! This file owns the checked types the rest of tend uses, loading and validation; the serde
//! mirror of the files is `raw`, where secrets live and how they are read is `secret`, the
//! `[rules]` table is `rules`, the `[llm]` table `llm`, the `[imap]` table `imap`, how a mailbox logs in (password or
//! OAuth2) `oauth2`, the `provider` presets `presets`, which addresses are ours or one
//! organisation is `domains`, reading a TOML file with the line of each key is `file`, the
//! offer's text `knowledge`, and which files of `mailboxes/` are mailboxes `mailbox_dir`.

pub mod domains;
mod file;
mod imap;
mod knowledge;
mod llm;
mod mailbox_dir;
mod oauth2;
mod pipeline;
mod presets;
mod raw;
mod rules;
mod secret;

pub use domains::{is_freemail, same_organisation, Identity};
use file::{locate, read_toml};
use knowledge::read_knowledge;
pub use knowledge::{Knowledge, KNOWLEDGE_MAX};
pub use llm::llm_of_text;
use mailbox_dir::load_mailboxes;
pub use oauth2::{token_file, Auth, OAuth2, OAuth2Client, TokenSource};
pub use pipeline::{is_atom, Outcome, Pipeline, Stage};
pub use rules::{Rules, StopsOn};
pub use secret::Secret;

use anyhow::Result;
use raw::{RawMailbox, RawTend};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configuration problem; `main` exits with status 78 (EX_CONFIG) on it.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    pub file: PathBuf,
    pub message: String,
}

/// The whole checked configuration: `tend.toml` plus every `mailboxes/*.toml` beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub path: PathBuf,
    pub state_dir: PathBuf,
    pub poll_interval: Duration,
    pub llm: LlmConfig,
    pub mailboxes: Vec<MailboxConfig>,
    /// The sales stages and when a silent deal is lost (`[pipeline]`).
    pub pipeline: Pipeline,
    /// Where `tend run` serves Prometheus metrics (`metrics_listen`); off when `None`.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// Which protocol the model server speaks (`[llm] provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
pub enum Provider {
    /// OpenAI's chat completions, as OpenAI, llama.cpp, vLLM, Ollama and OpenRouter serve them.
    #[default]
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic's Messages API.
    #[serde(rename = "anthropic")]
    Anthropic,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LlmConfig {
    pub provider: Provider,
    /// API root: OpenAI-compatible such as `http://127.0.0.1:8080/v1`, or
    /// `https://api.anthropic.com` for Anthropic.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<Secret>,
    /// One request's limit; every retry gets it again.
    pub timeout: Duration,
    /// Tries after the first for a failure worth retrying (see `llm::retry`).
    pub max_retries: u32,
    pub max_tokens: u32,
    /// Sampling temperature sent with every call (0 = always the likeliest words).
    pub temperature: f64,
    /// OpenAI `frequency_penalty`; `None` leaves it out of the request (the server's default).
    pub frequency_penalty: Option<f64>,
    /// PEM certificates trusted for the model server besides the built-in roots.
    pub ca_file: Option<PathBuf>,
}

#[cfg(test)]
impl LlmConfig {
    /// An OpenAI-compatible server on loopback with every default, for unit tests.
    pub(crate) fn test_default(model: &str) -> LlmConfig {
        LlmConfig {
            provider: Provider::OpenAi,
            base_url: "http://127.0.0.1:1/v1".into(),
            model: model.into(),
            api_key: None,
            timeout: Duration::from_secs(120),
            max_retries: 2,
            max_tokens: 400,
            temperature: 0.3,
            frequency_penalty: None,
            ca_file: None,
        }
    }
}

#[cfg(test)]
impl Config {
    /// `mailboxes` with every other setting at its default, the state in `state_dir`, for
    /// unit tests.
    pub(crate) fn test_default(state_dir: &Path, mailboxes: Vec<MailboxConfig>) -> Config {
        Config {
            path: state_dir.join("tend.toml"),
            state_dir: state_dir.to_path_buf(),
            poll_interval: Duration::from_secs(300),
            llm: LlmConfig::test_default("m"),
            mailboxes,
            pipeline: Pipeline::default(),
            metrics_listen: None,
        }
    }
}

/// One watched mailbox, named after its file.
#[derive(Debug, Clone, PartialEq)]
pub struct MailboxConfig {
    pub name: String,
    pub file: PathBuf,
    pub identity: Identity,
    /// Display name for the From header of drafts.
    pub display_name: Option<String>,
    pub timezone: chrono_tz::Tz,
    pub signature: Option<String>,
    /// What the user tells tend about their offer (`knowledge_file`), read at load.
    pub knowledge: Option<Knowledge>,
    pub imap: ImapConfig,
    pub folders: Folders,
    pub rules: Rules,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Tls,
    StartTls,
    Plain,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    /// A password, or OAuth2 (`[imap] auth`).
    pub auth: Auth,
    /// Extra root certificate (PEM) for a self-signed server.
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

/// Folder names given by the user; `None` means "find by RFC 6154 attribute, then by name".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Folders {
    pub inbox: Option<String>,
    pub sent: Option<String>,
    pub drafts: Option<String>,
    /// Names tried before the usual ones when no folder carries the attribute (a `provider`
    /// preset's, such as Gmail's `[Gmail]/Sent Mail`).
    pub sent_fallbacks: Vec<String>,
    pub drafts_fallbacks: Vec<String>,
}

/// Loads `tend.toml` at `path` and every `mailboxes/*.toml` beside it.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let (raw, text): (RawTend, _) = read_toml(path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let bad = |message: String| ConfigError {
        file: path.to_path_buf(),
        message: locate(&text, message),
    };
    let llm = llm::check(raw.llm, dir).map_err(bad)?;
    let poll = raw.poll_interval_seconds.unwrap_or(300);
    if poll == 0 {
        return Err(bad("key `poll_interval_seconds`: must be at least 1".into()));
    }
    let knowledge = raw
        .knowledge_file
        .map(|f| read_knowledge("knowledge_file", dir.join(f)))
        .transpose()
        .map_err(bad)?;
    let pipeline = pipeline::validate(raw.pipeline).map_err(bad)?;
    let metrics_listen = raw
        .metrics_listen
        .map(|a| {
            a.parse::<std::net::SocketAddr>().map_err(|_| {
                bad(format!(
                    "key `metrics_listen`: {a:?} is not an address and port such as \
                     \"127.0.0.1:9464\""
                ))
            })
        })
        .transpose()?;
    let mut mailboxes = load_mailboxes(&dir.join("mailboxes"))?;
    let state_dir = dir.join(raw.state_dir.unwrap_or_else(|| "/var/lib/tend".into()));
    oauth2::place_token_files(&mut mailboxes, &state_dir);
    // A mailbox's own knowledge_file replaces the shared one (it can say everything the shared
    // one says; two files that disagree on a price would leave the model to pick).
    for mb in mailboxes.iter_mut().filter(|mb| mb.knowledge.is_none()) {
        mb.knowledge.clone_from(&knowledge);
    }
    Ok(Config {
        path: path.to_path_buf(),
        state_dir,
        poll_interval: Duration::from_secs(poll),
        llm,
        mailboxes,
        pipeline,
        metrics_listen,
    })
}

/// Reads and checks one mailbox file.
pub fn load_mailbox(file: &Path) -> Result<MailboxConfig, ConfigError> {
    let (mut raw, text): (RawMailbox, _) = read_toml(file)?;
    let dir = file.parent().unwrap_or(Path::new("."));
    let bad = |message: String| ConfigError {
        file: file.to_path_buf(),
        message: locate(&text, message),
    };
    let fallbacks = match raw.provider.take() {
        Some(p) => presets::apply(&p, &mut raw).map_err(bad)?,
        None => presets::Fallbacks::default(),
    };
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let addresses: Vec<String> = raw
        .addresses
        .iter()
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    if addresses.is_empty() {
        return Err(bad("key `addresses`: list at least one own address".into()));
    }
    if let Some(a) = addresses.iter().find(|a| !is_address(a)) {
        return Err(bad(format!(
            "key `addresses`: {a:?} is not a bare email address (write \"alice@example.com\", \
             without a display name; the name goes in `name`)"
        )));
    }
    let internal_domains = rules::domain_list(&raw.internal_domains);
    if let Some(d) = internal_domains
        .iter()
        .find(|d| d.is_empty() || d.contains(['@', ' ']))
    {
        return Err(bad(format!(
            "key `internal_domains`: {d:?} is not a domain"
        )));
    }
    let timezone: chrono_tz::Tz = raw.timezone.parse().map_err(|_| {
        bad(format!(
            "key `timezone`: {:?} is not an IANA time zone name such as \"Europe/Berlin\"",
            raw.timezone
        ))
    })?;
    let imap = imap::check(raw.imap, dir, &name).map_err(bad)?;
    let rules = rules::check(raw.rules).map_err(bad)?;
    let knowledge = raw
        .knowledge_file
        .map(|f| read_knowledge("knowledge_file", dir.join(f)))
        .transpose()
        .map_err(bad)?;
    Ok(MailboxConfig {
        name,
        file: file.to_path_buf(),
        identity: Identity {
            addresses,
            internal_domains,
        },
        display_name: raw.name,
        timezone,
        signature: raw.signature,
        knowledge,
        imap,
        folders: Folders {
            inbox: raw.folders.inbox,
            sent: raw.folders.sent,
            drafts: raw.folders.drafts,
            sent_fallbacks: fallbacks.sent,
            drafts_fallbacks: fallbacks.drafts,
        },
        rules,
    })
}

/// The host of a URL after its `scheme://`: no user info, no port, an IPv6 literal in `[]`.
fn url_host(rest: &str) -> &str {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        host_port.split_inclusive(']').next().unwrap_or(host_port)
    } else {
        host_port.split(':').next().unwrap_or(host_port)
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A bare address that drafts can carry: what lettre (the composer's crate) accepts, so an
/// address taken here never fails later, after the model was paid.
fn is_address(a: &str) -> bool {
    crate::draft::compose::is_valid_address(a)
}

#[cfg(test)]
mod tests;
