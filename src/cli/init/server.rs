//! The server questions of `tend init`: a provider preset (guessed from the address's domain)
//! or the server's host, security, port and user name; then how it logs in, a password typed
//! without echo or an OAuth2 client (and, for a server without a preset, its endpoints).
//!
//! It only asks: the answers go into the mailbox file through `render`, the secret is stored
//! by `init` once every question is answered.

use super::render::{Endpoints, Login, Server};
use super::{ask, say};
use anyhow::{Context, Result};

/// The presets `config` knows, offered in this order, and the first labels of the domains
/// that suggest each (hotmail.de as well as hotmail.com).
const PRESETS: &[(&str, &str, &[&str])] = &[
    ("gmail", "gmail (Google)", &["gmail", "googlemail"]),
    (
        "microsoft365",
        "microsoft365 (Outlook.com, Hotmail, Microsoft 365)",
        &["outlook", "hotmail", "live", "msn"],
    ),
    ("fastmail", "fastmail", &["fastmail"]),
    ("icloud", "icloud (iCloud Mail)", &["icloud", "me", "mac"]),
    ("yahoo", "yahoo (Yahoo Mail)", &["yahoo", "ymail"]),
];

/// The server (a preset or asked), the IMAP user name, how it logs in, and the secret to store
/// (the password, or the OAuth2 client's secret).
pub(super) fn server_and_login(
    address: &str,
    domain: &str,
) -> Result<(Server, String, Login, Option<String>)> {
    let mut labels: Vec<&str> = PRESETS.iter().map(|p| p.1).collect();
    labels.push("other server (its host name)");
    let guess = guess(domain).unwrap_or(PRESETS.len());
    let chosen = ask::choose("Where is the mailbox?", &labels, guess)?;
    if let Some((preset, ..)) = PRESETS.get(chosen) {
        let oauth = matches!(*preset, "gmail" | "microsoft365")
            && ask::choose(
                "How does tend log in?",
                &[
                    "OAuth2: you allow it on the provider's page (recommended)",
                    "an app password",
                ],
                0,
            )? == 0;
        let (login, secret) = if oauth {
            oauth2_client(None)?
        } else {
            say("An app password: made in the provider's account security settings (your usual password is usually refused for IMAP).");
            (
                Login::Password,
                Some(ask::secret("The app password (not shown)", false)?),
            )
        };
        return Ok((Server::Preset(preset), address.to_string(), login, secret));
    }
    let host = ask::line(
        "The IMAP server's host name",
        Some(&format!("imap.{domain}")),
        |h| {
            (h.is_empty() || h.contains(['/', ' ', ':']))
                .then(|| "a host name or address".to_string())
        },
    )?;
    let security = loop {
        let s = ask::choose(
            "Its security",
            &[
                "tls (port 993)",
                "starttls (port 143, upgraded to TLS)",
                "plain (no encryption: only to this machine)",
            ],
            0,
        )?;
        match s {
            0 => break "tls",
            1 => break "starttls",
            _ if is_loopback(&host) => break "plain",
            _ => say(&format!("plain sends the password in clear text: only to this machine (127.0.0.1, localhost), not {host:?}.")),
        }
    };
    let default_port = if security == "tls" { "993" } else { "143" };
    let port: u16 = ask::line("Its port", Some(default_port), |p| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .is_none()
            .then(|| "a port number".to_string())
    })?
    .parse()
    .context("the port")?;
    let username = ask::line("The IMAP user name", Some(address), |u| {
        u.is_empty().then(|| "the user name".to_string())
    })?;
    let how = ask::choose("How does tend log in?", &["a password", "OAuth2"], 0)?;
    let (login, secret) = if how == 0 {
        (
            Login::Password,
            Some(ask::secret("The password (not shown)", false)?),
        )
    } else {
        oauth2_client(Some(oauth2_endpoints()?))?
    };
    Ok((
        Server::Own {
            host,
            port,
            security,
        },
        username,
        login,
        secret,
    ))
}

/// The OAuth2 client registered at the provider (README: Google Cloud console, Microsoft Entra).
fn oauth2_client(endpoints: Option<Endpoints>) -> Result<(Login, Option<String>)> {
    // A first-time user has no client yet and would not know what the question means.
    say(
        "OAuth2 needs an app of your own at the provider: at Google a \"Desktop app\" client in the \
         Cloud console (Gmail API enabled, the app published, not left in \"Testing\"), at \
         Microsoft an app registration with public client flows allowed. The README's \
         \"Gmail, Google Workspace and Microsoft 365 (OAuth2)\" says what to fill in.",
    );
    let client_id = ask::line(
        "The OAuth2 client ID of the app you registered",
        None,
        |c| {
            c.is_empty()
                .then(|| "the client ID (README: Gmail/Microsoft 365 with OAuth2)".to_string())
        },
    )?;
    let secret = ask::secret("Its client secret (not shown; Enter for none)", true)?;
    let has_secret = !secret.is_empty();
    let login = Login::OAuth2 {
        client_id,
        has_secret,
        endpoints,
    };
    Ok((login, has_secret.then_some(secret)))
}

fn oauth2_endpoints() -> Result<Endpoints> {
    let url = |u: &str| {
        (!(u.starts_with("https://") || u.starts_with("http://")))
            .then(|| "an https:// URL".to_string())
    };
    let token = ask::line("The provider's token endpoint", None, url)?;
    let device = ask::optional("Its device authorization endpoint")?;
    let authorization = match device {
        Some(_) => None,
        None => Some(ask::line(
            "Its authorization endpoint (for the browser)",
            None,
            url,
        )?),
    };
    let scopes = ask::line("The scopes, separated by spaces", None, |s| {
        s.is_empty().then(|| "at least one scope".to_string())
    })?;
    let scopes = scopes
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    Ok(Endpoints {
        token,
        authorization,
        device,
        scopes,
    })
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The preset the address's domain suggests: its first label, at a domain of two labels or a
/// country's (`yahoo.co.uk`).
fn guess(domain: &str) -> Option<usize> {
    let labels: Vec<&str> = domain.split('.').collect();
    let short = labels.len() == 2 || (labels.len() == 3 && labels[1].len() <= 3);
    let first = labels.first()?;
    PRESETS.iter().position(|p| short && p.2.contains(first))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_domain_suggests_the_preset() {
        let name = |d: &str| super::guess(d).map(|i| super::PRESETS[i].0);
        assert_eq!(name("gmail.com"), Some("gmail"));
        assert_eq!(name("googlemail.com"), Some("gmail"));
        assert_eq!(name("hotmail.de"), Some("microsoft365"));
        assert_eq!(name("outlook.com"), Some("microsoft365"));
        assert_eq!(name("me.com"), Some("icloud"));
        assert_eq!(name("yahoo.co.uk"), Some("yahoo"));
        assert_eq!(name("fastmail.fm"), Some("fastmail"));
        assert_eq!(name("acme.test"), None);
        assert_eq!(name("live.acme.example.com"), None);
    }
}
