//! The real `Client` speaking Anthropic's Messages API to the fake server of `support::llm`: the
//! request it sends (headers, `system`, the forced tool), the `tool_use` input it reads, which
//! failures it retries (429 with retry-after, 529 overloaded, 5xx; never 400), a timeout,
//! `max_tokens` and `refusal` stops, malformed JSON, the tokens counted, and `check`.

mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::llm::{FakeLlm, Reply, USAGE};
use tend::config::{LlmConfig, Provider, Secret};
use tend::llm::{counting, AnswerSchema, ChatMessage, Client, LanguageModel, LlmError, Role};

fn config(base_url: &str, key: Option<PathBuf>) -> LlmConfig {
    LlmConfig {
        provider: Provider::Anthropic,
        base_url: base_url.into(),
        model: "claude-test".into(),
        api_key: key.map(Secret::File),
        timeout: Duration::from_secs(5),
        max_retries: 2,
        max_tokens: 321,
        temperature: 0.3,
        frequency_penalty: None,
        ca_file: None,
    }
}

fn chat() -> Vec<ChatMessage> {
    vec![
        ChatMessage {
            role: Role::System,
            content: "be brief".into(),
        },
        ChatMessage {
            role: Role::User,
            content: "hello ✓".into(),
        },
    ]
}

fn schema() -> AnswerSchema {
    // The draft's schema without stages: these tests are about the HTTP layer.
    tend::draft::prompt::answer_schema(&tend::config::Pipeline {
        stages: vec![],
        ..Default::default()
    })
}

fn kind(err: anyhow::Error) -> LlmError {
    err.downcast::<LlmError>()
        .unwrap_or_else(|e| panic!("not an LlmError: {e:#}"))
}

/// A server answering the n-th request (from 0) with `script(n)`.
fn scripted(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> FakeLlm {
    let n = Arc::new(AtomicUsize::new(0));
    FakeLlm::start(move |_| script(n.fetch_add(1, Ordering::SeqCst)))
}

fn error(kind: &str) -> String {
    json!({"type": "error", "error": {"type": kind, "message": format!("{kind} says no")}})
        .to_string()
}

fn client(llm: &FakeLlm) -> Client {
    Client::new(&config(&llm.anthropic_base_url(), None)).unwrap()
}

const ANSWER: &str = r#"{"needs_reply":true,"reason":"asks for a price","body":"Dear Ann, ..."}"#;

#[tokio::test]
async fn request_shape_and_the_tool_use_input_read() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "sk-ant-test\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let llm = FakeLlm::start(|_| Reply::Content(ANSWER.into()));
    let model = Client::new(&config(&llm.anthropic_base_url(), Some(key))).unwrap();
    let answer = model.complete(&chat(), Some(&schema())).await.unwrap();
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["body"], "Dear Ann, ...");
    let req = &llm.requests()[0];
    assert_eq!(req["_headers"]["x-api-key"], "sk-ant-test");
    assert_eq!(req["_headers"]["anthropic-version"], "2023-06-01");
    assert_eq!(req["model"], "claude-test");
    assert_eq!(req["max_tokens"], 321);
    assert_eq!(req["system"], "be brief");
    assert_eq!(
        req["messages"],
        json!([{"role": "user", "content": "hello ✓"}])
    );
    let name = schema().name;
    assert_eq!(req["tool_choice"], json!({"type": "tool", "name": name}));
    assert_eq!(req["tools"][0]["name"], name);
    assert_eq!(req["tools"][0]["input_schema"], schema().schema);
    assert!(req.get("response_format").is_none() && req.get("frequency_penalty").is_none());
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_and_retried() {
    let llm = scripted(|n| match n {
        0 => Reply::Headers(
            vec![("retry-after".into(), "1".into())],
            Box::new(Reply::Status(429, error("rate_limit_error"))),
        ),
        _ => Reply::Content(ANSWER.into()),
    });
    let asked = Instant::now();
    client(&llm)
        .complete(&chat(), Some(&schema()))
        .await
        .unwrap();
    assert!(asked.elapsed() >= Duration::from_secs(1));
    assert_eq!(llm.requests().len(), 2);
}

#[tokio::test]
async fn a_529_overloaded_is_retried_and_stays_server_wide_when_it_persists() {
    let llm = scripted(|n| match n {
        0 => Reply::Status(529, error("overloaded_error")),
        _ => Reply::Content(ANSWER.into()),
    });
    client(&llm)
        .complete(&chat(), Some(&schema()))
        .await
        .unwrap();
    assert_eq!(llm.requests().len(), 2);

    let llm = FakeLlm::start(|_| Reply::Status(529, error("overloaded_error")));
    let err = kind(client(&llm).complete(&chat(), None).await.unwrap_err());
    assert!(
        matches!(err, LlmError::Unavailable(ref m) if m.contains("overloaded_error says no"))
            && err.for_everyone(),
        "{err:?}"
    );
    assert_eq!(llm.requests().len(), 3, "the first try and two retries");
}

#[tokio::test]
async fn a_500_then_a_success_is_retried() {
    let llm = scripted(|n| match n {
        0 => Reply::Status(500, error("api_error")),
        _ => Reply::Content(ANSWER.into()),
    });
    client(&llm)
        .complete(&chat(), Some(&schema()))
        .await
        .unwrap();
    assert_eq!(llm.requests().len(), 2);
}

#[tokio::test]
async fn a_400_is_rejected_for_this_request_and_not_retried() {
    let llm = FakeLlm::start(|_| Reply::Status(400, error("invalid_request_error")));
    let err = kind(
        client(&llm)
            .complete(&chat(), Some(&schema()))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(err, LlmError::Rejected(_)) && !err.for_everyone(),
        "{err:?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(llm.requests().len(), 1);
}

#[tokio::test]
async fn a_timeout_fails_this_request_once() {
    let llm = FakeLlm::start(|_| {
        Reply::Delay(
            Duration::from_secs(3),
            Box::new(Reply::Content(ANSWER.into())),
        )
    });
    let mut cfg = config(&llm.anthropic_base_url(), None);
    cfg.timeout = Duration::from_millis(500);
    let err = kind(
        Client::new(&cfg)
            .unwrap()
            .complete(&chat(), None)
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(err, LlmError::Failed(ref m) if m.contains("timed out")),
        "{err:?}"
    );
    assert_eq!(llm.requests().len(), 1);
}

#[tokio::test]
async fn max_tokens_and_refusal_stops_are_unusable_answers() {
    let cut = json!({"type": "message", "role": "assistant", "content": [
        {"type": "tool_use", "id": "t", "name": "x", "input": {"needs_reply": true}}],
        "stop_reason": "max_tokens", "usage": {"input_tokens": 10, "output_tokens": 321}});
    let llm = FakeLlm::start(move |_| Reply::Status(200, cut.to_string()));
    let err = kind(
        client(&llm)
            .complete(&chat(), Some(&schema()))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(err, LlmError::Cut(_)) && err.is_unusable_answer(),
        "{err:?}"
    );

    let refusal = json!({"type": "message", "role": "assistant", "content": [],
        "stop_reason": "refusal", "usage": {"input_tokens": 10, "output_tokens": 0}});
    let llm = FakeLlm::start(move |_| Reply::Status(200, refusal.to_string()));
    let err = kind(
        client(&llm)
            .complete(&chat(), Some(&schema()))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(err, LlmError::Declined(_)) && err.is_unusable_answer(),
        "{err:?}"
    );
}

#[tokio::test]
async fn malformed_json_is_a_bad_answer() {
    for body in [
        "{\"content\": [",
        "<html>overloaded</html>",
        r#"{"content":[]}"#,
    ] {
        let llm = FakeLlm::start(move |_| Reply::Status(200, body.into()));
        let err = kind(
            client(&llm)
                .complete(&chat(), Some(&schema()))
                .await
                .unwrap_err(),
        );
        assert!(matches!(err, LlmError::BadAnswer(_)), "{body}: {err:?}");
    }
}

#[tokio::test]
async fn token_usage_is_counted() {
    let llm = FakeLlm::start(|_| Reply::Content(ANSWER.into()));
    let model = client(&llm);
    let (out, used) = counting(model.complete(&chat(), Some(&schema()))).await;
    out.unwrap();
    assert_eq!(
        (used.calls, used.input_tokens, used.output_tokens),
        (1, USAGE.0, USAGE.1)
    );
}

#[tokio::test]
async fn check_does_a_real_messages_call_not_only_get_models() {
    let llm = FakeLlm::start(|_| Reply::Content("OK".into()));
    client(&llm).check().await.unwrap();
    let req = &llm.requests()[0];
    assert_eq!(
        (req["max_tokens"].as_u64(), req["model"].as_str()),
        (Some(1), Some("claude-test"))
    );
    let llm = FakeLlm::start(|_| Reply::Status(404, error("not_found_error")));
    let err = kind(client(&llm).check().await.unwrap_err());
    assert!(
        matches!(err, LlmError::Refused(ref m) if m.contains("not_found_error")),
        "{err:?}"
    );
    let llm = FakeLlm::start(|_| Reply::Status(401, error("authentication_error")));
    let err = kind(client(&llm).check().await.unwrap_err());
    assert!(matches!(err, LlmError::Refused(_)), "{err:?}");
}
