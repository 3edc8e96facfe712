//! Messages over the fetch cap: their text without their attachments (review 1.1.2). Cut at
//! its first 2 MiB, a message with a PDF or inline images before its text loses the text.
//! Instead its BODYSTRUCTURE (RFC 3501 7.4.2) says where the text/plain and text/html parts
//! are, and the message is rebuilt from its header and those parts alone, in the same
//! multipart nesting, so parsing chooses between plain and HTML as in the whole message.
//! All here is pure but [`Session::fetch_text_parts`], which does the two FETCHes.

use super::{command, within, Fetched, Session};
use anyhow::{Context, Result};
use async_imap::imap_proto::{
    AttributeValue, BodyStructure, MessageSection, Response, SectionPath,
};
use std::collections::HashMap;

impl Session {
    /// A message larger than `cap`, as its header and its text parts only. `Ok(None)` when
    /// that does not apply (a single part, no text part) or the server would not answer: the
    /// caller then fetches the first `cap` bytes, as for any message.
    pub async fn fetch_text_parts(&mut self, uid: u32, cap: u32) -> Result<Option<Fetched>> {
        let ours = |attrs: &[AttributeValue<'_>]| attrs.contains(&AttributeValue::Uid(uid));
        let cmd = format!("UID FETCH {uid} (UID INTERNALDATE BODYSTRUCTURE)");
        let (mut found, mut internal_date) = (None, None);
        let fut = command::run(&mut self.inner, &cmd, &cmd, |r| match r {
            Response::Fetch(_, attrs) if ours(attrs) => {
                for a in attrs {
                    match a {
                        AttributeValue::BodyStructure(bs) => found = shape(bs, cap),
                        AttributeValue::InternalDate(d) => {
                            internal_date = command::internal_date(d)
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        });
        let status = within(self.timeout, &self.host, "UID FETCH (BODYSTRUCTURE)", fut)
            .await
            .context("fetching a message's structure")?;
        let (Ok(()), Some(shape)) = (status, found) else {
            return Ok(None);
        };
        let cmd = format!("UID FETCH {uid} (UID {})", items(&shape));
        let mut pieces = Pieces::default();
        let fut = command::run(&mut self.inner, &cmd, &cmd, |r| match r {
            Response::Fetch(_, attrs) if ours(attrs) => {
                for a in attrs {
                    let AttributeValue::BodySection {
                        section: Some(section),
                        data: Some(data),
                        ..
                    } = a
                    else {
                        continue;
                    };
                    let data = data.to_vec();
                    match section {
                        SectionPath::Full(MessageSection::Header) => pieces.header = Some(data),
                        SectionPath::Part(path, Some(MessageSection::Mime)) => {
                            pieces.mime.insert(path.clone(), data);
                        }
                        SectionPath::Part(path, None) => {
                            pieces.body.insert(path.clone(), data);
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        });
        let status = within(self.timeout * 4, &self.host, "UID FETCH (text parts)", fut)
            .await
            .context("fetching a message's text parts")?;
        if status.is_err() {
            return Ok(None);
        }
        Ok(rebuild(&shape, &pieces).map(|raw| Fetched {
            uid,
            raw,
            internal_date,
        }))
    }
}

/// At most this many text parts are fetched for one message; hostile mail can have thousands.
const MAX_PARTS: usize = 32;

/// The rebuilt message's skeleton: multiparts and text leaves only.
#[derive(Debug, PartialEq)]
pub enum Shape {
    Multipart {
        subtype: String,
        parts: Vec<Shape>,
    },
    /// A text part by its IMAP section path (`[2, 1]` is `2.1`), fetched up to `take` bytes.
    Text {
        path: Vec<u32>,
        take: u32,
    },
}

/// The text skeleton of a multipart message, with at most `cap` bytes of text; `None` for a
/// single-part message (its first bytes are its text) or one without a text part.
pub fn shape(bs: &BodyStructure<'_>, cap: u32) -> Option<Shape> {
    if !matches!(bs, BodyStructure::Multipart { .. }) {
        return None;
    }
    let (mut budget, mut parts) = (cap, MAX_PARTS);
    walk(bs, &[], &mut budget, &mut parts)
}

fn walk(bs: &BodyStructure<'_>, path: &[u32], budget: &mut u32, left: &mut usize) -> Option<Shape> {
    match bs {
        BodyStructure::Multipart { common, bodies, .. } => {
            let mut parts = Vec::new();
            for (i, body) in bodies.iter().enumerate() {
                let mut sub = path.to_vec();
                sub.push(u32::try_from(i + 1).ok()?);
                parts.extend(walk(body, &sub, budget, left));
            }
            (!parts.is_empty()).then(|| Shape::Multipart {
                subtype: common.ty.subtype.to_ascii_lowercase(),
                parts,
            })
        }
        BodyStructure::Text { common, other, .. } => {
            let subtype = common.ty.subtype.to_ascii_lowercase();
            let attachment = common
                .disposition
                .as_ref()
                .is_some_and(|d| d.ty.eq_ignore_ascii_case("attachment"));
            if !matches!(subtype.as_str(), "plain" | "html") || attachment {
                return None;
            }
            if *budget == 0 || *left == 0 {
                return None;
            }
            let take = other.octets.min(*budget).max(1);
            *budget = budget.saturating_sub(take);
            *left -= 1;
            Some(Shape::Text {
                path: path.to_vec(),
                take,
            })
        }
        // Attachments, and forwarded messages (their text is not the sender's own words).
        _ => None,
    }
}

/// `1.2`
pub fn section(path: &[u32]) -> String {
    path.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// The FETCH items for the header and every text part with its MIME header.
pub fn items(shape: &Shape) -> String {
    let mut out = String::from("BODY.PEEK[HEADER]");
    for (path, take) in leaves(shape) {
        let s = section(path);
        out.push_str(&format!(" BODY.PEEK[{s}.MIME] BODY.PEEK[{s}]<0.{take}>"));
    }
    out
}

fn leaves(shape: &Shape) -> Vec<(&[u32], u32)> {
    match shape {
        Shape::Text { path, take } => vec![(path.as_slice(), *take)],
        Shape::Multipart { parts, .. } => parts.iter().flat_map(leaves).collect(),
    }
}

/// What the second FETCH gave: the message header, and per part its MIME header and body.
#[derive(Debug, Default)]
pub struct Pieces {
    pub header: Option<Vec<u8>>,
    pub mime: HashMap<Vec<u32>, Vec<u8>>,
    pub body: HashMap<Vec<u32>, Vec<u8>>,
}

/// The message rebuilt from its pieces; `None` if one is missing.
pub fn rebuild(shape: &Shape, pieces: &Pieces) -> Option<Vec<u8>> {
    let Shape::Multipart { subtype, parts } = shape else {
        return None;
    };
    let mut out = without_content_fields(pieces.header.as_deref()?);
    let mut boundaries = 0;
    multipart(subtype, parts, pieces, &mut out, &mut boundaries)?;
    Some(out)
}

/// Writes a multipart's Content-Type, a blank line and its parts.
fn multipart(
    subtype: &str,
    parts: &[Shape],
    pieces: &Pieces,
    out: &mut Vec<u8>,
    boundaries: &mut usize,
) -> Option<()> {
    let boundary = format!("=_tend_rebuilt_{}_=", *boundaries);
    *boundaries += 1;
    out.extend_from_slice(
        format!("Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n").as_bytes(),
    );
    for part in parts {
        out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
        match part {
            Shape::Multipart { subtype, parts } => {
                multipart(subtype, parts, pieces, out, boundaries)?
            }
            Shape::Text { path, .. } => {
                let mime = pieces.mime.get(path)?;
                out.extend_from_slice(mime);
                // A part with no header of its own still needs the blank line before its body.
                if !(mime.ends_with(b"\n\n") || mime.ends_with(b"\r\n\r\n")) {
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(pieces.body.get(path)?);
            }
        }
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Some(())
}

/// The header without Content-Type and Content-Transfer-Encoding (folded lines included) and
/// without its closing blank line: the rebuilt multipart gets its own.
fn without_content_fields(header: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len());
    let mut dropping = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        let blank = line.iter().all(|b| b.is_ascii_whitespace());
        if blank {
            break;
        }
        if !line[0].is_ascii_whitespace() {
            let name = line.split(|&b| b == b':').next().unwrap_or(b"");
            let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
            dropping = matches!(name.as_str(), "content-type" | "content-transfer-encoding");
        }
        if !dropping {
            out.extend_from_slice(line);
        }
    }
    if !out.ends_with(b"\n") && !out.is_empty() {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_imap::imap_proto::{AttributeValue, Response};

    /// The BODYSTRUCTURE of a FETCH response line.
    fn structure(line: &[u8], cap: u32) -> Option<Shape> {
        let (_, resp) = Response::parse(line).expect("a response");
        let Response::Fetch(_, attrs) = resp else {
            panic!("a FETCH")
        };
        attrs.iter().find_map(|a| match a {
            AttributeValue::BodyStructure(bs) => shape(bs, cap),
            _ => None,
        })
    }

    // multipart/mixed: an image, then multipart/alternative (plain, html), then a text file
    // attachment.
    const MIXED: &[u8] = b"* 1 FETCH (UID 9 BODYSTRUCTURE ((\"image\" \"png\" NIL NIL NIL \"base64\" 3000000)\
        ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 40 2)\
        (\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 90 3) \"alternative\")\
        (\"text\" \"plain\" NIL NIL NIL \"7bit\" 500 9 NIL (\"attachment\" (\"filename\" \"a.txt\"))) \"mixed\"))\r\n";

    #[test]
    fn the_shape_keeps_text_parts_and_their_nesting_only() {
        let shape = structure(MIXED, 1_000).unwrap();
        assert_eq!(
            shape,
            Shape::Multipart {
                subtype: "mixed".into(),
                parts: vec![Shape::Multipart {
                    subtype: "alternative".into(),
                    parts: vec![
                        Shape::Text {
                            path: vec![2, 1],
                            take: 40
                        },
                        Shape::Text {
                            path: vec![2, 2],
                            take: 90
                        },
                    ],
                }],
            }
        );
        assert_eq!(
            items(&shape),
            "BODY.PEEK[HEADER] BODY.PEEK[2.1.MIME] BODY.PEEK[2.1]<0.40> \
             BODY.PEEK[2.2.MIME] BODY.PEEK[2.2]<0.90>"
        );
        // The cap bounds the text fetched.
        let small = structure(MIXED, 50).unwrap();
        assert_eq!(
            leaves(&small),
            vec![(&[2u32, 1][..], 40), (&[2u32, 2][..], 10)]
        );
        // A single-part message is served by the plain capped fetch.
        let single =
            b"* 1 FETCH (UID 9 BODYSTRUCTURE (\"text\" \"plain\" NIL NIL NIL \"7bit\" 40 2))\r\n";
        assert_eq!(structure(single, 1_000), None);
    }

    #[test]
    fn the_rebuilt_message_parses_to_the_text_after_the_attachment() {
        let shape = structure(MIXED, 1_000).unwrap();
        let mut pieces = Pieces {
            header: Some(
                b"From: Bob <bob@buyer.test>\r\nSubject: Specs\r\nMIME-Version: 1.0\r\n\
                  Content-Type: multipart/mixed;\r\n boundary=\"orig\"\r\nMessage-ID: <m@x>\r\n\r\n"
                    .to_vec(),
            ),
            ..Pieces::default()
        };
        for (n, (ct, body)) in [
            ("text/plain; charset=utf-8", "Can you quote 50 seats?"),
            ("text/html; charset=utf-8", "<p>Can you quote 50 seats?</p>"),
        ]
        .iter()
        .enumerate()
        {
            let path = vec![2, n as u32 + 1];
            pieces.mime.insert(
                path.clone(),
                format!("Content-Type: {ct}\r\n\r\n").into_bytes(),
            );
            pieces.body.insert(path, body.as_bytes().to_vec());
        }
        let raw = rebuild(&shape, &pieces).unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(
            !text.contains("orig"),
            "the old Content-Type is gone: {text}"
        );
        let email = crate::parse::parse(&raw).unwrap();
        assert_eq!(email.message_id, "m@x");
        assert_eq!(email.subject, "Specs");
        assert_eq!(email.text.trim(), "Can you quote 50 seats?");
        // A piece missing: no message rather than a wrong one.
        pieces.body.remove(&vec![2, 2]);
        assert_eq!(rebuild(&shape, &pieces), None);
    }
}
