use super::*;
use chrono::TimeZone;

/// The sample lines of `text` for metric `name` (exactly that name, any labels).
fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .collect()
}

#[test]
fn a_fresh_registry_exposes_no_samples_and_no_eof_marker() {
    let text = Metrics::new().encode();
    assert!(
        text.lines().all(|l| l.starts_with('#')),
        "no sample before anything is counted:\n{text}"
    );
    assert!(
        !text.contains("# EOF"),
        "classic text format, not OpenMetrics"
    );
    assert!(CONTENT_TYPE.starts_with("text/plain; version=0.0.4"));
}

#[test]
fn counters_end_in_total_with_help_and_type_under_that_name() {
    let m = Metrics::new();
    m.draft_written("alice");
    m.draft_written("alice");
    m.draft_written("bob");
    let text = m.encode();
    assert!(text.contains(
        "# HELP tend_drafts_written_total Reply drafts written into the Drafts folder.\n"
    ));
    assert!(text.contains("# TYPE tend_drafts_written_total counter\n"));
    assert!(text.contains("tend_drafts_written_total{mailbox=\"alice\"} 2\n"));
    assert!(text.contains("tend_drafts_written_total{mailbox=\"bob\"} 1\n"));
}

#[test]
fn a_review_sets_both_gauges_and_a_later_one_replaces_them() {
    let m = Metrics::new();
    m.reviewed("alice", 3, 1);
    m.reviewed("alice", 2, 0);
    let text = m.encode();
    assert!(text.contains("# TYPE tend_needs_reply_threads gauge\n"));
    assert_eq!(
        samples(&text, "tend_needs_reply_threads"),
        ["tend_needs_reply_threads{mailbox=\"alice\"} 2"]
    );
    assert_eq!(
        samples(&text, "tend_silent_deals"),
        ["tend_silent_deals{mailbox=\"alice\"} 0"]
    );
}

#[test]
fn a_failed_sync_counts_as_a_sync_and_an_error_and_keeps_the_last_good_time() {
    let m = Metrics::new();
    let good = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    m.synced("alice", true, good);
    m.synced("alice", false, good + chrono::Duration::minutes(5));
    let text = m.encode();
    assert_eq!(
        samples(&text, "tend_syncs_total"),
        ["tend_syncs_total{mailbox=\"alice\"} 2"]
    );
    assert_eq!(
        samples(&text, "tend_sync_errors_total"),
        ["tend_sync_errors_total{mailbox=\"alice\"} 1"]
    );
    assert!(text.contains("# TYPE tend_last_successful_sync_timestamp_seconds gauge\n"));
    let at = samples(&text, "tend_last_successful_sync_timestamp_seconds");
    assert_eq!(at.len(), 1);
    let value: f64 = at[0].rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(value, good.timestamp() as f64);
}

#[test]
fn model_usage_counts_calls_tokens_by_kind_and_errors_by_kind() {
    let m = Metrics::new();
    let used = Usage {
        input_tokens: 1200,
        output_tokens: 80,
        calls: 1,
    };
    m.model_used("alice", &used, None);
    // Two unusable answers: both were answers, so two calls, and one error of that kind.
    let twice = Usage {
        input_tokens: 2000,
        output_tokens: 400,
        calls: 2,
    };
    let bad = anyhow::Error::new(LlmError::Cut("max_tokens".into()));
    m.model_used("alice", &twice, Some(&bad));
    // No answer at all: still one call, and no tokens.
    let down = anyhow::Error::new(LlmError::Unavailable("connection refused".into()))
        .context("asking the model for a draft");
    m.model_used("alice", &Usage::default(), Some(&down));
    let text = m.encode();
    assert_eq!(
        samples(&text, "tend_model_calls_total"),
        ["tend_model_calls_total{mailbox=\"alice\"} 4"]
    );
    assert!(text.contains("tend_model_tokens_total{mailbox=\"alice\",kind=\"prompt\"} 3200\n"));
    assert!(text.contains("tend_model_tokens_total{mailbox=\"alice\",kind=\"completion\"} 480\n"));
    let mut errors = samples(&text, "tend_model_errors_total");
    errors.sort();
    assert_eq!(
        errors,
        [
            "tend_model_errors_total{mailbox=\"alice\",kind=\"cut\"} 1",
            "tend_model_errors_total{mailbox=\"alice\",kind=\"unavailable\"} 1",
        ]
    );
}

#[test]
fn a_draft_outcome_is_counted_once_when_decided_and_again_only_if_its_outcome_changes() {
    let m = Metrics::new();
    let edited = Fate::SentAfterEdits { similarity: 0.5 };
    m.fate_changed("alice", None, Some(&edited));
    // The same outcome again (a re-recorded copy): not counted twice.
    m.fate_changed(
        "alice",
        Some(&edited),
        Some(&Fate::SentAfterEdits { similarity: 0.6 }),
    );
    m.fate_changed("alice", None, Some(&Fate::DeletedUnanswered));
    // Deleted, then answered in other words: ignored both times, counted once.
    let without = Fate::AnsweredWithout { similarity: 0.1 };
    m.fate_changed("alice", Some(&Fate::DeletedUnanswered), Some(&without));
    m.fate_changed(
        "alice",
        None,
        Some(&Fate::SentAsWritten { similarity: 0.97 }),
    );
    m.fate_changed("alice", None, None);
    let text = m.encode();
    let mut outcomes = samples(&text, "tend_draft_outcomes_total");
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            "tend_draft_outcomes_total{mailbox=\"alice\",outcome=\"ignored\"} 1",
            "tend_draft_outcomes_total{mailbox=\"alice\",outcome=\"sent_as_written\"} 1",
            "tend_draft_outcomes_total{mailbox=\"alice\",outcome=\"sent_edited\"} 1",
        ]
    );
}

#[test]
fn the_latency_histogram_is_cumulative_over_the_buckets_from_a_snapshot() {
    let m = Metrics::new();
    // 5 min exactly (le is inclusive), 10 min, 2 h, 2 days, 30 days (only in +Inf), and a
    // negative wait from skewed clocks, counted as 0.
    m.set_latencies("alice", &[300, 600, 7200, 172_800, 2_592_000, -5]);
    let text = m.encode();
    assert!(text.contains("# HELP tend_response_latency_seconds Time from a buyer's message"));
    assert!(text.contains("# TYPE tend_response_latency_seconds histogram\n"));
    let expected = [
        "tend_response_latency_seconds_bucket{mailbox=\"alice\",le=\"300\"} 2",
        "tend_response_latency_seconds_bucket{mailbox=\"alice\",le=\"900\"} 3",
        "tend_response_latency_seconds_bucket{mailbox=\"alice\",le=\"3600\"} 3",
        "tend_response_latency_seconds_bucket{mailbox=\"alice\",le=\"14400\"} 4",
        "tend_response_latency_seconds_bucket{mailbox=\"alice\",le=\"86400\"} 4",
        "tend_response_latency_seconds_bucket{mailbox=\"alice\",le=\"259200\"} 5",
        "tend_response_latency_seconds_bucket{mailbox=\"alice\",le=\"604800\"} 5",
        "tend_response_latency_seconds_bucket{mailbox=\"alice\",le=\"+Inf\"} 6",
    ];
    assert_eq!(
        samples(&text, "tend_response_latency_seconds_bucket"),
        expected
    );
    let sum = 300 + 600 + 7200 + 172_800 + 2_592_000;
    assert_eq!(
        samples(&text, "tend_response_latency_seconds_sum"),
        [format!(
            "tend_response_latency_seconds_sum{{mailbox=\"alice\"}} {sum}.0"
        )]
    );
    assert_eq!(
        samples(&text, "tend_response_latency_seconds_count"),
        ["tend_response_latency_seconds_count{mailbox=\"alice\"} 6"]
    );
}

#[test]
fn a_new_latency_snapshot_replaces_the_last_instead_of_adding_to_it() {
    let m = Metrics::new();
    m.set_latencies("alice", &[60, 120]);
    m.set_latencies("alice", &[60, 120, 4000]);
    let text = m.encode();
    assert_eq!(
        samples(&text, "tend_response_latency_seconds_count"),
        ["tend_response_latency_seconds_count{mailbox=\"alice\"} 3"]
    );
    assert_eq!(
        LatencySnapshot::of(&[]),
        LatencySnapshot {
            buckets: [0; 7],
            sum: 0.0,
            count: 0
        }
    );
}

#[test]
fn a_forgotten_mailbox_leaves_the_exposition_and_the_others_stay() {
    let m = Metrics::new();
    for mb in ["alice", "bob"] {
        m.reviewed(mb, 1, 1);
        m.draft_written(mb);
        m.synced(mb, true, Utc::now());
        m.fate_changed(mb, None, Some(&Fate::DeletedUnanswered));
        m.model_used(mb, &Usage::default(), None);
        m.set_latencies(mb, &[100]);
    }
    m.forget("alice");
    let text = m.encode();
    assert!(!text.contains("alice"), "{text}");
    assert!(text.contains("tend_drafts_written_total{mailbox=\"bob\"} 1"));
    assert!(text.contains("tend_response_latency_seconds_count{mailbox=\"bob\"} 1"));
}

#[test]
fn label_values_are_escaped() {
    let m = Metrics::new();
    m.draft_written("sales \"EU\"\\x");
    let text = m.encode();
    assert!(
        text.contains(r#"tend_drafts_written_total{mailbox="sales \"EU\"\\x"} 1"#),
        "{text}"
    );
}

#[test]
fn only_get_metrics_is_served() {
    let m = Metrics::new();
    m.draft_written("alice");
    let ok = http::respond(&hyper::Method::GET, "/metrics", &m);
    assert_eq!(ok.status(), hyper::StatusCode::OK);
    assert_eq!(ok.headers()[hyper::header::CONTENT_TYPE], CONTENT_TYPE);
    for (method, path) in [
        (hyper::Method::GET, "/"),
        (hyper::Method::GET, "/metrics/x"),
        (hyper::Method::POST, "/metrics"),
    ] {
        let r = http::respond(&method, path, &m);
        assert_eq!(r.status(), hyper::StatusCode::NOT_FOUND, "{method} {path}");
    }
}

#[tokio::test]
async fn the_endpoint_serves_over_http_and_an_address_in_use_names_the_key() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let m = Metrics::new();
    m.draft_written("alice");
    let endpoint = serve("127.0.0.1:0".parse().unwrap(), m.clone())
        .await
        .unwrap();
    let addr = endpoint.addr();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.contains("tend_drafts_written_total{mailbox=\"alice\"} 1\n"),
        "{answer}"
    );
    let taken = serve(addr, m).await.err().expect("the port is in use");
    let message = format!("{taken:#}");
    assert!(
        message.contains(&format!("metrics_listen = \"{addr}\"")),
        "{message}"
    );
    endpoint.stop().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "stopped listening"
    );
}
