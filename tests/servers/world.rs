//! One test's world: a server (`Kind`) holding alice, a local model server, a config
//! directory pointing at both, the real `tend` binary run on it; and the mail the cases put.

use crate::support::cyrus::{Cyrus, Flavour};
use crate::support::dovecot::Dovecot;
use crate::support::imap::Message;
use crate::support::llm::{FakeLlm, Reply};
pub use crate::support::mail::{business_days_ago, mail};
use crate::support::server::MailServer;
use chrono::{DateTime, Duration, Utc};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;

pub const BODY: &str =
    "Hi Bob,\n\nThanks for asking. The 50-seat plan is [price]; I can send the order form today.";
pub const USER: &str = "alice";
pub const PASSWORD: &str = "s3cret pass";

#[derive(Clone, Copy)]
pub enum Kind {
    Dovecot,
    CyrusSlash,
    CyrusDot,
}

/// A server with user alice, a model server, and a config directory pointing at both.
pub struct World {
    pub server: Box<dyn MailServer>,
    pub llm: FakeLlm,
    pub dir: tempfile::TempDir,
    /// alice's Drafts and Sent, as a client reads their names.
    pub drafts: String,
    pub sent: String,
}

impl World {
    pub fn new(kind: Kind) -> World {
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
    pub fn around(server: Box<dyn MailServer>, drafts: String, sent: String) -> World {
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

    pub fn write_config(&self, top: &str) {
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

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("tend.toml")
    }

    pub fn tend_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        crate::support::run::tend(&self.config(), args, env, &self.server.name())
    }

    pub fn tend(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.tend_env(args, &[]).stdout).into_owned()
    }

    pub fn once(&self) {
        let out = self.tend_env(&["once"], &[]);
        assert!(
            out.status.success(),
            "tend once failed on {}\n--- server log\n{}",
            self.server.name(),
            self.server.log()
        );
    }

    pub fn drafts_folder(&self) -> String {
        self.drafts.clone()
    }

    pub fn sent_folder(&self) -> String {
        self.sent.clone()
    }

    pub fn folder(&self, folder: &str) -> Vec<Message> {
        self.server.messages(USER, folder)
    }

    pub fn drafts(&self) -> Vec<Message> {
        self.folder(&self.drafts_folder())
    }

    pub fn inbox(&self, raw: &str) {
        self.server.put(USER, "INBOX", raw.as_bytes(), "");
    }

    pub fn sent(&self, raw: &str) {
        self.server
            .put(USER, &self.sent_folder(), raw.as_bytes(), "\\Seen");
    }

    /// Our intro in Sent three days ago, Bob's question in INBOX five hours ago.
    pub fn seed(&self) {
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

pub fn question(id: &str, parent: &str, at: DateTime<Utc>) -> String {
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

pub fn answer_by_hand(id: &str, parent: &str) -> String {
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

/// The drafts in `drafts` answering `parent`.
pub fn answering<'a>(drafts: &'a [Message], parent: &str) -> Vec<&'a Message> {
    let needle = format!("In-Reply-To: <{parent}>");
    drafts
        .iter()
        .filter(|d| d.text().contains(&needle))
        .collect()
}
