//! A stored message as bytes: the `messages` tree's values, the bulk of the store. A record is
//! its JSON, deflated (RFC 1951, miniz_oxide: pure Rust), behind a one-byte tag; the JSON of
//! one message is mostly its text, which deflate shrinks to well under half, and the field
//! names, repeated in every record, all but vanish. JSON rather than a positional format
//! because `Email` skips absent fields when serialised, which postcard or bincode cannot read
//! back. A value without the tag is a record of store format 1 (plain JSON).
//!
//! It does not decide what a record holds (`filing` does) nor which records are kept.

use crate::parse::Email;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The first byte of a deflated record. A format-1 record starts with `{`.
const DEFLATED: u8 = 1;
/// miniz_oxide's fastest level: on the 50,000 records of the 50k bench mailbox (86 MB of JSON)
/// level 1 makes 39.8 MB in 2.1 s of CPU, level 6 36.3 MB in 2.9 s; filing is no slower
/// overall, as sled has less than half as much to copy and write.
const LEVEL: u8 = 1;
/// A record inflates to at most this: text is capped at parse time (`parse::TEXT_CAP`), so a
/// larger one is damage, not mail.
const MAX_INFLATED: usize = 16 * 1024 * 1024;

/// A stored message and the thread it was filed under.
#[derive(Serialize, Deserialize)]
pub(super) struct Record {
    pub(super) thread: String,
    pub(super) email: Email,
    /// This copy came through a mailing list (a copy without list signs replaces it).
    #[serde(default)]
    pub(super) via_list: bool,
}

impl Record {
    pub(super) fn encode(&self) -> Vec<u8> {
        let json = super::json(self);
        let deflated = miniz_oxide::deflate::compress_to_vec(&json, LEVEL);
        let mut out = Vec::with_capacity(deflated.len() + 1);
        out.push(DEFLATED);
        out.extend_from_slice(&deflated);
        out
    }

    pub(super) fn decode(v: &[u8]) -> Result<Record> {
        match v.split_first() {
            Some((&DEFLATED, rest)) => {
                let json = miniz_oxide::inflate::decompress_to_vec_with_limit(rest, MAX_INFLATED)
                    .map_err(|e| anyhow::anyhow!("inflating a stored message: {e}"))?;
                serde_json::from_slice(&json).context("decoding a stored message")
            }
            _ => serde_json::from_slice(v).context("decoding a stored message (format 1)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(text: &str) -> Email {
        crate::parse::parse(
            format!("Message-ID: <a@b>\r\nFrom: x@y.test\r\nSubject: Hi\r\n\r\n{text}\r\n")
                .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn a_record_round_trips_deflated_and_smaller() {
        let text = "The 50-seat plan, the licence and the onboarding. ".repeat(40);
        let r = Record {
            thread: "t@b".into(),
            email: email(&text),
            via_list: true,
        };
        let bytes = r.encode();
        assert_eq!(bytes[0], DEFLATED);
        assert!(
            bytes.len() * 3 < super::super::json(&r).len(),
            "{}",
            bytes.len()
        );
        let back = Record::decode(&bytes).unwrap();
        assert_eq!(back.thread, "t@b");
        assert!(back.via_list);
        assert_eq!(back.email, r.email);
    }

    #[test]
    fn a_format_1_record_still_decodes_and_damage_is_an_error() {
        let r = Record {
            thread: "t@b".into(),
            email: email("Hello"),
            via_list: false,
        };
        let old = super::super::json(&r);
        assert_eq!(Record::decode(&old).unwrap().email, r.email);
        assert!(Record::decode(&[DEFLATED, 0xff, 0x00, 0x12]).is_err());
        assert!(Record::decode(b"").is_err());
    }
}
