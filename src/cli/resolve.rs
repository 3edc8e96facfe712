//! Which thread `tend explain WHAT` means, given what a person has in front of them: a
//! message's Message-ID, the Message-ID `once` printed for a draft (through the ledger), the
//! number `status` put before a thread, or words of its subject. Tried in that order; what
//! none of them names is left to `party` (a person or a company).
//!
//! It only finds the thread; explaining it is the caller's.

use crate::config::MailboxConfig;
use crate::daemon::{self, Review};
use crate::store::Store;
use anyhow::Result;
use chrono::{DateTime, Utc};

/// What `explain` was pointed at.
#[derive(Debug, PartialEq)]
pub(super) enum Target {
    Thread(String),
    /// Several threads' subjects hold the words: each one's last subject and its id.
    Ambiguous(Vec<(String, String)>),
    /// No thread: perhaps a person or a company.
    Nothing,
}

/// The threads `status` lists for `mailboxes`, in its order: `status` numbers them from 1.
pub(super) fn listed<'a>(
    mailboxes: &[&'a MailboxConfig],
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Vec<(&'a MailboxConfig, Vec<Review>, usize)>> {
    mailboxes
        .iter()
        .map(|mb| {
            let (reviews, judged) = daemon::review(mb, store, now)?;
            Ok((*mb, reviews, judged))
        })
        .collect()
}

/// Resolves `what` (already stripped of `<>`) to a thread.
pub(super) fn resolve(
    mailboxes: &[&MailboxConfig],
    store: &Store,
    what: &str,
    now: DateTime<Utc>,
) -> Result<Target> {
    if let Some(thread) = store.thread_of(what)? {
        return Ok(Target::Thread(thread));
    }
    if let Some(draft) = store.draft(what)? {
        if let Some(thread) = store.thread_of(&draft.thread_id)? {
            return Ok(Target::Thread(thread));
        }
        return Ok(Target::Thread(draft.thread_id));
    }
    if let Ok(n) = what.trim().parse::<usize>() {
        let all = listed(mailboxes, store, now)?;
        let nth = all
            .iter()
            .flat_map(|(_, reviews, _)| reviews)
            .nth(n.saturating_sub(1))
            .filter(|_| n > 0);
        return Ok(match nth {
            Some(r) => Target::Thread(r.thread.id.clone()),
            None => Target::Nothing,
        });
    }
    by_subject(mailboxes, store, what, now)
}

/// The thread whose subject holds `words` (case and `Re:` aside) among the threads the
/// window judges: one whose subject is exactly that, else the only one that holds them, else
/// the candidates.
fn by_subject(
    mailboxes: &[&MailboxConfig],
    store: &Store,
    words: &str,
    now: DateTime<Utc>,
) -> Result<Target> {
    let wanted = plain(words);
    if wanted.is_empty() {
        return Ok(Target::Nothing);
    }
    // Threads whose subject is exactly the words, and those whose subject only holds them.
    let mut exact: Vec<(String, String)> = Vec::new();
    let mut holding: Vec<(String, String)> = Vec::new();
    for mb in mailboxes {
        for id in store.recent_threads(&mb.name, daemon::window_start(mb, now))? {
            if exact.iter().chain(&holding).any(|(_, t)| *t == id) {
                continue;
            }
            // Subjects are all it reads: headers only.
            let Some(thread) = store.thread_heads(&id)? else {
                continue;
            };
            // Any message's subject: `status` shows the last one, a person may remember the
            // first.
            let subjects: Vec<String> = thread.messages.iter().map(|m| plain(&m.subject)).collect();
            let shown = || {
                thread
                    .messages
                    .last()
                    .map(|m| m.subject.clone())
                    .unwrap_or_default()
            };
            if subjects.contains(&wanted) {
                exact.push((shown(), id));
            } else if subjects.iter().any(|s| s.contains(&wanted)) {
                holding.push((shown(), id));
            }
        }
    }
    let found = if exact.is_empty() { holding } else { exact };
    Ok(match found.len() {
        0 => Target::Nothing,
        1 => Target::Thread(found[0].1.clone()),
        _ => Target::Ambiguous(found),
    })
}

/// A subject compared as a person reads it: lower case, single spaces, no `Re:`/`Fwd:`.
fn plain(subject: &str) -> String {
    let mut s = subject.trim().to_lowercase();
    loop {
        let before = s.len();
        for prefix in ["re:", "aw:", "fwd:", "fw:", "wg:", "sv:"] {
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest.trim_start().to_string();
            }
        }
        if s.len() == before {
            break;
        }
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn subjects_compare_without_case_spaces_or_reply_prefixes() {
        assert_eq!(
            super::plain("RE: Fwd:  Pricing   for 50 seats"),
            "pricing for 50 seats"
        );
        assert_eq!(super::plain("Re:Re: x"), "x");
        assert_eq!(super::plain("   "), "");
    }
}
