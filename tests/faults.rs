//! What real servers do that a healthy Dovecot does not, injected on the wire by the proxy of
//! `tests/support/proxy.rs` between the real `tend` binary and a real Dovecot: a NO or BAD to
//! the listing of new UIDs, a partial FETCH, a refused SEARCH of Drafts, a cut connection; a
//! folder whose name is not ASCII; a message over the fetch cap. Each test is named after the
//! review finding it guards (review 1.1.1: a tagged NO/BAD from FETCH and SEARCH was treated
//! as success; 1.1.2: the text of a large message was cut off; section 2: folder names in
//! modified UTF-7), and ends the same way: every buyer message drafted for on a later pass,
//! none skipped, and no Message-ID twice in Drafts.

mod support;

use chrono::{Duration, Utc};
use support::faulty::{imap, stdout, World};
use support::proxy::Fault;
use support::service::Tend;

/// The listing of new UIDs and a batch fetch of bodies, as tend words them.
const LISTING: &[&str] = &["UID FETCH", "(UID RFC822.SIZE)"];
const BODIES: &[&str] = &["UID FETCH", "BODY.PEEK[]"];

/// A NO or BAD to `UID FETCH n:* (UID RFC822.SIZE)` used to read as "nothing new", and the
/// cursor jumped to UIDNEXT-1 past everything that had arrived.
fn refused_listing_skips_nothing(status: &'static str) {
    let mut w = World::new();
    w.question(1);
    assert!(w.once().status.success());
    assert_eq!(w.drafts(), 1);

    w.question(2);
    w.question(3);
    let fired = w.proxy.inject(LISTING, Fault::Refuse(status), 1);
    let out = w.once();
    assert_eq!(fired.count(), 1, "the listing was refused");
    assert!(!out.status.success(), "a refused listing is a failed pass");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("answered {status} to UID FETCH")),
        "the error names the command and the status: {stderr}"
    );
    assert_eq!(w.drafts(), 1, "nothing drafted from a listing that failed");

    assert!(w.once().status.success());
    w.assert_each_drafted_once();
    assert_eq!(w.llm.requests().len(), 3, "each thread paid for once");
}

#[test]
fn tagged_no_to_the_uid_listing_is_not_success() {
    refused_listing_skips_nothing("NO");
}

#[test]
fn tagged_bad_to_the_uid_listing_is_not_success() {
    refused_listing_skips_nothing("BAD");
}

#[test]
fn a_partial_fetch_with_a_tagged_no_skips_no_message() {
    let mut w = World::new();
    for n in 1..=3 {
        w.question(n);
    }
    // Gmail's way: the batch answers without one message and ends with NO.
    let dropped = w.proxy.inject(BODIES, Fault::DropFetch(2), 1);
    let refused = w.proxy.inject(BODIES, Fault::Refuse("NO"), 1);
    let out = w.once();
    assert_eq!((dropped.count(), refused.count()), (1, 1));
    assert!(out.status.success());
    // UID 2 was asked for again alone, and came.
    w.assert_each_drafted_once();
    assert!(stdout(&out).contains("3 fetched"), "{}", stdout(&out));
}

#[test]
fn a_fetch_answered_ok_without_a_message_asks_for_it_again() {
    let mut w = World::new();
    for n in 1..=3 {
        w.question(n);
    }
    let dropped = w.proxy.inject(BODIES, Fault::DropFetch(3), 1);
    assert!(w.once().status.success());
    assert_eq!(dropped.count(), 1);
    w.assert_each_drafted_once();
}

#[test]
fn a_message_that_cannot_be_fetched_keeps_the_cursor_below_it() {
    let mut w = World::new();
    for n in 1..=3 {
        w.question(n);
    }
    // The batch and the retry of UID 2 alone both fail.
    let dropped = w.proxy.inject(BODIES, Fault::DropFetch(2), 2);
    let refused = w.proxy.inject(BODIES, Fault::Refuse("NO"), 2);
    let out = w.once();
    assert_eq!((dropped.count(), refused.count()), (2, 2));
    assert!(
        stdout(&out).contains("1 could not be fetched"),
        "counted: {}",
        stdout(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("uid=2") && stderr.contains("injected by the test proxy"),
        "logged with the UID and the server's words: {stderr}"
    );
    // The messages around it are drafted for; it is not yet.
    let (_, by_parent) = w.drafts_in("Drafts");
    assert_eq!(
        by_parent.keys().collect::<Vec<_>>(),
        ["q1@buyer1.test", "q3@buyer3.test"]
    );

    // The next pass asks again, gets it, and writes nothing twice.
    let out = w.once();
    assert!(out.status.success());
    assert!(!stdout(&out).contains("could not be fetched"));
    w.assert_each_drafted_once();
    assert_eq!(w.llm.draft_requests().len(), 3);
}

/// `tend run` with a message the server never gives: it drafts for the others, says so in
/// `status`, and waits on IDLE instead of asking again without pause (the cursor below the
/// message looks like unseen mail); new mail wakes it, and the message comes once it can.
#[test]
fn a_message_that_cannot_be_fetched_does_not_keep_tend_run_busy() {
    let mut w = World::new();
    for n in 1..=3 {
        w.question(n);
    }
    let dropped = w.proxy.inject(BODIES, Fault::DropFetch(2), usize::MAX);
    w.proxy.inject(BODIES, Fault::Refuse("NO"), usize::MAX);
    let mut tend = Tend::start(&w.setup.config());
    tend.wait_log("waiting on IDLE", 1, 30);
    assert!(dropped.count() >= 2, "the batch and the retry of UID 2");
    let snapshot = w.setup.path("state/status.txt");
    tend.wait("the status naming the message not fetched", 15, |_| {
        std::fs::read_to_string(&snapshot)
            .is_ok_and(|t| t.contains("1 message the server would not give"))
    });
    let (_, by_parent) = w.drafts_in("Drafts");
    assert_eq!(
        by_parent.keys().collect::<Vec<_>>(),
        ["q1@buyer1.test", "q3@buyer3.test"]
    );

    w.proxy.heal();
    w.deliver_question(4);
    tend.wait("a draft for every message", 20, |_| w.drafts() == 4);
    let (status, _) = tend.stop();
    assert!(status.success());
    w.assert_each_drafted_once();
    assert_eq!(w.llm.requests().len(), 4);
}

/// Our answer in Sent, if the server will not give it, would leave the thread looking
/// unanswered: no draft is written until Sent is whole.
#[test]
fn a_reply_in_sent_that_cannot_be_fetched_holds_the_drafts_back() {
    let mut w = World::new();
    w.question(1);
    let sent = |id: &str, to: &str, extra: &str, hours: i64| {
        let raw = format!(
            "Message-ID: <{id}>\r\nDate: {}\r\nFrom: Alice <alice@acme.test>\r\nTo: {to}\r\n\
             Subject: Re: Pricing question 1\r\n{extra}\r\nThanks, it is [price].\r\n",
            (Utc::now() - Duration::hours(hours)).to_rfc2822()
        );
        w.dovecot.put("alice", "Sent", raw.as_bytes(), "S");
    };
    sent("old@acme.test", "someone@else.test", "", 48);
    sent(
        "answer@acme.test",
        "bob@buyer1.test",
        "In-Reply-To: <q1@buyer1.test>\r\nReferences: <q1@buyer1.test>\r\n",
        1,
    );
    // INBOX holds UID 1 only: UID 2 is our answer in Sent. Each fault is used up by the fetch
    // of INBOX, then of Sent, then of UID 2 alone.
    let dropped = w.proxy.inject(BODIES, Fault::DropFetch(2), 3);
    w.proxy.inject(BODIES, Fault::Refuse("NO"), 3);
    let out = w.once();
    assert_eq!(dropped.count(), 2);
    assert!(
        stdout(&out).contains("1 could not be fetched"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.drafts(), 0, "no draft while our answer is missing");
    assert!(w.once().status.success());
    assert_eq!(w.drafts(), 0, "answered: no draft at all");
    assert!(w.llm.draft_requests().is_empty());
}

#[test]
fn a_connection_cut_at_the_fetch_skips_nothing() {
    let mut w = World::new();
    for n in 1..=2 {
        w.question(n);
    }
    let cut = w.proxy.inject(BODIES, Fault::Cut, 1);
    assert!(!w.once().status.success());
    assert_eq!(cut.count(), 1);
    assert_eq!(w.drafts(), 0);
    assert!(w.once().status.success());
    w.assert_each_drafted_once();
}

/// `tend sync` through the proxy: fetch and store, no drafting.
fn sync(w: &World) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(w.setup.config())
        .arg("sync")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    eprintln!(
        "tend sync -> {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The first sync keeps several batch FETCHes in flight (250 messages each: 1:250, 251:500
/// and 501:700 here). The middle one ends NO without UID 300, which is refused again alone:
/// the batches around it are stored, but the cursor stays below 300 though the batch after it
/// was stored, so the next sync asks again from 300.
#[test]
fn a_refused_fetch_among_several_in_flight_keeps_the_cursor_below_its_hole() {
    let w = World::new();
    for n in 1..=700 {
        let raw = format!(
            "Message-ID: <m{n}@buyer.test>\r\nDate: {}\r\nFrom: Buyer <bob@buyer.test>\r\n\
             To: alice@acme.test\r\nSubject: Order {n}\r\n\r\nWhere is order {n}?\r\n",
            (Utc::now() - Duration::days(3)).to_rfc2822()
        );
        w.dovecot.put("alice", "INBOX", raw.as_bytes(), "S");
    }
    let batch = ["UID FETCH 251:500 ", "BODY.PEEK[]"];
    let alone = ["UID FETCH 300 ", "BODY.PEEK[]"];
    let fired = [
        w.proxy.inject(&batch, Fault::DropFetch(300), 1),
        w.proxy.inject(&batch, Fault::Refuse("NO"), 1),
        w.proxy.inject(&alone, Fault::DropFetch(300), 1),
        w.proxy.inject(&alone, Fault::Refuse("NO"), 1),
    ];
    let out = sync(&w);
    assert!(out.status.success());
    assert_eq!(fired.iter().map(|f| f.count()).collect::<Vec<_>>(), [1; 4]);
    assert!(
        stdout(&out).contains("699 fetched, 699 new") && stdout(&out).contains("1 could not"),
        "every other message stored, the refused one counted: {}",
        stdout(&out)
    );

    // The cursor stayed at 299: 300 to 700 are asked for again, and only 300 is new.
    let out = sync(&w);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("401 fetched, 1 new"),
        "{}",
        stdout(&out)
    );
    let out = sync(&w);
    assert!(stdout(&out).contains("0 fetched"), "{}", stdout(&out));
}

/// A refused SEARCH of Drafts used to read as "the draft is not there": after a lost state
/// directory, the next pass appended a second copy.
#[test]
fn a_refused_search_of_drafts_is_not_not_there() {
    let mut w = World::new();
    w.question(1);
    assert!(w.once().status.success());
    assert_eq!(w.drafts(), 1);

    std::fs::remove_dir_all(w.setup.path("state")).unwrap();
    let refused = w
        .proxy
        .inject(&["UID SEARCH", "HEADER Message-ID"], Fault::Refuse("NO"), 1);
    let out = w.once();
    assert_eq!(refused.count(), 1);
    assert!(!out.status.success(), "a refused search fails the pass");
    assert_eq!(w.drafts(), 1, "nothing appended on a failed search");

    assert!(w.once().status.success());
    w.assert_each_drafted_once();
    assert_eq!(
        w.llm.draft_requests().len(),
        1,
        "the rerun found the draft before paying"
    );
}

/// A message over the 2 MiB fetch cap used to be cut at its first 2 MiB, losing a text that
/// came after a large attachment (review 1.1.2); its text parts are now fetched by structure.
#[test]
fn text_after_a_large_attachment_survives_the_fetch_cap() {
    let mut w = World::new();
    let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    let pdf: String = line.repeat(3 * 1024 * 1024 / line.len());
    let raw = format!(
        "Message-ID: <big@buyer1.test>\r\nDate: {}\r\nFrom: Buyer 1 <bob@buyer1.test>\r\n\
         To: alice@acme.test\r\nSubject: Specs attached\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: application/pdf; name=\"specs.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{pdf}\
         --b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n\
         --b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Hello Alice, specs attached. What would 50 seats cost? (marker 7731)\r\n\
         --b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <p>Hello Alice, specs attached. What would 50 seats cost? (marker 7731)</p>\r\n\
         --b2--\r\n--b1--\r\n",
        (Utc::now() - Duration::hours(2)).to_rfc2822()
    );
    assert!(raw.len() > 3 * 1024 * 1024);
    w.dovecot.put("alice", "INBOX", raw.as_bytes(), "");
    w.asked.push("big@buyer1.test".into());
    w.question(2);
    assert!(w.once().status.success());
    w.assert_each_drafted_once();
    let asked = w.llm.requests();
    let seen: Vec<usize> = asked
        .iter()
        .map(|r| r.to_string().matches("marker 7731").count())
        .collect();
    // Once: the text/plain alternative, not the HTML beside it too.
    assert_eq!(
        seen.iter().filter(|n| **n > 0).collect::<Vec<_>>(),
        [&1],
        "the model saw the text after the attachment, once"
    );
}

/// `drafts = "Entwürfe"` used to fail with "does not exist": the server lists the folder as
/// `Entw&APw-rfe` (modified UTF-7, RFC 3501 5.1.3).
#[test]
fn a_drafts_folder_named_in_modified_utf7_is_found_and_written_to() {
    let mut w = World::with_folders("drafts = \"Entwürfe\"\n");
    imap(&w.dovecot, "CREATE \"Entw&APw-rfe\"");
    w.question(1);
    let out = w.once();
    assert!(out.status.success());
    w.assert_each_drafted_once_in("Entw&APw-rfe");
    assert_eq!(w.drafts(), 0, "not in the default Drafts");
    // Without the ledger, the search of that folder (EXAMINE by its encoded name) finds it.
    std::fs::remove_dir_all(w.setup.path("state")).unwrap();
    assert!(w.once().status.success());
    w.assert_each_drafted_once_in("Entw&APw-rfe");
    assert_eq!(w.llm.draft_requests().len(), 1);
}
