//! The configuration files exactly as written: serde structs with `deny_unknown_fields`, one per
//! table of `tend.toml` and of a mailbox file, every value still unchecked. Adding or renaming a
//! key starts here.
//!
//! It does not check values, apply defaults or resolve paths; `config::load` does that.

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTend {
    pub(super) state_dir: Option<PathBuf>,
    pub(super) poll_interval_seconds: Option<u64>,
    pub(super) knowledge_file: Option<PathBuf>,
    pub(super) metrics_listen: Option<String>,
    pub(super) llm: RawLlm,
    pub(super) pipeline: Option<super::pipeline::RawPipeline>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLlm {
    pub(super) provider: Option<super::Provider>,
    pub(super) base_url: Option<String>,
    pub(super) model: String,
    pub(super) api_key_file: Option<PathBuf>,
    pub(super) api_key_command: Option<String>,
    pub(super) api_key_credential: Option<String>,
    pub(super) timeout_seconds: Option<u64>,
    pub(super) max_retries: Option<u32>,
    pub(super) max_tokens: Option<u32>,
    pub(super) temperature: Option<f64>,
    pub(super) frequency_penalty: Option<f64>,
    pub(super) ca_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMailbox {
    pub(super) addresses: Vec<String>,
    #[serde(default)]
    pub(super) internal_domains: Vec<String>,
    pub(super) timezone: String,
    pub(super) name: Option<String>,
    pub(super) signature: Option<String>,
    pub(super) knowledge_file: Option<PathBuf>,
    /// A preset: "gmail", "microsoft365", "fastmail", "icloud", "yahoo" (`presets`).
    pub(super) provider: Option<String>,
    pub(super) imap: RawImap,
    #[serde(default)]
    pub(super) folders: RawFolders,
    #[serde(default)]
    pub(super) rules: RawRules,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawImap {
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) security: Option<String>,
    pub(super) username: String,
    pub(super) password_file: Option<PathBuf>,
    pub(super) password_command: Option<String>,
    pub(super) password_credential: Option<String>,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) timeout_seconds: Option<u64>,
    /// "password" (the default) or "oauth2".
    pub(super) auth: Option<String>,
    pub(super) oauth2_token_command: Option<String>,
    pub(super) oauth2: Option<RawOAuth2>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOAuth2 {
    pub(super) token_endpoint: Option<String>,
    pub(super) authorization_endpoint: Option<String>,
    pub(super) device_authorization_endpoint: Option<String>,
    pub(super) client_id: Option<String>,
    pub(super) client_secret_file: Option<PathBuf>,
    pub(super) client_secret_command: Option<String>,
    pub(super) client_secret_credential: Option<String>,
    pub(super) scopes: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFolders {
    pub(super) inbox: Option<String>,
    pub(super) sent: Option<String>,
    pub(super) drafts: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRules {
    pub(super) followup_business_days: Option<u32>,
    pub(super) max_followups: Option<u32>,
    pub(super) reply_window_days: Option<u32>,
    pub(super) followup_window_days: Option<u32>,
    pub(super) model_may_veto: Option<bool>,
    pub(super) followup_stops_on: Option<super::StopsOn>,
    pub(super) max_drafts_per_day: Option<u32>,
    #[serde(default)]
    pub(super) trusted_reply_to_domains: Vec<String>,
    #[serde(default)]
    pub(super) always_human: Vec<String>,
    #[serde(default)]
    pub(super) form_senders: Vec<String>,
}
