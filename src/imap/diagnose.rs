//! What a failed connection or login means, in plain words: the server's own words out of
//! async-imap's debug text, and for each way a first setup goes wrong (a host not found, a
//! port that refuses, TLS spoken to a plain port or the reverse, a certificate tend cannot
//! trust, a refused login) the sentence that says what to change in the mailbox file.
//!
//! It only words errors; connecting, and deciding what is retried, stay in `connect`.

use crate::config::{ImapConfig, Secret, Security};
use tokio_rustls::rustls::{self, CertificateError};

/// The server's words in one of async-imap's NO/BAD errors, which it formats with Rust's
/// debug text (`code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")`).
/// A response code async-imap parsed apart is put back in brackets, as the server sent it.
pub fn server_words(raw: &str) -> String {
    let Some(rest) = raw.strip_prefix("code: ") else {
        return raw.to_string();
    };
    let Some((code, info)) = rest.split_once(", info: ") else {
        return raw.to_string();
    };
    let code = code
        .strip_prefix("Some(")
        .and_then(|c| c.strip_suffix(')'))
        .filter(|c| c.chars().all(|ch| ch.is_ascii_alphanumeric()))
        .map(|c| format!("[{}] ", c.to_ascii_uppercase()));
    let info = info
        .strip_prefix("Some(\"")
        .and_then(|i| i.strip_suffix("\")"))
        .map(|i| i.replace("\\\"", "\"").replace("\\\\", "\\"))
        .unwrap_or_default();
    let words = format!("{}{info}", code.unwrap_or_default());
    match words.trim() {
        "" => "(the server gave no reason)".to_string(),
        w => w.to_string(),
    }
}

/// Where the password comes from, as the mailbox file says it, for "check the password".
pub fn password_source(secret: &Secret) -> String {
    match secret {
        Secret::File(path) => format!("password_file {}", path.display()),
        Secret::Command(cmd) => format!("password_command {cmd:?}"),
        Secret::Credential(name) => format!("password_credential {name:?}"),
    }
}

/// The hint after a refused login, with a space before it; none for OAuth2, whose refusal
/// says itself what to do (`tend auth NAME`).
pub fn refused_hint(cfg: &ImapConfig) -> String {
    match &cfg.auth {
        crate::config::Auth::Password(secret) => format!(
            " Check the password ({}) or use an app password (Gmail, iCloud, Yahoo and \
             Fastmail refuse the account password when two-step login is on)",
            password_source(secret)
        ),
        crate::config::Auth::OAuth2(_) => String::new(),
    }
}

/// A failed TCP connect: refused, unreachable, or the host not found.
pub fn tcp_failure(cfg: &ImapConfig, err: &std::io::Error) -> String {
    let at = format!("{}:{}", cfg.host, cfg.port);
    match err.kind() {
        std::io::ErrorKind::ConnectionRefused => format!(
            "{at} refused the connection: nothing listens on port {}; check [imap] port \
             ({} for security = {:?})",
            cfg.port,
            usual_port(cfg.security),
            security_word(cfg.security)
        ),
        _ => format!("cannot connect to {at}: {err}"),
    }
}

/// A host name that does not resolve.
pub fn not_found(cfg: &ImapConfig, err: &std::io::Error) -> String {
    format!(
        "the host {:?} was not found (DNS: {err}); check [imap] host",
        cfg.host
    )
}

/// A TLS handshake that failed: a certificate tend cannot trust, or a port that does not
/// speak TLS. `None` when the error is none of those (then the raw error says it best).
pub fn tls_failure(cfg: &ImapConfig, err: &std::io::Error) -> Option<String> {
    let tls = err.get_ref()?.downcast_ref::<rustls::Error>()?;
    let host = &cfg.host;
    let text = match tls {
        rustls::Error::InvalidMessage(_) => format!(
            "port {} does not speak TLS (the server answered in plain text): is it 143 with \
             security = \"starttls\"? (or port 993 with security = \"tls\")",
            cfg.port
        ),
        rustls::Error::InvalidCertificate(cert) => match cert {
            // A system root of the same name that did not sign it (Debian's snakeoil
            // certificate is also "localhost") fails on the signature, not the issuer: to the
            // user it is the same unknown authority.
            CertificateError::UnknownIssuer
            | CertificateError::BadSignature
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => format!(
                "the certificate of {host} is not signed by a known authority; if the server \
                 uses a private CA or a self-signed certificate, set [imap] ca_file = \
                 \"/etc/tend/{host}.pem\" (the CA's certificate, PEM){}",
                match &cfg.ca_file {
                    Some(ca) => format!(" (now {}: it did not sign this one)", ca.display()),
                    None => String::new(),
                }
            ),
            CertificateError::NotValidForName => format!(
                "the certificate of {host} is for another name; set [imap] host to the name \
                 it carries"
            ),
            CertificateError::NotValidForNameContext { presented, .. } => format!(
                "the certificate of {host} is for {}, not {host:?}; set [imap] host to one \
                 of those names",
                if presented.is_empty() {
                    "no name at all".to_string()
                } else {
                    presented.join(", ")
                }
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
                "the certificate of {host} has expired ({cert}); the server's admin must renew it"
            ),
            other => format!("the certificate of {host} is not accepted: {other}"),
        },
        _ => return None,
    };
    Some(text)
}

/// A plain connection that got no greeting, from a server that does speak TLS on that port.
pub fn expects_tls(cfg: &ImapConfig) -> String {
    format!(
        "port {} expects TLS from the first byte (it sent no greeting in plain text, and \
         answers a TLS handshake): set security = \"tls\" (or port 143 with security = \
         \"starttls\")",
        cfg.port
    )
}

fn usual_port(security: Security) -> u16 {
    match security {
        Security::Tls => 993,
        Security::StartTls | Security::Plain => 143,
    }
}

fn security_word(security: Security) -> &'static str {
    match security {
        Security::Tls => "tls",
        Security::StartTls => "starttls",
        Security::Plain => "plain",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_words_drop_the_debug_text() {
        assert_eq!(
            server_words(
                r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#
            ),
            "[AUTHENTICATIONFAILED] Authentication failed."
        );
        assert_eq!(
            server_words(r#"code: Some(Alert), info: Some("Say \"hi\"")"#),
            "[ALERT] Say \"hi\""
        );
        assert_eq!(
            server_words("code: None, info: None"),
            "(the server gave no reason)"
        );
        assert_eq!(server_words("LOGIN failed."), "LOGIN failed.");
    }

    fn cfg() -> ImapConfig {
        ImapConfig {
            host: "imap.example.com".into(),
            port: 993,
            security: Security::Tls,
            username: "alice".into(),
            auth: crate::config::Auth::Password(Secret::File("/etc/tend/alice.password".into())),
            ca_file: None,
            timeout: std::time::Duration::from_secs(5),
        }
    }

    fn tls_error(err: CertificateError) -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(err),
        )
    }

    #[test]
    fn a_certificate_for_another_name_names_the_host_and_its_names() {
        let err = tls_error(CertificateError::NotValidForNameContext {
            expected: rustls::pki_types::ServerName::try_from("imap.example.com").unwrap(),
            presented: vec!["mail.example.net".into(), "*.example.net".into()],
        });
        let said = tls_failure(&cfg(), &err).unwrap();
        assert_eq!(
            said,
            "the certificate of imap.example.com is for mail.example.net, *.example.net, not \
             \"imap.example.com\"; set [imap] host to one of those names"
        );
    }

    #[test]
    fn an_unknown_issuer_names_ca_file() {
        let said = tls_failure(&cfg(), &tls_error(CertificateError::UnknownIssuer)).unwrap();
        assert!(said.contains("set [imap] ca_file"), "{said}");
        let plain = std::io::Error::other("something else");
        assert_eq!(tls_failure(&cfg(), &plain), None);
    }

    #[test]
    fn a_refused_login_names_the_password_source() {
        let hint = refused_hint(&cfg());
        assert!(
            hint.starts_with(" Check the password (password_file /etc/tend/alice.password)"),
            "{hint}"
        );
        assert!(hint.contains("app password"), "{hint}");
    }
}
