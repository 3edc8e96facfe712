//! One command and its whole answer, read by us: send the command, hand every untagged response
//! to the caller's reader, and end at the tagged completion with our tag, whose status is
//! checked. async-imap 0.12 throws that status away for FETCH, SEARCH, LIST and CAPABILITY (its
//! parsers stop at the tag without looking at it: chatmail/async-imap issue #95, fixed by pull
//! request #146), so a NO or BAD there reads as an empty success. Once a release carries that
//! fix, these commands can go back to `uid_fetch`, `uid_search` and `list` checked by the crate,
//! and this file shrinks to the response readers below.
//!
//! The readers pick out what the command asked for and ignore the rest: unsolicited EXISTS,
//! EXPUNGE, and FETCH responses that only report flags (a FETCH counts only if it carries the
//! UID and the item asked for).

use super::connect::ImapSession;
use super::folders::Listed;
use super::Fetched;
use anyhow::{Context, Result};
use async_imap::imap_proto::{rfc4315::UidSetMember, RequestId};
use async_imap::imap_proto::{
    AttributeValue, Capability, MailboxDatum, Outcome, Response, ResponseCode, Status,
    StatusAttribute,
};

/// The server completed a command with NO or BAD. The connection is still good.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the server answered {status} to {command}: {text}")]
pub struct Refused {
    pub command: String,
    /// `NO` or `BAD`.
    pub status: &'static str,
    /// The server's words, with the response code if it gave one.
    pub text: String,
}

impl Refused {
    /// RFC 5530 `[EXPUNGEISSUED]`: the message was expunged by another session meanwhile.
    pub fn expunge_issued(&self) -> bool {
        self.text.to_ascii_uppercase().contains("EXPUNGEISSUED")
    }
}

/// Sends `command` and passes each untagged response to `each` until the completion tagged
/// with our tag. The outer error is a lost or garbled connection (drop the session); the
/// inner one a NO or BAD (the session is fine). `what` names the command in errors, so a
/// caller can keep secrets out of it.
pub async fn run(
    inner: &mut ImapSession,
    command: &str,
    what: &str,
    each: impl FnMut(&Response<'_>),
) -> Result<std::result::Result<(), Refused>> {
    let tag = inner
        .run_command(command)
        .await
        .with_context(|| format!("sending {what}"))?;
    Ok(complete(inner, &tag, what, each).await?.map(|_| ()))
}

/// What a tagged OK said beyond "OK": the response codes tend acts on.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Done {
    /// RFC 4315 `[APPENDUID uidvalidity uid]`.
    pub append_uid: Option<(u32, u32)>,
}

/// Reads the answer to a command already sent under `tag`, as [`run`] does, keeping the
/// response code of the tagged OK (async-imap's `append` throws it away).
pub async fn complete(
    inner: &mut ImapSession,
    tag: &RequestId,
    what: &str,
    mut each: impl FnMut(&Response<'_>),
) -> Result<std::result::Result<Done, Refused>> {
    let mut bye = None;
    loop {
        let resp = inner
            .read_response()
            .await
            .with_context(|| format!("reading the answer to {what}"))?;
        let Some(resp) = resp else {
            let why = bye.map_or(String::new(), |b| format!(" (BYE: {b})"));
            anyhow::bail!("the connection closed during {what}{why}");
        };
        match resp.parsed() {
            Response::Done {
                tag: done,
                status,
                outcome,
            } if done == tag => return completion(what, status, outcome),
            // Not ours: we send one command at a time, so this is a confused server.
            Response::Done { tag: other, .. } => {
                tracing::debug!(
                    ?other,
                    "ignoring a completion for another tag during {what}"
                )
            }
            Response::Data {
                status: Status::Bye,
                outcome,
            } => bye = Some(words(outcome)),
            other => each(other),
        }
    }
}

/// What a tagged completion says: OK (with the codes tend uses), or the NO or BAD refusal. Any
/// other status there (a PREAUTH or BYE with our tag) is a confused server: an error.
pub(super) fn completion(
    what: &str,
    status: &Status,
    outcome: &Outcome<'_>,
) -> Result<std::result::Result<Done, Refused>> {
    let status = match status {
        Status::Ok => return Ok(Ok(done_code(outcome))),
        Status::No => "NO",
        Status::Bad => "BAD",
        other => anyhow::bail!("{what} ended with {other:?}: {}", words(outcome)),
    };
    Ok(Err(Refused {
        command: what.to_string(),
        status,
        text: words(outcome),
    }))
}

/// The codes of a tagged OK that tend uses.
fn done_code(outcome: &Outcome<'_>) -> Done {
    let append_uid = match &outcome.code {
        // One message appended: one UID (RFC 4315 allows a set only for MULTIAPPEND).
        Some(ResponseCode::AppendUid(validity, set)) => match set.as_slice() {
            [UidSetMember::Uid(uid)] => Some((*validity, *uid)),
            [UidSetMember::UidRange(r)] if r.start() == r.end() => Some((*validity, *r.start())),
            _ => None,
        },
        _ => None,
    };
    Done { append_uid }
}

/// The server's words: `[CODE] text`.
pub(super) fn words(outcome: &Outcome<'_>) -> String {
    let text = outcome.information.as_deref().unwrap_or("").trim();
    match &outcome.code {
        Some(code) => format!("[{code:?}] {text}"),
        None if text.is_empty() => "(no text)".into(),
        None => text.to_string(),
    }
}

/// From a listing `UID FETCH n:* (UID RFC822.SIZE)`: the UID and size.
pub fn listed_uid(resp: &Response<'_>) -> Option<(u32, u32)> {
    let Response::Fetch(_, attrs) = resp else {
        return None;
    };
    let uid = attrs.iter().find_map(|a| match a {
        AttributeValue::Uid(u) => Some(*u),
        _ => None,
    })?;
    let size = attrs.iter().find_map(|a| match a {
        AttributeValue::Rfc822Size(s) => Some(*s),
        _ => None,
    })?;
    Some((uid, size))
}

/// What one FETCH response says about a message asked for with `BODY.PEEK[]<0.N>`.
#[derive(Debug, PartialEq)]
pub enum Body {
    Fetched(Fetched),
    /// The server sent the body as NIL: it has the message but would not give it.
    Nil(u32),
}

/// From `UID FETCH set (UID INTERNALDATE BODY.PEEK[]<0.N>)`: the message, if this response
/// carries its UID and body.
pub fn fetched_body(resp: &Response<'_>) -> Option<Body> {
    let Response::Fetch(_, attrs) = resp else {
        return None;
    };
    let (mut uid, mut body, mut date) = (None, None, None);
    for a in attrs {
        match a {
            AttributeValue::Uid(u) => uid = Some(*u),
            AttributeValue::BodySection {
                section: None,
                data,
                ..
            } => body = Some(data.as_deref().map(<[u8]>::to_vec)),
            AttributeValue::InternalDate(d) => date = internal_date(d),
            _ => {}
        }
    }
    let uid = uid?;
    Some(match body? {
        Some(raw) => Body::Fetched(Fetched {
            uid,
            raw,
            internal_date: date,
        }),
        None => Body::Nil(uid),
    })
}

/// INTERNALDATE (RFC 3501 `date-time`, e.g. ` 2-Jun-2025 10:00:00 +0000`) as Unix seconds.
pub fn internal_date(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_str(text.trim(), "%d-%b-%Y %H:%M:%S %z")
        .ok()
        .map(|d| d.timestamp())
}

/// From `UID SEARCH`: the UIDs found.
pub fn search_hits(resp: &Response<'_>) -> Option<Vec<u32>> {
    match resp {
        Response::MailboxData(MailboxDatum::Search(uids)) => Some(uids.clone()),
        _ => None,
    }
}

/// One answer to `UID FETCH set (UID FLAGS BODY.PEEK[HEADER.FIELDS (...)])`.
#[derive(Debug, PartialEq)]
pub struct Header {
    pub uid: u32,
    pub raw: Vec<u8>,
    /// Flagged `\Deleted` (on its way out, by the user's client or ours).
    pub deleted: bool,
}

/// From `UID FETCH set (UID FLAGS BODY.PEEK[HEADER.FIELDS (...)])`: the UID, the header bytes
/// and whether it is flagged `\Deleted`.
pub fn fetched_header(resp: &Response<'_>) -> Option<Header> {
    let Response::Fetch(_, attrs) = resp else {
        return None;
    };
    let (mut uid, mut header, mut deleted) = (None, None, false);
    for a in attrs {
        match a {
            AttributeValue::Uid(u) => uid = Some(*u),
            AttributeValue::Flags(flags) => {
                deleted |= flags.iter().any(|f| f.eq_ignore_ascii_case("\\Deleted"))
            }
            AttributeValue::BodySection {
                section: Some(_),
                data,
                ..
            } => header = Some(data.as_deref().map_or_else(Vec::new, <[u8]>::to_vec)),
            _ => {}
        }
    }
    Some(Header {
        uid: uid?,
        raw: header?,
        deleted,
    })
}

/// From `UID FETCH uid (UID FLAGS)`: the UID and whether it is flagged `\Deleted`.
pub fn fetched_deleted(resp: &Response<'_>) -> Option<(u32, bool)> {
    let Response::Fetch(_, attrs) = resp else {
        return None;
    };
    let (mut uid, mut deleted) = (None, false);
    for a in attrs {
        match a {
            AttributeValue::Uid(u) => uid = Some(*u),
            AttributeValue::Flags(flags) => {
                deleted |= flags.iter().any(|f| f.eq_ignore_ascii_case("\\Deleted"))
            }
            _ => {}
        }
    }
    Some((uid?, deleted))
}

/// From `STATUS folder (UIDNEXT)`: the UIDNEXT.
pub fn status_uid_next(resp: &Response<'_>) -> Option<u32> {
    let Response::MailboxData(MailboxDatum::Status { status, .. }) = resp else {
        return None;
    };
    status.iter().find_map(|a| match a {
        StatusAttribute::UidNext(n) => Some(*n),
        _ => None,
    })
}

/// From `LIST`: one folder, its name decoded from modified UTF-7.
pub fn list_entry(resp: &Response<'_>) -> Option<Listed> {
    let Response::MailboxData(MailboxDatum::List(data)) = resp else {
        return None;
    };
    let wire = data.name.to_string();
    Some(Listed {
        name: super::utf7::decode(&wire).unwrap_or_else(|| wire.clone()),
        wire,
        delimiter: data.delimiter.as_deref().map(String::from),
        attributes: data
            .name_attributes
            .iter()
            .map(|a| super::attr_name(a))
            .collect(),
    })
}

/// From `CAPABILITY`: does the server offer `name` (an atom such as `IDLE`)?
pub fn offers(resp: &Response<'_>, name: &str) -> Option<bool> {
    let Response::Capabilities(caps) = resp else {
        return None;
    };
    Some(
        caps.iter()
            .any(|c| matches!(c, Capability::Atom(a) if a.eq_ignore_ascii_case(name))),
    )
}

#[cfg(test)]
mod tests;
