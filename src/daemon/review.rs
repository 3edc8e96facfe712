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
/// Each review's thread holds its messages' headers only, their texts empty
/// ([`Store::thread_heads`]): what `status` shows of them.
pub fn review(
    mb: &MailboxConfig,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<(Vec<Review>, usize)> {
    sweep(mb, store, now, |r| {
        matches!(r.verdict, Verdict::Attention(_))
    })
}

/// The reviews `attend` drafts for: a finding with no draft of ours yet, newest first. The
/// quiet threads of the window (most of them) are judged and dropped at once instead of
/// held. Each review holds its thread's headers only, like [`review`]'s: `attend` reads one
/// whole ([`whole`]) when it comes to draft for it, so a pass whose drafts for the day are
/// spent reads no text (it read every finding whole before: at 200,000 messages, 1,958
/// threads held in memory, text and all, on every pass).
pub(super) fn open_findings(
    mb: &MailboxConfig,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Vec<Review>> {
    let (open, _) = sweep(mb, store, now, is_open)?;
    Ok(open)
}

fn is_open(r: &Review) -> bool {
    matches!(r.verdict, Verdict::Attention(_)) && r.draft.is_none()
}

/// The reviews `keep` wants of every recent thread, newest first, and how many were judged.
fn sweep(
    mb: &MailboxConfig,
    store: &Store,
    now: DateTime<Utc>,
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
        // Headers only: judging reads no text, and inflating every text of the window was
        // two thirds of a restart's CPU on a synced 200k mailbox (perf).
        if let Some(thread) = store.thread_heads(&id)? {
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

/// An open finding of [`open_findings`] with its thread read whole (texts and all, for the
/// draft) through `memo`, which the pass's drafts and joins then read again. A thread that
/// gained a message since it was judged (another mailbox's sync files into the same store,
/// or the pass's own sync while the model wrote) is judged again as it is now: `None` when it
/// no longer needs a draft, or is gone.
pub(super) fn whole(
    mb: &MailboxConfig,
    store: &Store,
    now: DateTime<Utc>,
    memo: &Decoded,
    drafts: &lifecycle::Known,
    mut review: Review,
) -> Result<Option<Review>> {
    let Some(thread) = store.thread_decoded(&review.thread.id, memo)? else {
        return Ok(None);
    };
    // Headers, not only ids: a direct copy re-filed over a list copy keeps its Message-ID.
    let same = thread.messages.len() == review.thread.messages.len()
        && thread
            .messages
            .iter()
            .zip(&review.thread.messages)
            .all(|(m, head)| m.without_text() == *head);
    if same {
        review.thread = thread;
    } else {
        review = judge_with(mb, store, thread, now, drafts)?;
    }
    Ok(is_open(&review).then_some(review))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draft::test_support::{mailbox, parsed as mail};

    /// Judging reads headers only; what `attend` drafts from is the whole thread, and a
    /// thread answered between the judging and the whole read is judged again, not drafted.
    #[test]
    fn findings_are_judged_from_headers_and_drafted_from_the_whole_thread() {
        let mb = mailbox();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        // Tuesday 4 June 2024, 10:00 UTC; `now` is Thursday.
        let now = DateTime::from_timestamp(1_717_495_200 + 2 * 86_400, 0).unwrap();
        let ask = mail("Message-ID: <q@buyer.test>\nFrom: Bob <bob@buyer.test>\nTo: alice@shop.example\nSubject: Quote\nDate: Tue, 4 Jun 2024 10:00:00 +0000\n\nWhat would 50 seats cost?\n");
        store.save_all(&mb.name, &mb.identity, &[ask]).unwrap();

        let (listed, judged) = review(&mb, &store, now).unwrap();
        assert_eq!((listed.len(), judged), (1, 1), "{listed:?}");
        assert!(matches!(listed[0].verdict, Verdict::Attention(_)));
        let m = &listed[0].thread.messages[0];
        assert_eq!(m.subject, "Quote");
        assert!(
            m.text.is_empty() && m.new_text.is_empty(),
            "status reads headers only"
        );

        let memo = Decoded::default();
        let open = open_findings(&mb, &store, now).unwrap();
        assert_eq!(open.len(), 1);
        assert!(
            open[0].thread.messages[0].new_text.is_empty(),
            "open findings are judged from headers too"
        );
        let drafts = lifecycle::Known::read(&mb, &store).unwrap();
        let read = whole(&mb, &store, now, &memo, &drafts, open[0].clone()).unwrap();
        assert!(
            read.unwrap().thread.messages[0]
                .new_text
                .contains("50 seats"),
            "drafted from the text"
        );

        // Our answer lands after the judging: the whole read judges again and drops it.
        let answer = mail("Message-ID: <a@shop.example>\nFrom: alice@shop.example\nTo: bob@buyer.test\nIn-Reply-To: <q@buyer.test>\nSubject: Re: Quote\nDate: Wed, 5 Jun 2024 09:00:00 +0000\n\nEUR 12,000 a year.\n");
        store.save_all(&mb.name, &mb.identity, &[answer]).unwrap();
        let memo = Decoded::default();
        let still = whole(&mb, &store, now, &memo, &drafts, open[0].clone()).unwrap();
        assert!(still.is_none(), "answered meanwhile: {still:?}");
    }
}
