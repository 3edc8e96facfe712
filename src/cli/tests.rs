use super::*;
use crate::detect::Verdict;
use crate::draft::test_support::{email, mailbox};
use crate::parse::Addr;
use crate::thread::Thread;

#[test]
fn status_names_who_a_draft_leaves_out_and_why() {
    use crate::detect::{Finding, Kind};
    let mb = mailbox();
    let mut m = email(
        "rfq@buyer.example",
        Addr {
            name: None,
            email: "anna@buyer.example".into(),
        },
        "quote?",
        1_717_200_000,
    );
    m.to = ["sales@shop.example", "bids@rival.example"]
        .iter()
        .map(|e| Addr {
            name: None,
            email: e.to_string(),
        })
        .collect();
    m.reply_to = vec![Addr {
        name: None,
        email: "x@evil.example".into(),
    }];
    let f = Finding {
        thread_id: "rfq@buyer.example".into(),
        kind: Kind::Reply,
        trigger: "rfq@buyer.example".into(),
        since: 1_717_200_000,
        reason: "anna wrote".into(),
    };
    let review = Review {
        thread: Thread {
            id: "rfq@buyer.example".into(),
            messages: vec![m],
        },
        verdict: Verdict::Attention(f),
        draft: None,
        failure: None,
        lifecycle: Vec::new(),
        hands_off: false,
    };
    let text = review_text(&mb, &review, Utc::now());
    assert!(
        text.contains("from sales@shop.example, to anna@buyer.example\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "left out (outside the conversation with us): x@evil.example, bids@rival.example"
        ),
        "{text}"
    );
    assert!(text.contains("note: Reply-To x@evil.example"), "{text}");
}

#[test]
fn state_directory_is_created_0700() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("var/tend");
    drop(Store::open(&state, 0).unwrap());
    for d in [&state, &dir.path().join("var")] {
        let mode = std::fs::metadata(d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", d.display());
    }
}

#[test]
fn explain_escapes_control_characters_from_mail() {
    let mb = mailbox();
    let mut m = email(
        "p@x",
        Addr {
            name: None,
            email: "x\u{1b}]0;pwned\u{7}@evil.example".into(),
        },
        "hi",
        1_717_200_000,
    );
    m.subject = "Offer\u{1b}[2J".into();
    m.automated = Some("List-Id: \u{1b}]8;;http://evil\u{1b}\\".into());
    let line = message_line(&mb, &m);
    assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
    assert!(line.contains("\\u{1b}]8;;http://evil"), "{line}");
    let review = Review {
        thread: Thread {
            id: "p@x".into(),
            messages: vec![m],
        },
        verdict: Verdict::Quiet {
            reason: "automated (List-Id: \u{1b}[31m)".into(),
        },
        draft: None,
        failure: None,
        lifecycle: Vec::new(),
        hands_off: false,
    };
    let text = review_text(&mb, &review, Utc::now());
    assert!(
        !text.trim_end().chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
}

/// The service's status snapshot works out its threads part again only after a change it
/// hears of (a pass ended) or ten minutes; in between it reuses it and rewrites the rest.
#[test]
fn the_status_snapshot_sweeps_again_after_a_pass_not_every_minute() {
    use crate::config::Config;
    use crate::daemon::health::Health;
    let dir = tempfile::tempdir().unwrap();
    let mb = mailbox();
    let config = Config::test_default(dir.path(), vec![mb.clone()]);
    let store = Store::open(&dir.path().join("db"), 0).unwrap();
    let health = Health::default();
    health.register(&mb.name, mb.timezone);
    let write = snapshot_writer();
    let read = || std::fs::read_to_string(status_snapshot(&config)).unwrap();
    write(&config, &store, &health);
    assert!(
        read().contains("alice: 0 of 0 recent threads"),
        "{}",
        read()
    );

    let date = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc2822();
    let ask = format!("Message-ID: <q@buyer.test>\r\nFrom: Bob <bob@buyer.test>\r\nTo: alice@shop.example\r\nSubject: Quote\r\nDate: {date}\r\n\r\nWhat would 50 seats cost?\r\n");
    let ask = crate::parse::parse(ask.as_bytes()).unwrap();
    store.save_all(&mb.name, &mb.identity, &[ask]).unwrap();
    write(&config, &store, &health);
    assert!(
        read().contains("alice: 0 of 0 recent threads"),
        "no pass ended: the threads part is reused\n{}",
        read()
    );
    health.synced(&mb.name, chrono::Utc::now(), 0);
    write(&config, &store, &health);
    let text = read();
    assert!(text.contains("alice: 1 of 1 recent threads"), "{text}");
    assert!(
        text.contains("Quote") && text.contains("last sync"),
        "{text}"
    );
}
