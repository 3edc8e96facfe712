//! What `tend check` adds to a failure so that its one line says how to fix it: for the model,
//! whether nothing answers, the key is refused or the URL or model name is wrong. The IMAP
//! failures already say it themselves (`imap::diagnose`).
//!
//! Only wording; `check` itself (what is tried, in which order) is in `cli`.

use crate::config::LlmConfig;
use crate::llm::LlmError;

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
}
