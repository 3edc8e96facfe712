//! The `[llm]` table of tend.toml -> a checked [`LlmConfig`]: the protocol, the API root (http://
//! only to this machine), where the key lives, and the sampling and retry limits. `load` uses it
//! for tend.toml, `tend init` to test a model before it writes the file.
//!
//! It does not read the key (`Secret::reveal` does, when the client is built) nor talk to the
//! server.

use super::raw::{RawLlm, RawTend};
use super::secret::one_secret;
use super::{is_loopback, url_host, LlmConfig, Provider};
use std::path::Path;
use std::time::Duration;

/// The `[llm]` table of a tend.toml's `text`, checked as `load` checks it; relative paths are
/// taken from `dir`. The error names the key, not the file (there may be none yet).
pub fn llm_of_text(text: &str, dir: &Path) -> Result<LlmConfig, String> {
    let raw: RawTend = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
    check(raw.llm, dir)
}

pub(super) fn check(raw: RawLlm, dir: &Path) -> Result<LlmConfig, String> {
    let api_key = one_secret(
        "llm.api_key_file",
        raw.api_key_file.map(|p| dir.join(p)),
        raw.api_key_command,
        raw.api_key_credential,
        false,
    )?;
    let provider = raw.provider.unwrap_or_default();
    let base_url =
        match (raw.base_url, provider) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, Provider::Anthropic) => "https://api.anthropic.com".to_string(),
            (None, Provider::OpenAi) => return Err(
                "key `llm.base_url` is missing: the root of the OpenAI-compatible API, such as \
                 https://api.openai.com/v1 or http://127.0.0.1:8080/v1"
                    .into(),
            ),
        };
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(format!(
            "key `llm.base_url`: {base_url:?} is not an http:// or https:// URL"
        ));
    }
    // As for IMAP: the key and every buyer's mail cross in clear text only on this machine.
    if let Some(rest) = base_url.strip_prefix("http://") {
        let host = url_host(rest);
        if !is_loopback(host) {
            return Err(format!(
                "key `llm.base_url`: http:// sends the API key and the mail unencrypted and is \
                 allowed only to a loopback host, not {host:?}; use https:// (and llm.ca_file \
                 for a private CA)"
            ));
        }
    }
    let temperature = raw.temperature.unwrap_or(0.3);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(format!(
            "key `llm.temperature`: {temperature} is not between 0 and 2"
        ));
    }
    if let Some(p) = raw.frequency_penalty.filter(|p| !(-2.0..=2.0).contains(p)) {
        return Err(format!(
            "key `llm.frequency_penalty`: {p} is not between -2 and 2"
        ));
    }
    if provider == Provider::Anthropic {
        // The Messages API takes temperature 0 to 1 and has no frequency_penalty.
        if temperature > 1.0 {
            return Err(format!(
                "key `llm.temperature`: {temperature} is above 1, the most Anthropic accepts"
            ));
        }
        if raw.frequency_penalty.is_some() {
            return Err(
                "key `llm.frequency_penalty`: Anthropic's Messages API has none; remove it".into(),
            );
        }
    }
    let max_retries = raw.max_retries.unwrap_or(2);
    if max_retries > 10 {
        return Err(format!(
            "key `llm.max_retries`: {max_retries} is more than 10"
        ));
    }
    let llm_timeout = raw.timeout_seconds.unwrap_or(120);
    if llm_timeout == 0 {
        return Err("key `llm.timeout_seconds`: must be at least 1".into());
    }
    Ok(LlmConfig {
        provider,
        base_url,
        max_retries,
        model: raw.model,
        api_key,
        timeout: Duration::from_secs(llm_timeout),
        max_tokens: raw.max_tokens.unwrap_or(400),
        temperature,
        frequency_penalty: raw.frequency_penalty,
        ca_file: raw.ca_file.map(|p| dir.join(p)),
    })
}
