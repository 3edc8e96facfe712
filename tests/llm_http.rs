//! The real `Client`, speaking the OpenAI-compatible protocol, against the raw server of
//! `support::rawllm`: the request it sends and how each kind of answer becomes an `LlmError`.
//! (Its retries: `llm_retry.rs`; Anthropic's protocol: `llm_anthropic.rs`.)

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::rawllm::*;
use tend::llm::{Client, LanguageModel, LlmError, RESPONSE_CAP};

#[tokio::test]
async fn request_shape_with_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(&dir, 0o600);
    let (base, seen) = serve_once(http("200 OK", "", OK));
    let model = Client::new(&config(&base, Some(key))).unwrap();
    assert!(
        !format!("{model:?}").contains("sk-test"),
        "Debug leaks the key"
    );
    let answer = model.complete(&chat(), Some(&schema())).await.unwrap();
    assert_eq!(answer, r#"{"needs_reply":true}"#);

    let req = seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/v1/chat/completions");
    assert_eq!(req.header("authorization"), Some("Bearer sk-test-123"));
    assert!(req
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let body = req.json();
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["max_tokens"], 321);
    assert_eq!(body["temperature"], 0.3);
    assert!(
        body.get("frequency_penalty").is_none(),
        "not sent unless set"
    );
    assert_eq!(
        body["response_format"],
        serde_json::json!({"type": "json_schema", "json_schema": {
            "name": "draft",
            "strict": true,
            "schema": {
                "type": "object",
                "properties": {
                    "needs_reply": {"type": "boolean"},
                    "reason": {"type": "string"},
                    "body": {"type": "string"}
                },
                "required": ["needs_reply", "reason", "body"],
                "additionalProperties": false
            }
        }})
    );
    assert_eq!(
        body["messages"],
        serde_json::json!([
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello ✓"},
        ])
    );
}

#[tokio::test]
async fn no_key_no_header_no_json_mode() {
    let (base, seen) = serve_once(http("200 OK", "", OK));
    let model = Client::new(&config(&base, None)).unwrap();
    model.complete(&chat(), None).await.unwrap();
    let req = seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(req.header("authorization"), None);
    assert!(req.json().get("response_format").is_none());
}

#[test]
fn key_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(&dir, 0o644);
    let err = Client::new(&config("http://127.0.0.1:9/v1", Some(key))).unwrap_err();
    assert!(format!("{err:#}").contains("chmod 600"), "{err:#}");
}

#[tokio::test]
async fn rate_limited_with_retry_after() {
    let (base, _seen) = serve_once(http(
        "429 Too Many Requests",
        "Retry-After: 17\r\n",
        r#"{"error":{"message":"slow down"}}"#,
    ));
    let model = Client::new(&config(&base, None)).unwrap();
    match kind(model.complete(&chat(), Some(&schema())).await.unwrap_err()) {
        LlmError::RateLimited { retry_after } => {
            assert_eq!(retry_after, Some(Duration::from_secs(17)))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_500_fails_this_request_and_a_503_the_server() {
    // llama.cpp and vLLM answer 500 to a prompt they choke on: blamed on the request.
    let (base, _seen) = serve_once(http("500 Internal Server Error", "", "boom"));
    let model = Client::new(&config(&base, None)).unwrap();
    let err = kind(model.complete(&chat(), Some(&schema())).await.unwrap_err());
    assert!(
        matches!(err, LlmError::Failed(_)) && !err.for_everyone(),
        "{err:?}"
    );
    let (base, _seen) = serve_once(http("503 Service Unavailable", "", "overloaded"));
    let model = Client::new(&config(&base, None)).unwrap();
    let err = kind(model.complete(&chat(), Some(&schema())).await.unwrap_err());
    assert!(
        matches!(err, LlmError::Unavailable(_)) && err.for_everyone(),
        "{err:?}"
    );
}

#[tokio::test]
async fn bad_key_is_rejected_with_the_server_message() {
    let (base, _seen) = serve_once(http(
        "401 Unauthorized",
        "",
        r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#,
    ));
    let model = Client::new(&config(&base, None)).unwrap();
    match kind(model.complete(&chat(), Some(&schema())).await.unwrap_err()) {
        LlmError::Refused(m) => {
            assert!(m.contains("401"), "{m}");
            assert!(m.contains("Incorrect API key provided"), "{m}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn garbage_and_empty_choices_are_bad_answers() {
    for body in [
        "this is not json",
        r#"{"choices":[]}"#,
        r#"{"choices":[{"message":{"content":null}}]}"#,
    ] {
        let (base, _seen) = serve_once(http("200 OK", "", body));
        let model = Client::new(&config(&base, None)).unwrap();
        let err = kind(model.complete(&chat(), Some(&schema())).await.unwrap_err());
        assert!(matches!(err, LlmError::BadAnswer(_)), "{body}: {err:?}");
    }
}

#[tokio::test]
async fn huge_response_is_capped() {
    // Declared length over the cap: refused before reading.
    let big = "x".repeat(RESPONSE_CAP + 10);
    let (base, _seen) = serve_once(http("200 OK", "", &big));
    let model = Client::new(&config(&base, None)).unwrap();
    let err = kind(model.complete(&chat(), Some(&schema())).await.unwrap_err());
    assert!(
        matches!(err, LlmError::BadAnswer(ref m) if m.contains("larger")),
        "{err:?}"
    );

    // No length, streamed until close: refused once the cap is passed.
    let mut raw =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n".to_vec();
    raw.extend(std::iter::repeat_n(b' ', 3 * RESPONSE_CAP));
    let (base, _seen) = serve_once(raw);
    let model = Client::new(&config(&base, None)).unwrap();
    let err = kind(model.complete(&chat(), Some(&schema())).await.unwrap_err());
    assert!(
        matches!(err, LlmError::BadAnswer(ref m) if m.contains("larger")),
        "{err:?}"
    );
}

#[tokio::test]
async fn connection_refused_is_unavailable_and_a_timeout_fails_this_request() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let model = Client::new(&config(&format!("http://127.0.0.1:{port}/v1"), None)).unwrap();
    let err = kind(model.complete(&chat(), Some(&schema())).await.unwrap_err());
    assert!(matches!(err, LlmError::Unavailable(_)), "{err:?}");

    // A server that accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let hold = std::thread::spawn(move || {
        let conn = listener.accept();
        std::thread::sleep(Duration::from_secs(3));
        drop(conn);
    });
    let mut cfg = config(&base, None);
    cfg.timeout = Duration::from_millis(500);
    let model = Client::new(&cfg).unwrap();
    let err = kind(model.complete(&chat(), Some(&schema())).await.unwrap_err());
    assert!(
        matches!(err, LlmError::Failed(ref m) if m.contains("timed out")),
        "{err:?}"
    );
    hold.join().unwrap();
}

#[tokio::test]
async fn check_does_a_real_chat_not_only_get_models() {
    // Review 1.7.4: a model listing proves neither the model name nor chat permission.
    let cut = r#"{"choices":[{"message":{"content":"O"},"finish_reason":"length"}]}"#;
    let (base, seen) = serve_once(http("200 OK", "", cut));
    Client::new(&config(&base, None))
        .unwrap()
        .check()
        .await
        .unwrap();
    let req = seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(req.json()["max_tokens"], 1);
    assert_eq!(req.json()["model"], "test-model");
    // Sent as a draft sends it: a model that rejects this temperature fails check too.
    assert_eq!(req.json()["temperature"], 0.3);
    let (base, _seen) = serve_once(http(
        "404 Not Found",
        "",
        r#"{"error":{"message":"The model `test-model` does not exist"}}"#,
    ));
    let err = Client::new(&config(&base, None))
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert!(
        matches!(kind(err), LlmError::Refused(ref m) if m.contains("does not exist")),
        "a wrong model name fails check"
    );
    let (base, _seen) = serve_once(http("403 Forbidden", "", r#"{"error":{"message":"no"}}"#));
    let err = Client::new(&config(&base, None))
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert!(matches!(kind(err), LlmError::Refused(_)));
}

#[tokio::test]
async fn temperature_and_frequency_penalty_as_configured() {
    let (base, seen) = serve_once(http("200 OK", "", OK));
    let mut cfg = config(&base, None);
    cfg.temperature = 0.0;
    cfg.frequency_penalty = Some(0.5);
    Client::new(&cfg)
        .unwrap()
        .complete(&chat(), Some(&schema()))
        .await
        .unwrap();
    let body = seen.recv_timeout(Duration::from_secs(5)).unwrap().json();
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(body["frequency_penalty"], 0.5);
}

#[tokio::test]
async fn a_server_refusing_json_schema_gets_json_object_from_then_on() {
    let refused = http(
        "400 Bad Request",
        "",
        r#"{"error":{"message":"response_format type json_schema is not supported"}}"#,
    );
    let (base, seen) = serve_in_turn(vec![
        refused,
        http("200 OK", "", OK),
        http("200 OK", "", OK),
    ]);
    let model = Client::new(&config(&base, None)).unwrap();
    for _ in 0..2 {
        let answer = model.complete(&chat(), Some(&schema())).await.unwrap();
        assert_eq!(answer, r#"{"needs_reply":true}"#);
    }
    let kinds: Vec<String> = (0..3)
        .map(|_| format_type(&seen.recv_timeout(Duration::from_secs(5)).unwrap()))
        .collect();
    assert_eq!(kinds, ["json_schema", "json_object", "json_object"]);
}

#[tokio::test]
async fn a_400_to_json_object_too_is_not_blamed_on_the_schema() {
    let bad = || {
        http(
            "400 Bad Request",
            "",
            r#"{"error":{"message":"the request exceeds the context size"}}"#,
        )
    };
    let (base, seen) = serve_in_turn(vec![bad(), bad(), http("200 OK", "", OK)]);
    let model = Client::new(&config(&base, None)).unwrap();
    match kind(model.complete(&chat(), Some(&schema())).await.unwrap_err()) {
        LlmError::Rejected(m) => assert!(m.contains("context size"), "{m}"),
        other => panic!("{other:?}"),
    }
    model.complete(&chat(), Some(&schema())).await.unwrap();
    let kinds: Vec<String> = (0..3)
        .map(|_| format_type(&seen.recv_timeout(Duration::from_secs(5)).unwrap()))
        .collect();
    assert_eq!(kinds, ["json_schema", "json_object", "json_schema"]);
}

#[tokio::test]
async fn other_refusals_are_not_retried() {
    let (base, seen) = serve_in_turn(vec![
        http("401 Unauthorized", "", r#"{"error":{"message":"bad key"}}"#),
        http("200 OK", "", OK),
    ]);
    let model = Client::new(&config(&base, None)).unwrap();
    let err = kind(model.complete(&chat(), Some(&schema())).await.unwrap_err());
    assert!(matches!(err, LlmError::Refused(_)), "{err:?}");
    seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(seen.recv_timeout(Duration::from_millis(300)).is_err());
}

#[tokio::test]
async fn retry_after_longer_than_the_poll_interval_is_honoured_by_every_caller() {
    let (base, seen) = serve_in_turn(vec![
        http(
            "429 Too Many Requests",
            "Retry-After: 3\r\n",
            r#"{"error":{"message":"slow down"}}"#,
        ),
        http("200 OK", "", OK),
    ]);
    // One client shared by every mailbox task, as the service does.
    let model = Arc::new(Client::new(&config(&base, None)).unwrap());
    let asked = Instant::now();
    let err = kind(model.complete(&chat(), Some(&schema())).await.unwrap_err());
    assert!(
        matches!(err, LlmError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(3))
    );
    seen.recv_timeout(Duration::from_secs(5)).unwrap();
    // Another mailbox's task, a second later (a poll interval of 1 s): refused at once, with
    // what is left of the wait, and no request reaches the server.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let other = Arc::clone(&model);
    let err = tokio::spawn(async move { other.complete(&chat(), None).await })
        .await
        .unwrap()
        .unwrap_err();
    match kind(err) {
        LlmError::RateLimited {
            retry_after: Some(left),
        } => {
            assert!(
                left <= Duration::from_secs(2) && !left.is_zero(),
                "{left:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(
        seen.recv_timeout(Duration::from_millis(300)).is_err(),
        "no request before the server's deadline"
    );
    // After it, the next call goes out.
    let left = model.waiting().unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(50)).await;
    model.complete(&chat(), Some(&schema())).await.unwrap();
    assert!(asked.elapsed() >= Duration::from_secs(3));
    seen.recv_timeout(Duration::from_secs(5)).unwrap();
}

/// A self-signed certificate for 127.0.0.1 made by openssl, as tests/support does for Dovecot
/// (CA:FALSE: webpki takes it as a root but not a CA certificate as a server's own).
fn self_signed(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let cnf = dir.join("openssl.cnf");
    std::fs::write(
        &cnf,
        "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = ext\n\
         [dn]\nCN = localhost\n[ext]\nbasicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n\
         subjectAltName = DNS:localhost, IP:127.0.0.1\nsubjectKeyIdentifier = hash\n",
    )
    .unwrap();
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-new", "-nodes", "-days", "3650"])
        .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .arg("-config")
        .arg(&cnf)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// An https server on 127.0.0.1:0 with this certificate, answering each of `connections`
/// connections with `response` once it has read the request. Returns the base URL.
fn serve_tls(
    cert: &std::path::Path,
    key: &std::path::Path,
    connections: usize,
    response: Vec<u8>,
) -> String {
    use tokio_rustls::rustls;
    let certs: Vec<_> = rustls_pemfile::certs(&mut std::fs::read(cert).unwrap().as_slice())
        .map(Result::unwrap)
        .collect();
    let key = rustls_pemfile::private_key(&mut std::fs::read(key).unwrap().as_slice())
        .unwrap()
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("https://{}/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for _ in 0..connections {
            let Ok((tcp, _)) = listener.accept() else {
                return;
            };
            let conn = rustls::ServerConnection::new(Arc::clone(&tls)).unwrap();
            let mut reader = BufReader::new(rustls::StreamOwned::new(conn, tcp));
            // Headers, then the body by its length; a client that refused our certificate
            // has hung up by now and is simply dropped.
            let mut len = 0;
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(n) if n > 0 && line != "\r\n" => {}
                    _ => break,
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_ok() {
                let stream = reader.get_mut();
                let _ = stream.write_all(&response);
                let _ = stream.flush();
                stream.conn.send_close_notify();
                let _ = stream.flush();
            }
        }
    });
    base
}

#[tokio::test]
async fn an_https_server_behind_a_private_ca_is_reached_with_llm_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let base = serve_tls(&cert, &key, 2, http("200 OK", "", OK));
    // Without the CA file the certificate is unknown: refused before anything is sent.
    let err = kind(
        Client::new(&config(&base, None))
            .unwrap()
            .complete(&chat(), Some(&schema()))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(err, LlmError::Unavailable(ref m) if m.to_lowercase().contains("certificate")),
        "{err:?}"
    );
    let mut cfg = config(&base, None);
    cfg.ca_file = Some(cert);
    let answer = Client::new(&cfg)
        .unwrap()
        .complete(&chat(), Some(&schema()))
        .await
        .unwrap();
    assert_eq!(answer, r#"{"needs_reply":true}"#);
    // A file without a certificate is an error at start, not at the first draft.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    cfg.ca_file = Some(empty);
    assert!(Client::new(&cfg).is_err());
}
