//! What real servers do that a healthy Dovecot does not, injected on the wire by the proxy of
//! `tests/support/proxy.rs` between the real `tend` binary and a real Dovecot: a NO or BAD to
//! the listing of new UIDs, a partial FETCH, a refused SEARCH of Drafts, a cut connection; and
//! a folder whose name is not ASCII. Each test is named after the review finding it guards
//! (review 1.1.1: a tagged NO/BAD from FETCH and SEARCH was treated as success; section 2:
//! folder names in modified UTF-7), and ends the same way: every buyer message drafted for on
//! a later pass, none skipped, and no Message-ID twice in Drafts.

mod support;

use chrono::{Duration, Utc};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Output;
use support::dovecot::Dovecot;
use support::llm::FakeLlm;
use support::proxy::{Fault, Proxy};
use support::service::{instant_model, Setup, Tend, NO_POLL};

/// The listing of new UIDs and a batch fetch of bodies, as tend words them.
const LISTING: &[&str] = &["UID FETCH", "(UID RFC822.SIZE)"];
const BODIES: &[&str] = &["UID FETCH", "BODY.PEEK[]"];

/// Dovecot with alice, the model, and tend configured to reach Dovecot through the proxy.
struct World {
    dovecot: Dovecot,
    llm: FakeLlm,
    proxy: Proxy,
    setup: Setup,
    /// Message-IDs of the buyer messages put so far, each waiting for one draft.
    asked: Vec<String>,
}

impl World {
    fn new() -> World {
        World::with_folders("")
    }

    /// `folders`: lines for the mailbox file's `[folders]` table.
    fn with_folders(folders: &str) -> World {
        let dovecot = Dovecot::start();
        dovecot.add_user("alice", "pw");
        let llm = instant_model();
        let proxy = Proxy::start(dovecot.port());
        let setup = Setup::new(&llm, NO_POLL);
        let extra = format!("timeout_seconds = 10\n[folders]\n{folders}");
        setup.mailbox("alice", "pw", proxy.port(), &extra);
        World {
            dovecot,
            llm,
            proxy,
            setup,
            asked: Vec::new(),
        }
    }

    /// A buyer's question in INBOX, in a thread of its own.
    fn question(&mut self, n: usize) {
        let raw = self.question_text(n);
        self.dovecot.put("alice", "INBOX", raw.as_bytes(), "");
    }

    /// The same, delivered over IMAP: a `tend run` idling on INBOX hears of it.
    fn deliver_question(&mut self, n: usize) {
        let raw = self.question_text(n);
        self.dovecot.append("alice", "pw", "INBOX", raw.as_bytes());
    }

    fn question_text(&mut self, n: usize) -> String {
        let id = format!("q{n}@buyer{n}.test");
        let raw = format!(
            "Message-ID: <{id}>\r\nDate: {}\r\nFrom: Buyer {n} <bob@buyer{n}.test>\r\n\
             To: alice@acme.test\r\nSubject: Pricing question {n}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n\
             Hello Alice, what does the 50-seat plan cost per year? ({n})\r\n",
            (Utc::now() - Duration::hours(2)).to_rfc2822()
        );
        self.asked.push(id);
        raw
    }

    fn once(&self) -> Output {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
            .arg("--config")
            .arg(self.setup.config())
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
        out
    }

    /// Drafts in `folder`, counted by their Message-ID and by the message they answer.
    fn drafts_in(&self, folder: &str) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
        let (mut by_id, mut by_parent) = (BTreeMap::new(), BTreeMap::new());
        for d in self.dovecot.messages("alice", folder) {
            let email = tend::parse::parse(&d.raw).expect("a draft parses");
            *by_id.entry(email.message_id).or_insert(0) += 1;
            let parent = email.in_reply_to.unwrap_or_default();
            *by_parent.entry(parent).or_insert(0) += 1;
        }
        (by_id, by_parent)
    }

    /// Every buyer message has exactly one draft in `folder`, and no Message-ID is there twice.
    fn assert_each_drafted_once_in(&self, folder: &str) {
        let (by_id, by_parent) = self.drafts_in(folder);
        let twice: Vec<_> = by_id.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "duplicate drafts: {twice:?}");
        let expected: BTreeMap<String, usize> =
            self.asked.iter().map(|id| (id.clone(), 1)).collect();
        assert_eq!(
            by_parent, expected,
            "one draft per buyer message, none skipped"
        );
    }

    fn assert_each_drafted_once(&self) {
        self.assert_each_drafted_once_in("Drafts");
    }

    fn drafts(&self) -> usize {
        self.dovecot.messages("alice", "Drafts").len()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

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
    assert_eq!(w.llm.requests().len(), 3);
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
    assert!(w.llm.requests().is_empty());
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
        w.llm.requests().len(),
        1,
        "the rerun found the draft before paying"
    );
}

/// Sends one command to Dovecot directly, as another mail client would.
fn imap(dovecot: &Dovecot, command: &str) {
    let stream = TcpStream::connect(("127.0.0.1", dovecot.port())).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut expect = |tag: &str| loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "closed");
        if let Some(rest) = line.strip_prefix(tag) {
            assert!(rest.starts_with(" OK"), "{line}");
            return;
        }
    };
    expect("*");
    (&stream).write_all(b"a1 LOGIN alice pw\r\n").unwrap();
    expect("a1");
    (&stream)
        .write_all(format!("a2 {command}\r\n").as_bytes())
        .unwrap();
    expect("a2");
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
    assert_eq!(w.llm.requests().len(), 1);
}
