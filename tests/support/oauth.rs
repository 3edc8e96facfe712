//! A local OAuth2 provider for the tests, plain std on a loopback port: `/token` answers the
//! refresh_token grant (RFC 6749 section 6; rotation and revocation are switches), the
//! authorization-code grant with PKCE after `/authorize` (which consents at once and redirects)
//! and the device-code grant after `/device` (pending until `approve`), and
//! `/introspect` answers RFC 7662 introspection, which the test Dovecot's `oauth2` passdb asks
//! (`Dovecot::oauth2_user`). Access tokens die at their expiry, on `refuse_access_tokens`, or
//! are born inactive after `wrong_scope` (Dovecot then refuses them, as a provider would for a
//! token without the mail scope). It counts what it was asked, so tests can tell a refresh
//! before use from a refresh after a refusal.

use serde_json::{json, Value};
use sha2::Digest;
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
    /// Authorization codes: (PKCE challenge, redirect_uri).
    codes: HashMap<String, (String, String)>,
    /// Device codes: (user code, approved).
    devices: HashMap<String, (String, bool)>,
    device_polls: u32,
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

    /// The person enters `user_code` and approves.
    pub fn approve(&self, user_code: &str) {
        for (code, approved) in self.state.lock().unwrap().devices.values_mut() {
            if code == user_code {
                *approved = true;
            }
        }
    }

    /// Token requests with a device code, answered or pending.
    pub fn device_polls(&self) -> u32 {
        self.state.lock().unwrap().device_polls
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
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let (path, query) = (path.to_string(), decode_form(query));
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
    let mut conn = reader.into_inner();
    if path == "/authorize" {
        let location = authorize(&query, &mut state.lock().unwrap());
        let _ = write!(
            conn,
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        );
        return;
    }
    let (status, answer) = match path.as_str() {
        "/token" => token(&form, &mut state.lock().unwrap()),
        "/device" => device(&mut state.lock().unwrap()),
        "/introspect" => introspect(&form, &mut state.lock().unwrap()),
        _ => (404, json!({"error": "not_found"})),
    };
    let text = answer.to_string();
    let reason = if status == 200 { "OK" } else { "Bad Request" };
    let _ = write!(
        conn,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = conn.flush();
}

/// The consent page, approving at once: redirects with a code tied to the PKCE challenge.
fn authorize(q: &HashMap<String, String>, s: &mut State) -> String {
    s.next += 1;
    let code = format!("c-{}", s.next);
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let challenge = q.get("code_challenge").cloned().unwrap_or_default();
    s.codes.insert(code.clone(), (challenge, redirect.clone()));
    let state = q.get("state").cloned().unwrap_or_default();
    format!("{redirect}?code={code}&state={state}&scope=https%3A%2F%2Fmail.test%2F")
}

fn device(s: &mut State) -> (u16, Value) {
    s.next += 1;
    let (device, user) = (format!("dc-{}", s.next), format!("UC-{}", s.next));
    s.devices.insert(device.clone(), (user.clone(), false));
    let answer = json!({"device_code": device, "user_code": user,
        "verification_uri": "https://login.test/device", "expires_in": 600, "interval": 1});
    (200, answer)
}

/// An access token and a new refresh token, as a first consent gives.
fn pair(s: &mut State) -> (u16, Value) {
    s.next += 1;
    let (access, refresh) = (format!("at-{}", s.next), format!("rt-{}", s.next));
    let until = Instant::now() + Duration::from_secs(s.expires_in);
    s.access.insert(access.clone(), (true, until));
    s.refresh.insert(refresh.clone(), true);
    let answer = json!({"access_token": access, "refresh_token": refresh,
        "expires_in": s.expires_in, "token_type": "Bearer"});
    (200, answer)
}

fn token(form: &HashMap<String, String>, s: &mut State) -> (u16, Value) {
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    match field("grant_type").as_str() {
        "refresh_token" => {}
        "authorization_code" => {
            let Some((challenge, redirect)) = s.codes.remove(&field("code")) else {
                return (400, json!({"error": "invalid_grant"}));
            };
            let hashed = sha2::Sha256::digest(field("code_verifier").as_bytes());
            if base64url(&hashed) != challenge || redirect != field("redirect_uri") {
                return (
                    400,
                    json!({"error": "invalid_grant", "error_description": "PKCE"}),
                );
            }
            return pair(s);
        }
        "urn:ietf:params:oauth:grant-type:device_code" => {
            s.device_polls += 1;
            return match s.devices.get(&field("device_code")) {
                Some((_, true)) => pair(s),
                Some((_, false)) => (400, json!({"error": "authorization_pending"})),
                None => (400, json!({"error": "expired_token"})),
            };
        }
        _ => return (400, json!({"error": "unsupported_grant_type"})),
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

fn base64url(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = String::new();
    for b in bytes {
        bits = bits << 8 | u32::from(*b);
        n += 8;
        while n >= 6 {
            n -= 6;
            out.push(A[(bits >> n & 63) as usize] as char);
        }
    }
    if n > 0 {
        out.push(A[(bits << (6 - n) & 63) as usize] as char);
    }
    out
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
