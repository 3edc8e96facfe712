//! OAuth2 logins against a real Dovecot whose `oauth2` passdb asks a local provider
//! (tests/support/oauth.rs) about every token: tend logs in with XOAUTH2 (and OAUTHBEARER where
//! offered) and reads the INBOX; an access token about to expire is refreshed before use, a
//! refused one is refreshed once; a rotated refresh token is on disk (mode 600) at once; a
//! revoked refresh token or a token without the mail scope is a refused login that says to run
//! `tend auth NAME`; `oauth2_token_command` logs in with what it prints.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use support::dovecot::Dovecot;
use support::oauth::TokenServer;
use support::service::{instant_model, Setup, Tend, NO_POLL};
use tend::imap::{LoginError, Session};

const USER: &str = "olga";

struct World {
    dovecot: Dovecot,
    provider: TokenServer,
    setup: Setup,
    _llm: support::llm::FakeLlm,
}

impl World {
    /// Dovecot offering `mechanisms`, olga with one message in INBOX, a refresh token stored.
    fn new(mechanisms: &str) -> World {
        let provider = TokenServer::start(USER);
        let mut dovecot = Dovecot::start();
        dovecot.oauth2_user(USER, &provider.url("/introspect"), mechanisms);
        let mail = "Message-ID: <q1@buyer.test>\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\n\
                    From: bob@buyer.test\r\nTo: olga@acme.test\r\nSubject: Pricing\r\n\r\nHow much?\r\n";
        dovecot.put(USER, "INBOX", mail.as_bytes(), "");
        let llm = instant_model();
        let setup = Setup::new(&llm, NO_POLL);
        let world = World {
            dovecot,
            provider,
            setup,
            _llm: llm,
        };
        world.mailbox(&format!(
            "[imap.oauth2]\ntoken_endpoint = \"{}\"\nclient_id = \"tend-test\"\n\
             scopes = [\"https://mail.test/\"]\n",
            world.provider.url("/token")
        ));
        let refresh = world.provider.issue_refresh();
        std::fs::create_dir_all(world.token_file().parent().unwrap()).unwrap();
        std::fs::write(
            world.token_file(),
            format!("{{\"refresh_token\": \"{refresh}\"}}"),
        )
        .unwrap();
        world
    }

    fn mailbox(&self, auth: &str) {
        let text = format!(
            "addresses = [\"{USER}@acme.test\"]\ntimezone = \"UTC\"\n[imap]\nhost = \"127.0.0.1\"\n\
             port = {}\nsecurity = \"plain\"\nusername = \"{USER}\"\nauth = \"oauth2\"\n\
             timeout_seconds = 10\n{auth}",
            self.dovecot.port()
        );
        std::fs::write(self.setup.path(&format!("mailboxes/{USER}.toml")), text).unwrap();
    }

    fn token_file(&self) -> PathBuf {
        self.setup.path(&format!("state/oauth2/{USER}.json"))
    }

    fn stored_refresh(&self) -> String {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.token_file()).unwrap()).unwrap();
        v["refresh_token"].as_str().unwrap().to_string()
    }

    async fn connect(&self) -> Result<Session, LoginError> {
        let config = tend::config::load(&self.setup.config()).unwrap();
        Session::connect(&config.mailboxes[0].imap).await
    }

    /// Logs in and counts the INBOX, as a pass's sync starts.
    async fn inbox(&self) -> usize {
        let mut s = self.connect().await.unwrap_or_else(|e| {
            panic!(
                "login failed: {e:#}\n--- dovecot.log ---\n{}",
                self.dovecot.log()
            )
        });
        let folders = s.folders(&Default::default()).await.unwrap();
        s.examine(&folders.inbox).await.unwrap();
        let n = s.uids_after(0).await.unwrap().len();
        s.logout().await;
        n
    }
}

fn refused(r: Result<Session, LoginError>) -> String {
    match r {
        Err(e @ LoginError::Refused { .. }) => e.to_string(),
        Err(e) => panic!("not a refusal: {e:#}"),
        Ok(_) => panic!("the login worked"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_in_with_xoauth2_and_reads_the_inbox_reusing_the_access_token() {
    let w = World::new("xoauth2");
    assert_eq!(w.inbox().await, 1);
    assert_eq!(w.inbox().await, 1);
    assert_eq!(
        w.provider.grants(),
        1,
        "the hour-long access token is reused"
    );
    assert_eq!(w.provider.inactive_answers(), 0);
    assert_eq!(
        w.provider.introspected(),
        2,
        "Dovecot asked the provider each time"
    );
    assert!(
        w.dovecot.log().contains("method=XOAUTH2"),
        "{}",
        w.dovecot.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_about_to_expire_is_refreshed_before_use() {
    let w = World::new("xoauth2 oauthbearer");
    // Less than the minute of margin: every login needs a new one.
    w.provider.expires_in(30);
    assert_eq!(w.inbox().await, 1);
    assert_eq!(w.inbox().await, 1);
    assert_eq!(w.provider.grants(), 2);
    assert_eq!(
        w.provider.inactive_answers(),
        0,
        "no stale token was offered"
    );
    // Offered both, tend takes the standard one (RFC 7628).
    assert!(
        w.dovecot.log().contains("method=OAUTHBEARER"),
        "{}",
        w.dovecot.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_access_token_is_refreshed_once_and_the_login_goes_on() {
    let w = World::new("xoauth2 oauthbearer");
    assert_eq!(w.inbox().await, 1);
    w.provider.refuse_access_tokens();
    assert_eq!(w.inbox().await, 1);
    assert_eq!(w.provider.grants(), 2);
    assert_eq!(w.provider.inactive_answers(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_token_is_stored_at_once_and_privately() {
    let w = World::new("xoauth2");
    let first = w.stored_refresh();
    w.provider.rotate(true);
    assert_eq!(w.inbox().await, 1);
    let second = w.stored_refresh();
    assert_ne!(first, second);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&w.token_file()), 0o600);
    assert_eq!(mode(w.token_file().parent().unwrap()), 0o700);
    // The old one is dead at the provider: the next refresh works only with the stored one.
    w.provider.refuse_access_tokens();
    assert_eq!(w.inbox().await, 1);
    assert_ne!(w.stored_refresh(), second);
    assert_eq!(w.provider.grants(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_refresh_token_is_a_refused_login_that_says_to_run_tend_auth() {
    let w = World::new("xoauth2");
    w.provider.revoke_refresh_tokens();
    let message = refused(w.connect().await);
    assert!(message.contains("invalid_grant"), "{message}");
    assert!(message.contains("run `tend auth olga` again"), "{message}");
    // The daemon takes it as a refusal: the long backoff, LOGIN REFUSED.
    let mut tend = Tend::start(&w.setup.config());
    tend.wait_log("LOGIN REFUSED", 1, 30);
    assert!(
        tend.log().contains("run `tend auth olga` again"),
        "{}",
        tend.log()
    );
    tend.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_the_mail_scope_is_refused_after_one_refresh() {
    let w = World::new("xoauth2 oauthbearer");
    w.provider.wrong_scope(true);
    let message = refused(w.connect().await);
    assert!(message.contains("scope"), "{message}");
    assert!(message.contains("run `tend auth olga` again"), "{message}");
    assert_eq!(w.provider.grants(), 2, "refreshed once, then given up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_token_command_logs_in_with_what_it_prints() {
    let w = World::new("xoauth2");
    let token = w.provider.issue_access();
    w.mailbox(&format!("oauth2_token_command = \"echo {token}\"\n"));
    assert_eq!(w.inbox().await, 1);
    assert_eq!(w.provider.grants(), 0);
}

/// `tend auth olga`, its stdout read line by line.
struct Consent {
    child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl Consent {
    fn start(w: &World) -> Consent {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
            .arg("--config")
            .arg(w.setup.config())
            .args(["auth", USER])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        use std::io::BufRead;
        let lines = std::io::BufReader::new(stdout).lines();
        Consent { child, lines }
    }

    /// The first printed line containing `needle`.
    fn line_with(&mut self, needle: &str) -> String {
        for line in self.lines.by_ref() {
            let line = line.unwrap();
            if line.contains(needle) {
                return line;
            }
        }
        panic!("`tend auth` ended without printing {needle:?}");
    }

    fn succeeds(mut self) {
        let printed: Vec<String> = self.lines.by_ref().map_while(Result::ok).collect();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}: {printed:?}");
        assert!(
            printed.join("\n").contains("Stored the refresh token"),
            "{printed:?}"
        );
    }
}

/// A test that failed half-way must not leave `tend auth` waiting for a browser: it would
/// hold the test's stderr open and hang a piped `cargo test`.
impl Drop for Consent {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A plain HTTP/1.1 GET of an http:// URL on loopback: (the Location header, the body).
fn get(url: &str) -> (Option<String>, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut conn = std::net::TcpStream::connect(host).unwrap();
    // One write, as a browser sends it (write! would send each piece apart).
    let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let location = head
        .lines()
        .find_map(|l| l.strip_prefix("Location: "))
        .map(str::to_string);
    (location, body.to_string())
}

fn consent_client(w: &World, endpoint: &str) {
    std::fs::remove_file(w.token_file()).unwrap();
    w.mailbox(&format!(
        "[imap.oauth2]\ntoken_endpoint = \"{}\"\n{endpoint}\nclient_id = \"tend-test\"\n\
         scopes = [\"https://mail.test/\", \"offline_access\"]\n",
        w.provider.url("/token"),
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tend_auth_with_the_device_flow_stores_a_refresh_token_that_logs_in() {
    let w = World::new("xoauth2");
    let device = w.provider.url("/device");
    consent_client(&w, &format!("device_authorization_endpoint = \"{device}\""));
    let mut consent = Consent::start(&w);
    let line = consent.line_with("enter the code");
    let code = line
        .split("enter the code ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap();
    // tend waits, polling, until the person approves.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    w.provider.approve(code);
    consent.succeeds();
    assert!(w.provider.device_polls() >= 2, "polled while pending");
    let mode = std::fs::metadata(w.token_file())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(w.inbox().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tend_auth_follows_the_browser_redirect_to_its_loopback_port() {
    let w = World::new("xoauth2");
    let page = w.provider.url("/authorize");
    consent_client(&w, &format!("authorization_endpoint = \"{page}\""));
    let mut consent = Consent::start(&w);
    let url = consent.line_with(&page);
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    // The browser: the consent page redirects to tend's loopback port, which answers.
    let (location, _) = get(url.trim());
    let (_, body) = get(&location.expect("a redirect"));
    assert!(body.contains("close this tab"), "{body}");
    consent.succeeds();
    assert_eq!(w.inbox().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tend_auth_takes_the_redirected_address_pasted_from_another_machine() {
    use std::io::Write;
    let w = World::new("xoauth2");
    let page = w.provider.url("/authorize");
    consent_client(&w, &format!("authorization_endpoint = \"{page}\""));
    let mut consent = Consent::start(&w);
    let url = consent.line_with(&page);
    // The browser elsewhere cannot reach tend's port: the person copies the address it shows.
    let (location, _) = get(url.trim());
    let mut stdin = consent.child.stdin.take().unwrap();
    writeln!(stdin, "not a url").unwrap();
    writeln!(stdin, "{}", location.unwrap()).unwrap();
    consent.succeeds();
    assert_eq!(w.inbox().await, 1);
}
