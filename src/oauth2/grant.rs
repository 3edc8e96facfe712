//! One POST to a token endpoint (RFC 6749 section 3.2): form-encoded parameters in, the JSON
//! token response or the JSON error response out. The refresh grant of the daemon and the
//! grants of `tend auth` (authorization code, device code) all go through [`post`].
//!
//! It does not decide what an error means for the login; its callers do.

use anyhow::Context;
use serde::Deserialize;
use std::time::Duration;

/// A token endpoint that does not answer in this time is down, not slow.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A successful token response.
#[derive(Debug, Deserialize)]
pub struct Granted {
    pub access_token: String,
    /// Seconds the access token lives; absent means the provider did not say.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// A new refresh token: the provider rotates them, the old one is dead from now on.
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

/// Why a grant gave no token.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The endpoint answered with an OAuth2 error (`invalid_grant`, `authorization_pending`...).
    #[error("the token endpoint said {code}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Said {
        code: String,
        description: Option<String>,
    },
    /// No answer, or not one in OAuth2's terms.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// POSTs `params` to a token endpoint and reads the token response.
pub async fn post(endpoint: &str, params: &[(&str, &str)]) -> Result<Granted, GrantError> {
    post_json(endpoint, params).await
}

/// POSTs `params` to `endpoint` and reads a JSON answer of type `T`, or an OAuth2 error.
pub async fn post_json<T: serde::de::DeserializeOwned>(
    endpoint: &str,
    params: &[(&str, &str)],
) -> Result<T, GrantError> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .context("building the HTTP client")?;
    let resp = client
        .post(endpoint)
        .header("Accept", "application/json")
        .form(params)
        .send()
        .await
        .with_context(|| format!("POST {endpoint}"))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .with_context(|| format!("reading the answer of {endpoint}"))?;
    if status.is_success() {
        let granted: T = serde_json::from_slice(&body)
            .with_context(|| format!("{endpoint} answered {status} with JSON of another shape"))?;
        return Ok(granted);
    }
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(e) => Err(GrantError::Said {
            code: e.error,
            description: e.error_description,
        }),
        Err(_) => Err(GrantError::Other(anyhow::anyhow!(
            "{endpoint} answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ))),
    }
}
