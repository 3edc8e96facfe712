//! End to end through Anthropic's Messages API: the real `tend` binary against a real Dovecot
//! and the local model server of `support::llm` answering on `/v1/messages`. The draft comes
//! from the forced tool's `tool_use` input; a cut answer never becomes one; `status` shows the
//! drafts and tokens of the day. (The OpenAI protocol end to end is `e2e.rs`.)

mod support;

use chrono::{Duration, Utc};
use std::os::unix::fs::PermissionsExt;
use std::process::Output;
use support::dovecot::Dovecot;
use support::llm::{FakeLlm, Reply, USAGE};

const BODY: &str =
    "Hi Bob,\n\nThe 50-seat plan is [price] a year; I can send the order form today.";

struct World {
    dovecot: Dovecot,
    llm: FakeLlm,
    dir: tempfile::TempDir,
}

impl World {
    fn new(reply: impl Fn(&serde_json::Value) -> Reply + Send + Sync + 'static) -> World {
        let dovecot = Dovecot::start();
        dovecot.add_user("alice", "s3cret pass");
        let llm = FakeLlm::start(reply);
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("mailboxes")).unwrap();
        let key = d.join("anthropic.key");
        let pw = d.join("mailboxes/alice.password");
        for (file, text) in [(&key, "sk-ant-e2e\n"), (&pw, "s3cret pass\n")] {
            std::fs::write(file, text).unwrap();
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::write(
            d.join("tend.toml"),
            format!(
                "state_dir = \"state\"\n[llm]\nprovider = \"anthropic\"\nbase_url = \"{}\"\n\
                 model = \"claude-test\"\napi_key_file = \"anthropic.key\"\nmax_tokens = 600\n",
                llm.anthropic_base_url()
            ),
        )
        .unwrap();
        std::fs::write(
            d.join("mailboxes/alice.toml"),
            format!(
                "addresses = [\"alice@acme.test\"]\ntimezone = \"UTC\"\n\
                 signature = \"Alice Seller\\nAcme Analytics\"\n[imap]\nhost = \"127.0.0.1\"\n\
                 port = {}\nsecurity = \"plain\"\nusername = \"alice\"\n\
                 password_file = \"alice.password\"\n",
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
        out
    }

    /// Bob asks for a price, five hours ago.
    fn seed_question(&self) {
        let raw = format!(
            "Message-ID: <q1@buyer.test>\r\nDate: {}\r\nFrom: Bob Buyer <bob@buyer.test>\r\n\
             To: alice@acme.test\r\nSubject: Acme Analytics pricing\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n\
             Hi Alice, what does the 50-seat plan cost per year?\r\n",
            (Utc::now() - Duration::hours(5)).to_rfc2822()
        );
        self.dovecot.put("alice", "INBOX", raw.as_bytes(), "");
    }
}

#[test]
fn a_buyer_question_is_drafted_through_the_anthropic_messages_api() {
    let w = World::new(|_| {
        Reply::Content(
            serde_json::json!({"needs_reply": true, "reason": "asks for a price", "body": BODY})
                .to_string(),
        )
    });
    w.seed_question();
    assert!(w.tend(&["once"]).status.success());
    let drafts = w.dovecot.messages("alice", "Drafts");
    assert_eq!(drafts.len(), 1, "one draft expected");
    let email = tend::parse::parse(&drafts[0].raw).unwrap();
    assert_eq!(email.in_reply_to.as_deref(), Some("q1@buyer.test"));
    assert!(
        email.text.contains("50-seat plan is [price] a year"),
        "{}",
        email.text
    );
    assert!(
        email.text.contains("Alice Seller\nAcme Analytics"),
        "signature by code"
    );
    let reqs = w.llm.requests();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req["_headers"]["x-api-key"], "sk-ant-e2e");
    assert_eq!(req["_headers"]["anthropic-version"], "2023-06-01");
    assert_eq!(req["max_tokens"], 600);
    assert!(req["system"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(req["messages"]
        .to_string()
        .contains("50-seat plan cost per year"));
    assert_eq!(req["tool_choice"]["type"], "tool");

    let status = w.tend(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    let tokens = USAGE.0 + USAGE.1;
    assert!(
        text.contains(&format!(
            "today: 1 draft, 0 vetoes, 1 model call, {tokens} tokens ({} in, {} out)",
            USAGE.0, USAGE.1
        )),
        "{text}"
    );
}

#[test]
fn an_answer_cut_at_max_tokens_never_becomes_a_draft() {
    let cut = serde_json::json!({"type": "message", "role": "assistant", "content": [
        {"type": "tool_use", "id": "t", "name": "reply", "input": {"needs_reply": true, "body": "Hi Bob, the"}}],
        "stop_reason": "max_tokens", "usage": {"input_tokens": 900, "output_tokens": 600}});
    let w = World::new(move |_| Reply::Status(200, cut.to_string()));
    w.seed_question();
    let out = w.tend(&["once"]);
    assert!(!out.status.success(), "a failed draft is a failed pass");
    assert!(w.dovecot.messages("alice", "Drafts").is_empty());
    assert_eq!(w.llm.requests().len(), 2, "asked once more, then given up");
    let text = String::from_utf8_lossy(&w.tend(&["status"]).stdout).to_string();
    assert!(
        text.contains("today: 0 drafts, 0 vetoes, 2 model calls, 3000 tokens (1800 in, 1200 out)"),
        "the tokens of a failed draft are counted too: {text}"
    );
}
