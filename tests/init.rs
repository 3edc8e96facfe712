//! `tend init` in a pseudo-terminal, answered as a person types, with the real binary, a real
//! Dovecot and the local model server: the first run writes the credential (never shown), the
//! commented files and checks them, and a separate `tend check` (given the credentials as the
//! unit's LoadCredential= gives them) agrees; a second run adds a file and touches nothing
//! else; a model that fails is shown in the server's words and asked again; a wrong password
//! fails the check in the server's words and keeps the file; without
//! a terminal nothing is asked or written; an OAuth2 mailbox gets its consent (device flow)
//! from init itself.

mod support;

use rexpect::process::WaitStatus;
use rexpect::reader::Options;
use rexpect::session::PtySession;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::dovecot::Dovecot;
use support::llm::{FakeLlm, Reply};
use support::oauth::TokenServer;

/// `tend init` on a terminal, and everything it printed so far.
struct Init {
    s: PtySession,
    seen: String,
}

impl Init {
    fn start(config: &Path) -> Init {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tend"));
        cmd.arg("--config")
            .arg(config)
            .arg("init")
            .env("TZ", "UTC")
            .env("TERM", "xterm")
            .env_remove("CREDENTIALS_DIRECTORY");
        let options = Options::new()
            .timeout_ms(Some(60_000))
            .strip_ansi_escape_codes(true);
        let s = rexpect::session::spawn_with_options(cmd, options).unwrap();
        Init {
            s,
            seen: String::new(),
        }
    }

    fn wait(&mut self, text: &str) -> String {
        let before = self.s.exp_string(text).unwrap_or_else(|e| {
            panic!("waiting for {text:?}: {e}\n--- seen so far:\n{}", self.seen)
        });
        self.seen.push_str(&before);
        self.seen.push_str(text);
        before
    }

    /// After the prompt is shown, as a person would: input typed before the terminal is in
    /// the prompt's mode would be echoed or flushed.
    fn answer(&mut self, prompt: &str, line: &str) {
        self.wait(prompt);
        std::thread::sleep(Duration::from_millis(300));
        self.s.send_line(line).unwrap();
    }

    /// The item `downs` below the default.
    fn pick(&mut self, prompt: &str, downs: usize) {
        self.wait(prompt);
        std::thread::sleep(Duration::from_millis(300));
        self.s.send(&"j".repeat(downs)).unwrap();
        self.s.send_line("").unwrap();
    }

    fn key(&mut self, prompt: &str, key: &str) {
        self.wait(prompt);
        std::thread::sleep(Duration::from_millis(300));
        self.s.send(key).unwrap();
        self.s.flush().unwrap();
    }

    /// Its exit status and all it printed.
    fn finish(mut self) -> (i32, String) {
        let rest = self
            .s
            .exp_eof()
            .unwrap_or_else(|e| panic!("{e}\n--- seen so far:\n{}", self.seen));
        self.seen.push_str(&rest);
        let code = match self.s.process().wait().unwrap() {
            WaitStatus::Exited(_, code) => code,
            other => panic!("{other:?}\n{}", self.seen),
        };
        eprintln!("--- tend init exited with {code}:\n{}", self.seen);
        (code, self.seen)
    }
}

fn model() -> FakeLlm {
    FakeLlm::start(|_| Reply::Content("OK".into()))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The answers for a password mailbox on the test Dovecot, up to the model's questions.
fn mailbox_answers(init: &mut Init, user: &str, dovecot: &Dovecot, password: &str) {
    init.answer("Your email address", &format!("{user}@acme.test"));
    init.answer("The mailbox's name", "");
    init.pick("Where is the mailbox?", 0);
    init.answer("The IMAP server's host name", "127.0.0.1");
    init.pick("Its security", 2);
    init.answer("Its port", &dovecot.port().to_string());
    init.answer("The IMAP user name", user);
    init.pick("How does tend log in?", 0);
    init.answer("The password (not shown)", password);
    init.answer("Your time zone", "");
}

/// What the package installs in `etc`: the shipped tend.toml, the example mailbox as a
/// sample, the empty credentials folder (mode 700).
fn package_install(etc: &Path) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    std::fs::create_dir_all(etc.join("mailboxes")).unwrap();
    std::fs::copy(shipped.join("tend.toml"), etc.join("tend.toml")).unwrap();
    std::fs::copy(
        shipped.join("mailboxes/example.toml"),
        etc.join("mailboxes/example.toml.sample"),
    )
    .unwrap();
    std::fs::create_dir(etc.join("credentials")).unwrap();
    std::fs::set_permissions(
        etc.join("credentials"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    etc.join("tend.toml")
}

/// The model: the local server, as "another OpenAI-compatible server", without a key.
fn model_answers(init: &mut Init, llm: &FakeLlm) {
    init.pick("Which model server writes the drafts?", 4);
    init.answer("The server's API root", &llm.base_url());
    init.answer("The model's name", "test-model");
    init.answer("Its API key, if it needs one", "");
    init.wait("ok   model test-model at");
}

/// `tend check` by hand, given the credentials as the unit's `LoadCredential=tend:DIR`
/// (and `tendctl`) gives them: each file of credentials/ as `tend_FILE`.
fn check_as_the_service_would(config: &Path) -> (bool, String) {
    let dir = config.parent().unwrap();
    let given = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(dir.join("credentials")).unwrap() {
        let e = e.unwrap();
        let to = given
            .path()
            .join(format!("tend_{}", e.file_name().to_string_lossy()));
        std::fs::copy(e.path(), to).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(config)
        .arg("check")
        .env("CREDENTIALS_DIRECTORY", given.path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn a_first_run_writes_a_working_mailbox_and_a_second_run_adds_one() {
    let dovecot = Dovecot::start();
    dovecot.add_user("alice", "s3cret pass");
    dovecot.add_user("bob", "bobs pass");
    let llm = model();
    let dir = tempfile::tempdir().unwrap();
    let config = package_install(&dir.path().join("etc"));

    let mut init = Init::start(&config);
    mailbox_answers(&mut init, "alice", &dovecot, "s3cret pass");
    model_answers(&mut init, &llm);
    let (code, said) = init.finish();
    assert!(said.contains("over the package's example"), "{said}");
    assert_eq!(code, 0, "{said}");
    assert!(!said.contains("s3cret"), "the password was shown: {said}");
    assert!(said.contains("ok   alice: login works"), "{said}");
    for step in [
        "sudo systemctl daemon-reload",
        "sudo systemctl enable --now tend",
        "journalctl -u tend",
        "tendctl once --dry-run",
    ] {
        assert!(said.contains(step), "{step}: {said}");
    }
    assert!(!llm.requests().is_empty(), "the model got the test request");
    let etc = dir.path().join("etc");
    let secret = etc.join("credentials/alice");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "s3cret pass\n");
    assert_eq!(mode(&secret), 0o600);
    assert_eq!(mode(&etc.join("credentials")), 0o700);
    let alice = etc.join("mailboxes/alice.toml");
    assert_eq!(mode(&alice), 0o644);
    let alice_text = std::fs::read_to_string(&alice).unwrap();
    assert!(
        alice_text.contains("password_credential = \"tend_alice\"")
            && !alice_text.contains("s3cret"),
        "{alice_text}"
    );
    let tend_text = std::fs::read_to_string(&config).unwrap();
    assert!(tend_text.contains(&format!("base_url = \"{}\"", llm.base_url())));
    let (ok, text) = check_as_the_service_would(&config);
    assert!(ok && text.contains("ok   alice: login works"), "{text}");

    // Again, for bob: the model is kept, alice's file and tend.toml are not touched.
    let asked = llm.requests().len();
    let mut init = Init::start(&config);
    mailbox_answers(&mut init, "bob", &dovecot, "bobs pass");
    init.key("Keep the model test-model at", "y");
    let (code, said) = init.finish();
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("ok   bob: login works"), "{said}");
    assert_eq!(std::fs::read_to_string(&alice).unwrap(), alice_text);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), tend_text);
    assert!(etc.join("mailboxes/bob.toml").is_file());
    assert_eq!(mode(&etc.join("credentials/bob")), 0o600);
    assert_eq!(llm.requests().len(), asked + 1, "the check asked the model");
    let (ok, text) = check_as_the_service_would(&config);
    assert!(ok && text.contains("(2 mailboxes)"), "{text}");

    // By hand, as alice's file says: its password_file line instead of the credential.
    let creds = etc.join("credentials");
    for (name, text) in [
        ("alice", &alice_text),
        (
            "bob",
            &std::fs::read_to_string(etc.join("mailboxes/bob.toml")).unwrap(),
        ),
    ] {
        let by_hand = format!("#   password_file = \"{}/{name}\"\n", creds.display());
        assert!(text.contains(&by_hand), "{text}");
        let edited = text.replace(&by_hand, "").replace(
            &format!("password_credential = \"tend_{name}\""),
            by_hand.trim_start_matches("#   "),
        );
        std::fs::write(etc.join(format!("mailboxes/{name}.toml")), edited).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(&config)
        .arg("check")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("ok   alice: login works"),
        "{text}"
    );
}

/// A tend.toml of the test's: the model at `llm`, the store in `state/`.
fn tend_toml(dir: &Path, llm: &FakeLlm) -> PathBuf {
    let config = dir.join("tend.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = \"state\"\n[llm]\nbase_url = \"{}\"\nmodel = \"test-model\"\n",
            llm.base_url()
        ),
    )
    .unwrap();
    config
}

#[test]
fn a_model_that_fails_is_asked_again_and_a_wrong_password_fails_the_check_keeping_the_file() {
    let dovecot = Dovecot::start();
    dovecot.add_user("alice", "s3cret pass");
    // The model is not loaded yet at the first request: init shows the server's words and
    // asks again when told to.
    let asked = std::sync::atomic::AtomicUsize::new(0);
    let llm = FakeLlm::start(move |_| {
        if asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            let words = r#"{"error": {"message": "model 'test-model' is still loading"}}"#;
            Reply::Status(404, words.into())
        } else {
            Reply::Content("OK".into())
        }
    });
    let dir = tempfile::tempdir().unwrap();
    // No tend.toml at all: init writes one.
    let config = dir.path().join("tend.toml");
    let mut init = Init::start(&config);
    mailbox_answers(&mut init, "alice", &dovecot, "wrong");
    init.pick("Which model server writes the drafts?", 4);
    init.answer("The server's API root", &llm.base_url());
    init.answer("The model's name", "test-model");
    init.answer("Its API key, if it needs one", "");
    let failed = init.wait("The model did not answer. What now?");
    assert!(
        failed.contains("FAIL model server") && failed.contains("is still loading"),
        "{failed}"
    );
    init.pick("", 0);
    init.wait("ok   model test-model at");
    let (code, said) = init.finish();
    assert_eq!(code, 1, "{said}");
    assert!(config.is_file(), "{said}");
    let fail = said
        .lines()
        .find(|l| l.starts_with("FAIL alice: "))
        .unwrap_or("");
    assert!(
        fail.contains("login refused by 127.0.0.1 for \"alice\": [AUTHENTICATIONFAILED]"),
        "{said}"
    );
    assert!(said.contains("was kept"), "{said}");
    assert!(dir.path().join("mailboxes/alice.toml").is_file());
}

#[test]
fn without_a_terminal_it_asks_nothing_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tend.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(&config)
        .arg("init")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tend init asks questions; run it in a terminal")
            && err.contains("mailboxes/example.toml.sample"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn an_oauth2_mailbox_gets_its_consent_by_the_device_flow() {
    let provider = TokenServer::start("olga");
    let mut dovecot = Dovecot::start();
    dovecot.oauth2_user("olga", &provider.url("/introspect"), "xoauth2");
    let llm = model();
    let dir = tempfile::tempdir().unwrap();
    let config = tend_toml(dir.path(), &llm);
    let mut init = Init::start(&config);
    init.answer("Your email address", "olga@acme.test");
    init.answer("The mailbox's name", "");
    init.pick("Where is the mailbox?", 0);
    init.answer("The IMAP server's host name", "127.0.0.1");
    init.pick("Its security", 2);
    init.answer("Its port", &dovecot.port().to_string());
    init.answer("The IMAP user name", "olga");
    init.pick("How does tend log in?", 1);
    init.answer("The provider's token endpoint", &provider.url("/token"));
    init.answer(
        "Its device authorization endpoint",
        &provider.url("/device"),
    );
    init.answer("The scopes", "https://mail.test/");
    init.answer("The OAuth2 client ID", "tend-test");
    init.answer("Its client secret", "");
    init.answer("Your time zone", "");
    init.key("Keep the model test-model at", "y");
    init.wait("enter the code ");
    let code = init.wait(" (valid").trim().to_string();
    provider.approve(&code);
    let (status, said) = init.finish();
    assert_eq!(status, 0, "{said}");
    assert!(said.contains("Stored the refresh token"), "{said}");
    assert!(said.contains("ok   olga: login works"), "{said}");
    let token = dir.path().join("state/oauth2/olga.json");
    assert_eq!(mode(&token), 0o600);
}
