//! Which threads a message may join and merge. A message that names ancestors in a thread
//! says it belongs there, and one that names two threads says they are one conversation, but
//! a header is only a claim: anyone who was Cc'd on a conversation knows its Message-IDs. So
//! joining needs the message to share an outside participant or the normalised subject with
//! the thread ([`may_join`]), a merge needs that with every thread it ties together, and one
//! message merges at most [`MAX_MERGED`] threads ([`admit`]). [`Facts`] is what the store
//! keeps per thread to judge that without loading the thread.

use super::normalize_subject;
use crate::config::Identity;
use crate::parse::Email;
use serde::{Deserialize, Serialize};

/// At most this many threads (the home thread included) are joined by one message.
pub const MAX_MERGED: usize = 3;
/// Facts kept per thread; a thread past the cap just offers less evidence.
const MAX_PEOPLE: usize = 64;
const MAX_SUBJECTS: usize = 16;

/// The outside participants (lower-case addresses, not ours or a colleague's: we are in
/// every thread) and normalised subjects of a thread.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub people: Vec<String>,
    pub subjects: Vec<String>,
}

impl Facts {
    /// The facts of one message.
    pub fn of(email: &Email, me: &Identity) -> Facts {
        let mut f = Facts::default();
        f.add(email, me);
        f
    }

    /// Adds one message's participants and subject.
    pub fn add(&mut self, email: &Email, me: &Identity) {
        let people = email
            .from
            .iter()
            .chain(&email.reply_to)
            .chain(&email.to)
            .chain(&email.cc)
            .map(|a| a.email.to_lowercase())
            .filter(|a| !me.is_internal(a));
        for p in people {
            push_capped(&mut self.people, p, MAX_PEOPLE);
        }
        let s = normalize_subject(&email.subject);
        if !s.is_empty() {
            push_capped(&mut self.subjects, s, MAX_SUBJECTS);
        }
    }

    /// Adds everything `other` knows (the facts of an absorbed thread).
    pub fn absorb(&mut self, other: Facts) {
        for p in other.people {
            push_capped(&mut self.people, p, MAX_PEOPLE);
        }
        for s in other.subjects {
            push_capped(&mut self.subjects, s, MAX_SUBJECTS);
        }
    }

    /// Do these facts share a participant or a subject with `other`?
    pub fn overlaps(&self, other: &Facts) -> bool {
        self.people.iter().any(|p| other.people.contains(p))
            || self.subjects.iter().any(|s| other.subjects.contains(s))
    }
}

fn push_capped(list: &mut Vec<String>, item: String, cap: usize) {
    if list.len() < cap && !list.contains(&item) {
        list.push(item);
    }
}

/// May `email` join the existing thread whose facts are `thread`? Only with an outside
/// participant or the subject in common; otherwise a stranger's References would put another
/// customer's conversation into the prompt of the draft that answers the stranger.
pub fn may_join(email: &Email, me: &Identity, thread: &Facts) -> bool {
    Facts::of(email, me).overlaps(thread)
}

/// The threads of `candidates` (what `resolve` says `email` absorbs into `home`) that may be
/// merged: only when the message shares a participant or subject with `home` and with each of
/// them, and only when that leaves at most [`MAX_MERGED`] threads in all; a message that
/// would tie more conversations together merges none. `facts` reads a thread's facts; a
/// thread without any offers no evidence.
pub fn admit(
    email: &Email,
    me: &Identity,
    home: &str,
    candidates: Vec<String>,
    facts: impl Fn(&str) -> Option<Facts>,
) -> Vec<String> {
    if candidates.is_empty() {
        return candidates;
    }
    let own = Facts::of(email, me);
    let shares = |t: &str| facts(t).is_some_and(|f| own.overlaps(&f));
    if !shares(home) {
        return Vec::new();
    }
    let admitted: Vec<String> = candidates.into_iter().filter(|t| shares(t)).collect();
    if admitted.len() + 1 > MAX_MERGED {
        return Vec::new();
    }
    admitted
}
