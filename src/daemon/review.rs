//! Review: judge each thread of the sweep window from the store (with what the store knows
//! about its counterparts): the findings for `status`, only the open findings for `attend`.
//! The window's threads come from the store's sweep index, so the work follows the recent
//! mail, not the size of the mailbox. It drafts nothing and touches no server.

use super::{lifecycle, Review};
use crate::config::MailboxConfig;
use crate::deliver;
use crate::detect::{self, Contact, Verdict};
use crate::store::{Decoded, Store};
use crate::thread::Thread;
use anyhow::Result;
use chrono::{DateTime, Utc};

/// Judges every recent thread of the mailbox from the store alone: the threads that need
/// attention, and how many were judged. The quiet ones are not kept: `tend run` writes its
/// status snapshot this way every minute, and holding every thread of the window, text and
/// all, made its idle memory follow the window (22 MB of messages at 50k, by heaptrack).
pub fn review(
    mb: &MailboxConfig,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<(Vec<Review>, usize)> {
    sweep(mb, store, now, None, |r| {
        matches!(r.verdict, Verdict::Attention(_))
    })
}

/// The reviews `attend` drafts for: a finding with no draft of ours yet. The quiet threads
/// of the window (most of them) are judged and dropped at once instead of held, thread text
/// and all, until the pass ends.
/// The threads are decoded through `memo`, which the pass's drafts and joins then read again.
pub(super) fn open_findings(
    mb: &MailboxConfig,
    store: &Store,
    now: DateTime<Utc>,
    memo: &Decoded,
) -> Result<Vec<Review>> {
    let (open, _) = sweep(mb, store, now, Some(memo), |r| {
        matches!(r.verdict, Verdict::Attention(_)) && r.draft.is_none()
    })?;
    Ok(open)
}

/// The reviews `keep` wants of every recent thread, newest first, and how many were judged.
fn sweep(
    mb: &MailboxConfig,
    store: &Store,
    now: DateTime<Utc>,
    memo: Option<&Decoded>,
    keep: impl Fn(&Review) -> bool,
) -> Result<(Vec<Review>, usize)> {
    let since = since(mb, now);
    let mut out = Vec::new();
    let mut judged = 0;
    // Counted over every judged thread, kept or not, for the metrics' gauges.
    let (mut needs_reply, mut silent) = (0, 0);
    // Read once for every thread: the last look at Drafts and our drafts' lifecycles.
    let drafts = lifecycle::Known::read(mb, store)?;
    for id in store.recent_threads(&mb.name, since)? {
        let thread = match memo {
            Some(memo) => store.thread_decoded(&id, memo)?,
            None => store.thread(&id)?,
        };
        if let Some(thread) = thread {
            let review = judge_with(mb, store, thread, now, &drafts)?;
            judged += 1;
            if let Verdict::Attention(f) = &review.verdict {
                match f.kind {
                    detect::Kind::Reply => needs_reply += 1,
                    detect::Kind::FollowUp { .. } => silent += 1,
                }
            }
            if keep(&review) {
                out.push(review);
            }
        }
    }
    // Newest first: a thread the model cannot handle must not be first in line on every pass.
    out.sort_by_key(|r| std::cmp::Reverse(r.thread.messages.last().and_then(|m| m.date)));
    crate::metrics::with(|m| m.reviewed(&mb.name, needs_reply, silent));
    Ok((out, judged))
}

/// The start of the window whose threads are judged (Unix seconds): the longer of the reply
/// and follow-up windows, and a day more. The stage step (`stages`) looks at the same threads.
pub fn since(mb: &MailboxConfig, now: DateTime<Utc>) -> i64 {
    let window = mb
        .rules
        .reply_window_days
        .max(mb.rules.followup_window_days) as i64;
    now.timestamp() - (window + 1) * 86_400
}

/// Judges one thread, for `explain`.
pub fn judge(
    mb: &MailboxConfig,
    store: &Store,
    thread: Thread,
    now: DateTime<Utc>,
) -> Result<Review> {
    judge_with(mb, store, thread, now, &lifecycle::Known::read(mb, store)?)
}

fn judge_with(
    mb: &MailboxConfig,
    store: &Store,
    thread: Thread,
    now: DateTime<Utc>,
    drafts: &lifecycle::Known,
) -> Result<Review> {
    let contact = |address: &str| contact(mb, store, address);
    let verdict = detect::assess(&thread, &mb.identity, &mb.rules, mb.timezone, &contact, now);
    let (draft, failure) = match &verdict {
        Verdict::Attention(f) => {
            let id = super::attend::draft_id(mb, f);
            let draft = deliver::already_handled(store, &mb.name, &id, &f.trigger)?;
            (draft, store.failure(&id)?)
        }
        Verdict::Quiet { .. } => (None, None),
    };
    let hands_off = drafts.view.holds_other(&thread.id);
    let lifecycle = drafts.describe_thread(&thread);
    Ok(Review {
        thread,
        verdict,
        draft,
        failure,
        lifecycle,
        hands_off,
    })
}

/// What the store knows about `address` across threads, as `detect` asks it (also for `explain`).
pub fn contact(mb: &MailboxConfig, store: &Store, address: &str) -> Contact {
    let person = store.contact(&mb.name, address).unwrap_or_default();
    // On a free-mail domain (gmail.com, ...) everyone else at the domain is a stranger.
    let org = address
        .rsplit_once('@')
        .filter(|(_, d)| !crate::config::is_freemail(d))
        .and_then(|(_, d)| store.contact(&mb.name, &format!("@{d}")).ok())
        .unwrap_or_default();
    Contact {
        received: person.received,
        sent: person.sent,
        last_inbound_from_person: person.last_received,
        last_inbound_from_org: org.last_received,
    }
}
