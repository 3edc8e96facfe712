//! The client's retries, as the official SDKs make them, against the raw server of
//! `support::rawllm` speaking the OpenAI protocol: 429 with a short Retry-After (waited out) or a
//! long one (left to the shared deadline), retry-after-ms, 5xx then success, bounded tries whose
//! last error keeps its kind, never a 400/401/403 or a timeout; a `length` stop and a refusal
//! are unusable answers, not HTTP failures; tokens are counted for the task that asked.

mod support;

use std::net::TcpListener;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use support::rawllm::*;
use tend::config::LlmConfig;
use tend::llm::{counting, Client, LanguageModel, LlmError};

fn retried(base: &str) -> LlmConfig {
    LlmConfig {
        max_retries: 2,
        ..config(base, None)
    }
}

/// How many requests reached the server within a generous while.
fn count(seen: &mpsc::Receiver<Request>) -> usize {
    let mut n = 0;
    while seen.recv_timeout(Duration::from_millis(500)).is_ok() {
        n += 1;
    }
    n
}

#[tokio::test]
async fn a_429_with_a_short_retry_after_is_waited_out_and_retried() {
    let (base, seen) = serve_in_turn(vec![
        http(
            "429 Too Many Requests",
            "Retry-After: 1\r\n",
            r#"{"error":{"message":"slow"}}"#,
        ),
        http("200 OK", "", OK),
    ]);
    let model = Client::new(&retried(&base)).unwrap();
    let asked = Instant::now();
    model.complete(&chat(), Some(&schema())).await.unwrap();
    assert!(
        asked.elapsed() >= Duration::from_secs(1),
        "the server's wait was kept"
    );
    assert_eq!(count(&seen), 2);
}

#[tokio::test]
async fn retry_after_ms_wins_over_retry_after() {
    let (base, seen) = serve_in_turn(vec![
        http(
            "429 Too Many Requests",
            "Retry-After: 3600\r\nretry-after-ms: 200\r\n",
            "{}",
        ),
        http("200 OK", "", OK),
    ]);
    let model = Client::new(&retried(&base)).unwrap();
    model.complete(&chat(), Some(&schema())).await.unwrap();
    assert_eq!(count(&seen), 2);
}

#[tokio::test]
async fn a_429_with_a_long_retry_after_is_not_slept_in_the_call() {
    let (base, seen) = serve_in_turn(vec![http(
        "429 Too Many Requests",
        "Retry-After: 600\r\n",
        "{}",
    )]);
    let model = Client::new(&retried(&base)).unwrap();
    let err = kind(model.complete(&chat(), None).await.unwrap_err());
    assert!(matches!(err, LlmError::RateLimited { retry_after: Some(d) } if d.as_secs() == 600));
    assert!(model.waiting().is_some(), "every task now waits");
    assert_eq!(count(&seen), 1);
}

#[tokio::test]
async fn a_500_then_a_success_is_retried() {
    let (base, seen) = serve_in_turn(vec![
        http("500 Internal Server Error", "", "boom"),
        http("502 Bad Gateway", "", "gateway"),
        http("200 OK", "", OK),
    ]);
    let model = Client::new(&retried(&base)).unwrap();
    model.complete(&chat(), Some(&schema())).await.unwrap();
    assert_eq!(count(&seen), 3);
}

#[tokio::test]
async fn retries_are_bounded_and_the_last_error_keeps_its_kind() {
    let (base, seen) = serve_in_turn(vec![
        http("503 Service Unavailable", "", "a"),
        http("503 Service Unavailable", "", "b"),
        http("503 Service Unavailable", "", "c"),
        http("200 OK", "", OK),
    ]);
    let model = Client::new(&retried(&base)).unwrap();
    let err = kind(model.complete(&chat(), None).await.unwrap_err());
    assert!(
        matches!(err, LlmError::Unavailable(ref m) if m.contains('c')) && err.for_everyone(),
        "{err:?}"
    );
    assert_eq!(count(&seen), 3, "two retries, then the caller decides");
}

#[tokio::test]
async fn a_400_401_or_403_is_never_retried() {
    for status in ["400 Bad Request", "401 Unauthorized", "403 Forbidden"] {
        let (base, seen) = serve_in_turn(vec![
            http(status, "", r#"{"error":{"message":"no"}}"#),
            http("200 OK", "", OK),
        ]);
        let model = Client::new(&retried(&base)).unwrap();
        // No schema: the json_object fallback (its own second request) does not apply.
        model.complete(&chat(), None).await.unwrap_err();
        assert_eq!(count(&seen), 1, "{status}");
    }
}

#[tokio::test]
async fn a_timeout_fails_once_and_is_not_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(conn);
        }
    });
    let mut cfg = retried(&base);
    cfg.timeout = Duration::from_millis(500);
    let model = Client::new(&cfg).unwrap();
    let err = kind(model.complete(&chat(), None).await.unwrap_err());
    assert!(
        matches!(err, LlmError::Failed(ref m) if m.contains("timed out")),
        "{err:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_length_stop_or_a_refusal_is_never_text() {
    let cut = r#"{"choices":[{"message":{"content":"{\"needs_reply\":true,\"body\":\"Dear"},"finish_reason":"length"}]}"#;
    let refusal = r#"{"choices":[{"message":{"content":null,"refusal":"I cannot help."},"finish_reason":"stop"}]}"#;
    for (body, want_cut) in [(cut, true), (refusal, false)] {
        let (base, seen) = serve_in_turn(vec![http("200 OK", "", body), http("200 OK", "", OK)]);
        let model = Client::new(&retried(&base)).unwrap();
        let err = kind(model.complete(&chat(), Some(&schema())).await.unwrap_err());
        match err {
            LlmError::Cut(_) if want_cut => {}
            LlmError::Declined(ref m) if !want_cut => assert!(m.contains("cannot")),
            other => panic!("{other:?}"),
        }
        assert!(err.is_unusable_answer() && !err.for_everyone());
        assert_eq!(
            count(&seen),
            1,
            "an answer is not an HTTP failure: not retried here"
        );
    }
}

#[tokio::test]
async fn token_usage_is_counted_for_the_task_that_asked() {
    let with_usage = r#"{"choices":[{"message":{"content":"{\"needs_reply\":true}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1200,"completion_tokens":80,"total_tokens":1280}}"#;
    let (base, _seen) = serve_in_turn(vec![
        http("200 OK", "", with_usage),
        http("200 OK", "", with_usage),
    ]);
    let model = Client::new(&config(&base, None)).unwrap();
    let (out, used) = counting(async {
        model.complete(&chat(), Some(&schema())).await.unwrap();
        model.complete(&chat(), Some(&schema())).await
    })
    .await;
    out.unwrap();
    assert_eq!(
        (used.calls, used.input_tokens, used.output_tokens),
        (2, 2400, 160)
    );
}

// Two workers: the test blocks on the server's channel while the first task runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_one_task_waits_out_a_retry_after_the_others_send_nothing() {
    let (base, seen) = serve_in_turn(vec![
        http("429 Too Many Requests", "Retry-After: 2\r\n", "{}"),
        http("200 OK", "", OK),
        http("200 OK", "", OK),
    ]);
    let model = Arc::new(Client::new(&retried(&base)).unwrap());
    let first = {
        let model = Arc::clone(&model);
        tokio::spawn(async move { model.complete(&chat(), None).await })
    };
    seen.recv_timeout(Duration::from_secs(5)).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Another mailbox's task, during the wait: refused at once, with what is left of it.
    let err = kind(model.complete(&chat(), None).await.unwrap_err());
    assert!(
        matches!(err, LlmError::RateLimited { retry_after: Some(left) } if left <= Duration::from_secs(2)),
        "{err:?}"
    );
    first.await.unwrap().unwrap();
    assert_eq!(count(&seen), 1, "only the waiting task's retry went out");
}
