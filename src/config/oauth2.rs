//! How a mailbox logs in (`[imap] auth`): a password, or OAuth2, either from a refresh token
//! tend keeps (`[imap.oauth2]`: the provider's endpoints, the client registered there and the
//! scopes) or from the admin's own `oauth2_token_command` printing an access token. The checked
//! values are [`Auth`]; where the refresh token is stored is decided by `config::load` (it is
//! under the state directory, which a mailbox file does not know).
//!
//! It does not talk to a provider or read a token: `crate::oauth2` does.

use super::raw::RawOAuth2;
use super::secret::{one_secret, Secret};
use std::path::{Path, PathBuf};

/// How a mailbox proves who it is to the IMAP server.
#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    /// `LOGIN` with this password.
    Password(Secret),
    /// SASL XOAUTH2 or OAUTHBEARER with an access token.
    OAuth2(OAuth2),
}

/// Where the access tokens of an OAuth2 mailbox come from.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuth2 {
    /// The mailbox's name, for "run `tend auth NAME` again".
    pub mailbox: String,
    pub source: TokenSource,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TokenSource {
    /// `oauth2_token_command`: prints a fresh access token each time it runs.
    Command(String),
    /// tend refreshes the access token itself from a stored refresh token.
    Refresh(OAuth2Client),
}

/// The client registered at the identity provider, and the refresh token's file.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuth2Client {
    pub token_endpoint: String,
    /// Where `tend auth` sends the browser (the loopback-redirect flow).
    pub authorization_endpoint: Option<String>,
    /// RFC 8628 device authorization, where the provider offers it for mail scopes.
    pub device_authorization_endpoint: Option<String>,
    pub client_id: String,
    /// Public clients (installed apps at Microsoft) have none.
    pub client_secret: Option<Secret>,
    pub scopes: Vec<String>,
    /// `<state_dir>/oauth2/NAME.json`: the refresh token, mode 600.
    pub token_file: PathBuf,
}

impl OAuth2Client {
    /// The scopes as one space-separated string, as the token endpoint takes them.
    pub fn scope(&self) -> String {
        self.scopes.join(" ")
    }
}

/// The file of mailbox `name`'s refresh token under `state_dir`.
pub fn token_file(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join("oauth2").join(format!("{name}.json"))
}

/// Puts each OAuth2 mailbox's refresh token under `state_dir`, which a mailbox file does not
/// know.
pub(super) fn place_token_files(mailboxes: &mut [super::MailboxConfig], state_dir: &Path) {
    for mb in mailboxes.iter_mut() {
        if let Auth::OAuth2(OAuth2 {
            source: TokenSource::Refresh(client),
            ..
        }) = &mut mb.imap.auth
        {
            client.token_file = token_file(state_dir, &mb.name);
        }
    }
}

/// The `auth`-related keys of `[imap]`, still unchecked.
pub(super) struct RawAuth {
    pub(super) auth: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) password_command: Option<String>,
    pub(super) password_credential: Option<String>,
    pub(super) oauth2_token_command: Option<String>,
    pub(super) oauth2: Option<RawOAuth2>,
}

/// Checks the keys of one way to log in and refuses the keys of the other.
pub(super) fn check(raw: RawAuth, dir: &Path, name: &str) -> Result<Auth, String> {
    let has_password = raw.password_file.is_some()
        || raw.password_command.is_some()
        || raw.password_credential.is_some();
    match raw.auth.as_deref().unwrap_or("password") {
        "password" => {
            if raw.oauth2.is_some() || raw.oauth2_token_command.is_some() {
                return Err(
                    "key `imap.auth`: OAuth2 keys are given but `auth` is not \"oauth2\"; \
                            add auth = \"oauth2\" or remove them"
                        .into(),
                );
            }
            let password = one_secret(
                "imap.password_file",
                raw.password_file.map(|p| dir.join(p)),
                raw.password_command,
                raw.password_credential,
                true,
            )?
            .ok_or_else(|| "key `imap.password_file`: missing".to_string())?;
            Ok(Auth::Password(password))
        }
        "oauth2" => {
            if has_password {
                return Err(
                    "key `imap.auth`: \"oauth2\" logs in with a token, not a password; \
                            remove the `password_*` key"
                        .into(),
                );
            }
            let source = match (raw.oauth2_token_command, raw.oauth2) {
                (Some(_), Some(_)) => {
                    return Err("key `imap.oauth2_token_command`: give either it or an \
                                `[imap.oauth2]` table, not both"
                        .into())
                }
                (Some(cmd), None) => TokenSource::Command(cmd),
                (None, Some(o)) => TokenSource::Refresh(client(o, dir, name)?),
                (None, None) => {
                    return Err(
                        "key `imap.auth`: \"oauth2\" needs an `[imap.oauth2]` table (or a \
                                `provider` that fills it) or `imap.oauth2_token_command`"
                            .into(),
                    )
                }
            };
            Ok(Auth::OAuth2(OAuth2 {
                mailbox: name.to_string(),
                source,
            }))
        }
        other => Err(format!(
            "key `imap.auth`: {other:?} is not one of \"password\", \"oauth2\""
        )),
    }
}

fn client(o: RawOAuth2, dir: &Path, name: &str) -> Result<OAuth2Client, String> {
    let token_endpoint = o.token_endpoint.ok_or(
        "key `imap.oauth2.token_endpoint`: missing (the provider's token URL, or set `provider`)",
    )?;
    for (key, url) in [
        ("token_endpoint", Some(&token_endpoint)),
        ("authorization_endpoint", o.authorization_endpoint.as_ref()),
        (
            "device_authorization_endpoint",
            o.device_authorization_endpoint.as_ref(),
        ),
    ] {
        if let Some(url) = url {
            check_url(key, url)?;
        }
    }
    let client_id = o
        .client_id
        .filter(|c| !c.trim().is_empty())
        .ok_or("key `imap.oauth2.client_id`: missing (the id of the app you registered)")?;
    let client_secret = one_secret(
        "imap.oauth2.client_secret_file",
        o.client_secret_file.map(|p| dir.join(p)),
        o.client_secret_command,
        o.client_secret_credential,
        false,
    )?;
    let scopes = o.scopes.unwrap_or_default();
    if scopes.is_empty()
        || scopes
            .iter()
            .any(|s| s.trim().is_empty() || s.contains(' '))
    {
        return Err(
            "key `imap.oauth2.scopes`: list the scopes, one per string, such as \
             [\"https://mail.google.com/\"]"
                .into(),
        );
    }
    Ok(OAuth2Client {
        token_endpoint,
        authorization_endpoint: o.authorization_endpoint,
        device_authorization_endpoint: o.device_authorization_endpoint,
        client_id,
        client_secret,
        scopes,
        // `config::load` puts it under the configured state directory.
        token_file: token_file(Path::new("/var/lib/tend"), name),
    })
}

/// An endpoint is https://, or http:// only on loopback (tokens cross it).
fn check_url(key: &str, url: &str) -> Result<(), String> {
    if url.starts_with("https://") {
        return Ok(());
    }
    match url.strip_prefix("http://") {
        Some(rest) if super::is_loopback(super::url_host(rest)) => Ok(()),
        Some(_) => Err(format!(
            "key `imap.oauth2.{key}`: http:// sends tokens unencrypted and is allowed only to a \
             loopback host; use https://"
        )),
        None => Err(format!(
            "key `imap.oauth2.{key}`: {url:?} is not an https:// URL"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(auth: Option<&str>, oauth2: Option<RawOAuth2>) -> RawAuth {
        RawAuth {
            auth: auth.map(String::from),
            password_file: None,
            password_command: None,
            password_credential: None,
            oauth2_token_command: None,
            oauth2,
        }
    }

    fn table(endpoint: &str) -> RawOAuth2 {
        RawOAuth2 {
            token_endpoint: Some(endpoint.into()),
            client_id: Some("app".into()),
            scopes: Some(vec!["mail".into()]),
            ..RawOAuth2::default()
        }
    }

    #[test]
    fn oauth2_needs_a_client_and_refuses_a_password() {
        let dir = Path::new("/etc/tend/mailboxes");
        let ok = check(
            raw(Some("oauth2"), Some(table("https://id.test/token"))),
            dir,
            "a",
        );
        assert!(matches!(ok, Ok(Auth::OAuth2(_))), "{ok:?}");
        let mut with_pw = raw(Some("oauth2"), Some(table("https://id.test/token")));
        with_pw.password_command = Some("pass show x".into());
        assert!(check(with_pw, dir, "a").unwrap_err().contains("password_"));
        let no_id = RawOAuth2 {
            client_id: None,
            ..table("https://id.test/token")
        };
        let err = check(raw(Some("oauth2"), Some(no_id)), dir, "a").unwrap_err();
        assert!(err.contains("`imap.oauth2.client_id`"), "{err}");
        let err = check(raw(Some("oauth2"), None), dir, "a").unwrap_err();
        assert!(err.contains("oauth2_token_command"), "{err}");
        let err = check(raw(None, Some(table("https://id.test/token"))), dir, "a").unwrap_err();
        assert!(err.contains("auth = \"oauth2\""), "{err}");
        let err = check(raw(Some("kerberos"), None), dir, "a").unwrap_err();
        assert!(err.contains("\"password\", \"oauth2\""), "{err}");
    }

    #[test]
    fn token_endpoints_are_https_or_loopback() {
        let dir = Path::new(".");
        assert!(check(
            raw(Some("oauth2"), Some(table("http://127.0.0.1:9/t"))),
            dir,
            "a"
        )
        .is_ok());
        let err = check(
            raw(Some("oauth2"), Some(table("http://id.test/token"))),
            dir,
            "a",
        )
        .unwrap_err();
        assert!(err.contains("loopback"), "{err}");
    }
}
