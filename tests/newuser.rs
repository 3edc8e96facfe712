//! What a new user ran into (issue 11, item 7), with the real `tend` binary and a real Dovecot:
//! a mailboxes folder with no mailbox file, a wrong password, a self-signed server, a port and
//! security that do not match, output piped into `head`. Each test is named after what the
//! user now reads instead of what they read before.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};
use support::dovecot::Dovecot;
use support::llm::{FakeLlm, Reply};

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
        let llm = FakeLlm::start(|_| Reply::Content("{}".into()));
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
        assert!(err.contains("mailboxes: no mailbox file (NAME.toml)"), "{err}");
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
        assert!(!said.contains("code: None") && !said.contains("info: Some"), "{said}");
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
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
    // A command that fails still fails for its own reason, not the pipe's.
    let out = tend_into_a_closed_pipe(&tend_toml, &["check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
}
