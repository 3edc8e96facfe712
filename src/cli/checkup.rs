//! `tend check`: what it tries (the configuration, each mailbox's login and folders, the
//! model) and the one line per problem that says how to fix it. For the model it words whether
//! nothing answers, the key is refused or the URL or model name is wrong; the IMAP failures say
//! it themselves (`imap::diagnose`).
//!
//! It changes nothing: no store is opened, nothing is written to a mailbox.

use super::exit;
use crate::config::{Config, LlmConfig};
use crate::daemon;
use crate::llm::{Client, LlmError};
use anyhow::Result;
use std::process::ExitCode;

/// `tend check`: the configuration, each mailbox's login and folders, then the model; one
/// line per finding, `FAIL` lines for what must be fixed, and a failure status if any.
pub(super) async fn run(config: &Config) -> Result<ExitCode> {
    Ok(exit(failed(config).await))
}

/// The checks of `tend check`, printed; whether any failed. `tend init` runs them on the
/// mailbox it wrote.
pub(super) async fn failed(config: &Config) -> bool {
    println!(
        "ok   config {} ({} mailboxes)",
        config.path.display(),
        config.mailboxes.len()
    );
    let dir = config
        .path
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("mailboxes");
    for name in lookalikes(&dir) {
        println!(
            "note mailboxes/{name} is not read: only NAME.toml files are mailboxes (rename it if \
             it is meant as one)"
        );
    }
    let mut failed = false;
    for mb in &config.mailboxes {
        let result = async {
            let (session, folders) = daemon::open(mb).await?;
            let uidplus = session.has_uidplus();
            session.logout().await;
            Ok::<_, anyhow::Error>((folders, uidplus))
        }
        .await;
        match result {
            Ok((f, uidplus)) => {
                if !uidplus {
                    println!("note {}: the server has no UIDPLUS (RFC 4315): drafts of ours that are no longer wanted are only flagged \\Deleted, never expunged (a plain EXPUNGE would also purge what your mail client marked deleted); your client's next expunge removes them", mb.name);
                }
                let sent = f
                    .sent
                    .as_deref()
                    .unwrap_or("(none: our replies are seen only via other folders)");
                match &f.drafts {
                    Some(d) => println!(
                        "ok   {}: login works; inbox {:?}, sent {sent:?}, drafts {d:?}",
                        mb.name, f.inbox
                    ),
                    None => {
                        failed = true;
                        println!("FAIL {}: login works but no Drafts folder was found; set [folders] drafts", mb.name);
                    }
                }
            }
            Err(err) => {
                failed = true;
                println!("FAIL {}: {err:#}", mb.name);
            }
        }
    }
    match Client::new(&config.llm) {
        Ok(model) => match model.check().await {
            Ok(()) => println!(
                "ok   model {} at {} answers",
                config.llm.model, config.llm.base_url
            ),
            Err(err) => {
                failed = true;
                match model_hint(&err, &config.llm) {
                    Some(hint) => println!(
                        "FAIL model server {}: {hint} ({err:#})",
                        config.llm.base_url
                    ),
                    None => println!("FAIL model server {}: {err:#}", config.llm.base_url),
                }
            }
        },
        Err(err) => {
            failed = true;
            println!("FAIL model: {err:#}");
        }
    }
    failed
}

/// The fix for a failed model check, when the kind of failure tells it.
pub(super) fn model_hint(err: &anyhow::Error, llm: &LlmConfig) -> Option<String> {
    let text = match err.downcast_ref::<LlmError>()? {
        LlmError::Unavailable(m) if m.starts_with("cannot connect") => format!(
            "nothing answers at {}: start the model server (llama.cpp's llama-server, `ollama \
             serve`) or correct [llm] base_url",
            llm.base_url
        ),
        LlmError::Unavailable(_) => {
            "the model server is overloaded or its gateway is down: try again later".to_string()
        }
        LlmError::Refused(m) if m.contains("401") || m.contains("403") => {
            "the API key is refused: check the key ([llm] api_key_file, api_key_command or \
             api_key_credential) and that it may use this model"
                .to_string()
        }
        LlmError::Refused(_) => format!(
            "the URL or the model name is wrong: [llm] base_url = {:?} (an OpenAI-compatible \
             server's usually ends in /v1) and model = {:?} (as the server lists it)",
            llm.base_url, llm.model
        ),
        LlmError::Rejected(_) => format!(
            "the server does not take tend's request as configured: check [llm] model = {:?}, \
             temperature and frequency_penalty against what the server accepts",
            llm.model
        ),
        _ => return None,
    };
    Some(text)
}

/// Files in the mailboxes folder that look meant as mailbox files but are not read
/// (`bob.conf`, `bob.toml.bak`); examples (`*.sample`), secrets and knowledge files are not.
fn lookalikes(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".toml") && !n.ends_with(".sample"))
        .filter(|n| n.contains(".toml") || [".conf", ".cfg", ".ini"].iter().any(|x| n.ends_with(x)))
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llm() -> LlmConfig {
        let dir = tempfile::tempdir().unwrap();
        let tend = dir.path().join("tend.toml");
        std::fs::create_dir(dir.path().join("mailboxes")).unwrap();
        std::fs::write(
            &tend,
            "[llm]\nbase_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("mailboxes/a.toml"),
            "addresses = [\"a@x.example\"]\ntimezone = \"UTC\"\n[imap]\nhost = \"h\"\n\
             username = \"a\"\npassword_command = \"echo pw\"\n",
        )
        .unwrap();
        crate::config::load(&tend).unwrap().llm
    }

    fn hint(err: LlmError) -> String {
        model_hint(&anyhow::Error::new(err), &llm()).unwrap_or_default()
    }

    #[test]
    fn each_model_failure_says_what_to_fix() {
        let down = hint(LlmError::Unavailable("cannot connect: refused".into()));
        assert!(
            down.starts_with("nothing answers at http://127.0.0.1:1/v1"),
            "{down}"
        );
        let key = hint(LlmError::Refused("HTTP 401 Unauthorized: bad key".into()));
        assert!(key.starts_with("the API key is refused"), "{key}");
        let name = hint(LlmError::Refused("HTTP 404 Not Found: no model".into()));
        assert!(name.contains("model = \"m\""), "{name}");
        assert_eq!(hint(LlmError::Failed("timed out".into())), "");
    }

    #[test]
    fn only_files_meant_as_mailboxes_are_noted_as_not_read() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "a.toml",
            "b.conf",
            "c.toml.bak",
            "example.toml.sample",
            "a.password",
            "offer.txt",
        ] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        assert_eq!(lookalikes(dir.path()), ["b.conf", "c.toml.bak"]);
    }
}
