//! tend under test behind the fault-injecting proxy (`tests/faults.rs`): Dovecot with alice, the
//! model, a config reaching Dovecot through the proxy, buyers' questions to put or deliver,
//! `tend once`, and the drafts counted by Message-ID and by the message they answer.

use super::dovecot::Dovecot;
use super::llm::FakeLlm;
use super::proxy::Proxy;
use super::service::{instant_model, Setup, NO_POLL};
use chrono::{Duration, Utc};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Output;

/// Dovecot with alice, the model, and tend configured to reach Dovecot through the proxy.
pub struct World {
    pub dovecot: Dovecot,
    pub llm: FakeLlm,
    pub proxy: Proxy,
    pub setup: Setup,
    /// Message-IDs of the buyer messages put so far, each waiting for one draft.
    pub asked: Vec<String>,
}

impl World {
    pub fn new() -> World {
        World::with_folders("")
    }

    /// `folders`: lines for the mailbox file's `[folders]` table.
    pub fn with_folders(folders: &str) -> World {
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
    pub fn question(&mut self, n: usize) {
        let raw = self.question_text(n);
        self.dovecot.put("alice", "INBOX", raw.as_bytes(), "");
    }

    /// The same, delivered over IMAP: a `tend run` idling on INBOX hears of it.
    pub fn deliver_question(&mut self, n: usize) {
        let raw = self.question_text(n);
        self.dovecot.append("alice", "pw", "INBOX", raw.as_bytes());
    }

    pub fn question_text(&mut self, n: usize) -> String {
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

    pub fn once(&self) -> Output {
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
    pub fn drafts_in(&self, folder: &str) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
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
    pub fn assert_each_drafted_once_in(&self, folder: &str) {
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

    pub fn assert_each_drafted_once(&self) {
        self.assert_each_drafted_once_in("Drafts");
    }

    pub fn drafts(&self) -> usize {
        self.dovecot.messages("alice", "Drafts").len()
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sends one command to Dovecot directly, as another mail client would.
pub fn imap(dovecot: &Dovecot, command: &str) {
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
