//! The user's voice end to end: the real `tend` binary, a real Dovecot and the local model
//! server. Alice configures no signature; her Sent mail carries one after a "-- " line, in
//! German and English, one of them to another company with a canary in it. `tend voice` shows
//! what was learned, and the draft for a German buyer carries the learned signature while the
//! model is told the language and sees the other company's example masked.

mod support;

use chrono::{Duration, Utc};
use std::os::unix::fs::PermissionsExt;
use std::process::Output;
use support::dovecot::Dovecot;
use support::llm::{FakeLlm, Reply};

const SIGNATURE: &str = "Alice Seller\nAcme Analytics, Berlin";

struct World {
    dovecot: Dovecot,
    llm: FakeLlm,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let dovecot = Dovecot::start();
        dovecot.add_user("alice", "pw");
        let llm = FakeLlm::start(|_| {
            Reply::Content(
                serde_json::json!({"needs_reply": true, "reason": "asks for an offer",
                    "body": "Hallo Bob,\n\ngern, das Angebot kommt heute.\n\nViele Grüße"})
                .to_string(),
            )
        });
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("mailboxes")).unwrap();
        std::fs::write(
            d.join("tend.toml"),
            format!(
                "state_dir = \"state\"\n[llm]\nbase_url = \"{}\"\nmodel = \"test-model\"\n",
                llm.base_url()
            ),
        )
        .unwrap();
        let pw = d.join("mailboxes/alice.password");
        std::fs::write(&pw, "pw\n").unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        // No `signature`: the learned one is the draft's.
        std::fs::write(
            d.join("mailboxes/alice.toml"),
            format!(
                "addresses = [\"alice@acme.test\", \"sales@acme.test\"]\n\
                 internal_domains = [\"acme.test\"]\ntimezone = \"UTC\"\n[imap]\n\
                 host = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\nusername = \"alice\"\n\
                 password_file = \"alice.password\"\n",
                dovecot.port()
            ),
        )
        .unwrap();
        World { dovecot, llm, dir }
    }

    fn tend(&self, args: &[&str]) -> Output {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
            .arg("--config")
            .arg(self.dir.path().join("tend.toml"))
            .args(args)
            .env("RUST_LOG", "info")
            .output()
            .unwrap();
        eprintln!(
            "tend {args:?} -> {}\n--- stdout\n{}--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "tend {args:?} failed");
        out
    }

    fn put(&self, folder: &str, id: &str, from: &str, to: &str, hours_ago: i64, body: &str) {
        let raw = format!(
            "Message-ID: <{id}>\r\nDate: {}\r\nFrom: {from}\r\nTo: {to}\r\nSubject: Angebot {id}\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
            (Utc::now() - Duration::hours(hours_ago)).to_rfc2822(),
            body.replace('\n', "\r\n")
        );
        let flags = if folder == "Sent" { "S" } else { "" };
        self.dovecot.put("alice", folder, raw.as_bytes(), flags);
    }
}

#[test]
fn tend_voice_shows_the_learned_signature_and_a_draft_carries_it() {
    let w = World::new();
    let signed = |text: &str| format!("{text}\n\n-- \n{SIGNATURE}");
    w.put(
        "Sent",
        "s1@acme.test",
        "Alice Seller <alice@acme.test>",
        "Zebulon Quist <zebulon.quist@quistcorp.test>",
        20,
        &signed(
            "Hallo Zebulon,\n\ndie Lieferung geht am Montag raus, der Preis bleibt bei 4.711,00 EUR. \
             Rufen Sie mich unter +49 30 5550199 an.\n\nViele Grüße",
        ),
    );
    w.put(
        "Sent",
        "s2@acme.test",
        "Alice Seller <sales@acme.test>",
        "Dora <dora@kunde.test>",
        22,
        &signed("Hallo Dora,\n\nvielen Dank für Ihre Bestellung, die Ware ist schon unterwegs.\n\nViele Grüße"),
    );
    w.put(
        "Sent",
        "s3@acme.test",
        "Alice Seller <alice@acme.test>",
        "Erin <erin@client.test>",
        24,
        &signed(
            "Hi Erin,\n\nthanks for the order, the pallets leave our warehouse on Monday.\n\nBest,",
        ),
    );
    w.put(
        "INBOX",
        "q@buyer.test",
        "Bob Buyer <bob@buyer.test>",
        "alice@acme.test",
        5,
        "Guten Tag, können Sie uns bitte ein Angebot über zweihundert Rohre schicken? Danke!",
    );

    w.tend(&["once"]);
    let voice = String::from_utf8(w.tend(&["voice", "alice"]).stdout).unwrap();
    assert!(voice.contains("learned from 3 message(s)"), "{voice}");
    assert!(voice.contains("signature: learned from Sent"), "{voice}");
    assert!(
        voice.contains("  | Alice Seller\n  | Acme Analytics, Berlin\n"),
        "{voice}"
    );
    assert!(voice.contains("German: 2 message(s)"), "{voice}");
    assert!(
        voice.contains("\"Hallo <first name>,\" (2 of 2)"),
        "{voice}"
    );
    assert!(
        !voice.contains("Zebulon") && !voice.contains("5550199"),
        "{voice}"
    );
    let again = String::from_utf8(w.tend(&["voice", "--mailbox", "alice"]).stdout).unwrap();
    assert_eq!(again, voice, "nothing new in Sent: the same voice");

    let drafts = w.dovecot.messages("alice", "Drafts");
    assert_eq!(drafts.len(), 1, "one draft for the buyer");
    let text = tend::parse::parse(&drafts[0].raw).unwrap().text;
    assert!(
        text.contains(&format!("Viele Grüße\n\n-- \n{SIGNATURE}\n")),
        "the learned signature appended by code: {text}"
    );
    let reqs = w.llm.requests();
    assert_eq!(reqs.len(), 1);
    let prompt = reqs[0].to_string();
    assert!(prompt.contains("Write in German."), "{prompt}");
    assert!(prompt.contains("to another company"), "{prompt}");
    for canary in ["Zebulon", "Quist", "quistcorp", "5550199", "4.711"] {
        assert!(
            !prompt.contains(canary),
            "{canary} reached the prompt: {prompt}"
        );
    }
}
