//! The language model: trait [`LanguageModel`] and the OpenAI-compatible chat-completions
//! provider over HTTP. The only user of reqwest. It does not build prompts (that is
//! `draft::prompt`) and does not decide what a reply says.

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

/// A model that answers a chat; a second implementation is the test double in `tests/`.
pub trait LanguageModel: Send + Sync {
    /// Sends the chat and returns the assistant's text; `json` asks for a JSON object answer.
    fn complete(
        &self,
        messages: &[ChatMessage],
        json: bool,
    ) -> impl std::future::Future<Output = anyhow::Result<String>> + Send;
}
