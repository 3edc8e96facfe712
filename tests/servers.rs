//! The end-to-end cases on every IMAP server the tests can start: Dovecot, and Cyrus IMAP with
//! `/` and top-level folders and with `.` and everything under INBOX, so no habit of one server
//! passes for the standard. Each case is written once over `support::server::MailServer` and
//! run through the real `tend` binary and a local model server; the mail goes in and is read
//! back over IMAP by the support's own client, so what is asserted is what the server holds.
//! `on_every_server!` makes one test per server: `CASE::dovecot`, `CASE::cyrus_slash`,
//! `CASE::cyrus_dot`.

mod support;

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;
use support::cyrus::{Cyrus, Flavour};
use support::dovecot::Dovecot;
use support::imap::Message;
use support::llm::{FakeLlm, Reply};
use support::server::MailServer;
use support::service::Tend;

const BODY: &str =
    "Hi Bob,\n\nThanks for asking. The 50-seat plan is [price]; I can send the order form today.";
const USER: &str = "alice";
const PASSWORD: &str = "s3cret pass";

#[derive(Clone, Copy)]
enum Kind {
    Dovecot,
    CyrusSlash,
    CyrusDot,
}

macro_rules! on_every_server {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[test]
            fn dovecot() {
                super::$case(super::Kind::Dovecot)
            }
            #[test]
            fn cyrus_slash() {
                super::$case(super::Kind::CyrusSlash)
            }
            #[test]
            fn cyrus_dot() {
                super::$case(super::Kind::CyrusDot)
            }
        }
    )*};
}

/// A server with user alice, a model server, and a config directory pointing at both.
struct World {
    server: Box<dyn MailServer>,
    llm: FakeLlm,
    dir: tempfile::TempDir,
    /// alice's Drafts and Sent, as a client reads their names.
    drafts: String,
    sent: String,
}

impl World {
    fn new(kind: Kind) -> World {
        let server: Box<dyn MailServer> = match kind {
            Kind::Dovecot => Box::new(Dovecot::start()),
            Kind::CyrusSlash => Box::new(Cyrus::start(Flavour::Slash)),
            Kind::CyrusDot => Box::new(Cyrus::start(Flavour::Dot)),
        };
        server.add_user(USER, PASSWORD);
        let (drafts, sent) = (server.special("\\Drafts"), server.special("\\Sent"));
        World::around(server, drafts, sent)
    }

    /// `server` already holding alice, whose Drafts and Sent are called so.
    fn around(server: Box<dyn MailServer>, drafts: String, sent: String) -> World {
        let llm = FakeLlm::start(|_| {
            Reply::Content(
                serde_json::json!({"needs_reply": true, "reason": "asks for a price", "body": BODY})
                    .to_string(),
            )
        });
        let w = World {
            server,
            llm,
            dir: tempfile::tempdir().unwrap(),
            drafts,
            sent,
        };
        w.write_config("");
        w
    }

    fn write_config(&self, top: &str) {
        let d = self.dir.path();
        std::fs::create_dir_all(d.join("mailboxes")).unwrap();
        std::fs::write(
            d.join("tend.toml"),
            format!(
                "state_dir = \"state\"\n{top}[llm]\nbase_url = \"{}\"\nmodel = \"m\"\n",
                self.llm.base_url()
            ),
        )
        .unwrap();
        let pw = d.join("mailboxes/alice.password");
        std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(
            d.join("mailboxes/alice.toml"),
            format!(
                "addresses = [\"alice@acme.test\"]\ninternal_domains = [\"acme.test\"]\n\
                 timezone = \"UTC\"\nsignature = \"Alice Seller\"\n[imap]\nhost = \"127.0.0.1\"\n\
                 port = {}\nsecurity = \"plain\"\nusername = \"{USER}\"\n\
                 password_file = \"alice.password\"\ntimeout_seconds = 10\n",
                self.server.port()
            ),
        )
        .unwrap();
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("tend.toml")
    }

    fn tend_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
            .arg("--config")
            .arg(self.config())
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .output()
            .unwrap();
        eprintln!(
            "[{}] tend {args:?} -> {}\n--- stdout\n{}--- stderr\n{}",
            self.server.name(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn tend(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.tend_env(args, &[]).stdout).into_owned()
    }

    fn once(&self) {
        let out = self.tend_env(&["once"], &[]);
        assert!(
            out.status.success(),
            "tend once failed on {}\n--- server log\n{}",
            self.server.name(),
            self.server.log()
        );
    }

    fn drafts_folder(&self) -> String {
        self.drafts.clone()
    }

    fn sent_folder(&self) -> String {
        self.sent.clone()
    }

    fn folder(&self, folder: &str) -> Vec<Message> {
        self.server.messages(USER, folder)
    }

    fn drafts(&self) -> Vec<Message> {
        self.folder(&self.drafts_folder())
    }

    fn inbox(&self, raw: &str) {
        self.server.put(USER, "INBOX", raw.as_bytes(), "");
    }

    fn sent(&self, raw: &str) {
        self.server
            .put(USER, &self.sent_folder(), raw.as_bytes(), "\\Seen");
    }

    /// Our intro in Sent three days ago, Bob's question in INBOX five hours ago.
    fn seed(&self) {
        let now = Utc::now();
        self.sent(&mail(
            "intro@acme.test",
            "Alice Seller <alice@acme.test>",
            "Bob Buyer <bob@buyer.test>",
            "Acme for Buyer Corp",
            now - Duration::days(3),
            None,
            "Hi Bob, great to meet you.",
        ));
        self.inbox(&question(
            "q1@buyer.test",
            "intro@acme.test",
            now - Duration::hours(5),
        ));
    }
}

fn question(id: &str, parent: &str, at: DateTime<Utc>) -> String {
    mail(
        id,
        "Bob Buyer <bob@buyer.test>",
        "alice@acme.test",
        "Re: Acme for Buyer Corp",
        at,
        Some(parent),
        "What does the 50-seat plan cost per year?",
    )
}

fn answer_by_hand(id: &str, parent: &str) -> String {
    mail(
        id,
        "alice@acme.test",
        "bob@buyer.test",
        "Re: Acme for Buyer Corp",
        Utc::now(),
        Some(parent),
        "Bob, let us talk about it on the phone on Monday.",
    )
}

fn mail(
    id: &str,
    from: &str,
    to: &str,
    subject: &str,
    date: DateTime<Utc>,
    parent: Option<&str>,
    body: &str,
) -> String {
    let mut h = format!(
        "Message-ID: <{id}>\r\nDate: {}\r\nFrom: {from}\r\nTo: {to}\r\nSubject: {subject}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n",
        date.to_rfc2822()
    );
    if let Some(p) = parent {
        h.push_str(&format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"));
    }
    format!("{h}\r\n{body}\r\n")
}

/// A moment `n` weekdays before now, same time of day.
fn business_days_ago(n: u32) -> DateTime<Utc> {
    let mut t = Utc::now();
    let mut left = n;
    while left > 0 {
        t -= Duration::days(1);
        if !matches!(t.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    t
}

/// The drafts in `drafts` answering `parent`.
fn answering<'a>(drafts: &'a [Message], parent: &str) -> Vec<&'a Message> {
    let needle = format!("In-Reply-To: <{parent}>");
    drafts
        .iter()
        .filter(|d| d.text().contains(&needle))
        .collect()
}

/// Folders without special-use (a server set up before RFC 6154): found by name, at the top
/// with `/` and under INBOX with `.`, the habit of Cyrus and Courier.
#[test]
fn cyrus_folders_without_special_use_are_found_by_name() {
    for flavour in [Flavour::Slash, Flavour::Dot] {
        let cyrus = Cyrus::start(flavour);
        cyrus.add_user_without_special_use(USER, PASSWORD);
        let (drafts, sent) = (cyrus.folder("Drafts"), cyrus.folder("Sent"));
        let w = World::around(Box::new(cyrus), drafts.clone(), sent.clone());
        let check = w.tend_env(&["check"], &[]);
        let text = String::from_utf8_lossy(&check.stdout);
        let want = format!("sent {sent:?}, drafts {drafts:?}");
        assert!(
            check.status.success() && text.contains(&want),
            "want {want} in:\n{text}"
        );
        w.seed();
        w.once();
        assert_eq!(
            answering(&w.drafts(), "q1@buyer.test").len(),
            1,
            "in {drafts}"
        );
    }
}

/// RFC 6154 lets a server name the special-use folders only when LIST asks for them with
/// `RETURN (SPECIAL-USE)`; Cyrus does so with `specialusealways: 0`. Dovecot always names them.
#[test]
fn cyrus_naming_special_use_only_when_asked_still_gets_the_draft_into_its_drafts() {
    for flavour in [Flavour::Slash, Flavour::Dot] {
        let cyrus = Cyrus::start_with(flavour, "specialusealways: 0\n");
        cyrus.add_user(USER, PASSWORD);
        let plain = cyrus.client(USER).run("LIST \"\" \"*\"");
        assert!(
            !plain.contains("\\Drafts"),
            "asked plainly, no attributes: {plain}"
        );
        let (drafts, sent) = (cyrus.special("\\Drafts"), cyrus.special("\\Sent"));
        let w = World::around(Box::new(cyrus), drafts.clone(), sent.clone());
        let check = w.tend_env(&["check"], &[]);
        let text = String::from_utf8_lossy(&check.stdout);
        let want = format!("sent {sent:?}, drafts {drafts:?}");
        assert!(
            check.status.success() && text.contains(&want),
            "want {want} in:\n{text}"
        );
        w.seed();
        w.once();
        assert_eq!(
            answering(&w.drafts(), "q1@buyer.test").len(),
            1,
            "in {drafts}"
        );
    }
}

/// Debian's own cyrus.conf runs no idled: an idling session hears of new mail only when imapd
/// polls, each minute. tend renews its IDLE sooner (at most `timeout / 2`, 5 s here) and looks
/// then, so the draft still comes within seconds.
#[test]
fn cyrus_without_idled_still_drafts_a_message_delivered_while_tend_run_idles() {
    let cyrus = Cyrus::start_without_idled(Flavour::Dot);
    cyrus.add_user(USER, PASSWORD);
    let (drafts, sent) = (cyrus.special("\\Drafts"), cyrus.special("\\Sent"));
    let w = World::around(Box::new(cyrus), drafts, sent);
    delivered_while_idling(&w);
}

on_every_server!(
    a_buyer_reply_becomes_one_threaded_draft_in_the_special_use_drafts,
    check_lists_the_folders_and_picks_them_by_special_use,
    our_reply_in_sent_means_no_draft,
    a_proposal_unanswered_for_four_business_days_gets_a_follow_up,
    a_rerun_or_a_lost_state_writes_no_second_draft,
    our_stale_draft_goes_when_the_user_answers_and_nothing_of_theirs_is_touched,
    a_message_delivered_while_tend_run_idles_gets_a_draft,
    a_reply_by_hand_removes_our_draft_while_tend_run_idles,
    a_thread_in_german_gets_its_draft_with_headers_a_strict_server_takes,
    a_recreated_drafts_folder_never_costs_the_user_a_draft,
    tls_and_starttls_with_a_ca_file_work,
    text_after_a_large_attachment_survives_the_fetch_cap,
    stage_tags_set_in_the_client_are_found_in_inbox_and_sent,
);

// The crash hook exists only in debug builds.
#[cfg(debug_assertions)]
on_every_server!(a_crash_between_append_and_ledger_leaves_one_draft);

fn a_buyer_reply_becomes_one_threaded_draft_in_the_special_use_drafts(kind: Kind) {
    let w = World::new(kind);
    w.seed();
    w.once();
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 1, "one draft in {}", w.drafts_folder());
    let d = &drafts[0];
    assert!(d.has("\\Draft") && d.has("\\Seen"), "flags {:?}", d.flags);
    let email = tend::parse::parse(&d.raw).unwrap();
    assert_eq!(email.in_reply_to.as_deref(), Some("q1@buyer.test"));
    assert_eq!(email.references, ["intro@acme.test", "q1@buyer.test"]);
    assert_eq!(email.subject, "Re: Acme for Buyer Corp");
    assert_eq!(
        email
            .to
            .iter()
            .map(|a| a.email.as_str())
            .collect::<Vec<_>>(),
        ["bob@buyer.test"]
    );
    assert!(
        email.text.contains("50-seat plan is [price]"),
        "{}",
        email.text
    );
    // Nowhere else: not in a folder merely named Drafts, not in INBOX or Sent.
    if w.drafts_folder() != "Drafts" && w.server.name().contains("(/)") {
        assert!(
            w.folder("Drafts").is_empty(),
            "the folder named Drafts is no \\Drafts"
        );
    }
    let inbox = w.folder("INBOX");
    assert_eq!(inbox.len(), 1);
    assert!(!inbox[0].has("\\Seen"), "the buyer's mail stays unread");
    assert_eq!(w.folder(&w.sent_folder()).len(), 1);

    // A pass with nothing new changes nothing and asks the model nothing.
    let before = (w.drafts(), w.folder("INBOX"), w.folder(&w.sent_folder()));
    w.once();
    let after = (w.drafts(), w.folder("INBOX"), w.folder(&w.sent_folder()));
    assert_eq!(before, after, "a no-change pass on {}", w.server.name());
    assert_eq!(w.llm.draft_requests().len(), 1);
}

fn check_lists_the_folders_and_picks_them_by_special_use(kind: Kind) {
    let w = World::new(kind);
    let out = w.tend_env(&["check"], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let drafts = format!("drafts {:?}", w.drafts_folder());
    let sent = format!("sent {:?}", w.sent_folder());
    assert!(
        text.contains(&drafts) && text.contains(&sent),
        "want {drafts}, {sent} in:\n{text}"
    );
    std::fs::write(w.dir.path().join("mailboxes/alice.password"), "wrong\n").unwrap();
    let out = w.tend_env(&["check"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("login refused by"));
}

fn our_reply_in_sent_means_no_draft(kind: Kind) {
    let w = World::new(kind);
    w.seed();
    w.sent(&answer_by_hand("ans@acme.test", "q1@buyer.test"));
    w.once();
    assert!(w.drafts().is_empty());
    assert!(w.llm.draft_requests().is_empty());
}

fn a_proposal_unanswered_for_four_business_days_gets_a_follow_up(kind: Kind) {
    let w = World::new(kind);
    let sent_at = business_days_ago(4);
    w.inbox(&mail(
        "req@buyer.test",
        "Bob Buyer <bob@buyer.test>",
        "alice@acme.test",
        "Proposal request",
        sent_at - Duration::hours(3),
        None,
        "Could you send a proposal for 50 seats?",
    ));
    w.sent(&mail(
        "prop@acme.test",
        "alice@acme.test",
        "bob@buyer.test",
        "Re: Proposal request",
        sent_at,
        Some("req@buyer.test"),
        "Here it is: 50 seats, 9,000 a year.",
    ));
    w.once();
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 1, "a follow-up");
    let email = tend::parse::parse(&drafts[0].raw).unwrap();
    assert_eq!(email.in_reply_to.as_deref(), Some("prop@acme.test"));
    assert_eq!(email.subject, "Re: Proposal request");
}

fn a_rerun_or_a_lost_state_writes_no_second_draft(kind: Kind) {
    let w = World::new(kind);
    w.seed();
    w.once();
    w.once();
    assert_eq!(w.drafts().len(), 1);
    // Without the ledger, the draft is found in Drafts by its Message-ID (UID SEARCH).
    std::fs::remove_dir_all(w.dir.path().join("state")).unwrap();
    w.once();
    assert_eq!(w.drafts().len(), 1, "no second draft after a lost state");
    assert_eq!(
        w.llm.draft_requests().len(),
        1,
        "and the model not paid again"
    );
    // The adopted draft is still ours: a new buyer message replaces it (UIDPLUS removal).
    w.inbox(&question(
        "q2@buyer.test",
        "q1@buyer.test",
        Utc::now() - Duration::hours(1),
    ));
    w.once();
    let drafts = w.drafts();
    assert_eq!(
        drafts.len(),
        1,
        "replaced, not added: {:?}",
        drafts.iter().map(|d| d.uid).collect::<Vec<_>>()
    );
    assert_eq!(answering(&drafts, "q2@buyer.test").len(), 1);
}

fn our_stale_draft_goes_when_the_user_answers_and_nothing_of_theirs_is_touched(kind: Kind) {
    let w = World::new(kind);
    w.seed();
    // A draft of the user's own, in another thread.
    let mine = mail(
        "mine@acme.test",
        "alice@acme.test",
        "carol@elsewhere.test",
        "Notes for Carol",
        Utc::now() - Duration::hours(2),
        None,
        "Half written.",
    );
    w.server
        .put(USER, &w.drafts_folder(), mine.as_bytes(), "\\Draft \\Seen");
    // And one their client flagged \Deleted without expunging: our removal (UID EXPUNGE of
    // our own UID, RFC 4315) must not take it along.
    let thrown = mail(
        "thrown@acme.test",
        "alice@acme.test",
        "dan@elsewhere.test",
        "Never mind",
        Utc::now() - Duration::hours(2),
        None,
        "Thrown away.",
    );
    w.server.put(
        USER,
        &w.drafts_folder(),
        thrown.as_bytes(),
        "\\Draft \\Deleted",
    );
    w.once();
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 3, "ours beside the user's two");
    assert_eq!(answering(&drafts, "q1@buyer.test").len(), 1);
    // The user answers by hand: their client saves the reply in Sent.
    w.server.put(
        USER,
        &w.sent_folder(),
        answer_by_hand("ans@acme.test", "q1@buyer.test").as_bytes(),
        "\\Seen",
    );
    let inbox = w.folder("INBOX");
    let sent = w.folder(&w.sent_folder());
    let users_draft: Vec<Message> = drafts
        .iter()
        .filter(|d| !d.text().contains("X-Tend-Draft"))
        .cloned()
        .collect();
    w.once();
    assert_eq!(
        w.drafts(),
        users_draft,
        "our stale draft removed, the user's left exactly"
    );
    assert_eq!(w.folder("INBOX"), inbox, "INBOX untouched");
    assert_eq!(w.folder(&w.sent_folder()), sent, "Sent untouched");
    let explain = w.tend(&["explain", "q1@buyer.test"]);
    assert!(explain.contains("answered without it"), "{explain}");
}

fn a_message_delivered_while_tend_run_idles_gets_a_draft(kind: Kind) {
    delivered_while_idling(&World::new(kind));
}

fn delivered_while_idling(w: &World) {
    w.write_config("poll_interval_seconds = 3600\n");
    w.sent(&mail(
        "intro@acme.test",
        "Alice Seller <alice@acme.test>",
        "Bob Buyer <bob@buyer.test>",
        "Acme for Buyer Corp",
        Utc::now() - Duration::days(1),
        None,
        "Hi Bob, great to meet you.",
    ));
    let mut tend = Tend::idling(&w.config());
    let start = std::time::Instant::now();
    w.inbox(&question("q1@buyer.test", "intro@acme.test", Utc::now()));
    // IDLE tells tend at once (Cyrus through its idled); far below the one-hour poll.
    tend.wait("a draft through IDLE", 20, |_| !w.drafts().is_empty());
    eprintln!(
        "[{}] draft {:?} after delivery",
        w.server.name(),
        start.elapsed()
    );
    assert_eq!(answering(&w.drafts(), "q1@buyer.test").len(), 1);
    let (status, _) = tend.stop();
    assert!(status.success(), "{status}\n{}", tend.log());
}

fn tls_and_starttls_with_a_ca_file_work(kind: Kind) {
    let w = World::new(kind);
    w.seed();
    let path = w.dir.path().join("mailboxes/alice.toml");
    let plain = std::fs::read_to_string(&path).unwrap();
    let port = format!("port = {}", w.server.port());
    let ca = format!("ca_file = {:?}", w.server.ca_file());
    let starttls = plain
        .replace(
            "security = \"plain\"",
            &format!("security = \"starttls\"\n{ca}"),
        )
        .replace("127.0.0.1", "localhost");
    std::fs::write(&path, starttls).unwrap();
    let out = w.tend_env(&["check"], &[]);
    assert!(out.status.success(), "STARTTLS on {}", w.server.name());
    let tls = plain
        .replace(&port, &format!("port = {}", w.server.tls_port()))
        .replace("security = \"plain\"", &format!("security = \"tls\"\n{ca}"));
    std::fs::write(&path, tls).unwrap();
    w.once();
    assert_eq!(w.drafts().len(), 1, "drafted over implicit TLS");
}

/// A 3 MiB message, its text after a PDF: fetched by BODYSTRUCTURE, so the model sees the text.
fn text_after_a_large_attachment_survives_the_fetch_cap(kind: Kind) {
    let w = World::new(kind);
    let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    let pdf: String = line.repeat(3 * 1024 * 1024 / line.len());
    let raw = format!(
        "Message-ID: <big@buyer.test>\r\nDate: {}\r\nFrom: Bob Buyer <bob@buyer.test>\r\n\
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
    w.inbox(&raw);
    w.once();
    assert_eq!(answering(&w.drafts(), "big@buyer.test").len(), 1);
    let asked = w.llm.draft_requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].to_string().matches("marker 7731").count(),
        1,
        "the text/plain part after the attachment, once"
    );
}

#[cfg(debug_assertions)]
fn a_crash_between_append_and_ledger_leaves_one_draft(kind: Kind) {
    let w = World::new(kind);
    w.seed();
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
        w.llm.draft_requests().len(),
        1,
        "and does not pay the model again"
    );
}

/// Stages with keywords: `demo` is Thunderbird's first tag, `proposal` a word of the user's.
const PIPELINE: &str = "[[pipeline.stages]]\nname = \"new\"\nexit = \"first contact\"\n\
    [[pipeline.stages]]\nname = \"demo\"\nexit = \"took part in a demo\"\nkeyword = \"$label1\"\n\
    [[pipeline.stages]]\nname = \"proposal\"\nexit = \"acknowledged our offer\"\n\
    [[pipeline.stages]]\nname = \"won\"\nexit = \"signed\"\noutcome = \"won\"\n";
const KEYWORDS: [&str; 4] = ["new", "$label1", "proposal", "won"];

fn stage_tags_set_in_the_client_are_found_in_inbox_and_sent(kind: Kind) {
    let w = World::new(kind);
    w.write_config(PIPELINE);
    w.seed();
    let sent = w.sent_folder();
    w.server
        .tag(USER, "INBOX", "q1@buyer.test", "+FLAGS", "proposal");
    w.server
        .tag(USER, "INBOX", "q1@buyer.test", "+FLAGS", "$Forwarded");
    w.server
        .tag(USER, &sent, "intro@acme.test", "+FLAGS", "$label1");
    let look = |folder: &str| -> Vec<(String, String)> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let config = tend::config::load(&w.config()).unwrap();
            let mut s = tend::imap::Session::connect(&config.mailboxes[0].imap)
                .await
                .unwrap();
            let found = s.keyworded(folder, &KEYWORDS).await.unwrap();
            s.logout().await;
            found
                .into_iter()
                .map(|k| (k.keyword, k.message_id))
                .collect()
        })
    };
    let pair = |k: &str, id: &str| (k.to_string(), id.to_string());
    assert_eq!(look("INBOX"), [pair("proposal", "q1@buyer.test")]);
    assert_eq!(look(&sent), [pair("$label1", "intro@acme.test")]);
    // Retagged in capitals: keywords compare case-insensitively (RFC 3501 2.3.2), and the
    // configured spelling comes back whatever the server stored.
    w.server
        .tag(USER, "INBOX", "q1@buyer.test", "-FLAGS", "proposal");
    w.server
        .tag(USER, "INBOX", "q1@buyer.test", "+FLAGS", "PROPOSAL");
    assert_eq!(look("INBOX"), [pair("proposal", "q1@buyer.test")]);
    // A pass keeps what it found; and looking changed nothing on the server.
    w.once();
    let store = tend::store::Store::open(&w.dir.path().join("state"), 0).unwrap();
    let stages = store.keyworded_stages().unwrap();
    assert!(
        stages.contains(&("q1@buyer.test".to_string(), "proposal".to_string())),
        "{stages:?}"
    );
    assert!(!w.folder("INBOX")[0].has("\\Seen"), "read only");
}

fn a_reply_by_hand_removes_our_draft_while_tend_run_idles(kind: Kind) {
    let w = World::new(kind);
    w.write_config("poll_interval_seconds = 3600\n");
    w.seed();
    let mut tend = Tend::start(&w.config());
    tend.wait("our draft", 60, |_| w.drafts().len() == 1);
    tend.wait_log("waiting on IDLE", 1, 30);
    w.sent(&answer_by_hand("ans@acme.test", "q1@buyer.test"));
    let start = std::time::Instant::now();
    // tend idles on INBOX; Sent is looked at when the IDLE is renewed (at most timeout / 2 =
    // 5 s here) and a pass follows.
    tend.wait("our draft removed", 60, |_| w.drafts().is_empty());
    eprintln!("[{}] removed after {:?}", w.server.name(), start.elapsed());
    assert_eq!(w.folder(&w.sent_folder()).len(), 2, "Sent untouched");
    let (status, _) = tend.stop();
    assert!(status.success(), "{status}\n{}", tend.log());
}

/// Umlauts in the buyer's name, the subject, the body and ours: the draft's header is
/// MIME-encoded (RFC 2047), all ASCII, whatever a server would take (Dovecot and Cyrus 3.6 both
/// take 8-bit header bytes; Cyrus refuses a bare LF anywhere, so the draft is CRLF throughout).
fn a_thread_in_german_gets_its_draft_with_headers_a_strict_server_takes(kind: Kind) {
    let w = World::new(kind);
    let toml = w.dir.path().join("mailboxes/alice.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replace(
            "signature = \"Alice Seller\"",
            "name = \"Alice Müller\"\nsignature = \"Grüße, Alice Müller\"",
        ),
    )
    .unwrap();
    let now = Utc::now();
    w.sent(&mail(
        "intro@acme.test",
        "=?utf-8?q?Alice_M=C3=BCller?= <alice@acme.test>",
        "=?utf-8?q?J=C3=BCrgen_Stra=C3=9Fer?= <juergen@buyer.test>",
        "=?utf-8?q?Angebot_f=C3=BCr_50_Pl=C3=A4tze?=",
        now - Duration::days(3),
        None,
        "Hallo Herr Straßer, anbei unser Angebot.",
    ));
    w.inbox(&mail(
        "q1@buyer.test",
        "=?utf-8?q?J=C3=BCrgen_Stra=C3=9Fer?= <juergen@buyer.test>",
        "alice@acme.test",
        "=?utf-8?q?Re:_Angebot_f=C3=BCr_50_Pl=C3=A4tze?=",
        now - Duration::hours(5),
        Some("intro@acme.test"),
        "Was kostet das größere Paket pro Jahr?",
    ));
    w.once();
    let drafts = w.drafts();
    assert_eq!(drafts.len(), 1, "the draft was taken\n{}", w.server.log());
    let d = &drafts[0];
    let head = d.text();
    let head = head.split("\r\n\r\n").next().unwrap();
    assert!(head.is_ascii(), "an 8-bit header:\n{head}");
    let email = tend::parse::parse(&d.raw).unwrap();
    assert_eq!(email.subject, "Re: Angebot für 50 Plätze");
    assert!(email.text.contains("Grüße, Alice Müller"), "{}", email.text);
}

/// The user deletes Drafts, our draft in it, and creates it anew (a new UIDVALIDITY, UIDs from
/// 1 again), then saves a draft of their own there: it may carry the UID ours had. When the
/// user then answers by hand, our removal must not take theirs.
fn a_recreated_drafts_folder_never_costs_the_user_a_draft(kind: Kind) {
    let w = World::new(kind);
    w.seed();
    w.once();
    let ours = w.drafts();
    assert_eq!(ours.len(), 1);
    let drafts = support::imap::quote(&w.server.wire(&w.drafts_folder()));
    let mut c = w.server.client(USER);
    // Cyrus refuses to delete a special-use folder ("SPECIAL-USE flag conflict", its
    // `specialuse_protect`) until the client takes the attribute off (RFC 6154 metadata).
    if !c.try_run(&format!("DELETE {drafts}")).ok {
        c.run(&format!("SETMETADATA {drafts} (/private/specialuse NIL)"));
        c.run(&format!("DELETE {drafts}"));
    }
    // RFC 6154 CREATE-SPECIAL-USE where the server has it (Cyrus); Dovecot's config names it.
    if !c.try_run(&format!("CREATE {drafts} (USE (\\Drafts))")).ok {
        c.run(&format!("CREATE {drafts}"));
    }
    c.logout();
    let mine = mail(
        "mine@acme.test",
        "alice@acme.test",
        "carol@elsewhere.test",
        "Notes for Carol",
        Utc::now() - Duration::hours(1),
        None,
        "Half written.",
    );
    w.server
        .put(USER, &w.drafts_folder(), mine.as_bytes(), "\\Draft \\Seen");
    let users = w.drafts();
    assert_eq!(users.len(), 1);
    eprintln!(
        "[{}] our UID {}, theirs now {}",
        w.server.name(),
        ours[0].uid,
        users[0].uid
    );
    w.sent(&answer_by_hand("ans@acme.test", "q1@buyer.test"));
    w.once();
    assert_eq!(w.drafts(), users, "the user's draft is left exactly");
    w.once();
    assert_eq!(w.drafts(), users, "and on the next pass");
}
