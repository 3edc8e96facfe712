//! End to end: the real `tend` binary against a real Dovecot and a local model server speaking
//! the OpenAI protocol. Mail is put straight into the Maildir and drafts are read back from
//! disk, so what is checked does not depend on tend's own IMAP code.

mod support;

use chrono::{DateTime, Duration, Utc};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;
use support::dovecot::{Dovecot, Stored};
use support::llm::{FakeLlm, Reply};
use support::mail::business_days_ago;

const BODY: &str =
    "Hi Bob,\n\nThanks for asking. The 50-seat plan is [price]; I can send the order form today.";

/// A Dovecot with user alice, a model server, and a config directory pointing at both.
struct World {
    dovecot: Dovecot,
    llm: FakeLlm,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        World::with_model(|_| {
            Reply::Content(serde_json::json!({"needs_reply": true, "reason": "asks for a price", "body": BODY}).to_string())
        })
    }

    fn with_model(reply: impl Fn(&serde_json::Value) -> Reply + Send + Sync + 'static) -> World {
        let dovecot = Dovecot::start();
        dovecot.add_user("alice", "s3cret pass");
        let llm = FakeLlm::start(reply);
        let dir = tempfile::tempdir().unwrap();
        let w = World { dovecot, llm, dir };
        w.write_config();
        w
    }

    fn write_config(&self) {
        let d = self.dir.path();
        std::fs::create_dir_all(d.join("mailboxes")).unwrap();
        std::fs::write(
            d.join("tend.toml"),
            format!(
                "state_dir = \"state\"\n[llm]\nbase_url = \"{}\"\nmodel = \"test-model\"\n",
                self.llm.base_url()
            ),
        )
        .unwrap();
        let pw = d.join("mailboxes/alice.password");
        std::fs::write(&pw, "s3cret pass\n").unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(
            d.join("mailboxes/alice.toml"),
            format!(
                r#"addresses = ["alice@acme.test", "sales@acme.test"]
internal_domains = ["acme.test"]
timezone = "UTC"
name = "Alice Seller"
signature = "Alice Seller\nAcme Analytics"
[imap]
host = "127.0.0.1"
port = {}
security = "plain"
username = "alice"
password_file = "alice.password"
"#,
                self.dovecot.port()
            ),
        )
        .unwrap();
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("tend.toml")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn tend(&self, args: &[&str]) -> Output {
        self.tend_env(args, &[])
    }

    fn tend_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        support::run::tend(&self.config(), args, env, "")
    }

    fn once(&self) -> Output {
        let out = self.tend(&["once"]);
        assert!(out.status.success(), "tend once failed");
        out
    }

    fn inbox(&self, raw: &str) {
        self.dovecot.put("alice", "INBOX", raw.as_bytes(), "");
    }

    fn sent(&self, raw: &str) {
        self.dovecot.put("alice", "Sent", raw.as_bytes(), "S");
    }

    fn drafts(&self) -> Vec<Stored> {
        self.dovecot.messages("alice", "Drafts")
    }
}

// A test message is exactly these headers; a builder would only hide them.
#[allow(clippy::too_many_arguments)]
fn mail(
    id: &str,
    from: &str,
    to: &str,
    cc: &str,
    subject: &str,
    date: DateTime<Utc>,
    reply_to: Option<&str>,
    extra: &str,
    body: &str,
) -> String {
    let mut h = format!(
        "Message-ID: <{id}>\r\nDate: {}\r\nFrom: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n",
        date.to_rfc2822()
    );
    if !cc.is_empty() {
        h.push_str(&format!("Cc: {cc}\r\n"));
    }
    if let Some(parent) = reply_to {
        h.push_str(&format!(
            "In-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n"
        ));
    }
    h.push_str(extra);
    format!("{h}\r\n{body}\r\n")
}

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    // Dovecot stores Maildir files with bare LF line ends.
    let head = raw.split("\n\n").next()?;
    head.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
}

/// The buyer's question, answered by nobody, after our first message.
fn seed_pricing_thread(w: &World) {
    let now = Utc::now();
    w.sent(&mail(
        "intro@acme.test",
        "Alice Seller <alice@acme.test>",
        "Bob Buyer <bob@buyer.test>",
        "",
        "Acme Analytics for Buyer Corp",
        now - Duration::days(3),
        None,
        "",
        "Hi Bob, great to meet you.",
    ));
    w.inbox(&mail(
        "q1@buyer.test",
        "Bob Buyer <bob@buyer.test>",
        "alice@acme.test",
        "Carol Finance <carol@buyer.test>, Sales <SALES@acme.test>",
        "Re: Acme Analytics for Buyer Corp",
        now - Duration::hours(5),
        Some("intro@acme.test"),
        "",
        "Thanks Alice. What does the 50-seat plan cost per year?\r\n\r\nOn Mon, Alice wrote:\r\n> Hi Bob, great to meet you.",
    ));
}

/// A second buyer, in a thread of its own, asking for a demo an hour ago.
fn seed_demo_request(w: &World) {
    w.inbox(&mail(
        "dan1@d.test",
        "Dan <dan@d.test>",
        "alice@acme.test",
        "",
        "Demo next week?",
        Utc::now() - Duration::hours(1),
        None,
        "",
        "Could we see a demo next week?",
    ));
}

#[test]
fn a_buyer_reply_becomes_exactly_one_threaded_draft() {
    let w = World::new();
    seed_pricing_thread(&w);
    w.once();
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 1, "one draft expected");
    let d = &drafts[0];
    assert!(
        d.flags.contains('D') && d.flags.contains('S'),
        "\\Draft and \\Seen, got {:?}",
        d.flags
    );
    let raw = String::from_utf8_lossy(&d.raw).to_string();
    let email = tend::parse::parse(&d.raw).unwrap();
    let emails = |v: &[tend::parse::Addr]| v.iter().map(|a| a.email.clone()).collect::<Vec<_>>();
    assert_eq!(emails(&email.to), ["bob@buyer.test"]);
    assert_eq!(
        emails(&email.cc),
        ["carol@buyer.test"],
        "the other external participant, never our own alias"
    );
    assert_eq!(email.from.as_ref().unwrap().email, "alice@acme.test");
    assert_eq!(email.subject, "Re: Acme Analytics for Buyer Corp");
    assert_eq!(email.in_reply_to.as_deref(), Some("q1@buyer.test"));
    assert_eq!(email.references, ["intro@acme.test", "q1@buyer.test"]);
    assert!(
        email.text.contains("50-seat plan is [price]"),
        "the model's body: {}",
        email.text
    );
    assert!(
        email.text.contains("Alice Seller\nAcme Analytics"),
        "signature appended by code"
    );
    assert!(
        email
            .text
            .contains("> Thanks Alice. What does the 50-seat plan cost"),
        "parent quoted"
    );
    assert!(header(&raw, "X-Tend-Draft").is_some(), "our marker header");
    // The model saw the thread, delimited.
    let reqs = w.llm.requests();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].to_string().contains("50-seat plan cost per year"));
    // The buyer's message stays unread.
    let inbox = w.dovecot.messages("alice", "INBOX");
    assert!(
        inbox.iter().all(|m| !m.flags.contains('S')),
        "buyer mail must stay unread: {:?}",
        inbox.iter().map(|m| &m.flags).collect::<Vec<_>>()
    );

    // A second pass changes nothing and does not ask the model again.
    w.once();
    assert_eq!(w.drafts().len(), 1);
    assert_eq!(w.llm.requests().len(), 1);

    // status names the thread and says a draft is waiting.
    let status = w.tend(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("1 of")
            && text.contains("needs a reply")
            && text.contains("draft written to Drafts"),
        "{text}"
    );
}

#[test]
fn our_reply_in_sent_means_no_draft() {
    let w = World::new();
    seed_pricing_thread(&w);
    w.sent(&mail(
        "ans@acme.test",
        "alice@acme.test",
        "bob@buyer.test",
        "",
        "Re: Acme Analytics for Buyer Corp",
        Utc::now() - Duration::hours(1),
        Some("q1@buyer.test"),
        "",
        "It is 9,000 a year.",
    ));
    w.once();
    assert!(w.drafts().is_empty());
    assert!(
        w.llm.draft_requests().is_empty(),
        "no draft call when nothing needs attention"
    );
    assert_eq!(
        w.llm.stage_requests().len(),
        1,
        "the buyer's mail gets its stage inferred once"
    );
}

#[test]
fn automated_and_internal_mail_get_no_draft() {
    let w = World::new();
    let now = Utc::now() - Duration::hours(2);
    w.inbox(&mail(
        "ooo@buyer.test",
        "Dana <dana@buyer.test>",
        "alice@acme.test",
        "",
        "Automatic reply: Proposal",
        now,
        None,
        "Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n",
        "I am out of office until Monday.",
    ));
    w.inbox(&mail(
        "news@mail.vendor.test",
        "Vendor News <news@vendor.test>",
        "alice@acme.test",
        "",
        "Our November newsletter",
        now,
        None,
        "List-Unsubscribe: <mailto:unsub@vendor.test>\r\nPrecedence: bulk\r\n",
        "Big news this month.",
    ));
    w.inbox(&format!(
        "Message-ID: <bounce@mx.acme.test>\r\nDate: {}\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.acme.test>\r\nTo: alice@acme.test\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nThis is the mail system. Your message could not be delivered.\r\n--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.test\r\n\r\nFinal-Recipient: rfc822; gone@buyer.test\r\nAction: failed\r\nStatus: 5.1.1\r\n--b1--\r\n",
        now.to_rfc2822()
    ));
    w.inbox(&mail(
        "colleague@acme.test",
        "Carl Colleague <carl@acme.test>",
        "alice@acme.test",
        "",
        "Can you look at the Q4 numbers?",
        now,
        None,
        "",
        "Need your eyes on this.",
    ));
    w.once();
    assert!(
        w.drafts().is_empty(),
        "no drafts for automated or internal mail"
    );
    assert!(w.llm.requests().is_empty());
}

fn seed_proposal(w: &World, sent_at: DateTime<Utc>) {
    w.inbox(&mail(
        "ask@buyer.test",
        "Bob Buyer <bob@buyer.test>",
        "alice@acme.test",
        "",
        "Proposal request",
        sent_at - Duration::days(2),
        None,
        "",
        "Could you send us a proposal for 50 seats?",
    ));
    w.sent(&mail(
        "prop@acme.test",
        "Alice Seller <alice@acme.test>",
        "Bob Buyer <bob@buyer.test>",
        "",
        "Re: Proposal request",
        sent_at,
        Some("ask@buyer.test"),
        "",
        "Here is our proposal: 50 seats, 9,000 a year.",
    ));
}

#[test]
fn a_proposal_unanswered_for_four_business_days_gets_a_follow_up() {
    let w = World::new();
    seed_proposal(&w, business_days_ago(4));
    // The buyer's out-of-office does not end the silence.
    w.inbox(&mail(
        "ooo2@buyer.test",
        "Bob Buyer <bob@buyer.test>",
        "alice@acme.test",
        "",
        "Automatic reply: Re: Proposal request",
        business_days_ago(4) + Duration::minutes(1),
        Some("prop@acme.test"),
        "Auto-Submitted: auto-replied\r\n",
        "Out until next week.",
    ));
    w.once();
    w.tend(&["explain", "prop@acme.test"]);
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 1);
    let email = tend::parse::parse(&drafts[0].raw).unwrap();
    assert_eq!(
        email
            .to
            .iter()
            .map(|a| a.email.as_str())
            .collect::<Vec<_>>(),
        ["bob@buyer.test"]
    );
    assert_eq!(
        email.in_reply_to.as_deref(),
        Some("prop@acme.test"),
        "a follow-up answers our own proposal"
    );
    assert_eq!(email.subject, "Re: Proposal request");
    let prompt = w.llm.requests()[0].to_string();
    assert!(
        prompt.contains("50 seats, 9,000 a year"),
        "grounded in our proposal"
    );
}

#[test]
fn a_proposal_two_business_days_old_gets_nothing_yet() {
    let w = World::new();
    seed_proposal(&w, business_days_ago(2));
    w.once();
    assert!(w.drafts().is_empty());
    let status = w.tend(&["explain", "prop@acme.test"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("nothing to do"), "explain says why: {text}");
}

// The crash hook exists only in debug builds (a release binary never aborts on an environment
// variable); `cargo test --release` builds both without it.
#[cfg(debug_assertions)]
#[test]
fn a_crash_between_append_and_ledger_leaves_one_draft() {
    let w = World::new();
    seed_pricing_thread(&w);
    let out = w.tend_env(&["once"], &[("TEND_TEST_CRASH_AFTER_APPEND", "1")]);
    assert!(
        !out.status.success(),
        "the injected crash aborts the process"
    );
    assert_eq!(w.drafts().len(), 1, "the APPEND happened before the crash");
    w.once();
    assert_eq!(
        w.drafts().len(),
        1,
        "the rerun finds the draft by its Message-ID"
    );
    assert_eq!(
        w.llm.requests().len(),
        1,
        "and does not pay the model again"
    );
}

#[test]
fn a_deleted_state_directory_does_not_duplicate_drafts() {
    let w = World::new();
    seed_pricing_thread(&w);
    w.once();
    assert_eq!(w.drafts().len(), 1);
    std::fs::remove_dir_all(w.state()).unwrap();
    w.once();
    assert_eq!(w.drafts().len(), 1);
}

#[test]
fn a_draft_the_user_deleted_is_not_recreated() {
    let w = World::new();
    seed_pricing_thread(&w);
    w.once();
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 1);
    w.dovecot.remove(&drafts[0].path);
    w.once();
    assert!(w.drafts().is_empty());
}

#[test]
fn an_unparseable_message_is_skipped_and_the_rest_processed() {
    let w = World::new();
    w.dovecot.put("alice", "INBOX", b"", "");
    w.dovecot
        .put("alice", "INBOX", &[0xff, 0xfe, 0x00, 0x01, 0x02], "");
    seed_pricing_thread(&w);
    let out = w.once();
    assert_eq!(w.drafts().len(), 1, "the good thread still gets its draft");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains(" 0 fetched"), "{stdout}");
}

#[test]
fn a_model_veto_is_kept_and_not_asked_again() {
    let w = World::with_model(|_| {
        Reply::Content(
            r#"{"needs_reply": false, "reason": "they only said thanks", "body": ""}"#.into(),
        )
    });
    seed_pricing_thread(&w);
    w.once();
    w.once();
    assert!(w.drafts().is_empty());
    assert_eq!(w.llm.requests().len(), 1);
    let status = w.tend(&["status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("they only said thanks"));
}

#[test]
fn a_failing_model_writes_no_draft_and_a_later_pass_does() {
    let w =
        World::with_model(|_| Reply::Status(503, r#"{"error":{"message":"overloaded"}}"#.into()));
    seed_pricing_thread(&w);
    seed_demo_request(&w);
    let out = w.tend(&["once"]);
    assert!(
        !out.status.success(),
        "a failed draft is reported in the exit status"
    );
    assert!(w.drafts().is_empty());
    assert_eq!(
        w.llm.requests().len(),
        3,
        "one thread's tries (the first and two retries, as the SDKs do); a model that is down \
         is not asked again for every thread"
    );
    // The same mailbox, now with a working model: the draft appears.
    let w2 = World {
        llm: FakeLlm::start(|_| {
            Reply::Content(format!(
                "{{\"needs_reply\":true,\"reason\":\"r\",\"body\":{}}}",
                serde_json::to_string(BODY).unwrap()
            ))
        }),
        ..w
    };
    w2.write_config();
    w2.once();
    assert_eq!(w2.drafts().len(), 2);
}

#[test]
fn dry_run_prints_drafts_and_writes_nothing() {
    let w = World::new();
    seed_pricing_thread(&w);
    let out = w.tend(&["once", "--dry-run"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Subject: Re: Acme Analytics for Buyer Corp")
            && text.contains("To: bob@buyer.test"),
        "{text}"
    );
    assert!(w.drafts().is_empty());
}

#[test]
fn check_reports_login_and_folders_and_refuses_a_wrong_password() {
    let w = World::new();
    let out = w.tend(&["check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("drafts \"Drafts\"") && text.contains("sent \"Sent\""),
        "{text}"
    );
    std::fs::write(w.dir.path().join("mailboxes/alice.password"), "wrong\n").unwrap();
    let out = w.tend(&["check"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("login refused by"));
}

#[test]
fn tls_with_a_self_signed_ca_file_works() {
    let w = World::new();
    let path = w.dir.path().join("mailboxes/alice.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace(
            &format!("port = {}", w.dovecot.port()),
            &format!("port = {}", w.dovecot.tls_port()),
        )
        .replace(
            "security = \"plain\"",
            &format!("security = \"tls\"\nca_file = {:?}", w.dovecot.ca_file()),
        )
        .replace("127.0.0.1", "localhost");
    std::fs::write(&path, text).unwrap();
    seed_pricing_thread(&w);
    w.once();
    assert_eq!(w.drafts().len(), 1);
}

#[test]
fn bad_config_exits_78_naming_file_and_key() {
    let w = World::new();
    let path = w.dir.path().join("mailboxes/alice.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace(
            "timezone = \"UTC\"",
            "timezone = \"UTC\"\ncolour = \"blue\"",
        ),
    )
    .unwrap();
    let out = w.tend(&["check"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("alice.toml") && err.contains("colour"),
        "{err}"
    );
    // A world-readable or missing password file is a configuration error too, found at start.
    std::fs::write(&path, text).unwrap();
    let pw = w.dir.path().join("mailboxes/alice.password");
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = w.tend(&["once"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("alice.toml") && err.contains("password_file") && err.contains("chmod 600"),
        "{err}"
    );
    std::fs::remove_file(&pw).unwrap();
    let out = w.tend(&["run"]);
    assert_eq!(
        out.status.code(),
        Some(78),
        "run refuses to start rather than fail at login"
    );
}

#[test]
fn an_answer_sent_while_the_model_drafts_drops_the_draft() {
    let w = World::with_model(|_| {
        let answer =
            serde_json::json!({"needs_reply": true, "reason": "r", "body": BODY}).to_string();
        Reply::Delay(
            std::time::Duration::from_secs(2),
            Box::new(Reply::Content(answer)),
        )
    });
    seed_pricing_thread(&w);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(w.config())
        .arg("once")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while w.llm.requests().is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "tend ended before asking the model"
        );
        assert!(start.elapsed().as_secs() < 20, "tend never asked the model");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The seller answers from their phone while the model is still writing.
    w.sent(&mail(
        "phone@acme.test",
        "alice@acme.test",
        "bob@buyer.test",
        "",
        "Re: Acme Analytics for Buyer Corp",
        Utc::now(),
        Some("q1@buyer.test"),
        "",
        "9,000 a year, Bob.",
    ));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("answered while drafting"));
    assert!(
        w.drafts().is_empty(),
        "no draft for a thread answered meanwhile"
    );
}

#[test]
fn a_uidvalidity_change_resyncs_without_duplicates() {
    let mut w = World::new();
    seed_pricing_thread(&w);
    w.once();
    assert_eq!(w.drafts().len(), 1);
    // The server forgets its UIDs (a restore, a migration): new UIDVALIDITY for every folder.
    w.dovecot.kill();
    let root = w.dovecot.base().join("mail/alice");
    for dir in [root.clone(), root.join(".Sent"), root.join(".Drafts")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with("dovecot-uidlist")
                || name.starts_with("dovecot.index")
                || name.starts_with("dovecot-uidvalidity")
            {
                std::fs::remove_file(&path).unwrap();
            }
        }
    }
    // UIDVALIDITY is time-based: make sure the new one differs.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    w.dovecot.restart();
    seed_demo_request(&w);
    let out = w.once();
    assert!(String::from_utf8_lossy(&out.stderr).contains("UIDVALIDITY changed"));
    assert_eq!(
        w.drafts().len(),
        2,
        "the old draft stays single; the new thread gets one"
    );
    assert_eq!(w.llm.requests().len(), 2);
    let status = w.tend(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(
        text.contains("2 of 2 recent threads"),
        "no thread duplicated by the resync: {text}"
    );
}

#[test]
fn run_drafts_then_stops_cleanly_on_sigterm() {
    let w = World::new();
    let toml = std::fs::read_to_string(w.config()).unwrap();
    std::fs::write(w.config(), format!("poll_interval_seconds = 1\n{toml}")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(w.config())
        .arg("run")
        .spawn()
        .unwrap();
    // Mail arriving while tend runs is drafted on a later pass.
    std::thread::sleep(std::time::Duration::from_millis(500));
    seed_pricing_thread(&w);
    let start = std::time::Instant::now();
    while w.drafts().is_empty() {
        assert!(child.try_wait().unwrap().is_none(), "tend run exited early");
        assert!(start.elapsed().as_secs() < 20, "no draft from tend run");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // While the service holds the store, `status` shows what it left after its last round.
    let snapshot = w.state().join("status.txt");
    while !std::fs::read_to_string(&snapshot).is_ok_and(|t| t.contains("draft written")) {
        assert!(
            start.elapsed().as_secs() < 20,
            "no status snapshot from tend run"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = w.tend(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success(),
        "status works while tend run holds the store"
    );
    assert!(
        text.contains("tend run is active") && text.contains("needs a reply"),
        "{text}"
    );
    let once = w.tend(&["once"]);
    assert!(!once.status.success());
    assert!(String::from_utf8_lossy(&once.stderr).contains("another tend process"));
    assert!(
        !w.state().join("db.broken").exists()
            && std::fs::read_dir(w.state()).unwrap().all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("broken")),
        "the live store is never moved aside"
    );
    let kill = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(kill.success());
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed().as_secs() < 10,
            "tend run did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    assert_eq!(w.drafts().len(), 1);
}

/// `[rules] model_may_veto = false` appended to alice's mailbox file.
fn forbid_vetoes(w: &World) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(w.dir.path().join("mailboxes/alice.toml"))
        .unwrap();
    f.write_all(b"[rules]\nmodel_may_veto = false\n").unwrap();
}

#[test]
fn with_model_may_veto_false_a_veto_with_a_body_still_becomes_a_draft() {
    let w = World::with_model(|_| {
        Reply::Content(
            serde_json::json!({"needs_reply": false, "reason": "they only said thanks", "body": BODY})
                .to_string(),
        )
    });
    forbid_vetoes(&w);
    seed_pricing_thread(&w);
    w.once();
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 1, "the veto is overruled");
    let email = tend::parse::parse(&drafts[0].raw).unwrap();
    assert_eq!(email.in_reply_to.as_deref(), Some("q1@buyer.test"));
    assert!(
        email.text.contains("50-seat plan is [price]"),
        "{}",
        email.text
    );
    let reqs = w.llm.requests();
    assert_eq!(reqs.len(), 1, "a usable answer is not asked for twice");
    assert_eq!(reqs[0]["response_format"]["type"], "json_schema");
    let system = reqs[0]["messages"][0]["content"].as_str().unwrap();
    assert!(
        !system.contains("needs_reply to false"),
        "no veto invited: {system}"
    );
    let status = w.tend(&["status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("draft written to Drafts"));
}

#[test]
fn with_model_may_veto_false_a_bare_veto_is_a_failed_answer_not_paid_for_again() {
    let w = World::with_model(|_| {
        Reply::Content(
            r#"{"needs_reply": false, "reason": "they only said thanks", "body": ""}"#.into(),
        )
    });
    forbid_vetoes(&w);
    seed_pricing_thread(&w);
    let out = w.tend(&["once"]);
    assert!(
        !out.status.success(),
        "a failed draft shows in the exit status"
    );
    assert!(w.drafts().is_empty());
    assert_eq!(
        w.llm.draft_requests().len(),
        2,
        "asked once more, then given up"
    );
    // Unusable twice cannot heal: recorded (not as a veto), and not paid for on the next pass.
    w.once();
    assert_eq!(w.llm.draft_requests().len(), 2);
    let status = String::from_utf8_lossy(&w.tend(&["status"]).stdout).to_string();
    assert!(
        status.contains("failed 1 time") && status.contains("not tried again until"),
        "{status}"
    );
    // Until the thread changes: a new message from Bob is a new finding, asked for again.
    w.inbox(&mail(
        "q2@buyer.test",
        "Bob Buyer <bob@buyer.test>",
        "alice@acme.test",
        "",
        "Re: Acme Analytics for Buyer Corp",
        Utc::now() - Duration::hours(1),
        Some("q1@buyer.test"),
        "",
        "And for 80 seats?",
    ));
    let _ = w.tend(&["once"]);
    assert_eq!(w.llm.draft_requests().len(), 4);
    assert!(w.drafts().is_empty());
}

#[test]
fn kill_9_in_the_middle_of_a_sync_loses_nothing_and_duplicates_nothing() {
    let w = World::new();
    // Enough mail that the first sync takes a while: 600 two-message threads.
    let now = Utc::now();
    for i in 0..600 {
        let at = now - Duration::hours(2 + i);
        let (q, a) = (format!("q{i}@buyer{i}.test"), format!("a{i}@acme.test"));
        let body = "We are comparing three vendors; what would 40 seats cost? ".repeat(40);
        w.inbox(&mail(
            &q,
            &format!("Buyer {i} <b{i}@buyer{i}.test>"),
            "alice@acme.test",
            "",
            &format!("Question {i}"),
            at,
            None,
            "",
            &body,
        ));
        if i % 2 == 0 {
            w.sent(&mail(
                &a,
                "alice@acme.test",
                &format!("b{i}@buyer{i}.test"),
                "",
                &format!("Re: Question {i}"),
                at + Duration::minutes(30),
                Some(&q),
                "",
                "Here you go.",
            ));
        }
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(w.config())
        .arg("sync")
        .env("RUST_LOG", "tend=debug")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill it right after its first batch is stored, well before the end.
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut lines = std::io::BufRead::lines(stderr);
    assert!(
        lines.any(|l| l.unwrap().contains("batch stored")),
        "no batch was stored"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let out = w.tend(&["sync"]);
    assert!(out.status.success());
    let resumed = String::from_utf8_lossy(&out.stdout).to_string();
    let status = String::from_utf8_lossy(&w.tend(&["status"]).stdout).to_string();
    // The same mailbox synced cleanly from nothing gives the same record.
    std::fs::remove_dir_all(w.state()).unwrap();
    assert!(w.tend(&["sync"]).status.success());
    let clean = String::from_utf8_lossy(&w.tend(&["status"]).stdout).to_string();
    assert_eq!(
        status, clean,
        "a killed sync, resumed, leaves the record a clean sync leaves"
    );
    assert!(
        clean.contains("of 600 recent threads need attention"),
        "{clean}"
    );
    assert!(
        !resumed.contains("900 fetched"),
        "the rerun resumed after the stored batch: {resumed}"
    );
}

/// The model answers 400 (context too long) to any prompt holding `canary`, a draft otherwise.
fn refusing(canary: &'static str) -> impl Fn(&serde_json::Value) -> Reply + Send + Sync {
    move |body| {
        if body.to_string().contains(canary) {
            Reply::Status(
                400,
                r#"{"error":{"message":"This model's maximum context length is 8192 tokens"}}"#
                    .into(),
            )
        } else {
            Reply::Content(
                serde_json::json!({"needs_reply": true, "reason": "r", "body": BODY}).to_string(),
            )
        }
    }
}

#[test]
fn model_400_on_one_thread_does_not_stop_the_others() {
    // The pricing thread is the older one: asked first before, and blocking everything.
    let w = World::with_model(refusing("50-seat plan cost"));
    seed_pricing_thread(&w);
    seed_demo_request(&w);
    let out = w.tend(&["once"]);
    assert!(
        !out.status.success(),
        "the failed draft shows in the exit status"
    );
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 1, "the other thread gets its draft");
    assert!(String::from_utf8_lossy(&drafts[0].raw).contains("<dan1@d.test>"));
    let asked = w.llm.draft_requests().len();
    // json_schema, then json_object (in case the schema was the problem), then the demo.
    assert_eq!(asked, 3);
    // The failure is recorded with a backoff: the next pass does not pay for it again.
    w.once();
    assert_eq!(
        w.llm.draft_requests().len(),
        asked,
        "not asked again before the backoff"
    );
    assert_eq!(w.drafts().len(), 1);
    let status = String::from_utf8_lossy(&w.tend(&["status"]).stdout).to_string();
    assert!(
        status.contains("failed 1 time") && status.contains("maximum context length"),
        "{status}"
    );
    assert!(status.contains("next try"), "{status}");
}

#[test]
fn a_finding_without_a_recipient_is_recorded_without_asking_the_model() {
    let w = World::new();
    seed_pricing_thread(&w);
    // A sender address no mail can be sent to: no recipient is left for a reply.
    w.inbox(&mail(
        "self1@buyer.test",
        "Bob <bob@buyer..test>",
        "alice@acme.test",
        "",
        "Quote request",
        Utc::now() - Duration::hours(2),
        None,
        "",
        "Can you send me a quote?",
    ));
    w.tend(&["once"]);
    w.tend(&["once"]);
    let prompts: Vec<String> = w
        .llm
        .draft_requests()
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert!(
        !prompts
            .iter()
            .any(|p| p.contains("Can you send me a quote")),
        "no draft call for a draft nobody could receive"
    );
    assert_eq!(w.drafts().len(), 1, "the pricing thread is drafted");
    let status = String::from_utf8_lossy(&w.tend(&["status"]).stdout).to_string();
    assert!(
        status.contains("no recipient") && status.contains("not tried again until"),
        "{status}"
    );
}

/// Runs `tend once` until the store is free (sled lets go of its lock shortly after a test
/// closed it).
fn once_when_free(w: &World) {
    for _ in 0..100 {
        let out = w.tend(&["once"]);
        if out.status.success() {
            return;
        }
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("another tend process"),
            "tend once failed"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the store stayed locked");
}

#[test]
fn renaming_the_mailbox_file_writes_no_second_draft() {
    let w = World::new();
    seed_pricing_thread(&w);
    w.once();
    assert_eq!(w.drafts().len(), 1);
    let m = w.dir.path().join("mailboxes");
    std::fs::rename(m.join("alice.toml"), m.join("alice-work.toml")).unwrap();
    w.once();
    assert_eq!(w.drafts().len(), 1, "the same draft identity");
    assert_eq!(w.llm.requests().len(), 1, "and no second model bill");
}

#[test]
fn reordering_addresses_writes_no_second_draft() {
    let w = World::new();
    let file = w.dir.path().join("mailboxes/alice.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let two_domains =
        r#"addresses = ["alice@acme.test", "alice@acme-sales.test", "sales@acme.test"]"#;
    let old = r#"addresses = ["alice@acme.test", "sales@acme.test"]"#;
    std::fs::write(&file, text.replace(old, two_domains)).unwrap();
    seed_pricing_thread(&w);
    w.once();
    assert_eq!(w.drafts().len(), 1);
    // The primary address, and with it its domain, is now another one.
    let reordered =
        r#"addresses = ["alice@acme-sales.test", "sales@acme.test", "alice@acme.test"]"#;
    std::fs::write(&file, text.replace(old, reordered)).unwrap();
    w.once();
    assert_eq!(w.drafts().len(), 1, "the same draft identity");
    assert_eq!(w.llm.requests().len(), 1, "and no second model bill");
}

/// The thread id the store gave the pricing thread's question, after a sync.
fn pricing_thread_id(w: &World) -> String {
    assert!(w.tend(&["sync"]).status.success());
    let store = tend::store::Store::open(&w.state(), 0).unwrap();
    store.thread_of("q1@buyer.test").unwrap().expect("synced")
}

#[test]
fn an_upgraded_store_whose_ledger_holds_legacy_ids_writes_no_duplicate() {
    let w = World::new();
    seed_pricing_thread(&w);
    let thread_id = pricing_thread_id(&w);
    {
        // What tend 0.1 recorded after writing the draft (which the user has since deleted).
        let store = tend::store::Store::open(&w.state(), 0).unwrap();
        let legacy = tend::draft::compose::legacy_message_id(
            "alice",
            &thread_id,
            "q1@buyer.test",
            "acme.test",
        );
        let record = tend::store::DraftRecord {
            mailbox: "alice".into(),
            thread_id,
            trigger: "q1@buyer.test".into(),
            state: tend::store::DraftState::Appended,
            at: Utc::now().timestamp(),
        };
        store.record_draft(&legacy, &record).unwrap();
    }
    once_when_free(&w);
    assert!(w.drafts().is_empty(), "handled under its old id");
    assert!(w.llm.draft_requests().is_empty(), "and not paid for again");
}

#[test]
fn a_draft_written_under_a_legacy_id_is_found_in_drafts() {
    let w = World::new();
    seed_pricing_thread(&w);
    let thread_id = pricing_thread_id(&w);
    let legacy =
        tend::draft::compose::legacy_message_id("alice", &thread_id, "q1@buyer.test", "acme.test");
    // A draft tend 0.1 appended, and then a lost state directory.
    w.dovecot.put(
        "alice",
        "Drafts",
        mail(
            &legacy,
            "Alice Seller <alice@acme.test>",
            "bob@buyer.test",
            "",
            "Re: Acme Analytics for Buyer Corp",
            Utc::now() - Duration::hours(4),
            Some("q1@buyer.test"),
            "X-Tend-Draft: v1\r\n",
            BODY,
        )
        .as_bytes(),
        "DS",
    );
    std::fs::remove_dir_all(w.state()).unwrap();
    w.once();
    assert_eq!(w.drafts().len(), 1, "no second draft beside the old one");
    assert!(w.llm.draft_requests().is_empty(), "and no model call");
}

#[test]
fn tend_once_stops_between_steps_on_sigint() {
    let w = World::with_model(|_| {
        Reply::Delay(
            std::time::Duration::from_secs(60),
            Box::new(Reply::Content(
                serde_json::json!({"needs_reply": true, "reason": "r", "body": BODY}).to_string(),
            )),
        )
    });
    seed_pricing_thread(&w);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(w.config())
        .arg("once")
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while w.llm.requests().is_empty() {
        assert!(start.elapsed().as_secs() < 20, "the model was never asked");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("kill -s INT {}", child.id()))
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "tend once ended by itself (not killed by the signal), saying it was not done\n{stderr}"
    );
    assert!(stderr.contains("SIGINT: stopping"), "{stderr}");
    assert!(
        start.elapsed().as_secs() < 30,
        "it did not wait for the model"
    );
    assert!(w.drafts().is_empty());
}

/// The thread the store filed `id` under, once the store is free.
fn thread_of(w: &World, id: &str) -> String {
    for _ in 0..100 {
        match tend::store::Store::open(&w.state(), 0) {
            Ok(store) => return store.thread_of(id).unwrap().expect("stored"),
            Err(err) if tend::store::is_locked(&err) => {
                std::thread::sleep(std::time::Duration::from_millis(100))
            }
            Err(err) => panic!("{err:#}"),
        }
    }
    panic!("the store stayed locked");
}

#[test]
fn a_thread_merge_changing_the_thread_id_writes_no_second_draft() {
    let w = World::new();
    let now = Utc::now();
    w.sent(&mail(
        "intro@acme.test",
        "Alice Seller <alice@acme.test>",
        "Bob Buyer <bob@buyer.test>",
        "",
        "Acme Analytics for Buyer Corp",
        now - Duration::days(3),
        None,
        "",
        "Hi Bob, great to meet you.",
    ));
    // Bob answers a message of ours the store has not seen: a thread of its own.
    w.inbox(&mail(
        "q1@buyer.test",
        "Bob Buyer <bob@buyer.test>",
        "alice@acme.test",
        "",
        "Re: Acme Analytics for Buyer Corp",
        now - Duration::hours(5),
        Some("second@acme.test"),
        "",
        "What does the 50-seat plan cost per year?",
    ));
    w.once();
    assert_eq!(w.drafts().len(), 1);
    let before = thread_of(&w, "q1@buyer.test");
    // That message of ours turns up (a colleague's copy, an old folder): it answers the intro,
    // so the two threads become one.
    w.sent(&mail(
        "second@acme.test",
        "Alice Seller <alice@acme.test>",
        "Bob Buyer <bob@buyer.test>",
        "",
        "Re: Acme Analytics for Buyer Corp",
        now - Duration::days(2),
        Some("intro@acme.test"),
        "",
        "Bob, the brochure you asked for.",
    ));
    once_when_free(&w);
    let after = thread_of(&w, "q1@buyer.test");
    assert_ne!(before, after, "the merge renamed the trigger's thread");
    assert_eq!(w.drafts().len(), 1, "the same draft identity");
    assert_eq!(w.llm.requests().len(), 1, "and no second model bill");
}

#[test]
fn explain_prompt_prints_exactly_what_the_draft_then_sends() {
    let w = World::new();
    seed_pricing_thread(&w);
    assert!(w.tend(&["sync"]).status.success());
    let out = w.tend(&["explain", "--prompt", "q1@buyer.test"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        w.llm.requests().is_empty(),
        "explain --prompt calls no model"
    );
    // The explanation names every check and the prompt's parts.
    let out = w.tend(&["explain", "q1@buyer.test"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "how the rules got there:",
        "reply window: Bob Buyer <bob@buyer.test> wrote today; the window is 14 days",
        "addressed to us: one of our addresses is in To or Cc",
        "the prompt a draft would send now",
        "<thread>: ",
        "2 message(s)",
    ] {
        assert!(text.contains(want), "explain lacks {want:?}:\n{text}");
    }
    w.once();
    let reqs = w.llm.requests();
    assert_eq!(reqs.len(), 1);
    let mut sent = String::new();
    for m in reqs[0]["messages"].as_array().unwrap() {
        sent.push_str(&format!(
            "===== {} =====\n{}\n",
            m["role"].as_str().unwrap(),
            m["content"].as_str().unwrap()
        ));
    }
    assert_eq!(printed, sent);
    // What the model cost for this draft, from the usage the pass recorded.
    let out = w.tend(&["explain", "q1@buyer.test"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("the model so far: 1 answer(s),"),
        "explain shows the draft's tokens:\n{text}"
    );
}
