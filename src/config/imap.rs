//! The `[imap]` table of a mailbox file -> [`ImapConfig`]: server, security (plaintext only to
//! loopback), port defaults, how to log in (`oauth2::check`), timeout.
//!
//! It does not apply a `provider` preset (`presets`, before this) and opens no connection.

use super::raw::RawImap;
use super::{is_loopback, oauth2, ImapConfig, Security};
use std::path::Path;
use std::time::Duration;

pub(super) fn check(raw: RawImap, dir: &Path, name: &str) -> Result<ImapConfig, String> {
    let host = raw
        .host
        .ok_or("key `imap.host`: missing (the IMAP server, or set `provider`)")?;
    let security = match raw.security.as_deref().unwrap_or("tls") {
        "tls" => Security::Tls,
        "starttls" => Security::StartTls,
        "plain" => Security::Plain,
        other => {
            return Err(format!(
                "key `imap.security`: {other:?} is not one of \"tls\", \"starttls\", \"plain\""
            ))
        }
    };
    if security == Security::Plain && !is_loopback(&host) {
        return Err(format!(
            "key `imap.security`: \"plain\" sends the password unencrypted and is allowed only to a loopback host, not {:?}",
            host
        ));
    }
    let port = raw.port.unwrap_or(match security {
        Security::Tls => 993,
        Security::StartTls | Security::Plain => 143,
    });
    let auth = oauth2::check(
        oauth2::RawAuth {
            auth: raw.auth,
            password_file: raw.password_file,
            password_command: raw.password_command,
            password_credential: raw.password_credential,
            oauth2_token_command: raw.oauth2_token_command,
            oauth2: raw.oauth2,
        },
        dir,
        name,
    )?;
    let timeout = raw.timeout_seconds.unwrap_or(60);
    if timeout == 0 {
        return Err("key `imap.timeout_seconds`: must be at least 1".into());
    }
    Ok(ImapConfig {
        host,
        port,
        security,
        username: raw.username,
        auth,
        ca_file: raw.ca_file.map(|p| dir.join(p)),
        timeout: Duration::from_secs(timeout),
    })
}
