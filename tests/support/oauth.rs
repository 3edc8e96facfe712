//! A local OAuth2 provider for the tests, plain std on a loopback port: `/token` answers the
//! refresh_token grant (RFC 6749 section 6; rotation and revocation are switches) and
//! `/introspect` answers RFC 7662 introspection, which the test Dovecot's `oauth2` passdb asks
//! (`Dovecot::oauth2_user`). Access tokens die at their expiry, on `refuse_access_tokens`, or
//! are born inactive after `wrong_scope` (Dovecot then refuses them, as a provider would for a
//! token without the mail scope). It counts what it was asked, so tests can tell a refresh
//! before use from a refresh after a refusal.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    user: String,
    /// Refresh tokens and whether they still work.
    refresh: HashMap<String, bool>,
    /// Access tokens: active, and until when.
    access: HashMap<String, (bool, Instant)>,
    rotate: bool,
    expires_in: u64,
    wrong_scope: bool,
    next: u32,
    grants: u32,
    introspected: u32,
    inactive_answers: u32,
}

/// The running provider; its thread serves until the test process ends.
pub struct TokenServer {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl TokenServer {
    /// A provider whose tokens belong to `user`, access tokens living an hour.
    pub fn start(user: &str) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the token server");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            user: user.into(),
            expires_in: 3600,
            ..State::default()
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(conn, &state));
            }
        });
        TokenServer { port, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A new working refresh token, as a consent would give.
    pub fn issue_refresh(&self) -> String {
        let mut s = self.state.lock().unwrap();
        s.next += 1;
        let token = format!("rt-{}", s.next);
        s.refresh.insert(token.clone(), true);
        token
    }

    /// A working access token, as an admin's own token command would print.
    pub fn issue_access(&self) -> String {
        let mut s = self.state.lock().unwrap();
        s.next += 1;
        let token = format!("at-{}", s.next);
        let until = Instant::now() + Duration::from_secs(3600);
        s.access.insert(token.clone(), (true, until));
        token
    }

    /// Each grant answers with a new refresh token and retires the old one.
    pub fn rotate(&self, on: bool) {
        self.state.lock().unwrap().rotate = on;
    }

    /// Lifetime announced (and enforced) for access tokens issued from now on.
    pub fn expires_in(&self, secs: u64) {
        self.state.lock().unwrap().expires_in = secs;
    }

    /// Every refresh token stops working, as when the user revokes the app's access.
    pub fn revoke_refresh_tokens(&self) {
        for valid in self.state.lock().unwrap().refresh.values_mut() {
            *valid = false;
        }
    }

    /// Every access token issued so far stops working before its expiry.
    pub fn refuse_access_tokens(&self) {
        for (active, _) in self.state.lock().unwrap().access.values_mut() {
            *active = false;
        }
    }

    /// Access tokens issued from now on lack the mail scope: introspection says inactive.
    pub fn wrong_scope(&self, on: bool) {
        self.state.lock().unwrap().wrong_scope = on;
    }

    /// Refresh grants answered with a token.
    pub fn grants(&self) -> u32 {
        self.state.lock().unwrap().grants
    }

    /// Introspections answered "inactive" (a token Dovecot then refused).
    pub fn inactive_answers(&self) -> u32 {
        self.state.lock().unwrap().inactive_answers
    }

    pub fn introspected(&self) -> u32 {
        self.state.lock().unwrap().introspected
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>) {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let form = decode_form(&String::from_utf8_lossy(&body));
    let (status, answer) = match path.as_str() {
        "/token" => token(&form, &mut state.lock().unwrap()),
        "/introspect" => introspect(&form, &mut state.lock().unwrap()),
        _ => (404, json!({"error": "not_found"})),
    };
    let text = answer.to_string();
    let reason = if status == 200 { "OK" } else { "Bad Request" };
    let mut conn = reader.into_inner();
    let _ = write!(
        conn,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = conn.flush();
}

fn token(form: &HashMap<String, String>, s: &mut State) -> (u16, Value) {
    if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
        return (400, json!({"error": "unsupported_grant_type"}));
    }
    let given = form.get("refresh_token").cloned().unwrap_or_default();
    if s.refresh.get(&given) != Some(&true) {
        return (
            400,
            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
        );
    }
    s.next += 1;
    s.grants += 1;
    let access = format!("at-{}", s.next);
    let expires = Instant::now() + Duration::from_secs(s.expires_in);
    let active = !s.wrong_scope;
    s.access.insert(access.clone(), (active, expires));
    let mut answer = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": s.expires_in,
        "scope": if s.wrong_scope { "openid" } else { "https://mail.test/" },
    });
    if s.rotate {
        s.refresh.insert(given, false);
        let new = format!("rt-{}", s.next);
        s.refresh.insert(new.clone(), true);
        answer["refresh_token"] = json!(new);
    }
    (200, answer)
}

fn introspect(form: &HashMap<String, String>, s: &mut State) -> (u16, Value) {
    s.introspected += 1;
    let token = form.get("token").cloned().unwrap_or_default();
    let live = matches!(s.access.get(&token), Some((true, until)) if *until > Instant::now());
    if live {
        (200, json!({"active": true, "username": s.user}))
    } else {
        s.inactive_answers += 1;
        (200, json!({"active": false}))
    }
}

/// `application/x-www-form-urlencoded` -> map.
fn decode_form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (unescape(k), unescape(v)))
        .collect()
}

fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
