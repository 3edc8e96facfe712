//! The OpenAI-compatible chat-completions protocol (OpenAI, llama.cpp, vLLM, Ollama,
//! OpenRouter): `POST {base_url}/chat/completions` with `Authorization: Bearer`. Structured
//! answers are asked for with a JSON Schema (`response_format: json_schema`); a server too old
//! for that (HTTP 400) gets `json_object` instead, remembered for the process. An answer cut at
//! `max_tokens` (`finish_reason: "length"`), a refusal (`message.refusal`, `finish_reason:
//! "content_filter"`) or an empty one is an error, never text. The HTTP is `Client`'s.

use super::reply::truncate;
use super::{Answer, AnswerSchema, ChatMessage, Client, LlmError};
use crate::config::LlmConfig;
use std::sync::atomic::{AtomicBool, Ordering};

pub(super) struct OpenAi {
    max_tokens: u32,
    temperature: f64,
    frequency_penalty: Option<f64>,
    model: String,
    /// Set once the server refused `json_schema` (HTTP 400, an older server): from then on this
    /// process asks for a plain `json_object` instead.
    no_json_schema: AtomicBool,
}

impl OpenAi {
    pub(super) fn new(config: &LlmConfig) -> OpenAi {
        OpenAi {
            max_tokens: config.max_tokens,
            temperature: config.temperature,
            frequency_penalty: config.frequency_penalty,
            model: config.model.clone(),
            no_json_schema: AtomicBool::new(false),
        }
    }

    pub(super) fn url(&self, base_url: &str) -> String {
        format!("{base_url}/chat/completions")
    }

    /// The request; `max_tokens` overrides the configured one (`check` asks for one token).
    pub(super) fn body(
        &self,
        messages: &[ChatMessage],
        response_format: Option<serde_json::Value>,
        max_tokens: Option<u32>,
    ) -> serde_json::Value {
        let mut body = serde_json::json!({
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": max_tokens.unwrap_or(self.max_tokens),
        });
        if let Some(penalty) = self.frequency_penalty {
            body["frequency_penalty"] = serde_json::json!(penalty);
        }
        if let Some(format) = response_format {
            body["response_format"] = format;
        }
        body
    }

    /// With a `schema`, asks for `json_schema`; a server that answers 400 to that gets the same
    /// call once more with `json_object`, and keeps getting `json_object` for the rest of the
    /// process.
    pub(super) async fn chat(
        &self,
        client: &Client,
        messages: &[ChatMessage],
        schema: Option<&AnswerSchema>,
    ) -> Result<String, LlmError> {
        let url = self.url(&client.base_url);
        let post = |format| {
            let body = self.body(messages, format, None);
            let url = url.clone();
            async move { client.post(&url, &body).await?.text }
        };
        let Some(schema) = schema else {
            return post(None).await;
        };
        let plain = serde_json::json!({ "type": "json_object" });
        if self.no_json_schema.load(Ordering::Relaxed) {
            return post(Some(plain)).await;
        }
        let format = serde_json::json!({
            "type": "json_schema",
            "json_schema": { "name": schema.name, "strict": true, "schema": schema.schema },
        });
        match post(Some(format)).await {
            Err(LlmError::Rejected(message)) if message.starts_with("HTTP 400") => {
                let retry = post(Some(plain)).await;
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
}

/// A chat completion: `choices[0].message.content`, its `finish_reason`, and `usage`.
pub(super) fn read(bytes: &[u8]) -> Answer {
    #[derive(serde::Deserialize)]
    struct Completion {
        choices: Vec<Choice>,
        #[serde(default)]
        usage: Option<Usage>,
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
        #[serde(default)]
        refusal: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Usage {
        #[serde(default)]
        prompt_tokens: u64,
        #[serde(default)]
        completion_tokens: u64,
    }
    let completion: Completion = match serde_json::from_slice(bytes) {
        Ok(c) => c,
        Err(e) => {
            return Answer {
                text: Err(LlmError::BadAnswer(format!(
                    "not a chat completion: {}",
                    truncate(&e.to_string(), 200)
                ))),
                input_tokens: 0,
                output_tokens: 0,
            }
        }
    };
    let (input_tokens, output_tokens) = completion
        .usage
        .map_or((0, 0), |u| (u.prompt_tokens, u.completion_tokens));
    let text = match completion.choices.into_iter().next() {
        None => Err(LlmError::BadAnswer("no choices in the answer".into())),
        Some(choice) => {
            let reason = choice.finish_reason.as_deref();
            match choice.message {
                Message {
                    refusal: Some(r), ..
                } if !r.trim().is_empty() => Err(LlmError::Declined(truncate(r.trim(), 300))),
                _ if reason == Some("content_filter") => {
                    Err(LlmError::Declined("finish_reason content_filter".into()))
                }
                _ if reason == Some("length") => Err(LlmError::Cut(
                    "finish_reason length: llm.max_tokens was reached".into(),
                )),
                Message {
                    content: Some(c), ..
                } if !c.trim().is_empty() => Ok(c),
                _ => Err(LlmError::BadAnswer("the answer has no content".into())),
            }
        }
    };
    Answer {
        text,
        input_tokens,
        output_tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_shapes() {
        let ok = br#"{"choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3}}"#;
        let a = read(ok);
        assert_eq!(a.text.unwrap(), "hi");
        assert_eq!((a.input_tokens, a.output_tokens), (12, 3));
        for bad in [
            &br#"{"choices":[]}"#[..],
            br#"{"choices":[{"message":{"content":null}}]}"#,
            br#"{"choices":[{"message":{"content":"  "}}]}"#,
            br#"{"object":"error"}"#,
            b"<html>",
        ] {
            assert!(matches!(read(bad).text, Err(LlmError::BadAnswer(_))));
        }
        let cut =
            br#"{"choices":[{"message":{"content":"{\"body\":\"Dear"},"finish_reason":"length"}]}"#;
        assert!(matches!(read(cut).text, Err(LlmError::Cut(_))));
        let refused = br#"{"choices":[{"message":{"content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]}"#;
        assert!(matches!(read(refused).text, Err(LlmError::Declined(m)) if m.contains("can't")));
        let filtered =
            br#"{"choices":[{"message":{"content":""},"finish_reason":"content_filter"}]}"#;
        assert!(matches!(read(filtered).text, Err(LlmError::Declined(_))));
    }
}
