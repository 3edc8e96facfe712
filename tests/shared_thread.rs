//! Two watched mailboxes sharing one store, end to end: the real `tend` binary, a real Dovecot
//! with users alice and bob (colleagues at acme.test) and the local model server. The buyer
//! writes to both; bob answers from his own mailbox; alice's finding is closed by bob's Sent
//! copy, which alice's mailbox never holds. This is the central promise of the shared store.

mod support;

use chrono::{Duration, Utc};
use std::os::unix::fs::PermissionsExt;
use std::process::Output;
use support::dovecot::Dovecot;
use support::llm::FakeLlm;
use support::proxy::{Fault, Proxy};
use support::service::{instant_model, Setup, Tend};

/// A mailbox file for USER@acme.test with acme.test as the colleagues' domain.
fn mailbox(setup: &Setup, d: &Dovecot, user: &str) {
    mailbox_at(setup, d, user, d.port());
}

/// [`mailbox`], reached through `port` (a proxy in front of the Dovecot).
fn mailbox_at(setup: &Setup, d: &Dovecot, user: &str, port: u16) {
    d.add_user(user, "pw");
    let pw = setup.path(&format!("mailboxes/{user}.password"));
    std::fs::write(&pw, "pw\n").unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = format!(
        "addresses = [\"{user}@acme.test\"]\ninternal_domains = [\"acme.test\"]\n\
         timezone = \"UTC\"\n[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\n\
         username = \"{user}\"\npassword_file = \"{user}.password\"\n",
        port
    );
    std::fs::write(setup.path(&format!("mailboxes/{user}.toml")), text).unwrap();
}

fn once(setup: &Setup) -> Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(setup.config())
        .arg("once")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    eprintln!(
        "tend once -> {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "tend once failed");
    out
}

const QUESTION: &str = "q-shared@buyer.test";

fn question(hours_ago: i64) -> String {
    format!(
        "Message-ID: <{QUESTION}>\r\nDate: {}\r\nFrom: Bea Buyer <bea@buyer.test>\r\n\
         To: alice@acme.test, bob@acme.test\r\nSubject: Price for 50 seats\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Hello both,\r\n\r\nwhat would 50 seats cost per year?\r\n\r\nBea\r\n",
        (Utc::now() - Duration::hours(hours_ago)).to_rfc2822()
    )
}

/// Bob's answer, To the buyer only: alice's mailbox never gets a copy.
fn bobs_answer(hours_ago: i64) -> String {
    format!(
        "Message-ID: <a-shared@acme.test>\r\nDate: {}\r\nFrom: Bob Colleague <bob@acme.test>\r\n\
         To: Bea Buyer <bea@buyer.test>\r\nSubject: Re: Price for 50 seats\r\n\
         In-Reply-To: <{QUESTION}>\r\nReferences: <{QUESTION}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Hi Bea,\r\n\r\n50 seats are 4,000 EUR a year.\r\n\r\nBob\r\n",
        (Utc::now() - Duration::hours(hours_ago)).to_rfc2822()
    )
}

fn world() -> (Dovecot, FakeLlm, Setup) {
    let d = Dovecot::start();
    let llm = instant_model();
    let setup = Setup::new(&llm, "");
    mailbox(&setup, &d, "alice");
    mailbox(&setup, &d, "bob");
    (d, llm, setup)
}

/// The colleague answered before tend ever ran: one `tend once` must not draft for alice,
/// although alice's mailbox is passed before bob's Sent is read.
#[test]
fn a_colleagues_reply_in_their_sent_closes_my_finding() {
    let (d, _llm, setup) = world();
    d.put("alice", "INBOX", question(3).as_bytes(), "");
    d.put("bob", "INBOX", question(3).as_bytes(), "");
    d.put("bob", "Sent", bobs_answer(2).as_bytes(), "S");
    once(&setup);
    assert!(
        d.messages("alice", "Drafts").is_empty(),
        "a draft for alice"
    );
    assert!(d.messages("bob", "Drafts").is_empty(), "a draft for bob");
    // tend status agrees: nothing needs attention in either mailbox.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(setup.config())
        .arg("status")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("alice: 0 of 1 recent threads need attention"),
        "{text}"
    );
    assert!(
        text.contains("bob: 0 of 1 recent threads need attention"),
        "{text}"
    );
}

/// The colleague answers after tend first saw the question: the next `tend once` closes
/// alice's finding (no new draft), whoever's mailbox is read first.
#[test]
fn a_colleagues_later_reply_closes_my_open_finding() {
    let (d, _llm, setup) = world();
    d.put("alice", "INBOX", question(3).as_bytes(), "");
    d.put("bob", "INBOX", question(3).as_bytes(), "");
    // Only the finding, no draft yet: --dry-run reviews without writing.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(setup.config())
        .args(["once", "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("--- draft for alice (dry run: not saved)"),
        "alice's finding is open before bob answers: {stdout}"
    );
    d.put("bob", "Sent", bobs_answer(1).as_bytes(), "S");
    once(&setup);
    assert!(
        d.messages("alice", "Drafts").is_empty(),
        "a draft for alice"
    );
    assert!(d.messages("bob", "Drafts").is_empty(), "a draft for bob");
}

/// `tend run` starts every mailbox at once. Bob's mailbox is slow to answer (its first EXAMINE
/// held back 4 s by a proxy), so alice's task would judge the thread before bob's Sent is
/// stored and draft for a question bob answered. Every mailbox's first sync comes before any
/// draft.
#[test]
fn tend_run_starts_drafting_only_after_every_mailbox_synced_once() {
    let d = Dovecot::start();
    let llm = instant_model();
    let setup = Setup::new(&llm, "");
    let proxy = Proxy::start(d.port());
    mailbox(&setup, &d, "alice");
    mailbox_at(&setup, &d, "bob", proxy.port());
    d.put("alice", "INBOX", question(3).as_bytes(), "");
    d.put("bob", "INBOX", question(3).as_bytes(), "");
    d.put("bob", "Sent", bobs_answer(2).as_bytes(), "S");
    let held = proxy.inject(
        &["EXAMINE"],
        Fault::Delay(std::time::Duration::from_secs(4)),
        1,
    );
    let mut tend = Tend::start(&setup.config());
    tend.wait_log("waiting on IDLE", 2, 60);
    assert_eq!(held.count(), 1, "bob's first EXAMINE was held back");
    assert!(
        d.messages("alice", "Drafts").is_empty(),
        "alice got a draft for a thread bob answered:\n{}",
        tend.log()
    );
    assert!(d.messages("bob", "Drafts").is_empty(), "a draft for bob");
    assert!(llm.draft_requests().is_empty(), "the model was asked");
    tend.stop();
}

/// A message of the proposal thread, `days_ago` days back.
fn proposal_thread(id: &str, from: &str, to: &str, parents: &[&str], days_ago: i64) -> String {
    let refs: Vec<String> = parents.iter().map(|p| format!("<{p}>")).collect();
    let threading = match parents.last() {
        Some(p) => format!("In-Reply-To: <{p}>\r\nReferences: {}\r\n", refs.join(" ")),
        None => String::new(),
    };
    format!(
        "Message-ID: <{id}>\r\nDate: {}\r\nFrom: {from}\r\nTo: {to}\r\n\
         Subject: Re: Licences for the Hamburg team\r\n{threading}\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Text of {id}.\r\n",
        (Utc::now() - Duration::days(days_ago)).to_rfc2822()
    )
}

/// Alice's proposal went quiet long enough for a follow-up; when bob, her teammate, already
/// followed up from his own mailbox, alice gets no follow-up draft of her own (and without
/// bob's message she does: the control).
#[test]
fn no_follow_up_in_my_mailbox_when_a_teammate_already_followed_up_from_theirs() {
    for teammate_wrote in [false, true] {
        let (d, _llm, setup) = world();
        let ask = proposal_thread(
            "ask-f@buyer.test",
            "Bea <bea@buyer.test>",
            "alice@acme.test",
            &[],
            12,
        );
        let offer = proposal_thread(
            "offer-f@acme.test",
            "alice@acme.test",
            "Bea <bea@buyer.test>",
            &["ask-f@buyer.test"],
            9,
        );
        d.put("alice", "INBOX", ask.as_bytes(), "S");
        d.put("alice", "Sent", offer.as_bytes(), "S");
        if teammate_wrote {
            let nudge = proposal_thread(
                "nudge-f@acme.test",
                "Bob <bob@acme.test>",
                "Bea <bea@buyer.test>",
                &["ask-f@buyer.test", "offer-f@acme.test"],
                1,
            );
            d.put("bob", "Sent", nudge.as_bytes(), "S");
        }
        once(&setup);
        let drafts = d.messages("alice", "Drafts").len();
        assert_eq!(
            drafts,
            usize::from(!teammate_wrote),
            "teammate wrote: {teammate_wrote}"
        );
        assert!(d.messages("bob", "Drafts").is_empty(), "a draft for bob");
    }
}
