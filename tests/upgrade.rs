//! An upgrade from a store written by the previous version of tend (the fixture in
//! `tests/fixtures/upgrade/`, made by this same test at that version with
//! `TEND_WRITE_UPGRADE_FIXTURE=1`): the draft ledger survives it, so no thread gets a second
//! draft, not even one whose draft the user deleted (only the ledger remembers that one).
//!
//! The mailbox is rebuilt from the same templates at each run, dated relative to now, so the
//! threads are always inside the drafting window; the state directory and the draft tend wrote
//! into Drafts are restored from the fixture.

mod support;

use chrono::{Duration, Utc};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use support::dovecot::Dovecot;
use support::llm::{FakeLlm, Reply};
use support::mail::mail;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upgrade");
const BODY: &str =
    "Hi,\n\nThanks for asking. The 50-seat plan is [price]; I can send the order form today.";

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
                serde_json::json!({"needs_reply": true, "reason": "asks for a price", "body": BODY})
                    .to_string(),
            )
        });
        let dir = tempfile::tempdir().unwrap();
        let w = World { dovecot, llm, dir };
        let d = w.dir.path();
        std::fs::create_dir_all(d.join("mailboxes")).unwrap();
        std::fs::write(
            d.join("tend.toml"),
            format!(
                "state_dir = \"state\"\npoll_interval_seconds = 3600\n[llm]\nbase_url = \"{}\"\nmodel = \"m\"\n",
                w.llm.base_url()
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
                 username = \"alice\"\npassword_file = \"alice.password\"\ntimeout_seconds = 10\n",
                w.dovecot.port()
            ),
        )
        .unwrap();
        w
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
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

    /// Two pricing threads, each our intro in Sent and a buyer's question in INBOX.
    fn seed(&self) {
        let now = Utc::now();
        for (n, buyer) in [(1, "bob"), (2, "carol")] {
            let intro = format!("intro{n}@acme.test");
            let subject = format!("Acme for {buyer}'s company");
            self.dovecot.put(
                "alice",
                "Sent",
                mail(
                    &intro,
                    "alice@acme.test",
                    &format!("{buyer}@buyer{n}.test"),
                    &subject,
                    now - Duration::days(3),
                    None,
                    "Hi, great to meet you.",
                )
                .as_bytes(),
                "S",
            );
            self.dovecot.put(
                "alice",
                "INBOX",
                mail(
                    &format!("q{n}@buyer{n}.test"),
                    &format!("{buyer} <{buyer}@buyer{n}.test>"),
                    "alice@acme.test",
                    &format!("Re: {subject}"),
                    now - Duration::hours(5),
                    Some(&intro),
                    "What does the 50-seat plan cost per year?",
                )
                .as_bytes(),
                "",
            );
        }
    }
}

fn tar(args: &[&str], dir: &Path) {
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(dir)
        .args(args)
        .status()
        .expect("tar");
    assert!(st.success(), "tar {args:?}");
}

/// Draft Message-ID (from the ledger) of each question, as the previous version recorded them.
fn ledger_ids(state: &Path) -> Vec<String> {
    let store = tend::store::Store::open(state, 0).unwrap();
    ["q1@buyer1.test", "q2@buyer2.test"]
        .iter()
        .map(|q| {
            let r = store
                .draft_for_trigger("alice", q)
                .unwrap()
                .unwrap_or_else(|| panic!("a ledger entry for {q}"));
            assert_eq!(r.state, tend::store::DraftState::Appended);
            let ids: Vec<String> = store
                .copies("alice")
                .unwrap()
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            ids.into_iter()
                .find(|id| store.draft(id).unwrap().is_some_and(|d| d.trigger == *q))
                .unwrap_or_else(|| panic!("a draft id for {q}"))
        })
        .collect()
}

/// At the previous version: run the real flow and save what the test restores.
fn write_fixture() {
    let w = World::new();
    w.seed();
    w.tend(&["once"]);
    let drafts = w.dovecot.messages("alice", "Drafts");
    assert_eq!(drafts.len(), 2, "one draft per thread");
    let ids = ledger_ids(&w.state());
    // The user deletes the second thread's draft: from now on only the ledger knows that
    // this question was drafted for.
    let second = drafts
        .iter()
        .find(|d| String::from_utf8_lossy(&d.raw).contains(&ids[1]))
        .expect("the second draft");
    w.dovecot.remove(&second.path);
    w.tend(&["once"]);
    let kept = w.dovecot.messages("alice", "Drafts");
    assert_eq!(kept.len(), 1);
    let out = Path::new(FIXTURE);
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(out.join("draft.eml"), &kept[0].raw).unwrap();
    std::fs::write(out.join("draft.flags"), &kept[0].flags).unwrap();
    std::fs::write(out.join("ledger-ids"), ids.join("\n")).unwrap();
    tar(
        &["-czf", out.join("state.tar.gz").to_str().unwrap(), "state"],
        w.dir.path(),
    );
}

#[test]
fn a_store_from_the_previous_version_keeps_its_ledger() {
    if std::env::var_os("TEND_WRITE_UPGRADE_FIXTURE").is_some() {
        write_fixture();
    }
    let fixture = Path::new(FIXTURE);
    let w = World::new();
    w.seed();
    let raw = std::fs::read(fixture.join("draft.eml")).unwrap();
    let flags = std::fs::read_to_string(fixture.join("draft.flags")).unwrap();
    w.dovecot.put("alice", "Drafts", &raw, flags.trim());
    tar(
        &[
            "-xzf",
            fixture.join("state.tar.gz").to_str().unwrap(),
            "--no-same-owner",
        ],
        w.dir.path(),
    );
    let ids: Vec<String> = std::fs::read_to_string(fixture.join("ledger-ids"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ids.len(), 2);

    let out = w.tend(&["once"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("older format"),
        "the migration says what it does"
    );

    let drafts = w.dovecot.messages("alice", "Drafts");
    assert_eq!(
        drafts.len(),
        1,
        "no duplicate draft, and none written again for the draft the user deleted"
    );
    assert!(String::from_utf8_lossy(&drafts[0].raw).contains(&ids[0]));
    assert!(
        w.llm.draft_requests().is_empty(),
        "both questions were dealt with before the upgrade: no model call"
    );
    let store = tend::store::Store::open(&w.state(), 0).unwrap();
    for (id, q) in ids.iter().zip(["q1@buyer1.test", "q2@buyer2.test"]) {
        let r = store.draft(id).unwrap().expect("the ledger entry survives");
        assert_eq!(r.trigger, q);
        assert_eq!(r.state, tend::store::DraftState::Appended);
    }
    assert_eq!(
        store.format_version().unwrap(),
        Some(4),
        "the store in the new format"
    );
    // The upgraded store still knows the threads (rebuilt from the mailbox).
    assert!(store.thread_of("q1@buyer1.test").unwrap().is_some());
}
