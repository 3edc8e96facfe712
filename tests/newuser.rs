//! What a new user ran into (issue 11, item 7), with the real `tend` binary and a real Dovecot:
//! a mailboxes folder with no mailbox file, a wrong password, a self-signed server, a port and
//! security that do not match, output piped into `head`. Each test is named after what the
//! user now reads instead of what they read before.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};
use support::dovecot::Dovecot;
use support::llm::{FakeLlm, Reply};

const BODY: &str = "Hi Bob,\n\nThe 50-seat plan is [price]; I can send the order form today.";

/// A config directory with a tend.toml (its model at `llm`) and, when `imap` is given, the
/// mailbox file alice.toml with that `[imap]` table and alice's password.
fn config(dir: &Path, llm: &str, imap: Option<&str>, password: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("mailboxes")).unwrap();
    let tend = dir.join("tend.toml");
    std::fs::write(
        &tend,
        format!("state_dir = \"state\"\n[llm]\nbase_url = \"{llm}\"\nmodel = \"test-model\"\n"),
    )
    .unwrap();
    if let Some(imap) = imap {
        let pw = dir.join("mailboxes/alice.password");
        std::fs::write(&pw, format!("{password}\n")).unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(
            dir.join("mailboxes/alice.toml"),
            format!(
                "addresses = [\"alice@acme.test\"]\ntimezone = \"UTC\"\n[imap]\n\
                 username = \"alice\"\npassword_file = \"alice.password\"\ntimeout_seconds = 30\n{imap}"
            ),
        )
        .unwrap();
    }
    tend
}

fn tend(config: &Path, args: &[&str]) -> Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(config)
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
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A Dovecot with alice, a model server that answers, and alice.toml with this `[imap]` table
/// (`{port}`, `{tls_port}` and `{ca_file}` filled in).
struct World {
    dovecot: Dovecot,
    _llm: FakeLlm,
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl World {
    fn new(imap: &str, password: &str) -> World {
        let dovecot = Dovecot::start();
        dovecot.add_user("alice", "s3cret pass");
        let llm = FakeLlm::start(|_| {
            Reply::Content(
                serde_json::json!({"needs_reply": true, "reason": "asks for a price", "body": BODY})
                    .to_string(),
            )
        });
        let dir = tempfile::tempdir().unwrap();
        let imap = imap
            .replace("{port}", &dovecot.port().to_string())
            .replace("{tls_port}", &dovecot.tls_port().to_string())
            .replace("{ca_file}", &format!("{:?}", dovecot.ca_file()));
        let config = config(dir.path(), &llm.base_url(), Some(&imap), password);
        World {
            dovecot,
            _llm: llm,
            dir,
            config,
        }
    }
}

#[test]
fn an_empty_mailboxes_folder_is_a_config_error_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let tend_toml = config(dir.path(), "http://127.0.0.1:1/v1", None, "");
    std::fs::write(dir.path().join("mailboxes/alice.conf"), "x").unwrap();
    std::fs::write(dir.path().join("mailboxes/example.toml.sample"), "x").unwrap();
    for args in [&["check"][..], &["run"], &["once"], &["sync"], &["status"]] {
        let out = tend(&tend_toml, args);
        assert_eq!(out.status.code(), Some(78), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("mailboxes: no mailbox file (NAME.toml)"),
            "{err}"
        );
        assert!(err.contains("ignored alice.conf"), "{err}");
        assert!(err.contains("example.toml.sample is an example"), "{err}");
    }
}

#[test]
fn a_wrong_password_is_refused_in_the_servers_words_with_what_to_do() {
    let w = World::new(
        "host = \"127.0.0.1\"\nport = {port}\nsecurity = \"plain\"\n",
        "wrong",
    );
    for command in ["check", "once", "sync"] {
        let out = tend(&w.config, &[command]);
        assert!(!out.status.success());
        let said = text(&out);
        assert!(
            said.contains(
                "login refused by 127.0.0.1 for \"alice\": [AUTHENTICATIONFAILED] Authentication \
                 failed. Check the password (password_file "
            ),
            "{command}: {said}"
        );
        assert!(said.contains("app password"), "{said}");
        assert!(
            !said.contains("code: None") && !said.contains("info: Some"),
            "{said}"
        );
    }
}

#[test]
fn a_self_signed_server_names_ca_file() {
    let w = World::new(
        "host = \"127.0.0.1\"\nport = {tls_port}\nsecurity = \"tls\"\n",
        "s3cret pass",
    );
    let out = tend(&w.config, &["check"]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("is not signed by a known authority") && said.contains("set [imap] ca_file"),
        "{said}"
    );
    assert!(!said.contains("UnknownIssuer"), "{said}");
}

#[test]
fn tls_to_a_plain_port_says_the_port_does_not_speak_tls() {
    let w = World::new(
        "host = \"127.0.0.1\"\nport = {port}\nsecurity = \"tls\"\nca_file = {ca_file}\n",
        "s3cret pass",
    );
    let out = tend(&w.config, &["check"]);
    assert!(!out.status.success());
    let said = text(&out);
    let port = w.dovecot.port();
    assert!(
        said.contains(&format!("port {port} does not speak TLS"))
            && said.contains("security = \"starttls\""),
        "{said}"
    );
    assert!(!said.contains("corrupt message"), "{said}");
}

#[test]
fn plain_to_a_tls_port_says_security_tls_quickly() {
    let w = World::new(
        "host = \"127.0.0.1\"\nport = {tls_port}\nsecurity = \"plain\"\nca_file = {ca_file}\n",
        "s3cret pass",
    );
    let start = Instant::now();
    let out = tend(&w.config, &["check"]);
    let took = start.elapsed();
    assert!(!out.status.success());
    let said = text(&out);
    let port = w.dovecot.tls_port();
    assert!(
        said.contains(&format!("port {port} expects TLS")) && said.contains("security = \"tls\""),
        "{said}"
    );
    // The timeout is 30 s: the answer comes well before it.
    assert!(took < Duration::from_secs(15), "took {took:?}");
    drop(w.dir);
}

/// Runs tend with its stdout a pipe whose reader is already gone, as `tend status | head -c 10`
/// leaves it once head has had enough.
fn tend_into_a_closed_pipe(config: &Path, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let imap = "host = \"127.0.0.1\"\nport = 1\nsecurity = \"plain\"\n";
    let tend_toml = config(dir.path(), "http://127.0.0.1:1/v1", Some(imap), "pw");
    let out = tend_into_a_closed_pipe(&tend_toml, &["status"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(0), "{err}");
    // A command that fails still fails for its own reason, not the pipe's.
    let out = tend_into_a_closed_pipe(&tend_toml, &["check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
}

/// A buyer's question with a subject of its own, in alice's INBOX, `hours` old.
fn question(w: &World, id: &str, subject: &str, hours: i64) {
    let date = chrono::Utc::now() - chrono::Duration::hours(hours);
    let raw = format!(
        "Message-ID: <{id}>\r\nDate: {}\r\nFrom: Bob Buyer <bob@buyer.test>\r\nTo: \
         alice@acme.test\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; \
         charset=utf-8\r\n\r\nHello Alice, what does the 50-seat plan cost per year?\r\n",
        date.to_rfc2822()
    );
    w.dovecot.put("alice", "INBOX", raw.as_bytes(), "");
}

/// The thread `explain` printed: its "thread <id>" line.
fn explained_thread(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("alice: thread <"))
        .unwrap_or_else(|| panic!("no thread line in {text}"));
    line.to_string()
}

#[test]
fn explain_takes_a_status_number_a_subject_or_a_drafts_message_id() {
    let w = World::new(
        "host = \"127.0.0.1\"\nport = {port}\nsecurity = \"plain\"\n",
        "s3cret pass",
    );
    question(&w, "q1@buyer.test", "Pricing for 50 seats", 5);
    question(&w, "q2@buyer.test", "Delivery dates for the pilot", 3);
    let once = tend(&w.config, &["once"]);
    assert!(once.status.success());
    let printed = String::from_utf8_lossy(&once.stdout).to_string();
    let draft_ids: Vec<&str> = printed
        .lines()
        .filter_map(|l| l.strip_prefix("Message-ID: <"))
        .map(|l| l.trim_end_matches('>'))
        .collect();
    assert_eq!(draft_ids.len(), 2, "{printed}");

    let status = tend(&w.config, &["status"]);
    let listed = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(
        listed.contains("  [1] * ") && listed.contains("  [2] * "),
        "{listed}"
    );
    assert!(listed.contains("tend explain N"), "{listed}");
    // Number 1 is the thread status lists first, whichever that is.
    let first = listed
        .lines()
        .find(|l| l.starts_with("  [1] "))
        .unwrap()
        .to_string();
    let by_number = explained_thread(&tend(&w.config, &["explain", "1"]));
    let first_id = if first.contains("Pricing") {
        "q1@buyer.test"
    } else {
        "q2@buyer.test"
    };
    let by_id = explained_thread(&tend(&w.config, &["explain", first_id]));
    assert_eq!(by_number, by_id);

    let pricing = explained_thread(&tend(&w.config, &["explain", "q1@buyer.test"]));
    let by_subject = explained_thread(&tend(&w.config, &["explain", "pricing FOR 50"]));
    assert_eq!(by_subject, pricing);
    // A draft's id, as `once` printed it, with its angle brackets.
    let mut by_draft = Vec::new();
    for id in &draft_ids {
        by_draft.push(explained_thread(&tend(
            &w.config,
            &["explain", &format!("<{id}>")],
        )));
    }
    assert!(by_draft.contains(&pricing), "{by_draft:?}");
    assert_ne!(by_draft[0], by_draft[1]);

    // Words in both subjects: the candidates, and a failure.
    question(&w, "q3@buyer.test", "Pricing for 80 seats", 2);
    assert!(tend(&w.config, &["sync"]).status.success());
    let both = tend(&w.config, &["explain", "pricing"]);
    assert!(!both.status.success());
    let err = String::from_utf8_lossy(&both.stderr);
    assert!(
        err.contains("\"Pricing for 50 seats\"") && err.contains("\"Pricing for 80 seats\""),
        "{err}"
    );
    // A number past the list is no thread: it goes on to people and companies.
    let none = tend(&w.config, &["explain", "99"]);
    assert!(!String::from_utf8_lossy(&none.stdout).contains("alice: thread <"));
}

/// The names in a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn another_users_store_is_not_written_by_sudo_tend() {
    let dir = tempfile::tempdir().unwrap();
    let imap = "host = \"127.0.0.1\"\nport = 1\nsecurity = \"plain\"\n";
    let tend_toml = config(dir.path(), "http://127.0.0.1:1/v1", Some(imap), "pw");
    // The service's store: its directory owned by the service's user, its snapshot inside.
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::write(
        state.join("status.txt"),
        "alice: 0 of 3 recent threads need attention\n",
    )
    .unwrap();
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        // Only root can give a directory to another user; the unit test of cli::owner
        // covers the refusal against "/" for everyone else.
        eprintln!("not root: skipped");
        return;
    }
    let service = 65534;
    std::os::unix::fs::chown(&state, Some(service), None).unwrap();
    let before = names(&state);
    let status = tend(&tend_toml, &["status"]);
    assert!(status.status.success());
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(
        shown.contains("the store is the service's; this is the status it wrote")
            && shown.contains("0 of 3 recent threads"),
        "{shown}"
    );
    for args in [&["once"][..], &["sync"], &["explain", "1"], &["voice"]] {
        let out = tend(&tend_toml, args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("belongs to uid {service}")), "{err}");
    }
    assert_eq!(
        names(&state),
        before,
        "nothing was created in the service's store"
    );
}

#[test]
fn check_says_in_one_line_per_problem_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: neither IMAP nor the model.
    let imap = "host = \"127.0.0.1\"\nport = 1\nsecurity = \"plain\"\n";
    let tend_toml = config(dir.path(), "http://127.0.0.1:1/v1", Some(imap), "pw");
    std::fs::write(
        dir.path().join("mailboxes/bob.toml"),
        "addresses = [\"bob@acme.test\"]\ntimezone = \"UTC\"\n[imap]\nhost = \
         \"tend-test.invalid\"\nusername = \"bob\"\npassword_file = \"alice.password\"\n",
    )
    .unwrap();
    let out = tend(&tend_toml, &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout);
    let fails: Vec<&str> = said.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(fails.len(), 3, "{said}");
    assert!(
        fails[0].starts_with("FAIL alice: ")
            && fails[0].contains("127.0.0.1:1 refused the connection: nothing listens on port 1"),
        "{said}"
    );
    assert!(
        fails[1].starts_with("FAIL bob: ")
            && fails[1].contains("the host \"tend-test.invalid\" was not found (DNS"),
        "{said}"
    );
    assert!(
        fails[2].contains("nothing answers at http://127.0.0.1:1/v1: start the model server"),
        "{said}"
    );
}

#[test]
fn a_missing_folder_is_named_with_what_the_server_has() {
    let w = World::new(
        "host = \"127.0.0.1\"\nport = {port}\nsecurity = \"plain\"\n[folders]\ndrafts = \
         \"Entwürfe\"\n",
        "s3cret pass",
    );
    let out = tend(&w.config, &["check"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    let line = said.lines().find(|l| l.starts_with("FAIL alice")).unwrap();
    assert!(
        line.contains("\"Entwürfe\" ([folders] in the mailbox file) does not exist")
            && line.contains("Drafts")
            && line.contains("INBOX"),
        "{said}"
    );
}

#[test]
fn explain_while_the_service_runs_says_what_to_do() {
    let w = World::new(
        "host = \"127.0.0.1\"\nport = {port}\nsecurity = \"plain\"\n",
        "s3cret pass",
    );
    question(&w, "q1@buyer.test", "Pricing for 50 seats", 5);
    let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(&w.config)
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let snapshot = w.dir.path().join("state/status.txt");
    let start = Instant::now();
    // The first snapshot comes before the first pass: wait for the thread in it.
    let listed = || std::fs::read_to_string(&snapshot).is_ok_and(|t| t.contains("[1] * "));
    while !listed() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let explain = tend(&w.config, &["explain", "1"]);
    let status = tend(&w.config, &["status"]);
    run.kill().unwrap();
    run.wait().unwrap();
    assert!(listed(), "tend run listed no thread");
    assert!(!explain.status.success());
    let err = String::from_utf8_lossy(&explain.stderr);
    assert!(
        err.contains("a running `tend run` holds the store") && err.contains("systemctl stop tend"),
        "{err}"
    );
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(
        shown.contains("tend run is active") && shown.contains("[1] * \"Pricing"),
        "{shown}"
    );
}
