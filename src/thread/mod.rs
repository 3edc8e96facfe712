//! Which thread a message belongs to, and in what order a thread's messages stand. Pure:
//! [`resolve`] gets lookups into what is already known (Message-ID -> thread, subject key ->
//! thread) and answers with a thread id; the store owns the lookups and the writing.
//! References and In-Reply-To decide first, but only with evidence (`merge`: a participant or
//! the subject in common); a subject key (the normalised subject plus the counterpart's
//! address, `subject`) catches recent replies from clients that drop threading headers.
//! `order` puts a reply after what it answers, whatever the clocks say. It owns [`Thread`],
//! the unit `detect` judges.

use crate::config::Identity;
use crate::parse::Email;
use std::collections::HashSet;

mod merge;
mod order;
mod subject;

pub use merge::{admit, may_join, Facts, MAX_MERGED};
pub use order::order;
pub use subject::{is_reply_subject, normalize_subject, reply_subject};

/// One conversation: its id (the root Message-ID as first seen) and its messages in
/// [`order`]: a reply after its parent, otherwise oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Thread {
    pub id: String,
    pub messages: Vec<Email>,
}

/// The counterpart of a message: the sender when it is inbound, else the first recipient who
/// is not us or a colleague. `None` for purely internal mail.
pub fn counterpart<'a>(email: &'a Email, me: &Identity) -> Option<&'a str> {
    let from = email.from.as_ref()?;
    if !me.is_internal(&from.email) {
        return Some(&from.email);
    }
    email
        .to
        .iter()
        .chain(&email.cc)
        .map(|a| a.email.as_str())
        .find(|a| !me.is_internal(a))
}

/// The subject-fallback key of a message: normalised subject and counterpart.
pub fn subject_key(email: &Email, me: &Identity) -> Option<String> {
    let subject = normalize_subject(&email.subject);
    if subject.is_empty() {
        return None;
    }
    Some(format!("{}\u{0}{}", counterpart(email, me)?, subject))
}

/// The ids this message names as its ancestors, nearest first: In-Reply-To, then References
/// from the newest back to the root.
pub fn ancestors(email: &Email) -> Vec<&str> {
    let mut ids: Vec<&str> = Vec::with_capacity(email.references.len() + 1);
    let mut seen = HashSet::with_capacity(email.references.len() + 1);
    for id in email
        .in_reply_to
        .iter()
        .chain(email.references.iter().rev())
    {
        if !id.is_empty() && id != &email.message_id && seen.insert(id.as_str()) {
            ids.push(id.as_str());
        }
    }
    ids
}

/// Where a message goes: its thread, and other threads it proves to be the same conversation
/// (a reply that arrived before its parent started one of its own). These are claims: the
/// store joins `thread` only if [`may_join`] allows it and merges only what [`admit`] allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub thread: String,
    pub absorbs: Vec<String>,
    /// What this message does to the orphan index (see [`orphan_key`]).
    pub orphan: Orphan,
}

/// A reply whose client dropped the threading headers can arrive before the original it
/// answers (INBOX is read before Sent). Such a reply starts an "orphan" thread, indexed under
/// [`orphan_key`]; the original, arriving later without a reply prefix, claims it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orphan {
    None,
    /// Index this message's thread under the orphan key of its subject key.
    Starts,
    /// This original joined an orphan thread: remove the orphan key, so a later unrelated
    /// original with the same subject stays apart.
    Claims,
}

/// The index key under which an orphan thread waits for its original.
pub fn orphan_key(subject_key: &str) -> String {
    format!("{ORPHAN}{subject_key}")
}

const ORPHAN: &str = "orphan\u{0}";
const DAY: i64 = 86_400;
/// A header-less reply joins a thread by subject only if that subject key saw a message
/// within this many days: "Re: Invoice" must not join last year's invoice thread.
pub const SUBJECT_JOIN_DAYS: i64 = 90;
/// An orphan reply is claimed only by an original within this many days of it; after that a
/// new mail with the same subject is a new conversation, not the reply's lost original.
pub const ORPHAN_CLAIM_DAYS: i64 = 30;

/// May a message dated `email_date` use the subject-index entry `key` last written by a
/// message dated `entry_date`? Without both dates it may not.
pub fn subject_entry_usable(key: &str, entry_date: Option<i64>, email_date: Option<i64>) -> bool {
    let (Some(entry), Some(date)) = (entry_date, email_date) else {
        return false;
    };
    if key.starts_with(ORPHAN) {
        date.saturating_sub(entry).saturating_abs() <= ORPHAN_CLAIM_DAYS * DAY
    } else {
        date.saturating_sub(entry) <= SUBJECT_JOIN_DAYS * DAY
    }
}

/// The thread of `email`. `known` maps a Message-ID (of a stored message, or of an ancestor a
/// stored message named) to its thread; `by_subject` maps a subject key (or an
/// [`orphan_key`]) to a thread, answering only for entries [`subject_entry_usable`] allows.
pub fn resolve(
    email: &Email,
    me: &Identity,
    known: impl Fn(&str) -> Option<String>,
    by_subject: impl Fn(&str) -> Option<String>,
) -> Placement {
    let placed = |thread: String, absorbs: Vec<String>, orphan: Orphan| Placement {
        thread,
        absorbs,
        orphan,
    };
    // Root side first, so a merged thread keeps the name of its oldest known part; then the
    // message's own id, which a child that arrived first may already have named.
    let mut found: Vec<String> = Vec::new();
    let ids = ancestors(email);
    for id in ids.iter().rev().copied().chain([email.message_id.as_str()]) {
        if let Some(t) = known(id) {
            if !found.contains(&t) {
                found.push(t);
            }
        }
    }
    if !found.is_empty() {
        let thread = found.remove(0);
        return placed(thread, found, Orphan::None);
    }
    // Only a message that says it is a reply, yet names no known ancestor, joins by subject:
    // two unrelated "Meeting" mails stay apart. An original joins only an orphan reply.
    let key = subject_key(email, me);
    let is_reply = is_reply_subject(&email.subject);
    if let Some(k) = &key {
        if is_reply {
            if let Some(t) = by_subject(k) {
                return placed(t, Vec::new(), Orphan::None);
            }
        } else if let Some(t) = by_subject(&orphan_key(k)) {
            return placed(t, Vec::new(), Orphan::Claims);
        }
    }
    // A new thread is named after its root, so later messages naming that root join it.
    let thread = email
        .references
        .first()
        .filter(|r| !r.is_empty())
        .or(email.in_reply_to.as_ref())
        .unwrap_or(&email.message_id)
        .clone();
    let orphan = if is_reply && ids.is_empty() && key.is_some() {
        Orphan::Starts
    } else {
        Orphan::None
    };
    placed(thread, Vec::new(), orphan)
}

#[cfg(test)]
mod tests;
