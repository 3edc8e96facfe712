//! The model questions of `tend init`: which server (a local Ollama or llama.cpp, OpenAI,
//! Anthropic, or another OpenAI-compatible URL), the model's name and the API key, then one
//! real small request through `llm::Client` (what `tend check` sends), with the server's words
//! and the fix when it fails, and the choice to try again, change the answers or go on.
//!
//! It stores the key (so the request reads it as the service will) but writes no tend.toml:
//! it returns the text for `init` to write.

use super::{ask, files, render, say};
use crate::config::{self, LlmConfig};
use crate::llm::Client;
use anyhow::Result;
use std::path::Path;

/// One kind of model server and its defaults.
struct Kind {
    label: &'static str,
    provider: &'static str,
    /// `None`: asked.
    base_url: Option<&'static str>,
    model: &'static str,
    /// The credential file of its key; `None`: the server takes none, or one is optional.
    key_file: Option<&'static str>,
}

const KINDS: &[Kind] = &[
    Kind {
        label: "Ollama on this machine (http://127.0.0.1:11434/v1)",
        provider: "openai",
        base_url: Some("http://127.0.0.1:11434/v1"),
        model: "llama3.2",
        key_file: None,
    },
    Kind {
        label: "llama.cpp's llama-server on this machine (http://127.0.0.1:8080/v1)",
        provider: "openai",
        base_url: Some("http://127.0.0.1:8080/v1"),
        model: "local",
        key_file: None,
    },
    Kind {
        label: "OpenAI (an API key)",
        provider: "openai",
        base_url: Some("https://api.openai.com/v1"),
        model: "gpt-4o-mini",
        key_file: Some("openai"),
    },
    Kind {
        label: "Anthropic (an API key)",
        provider: "anthropic",
        base_url: Some("https://api.anthropic.com"),
        model: "claude-sonnet-4-5",
        key_file: Some("anthropic"),
    },
    Kind {
        label: "another OpenAI-compatible server (its URL)",
        provider: "openai",
        base_url: None,
        model: "",
        key_file: None,
    },
];

/// Asks for the model until it answers or the user goes on without; the tend.toml text.
pub(super) async fn choose(tend_toml: &Path, credentials: &Path) -> Result<String> {
    let dir = tend_toml.parent().unwrap_or(Path::new("."));
    loop {
        let labels: Vec<&str> = KINDS.iter().map(|k| k.label).collect();
        let kind = &KINDS[ask::choose("Which model server writes the drafts?", &labels, 0)?];
        let base_url = match kind.base_url {
            Some(url) if kind.key_file.is_some() => url.to_string(),
            default => ask::line("The server's API root", default, url_problem)?,
        };
        let default_model = (!kind.model.is_empty()).then_some(kind.model);
        let model = ask::line(
            "The model's name (as the server lists it)",
            default_model,
            |m| m.is_empty().then(|| "name a model".to_string()),
        )?;
        let key_file = match kind.key_file {
            Some(file) => {
                let key = ask::secret("The API key (not shown)", false)?;
                files::store_secret(credentials, file, &key)?;
                Some(file)
            }
            None if kind.base_url.is_none() => {
                let key = ask::secret(
                    "Its API key, if it needs one (not shown; Enter for none)",
                    true,
                )?;
                if key.is_empty() {
                    None
                } else {
                    files::store_secret(credentials, "openai", &key)?;
                    Some("openai")
                }
            }
            None => None,
        };
        let m = render::Model {
            provider: kind.provider,
            base_url: &base_url,
            model: &model,
            key_file,
            credentials: &credentials.display().to_string(),
        };
        let text = render::tend_toml(&m, &tend_toml.display().to_string())?;
        let mut llm = match config::llm_of_text(&text, dir) {
            Ok(llm) => llm,
            Err(e) => {
                say(&format!("That does not work as [llm]: {e}"));
                continue;
            }
        };
        files::llm_by_hand(&mut llm, credentials);
        loop {
            say(&format!("Asking {model} at {base_url} for one word..."));
            match test(&llm).await {
                Ok(()) => {
                    say(&format!("ok   model {model} at {base_url} answers"));
                    return Ok(text);
                }
                Err(words) => say(&format!("FAIL model server {base_url}: {words}")),
            }
            let next = ask::choose(
                "The model did not answer. What now?",
                &[
                    "try again (the server is starting, the model is loading)",
                    "change the answers",
                    "go on without it (tend.toml is written as answered; fix it later)",
                ],
                0,
            )?;
            match next {
                0 => continue,
                1 => break,
                _ => return Ok(text),
            }
        }
    }
}

/// An existing tend.toml's model, kept or not (init never rewrites the file).
pub(super) fn keep(tend_toml: &Path, llm: &LlmConfig) -> Result<()> {
    let keep = ask::yes(
        &format!("Keep the model {} at {}?", llm.model, llm.base_url),
        true,
    )?;
    if !keep {
        say(&format!(
            "tend init does not rewrite {}: edit its [llm] table (its comments say how), then run \
             `tendctl check`. Going on with the mailbox.",
            tend_toml.display()
        ));
    }
    Ok(())
}

/// The check's one small request; on failure the server's words, after the fix when the kind
/// of failure tells it.
async fn test(llm: &LlmConfig) -> Result<(), String> {
    let client = Client::new(llm).map_err(|e| format!("{e:#}"))?;
    client
        .check()
        .await
        .map_err(|e| match super::super::checkup::model_hint(&e, llm) {
            Some(hint) => format!("{hint} ({e:#})"),
            None => format!("{e:#}"),
        })
}

fn url_problem(url: &str) -> Option<String> {
    (!(url.starts_with("http://") || url.starts_with("https://")))
        .then(|| "an http:// or https:// URL, such as http://127.0.0.1:8000/v1".to_string())
}
