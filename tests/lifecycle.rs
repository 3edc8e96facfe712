//! The draft lifecycle against a real Dovecot, each step of the user's done as a mail client
//! does it over IMAP: our unmodified draft replaced on a new buyer message, an edited draft left
//! alone (Thunderbird's way and Gmail's), our draft removed when the user answers by hand (also
//! while `tend run` idles), a sent draft never rewritten and Sent never touched, a message the
//! user's client marked \Deleted surviving our removal, no EXPUNGE at all without UIDPLUS, a
//! kill -9 inside a replacement or between APPEND and the ledger write, and nothing of the
//! user's ever flagged or removed: not an edit found under our Message-ID after a lost state,
//! not on our own auto-reply, not through a Drafts that is Sent, not a draft flagged \Deleted.

mod support;

use chrono::{DateTime, Duration, Utc};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;
use support::dovecot::{Dovecot, Stored};
use support::llm::{FakeLlm, Reply};
use support::mail::mail;
use support::proxy::{Fault, Proxy};
use support::service::Tend;

const BODY: &str =
    "Hi Bob,\n\nThanks for asking. The 50-seat plan is [price]; I can send the order form today.";

struct World {
    dovecot: Dovecot,
    llm: FakeLlm,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        World::with_dovecot(Dovecot::start())
    }

    fn with_dovecot(dovecot: Dovecot) -> World {
        dovecot.add_user("alice", "pw");
        let llm = FakeLlm::start(|_| {
            Reply::Content(
                serde_json::json!({"needs_reply": true, "reason": "asks for a price", "body": BODY})
                    .to_string(),
            )
        });
        let dir = tempfile::tempdir().unwrap();
        let w = World { dovecot, llm, dir };
        w.write_config("");
        w
    }

    fn write_config(&self, rules: &str) {
        self.write_config_at(rules, self.dovecot.port());
    }

    /// The config, with tend reaching the server on `port` (a fault proxy's).
    fn write_config_at(&self, rules: &str, port: u16) {
        let d = self.dir.path();
        std::fs::create_dir_all(d.join("mailboxes")).unwrap();
        std::fs::write(
            d.join("tend.toml"),
            format!(
                "state_dir = \"state\"\npoll_interval_seconds = 3600\n[llm]\nbase_url = \"{}\"\nmodel = \"m\"\n",
                self.llm.base_url()
            ),
        )
        .unwrap();
        let pw = d.join("mailboxes/alice.password");
        std::fs::write(&pw, "pw\n").unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(
            d.join("mailboxes/alice.toml"),
            format!(
                "addresses = [\"alice@acme.test\"]\ninternal_domains = [\"acme.test\"]\ntimezone = \"UTC\"\n\
                 signature = \"Alice Seller\"\n[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\n\
                 username = \"alice\"\npassword_file = \"alice.password\"\ntimeout_seconds = 10\n{rules}",
                port
            ),
        )
        .unwrap();
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("tend.toml")
    }

    fn tend_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        support::run::tend(&self.config(), args, env, "")
    }

    fn once(&self) -> Output {
        let out = self.tend_env(&["once"], &[]);
        assert!(out.status.success(), "tend once failed");
        out
    }

    fn status(&self) -> String {
        String::from_utf8_lossy(&self.tend_env(&["status"], &[]).stdout).into_owned()
    }

    fn drafts(&self) -> Vec<Stored> {
        self.dovecot.messages("alice", "Drafts")
    }

    fn client(&self) -> Client {
        Client::login(self.dovecot.port())
    }

    /// A second buyer's question, an hour old, newer than Bob's.
    fn dan_asks(&self) {
        let raw = mail(
            "dan1@d.test",
            "Dan <dan@d.test>",
            "alice@acme.test",
            "Demo next week?",
            Utc::now() - Duration::hours(1),
            None,
            "Could we see a demo next week?",
        );
        self.dovecot.put("alice", "INBOX", raw.as_bytes(), "");
    }

    /// The pricing thread: our intro in Sent, Bob's question in INBOX.
    fn seed(&self) {
        let now = Utc::now();
        self.dovecot.put(
            "alice",
            "Sent",
            mail(
                "intro@acme.test",
                "alice@acme.test",
                "bob@buyer.test",
                "Acme for Buyer Corp",
                now - Duration::days(3),
                None,
                "Hi Bob, great to meet you.",
            )
            .as_bytes(),
            "S",
        );
        self.buyer("q1@buyer.test", "intro@acme.test", now - Duration::hours(5));
    }

    /// A message from Bob in the thread, answering `parent`.
    fn buyer(&self, id: &str, parent: &str, at: DateTime<Utc>) {
        let raw = mail(
            id,
            "Bob Buyer <bob@buyer.test>",
            "alice@acme.test",
            "Re: Acme for Buyer Corp",
            at,
            Some(parent),
            "What does the 50-seat plan cost per year?",
        );
        self.dovecot.put("alice", "INBOX", raw.as_bytes(), "");
    }

    /// Alice's own answer to `parent`, sent from her mail client (a copy saved in Sent).
    fn reply_by_hand(&self, id: &str, parent: &str) {
        let raw = mail(
            id,
            "alice@acme.test",
            "bob@buyer.test",
            "Re: Acme for Buyer Corp",
            Utc::now(),
            Some(parent),
            "Bob, let us talk about it on the phone on Monday.",
        );
        self.client().append("Sent", "(\\Seen)", &raw);
    }
}

/// What a mail client does over IMAP: a plain socket speaking the commands it would send.
struct Client {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
    tag: u32,
}

impl Client {
    fn login(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut greeting = String::new();
        reader.read_line(&mut greeting).unwrap();
        let mut c = Client {
            reader,
            stream,
            tag: 0,
        };
        c.run("LOGIN alice pw");
        c
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        assert!(self.reader.read_line(&mut line).unwrap() > 0, "closed");
        line
    }

    fn finish(&mut self, tag: &str, command: &str) -> String {
        let mut out = String::new();
        loop {
            let line = self.line();
            out.push_str(&line);
            if let Some(status) = line.strip_prefix(&format!("{tag} ")) {
                assert!(status.starts_with("OK"), "{command} failed: {out}");
                return out;
            }
        }
    }

    fn run(&mut self, command: &str) -> String {
        self.tag += 1;
        let tag = format!("c{}", self.tag);
        self.send(format!("{tag} {command}\r\n").as_bytes());
        self.finish(&tag, command)
    }

    /// APPEND with flags, waiting for the continuation as every client can.
    fn append(&mut self, folder: &str, flags: &str, raw: &str) {
        self.tag += 1;
        let tag = format!("c{}", self.tag);
        let raw = crlf(raw);
        self.send(format!("{tag} APPEND \"{folder}\" {flags} {{{}}}\r\n", raw.len()).as_bytes());
        assert!(self.line().starts_with('+'), "no continuation");
        self.send(raw.as_bytes());
        self.send(b"\r\n");
        self.finish(&tag, "APPEND");
    }

    /// Deletes one message as a client does: flag it, then expunge the folder.
    fn delete(&mut self, folder: &str, uid: u32) {
        self.run(&format!("SELECT \"{folder}\""));
        self.run(&format!("UID STORE {uid} +FLAGS (\\Deleted)"));
        self.run("EXPUNGE");
        self.run("LOGOUT");
    }

    /// Flags one message \Deleted and leaves it there, as a client set not to expunge does.
    fn mark_deleted(&mut self, folder: &str, uid: u32) {
        self.run(&format!("SELECT \"{folder}\""));
        self.run(&format!("UID STORE {uid} +FLAGS (\\Deleted)"));
        self.run("LOGOUT");
    }
}

fn crlf(raw: &str) -> String {
    raw.replace("\r\n", "\n").replace('\n', "\r\n")
}

fn text(m: &Stored) -> String {
    String::from_utf8_lossy(&m.raw).into_owned()
}

/// The draft answering `parent`, if Drafts holds exactly one such.
fn answering<'a>(drafts: &'a [Stored], parent: &str) -> Vec<&'a Stored> {
    let needle = format!("In-Reply-To: <{parent}>");
    drafts
        .iter()
        .filter(|d| text(d).contains(&needle))
        .collect()
}

/// UID and flags of every message in a folder, from disk.
fn listing(w: &World, folder: &str) -> Vec<(Option<u32>, String, Vec<u8>)> {
    w.dovecot
        .messages("alice", folder)
        .into_iter()
        .map(|m| (m.uid, m.flags, m.raw))
        .collect()
}

#[test]
fn a_new_buyer_message_replaces_our_unmodified_draft() {
    let w = World::new();
    w.seed();
    w.once();
    assert_eq!(answering(&w.drafts(), "q1@buyer.test").len(), 1);
    w.buyer(
        "q2@buyer.test",
        "q1@buyer.test",
        Utc::now() - Duration::hours(1),
    );
    w.once();
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 1, "one draft of ours per thread");
    assert_eq!(
        answering(&drafts, "q2@buyer.test").len(),
        1,
        "for the latest"
    );
    assert_eq!(w.llm.requests().len(), 2);
}

/// Our draft, edited by the user's client: a new copy appended (`message_id` given: Gmail's new
/// one; `None`: Thunderbird keeps ours), then the original deleted.
fn edit_our_draft(w: &World, message_id: Option<&str>) {
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 1);
    let mut raw = text(&drafts[0]).replace("[price]", "9,000 a year");
    if let Some(id) = message_id {
        let old = raw
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
            .unwrap()
            .to_string();
        raw = raw.replace(&old, &format!("Message-ID: <{id}>"));
    }
    let mut c = w.client();
    c.append("Drafts", "(\\Draft \\Seen)", &raw);
    c.delete("Drafts", drafts[0].uid.expect("a UID"));
}

fn an_edited_draft_is_left_alone(message_id: Option<&str>) {
    let w = World::new();
    w.seed();
    w.once();
    edit_our_draft(&w, message_id);
    let edited = listing(&w, "Drafts");
    w.buyer(
        "q2@buyer.test",
        "q1@buyer.test",
        Utc::now() - Duration::hours(1),
    );
    w.once();
    assert_eq!(
        listing(&w, "Drafts"),
        edited,
        "the edited draft is the user's"
    );
    assert_eq!(
        w.llm.draft_requests().len(),
        1,
        "no second draft, not even asked"
    );
    let status = w.status();
    assert!(status.contains("holds a draft of yours"), "{status}");
    assert!(
        !status.contains("deleted unanswered"),
        "edited, not deleted: {status}"
    );
    // The user sends their edited draft: our draft's fate is told from what they sent.
    let edited = w.drafts().remove(0);
    let mut c = w.client();
    c.append("Sent", "(\\Seen)", &text(&edited));
    c.delete("Drafts", edited.uid.unwrap());
    w.once();
    let explain = w.tend_env(&["explain", "q1@buyer.test"], &[]);
    let explain = String::from_utf8_lossy(&explain.stdout);
    assert!(explain.contains("sent after edits"), "{explain}");
}

#[test]
fn our_draft_edited_the_thunderbird_way_is_left_alone_and_gets_no_second_draft() {
    an_edited_draft_is_left_alone(None);
}

#[test]
fn our_draft_edited_the_gmail_way_is_left_alone_and_gets_no_second_draft() {
    an_edited_draft_is_left_alone(Some("gmail-edit-1@mail.gmail.com"));
}

#[test]
fn a_reply_by_hand_removes_our_draft_on_the_next_once() {
    let w = World::new();
    w.seed();
    w.once();
    assert_eq!(w.drafts().len(), 1);
    w.reply_by_hand("ans@acme.test", "q1@buyer.test");
    let sent = listing(&w, "Sent");
    w.once();
    assert!(w.drafts().is_empty(), "our draft removed");
    assert_eq!(listing(&w, "Sent"), sent, "Sent untouched");
    let explain = w.tend_env(&["explain", "q1@buyer.test"], &[]);
    let explain = String::from_utf8_lossy(&explain.stdout);
    assert!(explain.contains("answered without it"), "{explain}");
}

#[test]
fn the_user_sending_our_draft_leaves_sent_untouched_and_writes_nothing_again() {
    let w = World::new();
    w.seed();
    w.once();
    let draft = w.drafts().remove(0);
    // Sending: the message goes out, a copy is saved in Sent, the draft is deleted.
    let mut c = w.client();
    c.append("Sent", "(\\Seen)", &text(&draft));
    c.delete("Drafts", draft.uid.unwrap());
    let sent = listing(&w, "Sent");
    w.once();
    w.once();
    assert!(w.drafts().is_empty(), "nothing written again");
    assert_eq!(listing(&w, "Sent"), sent, "Sent untouched");
    assert_eq!(w.llm.requests().len(), 1);
    let explain = w.tend_env(&["explain", "q1@buyer.test"], &[]);
    let explain = String::from_utf8_lossy(&explain.stdout);
    assert!(explain.contains("sent as written"), "{explain}");
}

/// A draft of the user's in another thread, which their client flagged \Deleted but did not
/// expunge.
fn users_deleted_draft(w: &World) -> u32 {
    let raw = mail(
        "mine@acme.test",
        "alice@acme.test",
        "eve@else.test",
        "Lunch?",
        Utc::now(),
        None,
        "Shall we?",
    );
    let mut c = w.client();
    c.append("Drafts", "(\\Draft)", &raw);
    let uid = w
        .drafts()
        .iter()
        .find(|d| text(d).contains("mine@acme.test"))
        .and_then(|d| d.uid)
        .unwrap();
    c.mark_deleted("Drafts", uid);
    uid
}

#[test]
fn a_message_the_client_marked_deleted_survives_our_removal() {
    let w = World::new();
    w.seed();
    w.once();
    let uid = users_deleted_draft(&w);
    w.reply_by_hand("ans@acme.test", "q1@buyer.test");
    w.once();
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 1, "ours gone, theirs kept: {drafts:?}");
    assert_eq!(drafts[0].uid, Some(uid));
    assert!(drafts[0].flags.contains('T'), "still flagged \\Deleted");
}

#[test]
fn without_uidplus_our_draft_is_only_flagged_and_nothing_is_expunged() {
    let dovecot = Dovecot::start();
    // Neither UIDPLUS nor LITERAL+: the APPEND waits for its continuation and finds its UID
    // by searching for our Message-ID.
    dovecot.configure("imap_capability = IMAP4rev1 IDLE");
    let mut w = World::with_dovecot(dovecot);
    w.dovecot.restart();
    let check = w.tend_env(&["check"], &[]);
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("no UIDPLUS"),
        "check says so"
    );
    w.seed();
    w.once();
    let first = w.drafts().remove(0);
    let uid = users_deleted_draft(&w);
    // Replaced: the old one only flagged, and it does not stop the next draft in its thread.
    w.buyer(
        "q2@buyer.test",
        "q1@buyer.test",
        Utc::now() - Duration::hours(1),
    );
    w.once();
    let second = answering(&w.drafts(), "q2@buyer.test")[0].uid.unwrap();
    w.reply_by_hand("ans@acme.test", "q2@buyer.test");
    w.once();
    w.once();
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 3, "nothing expunged: {drafts:?}");
    let flags = |u| {
        drafts
            .iter()
            .find(|d| d.uid == Some(u))
            .unwrap()
            .flags
            .clone()
    };
    assert!(
        flags(first.uid.unwrap()).contains('T'),
        "replaced: only flagged"
    );
    assert!(flags(second).contains('T'), "answered: only flagged");
    assert!(flags(uid).contains('T'), "theirs as it was");
    // `tend check` asks the model for one token; then one request per draft.
    assert_eq!(w.llm.requests().len(), 1 + 2);
}

#[test]
fn kill_9_between_the_new_draft_and_the_old_removal_leaves_one_draft_after_the_rerun() {
    let w = World::new();
    w.seed();
    w.once();
    w.buyer(
        "q2@buyer.test",
        "q1@buyer.test",
        Utc::now() - Duration::hours(1),
    );
    let out = w.tend_env(&["once"], &[("TEND_TEST_CRASH_BEFORE_REMOVAL", "1")]);
    assert!(!out.status.success(), "the injected crash aborts");
    assert_eq!(w.drafts().len(), 2, "never zero: the new one came first");
    w.once();
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 1);
    assert_eq!(answering(&drafts, "q2@buyer.test").len(), 1);
    assert_eq!(w.llm.requests().len(), 2, "the rerun pays nothing");
}

#[test]
fn nothing_in_inbox_or_sent_and_no_user_draft_is_ever_flagged_or_removed() {
    let w = World::new();
    w.seed();
    w.once();
    let ours = listing(&w, "Drafts");
    assert_eq!(ours.len(), 1);
    // The user's own draft in the buyer's thread, after ours: the thread is theirs now.
    let raw = mail(
        "mine@acme.test",
        "alice@acme.test",
        "bob@buyer.test",
        "Re: Acme for Buyer Corp",
        Utc::now(),
        Some("q1@buyer.test"),
        "Bob, my own words.",
    );
    w.client().append("Drafts", "(\\Draft)", &raw);
    let mine: Vec<_> = listing(&w, "Drafts")
        .into_iter()
        .filter(|d| !ours.contains(d))
        .collect();
    assert_eq!(mine.len(), 1);
    let (mut inbox, mut sent) = (listing(&w, "INBOX"), listing(&w, "Sent"));
    assert!(inbox.iter().chain(&sent).all(|(uid, _, _)| uid.is_some()));
    // UID, flags and bytes of INBOX, Sent and the user's draft, after every pass.
    let unchanged = |inbox: &Vec<_>, sent: &Vec<_>, when: &str| {
        assert_eq!(&listing(&w, "INBOX"), inbox, "INBOX {when}");
        assert_eq!(&listing(&w, "Sent"), sent, "Sent {when}");
        let drafts = listing(&w, "Drafts");
        assert!(
            drafts.contains(&mine[0]),
            "the user's draft {when}: {drafts:?}"
        );
    };
    w.once();
    unchanged(&inbox, &sent, "after a quiet pass");
    assert_eq!(listing(&w, "Drafts").len(), 2, "ours and theirs");
    w.buyer(
        "q2@buyer.test",
        "q1@buyer.test",
        Utc::now() - Duration::hours(1),
    );
    // Delivered straight into the maildir: the server gives it its UID when it next looks.
    w.client().run("EXAMINE INBOX");
    inbox = listing(&w, "INBOX");
    assert!(inbox.iter().all(|(uid, _, _)| uid.is_some()), "{inbox:?}");
    w.once();
    unchanged(&inbox, &sent, "after a new buyer message");
    assert_eq!(
        listing(&w, "Drafts").len(),
        2,
        "no draft of ours beside theirs"
    );
    w.reply_by_hand("ans@acme.test", "q2@buyer.test");
    sent = listing(&w, "Sent");
    w.once();
    unchanged(&inbox, &sent, "after a reply by hand");
    assert_eq!(listing(&w, "Drafts"), mine, "only the user's draft is left");
    w.once();
    unchanged(&inbox, &sent, "after one more pass");
    assert_eq!(listing(&w, "Drafts"), mine);
}

#[test]
fn a_reply_by_hand_removes_our_draft_while_tend_run_idles() {
    let w = World::new();
    w.seed();
    let mut tend = Tend::start(&w.config());
    tend.wait("our draft", 60, |_| w.drafts().len() == 1);
    tend.wait_log("waiting on IDLE", 1, 30);
    w.reply_by_hand("ans@acme.test", "q1@buyer.test");
    let start = std::time::Instant::now();
    // Generous: the bound is one IDLE probe (timeout / 2 = 5 s here) plus a pass.
    tend.wait("our draft removed", 90, |_| w.drafts().is_empty());
    eprintln!("removed after {:?}", start.elapsed());
    let (status, _) = tend.stop();
    assert!(status.success());
}

#[test]
fn after_a_lost_state_directory_our_draft_is_adopted_and_still_replaced() {
    let w = World::new();
    w.seed();
    w.once();
    std::fs::remove_dir_all(w.dir.path().join("state")).unwrap();
    w.once();
    assert_eq!(
        w.drafts().len(),
        1,
        "found by its Message-ID, not written again"
    );
    w.buyer(
        "q2@buyer.test",
        "q1@buyer.test",
        Utc::now() - Duration::hours(1),
    );
    w.once();
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 1, "the adopted draft was replaced");
    assert_eq!(answering(&drafts, "q2@buyer.test").len(), 1);
}

#[test]
fn past_max_drafts_per_day_findings_wait_and_status_says_how_many() {
    let w = World::new();
    w.write_config("[rules]\nmax_drafts_per_day = 1\n");
    w.seed();
    // A second buyer, newer: drafted first.
    w.dan_asks();
    w.once();
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 1);
    assert_eq!(
        answering(&drafts, "dan1@d.test").len(),
        1,
        "the newest first"
    );
    let status = w.status();
    assert!(
        status.contains("1 finding(s) wait for tomorrow"),
        "{status}"
    );
    w.once();
    assert_eq!(w.drafts().len(), 1, "still waiting today");
}

/// Past the day's drafts a pass writes nothing and pays nothing, so it searches Drafts for
/// nothing either: it used to search twice for every waiting finding, every pass (at 200,000
/// messages with 1,958 findings waiting, half of an idle service's CPU).
#[test]
fn past_max_drafts_per_day_a_pass_searches_drafts_for_no_waiting_finding() {
    let w = World::new();
    let proxy = Proxy::start(w.dovecot.port());
    w.write_config_at("[rules]\nmax_drafts_per_day = 1\n", proxy.port());
    let searches = proxy.inject(
        &["UID SEARCH", "HEADER MESSAGE-ID"],
        Fault::Delay(std::time::Duration::ZERO),
        usize::MAX,
    );
    w.seed();
    w.dan_asks();
    w.once();
    assert_eq!(w.drafts().len(), 1);
    let first = searches.count();
    assert!(
        first > 0,
        "the drafted finding was looked for before the model"
    );
    let out = w.once();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("today: max_drafts_per_day reached"), "{said}");
    assert_eq!(
        searches.count(),
        first,
        "no search for a finding that waits"
    );
    assert_eq!(w.drafts().len(), 1);
    assert!(w.status().contains("1 finding(s) wait for tomorrow"));
}

/// Past the day's drafts a draft of ours the ledger lost (here: the state directory) is
/// still adopted in the pass that finds it, not left to look like the user's: its thread
/// holds a draft tend does not know, so Drafts is searched for that finding alone.
#[test]
fn past_max_drafts_per_day_a_draft_of_ours_the_ledger_lost_is_still_adopted() {
    let w = World::new();
    w.write_config("[rules]\nmax_drafts_per_day = 5\n");
    w.seed();
    w.dan_asks();
    w.once();
    assert_eq!(w.drafts().len(), 2, "Bob's and Dan's");
    // The ledger is lost; with one draft a day, Erin's newer question takes it.
    std::fs::rename(w.dir.path().join("state"), w.dir.path().join("state.lost")).unwrap();
    w.write_config("[rules]\nmax_drafts_per_day = 1\n");
    let raw = mail(
        "erin1@e.test",
        "Erin <erin@e.test>",
        "alice@acme.test",
        "Trial licences?",
        Utc::now() - Duration::minutes(20),
        None,
        "Could we get three trial licences?",
    );
    w.dovecot.put("alice", "INBOX", raw.as_bytes(), "");
    let out = w.once();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(said.matches("already in Drafts").count(), 2, "{said}");
    assert!(!said.contains("max_drafts_per_day reached"), "{said}");
    assert_eq!(w.drafts().len(), 3);
    let status = w.status();
    assert!(!status.contains("wait for tomorrow"), "{status}");
}

#[test]
fn a_draft_the_server_will_not_give_back_is_kept_and_never_removed() {
    let w = World::new();
    let proxy = Proxy::start(w.dovecot.port());
    w.write_config_at("", proxy.port());
    // Only the fetch-back of our own draft right after the APPEND is refused.
    let refused = proxy.inject(
        &["UID FETCH", "(UID BODY.PEEK[])"],
        Fault::Refuse("NO"),
        usize::MAX,
    );
    w.seed();
    w.once();
    assert!(refused.count() >= 1);
    assert_eq!(w.drafts().len(), 1, "appended once, recorded as written");
    w.reply_by_hand("ans@acme.test", "q1@buyer.test");
    w.once();
    assert_eq!(w.drafts().len(), 1, "not known exactly, so never removed");
    assert_eq!(w.llm.requests().len(), 1);
}

#[test]
fn a_user_edited_draft_is_never_adopted_as_ours_and_deleted() {
    // H1: the edited copy keeps our Message-ID and headers (Thunderbird); with the ledger lost,
    // the search finds it under our id, but its body is not what tend wrote.
    let w = World::new();
    w.seed();
    w.once();
    edit_our_draft(&w, None);
    let edited = listing(&w, "Drafts");
    std::fs::remove_dir_all(w.dir.path().join("state")).unwrap();
    w.once();
    assert_eq!(listing(&w, "Drafts"), edited, "found, not written again");
    w.reply_by_hand("ans@acme.test", "q1@buyer.test");
    w.once();
    assert_eq!(listing(&w, "Drafts"), edited, "the user's edit survives");
    w.buyer(
        "q2@buyer.test",
        "q1@buyer.test",
        Utc::now() - Duration::minutes(30),
    );
    w.once();
    assert!(
        listing(&w, "Drafts").iter().any(|d| d == &edited[0]),
        "the user's edit survives a new buyer message too"
    );
}

#[test]
fn an_automated_message_from_our_side_is_no_answer_by_hand() {
    // H2: an auto-reply from our own address after the buyer's question answers nothing, as
    // `detect` judges it: the finding is live, so our draft stays.
    let w = World::new();
    w.seed();
    w.once();
    let ours = listing(&w, "Drafts");
    assert_eq!(ours.len(), 1);
    let raw = mail(
        "auto@acme.test",
        "alice@acme.test",
        "bob@buyer.test",
        "Automatic reply: Re: Acme for Buyer Corp",
        Utc::now(),
        Some("q1@buyer.test"),
        "I am out of the office until Monday.",
    )
    .replacen(
        "MIME-Version",
        "Auto-Submitted: auto-replied\r\nMIME-Version",
        1,
    );
    w.client().append("Sent", "(\\Seen)", &raw);
    w.once();
    assert_eq!(listing(&w, "Drafts"), ours, "our draft stays");
    let status = w.status();
    assert!(status.contains("in Drafts, unmodified"), "{status}");
    assert!(!status.contains("answered by hand"), "{status}");
    assert!(
        status.contains("needs a reply"),
        "the finding is live: {status}"
    );
    w.once();
    assert_eq!(listing(&w, "Drafts"), ours, "and is not written again");
}

#[test]
fn a_drafts_folder_equal_to_sent_is_refused_and_nothing_is_appended() {
    // M1: `[folders] drafts = "Sent"` would put our drafts among the user's sent mail.
    let w = World::new();
    w.write_config("[folders]\ndrafts = \"Sent\"\n");
    w.seed();
    let sent = listing(&w, "Sent");
    for command in ["check", "once"] {
        let out = w.tend_env(&[command], &[]);
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "tend {command} must fail: {said}");
        assert!(
            said.contains("refusing \"Sent\" as the Drafts folder"),
            "{command}: {said}"
        );
    }
    assert_eq!(listing(&w, "Sent"), sent, "nothing appended to Sent");
    assert!(w.drafts().is_empty());
    assert_eq!(
        w.llm.requests().len(),
        1,
        "only tend check's one-token request: no draft asked for"
    );
}

#[test]
fn a_refused_removal_strands_that_draft_instead_of_failing_every_pass() {
    // M1: our draft recorded in Drafts, then `[folders] drafts` moved elsewhere: removing it is
    // refused (not today's Drafts); that is one copy's state, not an error for every pass.
    let w = World::new();
    w.seed();
    w.once();
    let ours = listing(&w, "Drafts");
    assert_eq!(ours.len(), 1);
    w.client().run("CREATE Tend");
    w.write_config("[folders]\ndrafts = \"Tend\"\n");
    w.reply_by_hand("ans@acme.test", "q1@buyer.test");
    w.once();
    w.once();
    assert_eq!(
        listing(&w, "Drafts"),
        ours,
        "never touched outside today's Drafts"
    );
    let explain = w.tend_env(&["explain", "q1@buyer.test"], &[]);
    let explain = String::from_utf8_lossy(&explain.stdout);
    assert!(explain.contains("stranded"), "{explain}");
}

#[test]
fn kill_9_between_append_and_ledger_record_is_cleaned_up_by_the_next_pass() {
    // M2: the rerun adopts the new draft; the old one of ours must go in the same pass.
    let w = World::new();
    w.seed();
    w.once();
    w.buyer(
        "q2@buyer.test",
        "q1@buyer.test",
        Utc::now() - Duration::hours(1),
    );
    let out = w.tend_env(&["once"], &[("TEND_TEST_CRASH_AFTER_APPEND", "1")]);
    assert!(!out.status.success(), "the injected crash aborts");
    assert_eq!(w.drafts().len(), 2, "the new draft is in, unrecorded");
    w.once();
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 1, "exactly one draft of ours after one rerun");
    assert_eq!(answering(&drafts, "q2@buyer.test").len(), 1);
    assert_eq!(w.llm.requests().len(), 2, "the rerun pays nothing");
}

#[test]
fn a_draft_of_ours_the_users_client_flagged_deleted_is_never_expunged_by_us() {
    // L1: the user deletes our draft in a client that does not expunge, after tend read Drafts
    // and before its removal: the re-check sees \Deleted and leaves the message to that client.
    let w = World::new();
    let proxy = Proxy::start(w.dovecot.port());
    w.write_config_at("", proxy.port());
    w.seed();
    w.once();
    let uid = w.drafts()[0].uid.expect("a UID");
    w.reply_by_hand("ans@acme.test", "q1@buyer.test");
    // Removal alone SELECTs Drafts (everything else EXAMINEs): hold it while the user deletes.
    let held = proxy.inject(
        &["SELECT", "Drafts"],
        Fault::Delay(std::time::Duration::from_secs(4)),
        1,
    );
    let mut pass = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(w.config())
        .arg("once")
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while held.count() == 0 {
        assert!(start.elapsed().as_secs() < 120, "the removal never came");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    w.client().mark_deleted("Drafts", uid);
    assert!(pass.wait().unwrap().success());
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 1, "not expunged by us: {drafts:?}");
    assert_eq!(drafts[0].uid, Some(uid));
    assert!(drafts[0].flags.contains('T'), "still flagged \\Deleted");
}
