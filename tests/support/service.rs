//! `tend run` under test: a config directory with one file per mailbox (`Setup`), the running
//! binary with its log in a file and real signals (`Tend`), and the mail the service tests
//! exchange: our opener in Sent, the buyer's reply APPENDed over IMAP, the draft that answers it.
//! Every wait has a deadline and fails with tend's log.

use super::dovecot::Dovecot;
use super::llm::{FakeLlm, Reply};
use chrono::{Duration, Utc};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Instant;

pub const BODY: &str = "Thanks Bob, the 50-seat plan is [price] a year.";
/// Long enough that no draft in these tests can come from a timed poll.
pub const NO_POLL: &str = "poll_interval_seconds = 3600\n";

pub fn instant_model() -> FakeLlm {
    FakeLlm::start(|_| Reply::Content(answer()))
}

pub fn answer() -> String {
    serde_json::json!({"needs_reply": true, "reason": "asks for a price", "body": BODY}).to_string()
}

/// A config directory for `tend run`: tend.toml plus one file per mailbox.
pub struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    pub fn new(llm: &FakeLlm, extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("mailboxes")).unwrap();
        let setup = Setup { dir };
        setup.tend_toml(llm, extra);
        setup
    }

    pub fn tend_toml(&self, llm: &FakeLlm, extra: &str) {
        let text = format!(
            "state_dir = \"state\"\n{extra}[llm]\nbase_url = \"{}\"\nmodel = \"m\"\n",
            llm.base_url()
        );
        std::fs::write(self.config(), text).unwrap();
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("tend.toml")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// mailboxes/USER.toml for USER@acme.test, logging in with `password` on `port`.
    pub fn mailbox(&self, user: &str, password: &str, port: u16, imap_extra: &str) {
        let pw = self.path(&format!("mailboxes/{user}.password"));
        std::fs::write(&pw, format!("{password}\n")).unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        let text = format!(
            "addresses = [\"{user}@acme.test\"]\ntimezone = \"UTC\"\n[imap]\nhost = \"127.0.0.1\"\n\
             port = {port}\nsecurity = \"plain\"\nusername = \"{user}\"\n\
             password_file = \"{user}.password\"\n{imap_extra}"
        );
        std::fs::write(self.path(&format!("mailboxes/{user}.toml")), text).unwrap();
    }
}

/// A running `tend run`, its stderr in a file; killed on drop.
pub struct Tend {
    child: Child,
    log: PathBuf,
    _logdir: tempfile::TempDir,
}

impl Tend {
    pub fn start(config: &Path) -> Tend {
        Tend::start_env(config, &[("RUST_LOG", "info,tend=debug")])
    }

    pub fn start_env(config: &Path, env: &[(&str, &str)]) -> Tend {
        let logdir = tempfile::tempdir().unwrap();
        let log = logdir.path().join("tend.log");
        let child = Command::new(env!("CARGO_BIN_EXE_tend"))
            .arg("--config")
            .arg(config)
            .arg("run")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Tend {
            child,
            log,
            _logdir: logdir,
        }
    }

    /// Starts `tend run` and waits until it idles on INBOX.
    pub fn idling(config: &Path) -> Tend {
        let mut tend = Tend::start(config);
        tend.wait_log("waiting on IDLE", 1, 20);
        tend
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `needle` at least `times` times.
    pub fn wait_log(&mut self, needle: &str, times: usize, secs: u64) {
        self.wait(&format!("{times} x {needle:?} in the log"), secs, |t| {
            t.log().matches(needle).count() >= times
        });
    }

    pub fn wait(&mut self, what: &str, secs: u64, mut done: impl FnMut(&Tend) -> bool) {
        let start = Instant::now();
        while !done(self) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("tend exited ({status}) waiting for {what}\n{}", self.log());
            }
            if start.elapsed().as_secs() >= secs {
                panic!("no {what} within {secs} s\n--- tend log\n{}", self.log());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// SIGTERM, then the exit status and how long the exit took.
    pub fn stop(&mut self) -> (ExitStatus, std::time::Duration) {
        self.signal("TERM");
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, start.elapsed());
            }
            assert!(
                start.elapsed().as_secs() < 30,
                "tend ignores SIGTERM\n{}",
                self.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Tend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Dovecot where alice (password "pw") wrote to buyers 1 and 2 yesterday, and a config for
/// the model, without mailbox files yet.
pub fn alice_world(llm: &FakeLlm) -> (Dovecot, Setup) {
    let d = Dovecot::start();
    d.add_user("alice", "pw");
    opener(&d, "alice", 1);
    opener(&d, "alice", 2);
    (d, Setup::new(llm, NO_POLL))
}

/// Our opening message to a buyer, in Sent since yesterday.
pub fn opener(d: &Dovecot, user: &str, n: u32) {
    let raw = format!(
        "Message-ID: <open{n}.{user}@acme.test>\r\nDate: {}\r\nFrom: {user}@acme.test\r\n\
         To: Bob Buyer <bob{n}@buyer.test>\r\nSubject: Acme for Buyer {n}\r\n\r\nHi Bob, meet Acme.\r\n",
        (Utc::now() - Duration::days(1)).to_rfc2822()
    );
    d.put(user, "Sent", raw.as_bytes(), "S");
}

/// The buyer's answer to `opener`, asking a question, delivered now over IMAP.
pub fn reply(d: &Dovecot, user: &str, password: &str, n: u32) {
    let raw = format!(
        "Message-ID: <reply{n}.{user}@buyer.test>\r\nDate: {}\r\nFrom: Bob Buyer <bob{n}@buyer.test>\r\n\
         To: {user}@acme.test\r\nSubject: Re: Acme for Buyer {n}\r\nIn-Reply-To: <open{n}.{user}@acme.test>\r\n\
         References: <open{n}.{user}@acme.test>\r\n\r\nWhat does the 50-seat plan cost?\r\n",
        Utc::now().to_rfc2822()
    );
    d.append(user, password, "INBOX", raw.as_bytes());
}

/// Drafts answering buyer reply `n`.
pub fn drafts_for(d: &Dovecot, user: &str, n: u32) -> usize {
    let parent = format!("<reply{n}.{user}@buyer.test>");
    d.messages(user, "Drafts")
        .iter()
        .filter(|m| String::from_utf8_lossy(&m.raw).contains(&parent))
        .count()
}

pub fn wait_draft(
    tend: &mut Tend,
    d: &Dovecot,
    user: &str,
    n: u32,
    secs: u64,
) -> std::time::Duration {
    let start = Instant::now();
    tend.wait(&format!("draft for {user}'s reply {n}"), secs, |_| {
        drafts_for(d, user, n) > 0
    });
    start.elapsed()
}
