//! A buyer's message becomes one threaded draft in the special-use Drafts, our own answer or
//! a recent proposal means none, a follow-up after four business days, no second draft after a
//! rerun, a lost state or a crash after APPEND; `tend check` names the folders; TLS and
//! STARTTLS; a large attachment fetched by structure; umlauts in an all-ASCII header.

use crate::world::*;
use chrono::{Duration, Utc};

on_every_server!(
    a_buyer_reply_becomes_one_threaded_draft_in_the_special_use_drafts,
    check_lists_the_folders_and_picks_them_by_special_use,
    our_reply_in_sent_means_no_draft,
    a_proposal_unanswered_for_four_business_days_gets_a_follow_up,
    a_rerun_or_a_lost_state_writes_no_second_draft,
    a_thread_in_german_gets_its_draft_with_headers_a_strict_server_takes,
    tls_and_starttls_with_a_ca_file_work,
    text_after_a_large_attachment_survives_the_fetch_cap,
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
