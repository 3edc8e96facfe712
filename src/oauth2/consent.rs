//! The steps of the one-time consent (`tend auth`), without the terminal or the browser: the
//! authorization-code flow with PKCE (RFC 7636) and a loopback redirect (RFC 8252), and the
//! device-code flow (RFC 8628); each ends with the refresh token stored ([`keep`]).
//!
//! It does not print, listen or read stdin: `cli::auth` does, and decides which flow to run.

use super::grant::{self, GrantError, Granted};
use super::store;
use crate::config::OAuth2Client;
use anyhow::{Context, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// A PKCE verifier, its S256 challenge and the `state` that ties a redirect to this run.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
    pub state: String,
}

impl Pkce {
    pub fn new() -> Result<Pkce> {
        let verifier = base64url(&random::<32>()?);
        let challenge = base64url(&Sha256::digest(verifier.as_bytes()));
        let state = base64url(&random::<12>()?);
        Ok(Pkce {
            verifier,
            challenge,
            state,
        })
    }
}

/// Where to send the person: the provider's consent page for `client`'s scopes.
pub fn authorize_url(client: &OAuth2Client, redirect_uri: &str, pkce: &Pkce) -> Result<String> {
    let endpoint = client.authorization_endpoint.as_deref().context(
        "key `imap.oauth2.authorization_endpoint` is missing (the provider's consent page)",
    )?;
    let scope = client.scope();
    let params = [
        ("response_type", "code"),
        ("client_id", client.client_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("scope", scope.as_str()),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", pkce.state.as_str()),
        // Google gives a refresh token only for offline access, and again only on consent.
        ("access_type", "offline"),
        ("prompt", "consent"),
    ];
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    Ok(format!("{endpoint}{sep}{}", query.join("&")))
}

/// The code in a redirect (the whole URL the browser shows, or its query), checked against
/// this run's `state`.
pub fn code_from_redirect(redirected: &str, pkce: &Pkce) -> Result<String> {
    let query = redirected
        .trim()
        .split_once('?')
        .map_or(redirected.trim(), |(_, q)| q);
    let query = query.split('#').next().unwrap_or(query);
    let pairs = decode_form(query);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if let Some(error) = get("error") {
        anyhow::bail!(
            "the provider refused the consent: {error} {}",
            get("error_description").unwrap_or_default()
        );
    }
    anyhow::ensure!(
        get("state").as_deref() == Some(pkce.state.as_str()),
        "the redirect is not from this `tend auth` run (its state differs); start again"
    );
    get("code").context("the redirected URL has no `code`")
}

/// Trades the code for tokens and stores the refresh token.
pub async fn exchange_code(
    client: &OAuth2Client,
    code: &str,
    redirect_uri: &str,
    pkce: &Pkce,
) -> Result<()> {
    let secret = client_secret(client)?;
    let mut params = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", client.client_id.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    if let Some(s) = &secret {
        params.push(("client_secret", s.as_str()));
    }
    let granted = grant::post(&client.token_endpoint, &params)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("trading the code for tokens")?;
    keep(client, granted)
}

/// What the device authorization endpoint answers (RFC 8628 section 3.2).
#[derive(Debug, Deserialize)]
pub struct DeviceCode {
    pub device_code: String,
    pub user_code: String,
    #[serde(alias = "verification_url")]
    pub verification_uri: String,
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    #[serde(default)]
    pub interval: Option<u64>,
}

/// Asks for a user code to show the person.
pub async fn device_start(client: &OAuth2Client) -> Result<DeviceCode> {
    let endpoint = client
        .device_authorization_endpoint
        .as_deref()
        .context("key `imap.oauth2.device_authorization_endpoint` is missing")?;
    let scope = client.scope();
    grant::post_json(
        endpoint,
        &[("client_id", client.client_id.as_str()), ("scope", &scope)],
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
    .with_context(|| format!("asking {endpoint} for a device code"))
}

/// Polls the token endpoint until the person approved (or refused, or the code expired), then
/// stores the refresh token.
pub async fn device_finish(client: &OAuth2Client, device: &DeviceCode) -> Result<()> {
    let secret = client_secret(client)?;
    let mut interval = Duration::from_secs(device.interval.unwrap_or(5).max(1));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(device.expires_in);
    let mut params = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device.device_code.as_str()),
        ("client_id", client.client_id.as_str()),
    ];
    if let Some(s) = &secret {
        params.push(("client_secret", s.as_str()));
    }
    loop {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the code {} expired before it was entered; run `tend auth` again",
            device.user_code
        );
        tokio::time::sleep(interval).await;
        match grant::post(&client.token_endpoint, &params).await {
            Ok(granted) => return keep(client, granted),
            Err(GrantError::Said { code, .. }) if code == "authorization_pending" => {}
            // RFC 8628 section 3.5: every slow_down adds 5 s.
            Err(GrantError::Said { code, .. }) if code == "slow_down" => {
                interval += Duration::from_secs(5)
            }
            Err(e) => return Err(anyhow::anyhow!("{e}").context("waiting for the approval")),
        }
    }
}

/// Stores the refresh token of a fresh consent.
fn keep(client: &OAuth2Client, granted: Granted) -> Result<()> {
    let refresh_token = granted.refresh_token.context(
        "the provider gave no refresh token (the scopes need `offline_access` at Microsoft; \
         at Google revoke the app's access at myaccount.google.com/permissions and retry)",
    )?;
    store::save(
        &client.token_file,
        &store::Stored {
            refresh_token,
            scope: granted.scope,
            saved_at: chrono::Utc::now().timestamp(),
        },
    )?;
    super::forget(client);
    Ok(())
}

fn client_secret(client: &OAuth2Client) -> Result<Option<String>> {
    client
        .client_secret
        .as_ref()
        .map(|s| s.reveal().context("reading the OAuth2 client secret"))
        .transpose()
}

/// `N` bytes from the kernel's random source.
fn random<const N: usize>() -> Result<[u8; N]> {
    use std::io::Read;
    let mut buf = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("reading /dev/urandom")?;
    Ok(buf)
}

/// Base64url without padding (RFC 4648 section 5), as PKCE writes it.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `a=1&b=x%20y` -> pairs, `+` as a space.
fn decode_form(query: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (b[i], hex) {
                (b'%', Some(v)) => {
                    out.push(v);
                    i += 2;
                }
                (b'+', _) => out.push(b' '),
                (c, _) => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (unescape(k), unescape(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_rfc_7636s_example() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            base64url(&Sha256::digest(verifier.as_bytes())),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
    }

    #[test]
    fn a_pasted_redirect_gives_its_code_only_with_our_state() {
        let pkce = Pkce::new().unwrap();
        let url = format!(
            "http://127.0.0.1:5/?state={}&code=4%2F0Ab+x&scope=mail",
            pkce.state
        );
        assert_eq!(code_from_redirect(&url, &pkce).unwrap(), "4/0Ab x");
        let other = "http://127.0.0.1:5/?state=nope&code=c";
        assert!(code_from_redirect(other, &pkce).is_err());
        let denied = format!("?error=access_denied&state={}", pkce.state);
        let err = code_from_redirect(&denied, &pkce).unwrap_err();
        assert!(err.to_string().contains("access_denied"), "{err}");
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
