//! TOML files -> one checked [`Config`]. Raw serde structs mirror the files exactly
//! (`deny_unknown_fields`), then one `validate` step turns them into checked values, so the rest
//! of tend never sees an unchecked string. Every error names the file and the key. Secrets are
//! not read here, only located: [`Secret::reveal`] reads them when a connection needs them.
//!
//! This file owns the checked types the rest of tend uses, loading and validation; the serde
//! mirror of the files is `raw`, where secrets live and how they are read is `secret`.

pub mod domains;
mod raw;
mod secret;

pub use domains::{is_freemail, same_organisation};
pub use secret::Secret;

use anyhow::Result;
use raw::{RawImap, RawMailbox, RawTend};
use secret::one_secret;
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
}

#[derive(Debug, Clone, PartialEq)]
pub struct LlmConfig {
    /// OpenAI-compatible API root, such as `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<Secret>,
    pub timeout: Duration,
    pub max_tokens: u32,
    /// Sampling temperature sent with every call (0 = always the likeliest words).
    pub temperature: f64,
    /// OpenAI `frequency_penalty`; `None` leaves it out of the request (the server's default).
    pub frequency_penalty: Option<f64>,
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
    pub imap: ImapConfig,
    pub folders: Folders,
    pub rules: Rules,
}

/// Who "we" are: own addresses and aliases, and the domains of colleagues. All lower-case.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub addresses: Vec<String>,
    pub internal_domains: Vec<String>,
}

impl Identity {
    /// Is this one of our own addresses or aliases (case-insensitive; a `+tag` is ignored, so
    /// mail to `alice+web@` is mail to `alice@`)?
    pub fn own_address(&self, email: &str) -> Option<&str> {
        let email = domains::canonical(email);
        self.addresses
            .iter()
            .find(|a| domains::canonical(a) == email)
            .map(String::as_str)
    }

    /// Is this one of our own addresses or aliases (see [`Identity::own_address`])?
    pub fn is_own(&self, email: &str) -> bool {
        self.own_address(email).is_some()
    }

    /// Is this us or a colleague (an address at an internal domain or one of its subdomains,
    /// so `de.example.com` is internal when `example.com` is)?
    pub fn is_internal(&self, email: &str) -> bool {
        if self.is_own(email) {
            return true;
        }
        let email = email.trim();
        match email.rsplit_once('@') {
            Some((_, domain)) => self
                .internal_domains
                .iter()
                .any(|d| domains::within(domain, d)),
            None => false,
        }
    }

    /// The address drafts are written from.
    pub fn primary(&self) -> &str {
        &self.addresses[0]
    }
}

/// When a thread deserves a draft.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// Business days our message may wait before a follow-up is due.
    pub followup_business_days: u32,
    /// Follow-ups per silence; after that, tend leaves the thread alone.
    pub max_followups: u32,
    /// Buyer messages older than this many days get no reply draft.
    pub reply_window_days: u32,
    /// Silences whose last message is older than this many days get no follow-up.
    pub followup_window_days: u32,
    /// May the model's "no reply needed" stop a draft? When false, its veto is ignored and its
    /// body drafted anyway (a veto without a body counts as a failed answer).
    pub model_may_veto: bool,
    /// What ends the silence after our message: only an answer in its own thread (the default),
    /// or any later mail from the same person, or from anyone at their company.
    pub followup_stops_on: StopsOn,
    /// Sender domains whose Reply-To is followed even when it points at another domain (a
    /// buyer's ticket system); lower-case, without `@`.
    pub trusted_reply_to_domains: Vec<String>,
    /// Senders (`purchasing@buyer.example`) or domains (`buyer.example`) whose mail is a
    /// person's even when it carries list, bulk, noreply or calendar signs; lower-case.
    pub always_human: Vec<String>,
}

/// `[rules] followup_stops_on`: how far a buyer's later mail reaches in ending a silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StopsOn {
    /// Only a message in the thread itself (or a thread merged into it). Repeat buyers write
    /// several threads at once: a new RFQ is no answer to last week's quote.
    #[default]
    Thread,
    /// Also any later message from the person we are waiting on, in any thread.
    Person,
    /// Also any later message from anyone at their company (their domain; on a free-mail
    /// domain such as gmail.com, the person alone).
    Company,
}

impl Rules {
    /// Is `email` on the `always_human` list, by address (plus-tags aside) or by domain
    /// (subdomains included)?
    pub fn is_always_human(&self, email: &str) -> bool {
        let canonical = domains::canonical(email);
        let domain = domains::domain_of(email);
        self.always_human.iter().any(|entry| {
            if entry.contains('@') {
                domains::canonical(entry) == canonical
            } else {
                domains::within(&domain, entry)
            }
        })
    }

    /// Is the sender's domain one whose foreign Reply-To we follow?
    pub fn trusts_reply_to_of(&self, sender: &str) -> bool {
        let domain = domains::domain_of(sender);
        self.trusted_reply_to_domains
            .iter()
            .any(|d| domains::within(&domain, d))
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            followup_business_days: 3,
            max_followups: 2,
            reply_window_days: 14,
            followup_window_days: 30,
            model_may_veto: true,
            followup_stops_on: StopsOn::Thread,
            trusted_reply_to_domains: Vec::new(),
            always_human: Vec::new(),
        }
    }
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
    pub password: Secret,
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
}

/// Loads `tend.toml` at `path` and every `mailboxes/*.toml` beside it.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let (raw, text): (RawTend, _) = read_toml(path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let bad = |message: String| ConfigError {
        file: path.to_path_buf(),
        message: locate(&text, message),
    };
    let api_key = one_secret(
        "llm.api_key_file",
        raw.llm.api_key_file.map(|p| dir.join(p)),
        raw.llm.api_key_command,
        raw.llm.api_key_credential,
        false,
    )
    .map_err(bad)?;
    let base_url = raw.llm.base_url.trim_end_matches('/').to_string();
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(bad(format!(
            "key `llm.base_url`: {base_url:?} is not an http:// or https:// URL"
        )));
    }
    let temperature = raw.llm.temperature.unwrap_or(0.3);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(bad(format!(
            "key `llm.temperature`: {temperature} is not between 0 and 2"
        )));
    }
    if let Some(p) = raw
        .llm
        .frequency_penalty
        .filter(|p| !(-2.0..=2.0).contains(p))
    {
        return Err(bad(format!(
            "key `llm.frequency_penalty`: {p} is not between -2 and 2"
        )));
    }
    let llm_timeout = raw.llm.timeout_seconds.unwrap_or(120);
    if llm_timeout == 0 {
        return Err(bad("key `llm.timeout_seconds`: must be at least 1".into()));
    }
    let llm = LlmConfig {
        base_url,
        model: raw.llm.model,
        api_key,
        timeout: Duration::from_secs(llm_timeout),
        max_tokens: raw.llm.max_tokens.unwrap_or(400),
        temperature,
        frequency_penalty: raw.llm.frequency_penalty,
    };
    let poll = raw.poll_interval_seconds.unwrap_or(300);
    if poll == 0 {
        return Err(bad("key `poll_interval_seconds`: must be at least 1".into()));
    }
    let mailboxes = load_mailboxes(&dir.join("mailboxes"))?;
    Ok(Config {
        path: path.to_path_buf(),
        state_dir: dir.join(raw.state_dir.unwrap_or_else(|| "/var/lib/tend".into())),
        poll_interval: Duration::from_secs(poll),
        llm,
        mailboxes,
    })
}

/// Every `*.toml` in `dir`, sorted by name so runs are repeatable.
fn load_mailboxes(dir: &Path) -> Result<Vec<MailboxConfig>, ConfigError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ConfigError {
        file: dir.to_path_buf(),
        message: format!("cannot read the mailboxes folder: {e}"),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files.iter().map(|f| load_mailbox(f)).collect()
}

/// Reads and checks one mailbox file.
pub fn load_mailbox(file: &Path) -> Result<MailboxConfig, ConfigError> {
    let (raw, text): (RawMailbox, _) = read_toml(file)?;
    let dir = file.parent().unwrap_or(Path::new("."));
    let bad = |message: String| ConfigError {
        file: file.to_path_buf(),
        message: locate(&text, message),
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
    let internal_domains = domain_list(&raw.internal_domains);
    let r = raw.rules;
    let trusted_reply_to_domains = domain_list(&r.trusted_reply_to_domains);
    if let Some(d) = internal_domains
        .iter()
        .chain(&trusted_reply_to_domains)
        .find(|d| d.is_empty() || d.contains(['@', ' ']))
    {
        return Err(bad(format!(
            "key `{}`: {d:?} is not a domain",
            if internal_domains.contains(d) {
                "internal_domains"
            } else {
                "rules.trusted_reply_to_domains"
            }
        )));
    }
    let always_human: Vec<String> = r
        .always_human
        .iter()
        .map(|a| a.trim().trim_start_matches('@').to_ascii_lowercase())
        .collect();
    if let Some(a) = always_human
        .iter()
        .find(|a| a.is_empty() || (a.contains('@') && !is_address(a)) || a.contains(' '))
    {
        return Err(bad(format!(
            "key `rules.always_human`: {a:?} is neither an email address nor a domain"
        )));
    }
    let timezone: chrono_tz::Tz = raw.timezone.parse().map_err(|_| {
        bad(format!(
            "key `timezone`: {:?} is not an IANA time zone name such as \"Europe/Berlin\"",
            raw.timezone
        ))
    })?;
    let imap = check_imap(raw.imap, dir).map_err(bad)?;
    let d = Rules::default();
    let rules = Rules {
        followup_business_days: r.followup_business_days.unwrap_or(d.followup_business_days),
        max_followups: r.max_followups.unwrap_or(d.max_followups),
        reply_window_days: r.reply_window_days.unwrap_or(d.reply_window_days),
        followup_window_days: r.followup_window_days.unwrap_or(d.followup_window_days),
        model_may_veto: r.model_may_veto.unwrap_or(d.model_may_veto),
        followup_stops_on: r.followup_stops_on.unwrap_or(d.followup_stops_on),
        trusted_reply_to_domains,
        always_human,
    };
    if rules.followup_business_days == 0 {
        return Err(bad(
            "key `rules.followup_business_days`: must be at least 1".into(),
        ));
    }
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
        imap,
        folders: Folders {
            inbox: raw.folders.inbox,
            sent: raw.folders.sent,
            drafts: raw.folders.drafts,
        },
        rules,
    })
}

fn check_imap(raw: RawImap, dir: &Path) -> Result<ImapConfig, String> {
    let security = match raw.security.as_deref().unwrap_or("tls") {
        "tls" => Security::Tls,
        "starttls" => Security::StartTls,
        "plain" => Security::Plain,
        other => {
            return Err(format!(
                "key `imap.security`: {other:?} is not one of \"tls\", \"starttls\", \"plain\""
            ))
        }
    };
    if security == Security::Plain && !is_loopback(&raw.host) {
        return Err(format!(
            "key `imap.security`: \"plain\" sends the password unencrypted and is allowed only to a loopback host, not {:?}",
            raw.host
        ));
    }
    let port = raw.port.unwrap_or(match security {
        Security::Tls => 993,
        Security::StartTls | Security::Plain => 143,
    });
    let password = one_secret(
        "imap.password_file",
        raw.password_file.map(|p| dir.join(p)),
        raw.password_command,
        raw.password_credential,
        true,
    )?
    .ok_or_else(|| "key `imap.password_file`: missing".to_string())?;
    let timeout = raw.timeout_seconds.unwrap_or(60);
    if timeout == 0 {
        return Err("key `imap.timeout_seconds`: must be at least 1".into());
    }
    Ok(ImapConfig {
        host: raw.host,
        port,
        security,
        username: raw.username,
        password,
        ca_file: raw.ca_file.map(|p| dir.join(p)),
        timeout: Duration::from_secs(timeout),
    })
}

/// The parsed file and its text (kept to point errors at a line).
fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<(T, String), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        message: format!("cannot read: {e}"),
    })?;
    // toml's message names the line, the column and the offending key.
    let value = toml::from_str(&text).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })?;
    Ok((value, text))
}

/// Appends "(line N)" to a message naming "key `section.leaf`" when the key is in `text`.
fn locate(text: &str, message: String) -> String {
    let Some(path) = message
        .strip_prefix("key `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(path, _)| path)
    else {
        return message;
    };
    let (section, leaf) = path.rsplit_once('.').unwrap_or(("", path));
    let mut current = String::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            current = header.trim_end_matches(']').trim().to_string();
        } else if current == section
            && line
                .strip_prefix(leaf)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return format!("{message} (line {})", n + 1);
        }
    }
    message
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

/// Domains as written in the file: trimmed, without a leading `@`, lower-case.
fn domain_list(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests;
