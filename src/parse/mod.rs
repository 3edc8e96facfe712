//! Raw RFC 5322 bytes -> [`Email`], the facts tend uses about one message. The only user of
//! mail-parser. Pure: no I/O, no clock. It extracts facts (addresses, threading headers, the
//! new text, signs of machine-sent mail); deciding what those facts mean is `detect`'s job.
//! Hostile input never panics: mail-parser is best-effort, and everything here works on
//! bounded slices (the text body is capped at [`TEXT_CAP`] before any line processing).
//! The parts live beside this file: `text` (choosing and converting the text body), `quote`
//! (the sender's new words), `auto` (signs of machine-sent mail), `ooo` (an out-of-office's
//! return date) and `dates` (dates in running text); this file owns the types,
//! [`parse`] itself, message ids, addresses and dates.

use mail_parser::{Address, Message, MessageParser};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

mod auto;
pub mod dates;
mod ooo;
mod quote;
mod text;

pub use auto::{is_hard_sign, is_list_sign};
pub use quote::new_text;
pub use text::{html_to_text, unflow, TEXT_CAP};

use auto::automation;
use ooo::return_date;
use text::body_text;

/// An address as written in a header; `email` is lower-cased for comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addr {
    pub name: Option<String>,
    pub email: String,
}

/// The facts of one message that tend keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Email {
    /// Message-ID without angle brackets; synthesised from a content hash when missing.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    /// References, oldest first, without angle brackets.
    pub references: Vec<String>,
    pub from: Option<Addr>,
    pub reply_to: Vec<Addr>,
    pub to: Vec<Addr>,
    pub cc: Vec<Addr>,
    /// Date header as Unix seconds (UTC); `None` when missing or unparseable.
    pub date: Option<i64>,
    pub subject: String,
    /// The sender's own new words: quoted history, attribution lines and signature removed.
    pub new_text: String,
    /// The whole text body, capped at [`TEXT_CAP`] bytes.
    pub text: String,
    /// Why this message looks machine-sent (auto-reply, list, bounce, invite...), if it does.
    pub automated: Option<String>,
    /// True when the automation is an out-of-office / vacation auto-reply.
    pub out_of_office: bool,
    /// The return date an out-of-office reply states, as Unix seconds of that day's 00:00 UTC:
    /// in the future of the reply's own date and at most [`ooo::OOO_HORIZON_DAYS`] ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ooo_until: Option<i64>,
}

impl Email {
    /// The message without its two texts (`new_text` and `text` empty): what judging a thread
    /// reads (`store::texts` keeps it apart from the texts, so a sweep need not inflate them).
    /// Spelt field by field, so a field added later must be placed here or there.
    pub fn without_text(&self) -> Email {
        let Email {
            message_id,
            in_reply_to,
            references,
            from,
            reply_to,
            to,
            cc,
            date,
            subject,
            new_text: _,
            text: _,
            automated,
            out_of_office,
            ooo_until,
        } = self;
        Email {
            message_id: message_id.clone(),
            in_reply_to: in_reply_to.clone(),
            references: references.clone(),
            from: from.clone(),
            reply_to: reply_to.clone(),
            to: to.clone(),
            cc: cc.clone(),
            date: *date,
            subject: subject.clone(),
            new_text: String::new(),
            text: String::new(),
            automated: automated.clone(),
            out_of_office: *out_of_office,
            ooo_until: *ooo_until,
        }
    }
}

/// Nested message/rfc822 parts beyond this make mail-parser build (and drop) a recursion as
/// deep as the nesting; no real client nests forwards this deep.
const MAX_NESTED_MESSAGES: usize = 64;

/// Why a message could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not an RFC 5322 message: {0}")]
    Malformed(String),
}

/// Parses one message. Never panics on hostile input.
pub fn parse(raw: &[u8]) -> Result<Email, ParseError> {
    if count_nested_messages(raw) > MAX_NESTED_MESSAGES {
        return Err(ParseError::Malformed(
            "too many nested message/rfc822 parts".into(),
        ));
    }
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| ParseError::Malformed("no header section".into()))?;
    let headers = Headers { msg: &msg, raw };
    if !headers.has_any(RFC5322_HEADERS) {
        return Err(ParseError::Malformed("no RFC 5322 header fields".into()));
    }

    let message_id = headers
        .raw_value("Message-ID")
        .and_then(|v| message_id_of(&v))
        .unwrap_or_else(|| synthetic_message_id(raw));
    let in_reply_to = headers
        .raw_value("In-Reply-To")
        .and_then(|v| extract_ids(&v).into_iter().next());
    let references = headers
        .raw_value("References")
        .map(|v| cap_references(extract_ids(&v)))
        .unwrap_or_default();

    let from = addrs(msg.from()).into_iter().next();
    let reply_to = addrs(msg.reply_to());
    let to = msg
        .all_to()
        .flat_map(|a| addrs(Some(a)))
        .take(MAX_RECIPIENTS)
        .collect();
    let cc = msg
        .all_cc()
        .flat_map(|a| addrs(Some(a)))
        .take(MAX_RECIPIENTS)
        .collect();
    let date = msg
        .date()
        .filter(|d| d.is_valid())
        .map(|d| d.to_timestamp());
    let subject = collapse_ws(msg.subject().unwrap_or_default());

    let text = body_text(&msg);
    let new_text = new_text(&text);
    let (automated, out_of_office) = automation(&msg, &headers, from.as_ref(), &subject, &new_text);
    let ooo_until = out_of_office
        .then(|| return_date(&subject, &new_text, date))
        .flatten();

    Ok(Email {
        message_id,
        in_reply_to,
        references,
        from,
        reply_to,
        to,
        cc,
        date,
        subject,
        new_text,
        text,
        automated,
        out_of_office,
        ooo_until,
    })
}

/// Header fields of which at least one must be present for the bytes to count as a message.
const RFC5322_HEADERS: &[&str] = &[
    "From",
    "Sender",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Reply-To",
    "Return-Path",
    "Received",
    "MIME-Version",
    "Content-Type",
];

/// Root headers of a parsed message, read back from the raw bytes so that headers mail-parser
/// does not know (Auto-Submitted, X-Autoreply...) and broken ones read the same way.
struct Headers<'a, 'x> {
    msg: &'a Message<'x>,
    raw: &'a [u8],
}

/// One root header's value (unfolded, trimmed) and the whole decoded text body of `raw`, as
/// [`parse`] reads them: what `deliver` needs to tell a draft of ours from an edited copy.
pub fn header_and_text(raw: &[u8], name: &str) -> Option<(String, String)> {
    if count_nested_messages(raw) > MAX_NESTED_MESSAGES {
        return None;
    }
    let msg = MessageParser::default().parse(raw)?;
    let value = Headers { msg: &msg, raw }.raw_value(name)?;
    Some((value, body_text(&msg)))
}

impl Headers<'_, '_> {
    /// The first root header with this name, unfolded and trimmed.
    fn raw_value(&self, name: &str) -> Option<String> {
        let h = self
            .msg
            .headers()
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case(name))?;
        let bytes = self
            .raw
            .get(h.offset_start() as usize..h.offset_end() as usize)
            .unwrap_or_default();
        Some(unfold(&String::from_utf8_lossy(bytes)))
    }

    fn has(&self, name: &str) -> bool {
        self.msg
            .headers()
            .iter()
            .any(|h| h.name().eq_ignore_ascii_case(name))
    }

    fn has_any(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.has(n))
    }
}

/// Joins folded header lines and trims.
fn unfold(value: &str) -> String {
    value
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Counts Content-Type fields that open a nested message (`message/*`, or `multipart/digest`
/// whose untyped parts are messages). Only header-shaped lines count, so body text that merely
/// mentions "message/rfc822" or links to ".../message/..." does not.
fn count_nested_messages(raw: &[u8]) -> usize {
    const CT: &[u8] = b"content-type:";
    let mut n = 0;
    let mut lines = raw.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        if line.len() < CT.len() || !line[..CT.len()].eq_ignore_ascii_case(CT) {
            continue;
        }
        let mut value = line[CT.len()..].trim_ascii_start();
        if value.is_empty() {
            // Folded: the type is on the continuation line.
            value = lines.peek().map_or(&b""[..], |l| l.trim_ascii_start());
        }
        let starts = |p: &[u8]| value.len() >= p.len() && value[..p.len()].eq_ignore_ascii_case(p);
        if starts(b"message/") || starts(b"multipart/digest") {
            n += 1;
        }
    }
    n
}

/// `<hex32>@tend.invalid`-style id (without brackets) from a SHA-256 of the raw bytes, so a
/// re-fetch of the same message gets the same id.
fn synthetic_message_id(raw: &[u8]) -> String {
    let digest = Sha256::digest(raw);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}@tend.invalid")
}

/// Message ids from a Message-ID / In-Reply-To / References value, without brackets, in order.
/// Tolerates comments, quoted strings, junk words and ids written without brackets (those must
/// contain an '@').
pub fn extract_ids(value: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut chars = value.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            '(' => {
                let mut depth = 0usize;
                for c in chars.by_ref() {
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            '"' => {
                chars.next();
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                }
            }
            '<' => {
                chars.next();
                let mut id = String::new();
                for c in chars.by_ref() {
                    if c == '>' {
                        break;
                    }
                    // A NUL or other control character in an id would split the store's
                    // `thread \0 id` keys; no real id has one.
                    if !c.is_whitespace() && !c.is_control() {
                        id.push(c);
                    }
                }
                let id = id.trim_start_matches('<').to_string();
                if !id.is_empty() {
                    ids.push(id);
                }
            }
            c if c.is_whitespace() || c == ',' => {
                chars.next();
            }
            _ => {
                let mut tok = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, ',' | '<' | '(' | '"') {
                        break;
                    }
                    if !c.is_control() {
                        tok.push(c);
                    }
                    chars.next();
                }
                let tok = tok.trim_matches(|c: char| matches!(c, '>' | ';' | '.' | ':'));
                if tok.contains('@') && !tok.starts_with('@') && !tok.ends_with('@') {
                    ids.push(tok.to_string());
                }
            }
        }
    }
    ids
}

/// The id a Message-ID header's value names, without brackets: its first `local@domain`, or
/// a single bare token without '@' (still the sender's id; keep it). `None` when it names none.
pub fn message_id_of(value: &str) -> Option<String> {
    extract_ids(value)
        .into_iter()
        .next()
        .or_else(|| bare_single_token(value))
}

fn bare_single_token(value: &str) -> Option<String> {
    let mut toks = value.split_whitespace();
    let first = toks.next()?.trim_matches(|c| c == '<' || c == '>');
    let first: String = first.chars().filter(|c| !c.is_control()).collect();
    (toks.next().is_none() && !first.is_empty()).then_some(first)
}

/// References kept per message: the root and the newest [`MAX_REFERENCES`]` - 1` (RFC 5322
/// 3.6.4 lets a client trim the middle the same way). Every id costs a lookup and an index
/// entry when the message is filed, so a 2 MiB header of ids must not reach the store whole.
pub const MAX_REFERENCES: usize = 100;
/// Addresses kept per To and per Cc header: more is a mass mailing, not a conversation.
pub const MAX_RECIPIENTS: usize = 100;
/// A Date more than this after the server's INTERNALDATE is a wrong clock or a spam trick.
const DATE_SLACK: i64 = 86_400;

/// The ids without repeats, in order, trimmed to the root and the newest ones.
fn cap_references(ids: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::with_capacity(ids.len().min(4 * MAX_REFERENCES));
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        if !seen.contains(id.as_str()) {
            seen.insert(id.clone());
            out.push(id);
        }
    }
    if out.len() > MAX_REFERENCES {
        let tail = out.split_off(out.len() - (MAX_REFERENCES - 1));
        out.truncate(1);
        out.extend(tail);
    }
    out
}

/// The date tend files a message under, from its Date header and the server's INTERNALDATE
/// (when the message arrived): the Date when it has one, unless it lies more than a day after
/// the arrival (future-dated spam would otherwise stay "latest" forever), else the arrival.
pub fn settle_date(date: Option<i64>, internal_date: Option<i64>) -> Option<i64> {
    match (date, internal_date) {
        (Some(d), Some(arrived)) if d > arrived.saturating_add(DATE_SLACK) => Some(arrived),
        (Some(d), _) => Some(d),
        (None, arrived) => arrived,
    }
}

/// Flattens an address list or groups; skips entries without an '@'.
fn addrs(a: Option<&Address<'_>>) -> Vec<Addr> {
    let Some(a) = a else { return Vec::new() };
    a.iter()
        .filter_map(|a| {
            let email = a
                .address
                .as_deref()?
                .trim()
                .trim_matches(|c| c == '<' || c == '>')
                // "From:<@ <>" leaves "@ " once the brackets go (found by fuzzing).
                .trim()
                .to_lowercase();
            if !email.contains('@') {
                return None;
            }
            let name = a
                .name
                .as_deref()
                .map(collapse_ws)
                .map(|n| n.trim_matches(|c| c == '"' || c == '\'').trim().to_string())
                .filter(|n| !n.is_empty());
            Some(Addr { name, email })
        })
        .collect()
}

#[cfg(test)]
mod tests;
