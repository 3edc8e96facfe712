//! A tiny blocking IMAP client for test support, speaking as a mail client or a delivering
//! server would: LOGIN, APPEND with flags and a date, FETCH of whole messages with their UID and
//! flags, STORE \Deleted + EXPUNGE. It reads literals (`{n}`) as bytes, never as lines, so the
//! messages it returns are exactly what the server holds. It is no part of tend and shares no
//! code with it: a check through it does not depend on tend's IMAP code.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A message as the server holds it.
#[derive(Clone, PartialEq)]
pub struct Message {
    pub uid: u32,
    /// IMAP flags and keywords as the server sent them, e.g. `\Draft`, `\Seen`, `$Label1`;
    /// never `\Recent`, which belongs to a session, not to the message.
    pub flags: Vec<String>,
    pub raw: Vec<u8>,
}

/// The text, not a list of bytes, in assertion messages.
impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("uid", &self.uid)
            .field("flags", &self.flags)
            .field("raw", &self.text())
            .finish()
    }
}

impl Message {
    /// Does it carry `flag` (case-insensitive, as IMAP flags are)?
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
}

/// One logged-in session.
pub struct Client {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
    tag: u32,
}

/// One server answer: the text of every line (literals left out), and the literals in order.
pub struct Answer {
    pub text: String,
    pub literals: Vec<Vec<u8>>,
    pub ok: bool,
}

impl Client {
    /// Connects to 127.0.0.1:`port` and logs in; panics when the login is refused.
    pub fn login(port: u16, user: &str, password: &str) -> Client {
        let mut c = Client::connect(port);
        c.run(&format!("LOGIN {} {}", quote(user), quote(password)));
        c
    }

    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to IMAP");
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut greeting = String::new();
        reader.read_line(&mut greeting).expect("IMAP greeting");
        assert!(greeting.starts_with("* OK"), "greeting: {greeting:?}");
        Client {
            reader,
            stream,
            tag: 0,
        }
    }

    /// Sends a command and panics unless it ends in OK; returns every line up to the tagged one.
    pub fn run(&mut self, command: &str) -> String {
        let answer = self.try_run(command);
        assert!(answer.ok, "{command} failed:\n{}", answer.text);
        answer.text
    }

    /// Sends a command, returns the whole answer, OK or not.
    pub fn try_run(&mut self, command: &str) -> Answer {
        let tag = self.next_tag();
        self.send(format!("{tag} {command}\r\n").as_bytes());
        self.finish(&tag)
    }

    /// APPENDs `raw` as it is (Cyrus refuses bare LF: see `crlf`) with `flags` (e.g. `\Seen`,
    /// may be empty) and, when given, an internal date (`02-Jun-2025 10:00:00 +0000`). Returns the
    /// UID from APPENDUID (RFC 4315) when the server sends one.
    pub fn append(
        &mut self,
        folder: &str,
        flags: &str,
        date: Option<&str>,
        raw: &[u8],
    ) -> Option<u32> {
        let tag = self.next_tag();
        let date = date.map(|d| format!(" \"{d}\"")).unwrap_or_default();
        self.send(
            format!(
                "{tag} APPEND {} ({flags}){date} {{{}}}\r\n",
                quote(folder),
                raw.len()
            )
            .as_bytes(),
        );
        let line = self.line();
        assert!(
            line.starts_with('+'),
            "APPEND to {folder}: no continuation: {line}"
        );
        self.send(raw);
        self.send(b"\r\n");
        let answer = self.finish(&tag);
        assert!(answer.ok, "APPEND to {folder} failed:\n{}", answer.text);
        let upper = answer.text.to_ascii_uppercase();
        let at = upper.find("[APPENDUID ")?;
        upper[at..]
            .split_whitespace()
            .nth(2)?
            .trim_end_matches(']')
            .parse()
            .ok()
    }

    /// Every message of `folder` with UID, flags and bytes, in UID order; EXAMINE, so nothing
    /// of the folder changes (no \Recent taken, no \Seen set).
    pub fn messages(&mut self, folder: &str) -> Vec<Message> {
        self.run(&format!("EXAMINE {}", quote(folder)));
        let found = self.run("UID SEARCH ALL");
        let any = found
            .lines()
            .any(|l| l.starts_with("* SEARCH ") && l.trim() != "* SEARCH");
        if !any {
            return Vec::new();
        }
        let tag = self.next_tag();
        self.send(format!("{tag} UID FETCH 1:* (UID FLAGS BODY.PEEK[])\r\n").as_bytes());
        let mut out = Vec::new();
        loop {
            let (text, literals) = self.response();
            if let Some(status) = text.strip_prefix(&format!("{tag} ")) {
                assert!(status.starts_with("OK"), "FETCH in {folder}: {text}");
                break;
            }
            if !text.contains(" FETCH ") {
                continue;
            }
            let uid = item(&text, "UID ")
                .and_then(|u| u.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
                .unwrap_or_else(|| panic!("no UID in {text}"));
            let flags = item(&text, "FLAGS (")
                .and_then(|f| f.split(')').next())
                .map(|f| {
                    f.split_whitespace()
                        .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let raw = literals.into_iter().next().unwrap_or_default();
            out.push(Message { uid, flags, raw });
        }
        out.sort_by_key(|m| m.uid);
        out
    }

    /// Deletes one message as a client does: flag it \Deleted, then EXPUNGE the folder.
    pub fn delete(&mut self, folder: &str, uid: u32) {
        self.run(&format!("SELECT {}", quote(folder)));
        self.run(&format!("UID STORE {uid} +FLAGS (\\Deleted)"));
        self.run("EXPUNGE");
    }

    pub fn logout(mut self) {
        let tag = self.next_tag();
        self.send(format!("{tag} LOGOUT\r\n").as_bytes());
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("s{}", self.tag)
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to IMAP");
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read from IMAP");
        assert!(n > 0, "IMAP connection closed");
        line
    }

    /// One response: a line, and for each literal it announces the bytes and the rest after.
    fn response(&mut self) -> (String, Vec<Vec<u8>>) {
        let mut text = String::new();
        let mut literals = Vec::new();
        loop {
            let line = self.line();
            text.push_str(&line);
            match literal_size(&line) {
                Some(n) => {
                    let mut data = vec![0; n];
                    self.reader.read_exact(&mut data).expect("read literal");
                    literals.push(data);
                }
                None => return (text, literals),
            }
        }
    }

    fn finish(&mut self, tag: &str) -> Answer {
        let mut text = String::new();
        let mut all = Vec::new();
        loop {
            let (part, literals) = self.response();
            text.push_str(&part);
            all.extend(literals);
            if let Some(status) = part.strip_prefix(&format!("{tag} ")) {
                let ok = status.starts_with("OK");
                return Answer {
                    text,
                    literals: all,
                    ok,
                };
            }
        }
    }
}

/// `{n}` (or `{n+}`) at the end of a line: n bytes of data follow.
fn literal_size(line: &str) -> Option<usize> {
    let body = line.trim_end_matches(['\r', '\n']).strip_suffix('}')?;
    let open = body.rfind('{')?;
    body[open + 1..].trim_end_matches('+').parse().ok()
}

/// The text after `name` in a FETCH response, case-insensitively.
fn item<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let at = text.to_ascii_uppercase().find(name)?;
    Some(&text[at + name.len()..])
}

/// An IMAP quoted string.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Bare LF and bare CR made CRLF.
pub fn crlf(raw: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw)
        .replace("\r\n", "\n")
        .replace('\n', "\r\n");
    text.into_bytes()
}

/// An IMAP date-time (RFC 3501 `date-time`) for `at`.
pub fn imap_date(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%d-%b-%Y %H:%M:%S +0000").to_string()
}

/// A folder name in modified UTF-7 (RFC 3501 5.1.3), as it goes on the wire.
pub fn utf7(name: &str) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    let mut out = String::new();
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out.push('-');
        pending.clear();
    };
    for ch in name.chars() {
        if (' '..='~').contains(&ch) {
            flush(&mut pending, &mut out);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(ch.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}
