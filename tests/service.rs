//! `tend run` as a service, end to end: the real binary against a real Dovecot, with real
//! signals. Replies are APPENDed over IMAP, as a mail server delivers them, so Dovecot notifies
//! a tend idling on INBOX; drafts are read back from the Maildir on disk. The harness is
//! `support::service`.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use support::dovecot::Dovecot;
use support::llm::{FakeLlm, Reply};
use support::proxy::Proxy;
use support::service::*;

#[test]
fn a_reply_appended_while_idling_is_drafted_at_once() {
    let llm = instant_model();
    let (d, setup) = alice_world(&llm);
    setup.mailbox("alice", "pw", d.port(), "");
    let mut tend = Tend::idling(&setup.config());
    reply(&d, "alice", "pw", 1);
    let took = wait_draft(&mut tend, &d, "alice", 1, 10);
    // A second reply on the same, still idling, session.
    tend.wait_log("waiting on IDLE", 2, 10);
    reply(&d, "alice", "pw", 2);
    wait_draft(&mut tend, &d, "alice", 2, 10);
    let (status, _) = tend.stop();
    assert!(status.success());
    assert_eq!(
        d.messages("alice", "Drafts").len(),
        2,
        "one draft per reply"
    );
    // The second buyer's thread may also be asked whether it continues the first (same
    // company): only the draft calls are counted.
    assert_eq!(llm.draft_requests().len(), 2);
    eprintln!("first draft after {took:?}");
}

#[test]
fn a_refused_login_does_not_disturb_the_other_mailbox() {
    let d = Dovecot::start();
    d.add_user("alice", "pw");
    d.add_user("bob", "right");
    let llm = instant_model();
    let setup = Setup::new(&llm, NO_POLL);
    setup.mailbox("alice", "pw", d.port(), "");
    setup.mailbox("bob", "wrong", d.port(), "");
    opener(&d, "alice", 1);
    let mut tend = Tend::start(&setup.config());
    tend.wait_log("LOGIN REFUSED", 1, 20);
    tend.wait_log("waiting on IDLE", 1, 20);
    reply(&d, "alice", "pw", 1);
    wait_draft(&mut tend, &d, "alice", 1, 10);
    assert!(
        tend.log().contains("bob") && tend.log().contains("Check the password"),
        "the refusal names the mailbox and what to do\n{}",
        tend.log()
    );
    // `tend status`, while run holds the store, shows the refusal.
    let snapshot = setup.path("state/status.txt");
    tend.wait("status snapshot naming the refusal", 15, |_| {
        std::fs::read_to_string(&snapshot).is_ok_and(|t| t.contains("bob: LOGIN REFUSED"))
    });
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(setup.config())
        .arg("status")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("bob: LOGIN REFUSED"), "{text}");
    assert!(
        text.contains("alice: waiting for new mail (IDLE)"),
        "{text}"
    );
    let (status, _) = tend.stop();
    assert!(status.success());
}

#[test]
fn reconnects_after_the_server_restarts() {
    let llm = instant_model();
    let (mut d, setup) = alice_world(&llm);
    setup.mailbox("alice", "pw", d.port(), "");
    let mut tend = Tend::idling(&setup.config());
    d.kill();
    tend.wait_log("reconnecting in", 1, 10);
    d.restart();
    tend.wait_log("waiting on IDLE", 2, 30);
    reply(&d, "alice", "pw", 1);
    wait_draft(&mut tend, &d, "alice", 1, 10);
    let (status, _) = tend.stop();
    assert!(status.success());
}

#[test]
fn a_black_holed_connection_is_noticed_and_reopened() {
    let llm = instant_model();
    let (d, setup) = alice_world(&llm);
    let proxy = Proxy::start(d.port());
    setup.mailbox("alice", "pw", proxy.port(), "timeout_seconds = 4\n");
    let mut tend = Tend::idling(&setup.config());
    let before = proxy.accepted();
    let holed_at = Instant::now();
    assert_eq!(proxy.black_hole(), before, "every open connection is cut");
    // Nothing closes the connection: only tend's own timeout can notice. It must within the
    // configured 4 s, then reconnect after the first backoff (at most 2.5 s).
    tend.wait("a new connection", 15, |_| proxy.accepted() > before);
    let noticed = holed_at.elapsed();
    assert!(
        noticed < std::time::Duration::from_millis(4_000 + 2_500 + 1_000),
        "reconnected only after {noticed:?}\n{}",
        tend.log()
    );
    // Noticed by the IDLE probe, by the STATUS of Sent between two IDLEs, or, when the hole
    // opened as an IDLE was being started (seen under load), by that IDLE's own timeout.
    let log = tend.log();
    assert!(
        log.contains("did not answer DONE")
            || log.contains("STATUS on 127.0.0.1 timed out")
            || log.contains("starting IDLE on 127.0.0.1 timed out"),
        "{log}"
    );
    tend.wait_log("waiting on IDLE", 2, 15);
    reply(&d, "alice", "pw", 1);
    wait_draft(&mut tend, &d, "alice", 1, 10);
    let (status, _) = tend.stop();
    assert!(status.success());
}

#[test]
fn sigterm_during_a_slow_model_call_loses_nothing() {
    let slow = Arc::new(AtomicBool::new(true));
    let llm = {
        let slow = slow.clone();
        FakeLlm::start(move |_| {
            let r = Reply::Content(answer());
            if slow.load(Ordering::SeqCst) {
                Reply::Delay(std::time::Duration::from_secs(60), Box::new(r))
            } else {
                r
            }
        })
    };
    let (d, setup) = alice_world(&llm);
    setup.mailbox("alice", "pw", d.port(), "");
    let mut tend = Tend::idling(&setup.config());
    reply(&d, "alice", "pw", 1);
    tend.wait("the model call", 10, |_| !llm.requests().is_empty());
    let (status, took) = tend.stop();
    assert!(status.success(), "{status}\n{}", tend.log());
    assert!(
        took < std::time::Duration::from_secs(10),
        "exit took {took:?}"
    );
    assert_eq!(drafts_for(&d, "alice", 1), 0);

    // The next start writes the interrupted draft, once.
    slow.store(false, Ordering::SeqCst);
    let mut tend = Tend::start(&setup.config());
    wait_draft(&mut tend, &d, "alice", 1, 20);
    tend.wait_log("waiting on IDLE", 1, 10);
    let (status, _) = tend.stop();
    assert!(status.success());
    Tend::idling(&setup.config()).stop();
    assert_eq!(drafts_for(&d, "alice", 1), 1, "no duplicate");
}

#[test]
fn sighup_adds_and_removes_mailboxes() {
    let d = Dovecot::start();
    d.add_user("alice", "pw");
    d.add_user("bob", "pw");
    let llm = instant_model();
    let setup = Setup::new(&llm, NO_POLL);
    setup.mailbox("alice", "pw", d.port(), "");
    opener(&d, "alice", 1);
    opener(&d, "alice", 2);
    opener(&d, "bob", 1);
    let mut tend = Tend::start(&setup.config());
    tend.wait_log("waiting on IDLE", 1, 20);

    // Added: bob starts, alice's session is untouched.
    setup.mailbox("bob", "pw", d.port(), "");
    tend.signal("HUP");
    tend.wait_log("new mailbox file; started", 1, 10);
    tend.wait_log("waiting on IDLE", 2, 20);
    reply(&d, "bob", "pw", 1);
    wait_draft(&mut tend, &d, "bob", 1, 10);
    assert!(
        !tend.log().contains("stopped") && !tend.log().contains("restarted"),
        "the reload left alice alone\n{}",
        tend.log()
    );

    // Changed: only bob restarts, and works on.
    opener(&d, "bob", 2);
    setup.mailbox("bob", "pw", d.port(), "timeout_seconds = 30\n");
    tend.signal("HUP");
    tend.wait_log("mailbox file changed; restarted", 1, 10);
    tend.wait_log("waiting on IDLE", 4, 20);
    assert_eq!(tend.log().matches("stopped").count(), 1, "{}", tend.log());
    assert!(
        tend.log().contains("restarted mailbox=bob"),
        "{}",
        tend.log()
    );
    reply(&d, "bob", "pw", 2);
    wait_draft(&mut tend, &d, "bob", 2, 10);

    // An invalid file: refused, everything keeps running.
    std::fs::write(setup.path("mailboxes/carol.toml"), "addresses = [\n").unwrap();
    tend.signal("HUP");
    tend.wait_log("reload refused", 1, 10);
    assert!(tend.log().contains("carol.toml"), "{}", tend.log());
    std::fs::remove_file(setup.path("mailboxes/carol.toml")).unwrap();

    // Removed: alice stops; her next reply gets no draft, while bob still works.
    std::fs::remove_file(setup.path("mailboxes/alice.toml")).unwrap();
    tend.signal("HUP");
    tend.wait_log("mailbox file removed; stopped", 1, 10);
    reply(&d, "alice", "pw", 2);
    tend.signal("HUP"); // nothing changed: a no-op reload
    tend.wait_log("reload done", 3, 10);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        drafts_for(&d, "alice", 2),
        0,
        "a removed mailbox is left alone"
    );
    let (status, _) = tend.stop();
    assert!(status.success());
}

#[test]
fn a_server_without_idle_is_polled() {
    let mut d = Dovecot::start();
    d.add_user("alice", "pw");
    d.configure("imap_capability = IMAP4rev1 LITERAL+ SASL-IR ENABLE SPECIAL-USE UIDPLUS");
    d.restart();
    let llm = instant_model();
    let setup = Setup::new(&llm, "poll_interval_seconds = 2\n");
    setup.mailbox("alice", "pw", d.port(), "");
    opener(&d, "alice", 1);
    let mut tend = Tend::start(&setup.config());
    tend.wait_log("the server has no IDLE", 1, 20);
    reply(&d, "alice", "pw", 1);
    wait_draft(&mut tend, &d, "alice", 1, 10);
    assert!(!tend.log().contains("waiting on IDLE"));
    let (status, _) = tend.stop();
    assert!(status.success());
}

#[test]
fn no_secret_in_the_logs_even_at_trace_level() {
    let d = Dovecot::start();
    let password = "pw-Zebra-4471";
    d.add_user("alice", password);
    let llm = instant_model();
    let setup = Setup::new(&llm, NO_POLL);
    let key = "sk-Quokka-9931";
    let key_file = setup.path("model.key");
    std::fs::write(&key_file, key).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let toml = std::fs::read_to_string(setup.config()).unwrap();
    std::fs::write(
        setup.config(),
        format!("{toml}api_key_file = \"model.key\"\n"),
    )
    .unwrap();
    setup.mailbox("alice", password, d.port(), "");
    opener(&d, "alice", 1);
    let mut tend = Tend::start_env(&setup.config(), &[("RUST_LOG", "trace")]);
    tend.wait_log("waiting on IDLE", 1, 20);
    reply(&d, "alice", password, 1);
    wait_draft(&mut tend, &d, "alice", 1, 10);
    tend.signal("HUP");
    tend.wait_log("reload done", 1, 10);
    tend.stop();
    let log = tend.log();
    assert!(log.lines().count() > 20, "a full run at trace level\n{log}");
    assert!(llm.requests().len() == 1);
    assert!(!log.contains(password), "the IMAP password is in the log");
    assert!(!log.contains(key), "the API key is in the log");
    assert!(!log.contains("50-seat plan"), "mail text is in the log");
}

#[test]
fn tells_systemd_ready_status_watchdog_reloading_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let d = Dovecot::start();
    d.add_user("alice", "pw");
    let llm = instant_model();
    let setup = Setup::new(&llm, NO_POLL);
    setup.mailbox("alice", "pw", d.port(), "");
    opener(&d, "alice", 1);
    let socket_path = setup.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_millis(100)))
        .unwrap();
    let sock = socket_path.to_str().unwrap();
    // WatchdogSec=2: tend must ping at least every second. JOURNAL_STREAM as systemd sets it
    // when stderr goes to the journal, which stamps each line itself.
    let env = [
        ("RUST_LOG", "info,tend=debug"),
        ("NOTIFY_SOCKET", sock),
        ("WATCHDOG_USEC", "2000000"),
        ("JOURNAL_STREAM", "8:12345"),
    ];
    let mut tend = Tend::start_env(&setup.config(), &env);
    let mut got: Vec<String> = Vec::new();
    let receive = |got: &mut Vec<String>, until: &str, secs: u64| {
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        while !got.iter().any(|m| m.contains(until)) {
            assert!(
                start.elapsed().as_secs() < secs,
                "no {until:?} from tend; got {got:?}"
            );
            if let Ok(n) = socket.recv(&mut buf) {
                got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    };
    receive(&mut got, "READY=1", 10);
    let ready = got.iter().find(|m| m.contains("READY=1")).unwrap();
    assert!(
        ready.contains("STATUS=1 mailbox, 0 drafts today"),
        "{ready}"
    );
    tend.wait_log("waiting on IDLE", 1, 20);
    reply(&d, "alice", "pw", 1);
    wait_draft(&mut tend, &d, "alice", 1, 10);
    got.clear();
    receive(&mut got, "STATUS=1 mailbox, 1 draft today, last sync", 10);
    got.clear();
    let start = Instant::now();
    receive(&mut got, "WATCHDOG=1", 5);
    got.clear();
    receive(&mut got, "WATCHDOG=1", 5);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(4),
        "pings come often enough"
    );
    tend.signal("HUP");
    got.clear();
    receive(&mut got, "RELOADING=1", 5);
    receive(&mut got, "READY=1", 5);
    tend.stop();
    receive(&mut got, "STOPPING=1", 5);
    let log = tend.log();
    assert!(log.contains("INFO tend running"), "{log}");
    assert!(
        log.lines()
            .all(|l| !l.starts_with(|c: char| c.is_ascii_digit())),
        "no timestamps under journald\n{log}"
    );
}

#[test]
fn systemd_credentials_and_a_reload_naming_one_it_never_loaded() {
    let d = Dovecot::start();
    d.add_user("alice", "pw-alice");
    d.add_user("bob", "pw-bob");
    let llm = instant_model();
    let setup = Setup::new(&llm, NO_POLL);
    // What systemd's LoadCredential=tend:/etc/tend/credentials hands the service.
    let creds = setup.path("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("tend_alice"), "pw-alice\n").unwrap();
    let with_credential = |user: &str| {
        setup.mailbox(user, "unused", d.port(), "");
        let file = setup.path(&format!("mailboxes/{user}.toml"));
        let text = std::fs::read_to_string(&file).unwrap().replace(
            &format!("password_file = \"{user}.password\""),
            &format!("password_credential = \"tend_{user}\""),
        );
        std::fs::write(&file, text).unwrap();
    };
    with_credential("alice");
    opener(&d, "alice", 1);
    let env = [
        ("RUST_LOG", "info,tend=debug"),
        ("CREDENTIALS_DIRECTORY", creds.to_str().unwrap()),
    ];
    let mut tend = Tend::start_env(&setup.config(), &env);
    tend.wait_log("waiting on IDLE", 1, 20);
    with_credential("bob");
    tend.signal("HUP");
    tend.wait_log("reload refused", 1, 10);
    assert!(
        tend.log().contains("no credential \"tend_bob\""),
        "{}",
        tend.log()
    );
    reply(&d, "alice", "pw-alice", 1);
    wait_draft(&mut tend, &d, "alice", 1, 10);
    let (status, _) = tend.stop();
    assert!(status.success());
    // At start, the same mistake is a configuration error: exit 78, no restart loop.
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(setup.config())
        .arg("run")
        .envs(env)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{out:?}");
}

#[test]
fn a_model_that_failed_is_asked_again_soon_not_at_the_next_poll() {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let llm = {
        let calls = calls.clone();
        FakeLlm::start(move |_| {
            // The first call and the client's two retries of it fail: the daemon's turn.
            if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                Reply::Status(503, r#"{"error":{"message":"overloaded"}}"#.into())
            } else {
                Reply::Content(answer())
            }
        })
    };
    let (d, setup) = alice_world(&llm);
    setup.mailbox("alice", "pw", d.port(), "");
    let mut tend = Tend::idling(&setup.config());
    reply(&d, "alice", "pw", 1);
    tend.wait_log("retrying soon", 1, 10);
    let took = wait_draft(&mut tend, &d, "alice", 1, 25);
    assert!(took.as_secs() >= 5, "the retry waits a little: {took:?}");
    assert_eq!(llm.requests().len(), 4);
    let (status, _) = tend.stop();
    assert!(status.success());
}

#[test]
fn retry_after_longer_than_the_poll_interval_is_honoured_by_every_mailbox() {
    let d = Dovecot::start();
    d.add_user("alice", "pw");
    d.add_user("bob", "pw");
    // The first request is told to come back in 4 s; every later one is answered.
    let asked: Arc<std::sync::Mutex<Vec<Instant>>> = Arc::default();
    let llm = {
        let asked = asked.clone();
        FakeLlm::start(move |req| {
            // Both buyers write from buyer.test, so the later thread is also asked whether it
            // continues the other's deal (a call of its own, after the drafts): not counted.
            if req.to_string().contains("\"deal_join\"") {
                return Reply::Content(r#"{"continues": false, "reason": "another"}"#.into());
            }
            let mut asked = asked.lock().unwrap();
            asked.push(Instant::now());
            if asked.len() == 1 {
                Reply::Headers(
                    vec![("Retry-After".into(), "4".into())],
                    Box::new(Reply::Status(
                        429,
                        r#"{"error":{"message":"slow down"}}"#.into(),
                    )),
                )
            } else {
                Reply::Content(answer())
            }
        })
    };
    // A poll interval far shorter than the server's wait.
    let setup = Setup::new(&llm, "poll_interval_seconds = 1\n");
    for user in ["alice", "bob"] {
        opener(&d, user, 1);
        setup.mailbox(user, "pw", d.port(), "");
    }
    let mut tend = Tend::start(&setup.config());
    tend.wait_log("waiting on IDLE", 2, 20);
    reply(&d, "alice", "pw", 1);
    tend.wait_log("rate limiting", 1, 20);
    // Bob's mailbox shares the model: his pass, woken by IDLE, must not ask it either.
    reply(&d, "bob", "pw", 1);
    wait_draft(&mut tend, &d, "alice", 1, 30);
    wait_draft(&mut tend, &d, "bob", 1, 30);
    let (status, _) = tend.stop();
    assert!(status.success());
    let asked = asked.lock().unwrap();
    assert_eq!(asked.len(), 3, "the refused call, then one per mailbox");
    for later in &asked[1..] {
        let gap = later.duration_since(asked[0]);
        assert!(
            gap >= std::time::Duration::from_millis(3500),
            "asked again {gap:?} after a Retry-After of 4 s\n{}",
            tend.log()
        );
    }
}

#[test]
fn a_restarted_mailbox_never_overlaps_its_old_task() {
    let llm = instant_model();
    let (d, setup) = alice_world(&llm);
    let proxy = Proxy::start(d.port());
    // A connection that goes silent: the old task's DONE waits out half the 40 s timeout,
    // far past the reload's 8 s grace.
    setup.mailbox("alice", "pw", proxy.port(), "timeout_seconds = 40\n");
    let mut tend = Tend::idling(&setup.config());
    proxy.black_hole();
    setup.mailbox("alice", "pw", proxy.port(), "timeout_seconds = 30\n");
    tend.signal("HUP");
    tend.wait_log("did not stop in time", 1, 20);
    tend.wait_log("its old task has ended; started again", 1, 60);
    tend.wait_log("waiting on IDLE", 2, 20);
    let log = tend.log();
    let stopped = log
        .find("}: stopped")
        .unwrap_or_else(|| panic!("the old task ended\n{log}"));
    let second_idle = log.rfind("waiting on IDLE").unwrap();
    assert!(
        stopped < second_idle,
        "the new task ran while the old one still did\n{log}"
    );
    // And the new one works.
    reply(&d, "alice", "pw", 1);
    wait_draft(&mut tend, &d, "alice", 1, 15);
    let (status, _) = tend.stop();
    assert!(status.success());
}
