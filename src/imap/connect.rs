//! Opening a connection: TCP with a timeout, implicit TLS or STARTTLS with rustls (system roots
//! plus an optional CA file), or plaintext to loopback; then the greeting and LOGIN, or SASL
//! OAUTHBEARER / XOAUTH2 with an OAuth2 access token. STARTTLS is never silently skipped: a
//! server that refuses it is an error.

use crate::config::{ImapConfig, Security};
use anyhow::{Context, Result};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, pki_types::ServerName, RootCertStore};

/// Any byte stream async-imap can run over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}

pub type ImapSession = async_imap::Session<Box<dyn Io>>;

/// Why a login failed; the daemon backs off longer on a refusal than on a network error.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("the server refused the login for {user:?}: {message}")]
    Refused { user: String, message: String },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// What proves the login.
#[derive(Clone, Copy)]
pub enum Proof<'a> {
    /// `LOGIN` with a password from `Secret::reveal`.
    Password(&'a str),
    /// SASL OAUTHBEARER (RFC 7628) where the server offers it, else XOAUTH2, with this
    /// access token.
    Bearer(&'a str),
}

/// Connects, secures and logs in.
pub async fn login(cfg: &ImapConfig, proof: Proof<'_>) -> Result<ImapSession, LoginError> {
    let stream = open(cfg).await?;
    let mut client = async_imap::Client::new(stream);
    let result = match proof {
        Proof::Password(password) => {
            tokio::time::timeout(cfg.timeout, client.login(&cfg.username, password)).await
        }
        Proof::Bearer(token) => {
            let bearer = tokio::time::timeout(cfg.timeout, offers_oauthbearer(&mut client))
                .await
                .map_err(|_| anyhow::anyhow!("CAPABILITY on {} timed out", cfg.host))??;
            let (mechanism, sasl) = if bearer {
                ("OAUTHBEARER", oauthbearer(cfg, token))
            } else {
                ("XOAUTH2", xoauth2(&cfg.username, token))
            };
            let auth = Sasl {
                first: Some(sasl),
                // After a refusal the server sends its reasons as a challenge, and waits for
                // an answer before its NO: empty for XOAUTH2, a lone %x01 for OAUTHBEARER.
                then: if bearer { b"\x01".to_vec() } else { Vec::new() },
            };
            tokio::time::timeout(cfg.timeout, client.authenticate(mechanism, auth)).await
        }
    };
    match result {
        Err(_) => Err(anyhow::anyhow!("login to {} timed out", cfg.host).into()),
        Ok(Ok(session)) => Ok(session),
        // RFC 5530: the server's own auth backend is down, or the account is busy; the
        // password may be right, so this is retried like a network error, not a refusal.
        Ok(Err((async_imap::error::Error::No(message), _))) if transient(&message) => {
            Err(anyhow::anyhow!(
                "{} cannot log in {:?} now: {message}",
                cfg.host,
                cfg.username
            )
            .into())
        }
        Ok(Err((async_imap::error::Error::No(message), _)))
        | Ok(Err((async_imap::error::Error::Bad(message), _))) => Err(LoginError::Refused {
            user: cfg.username.clone(),
            message,
        }),
        Ok(Err((err, _))) => Err(anyhow::Error::new(err)
            .context(format!("logging in to {}", cfg.host))
            .into()),
    }
}

/// Does the server list `AUTH=OAUTHBEARER` before login?
async fn offers_oauthbearer(client: &mut async_imap::Client<Box<dyn Io>>) -> Result<bool> {
    use async_imap::imap_proto::{Capability, RequestId, Response};
    use tokio::io::AsyncWriteExt;
    // async-imap sends tagged commands only from a logged-in session, so this one is written
    // by hand, under a tag of ours that its counter (A0001...) never makes.
    let tag = RequestId("tendcap".into());
    let stream = client.get_mut();
    stream
        .write_all(b"tendcap CAPABILITY\r\n")
        .await
        .context("sending CAPABILITY")?;
    stream.flush().await.context("sending CAPABILITY")?;
    let mut bearer = false;
    loop {
        let resp = client
            .read_response()
            .await
            .context("reading the capabilities")?
            .context("the server closed the connection before login")?;
        match resp.parsed() {
            Response::Capabilities(caps) => {
                bearer |= caps.iter().any(
                    |c| matches!(c, Capability::Auth(m) if m.eq_ignore_ascii_case("OAUTHBEARER")),
                )
            }
            Response::Done { tag: done, .. } if *done == tag => return Ok(bearer),
            _ => {}
        }
    }
}

/// The XOAUTH2 initial response (Google's and Microsoft's SASL mechanism).
fn xoauth2(user: &str, token: &str) -> Vec<u8> {
    format!("user={user}\x01auth=Bearer {token}\x01\x01").into_bytes()
}

/// The OAUTHBEARER initial response (RFC 7628 section 3.1): a GS2 header naming the user,
/// then host, port and the bearer token.
fn oauthbearer(cfg: &ImapConfig, token: &str) -> Vec<u8> {
    let user = cfg.username.replace('=', "=3D").replace(',', "=2C");
    format!(
        "n,a={user},\x01host={}\x01port={}\x01auth=Bearer {token}\x01\x01",
        cfg.host, cfg.port
    )
    .into_bytes()
}

/// Answers the server's challenges: the initial response first, then the error reply.
struct Sasl {
    first: Option<Vec<u8>>,
    then: Vec<u8>,
}

impl async_imap::Authenticator for Sasl {
    type Response = Vec<u8>;
    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        self.first.take().unwrap_or_else(|| self.then.clone())
    }
}

/// Does a NO to LOGIN say "try later" rather than "wrong credentials" (RFC 5530 codes)?
fn transient(message: &str) -> bool {
    let upper = message.to_ascii_uppercase();
    ["[UNAVAILABLE]", "[INUSE]", "[LIMIT]", "[SERVERBUG]"]
        .iter()
        .any(|code| upper.contains(code))
}

/// A connected, secured stream that has already consumed the server greeting.
async fn open(cfg: &ImapConfig) -> Result<Box<dyn Io>> {
    let addr = (cfg.host.as_str(), cfg.port);
    let tcp = tokio::time::timeout(cfg.timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow::anyhow!("connecting to {}:{} timed out", cfg.host, cfg.port))?
        .with_context(|| format!("connecting to {}:{}", cfg.host, cfg.port))?;
    tcp.set_nodelay(true).ok();
    match cfg.security {
        Security::Plain => {
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client, cfg).await?;
            Ok(Box::new(client.into_inner()))
        }
        Security::Tls => {
            let tls = tls_handshake(cfg, tcp).await?;
            let mut client = async_imap::Client::new(tls);
            greeting(&mut client, cfg).await?;
            Ok(Box::new(client.into_inner()))
        }
        Security::StartTls => {
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client, cfg).await?;
            tokio::time::timeout(
                cfg.timeout,
                client.run_command_and_check_ok("STARTTLS", None),
            )
            .await
            .map_err(|_| anyhow::anyhow!("STARTTLS timed out"))?
            .with_context(|| {
                format!("{} refused STARTTLS; not continuing without TLS", cfg.host)
            })?;
            let tls = tls_handshake(cfg, client.into_inner()).await?;
            Ok(Box::new(tls))
        }
    }
}

async fn greeting<T: Io>(client: &mut async_imap::Client<T>, cfg: &ImapConfig) -> Result<()> {
    let greeting = tokio::time::timeout(cfg.timeout, client.read_response())
        .await
        .map_err(|_| anyhow::anyhow!("{} sent no greeting", cfg.host))?
        .with_context(|| format!("reading the greeting of {}", cfg.host))?;
    anyhow::ensure!(greeting.is_some(), "{} closed the connection", cfg.host);
    Ok(())
}

async fn tls_handshake(
    cfg: &ImapConfig,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_config(cfg)?));
    let name = ServerName::try_from(cfg.host.clone())
        .with_context(|| format!("{:?} is not a valid TLS server name", cfg.host))?;
    tokio::time::timeout(cfg.timeout, connector.connect(name, tcp))
        .await
        .map_err(|_| anyhow::anyhow!("TLS handshake with {} timed out", cfg.host))?
        .with_context(|| format!("TLS handshake with {}", cfg.host))
}

fn tls_config(cfg: &ImapConfig) -> Result<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A single unparseable system certificate must not stop the others.
        roots.add(cert).ok();
    }
    if let Some(ca) = &cfg.ca_file {
        let pem = std::fs::read(ca).with_context(|| format!("reading ca_file {}", ca.display()))?;
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.with_context(|| format!("parsing ca_file {}", ca.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("adding ca_file {}", ca.display()))?;
            added += 1;
        }
        anyhow::ensure!(
            added > 0,
            "ca_file {} holds no PEM certificate",
            ca.display()
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS configuration")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sasl_initial_responses_are_as_the_specs_write_them() {
        assert_eq!(
            super::xoauth2("a@b.example", "T"),
            b"user=a@b.example\x01auth=Bearer T\x01\x01"
        );
        let cfg = crate::config::ImapConfig {
            host: "imap.b.example".into(),
            port: 993,
            security: crate::config::Security::Tls,
            username: "a,=b".into(),
            auth: crate::config::Auth::Password(crate::config::Secret::Command("x".into())),
            ca_file: None,
            timeout: std::time::Duration::from_secs(1),
        };
        assert_eq!(
            super::oauthbearer(&cfg, "T"),
            b"n,a=a=2C=3Db,\x01host=imap.b.example\x01port=993\x01auth=Bearer T\x01\x01"
        );
    }

    #[test]
    fn only_credential_refusals_are_refusals() {
        assert!(super::transient(
            "[UNAVAILABLE] Temporary authentication failure"
        ));
        assert!(super::transient("[INUSE] Mailbox in use"));
        assert!(!super::transient(
            "[AUTHENTICATIONFAILED] Authentication failed."
        ));
        assert!(!super::transient("LOGIN failed."));
        assert!(!super::transient(
            "[AUTHENTICATIONFAILED] Invalid credentials (Failure)"
        ));
    }
}
