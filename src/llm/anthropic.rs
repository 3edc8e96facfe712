//! Anthropic's Messages API, natively: `POST {base_url}/v1/messages` with `x-api-key` and
//! `anthropic-version: 2023-06-01`, `max_tokens` (required there), the system prompt as the
//! top-level `system`, and a structured answer through the one tool the model must call
//! (`tools[0].input_schema` is the schema, `tool_choice: {"type": "tool", "name": ...}`); the
//! answer is that `tool_use` block's `input`, handed on as JSON text. `stop_reason`
//! `"max_tokens"` (or `"model_context_window_exceeded"`) and `"refusal"` are errors, never text.
//! The HTTP is `Client`'s.

use super::reply::truncate;
use super::{Answer, AnswerSchema, ChatMessage, LlmError, Role};
use crate::config::LlmConfig;

/// The API version sent with every request: the one the Messages API was released under, and
/// still current for everything used here.
pub(super) const VERSION: &str = "2023-06-01";

pub(super) struct Anthropic {
    model: String,
    max_tokens: u32,
    temperature: f64,
}

impl Anthropic {
    pub(super) fn new(config: &LlmConfig) -> Anthropic {
        Anthropic {
            model: config.model.clone(),
            max_tokens: config.max_tokens,
            temperature: config.temperature,
        }
    }

    /// `https://api.anthropic.com` -> `.../v1/messages`; a base URL already ending in `/v1`
    /// (as OpenAI-style URLs do) is not given a second one.
    pub(super) fn url(&self, base_url: &str) -> String {
        if base_url.ends_with("/v1") {
            format!("{base_url}/messages")
        } else {
            format!("{base_url}/v1/messages")
        }
    }

    /// The request; `max_tokens` overrides the configured one (`check` asks for one token).
    pub(super) fn body(
        &self,
        messages: &[ChatMessage],
        schema: Option<&AnswerSchema>,
        max_tokens: Option<u32>,
    ) -> serde_json::Value {
        let system: Vec<&str> = messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        // The API wants user and assistant turns alternating; ours are all the user's, so they
        // become one turn.
        let user: Vec<&str> = messages
            .iter()
            .filter(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .collect();
        let mut body = serde_json::json!({
            "model": self.model,
            "max_tokens": max_tokens.unwrap_or(self.max_tokens),
            "temperature": self.temperature,
            "messages": [{ "role": "user", "content": user.join("\n\n") }],
        });
        if !system.is_empty() {
            body["system"] = serde_json::json!(system.join("\n\n"));
        }
        if let Some(schema) = schema {
            body["tools"] = serde_json::json!([{
                "name": schema.name,
                "description": "Give your answer by calling this tool; its input is the answer.",
                "input_schema": schema.schema,
            }]);
            body["tool_choice"] = serde_json::json!({ "type": "tool", "name": schema.name });
        }
        body
    }
}

/// A Messages API response: the `tool_use` block's `input` (as JSON text) or the text blocks,
/// after `stop_reason`; and `usage`.
pub(super) fn read(bytes: &[u8]) -> Answer {
    #[derive(serde::Deserialize)]
    struct Message {
        content: Vec<Block>,
        #[serde(default)]
        stop_reason: Option<String>,
        #[serde(default)]
        usage: Option<Usage>,
    }
    #[derive(serde::Deserialize)]
    struct Block {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        input: Option<serde_json::Value>,
    }
    #[derive(serde::Deserialize)]
    struct Usage {
        #[serde(default)]
        input_tokens: u64,
        #[serde(default)]
        output_tokens: u64,
        #[serde(default)]
        cache_creation_input_tokens: Option<u64>,
        #[serde(default)]
        cache_read_input_tokens: Option<u64>,
    }
    let message: Message = match serde_json::from_slice(bytes) {
        Ok(m) => m,
        Err(e) => {
            return Answer {
                text: Err(LlmError::BadAnswer(format!(
                    "not a Messages API response: {}",
                    truncate(&e.to_string(), 200)
                ))),
                input_tokens: 0,
                output_tokens: 0,
            }
        }
    };
    let (input_tokens, output_tokens) = message.usage.map_or((0, 0), |u| {
        let cached =
            u.cache_creation_input_tokens.unwrap_or(0) + u.cache_read_input_tokens.unwrap_or(0);
        (u.input_tokens + cached, u.output_tokens)
    });
    let text = match message.stop_reason.as_deref() {
        Some("refusal") => Err(LlmError::Declined("stop_reason refusal".into())),
        Some(r @ ("max_tokens" | "model_context_window_exceeded")) => Err(LlmError::Cut(format!(
            "stop_reason {r}: llm.max_tokens was reached"
        ))),
        _ => content(
            message
                .content
                .into_iter()
                .map(|b| (b.kind, b.text, b.input)),
        ),
    };
    Answer {
        text,
        input_tokens,
        output_tokens,
    }
}

/// The first `tool_use` input, else the text blocks joined.
fn content(
    blocks: impl Iterator<Item = (String, Option<String>, Option<serde_json::Value>)>,
) -> Result<String, LlmError> {
    let mut text = String::new();
    for (kind, t, input) in blocks {
        match (kind.as_str(), t, input) {
            ("tool_use", _, Some(input @ serde_json::Value::Object(_))) => {
                return Ok(input.to_string())
            }
            ("tool_use", _, _) => {
                return Err(LlmError::BadAnswer(
                    "a tool_use block without an object input".into(),
                ))
            }
            ("text", Some(t), _) => text.push_str(&t),
            _ => {}
        }
    }
    if text.trim().is_empty() {
        Err(LlmError::BadAnswer("the answer has no content".into()))
    } else {
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_shapes() {
        let tool = br#"{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"Sure."},{"type":"tool_use","id":"toolu_1","name":"draft_reply","input":{"needs_reply":true,"body":"Hello"}}],"stop_reason":"tool_use","usage":{"input_tokens":100,"output_tokens":20,"cache_read_input_tokens":5}}"#;
        let a = read(tool);
        let v: serde_json::Value = serde_json::from_str(&a.text.unwrap()).unwrap();
        assert_eq!(v["body"], "Hello");
        assert_eq!((a.input_tokens, a.output_tokens), (105, 20));
        let text = br#"{"content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn"}"#;
        assert_eq!(read(text).text.unwrap(), "hi");
        let cut = br#"{"content":[{"type":"text","text":"Dear"}],"stop_reason":"max_tokens"}"#;
        assert!(matches!(read(cut).text, Err(LlmError::Cut(_))));
        let refusal = br#"{"content":[],"stop_reason":"refusal"}"#;
        assert!(matches!(read(refusal).text, Err(LlmError::Declined(_))));
        for bad in [
            &br#"{"content":[],"stop_reason":"end_turn"}"#[..],
            br#"{"content":[{"type":"tool_use","input":"x"}]}"#,
            br#"{"type":"error"}"#,
            b"<html>",
        ] {
            assert!(matches!(read(bad).text, Err(LlmError::BadAnswer(_))));
        }
    }

    #[test]
    fn system_on_top_and_one_user_turn() {
        let config = crate::config::LlmConfig::test_default("claude-x");
        let a = Anthropic::new(&config);
        assert_eq!(
            a.url("https://api.anthropic.com"),
            "https://api.anthropic.com/v1/messages"
        );
        assert_eq!(
            a.url("http://127.0.0.1:9/v1"),
            "http://127.0.0.1:9/v1/messages"
        );
        let messages = [
            ChatMessage {
                role: Role::System,
                content: "rules".into(),
            },
            ChatMessage {
                role: Role::User,
                content: "a".into(),
            },
            ChatMessage {
                role: Role::User,
                content: "b".into(),
            },
        ];
        let schema = AnswerSchema {
            name: "draft_reply",
            schema: serde_json::json!({"type": "object"}),
        };
        let body = a.body(&messages, Some(&schema), None);
        assert_eq!(body["system"], "rules");
        assert_eq!(body["messages"].as_array().unwrap().len(), 1);
        assert_eq!(body["messages"][0]["content"], "a\n\nb");
        assert_eq!(body["tool_choice"]["name"], "draft_reply");
        assert_eq!(body["tools"][0]["input_schema"]["type"], "object");
        assert_eq!(body["max_tokens"], config.max_tokens);
    }
}
