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
