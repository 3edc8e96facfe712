//! The user corrects a deal's stage, against a real Dovecot: a tag set in the mail client (an
//! IMAP keyword, `UID STORE +FLAGS` as Thunderbird sends it) is found in INBOX and Sent with
//! its Message-ID, a removed tag drops out on the next look, and a refused search is an error,
//! never "nothing tagged"; a pass keeps what it found in the store, and one whose look is
//! refused keeps the last look and drafts anyway. `tend stage` refuses an
//! unknown stage listing the names, checks the Message-ID when it can, and records while
//! `tend run` holds the store.

mod support;

use std::process::Output;
use support::dovecot::Dovecot;
use support::proxy::{Fault, Proxy};
use support::service::{instant_model, Setup, Tend, NO_POLL};
use tend::imap::{Keyworded, Session};

/// Stages of our own: `demo` is Thunderbird's first tag, the others are named after the stage.
const PIPELINE: &str = "[[pipeline.stages]]\nname = \"new\"\nexit = \"first contact\"\n\
    [[pipeline.stages]]\nname = \"demo\"\nexit = \"took part in a demo\"\nkeyword = \"$label1\"\n\
    [[pipeline.stages]]\nname = \"proposal\"\nexit = \"acknowledged our offer\"\n\
    [[pipeline.stages]]\nname = \"won\"\nexit = \"signed\"\noutcome = \"won\"\n";
const KEYWORDS: [&str; 4] = ["new", "$label1", "proposal", "won"];

fn mail(id: &str, from: &str, to: &str, subject: &str) -> String {
    format!(
        "Message-ID: <{id}>\r\nDate: {}\r\nFrom: {from}\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nWhat does the 50-seat plan cost?\r\n",
        (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc2822()
    )
}

/// Dovecot with alice: two buyer messages in INBOX, one of ours in Sent; tend configured with
/// [`PIPELINE`], reaching Dovecot directly (or a proxy, after `configure`).
struct World {
    dovecot: Dovecot,
    setup: Setup,
    _llm: support::llm::FakeLlm,
}

impl World {
    fn new() -> World {
        let dovecot = Dovecot::start();
        dovecot.add_user("alice", "pw");
        let put = |folder, id, from, to, flags| {
            let raw = mail(id, from, to, &format!("Pricing {id}"));
            dovecot.put("alice", folder, raw.as_bytes(), flags);
        };
        put(
            "INBOX",
            "q1@buyer.test",
            "bob@buyer.test",
            "alice@acme.test",
            "",
        );
        put(
            "INBOX",
            "q2@other.test",
            "eve@other.test",
            "alice@acme.test",
            "",
        );
        put(
            "Sent",
            "s1@acme.test",
            "alice@acme.test",
            "carl@third.test",
            "S",
        );
        let llm = instant_model();
        let setup = Setup::new(&llm, &format!("{NO_POLL}{PIPELINE}"));
        let world = World {
            dovecot,
            setup,
            _llm: llm,
        };
        world.configure(world.dovecot.port());
        world
    }

    fn configure(&self, port: u16) {
        self.setup
            .mailbox("alice", "pw", port, "timeout_seconds = 10\n");
    }

    async fn session(&self) -> Session {
        let config = tend::config::load(&self.setup.config()).unwrap();
        Session::connect(&config.mailboxes[0].imap).await.unwrap()
    }

    fn tend(&self, args: &[&str]) -> Output {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
            .arg("--config")
            .arg(self.setup.config())
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

    fn state(&self) -> std::path::PathBuf {
        self.setup.path("state")
    }
}

fn ids(found: &[Keyworded]) -> Vec<(&str, &str)> {
    found
        .iter()
        .map(|k| (k.keyword.as_str(), k.message_id.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_set_in_the_client_are_found_in_inbox_and_sent_and_a_removed_one_drops_out() {
    let w = World::new();
    w.dovecot
        .tag("alice", "INBOX", "q1@buyer.test", "+FLAGS", "proposal");
    // A client's own keyword that is no stage's: not asked for, not returned.
    w.dovecot
        .tag("alice", "INBOX", "q2@other.test", "+FLAGS", "$Forwarded");
    w.dovecot
        .tag("alice", "Sent", "s1@acme.test", "+FLAGS", "$label1");

    let mut s = w.session().await;
    let inbox = s.keyworded("INBOX", &KEYWORDS).await.unwrap();
    assert_eq!(ids(&inbox), [("proposal", "q1@buyer.test")]);
    assert!(inbox[0].uid > 0);
    let sent = s.keyworded("Sent", &KEYWORDS).await.unwrap();
    assert_eq!(ids(&sent), [("$label1", "s1@acme.test")]);
    assert!(s.keyworded("INBOX", &[]).await.unwrap().is_empty());

    // The user moves the tag to the other message.
    w.dovecot
        .tag("alice", "INBOX", "q1@buyer.test", "-FLAGS", "proposal");
    w.dovecot
        .tag("alice", "INBOX", "q2@other.test", "+FLAGS", "won");
    let inbox = s.keyworded("INBOX", &KEYWORDS).await.unwrap();
    assert_eq!(ids(&inbox), [("won", "q2@other.test")]);

    // Keywords compare case-insensitively; the configured spelling comes back.
    w.dovecot
        .tag("alice", "INBOX", "q1@buyer.test", "+FLAGS", "PROPOSAL");
    let inbox = s.keyworded("INBOX", &KEYWORDS).await.unwrap();
    assert_eq!(
        ids(&inbox),
        [("proposal", "q1@buyer.test"), ("won", "q2@other.test")]
    );
    s.logout().await;

    // Read only: the messages kept their flags and nothing was marked seen.
    let inbox = w.dovecot.messages("alice", "INBOX");
    assert!(inbox.iter().all(|m| !m.flags.contains('S')), "{inbox:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_keyword_search_or_fetch_is_an_error_not_an_empty_list() {
    let w = World::new();
    w.dovecot
        .tag("alice", "INBOX", "q1@buyer.test", "+FLAGS", "proposal");
    let proxy = Proxy::start(w.dovecot.port());
    w.configure(proxy.port());
    let mut s = w.session().await;

    let fired = proxy.inject(&["UID SEARCH", "KEYWORD"], Fault::Refuse("NO"), 1);
    let err = s.keyworded("INBOX", &KEYWORDS).await.unwrap_err();
    assert_eq!(fired.count(), 1);
    assert!(format!("{err:#}").contains("NO"), "{err:#}");

    let fired = proxy.inject(&["UID FETCH", "MESSAGE-ID"], Fault::Refuse("NO"), 1);
    let err = s.keyworded("INBOX", &KEYWORDS).await.unwrap_err();
    assert_eq!(fired.count(), 1);
    assert!(format!("{err:#}").contains("NO"), "{err:#}");

    // The session is still good, and the tag is still there.
    let inbox = s.keyworded("INBOX", &KEYWORDS).await.unwrap();
    assert_eq!(ids(&inbox), [("proposal", "q1@buyer.test")]);
    s.logout().await;
}

fn stored_stages(w: &World) -> Vec<(String, String)> {
    let store = tend::store::Store::open(&w.state(), 0).unwrap();
    store.keyworded_stages().unwrap()
}

fn pair(id: &str, stage: &str) -> (String, String) {
    (id.to_string(), stage.to_string())
}

#[test]
fn a_pass_keeps_the_tagged_stages_and_tend_stage_checks_the_id() {
    let w = World::new();
    w.dovecot
        .tag("alice", "INBOX", "q1@buyer.test", "+FLAGS", "proposal");
    w.dovecot
        .tag("alice", "Sent", "s1@acme.test", "+FLAGS", "$label1");
    assert!(w.tend(&["once"]).status.success());
    assert_eq!(
        stored_stages(&w),
        [
            pair("q1@buyer.test", "proposal"),
            pair("s1@acme.test", "demo")
        ]
    );
    w.dovecot
        .tag("alice", "Sent", "s1@acme.test", "-FLAGS", "$label1");
    assert!(w.tend(&["once"]).status.success());
    assert_eq!(stored_stages(&w), [pair("q1@buyer.test", "proposal")]);

    // The store is free: the id is looked up, with or without <>, and its thread named.
    let out = w.tend(&["stage", "<q1@buyer.test>", "Negotiation"]);
    assert_eq!(out.status.code(), Some(2), "not a stage of this pipeline");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("new, demo, proposal, won"), "{err}");
    assert!(!tend::store::corrections::path(&w.state()).exists());

    let out = w.tend(&["stage", "<q1@buyer.test>", "WON", "--note", "PO 4711"]);
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("thread <q1@buyer.test>"), "{said}");
    assert!(said.contains("stage \"won\""), "{said}");
    assert!(said.contains("next pass"), "{said}");

    let out = w.tend(&["stage", "nobody@nowhere.test", "won"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing recorded"));

    assert!(w
        .tend(&["stage", "q1@buyer.test", "--clear"])
        .status
        .success());
    let c = tend::store::corrections::load(&w.state()).unwrap();
    let got: Vec<_> = c
        .entries()
        .iter()
        .map(|e| (e.message_id.as_str(), e.stage.as_deref(), e.note.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("q1@buyer.test", Some("won"), Some("PO 4711")),
            ("q1@buyer.test", None, None)
        ]
    );
}

#[test]
fn tend_stage_records_while_tend_run_holds_the_store() {
    let w = World::new();
    let mut run = Tend::start(&w.setup.config());
    run.wait_log("pass done", 1, 60);
    let out = w.tend(&["stage", "q2@other.test", "proposal"]);
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("not checked"), "{said}");
    let (status, _) = run.stop();
    assert!(status.success(), "{}", run.log());
    let c = tend::store::corrections::load(&w.state()).unwrap();
    assert_eq!(c.entries().len(), 1);
    assert_eq!(c.entries()[0].stage.as_deref(), Some("proposal"));
}

#[test]
fn a_pass_whose_keyword_search_is_refused_keeps_the_last_look_and_drafts_anyway() {
    let w = World::new();
    w.dovecot
        .tag("alice", "INBOX", "q1@buyer.test", "+FLAGS", "proposal");
    assert!(w.tend(&["once"]).status.success());
    assert_eq!(stored_stages(&w), [pair("q1@buyer.test", "proposal")]);

    let proxy = Proxy::start(w.dovecot.port());
    w.configure(proxy.port());
    let raw = mail(
        "q3@buyer.test",
        "bob@buyer.test",
        "alice@acme.test",
        "Seats",
    );
    w.dovecot.put("alice", "INBOX", raw.as_bytes(), "");
    let fired = proxy.inject(&["UID SEARCH", "KEYWORD"], Fault::Refuse("NO"), 1);
    let out = w.tend(&["once"]);
    assert!(out.status.success());
    assert_eq!(fired.count(), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("stage keywords could not be read"));
    // Not "nothing tagged": the last look stands.
    assert_eq!(stored_stages(&w), [pair("q1@buyer.test", "proposal")]);
    let answering = w
        .dovecot
        .messages("alice", "Drafts")
        .iter()
        .filter(|d| String::from_utf8_lossy(&d.raw).contains("In-Reply-To: <q3@buyer.test>"))
        .count();
    assert_eq!(answering, 1, "the pass drafted for the new question");
}
