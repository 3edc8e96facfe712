//! Opening a connection: TCP with a timeout, implicit TLS or STARTTLS with rustls (system roots
//! plus an optional CA file), or plaintext to loopback; then the greeting and LOGIN, or SASL
//! OAUTHBEARER / XOAUTH2 with an OAuth2 access token. STARTTLS is never silently skipped: a
//! server that refuses it is an error. What a failure means in plain words is `diagnose`'s.

use super::diagnose;
use crate::config::{ImapConfig, Security};
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::Duration;
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
    /// `message` is the server's words and what to do about them.
    #[error("login refused by {host} for {user:?}: {message}")]
    Refused {
        host: String,
        user: String,
        message: String,
    },
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
                "{} cannot log in {:?} now: {}",
                cfg.host,
                cfg.username,
                diagnose::server_words(&message)
            )
            .into())
        }
        Ok(Err((async_imap::error::Error::No(message), _)))
        | Ok(Err((async_imap::error::Error::Bad(message), _))) => {
            let words = diagnose::server_words(&message);
            let stop = if words.ends_with(['.', '!', '?']) {
                ""
            } else {
                "."
            };
            Err(LoginError::Refused {
                host: cfg.host.clone(),
                user: cfg.username.clone(),
                message: format!("{words}{stop}{}", diagnose::refused_hint(cfg)),
            })
        }
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

/// How long a plain connection waits for the first byte of the greeting before it asks, on a
/// second connection, whether the port expects TLS: a plain client on a TLS port would
/// otherwise wait the whole timeout for a greeting that never comes.
const FIRST_BYTE: Duration = Duration::from_secs(3);

/// A connected, secured stream that has already consumed the server greeting.
async fn open(cfg: &ImapConfig) -> Result<Box<dyn Io>> {
    let tcp = tcp_connect(cfg).await?;
    match cfg.security {
        Security::Plain => {
            let tcp = plain_or_tls(cfg, tcp).await?;
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
            let tcp = plain_or_tls(cfg, tcp).await?;
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client, cfg).await?;
            tokio::time::timeout(
                cfg.timeout,
                client.run_command_and_check_ok("STARTTLS", None),
            )
            .await
            .map_err(|_| anyhow::anyhow!("STARTTLS timed out"))?
            .map_err(|err| {
                let words = match &err {
                    async_imap::error::Error::No(m) | async_imap::error::Error::Bad(m) => {
                        diagnose::server_words(m)
                    }
                    other => other.to_string(),
                };
                anyhow::anyhow!(
                    "{} refused STARTTLS ({words}); not continuing without TLS: if the server \
                     offers TLS on port 993, set port = 993 and security = \"tls\"",
                    cfg.host
                )
            })?;
            let tls = tls_handshake(cfg, client.into_inner()).await?;
            Ok(Box::new(tls))
        }
    }
}

/// Resolves the host and connects, each failure worded as what to check.
async fn tcp_connect(cfg: &ImapConfig) -> Result<TcpStream> {
    let at = format!("{}:{}", cfg.host, cfg.port);
    let addrs: Vec<std::net::SocketAddr> = tokio::time::timeout(
        cfg.timeout,
        tokio::net::lookup_host((cfg.host.as_str(), cfg.port)),
    )
    .await
    .map_err(|_| anyhow::anyhow!("looking up {:?} timed out (DNS)", cfg.host))?
    .map_err(|e| anyhow::anyhow!(diagnose::not_found(cfg, &e)))?
    .collect();
    let tcp = tokio::time::timeout(cfg.timeout, TcpStream::connect(&addrs[..]))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "no answer from {at} within {} s: a firewall drops the connection, or [imap] \
                 host or port is wrong",
                cfg.timeout.as_secs()
            )
        })?
        .map_err(|e| anyhow::anyhow!(diagnose::tcp_failure(cfg, &e)))?;
    tcp.set_nodelay(true).ok();
    Ok(tcp)
}

/// `tcp` back once its server has sent a first byte; an error saying so when it stays silent
/// for [`FIRST_BYTE`] and a second connection to it completes a TLS handshake (its port wants
/// security = "tls"). A server that is only slow is waited for as before.
async fn plain_or_tls(cfg: &ImapConfig, tcp: TcpStream) -> Result<TcpStream> {
    let mut byte = [0u8; 1];
    if tokio::time::timeout(FIRST_BYTE.min(cfg.timeout), tcp.peek(&mut byte))
        .await
        .is_ok()
    {
        return Ok(tcp);
    }
    let probe = async {
        let second = TcpStream::connect(tcp.peer_addr()?).await?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_config(cfg)?));
        let name = ServerName::try_from(cfg.host.clone())?;
        Ok::<_, anyhow::Error>(match connector.connect(name, second).await {
            Ok(_) => true,
            // A certificate we do not trust is still TLS.
            Err(e) => matches!(
                e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()),
                Some(rustls::Error::InvalidCertificate(_))
            ),
        })
    };
    if let Ok(Ok(true)) = tokio::time::timeout(FIRST_BYTE, probe).await {
        anyhow::bail!(diagnose::expects_tls(cfg));
    }
    Ok(tcp)
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
    match tokio::time::timeout(cfg.timeout, connector.connect(name, tcp)).await {
        Err(_) => anyhow::bail!("TLS handshake with {} timed out", cfg.host),
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(err)) => match diagnose::tls_failure(cfg, &err) {
            Some(words) => Err(anyhow::anyhow!(words)),
            None => {
                Err(anyhow::Error::new(err).context(format!("TLS handshake with {}", cfg.host)))
            }
        },
    }
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
