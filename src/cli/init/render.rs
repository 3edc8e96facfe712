//! The files `tend init` writes, made from the shipped, commented examples (config/tend.toml
//! and config/mailboxes/example.toml, compiled in): each chosen value replaces the example's
//! line for its key, so every comment stays where the admin will look for it. Values are
//! quoted by the toml crate, so any address, host or path is a valid TOML string.
//!
//! It writes nothing and checks no value: the answers were checked when asked, the result is
//! loaded by `config` before anything relies on it.

use anyhow::Result;

const TEND_TOML: &str = include_str!("../../../config/tend.toml");
const MAILBOX_TOML: &str = include_str!("../../../config/mailboxes/example.toml");

/// Is `text` the shipped tend.toml, unchanged (as the package installs it)?
pub(super) fn is_shipped_tend_toml(text: &str) -> bool {
    text == TEND_TOML
}

/// How the mailbox logs in, as written in its file.
pub(super) enum Login {
    /// `password_credential = "tend_NAME"`.
    Password,
    /// `auth = "oauth2"` and the `[imap.oauth2]` table.
    OAuth2 {
        client_id: String,
        /// `client_secret_credential = "tend_NAME_oauth"`.
        has_secret: bool,
        /// The endpoints and scopes, for a server without a preset.
        endpoints: Option<Endpoints>,
    },
}

pub(super) struct Endpoints {
    pub token: String,
    pub authorization: Option<String>,
    pub device: Option<String>,
    pub scopes: Vec<String>,
}

/// Where the server is: a preset's name, or the server itself.
pub(super) enum Server {
    Preset(&'static str),
    Own {
        host: String,
        port: u16,
        /// "tls", "starttls" or "plain".
        security: &'static str,
    },
}

pub(super) struct Mailbox<'a> {
    pub name: &'a str,
    pub address: &'a str,
    /// `None` at a free-mail domain: nobody there is a colleague.
    pub domain: Option<&'a str>,
    pub timezone: &'a str,
    pub server: Server,
    pub username: &'a str,
    pub login: Login,
    /// The credentials folder, named in the comments (how to run by hand).
    pub credentials: &'a str,
}

/// The model as tend.toml's `[llm]` says it.
pub(super) struct Model<'a> {
    /// "openai" or "anthropic".
    pub provider: &'a str,
    pub base_url: &'a str,
    pub model: &'a str,
    /// The credential file's name (`openai`, `anthropic`), when the server needs a key.
    pub key_file: Option<&'a str>,
    pub credentials: &'a str,
}

/// A TOML string: quoted and escaped.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Replaces the one line of `text` that is exactly `old` (the example's) by `new`.
fn set(text: &mut String, old: &str, new: &str) -> Result<()> {
    let found: Vec<usize> = text.match_indices(old).map(|(at, _)| at).collect();
    let whole = |at: &usize| {
        (*at == 0 || text.as_bytes()[at - 1] == b'\n') && text[at + old.len()..].starts_with('\n')
    };
    let at = match found.iter().filter(|at| whole(at)).collect::<Vec<_>>()[..] {
        [at] => *at,
        // The shipped example changed under us: a test of this module says so first.
        _ => anyhow::bail!("the shipped example has no single line {old:?}"),
    };
    text.replace_range(at..at + old.len(), new);
    Ok(())
}

pub(super) fn mailbox_file(m: &Mailbox, path: &str) -> Result<String> {
    let mut t = MAILBOX_TOML.to_string();
    let name = m.name;
    set(
        &mut t,
        "# /etc/tend/mailboxes/example.toml: one watched mailbox (this one is named \"example\").",
        &format!(
            "# {path}: one watched mailbox, named {} after its file.\n\
             # Written by `tend init` from the shipped example; edit it freely.",
            quote(name)
        ),
    )?;
    set(
        &mut t,
        "addresses = [\"alice@example.com\", \"sales@example.com\"]",
        &format!("addresses = [{}]", quote(m.address)),
    )?;
    let domains = match m.domain {
        Some(d) => format!("internal_domains = [{}]", quote(d)),
        None => "# (a free-mail domain: nobody else there is a colleague)\ninternal_domains = []"
            .to_string(),
    };
    set(&mut t, "internal_domains = [\"example.com\"]", &domains)?;
    set(
        &mut t,
        "timezone = \"Europe/Berlin\"",
        &format!("timezone = {}", quote(m.timezone)),
    )?;
    set(
        &mut t,
        "name = \"Alice Example\"",
        "# name = \"Alice Example\"",
    )?;
    set(&mut t, "signature = \"\"\"", "# signature = \"\"\"")?;
    set(&mut t, "Alice Example", "# Alice Example")?;
    set(
        &mut t,
        "Example GmbH | +49 30 1234567\"\"\"",
        "# Example GmbH | +49 30 1234567\"\"\"",
    )?;
    match &m.server {
        Server::Preset(p) => {
            set(
                &mut t,
                "# provider = \"fastmail\"",
                &format!("provider = {}", quote(p)),
            )?;
            let filled = format!("(filled by provider = {})", quote(p));
            set(
                &mut t,
                "host = \"imap.fastmail.com\"",
                &format!("# host {filled}"),
            )?;
            set(&mut t, "port = 993", &format!("# port {filled}"))?;
            set(
                &mut t,
                "security = \"tls\"",
                &format!("# security {filled}"),
            )?;
        }
        Server::Own {
            host,
            port,
            security,
        } => {
            set(
                &mut t,
                "host = \"imap.fastmail.com\"",
                &format!("host = {}", quote(host)),
            )?;
            set(&mut t, "port = 993", &format!("port = {port}"))?;
            set(
                &mut t,
                "security = \"tls\"",
                &format!("security = {}", quote(security)),
            )?;
        }
    }
    set(
        &mut t,
        "username = \"alice@example.com\"",
        &format!("username = {}", quote(m.username)),
    )?;
    let creds = m.credentials;
    let credential = quote(&format!("tend_{name}"));
    match &m.login {
        Login::Password => set(
            &mut t,
            "password_credential = \"tend_alice\"",
            &format!(
                "# tend init stored the password in {creds}/{name} (mode 600).\n\
                 # The service gets it as the credential {credential}, as does `tendctl`\n\
                 # (README). To run tend by hand without either (as the file's owner), replace\n\
                 # the next line by:\n\
                 #   password_file = {}\n\
                 password_credential = {credential}",
                quote(&format!("{creds}/{name}"))
            ),
        )?,
        Login::OAuth2 {
            client_id,
            has_secret,
            endpoints,
        } => {
            set(
                &mut t,
                "password_credential = \"tend_alice\"",
                &format!("# password_credential = {credential}"),
            )?;
            set(&mut t, "# auth = \"oauth2\"", "auth = \"oauth2\"")?;
            set(&mut t, "# [imap.oauth2]", "[imap.oauth2]")?;
            set(
                &mut t,
                "# client_id = \"1234567890-abc.apps.googleusercontent.com\"",
                &format!("client_id = {}", quote(client_id)),
            )?;
            if *has_secret {
                set(
                    &mut t,
                    "# client_secret_credential = \"tend_alice_oauth\"",
                    &format!(
                        "# tend init stored it in {creds}/{name}_oauth (mode 600). By hand,\n\
                         # without the service or `tendctl`, use instead:\n\
                         #   client_secret_file = {}\n\
                         client_secret_credential = {}",
                        quote(&format!("{creds}/{name}_oauth")),
                        quote(&format!("tend_{name}_oauth"))
                    ),
                )?;
            }
            if let Some(e) = endpoints {
                oauth2_endpoints(&mut t, e)?;
            }
        }
    }
    Ok(t)
}

fn oauth2_endpoints(t: &mut String, e: &Endpoints) -> Result<()> {
    set(
        t,
        "# token_endpoint = \"https://oauth2.googleapis.com/token\"",
        &format!("token_endpoint = {}", quote(&e.token)),
    )?;
    if let Some(a) = &e.authorization {
        set(
            t,
            "# authorization_endpoint = \"https://accounts.google.com/o/oauth2/v2/auth\"",
            &format!("authorization_endpoint = {}", quote(a)),
        )?;
    }
    if let Some(d) = &e.device {
        set(
            t,
            "# device_authorization_endpoint = \"https://login.microsoftonline.com/common/oauth2/v2.0/devicecode\"",
            &format!("device_authorization_endpoint = {}", quote(d)),
        )?;
    }
    let scopes: Vec<String> = e.scopes.iter().map(|s| quote(s)).collect();
    set(
        t,
        "# scopes = [\"https://mail.google.com/\"]",
        &format!("scopes = [{}]", scopes.join(", ")),
    )
}

pub(super) fn tend_toml(m: &Model, path: &str) -> Result<String> {
    let mut t = TEND_TOML.to_string();
    set(
        &mut t,
        "# /etc/tend/tend.toml: settings shared by every mailbox.",
        &format!("# {path}: settings shared by every mailbox (written by `tend init`)."),
    )?;
    set(
        &mut t,
        "provider = \"openai\"",
        &format!("provider = {}", quote(m.provider)),
    )?;
    set(
        &mut t,
        "base_url = \"https://api.openai.com/v1\"",
        &format!("base_url = {}", quote(m.base_url)),
    )?;
    set(
        &mut t,
        "model = \"gpt-4o-mini\"",
        &format!("model = {}", quote(m.model)),
    )?;
    let creds = m.credentials;
    let key = match m.key_file {
        Some(file) => format!(
            "# tend init stored the key in {creds}/{file} (mode 600), the credential {}.\n\
             # To run tend by hand without the service or `tendctl`, use instead:\n\
             #   api_key_file = {}\n\
             api_key_credential = {}",
            quote(&format!("tend_{file}")),
            quote(&format!("{creds}/{file}")),
            quote(&format!("tend_{file}")),
        ),
        None => "# api_key_credential = \"tend_openai\"".to_string(),
    };
    set(&mut t, "api_key_credential = \"tend_openai\"", &key)?;
    Ok(t)
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
