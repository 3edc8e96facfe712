//! Our draft's life beside the user's mail: removed when the user answers by hand (also while
//! `tend run` idles), the user's own drafts, INBOX and Sent never touched, a Drafts folder
//! made anew; mail delivered while `tend run` idles drafted within seconds (IDLE); stage tags
//! (IMAP keywords) read from INBOX and Sent.

use crate::support::imap::Message;
use crate::support::service::Tend;
use crate::world::*;
use chrono::{Duration, Utc};

on_every_server!(
    our_stale_draft_goes_when_the_user_answers_and_nothing_of_theirs_is_touched,
    a_recreated_drafts_folder_never_costs_the_user_a_draft,
    a_message_delivered_while_tend_run_idles_gets_a_draft,
    a_reply_by_hand_removes_our_draft_while_tend_run_idles,
    stage_tags_set_in_the_client_are_found_in_inbox_and_sent,
);

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

/// The user deletes Drafts, our draft in it, and creates it anew (a new UIDVALIDITY, UIDs from
/// 1 again), then saves a draft of their own there: it may carry the UID ours had. When the
/// user then answers by hand, our removal must not take theirs.
fn a_recreated_drafts_folder_never_costs_the_user_a_draft(kind: Kind) {
    let w = World::new(kind);
    w.seed();
    w.once();
    let ours = w.drafts();
    assert_eq!(ours.len(), 1);
    let drafts = crate::support::imap::quote(&w.server.wire(&w.drafts_folder()));
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

fn a_message_delivered_while_tend_run_idles_gets_a_draft(kind: Kind) {
    delivered_while_idling(&World::new(kind));
}

pub fn delivered_while_idling(w: &World) {
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
