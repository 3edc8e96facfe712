//! End to end, the relationship's memory: the real `tend` binary against a real Dovecot and a
//! local model server. A buyer's earlier threads reach the model as a summary, the knowledge
//! file reaches it whole, and another company's words (their messages, and their text quoted
//! under our own replies) never reach a prompt for this buyer's draft.

mod support;

use chrono::{DateTime, Duration, Utc};
use std::os::unix::fs::PermissionsExt;
use support::dovecot::Dovecot;
use support::llm::{FakeLlm, Reply};

const BODY: &str = "Hi,\n\nthanks, the elbows are [price] each.";

// A test message is exactly these headers; a builder would only hide them.
#[allow(clippy::too_many_arguments)]
fn mail(
    id: &str,
    from: &str,
    to: &str,
    cc: &str,
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
    if !cc.is_empty() {
        h.push_str(&format!("Cc: {cc}\r\n"));
    }
    if let Some(p) = parent {
        h.push_str(&format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"));
    }
    format!("{h}\r\n{body}\r\n")
}

/// The user message of the one request whose thread holds `needle`.
fn prompt_with(llm: &FakeLlm, needle: &str) -> (String, String) {
    let reqs = llm.requests();
    let found: Vec<_> = reqs
        .iter()
        .filter_map(|r| {
            let msgs = r["messages"].as_array()?;
            let user = msgs.iter().find(|m| m["role"] == "user")?["content"].as_str()?;
            let system = msgs.iter().find(|m| m["role"] == "system")?["content"].as_str()?;
            let thread = &user[user.find("<thread>")?..];
            thread
                .contains(needle)
                .then(|| (system.to_string(), user.to_string()))
        })
        .collect();
    assert_eq!(found.len(), 1, "one request drafting for {needle:?}");
    found.into_iter().next().unwrap()
}

#[test]
fn related_threads_reach_the_model_and_another_companys_canary_does_not() {
    let dovecot = Dovecot::start();
    dovecot.add_user("alice", "s3cret pass");
    let llm = FakeLlm::start(|_| {
        Reply::Content(
            serde_json::json!({"needs_reply": true, "reason": "asks", "body": BODY}).to_string(),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("mailboxes")).unwrap();
    std::fs::write(
        d.join("offer.txt"),
        "PVC elbows 32 mm: EUR 1.20 each, from 100 pieces.\n",
    )
    .unwrap();
    std::fs::write(
        d.join("tend.toml"),
        format!(
            "state_dir = \"state\"\nknowledge_file = \"offer.txt\"\n[llm]\nbase_url = \"{}\"\n\
             model = \"test-model\"\n",
            llm.base_url()
        ),
    )
    .unwrap();
    let pw = d.join("mailboxes/alice.password");
    std::fs::write(&pw, "s3cret pass\n").unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        d.join("mailboxes/alice.toml"),
        format!(
            "addresses = [\"alice@acme.test\"]\ninternal_domains = [\"acme.test\"]\n\
             timezone = \"UTC\"\n[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\n\
             username = \"alice\"\npassword_file = \"alice.password\"\n",
            dovecot.port()
        ),
    )
    .unwrap();
    let now = Utc::now();
    let inbox = |raw: String| dovecot.put("alice", "INBOX", raw.as_bytes(), "");
    let sent = |raw: String| dovecot.put("alice", "Sent", raw.as_bytes(), "S");
    // Buyer Corp, earlier: Carl asked for clamps, we quoted, he ordered.
    inbox(mail(
        "clamps1@buyer.test",
        "Carl <carl@buyer.test>",
        "alice@acme.test",
        "",
        "Hose clamps",
        now - Duration::days(6),
        None,
        "Please quote 500 hose clamps.",
    ));
    sent(mail(
        "clamps2@acme.test",
        "Alice <alice@acme.test>",
        "carl@buyer.test",
        "",
        "Re: Hose clamps",
        now - Duration::days(5),
        Some("clamps1@buyer.test"),
        "Our quote: EUR 0.40 per clamp, delivery in 5 days.\r\n\r\n> Please quote 500 hose clamps.",
    ));
    inbox(mail(
        "clamps3@buyer.test",
        "Carl <carl@buyer.test>",
        "alice@acme.test",
        "",
        "Re: Hose clamps",
        now - Duration::days(4),
        Some("clamps2@acme.test"),
        "We order the 500 clamps as quoted.",
    ));
    // Other Ltd, another customer: Olga's own thread, our answer quoting her.
    inbox(mail(
        "olga1@other.test",
        "Olga <olga@other.test>",
        "alice@acme.test",
        "",
        "Gaskets",
        now - Duration::days(3),
        None,
        "CANARY-OLGA-1: we pay EUR 3 less at your competitor.",
    ));
    sent(mail(
        "olga2@acme.test",
        "Alice <alice@acme.test>",
        "olga@other.test",
        "",
        "Re: Gaskets",
        now - Duration::days(3) + Duration::hours(2),
        Some("olga1@other.test"),
        "CANARY-OURS-TO-OLGA: for you EUR 2.10.\r\n\r\n> CANARY-OLGA-QUOTED: we pay EUR 3 less.",
    ));
    // A thread where both companies were copied: our note to Bob and Olga, Olga answers us.
    sent(mail(
        "both1@acme.test",
        "Alice <alice@acme.test>",
        "bob@buyer.test",
        "olga@other.test",
        "Joint delivery",
        now - Duration::days(2),
        None,
        "Both your orders can go on one truck on Friday.",
    ));
    inbox(mail(
        "both2@other.test",
        "Olga <olga@other.test>",
        "alice@acme.test",
        "",
        "Re: Joint delivery",
        now - Duration::days(2) + Duration::hours(1),
        Some("both1@acme.test"),
        "CANARY-OLGA-2: our dock closes at noon.",
    ));
    // Today: Bob at Buyer Corp asks, in a thread of its own.
    inbox(mail(
        "pvc1@buyer.test",
        "Bob <bob@buyer.test>",
        "alice@acme.test",
        "",
        "PVC elbows",
        now - Duration::hours(1),
        None,
        "Could you quote 200 PVC elbows, 32 mm?",
    ));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(d.join("tend.toml"))
        .arg("once")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "tend once failed");

    let (system, user) = prompt_with(&llm, "Could you quote 200 PVC elbows");
    eprintln!(
        "prompt for Bob: {} characters (system {}, user {})",
        system.chars().count() + user.chars().count(),
        system.chars().count(),
        user.chars().count()
    );
    eprintln!("{user}");
    let related =
        &user[user.find("<related>").expect("a related block")..user.find("</related>").unwrap()];
    assert!(related.contains("\"Hose clamps\""), "{related}");
    assert!(related.contains("We order the 500 clamps as quoted."));
    assert!(related.contains("EUR 0.40 per clamp"));
    assert!(related.contains("\"Joint delivery\"") && related.contains("one truck on Friday"));
    assert!(
        user.contains("PVC elbows 32 mm: EUR 1.20 each"),
        "the knowledge file"
    );
    let all = format!("{system}\n{user}");
    // Olga's words never reach Bob's prompt, nor what our mail to her quoted. Our own words to
    // her may, as a style example of the user's voice, masked (names and figures replaced).
    assert!(!all.contains("CANARY-OLGA"), "{all}");
    assert!(
        !all.contains("OLGA"),
        "her name, even inside our words: {all}"
    );
    assert!(
        !all.contains("Gaskets") && !all.contains("EUR 2.10"),
        "{all}"
    );

    // Olga's draft, the other way round, knows nothing of Buyer Corp's words.
    let (system, user) = prompt_with(&llm, "CANARY-OLGA-2");
    let all = format!("{system}\n{user}");
    assert!(
        !all.contains("Could you quote 200") && !all.contains("We order the 500"),
        "{all}"
    );
    assert!(all.contains("CANARY-OLGA-1"), "her own other thread: {all}");
}
