//! Raw RFC 5322 bytes -> [`Email`], the facts tend uses about one message. The only user of
//! mail-parser. Pure: no I/O, no clock. It extracts facts (addresses, threading headers, the
//! new text, signs of machine-sent mail); deciding what those facts mean is `detect`'s job.

use serde::{Deserialize, Serialize};

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

/// Why a message could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not an RFC 5322 message: {0}")]
    Malformed(String),
}

/// Parses one message. Never panics on hostile input.
pub fn parse(raw: &[u8]) -> Result<Email, ParseError> {
    let _ = raw;
    Err(ParseError::Malformed("parser not written yet".into()))
}
