//! `tend auth NAME`: the one-time OAuth2 consent for a mailbox. Where the provider offers the
//! device flow for mail (`device_authorization_endpoint`, Microsoft) it prints a code to enter
//! on any device; otherwise (Google) it prints the consent page's address and waits for the
//! browser's redirect on a loopback port, or for the redirected address pasted into the
//! terminal when the browser runs on another machine and cannot reach this one.
//!
//! It does the terminal and the listening; the protocol steps are `oauth2::consent`.

use crate::config::{Auth, Config, OAuth2, OAuth2Client, TokenSource};
use crate::oauth2::consent::{self, Pkce};
use anyhow::{Context, Result};
use std::io::Write;
use std::process::ExitCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub async fn run(config: &Config, name: &str) -> Result<ExitCode> {
    let mb = config
        .mailboxes
        .iter()
        .find(|m| m.name == name)
        .with_context(|| {
            let names: Vec<&str> = config.mailboxes.iter().map(|m| m.name.as_str()).collect();
            format!(
                "no mailbox {name:?}; the mailboxes are: {}",
                names.join(", ")
            )
        })?;
    let client = match &mb.imap.auth {
        Auth::OAuth2(OAuth2 {
            source: TokenSource::Refresh(client),
            ..
        }) => client,
        Auth::OAuth2(_) => anyhow::bail!(
            "mailbox {name:?} gets its tokens from `oauth2_token_command`; there is nothing to \
             consent to here"
        ),
        Auth::Password(_) => anyhow::bail!(
            "mailbox {name:?} logs in with a password; set `auth = \"oauth2\"` (or a `provider`) \
             in {} first",
            mb.file.display()
        ),
    };
    consent(client, name).await?;
    Ok(ExitCode::SUCCESS)
}

/// The consent for mailbox `name` with `client`, the device flow where offered, and the
/// refresh token stored; `tend init` runs it too, right after writing the mailbox file.
pub(super) async fn consent(client: &OAuth2Client, name: &str) -> Result<()> {
    if client.device_authorization_endpoint.is_some() {
        let device = consent::device_start(client).await?;
        let at = device
            .verification_uri_complete
            .as_deref()
            .unwrap_or(&device.verification_uri);
        say(&format!(
            "To let tend read {name}'s mail, open {at} on any device and enter the code {} \
             (valid {} min). Waiting for the approval...",
            device.user_code,
            device.expires_in / 60
        ));
        consent::device_finish(client, &device).await?;
    } else {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("listening on a loopback port for the browser's redirect")?;
        let port = listener.local_addr().context("the loopback port")?.port();
        let redirect_uri = format!("http://127.0.0.1:{port}/");
        let pkce = Pkce::new()?;
        let url = consent::authorize_url(client, &redirect_uri, &pkce)?;
        say(&format!(
            "To let tend read {name}'s mail, open this address in a browser and allow access:\n\n\
             {url}\n\nWaiting for the browser. If it runs on another machine, its last page will \
             not load: copy the address it shows (it starts with {redirect_uri}) and paste it here."
        ));
        let redirected = tokio::select! {
            r = redirect(&listener) => r?,
            line = pasted() => line,
        };
        let code = consent::code_from_redirect(&redirected, &pkce)?;
        consent::exchange_code(client, &code, &redirect_uri, &pkce).await?;
    }
    say(&format!(
        "Stored the refresh token in {}; tend logs in with it from now on (`tend check` to try).",
        client.token_file.display()
    ));
    Ok(())
}

fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// The target of the first request to the loopback port that carries a code or an error.
async fn redirect(listener: &tokio::net::TcpListener) -> Result<String> {
    loop {
        let (mut conn, _) = listener.accept().await.context("accepting the redirect")?;
        let head = request_head(&mut conn).await;
        let head = String::from_utf8_lossy(&head);
        let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
        // A browser also asks for /favicon.ico.
        let ours = target.contains("code=") || target.contains("error=");
        let page = if ours {
            "tend received the answer; you can close this tab."
        } else {
            "not found"
        };
        let status = if ours { "200 OK" } else { "404 Not Found" };
        let _ = conn
            .write_all(
                format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                )
                .as_bytes(),
            )
            .await;
        if ours {
            return Ok(target);
        }
    }
}

/// The request's head, read until its blank line (at most 8 KiB, 10 s): a client may send
/// the request line in pieces, and reading only the first piece took a redirect for a stray
/// request and closed the connection on it.
async fn request_head(conn: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while head.len() < 8192 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    head
}

/// A line pasted into the terminal; never, when stdin is closed or empty.
async fn pasted() -> String {
    // A thread of its own, not `spawn_blocking`: a runtime waits for its blocking tasks when
    // it shuts down, and nobody may ever type a line once the browser's redirect came.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || loop {
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(n) if n > 0 && tx.send(line).is_ok() => {}
            _ => break,
        }
    });
    while let Some(line) = rx.recv().await {
        if line.contains("code=") || line.contains("error=") {
            return line;
        }
        if !line.trim().is_empty() {
            say("That is not the redirected address (it has no `code=`); paste it whole.");
        }
    }
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flaky `tend_auth_follows_the_browser_redirect_to_its_loopback_port`: the test's
    /// client wrote its request in several pieces, and under load the first read held only
    /// "GET ": the redirect was answered 404 and the connection closed under the client.
    #[tokio::test]
    async fn a_redirect_request_split_across_writes_is_read_whole() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
            conn.write_all(b"GET ").await.unwrap();
            conn.flush().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            conn.write_all(b"/?code=abc&state=xyz HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let mut answer = String::new();
            conn.read_to_string(&mut answer).await.unwrap();
            answer
        });
        // Read piece by piece wrongly, the request is taken for a stray one and the wait for
        // the real redirect never ends: bounded, so the test fails instead of hanging.
        let target = tokio::time::timeout(std::time::Duration::from_secs(5), redirect(&listener))
            .await
            .expect("the redirect taken for a stray request")
            .unwrap();
        assert_eq!(target, "/?code=abc&state=xyz");
        assert!(client.await.unwrap().starts_with("HTTP/1.1 200 OK"));
    }
}
