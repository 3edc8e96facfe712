//! Which messages of a folder carry a stage's IMAP keyword (a mail client's tag, such as
//! Thunderbird's `$label1` or a tag named "proposal"): one `UID SEARCH` for every keyword at
//! once, then one `UID FETCH` of the hits' flags and Message-ID. Both tagged statuses are
//! checked (see `command`): a refused search is an error, never "nothing tagged", or a tag would
//! seem removed. A folder where the server does not let clients set keywords still answers the
//! search (with nothing): fine.
//!
//! Read only: it never STOREs a flag and opens the folder with EXAMINE. It does not know stages
//! (the daemon maps a keyword to its stage) and never calls the store.

use super::{command, within, Session};
use crate::config::is_atom;
use anyhow::{Context, Result};
use async_imap::imap_proto::{AttributeValue, Response};

/// A message carrying one of the keywords asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyworded {
    /// The keyword as it was asked for (the configured spelling; keywords compare
    /// case-insensitively, RFC 3501 2.3.2).
    pub keyword: String,
    pub uid: u32,
    /// Without angle brackets, as `parse` reads it.
    pub message_id: String,
}

/// `OR KEYWORD a OR KEYWORD b KEYWORD c`: the search key for any of `keywords` (not empty).
fn search_key(keywords: &[&str]) -> String {
    let mut out = String::new();
    for (i, k) in keywords.iter().enumerate() {
        if i + 1 < keywords.len() {
            out.push_str("OR ");
        }
        out.push_str("KEYWORD ");
        out.push_str(k);
        if i + 1 < keywords.len() {
            out.push(' ');
        }
    }
    out
}

/// One FETCH response: its UID, its flags and its header block.
struct Tagged {
    uid: u32,
    flags: Vec<String>,
    header: Vec<u8>,
}

fn fetched(resp: &Response<'_>) -> Option<Tagged> {
    let Response::Fetch(_, attrs) = resp else {
        return None;
    };
    let (mut uid, mut flags, mut header) = (None, None, None);
    for a in attrs {
        match a {
            AttributeValue::Uid(u) => uid = Some(*u),
            AttributeValue::Flags(f) => flags = Some(f.iter().map(|f| f.to_string()).collect()),
            AttributeValue::BodySection {
                section: Some(_),
                data,
                ..
            } => header = Some(data.as_deref().map_or_else(Vec::new, <[u8]>::to_vec)),
            _ => {}
        }
    }
    Some(Tagged {
        uid: uid?,
        flags: flags?,
        header: header?,
    })
}

/// The Message-ID of a header block, without brackets, read as `parse` reads it; `None` when
/// the message has none (`parse` names such a message by a hash of all its bytes, which a
/// header alone cannot give).
fn message_id(header: &[u8]) -> Option<String> {
    let (value, _) = crate::parse::header_and_text(header, "Message-ID")?;
    crate::parse::message_id_of(&value)
}

impl Session {
    /// The messages of `folder` carrying any of `keywords`: one entry per message and keyword
    /// it carries, in UID order. Messages flagged `\Deleted` (on their way out) and messages
    /// without a Message-ID are left out. A NO or BAD is an error.
    pub async fn keyworded(&mut self, folder: &str, keywords: &[&str]) -> Result<Vec<Keyworded>> {
        if keywords.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(bad) = keywords.iter().find(|k| !is_atom(k)) {
            anyhow::bail!("refusing to search for {bad:?}: not an IMAP keyword");
        }
        self.examine(folder).await?;
        let cmd = format!("UID SEARCH {}", search_key(keywords));
        let mut uids = Vec::new();
        let fut = command::run(&mut self.inner, &cmd, &cmd, |r| {
            uids.extend(command::search_hits(r).into_iter().flatten())
        });
        within(self.timeout, &self.host, "SEARCH (keywords)", fut)
            .await
            .and_then(|status| Ok(status?))
            .with_context(|| format!("searching {folder:?} for the stage keywords"))?;
        uids.sort_unstable();
        uids.dedup();
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let cmd = format!(
            "UID FETCH {} (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
            super::uid_set(&uids)
        );
        let mut answers = Vec::new();
        let fut = command::run(&mut self.inner, &cmd, &cmd, |r| answers.extend(fetched(r)));
        within(self.timeout * 4, &self.host, "UID FETCH (keywords)", fut)
            .await
            .and_then(|status| Ok(status?))
            .with_context(|| format!("reading the tagged messages in {folder:?}"))?;
        self.drain();
        answers.sort_by_key(|a| a.uid);
        answers.dedup_by_key(|a| a.uid);
        let mut out = Vec::new();
        for a in answers {
            // An unsolicited FETCH of a message we did not ask for (another client's flags).
            if uids.binary_search(&a.uid).is_err()
                || a.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Deleted"))
            {
                continue;
            }
            let Some(message_id) = message_id(&a.header) else {
                tracing::debug!(uid = a.uid, folder, "a tagged message has no Message-ID");
                continue;
            };
            for k in keywords {
                if a.flags.iter().any(|f| f.eq_ignore_ascii_case(k)) {
                    out.push(Keyworded {
                        keyword: k.to_string(),
                        uid: a.uid,
                        message_id: message_id.clone(),
                    });
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_search_key_covers_every_keyword() {
        assert_eq!(search_key(&["a"]), "KEYWORD a");
        assert_eq!(search_key(&["a", "b"]), "OR KEYWORD a KEYWORD b");
        assert_eq!(
            search_key(&["a", "b", "c"]),
            "OR KEYWORD a OR KEYWORD b KEYWORD c"
        );
    }

    #[test]
    fn keywords_must_be_atoms() {
        assert!(is_atom("$label1"));
        assert!(is_atom("proposal"));
        for bad in ["", "two words", "\\Seen", "a)b", "x\"y", "tab\t"] {
            assert!(!is_atom(bad), "{bad:?}");
        }
    }

    #[test]
    fn message_ids_are_read_as_parse_reads_them() {
        let id = |h: &str| message_id(h.as_bytes());
        assert_eq!(
            id("Message-ID: <q1@buyer.test>\r\n\r\n").as_deref(),
            Some("q1@buyer.test")
        );
        assert_eq!(
            id("message-id:\r\n <folded@buyer.test> (comment)\r\n\r\n").as_deref(),
            Some("folded@buyer.test")
        );
        assert_eq!(
            id("Message-ID: <bare-token>\r\n\r\n").as_deref(),
            Some("bare-token")
        );
        assert_eq!(id("\r\n").as_deref(), None);
        let raw = b"Message-ID: <p@x>\r\nFrom: a@b\r\nSubject: s\r\n\r\nbody\r\n";
        assert_eq!(
            id("Message-ID: <p@x>\r\n\r\n"),
            Some(crate::parse::parse(raw).unwrap().message_id)
        );
    }
}
