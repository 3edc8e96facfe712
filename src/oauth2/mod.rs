//! OAuth2 access tokens for IMAP: from the admin's `oauth2_token_command`, or refreshed by tend
//! from the refresh token `tend auth` stored ([`store`]) with the standard refresh_token grant
//! ([`grant`]). An access token is kept in memory with its expiry and refreshed a minute before
//! it ends; a rotated refresh token is written to disk before the access token is used. A
//! refresh token the provider refuses (`invalid_grant`: revoked, expired, a Google app left in
//! "testing" after 7 days) is a [`TokenError::Refused`]: only a new consent helps.
//!
//! This is the second user of reqwest after `llm`: the token HTTP is a form POST with OAuth2's
//! own error body, nothing of the model client (retries, usage, provider dialects) applies, and
//! a shared helper would couple two reasons to change; both use the crate's defaults (rustls).
//!
//! The consent that gives the first refresh token is [`consent`]. It does not speak IMAP (the
//! SASL exchange is `imap::connect`) nor talk to the person (`cli::auth`).

pub mod consent;
pub mod grant;
pub mod store;

use crate::config::{OAuth2, OAuth2Client, Secret, TokenSource};
use anyhow::Context;
use grant::{GrantError, Granted};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// Refresh this long before the access token ends: the login itself and a clock a little off
/// must fit in it.
const MARGIN: Duration = Duration::from_secs(60);

/// What providers give when a response has no `expires_in` (Google's and Microsoft's is 3600).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// Why there is no access token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Only a new consent helps: no stored refresh token, or the provider refused it.
    #[error("{why}; run `tend auth {mailbox}` again")]
    Refused { mailbox: String, why: String },
    /// The provider is unreachable or answered nonsense; worth retrying later.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Access tokens by refresh-token file: they outlive a connection (the daemon reconnects every
/// pass) but not the process, and a token never touches the disk.
static CACHE: LazyLock<Mutex<HashMap<PathBuf, (String, Instant)>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// An access token for `o`. `fresh` skips the cached one: the server has just refused it.
pub async fn access_token(o: &OAuth2, fresh: bool) -> Result<String, TokenError> {
    match &o.source {
        TokenSource::Command(cmd) => Ok(Secret::Command(cmd.clone())
            .reveal()
            .context("running oauth2_token_command")?),
        TokenSource::Refresh(client) => refreshed(client, &o.mailbox, fresh).await,
    }
}

async fn refreshed(
    client: &OAuth2Client,
    mailbox: &str,
    fresh: bool,
) -> Result<String, TokenError> {
    let now = Instant::now();
    if !fresh {
        let cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((token, until)) = cache.get(&client.token_file) {
            if *until > now + MARGIN {
                return Ok(token.clone());
            }
        }
    }
    let refused = |why: String| TokenError::Refused {
        mailbox: mailbox.to_string(),
        why,
    };
    let stored = store::load(&client.token_file)?.ok_or_else(|| {
        refused(format!(
            "no refresh token is stored for this mailbox ({} is missing)",
            client.token_file.display()
        ))
    })?;
    let secret = client
        .client_secret
        .as_ref()
        .map(|s| s.reveal().context("reading the OAuth2 client secret"))
        .transpose()?;
    let mut params = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", stored.refresh_token.as_str()),
        ("client_id", client.client_id.as_str()),
    ];
    if let Some(s) = &secret {
        params.push(("client_secret", s.as_str()));
    }
    let granted = match grant::post(&client.token_endpoint, &params).await {
        Ok(g) => g,
        Err(GrantError::Said { code, description }) if needs_consent(&code) => {
            forget(client);
            let words = description.map(|d| format!(": {d}")).unwrap_or_default();
            return Err(refused(format!(
                "the provider refused the stored refresh token ({code}{words})"
            )));
        }
        Err(GrantError::Said { code, description }) => {
            return Err(anyhow::anyhow!(
                "refreshing the access token at {}: {code} {}",
                client.token_endpoint,
                description.unwrap_or_default()
            )
            .into())
        }
        Err(GrantError::Other(e)) => {
            return Err(e.context("refreshing the OAuth2 access token").into())
        }
    };
    remember(client, &stored.refresh_token, granted, now)
}

/// Stores a rotated refresh token, caches the access token and returns it.
fn remember(
    client: &OAuth2Client,
    old_refresh: &str,
    granted: Granted,
    asked_at: Instant,
) -> Result<String, TokenError> {
    if let Some(new) = granted.refresh_token.filter(|r| r != old_refresh) {
        // At once: the provider has retired the old one.
        store::save(
            &client.token_file,
            &store::Stored {
                refresh_token: new,
                scope: granted.scope.clone(),
                saved_at: chrono::Utc::now().timestamp(),
            },
        )
        .context("storing the rotated refresh token")?;
    }
    let lifetime = granted
        .expires_in
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_LIFETIME);
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    cache.insert(
        client.token_file.clone(),
        (granted.access_token.clone(), asked_at + lifetime),
    );
    Ok(granted.access_token)
}

/// Drops the cached access token of `client`.
fn forget(client: &OAuth2Client) {
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    cache.remove(&client.token_file);
}

/// OAuth2 errors that no retry cures (RFC 6749 section 5.2).
fn needs_consent(code: &str) -> bool {
    matches!(
        code,
        "invalid_grant" | "invalid_client" | "unauthorized_client" | "invalid_scope"
    )
}
