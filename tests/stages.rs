//! The deal's sales stage end to end: the real `tend` binary against a real Dovecot and the
//! local model server. A draft's own call names the stage (no extra model call), the store
//! keeps the history with the date of the buyer's message, and a thread that gets no draft
//! gets one stage-only call, within the daily cap.

mod support;

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;
use support::dovecot::Dovecot;
use support::llm::{FakeLlm, Reply};
use support::mail::mail;
use tend::store::Store;

const ACK: &str = "We received your offer and will take it to the board on Friday.";

/// A Dovecot with user alice, a model server, and a config whose tend.toml ends in `extra`.
struct World {
    dovecot: Dovecot,
    llm: FakeLlm,
    dir: tempfile::TempDir,
}

impl World {
    fn new(extra: &str, reply: impl Fn(&Value) -> Reply + Send + Sync + 'static) -> World {
        let dovecot = Dovecot::start();
        dovecot.add_user("alice", "pw");
        let llm = FakeLlm::start(reply);
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("mailboxes")).unwrap();
        std::fs::write(
            d.join("tend.toml"),
            format!(
                "state_dir = \"state\"\n[llm]\nbase_url = \"{}\"\nmodel = \"m\"\n{extra}",
                llm.base_url()
            ),
        )
        .unwrap();
        let pw = d.join("mailboxes/alice.password");
        std::fs::write(&pw, "pw\n").unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(
            d.join("mailboxes/alice.toml"),
            format!(
                "addresses = [\"alice@acme.test\"]\ninternal_domains = [\"acme.test\"]\n\
                 timezone = \"UTC\"\n[imap]\nhost = \"127.0.0.1\"\nport = {}\n\
                 security = \"plain\"\nusername = \"alice\"\npassword_file = \"alice.password\"\n",
                dovecot.port()
            ),
        )
        .unwrap();
        World { dovecot, llm, dir }
    }

    fn tend(&self, args: &[&str]) -> Output {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
            .arg("--config")
            .arg(self.dir.path().join("tend.toml"))
            .args(args)
            .env("RUST_LOG", "info")
            .output()
            .unwrap();
        eprintln!(
            "tend {args:?} -> {}\n--- stdout\n{}--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "tend {args:?} failed");
        out
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The store, opened after `tend` exited (and closed before it runs again).
    fn store(&self) -> Store {
        Store::open(&self.state(), 0).unwrap()
    }
}

/// The schema a request asked for.
fn schema_name(request: &Value) -> &str {
    request["response_format"]["json_schema"]["name"]
        .as_str()
        .unwrap_or("")
}

#[test]
fn a_drafts_answer_names_the_stage_and_the_history_keeps_it_with_the_mails_date() {
    let w = World::new("", |_| {
        Reply::Content(
            json!({"needs_reply": true, "reason": "asks for the order form",
                   "body": "Hi Bob,\n\nthank you, the order form follows.",
                   "stage": "proposal", "stage_evidence": ACK})
            .to_string(),
        )
    });
    let now = Utc::now();
    w.dovecot.put(
        "alice",
        "Sent",
        mail(
            "offer@acme.test",
            "Alice <alice@acme.test>",
            "Bob <bob@buyer.test>",
            "Our offer",
            now - Duration::days(2),
            None,
            "Here is our offer for 40 seats.",
        )
        .as_bytes(),
        "S",
    );
    let acked = now - Duration::hours(5);
    w.dovecot.put(
        "alice",
        "INBOX",
        mail(
            "ack@buyer.test",
            "Bob <bob@buyer.test>",
            "alice@acme.test",
            "Re: Our offer",
            acked,
            Some("offer@acme.test"),
            &format!("Thanks Alice.\r\n{ACK}\r\nCould you send the order form?"),
        )
        .as_bytes(),
        "",
    );
    w.tend(&["once"]);
    assert_eq!(w.dovecot.messages("alice", "Drafts").len(), 1);
    let reqs = w.llm.requests();
    assert_eq!(
        reqs.len(),
        1,
        "the draft's call only: the stage costs nothing more"
    );
    let schema = &reqs[0]["response_format"]["json_schema"]["schema"];
    assert!(schema["required"]
        .as_array()
        .unwrap()
        .contains(&json!("stage")));
    let system = reqs[0]["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("- proposal: the buyer received our offer and acknowledged it"),
        "{system}"
    );
    {
        let store = w.store();
        let thread = store.thread_of("ack@buyer.test").unwrap().unwrap();
        let history = store.stage_history(&thread).unwrap();
        assert_eq!(history.len(), 1, "{history:?}");
        assert_eq!(history[0].stage, "proposal");
        assert_eq!(
            history[0].at,
            acked.timestamp(),
            "dated by the buyer's message"
        );
        assert_eq!(history[0].message_id.as_deref(), Some("ack@buyer.test"));
        assert_eq!(history[0].evidence.as_deref(), Some(ACK));
    }
    w.tend(&["once"]);
    assert_eq!(
        w.llm.requests().len(),
        1,
        "a second pass makes no model call"
    );
}

#[test]
fn a_thread_we_answered_gets_one_stage_only_call_and_the_cap_holds() {
    let w = World::new("[pipeline]\nmax_stage_calls_per_day = 1\n", |req| {
        if schema_name(req) == "stage" {
            Reply::Content(
                json!({"stage": "qualified", "stage_evidence": "We need 40 seats by March."})
                    .to_string(),
            )
        } else {
            Reply::Content(json!({"needs_reply": true, "reason": "r", "body": "Hi"}).to_string())
        }
    });
    let now = Utc::now();
    // Two buyers, each answered by us: no draft anywhere. Carol's thread is the newer one.
    for (who, hours) in [("dan", 30), ("carol", 3)] {
        let q = format!("q@{who}.test");
        w.dovecot.put(
            "alice",
            "INBOX",
            mail(
                &q,
                &format!("{who}@{who}.test"),
                "alice@acme.test",
                "Seats",
                now - Duration::hours(hours),
                None,
                "Hello. We need 40 seats by March.",
            )
            .as_bytes(),
            "",
        );
        w.dovecot.put(
            "alice",
            "Sent",
            mail(
                &format!("a@{who}.acme.test"),
                "alice@acme.test",
                &format!("{who}@{who}.test"),
                "Re: Seats",
                now - Duration::hours(hours - 1),
                Some(&q),
                "Gladly, I will call you.",
            )
            .as_bytes(),
            "S",
        );
    }
    w.tend(&["once", "--dry-run"]);
    assert!(w.llm.requests().is_empty(), "a dry run makes no stage call");
    w.tend(&["once"]);
    let reqs = w.llm.requests();
    assert_eq!(reqs.len(), 1, "one stage-only call, the daily cap");
    assert_eq!(schema_name(&reqs[0]), "stage");
    let user = reqs[0]["messages"][1]["content"].as_str().unwrap();
    assert!(
        user.contains("<thread>") && user.contains("40 seats"),
        "{user}"
    );
    {
        let store = w.store();
        let carol = store.thread_of("q@carol.test").unwrap().unwrap();
        let dan = store.thread_of("q@dan.test").unwrap().unwrap();
        let history = store.stage_history(&carol).unwrap();
        assert_eq!(history.len(), 1, "the newest thread first");
        assert_eq!(history[0].stage, "qualified");
        assert_eq!(history[0].message_id.as_deref(), Some("q@carol.test"));
        assert!(store.stage_history(&dan).unwrap().is_empty(), "capped");
        let today = now.date_naive();
        assert_eq!(store.stage_calls("alice", today).unwrap(), 1);
        let usage = store.usage("alice", today).unwrap();
        assert_eq!(
            (usage.calls, usage.drafts, usage.input_tokens),
            (1, 0, support::llm::USAGE.0),
            "its tokens count in the usage"
        );
    }
    w.tend(&["once"]);
    assert_eq!(w.llm.requests().len(), 1, "the cap holds across runs");
}

/// The model inferred "proposal" from the buyer's acknowledgement; the user tags that message
/// "negotiation" in their client. The tag wins, the inference stays in the history beside it,
/// and after the store is deleted and rebuilt from the mailbox the tag still decides.
#[test]
fn a_keyword_correction_wins_over_inference_and_survives_a_rebuild() {
    let w = World::new("", |_| {
        Reply::Content(
            json!({"needs_reply": true, "reason": "asks for the order form",
                   "body": "Hi Bob,\n\nthank you, the order form follows.",
                   "stage": "proposal", "stage_evidence": ACK})
            .to_string(),
        )
    });
    let now = Utc::now();
    let offer = mail(
        "offer@acme.test",
        "Alice <alice@acme.test>",
        "Bob <bob@buyer.test>",
        "Our offer",
        now - Duration::days(2),
        None,
        "Here is our offer for 40 seats.",
    );
    w.dovecot.put("alice", "Sent", offer.as_bytes(), "S");
    let ack = mail(
        "ack@buyer.test",
        "Bob <bob@buyer.test>",
        "alice@acme.test",
        "Re: Our offer",
        now - Duration::hours(5),
        Some("offer@acme.test"),
        &format!("Thanks Alice.\r\n{ACK}\r\nCould you send the order form?"),
    );
    w.dovecot.put("alice", "INBOX", ack.as_bytes(), "");
    w.tend(&["once"]);
    w.dovecot
        .tag("alice", "INBOX", "ack@buyer.test", "+FLAGS", "negotiation");
    w.tend(&["once"]);
    let explained =
        |w: &World| String::from_utf8(w.tend(&["explain", "bob@buyer.test"]).stdout).unwrap();
    let text = explained(&w);
    assert!(text.contains("stage negotiation"), "{text}");
    assert!(
        text.contains(
            "proposal (inferred, overruled by your correction): \"We received your offer"
        ),
        "{text}"
    );
    assert!(text.contains("negotiation (your tag)"), "{text}");
    let report = |w: &World| -> Value {
        serde_json::from_slice(&w.tend(&["report", "--json", "--since", "7d"]).stdout).unwrap()
    };
    let in_stage = |r: &Value, name: &str| {
        r["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["current"]
            .clone()
    };
    let r = report(&w);
    assert_eq!(in_stage(&r, "negotiation"), 1);
    assert_eq!(in_stage(&r, "proposal"), 0);

    std::fs::remove_dir_all(w.state().join("db")).unwrap();
    w.tend(&["once"]);
    assert_eq!(
        w.dovecot.messages("alice", "Drafts").len(),
        1,
        "the rebuilt store wrote no second draft"
    );
    let text = explained(&w);
    assert!(text.contains("stage negotiation"), "{text}");
    assert!(text.contains("negotiation (your tag)"), "{text}");
    assert_eq!(in_stage(&report(&w), "negotiation"), 1);
}
