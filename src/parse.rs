//! Raw RFC 5322 bytes -> [`Email`], the facts tend uses about one message. The only user of
//! mail-parser. Pure: no I/O, no clock. It extracts facts (addresses, threading headers, the
//! new text, signs of machine-sent mail); deciding what those facts mean is `detect`'s job.
//! Hostile input never panics: mail-parser is best-effort, and everything here works on
//! bounded slices (the text body is capped at [`TEXT_CAP`] before any line processing).

use mail_parser::{Address, Message, MessageParser, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
}

/// Largest text body kept per message, in bytes.
pub const TEXT_CAP: usize = 64 * 1024;

/// Largest HTML part fed to the HTML-to-text conversion, in bytes (HTML is verbose).
const HTML_CAP: usize = 1024 * 1024;

/// Longest header value quoted in an `automated` reason, in chars.
const REASON_VALUE_CAP: usize = 80;

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
        .and_then(|v| {
            let ids = extract_ids(&v);
            match ids.into_iter().next() {
                Some(id) => Some(id),
                // A bare token without '@' is still the sender's id; keep it.
                None => bare_single_token(&v),
            }
        })
        .unwrap_or_else(|| synthetic_message_id(raw));
    let in_reply_to = headers
        .raw_value("In-Reply-To")
        .and_then(|v| extract_ids(&v).into_iter().next());
    let references = headers
        .raw_value("References")
        .map(|v| dedup(extract_ids(&v)))
        .unwrap_or_default();

    let from = addrs(msg.from()).into_iter().next();
    let reply_to = addrs(msg.reply_to());
    let to = msg.all_to().flat_map(|a| addrs(Some(a))).collect();
    let cc = msg.all_cc().flat_map(|a| addrs(Some(a))).collect();
    let date = msg
        .date()
        .filter(|d| d.is_valid())
        .map(|d| d.to_timestamp());
    let subject = collapse_ws(msg.subject().unwrap_or_default());

    let text = body_text(&msg);
    let new_text = new_text(&text);
    let (automated, out_of_office) = automation(&msg, &headers, from.as_ref(), &subject);

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
                    if !c.is_whitespace() {
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
                    tok.push(c);
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

fn bare_single_token(value: &str) -> Option<String> {
    let mut toks = value.split_whitespace();
    let first = toks.next()?.trim_matches(|c| c == '<' || c == '>');
    (toks.next().is_none() && !first.is_empty()).then(|| first.to_string())
}

fn dedup(ids: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
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

/// The text body: mail-parser's text bodies (text/plain preferred inside alternatives, HTML
/// converted when there is no plain part), CRLF normalised, capped at [`TEXT_CAP`].
fn body_text(msg: &Message<'_>) -> String {
    let mut out = String::new();
    for &id in &msg.text_body {
        if out.len() >= TEXT_CAP {
            break;
        }
        let Some(part) = msg.parts.get(id as usize) else {
            continue;
        };
        let piece = match &part.body {
            PartType::Text(t) => {
                let ct = part.content_type();
                let flowed = ct
                    .and_then(|c| c.attribute("format"))
                    .is_some_and(|f| f.eq_ignore_ascii_case("flowed"));
                let delsp = ct
                    .and_then(|c| c.attribute("delsp"))
                    .is_some_and(|f| f.eq_ignore_ascii_case("yes"));
                let t = normalize_newlines(cap(t, TEXT_CAP + 1));
                if flowed {
                    unflow(&t, delsp)
                } else {
                    t
                }
            }
            PartType::Html(h) => html_to_text(cap(h, HTML_CAP)),
            _ => continue,
        };
        let piece = piece.trim_matches('\n');
        if piece.trim().is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(piece);
    }
    let keep = cap(&out, TEXT_CAP).len();
    out.truncate(keep);
    out
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn cap(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn normalize_newlines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// RFC 3676 format=flowed: joins soft-broken lines (trailing space) of equal quote depth and
/// removes space-stuffing. The signature separator "-- " is never a soft break.
fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut open: Option<usize> = None; // quote depth of an unfinished flowed line
    for line in text.split('\n') {
        let depth = line.chars().take_while(|&c| c == '>').count();
        let mut body = &line[depth..];
        if body.starts_with(' ') {
            body = &body[1..];
        }
        match open {
            Some(d) if d == depth => {}
            Some(_) => {
                out.push('\n');
                out.push_str(&">".repeat(depth));
                if depth > 0 {
                    out.push(' ');
                }
            }
            None => {
                out.push_str(&">".repeat(depth));
                if depth > 0 {
                    out.push(' ');
                }
            }
        }
        let soft = body.ends_with(' ') && body != "-- ";
        if soft {
            out.push_str(if delsp { &body[..body.len() - 1] } else { body });
            open = Some(depth);
        } else {
            out.push_str(body);
            out.push('\n');
            open = None;
        }
    }
    if out.ends_with('\n') {
        out.pop();
    }
    out
}

/// Tags that start a new line in a browser.
const BLOCK_TAGS: &[&str] = &[
    "div",
    "p",
    "blockquote",
    "tr",
    "li",
    "ul",
    "ol",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "pre",
    "dd",
    "dt",
    "center",
    "address",
    "section",
    "article",
    "header",
    "footer",
];

/// Elements whose content is never shown.
const HIDDEN_TAGS: &[&str] = &["head", "style", "script", "title", "template"];

/// HTML -> readable text, the way a mail client renders an HTML body as plain text: line breaks
/// at <br> and block tags, whitespace collapsed, entities decoded, <blockquote> content prefixed
/// with "> " per level. (mail-parser's own converter breaks lines only at <br> and </p> and
/// drops the space after a tag that follows a <br>, e.g. "<br><b>Sent:</b> Mon" -> "Sent:Mon".)
fn html_to_text(html: &str) -> String {
    struct Out {
        lines: Vec<String>,
        cur: String,
        depth: usize,
        space: bool,
        /// Bytes in `lines`; conversion stops past [`TEXT_CAP`].
        len: usize,
    }
    impl Out {
        fn word(&mut self, w: &str) {
            if self.space && !self.cur.is_empty() {
                self.cur.push(' ');
            }
            self.space = false;
            self.cur.push_str(w);
        }
        fn flush(&mut self) {
            let text = self.cur.trim();
            let mut line = "> ".repeat(self.depth);
            line.push_str(text);
            let line = line.trim_end().to_string();
            self.len += line.len() + 1;
            self.lines.push(line);
            self.cur.clear();
            self.space = false;
        }
        fn block(&mut self) {
            if !self.cur.trim_matches([' ', '\t']).is_empty() {
                self.flush();
            }
            self.cur.clear();
            self.space = false;
        }
    }

    let lower = html.to_ascii_lowercase();
    let bytes = html.as_bytes();
    let mut out = Out {
        lines: Vec::new(),
        cur: String::new(),
        depth: 0,
        space: false,
        len: 0,
    };
    let mut i = 0;
    let mut word_start: Option<usize> = None;
    let mut unclosed = [false; HIDDEN_TAGS.len()];
    while i < bytes.len() && out.len <= TEXT_CAP && out.cur.len() <= TEXT_CAP {
        let b = bytes[i];
        let tag_like = b == b'<'
            && bytes
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, b'/' | b'!' | b'?'));
        if tag_like || b.is_ascii_whitespace() || b == b'&' {
            if let Some(ws) = word_start.take() {
                out.word(&html[ws..i]);
            }
        }
        if b.is_ascii_whitespace() {
            out.space = true;
            i += 1;
            continue;
        }
        if b == b'&' {
            let end = bytes[i + 1..]
                .iter()
                .take(32)
                .position(|&c| c == b';' || !(c.is_ascii_alphanumeric() || c == b'#'))
                .map(|p| i + 1 + p);
            if let Some(end) = end.filter(|&e| bytes[e] == b';' && e > i + 1) {
                let mut s = String::new();
                mail_parser::decoders::html::add_html_token(&mut s, &bytes[i..=end], false);
                out.word(&s);
                i = end + 1;
            } else {
                out.word("&");
                i += 1;
            }
            // An entity glues to the following text ("&lt;a@b&gt;").
            continue;
        }
        if !tag_like {
            if word_start.is_none() {
                word_start = Some(i);
            }
            // Advance by whole chars so slices stay on char boundaries.
            i += html[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        // A tag or comment.
        if lower[i..].starts_with("<!--") {
            i = lower[i + 4..]
                .find("-->")
                .map_or(bytes.len(), |p| i + 4 + p + 3);
            continue;
        }
        let Some(close) = lower[i..].find('>').map(|p| i + p) else {
            break; // unterminated tag at the end: drop it
        };
        let inner = &lower[i + 1..close];
        let closing = inner.starts_with('/');
        let name: String = inner
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        i = close + 1;
        if let Some(h) = HIDDEN_TAGS
            .iter()
            .position(|t| *t == name)
            .filter(|_| !closing)
        {
            // Skip to the closing tag. Once a close is missing it stays missing, so remember
            // that: hostile input with many unclosed <style> tags stays linear.
            if !unclosed[h] {
                match lower[i..].find(&format!("</{name}")) {
                    Some(p) => {
                        let end = i + p;
                        i = lower[end..].find('>').map_or(bytes.len(), |q| end + q + 1);
                    }
                    None => unclosed[h] = true,
                }
            }
            continue;
        }
        match name.as_str() {
            "br" => out.flush(),
            "blockquote" => {
                out.block();
                out.depth = if closing {
                    out.depth.saturating_sub(1)
                } else {
                    (out.depth + 1).min(32)
                };
            }
            "td" | "th" => out.space = true,
            n if BLOCK_TAGS.contains(&n) => out.block(),
            _ => {}
        }
    }
    if let Some(ws) = word_start {
        out.word(&html[ws..]);
    }
    out.block();

    let mut text = String::with_capacity(html.len().min(TEXT_CAP));
    let mut blank = false;
    for line in &out.lines {
        let line = line.replace('\u{a0}', " ");
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank = !text.is_empty();
            continue;
        }
        if blank {
            text.push('\n');
            blank = false;
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(line);
        if text.len() > TEXT_CAP {
            break;
        }
    }
    text
}

// ---------------------------------------------------------------------------------------------
// new_text: the sender's own words

/// The sender's new words: quoted blocks, attributions, forwarded/original-message separators,
/// signatures and mobile footers removed. Falls back to the whole text when nothing is left.
pub fn new_text(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        if t.starts_with('>') {
            i += 1;
            continue;
        }
        if let Some(n) = attribution_len(&lines[i..]) {
            // An attribution followed by a '>' block (bottom or inline posting) only hides
            // that block; one followed by unmarked text (HTML converted, Outlook) ends the reply.
            let next = lines[i + n..].iter().find(|l| !l.trim().is_empty());
            if next.is_some_and(|l| l.trim_start().starts_with('>')) {
                i += n;
                continue;
            }
            break;
        }
        if is_separator(t) || is_header_block(&lines[i..]) {
            break;
        }
        if line.trim_end() == "--" {
            break; // signature separator "-- " (clients often strip the trailing space)
        }
        if is_mobile_footer(t) {
            break;
        }
        kept.push(line.trim_end());
        i += 1;
    }
    while kept
        .last()
        .is_some_and(|l| l.trim().is_empty() || is_rule(l.trim()))
    {
        kept.pop();
    }
    let mut out = String::new();
    let mut blank = false;
    for l in kept {
        if l.trim().is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push('\n');
            blank = false;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(l);
    }
    if out.trim().is_empty() {
        return text.trim().to_string();
    }
    out.trim().to_string()
}

/// Attribution line prefixes and suffixes as clients write them, per language.
const ATTRIBUTIONS: &[(&str, &str)] = &[
    ("On ", "wrote:"),
    ("Am ", "schrieb:"),
    ("Le ", "a écrit :"),
    ("Le ", "a écrit:"),
    ("Le ", "a écrit :"), // NBSP before the colon, as French typography has it
    ("El ", "escribió:"),
    ("Op ", "geschreven:"),
    ("Op ", "schreef:"),
    ("Il ", "ha scritto:"),
    ("Em ", "escreveu:"),
    ("Den ", "skrev:"),
];

/// If `lines` starts with an attribution ("On <date>, <name> wrote:"), its length in lines (1 or 2).
fn attribution_len(lines: &[&str]) -> Option<usize> {
    let first = strip_emphasis(lines.first()?.trim());
    if first.is_empty() || first.len() > 300 {
        return None;
    }
    let matches = |s: &str| {
        ATTRIBUTIONS
            .iter()
            .any(|(p, suf)| s.starts_with(p) && s.ends_with(suf))
            || (s.starts_with("Am ") && s.contains(" schrieb ") && s.ends_with(':'))
            || ((s.ends_with(" wrote:") || s.ends_with(" writes:")) && s.contains('@'))
    };
    if matches(first) {
        return Some(1);
    }
    let second = strip_emphasis(lines.get(1)?.trim());
    if second.is_empty() || second.len() > 300 {
        return None;
    }
    if ATTRIBUTIONS.iter().any(|(p, _)| first.starts_with(p)) {
        let joined = format!("{first} {second}");
        if matches(&joined) {
            return Some(2);
        }
    }
    None
}

/// Strips HTML-to-text bold markers such as "*From:*".
fn strip_emphasis(s: &str) -> &str {
    s.trim_start_matches('*')
}

/// "-----Original Message-----", forwarded-message markers and their translations.
fn is_separator(t: &str) -> bool {
    if t.len() > 100 {
        return false;
    }
    if t.starts_with("Begin forwarded message:") {
        return true;
    }
    if !t.starts_with("--") && !t.starts_with("__") {
        return false;
    }
    let inner = t
        .trim_matches(|c: char| c == '-' || c == '_' || c.is_whitespace())
        .to_lowercase();
    matches!(
        inner.as_str(),
        "original message"
            | "ursprüngliche nachricht"
            | "originalnachricht"
            | "message d'origine"
            | "message d’origine"
            | "mensaje original"
            | "messaggio originale"
            | "oorspronkelijk bericht"
            | "forwarded message"
            | "weitergeleitete nachricht"
            | "message transféré"
            | "mensaje reenviado"
    )
}

/// A horizontal rule line such as Outlook's "________________________________".
fn is_rule(t: &str) -> bool {
    t.len() >= 10 && t.chars().all(|c| c == '_' || c == '-')
}

const FROM_KEYS: &[&str] = &["From:", "Von:", "De:", "De :", "Da:", "Van:", "Från:"];
const OTHER_KEYS: &[&str] = &[
    "Sent:",
    "Date:",
    "To:",
    "Cc:",
    "Subject:",
    "Gesendet:",
    "Datum:",
    "An:",
    "Betreff:",
    "Envoyé :",
    "Envoyé:",
    "À :",
    "À:",
    "Objet :",
    "Objet:",
    "Enviado:",
    "Para:",
    "Asunto:",
    "Fecha:",
    "Inviato:",
    "Oggetto:",
    "Verzonden:",
    "Aan:",
    "Onderwerp:",
    "Skickat:",
    "Till:",
    "Ämne:",
];

/// Outlook's quoted header block: a "From:" line followed closely by at least two of
/// "Sent:/To:/Subject:" (or their translations), optionally after a "____" rule.
fn is_header_block(lines: &[&str]) -> bool {
    let mut lines = lines;
    if lines.first().is_some_and(|l| is_rule(l.trim())) {
        let skip = 1 + lines[1..]
            .iter()
            .take(2)
            .take_while(|l| l.trim().is_empty())
            .count();
        lines = &lines[skip..];
    }
    let Some(first) = lines.first() else {
        return false;
    };
    let first = strip_emphasis(first.trim());
    if !FROM_KEYS.iter().any(|k| first.starts_with(k)) {
        return false;
    }
    let others = lines
        .iter()
        .skip(1)
        .take(8)
        .map(|l| strip_emphasis(l.trim()))
        .filter(|l| OTHER_KEYS.iter().any(|k| l.starts_with(k)))
        .count();
    others >= 2
}

/// Mobile and webmail footers that add nothing to the sender's words.
fn is_mobile_footer(t: &str) -> bool {
    if t.len() > 80 {
        return false;
    }
    let l = t.to_lowercase();
    const FOOTERS: &[&str] = &[
        "sent from my ",
        "sent from mail for windows",
        "sent from outlook",
        "sent from yahoo mail",
        "sent from the all new aol app",
        "get outlook for ",
        "obtenir outlook pour ",
        "obtener outlook para ",
        "outlook für ios beziehen",
        "outlook für android beziehen",
        "von meinem iphone gesendet",
        "von meinem ipad gesendet",
        "von meinem smartphone gesendet",
        "gesendet von meinem ",
        "envoyé de mon ",
        "enviado desde mi ",
        "enviado do meu ",
        "inviato da ",
        "verzonden vanaf mijn ",
        "skickat från min ",
    ];
    FOOTERS.iter().any(|f| l.starts_with(f))
}

// ---------------------------------------------------------------------------------------------
// automated / out_of_office

/// Subject prefixes of out-of-office replies (Exchange, Gmail, localized).
const OOO_SUBJECTS: &[&str] = &[
    "automatic reply:",
    "auto-reply:",
    "autoreply:",
    "auto reply:",
    "out of office",
    "out of the office",
    "abwesend",
    "abwesenheitsnotiz",
    "automatische antwort:",
    "réponse automatique",
    "respuesta automática",
    "risposta automatica",
    "automatisch antwoord",
    "autosvar",
];

/// Signs of machine-sent mail, strongest first, and whether it is an out-of-office reply.
fn automation(
    msg: &Message<'_>,
    h: &Headers<'_, '_>,
    from: Option<&Addr>,
    subject: &str,
) -> (Option<String>, bool) {
    let local = from
        .map(|a| a.email.rsplit_once('@').map_or(&*a.email, |(l, _)| l))
        .unwrap_or_default();

    // Bounces first: a DSN often also says Auto-Submitted: auto-replied, but is no vacation.
    if let Some(ct) = msg.root_part().content_type() {
        if ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        {
            return (Some("bounce (multipart/report)".into()), false);
        }
    }
    if local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster") {
        let email = from.map(|a| a.email.as_str()).unwrap_or_default();
        return (Some(format!("bounce (From: {email})")), false);
    }

    let subj = subject.to_lowercase();
    let ooo_subject = OOO_SUBJECTS.iter().any(|p| subj.starts_with(p));
    let mut ooo = ooo_subject || h.has("X-MS-Exchange-Inbox-Rules-Loop");
    let mut reason: Option<String> = None;
    let mut set = |r: String| {
        if reason.is_none() {
            reason = Some(r);
        }
    };

    // RFC 3834 section 5: anything but "no" is machine-sent.
    if let Some(v) = h.raw_value("Auto-Submitted") {
        let kind = v
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_lowercase();
        if !kind.is_empty() && kind != "no" {
            ooo |= kind == "auto-replied";
            set(format!("Auto-Submitted: {}", short(&v)));
        }
    }
    for name in ["X-Autoreply", "X-Autorespond"] {
        if let Some(v) = h.raw_value(name) {
            ooo = true;
            set(format!("{name}: {}", short(&v)));
        }
    }
    if let Some(v) = h.raw_value("List-Id") {
        set(format!("List-Id: {}", short(&v)));
    }
    if let Some(v) = h.raw_value("Precedence") {
        let p = v.trim().to_lowercase();
        if matches!(p.as_str(), "bulk" | "list" | "junk" | "auto_reply") {
            set(format!("Precedence: {}", short(&v)));
        }
    }
    if h.has("List-Unsubscribe") {
        // The value is a long URL list; naming the header is reason enough.
        set("List-Unsubscribe".into());
    }
    if let Some(v) = h.raw_value("X-Auto-Response-Suppress") {
        set(format!("X-Auto-Response-Suppress: {}", short(&v)));
    }
    if h.raw_value("Return-Path").is_some_and(|v| v.trim() == "<>") {
        set("bounce (Return-Path: <>)".into());
    }
    if let Some(r) = calendar(msg) {
        set(r);
    }
    if is_noreply_local(local) {
        let email = from.map(|a| a.email.as_str()).unwrap_or_default();
        set(format!("noreply sender ({email})"));
    }
    if let Some(v) = h.raw_value("X-MS-Exchange-Inbox-Rules-Loop") {
        set(format!("X-MS-Exchange-Inbox-Rules-Loop: {}", short(&v)));
    }
    if ooo_subject {
        set(format!("Subject: {}", short(subject)));
    }
    (reason, ooo)
}

fn short(v: &str) -> String {
    let v = collapse_ws(v);
    match v.char_indices().nth(REASON_VALUE_CAP) {
        Some((i, _)) => format!("{}...", &v[..i]),
        None => v,
    }
}

/// A text/calendar (or application/ics) part, or an iTIP method on any part's Content-Type.
fn calendar(msg: &Message<'_>) -> Option<String> {
    for part in &msg.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let ty = format!(
            "{}/{}",
            ct.ctype().to_lowercase(),
            ct.subtype().unwrap_or_default().to_lowercase()
        );
        let method = ct
            .attribute("method")
            .map(|m| m.trim().to_uppercase())
            .filter(|m| matches!(m.as_str(), "REQUEST" | "CANCEL" | "REPLY"));
        if ty == "text/calendar" || ty == "application/ics" || method.is_some() {
            return Some(match method {
                Some(m) => format!("calendar invite ({ty}; method={m})"),
                None => format!("calendar invite ({ty})"),
            });
        }
    }
    None
}

/// Local parts of senders nobody can answer.
fn is_noreply_local(local: &str) -> bool {
    let l = local.to_lowercase();
    let base = l.split('+').next().unwrap_or_default();
    matches!(
        base,
        "noreply"
            | "no-reply"
            | "no_reply"
            | "donotreply"
            | "do-not-reply"
            | "do_not_reply"
            | "notifications"
            | "notification"
            | "mailer-daemon"
    ) || base.starts_with("noreply")
        || base.starts_with("no-reply")
        || base.starts_with("donotreply")
        || base.starts_with("do-not-reply")
        || base.starts_with("bounce")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn must_not_panic(raw: &[u8]) {
        let _ = parse(raw);
    }

    #[test]
    fn empty_input_is_an_error() {
        assert!(parse(b"").is_err());
        assert!(parse(b"\r\n\r\n").is_err());
    }

    #[test]
    fn garbage_never_panics() {
        // A small deterministic PRNG (xorshift) keeps the test pure and reproducible.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for len in [1usize, 7, 64, 513, 4096, 65_537] {
            for _ in 0..8 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (x >> 24) as u8
                    })
                    .collect();
                must_not_panic(&bytes);
            }
        }
        for s in [
            &b"From:"[..],
            b":",
            b"\n\n\n",
            b"From: <",
            b"From: =?utf-8?q?",
            b"Subject: =?utf-8?b?////?=\n\nx",
            b"Content-Type: multipart/mixed; boundary=\"\"\n\n--\n--",
            b"Content-Type: multipart/mixed; boundary=a\n\n--a\n--a\n--a--",
            b"Date: Mon, 99 Foo 99999 99:99:99 +9999\nFrom: a@b\n\nx",
            b"References: <<<<>>>> (((( \"\n\nx",
            b"Content-Type: text/html\n\n<<<<<</div/p<br",
            b"Content-Type: text/plain; format=flowed; delsp=yes\n\n \n> \n>>> x \n-- \n",
        ] {
            must_not_panic(s);
        }
    }

    #[test]
    fn truncated_headers() {
        let full = b"From: Ann <ann@example.com>\r\nTo: bob@example.com\r\nSubject: Hi there\r\nMessage-ID: <abc@example.com>\r\nContent-Type: multipart/alternative; boundary=\"xyz\"\r\n\r\n--xyz\r\nContent-Type: text/plain\r\n\r\nHello\r\n--xyz--\r\n";
        for end in 0..full.len() {
            must_not_panic(&full[..end]);
        }
        let e = parse(&full[..40]).unwrap();
        assert_eq!(e.from.unwrap().email, "ann@example.com");
    }

    #[test]
    fn huge_body_is_capped_on_a_char_boundary() {
        let mut raw = b"From: a@example.com\r\nSubject: big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n".to_vec();
        while raw.len() < 5 * 1024 * 1024 {
            raw.extend_from_slice("héllo wörld — ".as_bytes());
        }
        let e = parse(&raw).unwrap();
        assert!(e.text.len() <= TEXT_CAP);
        assert!(e.text.len() > TEXT_CAP - 8);
        assert!(e.new_text.len() <= TEXT_CAP);

        for unit in [
            &b"<div>hello <b>world</b></div>"[..],
            b"<style>",
            b"<!--",
            b"&amp;&#1;&lt",
            b"<blockquote>",
        ] {
            let mut html = b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n".to_vec();
            while html.len() < 5 * 1024 * 1024 {
                html.extend_from_slice(unit);
            }
            let e = parse(&html).unwrap();
            assert!(e.text.len() <= TEXT_CAP);
        }
    }

    #[test]
    fn header_only_message() {
        let e = parse(b"From: Ann <Ann@Example.COM>\r\nSubject: no body\r\n").unwrap();
        assert_eq!(e.text, "");
        assert_eq!(e.new_text, "");
        assert_eq!(e.subject, "no body");
        assert!(e.message_id.ends_with("@tend.invalid"));
        assert_eq!(
            e.from,
            Some(Addr {
                name: Some("Ann".into()),
                email: "ann@example.com".into()
            })
        );
    }

    #[test]
    fn deeply_nested_multiparts() {
        let depth = 5000;
        let mut raw = b"From: a@example.com\r\nSubject: deep\r\n".to_vec();
        for i in 0..depth {
            raw.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n")
                    .as_bytes(),
            );
        }
        raw.extend_from_slice(b"Content-Type: text/plain\r\n\r\ninnermost\r\n");
        for i in (0..depth).rev() {
            raw.extend_from_slice(format!("--b{i}--\r\n").as_bytes());
        }
        must_not_panic(&raw);

        let mut raw = b"From: a@example.com\r\nSubject: deep\r\n".to_vec();
        for _ in 0..20_000 {
            raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
        }
        raw.extend_from_slice(b"Subject: inner\r\n\r\nbody\r\n");
        assert!(parse(&raw).is_err());

        // Nesting up to the limit still parses (and does not overflow the test thread's stack).
        let mut raw = b"From: a@example.com\r\nSubject: fwd\r\n".to_vec();
        for _ in 0..MAX_NESTED_MESSAGES {
            raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
        }
        raw.extend_from_slice(b"Subject: inner\r\n\r\nbody\r\n");
        assert!(parse(&raw).is_ok());

        // Body text that talks about message/rfc822 is not nesting.
        let mut raw = b"From: a@example.com\r\nSubject: links\r\n\r\n".to_vec();
        for i in 0..1000 {
            raw.extend_from_slice(
                format!("https://forum.example/message/{i} (message/rfc822)\r\n").as_bytes(),
            );
        }
        assert!(parse(&raw).is_ok());
    }

    #[test]
    fn synthetic_id_is_deterministic() {
        let raw = b"From: a@example.com\r\n\r\nhi\r\n";
        let a = parse(raw).unwrap().message_id;
        assert_eq!(a, parse(raw).unwrap().message_id);
        assert_eq!(a.len(), 32 + "@tend.invalid".len());
        assert_ne!(
            a,
            parse(b"From: a@example.com\r\n\r\nho\r\n")
                .unwrap()
                .message_id
        );
    }

    #[test]
    fn ids_tolerate_junk() {
        let table: &[(&str, &[&str])] = &[
            ("<a@b>", &["a@b"]),
            ("<a@b> <c@d>", &["a@b", "c@d"]),
            ("<a@b>,<c@d>", &["a@b", "c@d"]),
            ("a@b c@d", &["a@b", "c@d"]),
            ("<a@b> (Ann's message of \"Mon\") <c@d>", &["a@b", "c@d"]),
            ("Your message of Mon, 3 Jun <x@y>", &["x@y"]),
            ("<a@\r\n b>", &["a@b"]),
            ("", &[]),
            ("junk", &[]),
        ];
        for (input, want) in table {
            assert_eq!(extract_ids(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn new_text_table() {
        let table: &[(&str, &str)] = &[
            ("Hi\n\nOn Mon, 3 Jun 2026 at 10:00, Ann <a@b.c> wrote:\n> old", "Hi"),
            (
                "Hi\n\nOn Mon, 3 Jun 2026 at 10:00, Ann Example\n<a@b.c> wrote:\n> old",
                "Hi",
            ),
            ("> old\n> more\n\nMy answer", "My answer"),
            (
                "Yes.\n\n-----Original Message-----\nFrom: x\nSent: y\n",
                "Yes.",
            ),
            (
                "Yes.\n\n________________________________\nFrom: Ann\nSent: Monday\nTo: Bob\nSubject: Re: x\n\nold",
                "Yes.",
            ),
            (
                "Ja.\n\nVon: Ann\nGesendet: Montag\nAn: Bob\nBetreff: x\n",
                "Ja.",
            ),
            ("Ok\n\n-- \nBob\nACME", "Ok"),
            ("Ok\n\nSent from my iPhone", "Ok"),
            ("Ok\n\nGet Outlook for iOS", "Ok"),
            ("Ok\n\nObtenir Outlook pour Android", "Ok"),
            ("Am 12.11.2026 um 09:14 schrieb Hans <h@x.de>:\n> alt", "Am 12.11.2026 um 09:14 schrieb Hans <h@x.de>:\n> alt"),
            ("Le 12 nov. 2026 à 09:14, Jean <j@x.fr> a écrit :\n> vieux", "Le 12 nov. 2026 à 09:14, Jean <j@x.fr> a écrit :\n> vieux"),
            ("Sí\n\nEl lun, 3 jun 2026, Ana <a@x.es> escribió:\n> viejo", "Sí"),
            ("Sent from my iPhone", "Sent from my iPhone"),
            ("", ""),
        ];
        for (input, want) in table {
            assert_eq!(new_text(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn unflow_joins_soft_breaks() {
        assert_eq!(
            unflow("Hello \nworld\n-- \nsig", false),
            "Hello world\n-- \nsig"
        );
        assert_eq!(unflow("> a \n> b\nc", false), "> a b\nc");
        assert_eq!(unflow("ab \ncd", true), "abcd");
    }

    #[test]
    fn html_block_tags_break_lines() {
        assert_eq!(
            html_to_text("<div>One</div><div>Two &amp; three</div><p>Four</p>"),
            "One\nTwo & three\nFour"
        );
        let table: &[(&str, &str)] = &[
            ("<br><b>Sent:</b> Mon", "Sent: Mon"),
            ("<div>a</div><div><br></div><div>b</div>", "a\n\nb"),
            ("<p>a</p><p>&nbsp;</p><p>b</p>", "a\n\nb"),
            ("x<blockquote>q<br>r</blockquote>y", "x\n> q\n> r\ny"),
            (
                "<head><style>p{}</style><title>T</title></head>Hi&nbsp;you &lt;a@b&gt;",
                "Hi you <a@b>",
            ),
            ("a < b &amp c &#233;&#x20AC;", "a < b &amp c é€"),
            (
                "<!-- c --><table><tr><td>1</td><td>2</td></tr></table>",
                "1 2",
            ),
            ("<div", ""),
            ("&#99999999999;&bogus;", "&#99999999999;&bogus;"),
        ];
        for (input, want) in table {
            assert_eq!(html_to_text(input), *want, "input {input:?}");
        }
    }
}
