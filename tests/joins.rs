//! A new thread that continues an open deal joins it, end to end: the real binary over a real
//! Dovecot and the local model server. Carol at nordwind.example asked alice for a pilot eight
//! days ago and got a quote; a day ago her colleague Dan started a thread of his own, "PO for
//! the pilot". The model (the local server, which tells the join call apart by its schema
//! name) says it continues the deal: one deal, with its reason in `tend explain`; it is asked
//! once; `tend deal --split` makes two deals again, and that survives a rebuilt store.

mod support;

use chrono::{Duration, Utc};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::dovecot::Dovecot;
use support::llm::{FakeLlm, Reply};
use support::service::{answer, Setup, NO_POLL};

const REASON: &str = "the PO for the pilot we quoted";

fn is_join(req: &Value) -> bool {
    req.to_string().contains("\"deal_join\"")
}

/// alice's mailbox with the pilot thread and Dan's PO, and a model that says yes to the join.
fn world() -> (Dovecot, FakeLlm, Arc<AtomicUsize>, Setup) {
    let joins = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&joins);
    let llm = FakeLlm::start(move |req| {
        if is_join(req) {
            counted.fetch_add(1, Ordering::SeqCst);
            Reply::Content(serde_json::json!({"continues": true, "reason": REASON}).to_string())
        } else {
            Reply::Content(answer())
        }
    });
    let d = Dovecot::start();
    d.add_user("alice", "pw");
    let date = |days: i64| (Utc::now() - Duration::days(days)).to_rfc2822();
    let ask = format!(
        "Message-ID: <pilot1@nordwind.example>\r\nDate: {}\r\nFrom: Carol <carol@nordwind.example>\r\n\
         To: alice@acme.test\r\nSubject: Pilot for 20 seats\r\n\r\nCould we run a pilot for 20 seats?\r\n",
        date(8)
    );
    d.put("alice", "INBOX", ask.as_bytes(), "S");
    let quote = format!(
        "Message-ID: <pilot2@acme.test>\r\nDate: {}\r\nFrom: alice@acme.test\r\n\
         To: Carol <carol@nordwind.example>\r\nSubject: Re: Pilot for 20 seats\r\n\
         In-Reply-To: <pilot1@nordwind.example>\r\nReferences: <pilot1@nordwind.example>\r\n\r\n\
         Gladly: the pilot is EUR 4,000 for three months.\r\n",
        date(7)
    );
    d.put("alice", "Sent", quote.as_bytes(), "S");
    let po = format!(
        "Message-ID: <po1@nordwind.example>\r\nDate: {}\r\nFrom: Dan <dan@nordwind.example>\r\n\
         To: alice@acme.test\r\nSubject: PO for the pilot\r\n\r\nHi Alice, attached is our purchase \
         order for the pilot. Where do we send it?\r\n",
        date(1)
    );
    d.put("alice", "INBOX", po.as_bytes(), "S");
    let setup = Setup::new(&llm, NO_POLL);
    let pw = setup.path("mailboxes/alice.password");
    std::fs::write(&pw, "pw\n").unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = format!(
        "addresses = [\"alice@acme.test\"]\ninternal_domains = [\"acme.test\"]\n\
         timezone = \"UTC\"\n[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\n\
         username = \"alice\"\npassword_file = \"alice.password\"\n",
        d.port()
    );
    std::fs::write(setup.path("mailboxes/alice.toml"), text).unwrap();
    (d, llm, joins, setup)
}

fn tend(setup: &Setup, args: &[&str]) -> Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(setup.config())
        .args(args)
        .env("NO_COLOR", "1")
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

fn ok(setup: &Setup, args: &[&str]) -> String {
    let out = tend(setup, args);
    assert!(out.status.success(), "tend {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The deals alice's mailbox owns, by `tend report --json`.
fn deals(setup: &Setup) -> u64 {
    let r: Value = serde_json::from_str(&ok(setup, &["report", "--json"])).unwrap();
    let mb = r["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "alice")
        .unwrap();
    mb["deals"].as_u64().unwrap()
}

#[test]
fn a_new_thread_the_model_judges_to_continue_an_open_deal_joins_it_until_the_user_splits_it() {
    let (_d, _llm, joins, setup) = world();
    // Before any judgement: a deal per thread.
    ok(&setup, &["sync"]);
    assert_eq!(deals(&setup), 2);

    ok(&setup, &["once"]);
    assert_eq!(joins.load(Ordering::SeqCst), 1, "one pair, one question");
    assert_eq!(deals(&setup), 1, "the PO joined the pilot's deal");
    let story = ok(&setup, &["explain", "nordwind.example"]);
    assert!(story.contains(REASON), "{story}");
    assert!(story.contains("PO for the pilot"), "{story}");
    let why = ok(&setup, &["explain", "<po1@nordwind.example>"]);
    assert!(
        why.contains(&format!("the model judged: {REASON}")),
        "{why}"
    );

    ok(&setup, &["once"]);
    assert_eq!(
        joins.load(Ordering::SeqCst),
        1,
        "a judged thread is not asked again"
    );

    let said = ok(&setup, &["deal", "<po1@nordwind.example>", "--split"]);
    assert!(said.contains("a deal of its own"), "{said}");
    assert_eq!(deals(&setup), 2, "the user's word wins over the model's");
    let why = ok(&setup, &["explain", "po1@nordwind.example"]);
    assert!(why.contains("a deal of its own, by the user"), "{why}");

    // The store is derived state; the user's word is kept apart and survives its rebuild,
    // also when the model is asked again and says yes again.
    std::fs::remove_dir_all(setup.path("state/db")).unwrap();
    ok(&setup, &["sync"]);
    assert_eq!(deals(&setup), 2);
    ok(&setup, &["once"]);
    assert_eq!(
        joins.load(Ordering::SeqCst),
        2,
        "a rebuilt store asks once more"
    );
    assert_eq!(deals(&setup), 2);

    // And the user's join stands too.
    ok(
        &setup,
        &[
            "deal",
            "po1@nordwind.example",
            "--join",
            "pilot2@acme.test",
            "--note",
            "same pilot",
        ],
    );
    assert_eq!(deals(&setup), 1);
    let story = ok(&setup, &["explain", "nordwind.example"]);
    assert!(story.contains("same pilot"), "{story}");
}

#[test]
fn a_dry_run_asks_no_join() {
    let (_d, _llm, joins, setup) = world();
    ok(&setup, &["once", "--dry-run"]);
    assert_eq!(joins.load(Ordering::SeqCst), 0);
    assert_eq!(deals(&setup), 2);
}
