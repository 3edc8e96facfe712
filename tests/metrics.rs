//! The Prometheus endpoint of `tend run` (`metrics_listen`), end to end: the real binary against
//! a real Dovecot and the local model server, scraped over HTTP after a pass that wrote a draft,
//! its values checked and its body linted by `promtool check metrics` (Prometheus' own linter,
//! from Debian's `prometheus` package: scripts/test extracts it and sets TEND_PROMTOOL). And
//! `tend run` refusing to start when the address cannot be had.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::service::*;

/// A loopback port free a moment ago.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// One HTTP/1.1 request; the status line and the body.
fn get(port: u16, path: &str) -> (String, String, String) {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    conn.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, head.to_string(), body.to_string())
}

/// The value of the one sample `series` (name and labels exactly as exposed), if present.
fn value(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .filter_map(|l| l.strip_prefix(series))
        .find_map(|rest| rest.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// promtool: TEND_PROMTOOL, else where scripts/test puts it. Missing is a failure, not a skip:
/// the lint is part of what this test shows.
fn promtool() -> PathBuf {
    let path = std::env::var_os("TEND_PROMTOOL").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tools/promtool"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "promtool not found at {}: run scripts/test once (it extracts promtool from Debian's \
         `prometheus` package into target/tools/), or set TEND_PROMTOOL to a promtool binary",
        path.display()
    );
    path
}

/// `promtool check metrics` on `body`: its exit status and everything it printed.
fn lint(body: &str) -> (bool, String) {
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[test]
fn a_draft_written_then_sent_shows_in_the_metrics_and_promtool_finds_nothing_to_lint() {
    let promtool = promtool();
    let llm = instant_model();
    let (d, setup) = alice_world(&llm);
    let port = free_port();
    setup.tend_toml(
        &llm,
        &format!("{NO_POLL}metrics_listen = \"127.0.0.1:{port}\"\n"),
    );
    setup.mailbox("alice", "pw", d.port(), "");
    let mut tend = Tend::idling(&setup.config());
    assert!(
        tend.log().contains("serving Prometheus metrics"),
        "{}",
        tend.log()
    );
    reply(&d, "alice", "pw", 1);
    wait_draft(&mut tend, &d, "alice", 1, 10);
    // The counter is bumped right after the APPEND: give the scrape a moment to see it.
    let written = "tend_drafts_written_total{mailbox=\"alice\"}";
    let start = Instant::now();
    let body = loop {
        let (status, head, body) = get(port, "/metrics");
        assert_eq!(status, "HTTP/1.1 200 OK", "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "{head}"
        );
        if value(&body, written) == Some(1.0) || start.elapsed() > Duration::from_secs(10) {
            break body;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(value(&body, written), Some(1.0), "{body}");
    let mb = "{mailbox=\"alice\"}";
    let syncs = value(&body, &format!("tend_syncs_total{mb}")).unwrap_or(0.0);
    assert!(syncs >= 1.0, "{body}");
    assert_eq!(
        value(&body, &format!("tend_sync_errors_total{mb}")),
        None,
        "{body}"
    );
    let last = value(
        &body,
        &format!("tend_last_successful_sync_timestamp_seconds{mb}"),
    );
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(
        last.is_some_and(|t| (now - 120.0..=now + 1.0).contains(&t)),
        "{body}"
    );
    // The review before the draft saw the buyer's question open (thread 2's opener is not due
    // a follow-up yet).
    assert_eq!(
        value(&body, &format!("tend_needs_reply_threads{mb}")),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        value(&body, &format!("tend_silent_deals{mb}")),
        Some(0.0),
        "{body}"
    );
    assert_eq!(
        value(&body, &format!("tend_model_calls_total{mb}")),
        Some(1.0),
        "{body}"
    );
    let (prompt, completion) = support::llm::USAGE;
    let tokens = |kind: &str| {
        value(
            &body,
            &format!("tend_model_tokens_total{{mailbox=\"alice\",kind=\"{kind}\"}}"),
        )
    };
    assert_eq!(tokens("prompt"), Some(prompt as f64), "{body}");
    assert_eq!(tokens("completion"), Some(completion as f64), "{body}");
    assert!(body.contains("# HELP tend_drafts_written_total "), "{body}");
    assert!(!body.contains("# EOF"), "classic text format: {body}");

    let (clean, said) = lint(&body);
    assert!(
        clean && said.trim().is_empty(),
        "{} check metrics: {said}\n--- body\n{body}",
        promtool.display()
    );

    let (status, _, _) = get(port, "/");
    assert_eq!(status, "HTTP/1.1 404 Not Found");

    // The user sends our draft as it is: a copy in Sent, gone from Drafts. tend notices Sent
    // grew (a STATUS between IDLEs, at most 25 s) and records the draft's fate.
    let draft = d.messages("alice", "Drafts").remove(0);
    d.append("alice", "pw", "Sent", &draft.raw);
    d.remove(&draft.path);
    let as_written = "tend_draft_outcomes_total{mailbox=\"alice\",outcome=\"sent_as_written\"}";
    let mut body = String::new();
    tend.wait("the draft's outcome in the metrics", 60, |_| {
        body = get(port, "/metrics").2;
        value(&body, as_written) == Some(1.0)
    });
    assert_eq!(
        value(&body, &format!("tend_needs_reply_threads{mb}")),
        Some(0.0),
        "{body}"
    );
    assert_eq!(
        value(&body, written),
        Some(1.0),
        "nothing drafted again: {body}"
    );
    let (clean, said) = lint(&body);
    assert!(
        clean && said.trim().is_empty(),
        "promtool: {said}\n--- body\n{body}"
    );

    let (status, _) = tend.stop();
    assert!(status.success());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the endpoint is gone with tend"
    );
}

/// What `tend run` cannot show without a record yet (the latency histogram, every outcome and
/// error kind, two mailboxes, a label needing escapes), linted the same way.
#[test]
fn every_series_the_registry_can_expose_passes_promtool() {
    use tend::llm::{LlmError, Usage};
    use tend::metrics::Metrics;
    use tend::store::Fate;
    let m = Metrics::new();
    for mb in ["alice", "sales \"EU\""] {
        m.reviewed(mb, 2, 1);
        m.draft_written(mb);
        m.synced(mb, true, chrono::Utc::now());
        m.synced(mb, false, chrono::Utc::now());
        for fate in [
            Fate::SentAsWritten { similarity: 1.0 },
            Fate::SentAfterEdits { similarity: 0.5 },
            Fate::DeletedUnanswered,
        ] {
            m.fate_changed(mb, None, Some(&fate));
        }
        let used = Usage {
            input_tokens: 100,
            output_tokens: 20,
            calls: 1,
        };
        m.model_used(mb, &used, None);
        let err = anyhow::Error::new(LlmError::RateLimited { retry_after: None });
        m.model_used(mb, &Usage::default(), Some(&err));
        m.set_latencies(mb, &[60, 4000, 90_000, 1_000_000]);
    }
    let body = m.encode();
    assert!(
        body.contains("tend_response_latency_seconds_bucket"),
        "{body}"
    );
    let (clean, said) = lint(&body);
    assert!(
        clean && said.trim().is_empty(),
        "promtool: {said}\n--- body\n{body}"
    );
}

#[test]
fn an_address_that_cannot_be_bound_fails_tend_run_naming_the_key() {
    let llm = instant_model();
    let (d, setup) = alice_world(&llm);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    setup.tend_toml(&llm, &format!("{NO_POLL}metrics_listen = \"{addr}\"\n"));
    setup.mailbox("alice", "pw", d.port(), "");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(setup.config())
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("tend run kept running with metrics_listen on a port in use");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("metrics_listen = \"{addr}\"")) && stderr.contains("in use"),
        "the error names the key, the address and why: {stderr}"
    );
    assert!(
        d.messages("alice", "Drafts").is_empty(),
        "no mailbox was served"
    );
}

#[test]
fn an_address_beyond_loopback_is_served_with_a_warning() {
    let llm = instant_model();
    let (d, setup) = alice_world(&llm);
    setup.tend_toml(&llm, &format!("{NO_POLL}metrics_listen = \"0.0.0.0:0\"\n"));
    setup.mailbox("alice", "pw", d.port(), "");
    let mut tend = Tend::idling(&setup.config());
    tend.wait_log("listens beyond this machine", 1, 5);
    let (status, _) = tend.stop();
    assert!(status.success());
}
