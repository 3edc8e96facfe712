//! The inflated payload of a frame of the texts file (`texts`): the message's headers first,
//! as JSON, then its two texts as they are, so that the headers can be inflated alone. A
//! payload written before that layout (the whole `Email` as one JSON, store format 3) still
//! reads, whole and as headers.
//!
//! It does not know about the file, checksums or where a frame is: `texts` does.

use crate::parse::Email;

/// Inflates at most `limit` bytes of `payload`: all of it (`Ok`), the first `limit` bytes of a
/// longer one (`Err(Some)`), or nothing (`Err(None)`: not deflate).
pub(super) fn inflate(payload: &[u8], limit: usize) -> Result<Vec<u8>, Option<Vec<u8>>> {
    use miniz_oxide::inflate::{decompress_to_vec_with_limit, TINFLStatus};
    match decompress_to_vec_with_limit(payload, limit) {
        Ok(raw) => Ok(raw),
        Err(e) if e.status == TINFLStatus::HasMoreOutput => Err(Some(e.output)),
        Err(_) => Err(None),
    }
}

/// The first byte of a payload whose headers come first; a payload written before began with
/// the `{` of its JSON.
const SPLIT: u8 = 1;
/// How much of a payload is inflated first to read its headers: a message's headers as JSON
/// are a few hundred bytes; a longer one (a References of a long thread) is inflated again to
/// its length.
pub(super) const HEAD_FIRST: usize = 2048;

/// The inflated payload: [`SPLIT`], the headers' length (u32, little-endian), the headers as
/// JSON, `new_text`'s length (u32, little-endian), `new_text`, then `text` to the end.
pub(super) struct Inflated;

impl Inflated {
    pub(super) fn of(email: &Email) -> Vec<u8> {
        let mut raw = Vec::with_capacity(512 + email.new_text.len() + email.text.len());
        raw.push(SPLIT);
        raw.extend_from_slice(&[0; 4]);
        // Serialising our own plain struct cannot fail.
        serde_json::to_writer(&mut raw, &email.without_text()).expect("serialisable");
        let head = (raw.len() - 5) as u32;
        raw[1..5].copy_from_slice(&head.to_le_bytes());
        raw.extend_from_slice(&(email.new_text.len() as u32).to_le_bytes());
        raw.extend_from_slice(email.new_text.as_bytes());
        raw.extend_from_slice(email.text.as_bytes());
        raw
    }

    /// Where the headers end in a payload that has them first, read from its first 5 bytes.
    pub(super) fn head_end(raw: &[u8]) -> Option<usize> {
        let len = u32::from_le_bytes(raw.get(1..5)?.try_into().ok()?);
        5usize.checked_add(usize::try_from(len).ok()?)
    }

    pub(super) fn head(raw: &[u8]) -> Result<Email, &'static str> {
        match raw.first() {
            Some(&SPLIT) => {
                let end = Inflated::head_end(raw).filter(|&e| e <= raw.len());
                let json = raw
                    .get(5..end.ok_or("is cut short")?)
                    .ok_or("is cut short")?;
                serde_json::from_slice(json).map_err(|_| "does not decode")
            }
            _ => Ok(Inflated::email(raw)?.without_text()),
        }
    }

    /// How many bytes of the payload `got` begins must be inflated to read its headers, or its
    /// headers and `new_text` too (`said`); all of it for a payload written before the headers
    /// came first (`usize::MAX`). `None`: the lengths it gives are impossible.
    pub(super) fn needs(got: &[u8], said: bool) -> Option<usize> {
        if got.first() != Some(&SPLIT) {
            return Some(usize::MAX);
        }
        let head = Inflated::head_end(got)?;
        if !said {
            return Some(head);
        }
        let texts = head.checked_add(4)?;
        match got.get(head..texts) {
            Some(len) => {
                let len = u32::from_le_bytes(len.try_into().ok()?);
                texts.checked_add(usize::try_from(len).ok()?)
            }
            None => Some(texts),
        }
    }

    pub(super) fn email(raw: &[u8]) -> Result<Email, &'static str> {
        Inflated::read(raw, true)
    }

    /// The headers and `new_text`, `text` left empty; `raw` may end after `new_text`.
    pub(super) fn said(raw: &[u8]) -> Result<Email, &'static str> {
        Inflated::read(raw, false)
    }

    fn read(raw: &[u8], with_text: bool) -> Result<Email, &'static str> {
        if raw.first() != Some(&SPLIT) {
            let mut email: Email = serde_json::from_slice(raw).map_err(|_| "does not decode")?;
            if !with_text {
                email.text = String::new();
            }
            return Ok(email);
        }
        let mut email = Inflated::head(raw)?;
        let end = Inflated::head_end(raw).ok_or("is cut short")?;
        let texts = raw.get(end..).ok_or("is cut short")?;
        let (len, texts) = texts.split_at_checked(4).ok_or("is cut short")?;
        let len = u32::from_le_bytes(len.try_into().map_err(|_| "is cut short")?) as usize;
        let (new_text, text) = texts.split_at_checked(len).ok_or("is cut short")?;
        let utf8 = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| "does not decode");
        email.new_text = utf8(new_text)?;
        if with_text {
            email.text = utf8(text)?;
        }
        Ok(email)
    }
}
