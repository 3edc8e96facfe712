//! The lifecycle of our drafts after the APPEND: one draft of ours per thread (a newer one
//! replaces the older, written first and removed second, so a crash between leaves one extra,
//! removed by the next pass, never none), our unmodified draft removed once the thread is
//! answered by hand (a person of ours or a colleague wrote after its trigger, and `detect`'s
//! judgement of the thread no longer asks for that draft), and what became of
//! each draft (sent as written, after edits, answered without it, deleted unanswered).
//!
//! It removes only through `imap::Session::remove_ours` with a recorded [`DraftCopy`]: never a
//! message it did not append, never outside Drafts. It does not decide what needs a draft
//! (`attend` does) and does not read Drafts (`sync` does).

use super::Action;
use crate::config::MailboxConfig;
use crate::imap::{FolderNames, Removal, Session};
use crate::parse::Email;
use crate::store::{similarity, CopyStatus, DraftCopy, Fate, Store};
use anyhow::Result;
use std::collections::HashMap;

/// Removes what is ours and no longer wanted, and records what became of our drafts. With
/// `session: None` (a dry run) nothing is removed or recorded.
pub(super) async fn tidy(
    mb: &MailboxConfig,
    store: &Store,
    mut session: Option<(&mut Session, &FolderNames)>,
    now: i64,
) -> Result<Vec<Action>> {
    let dry_run = session.is_none();
    let copies = store.copies(&mb.name)?;
    let view = store.drafts_view(&mb.name)?;
    // The newest draft of ours still in Drafts, per thread: the one to keep.
    let mut newest: HashMap<String, (i64, u32)> = HashMap::new();
    let mut threads = HashMap::new();
    for (id, copy) in &copies {
        let thread = store.thread_of(&copy.trigger)?;
        if let (Some(t), true) = (&thread, copy.status.in_drafts()) {
            let key = (copy.at, copy.placed.uid());
            let best = newest.entry(t.clone()).or_insert(key);
            *best = (*best).max(key);
        }
        threads.insert(id.clone(), thread);
    }
    let mut actions = Vec::new();
    for (id, mut copy) in copies {
        let Some(thread_id) = threads.get(&id).cloned().flatten() else {
            continue;
        };
        let reply = match store.thread(&thread_id)? {
            Some(thread) if !still_wanted(mb, store, &thread, &copy.trigger, now) => {
                answer_after(mb, &thread.messages, &copy.trigger).cloned()
            }
            _ => None,
        };
        let before = copy.clone();
        if let Some(reply) = &reply {
            if matches!(copy.fate, None | Some(Fate::DeletedUnanswered)) {
                copy.fate = Some(Fate::of_reply(similarity(&copy.body, &reply.new_text)));
            }
        } else if matches!(copy.status, CopyStatus::GoneByUser { .. })
            && copy.fate.is_none()
            // A draft of the user's in the thread is ours edited (or their own): not deleted.
            && !view.holds_other(&thread_id)
        {
            copy.fate = Some(Fate::DeletedUnanswered);
        }
        let replaced = newest
            .get(&thread_id)
            .is_some_and(|k| *k > (copy.at, copy.placed.uid()));
        if copy.status.in_drafts() && (reply.is_some() || replaced) {
            if let Some((s, folders)) = session.as_mut() {
                let removal = s.remove_ours(&copy.placed, folders).await?;
                tracing::info!(draft = %id, ?removal, answered = reply.is_some(),
                    "our draft is no longer wanted");
                copy.status = match removal {
                    Removal::Removed if reply.is_some() => CopyStatus::RemovedAnswered { at: now },
                    Removal::Removed => CopyStatus::Replaced { at: now },
                    Removal::MarkedDeleted => CopyStatus::FlaggedDeleted { at: now },
                    // Not in today's Drafts: a refusal for this copy, not an error for the
                    // pass (which would fail every pass from now on).
                    Removal::Refused => CopyStatus::Stranded { at: now },
                    // Sent, deleted or replaced by the user meanwhile, or not the bytes we
                    // stored: theirs now, never touched again.
                    Removal::Gone | Removal::NotOurs | Removal::Renumbered => {
                        CopyStatus::GoneByUser { at: now }
                    }
                };
                actions.push(Action::Removed {
                    thread_id: thread_id.clone(),
                    removal,
                });
            }
        }
        if copy != before && !dry_run {
            store.record_copy(&id, &copy)?;
            crate::metrics::with(|m| {
                m.fate_changed(&mb.name, before.fate.as_ref(), copy.fate.as_ref())
            });
        }
    }
    Ok(actions)
}

/// Does `detect`, judging the thread now, still want a draft for `trigger`? Then nothing after
/// it counts as an answer: the same judgement that asked for the draft decides when it is no
/// longer needed (an auto-reply from our side, a contact form's notification, answer nothing).
fn still_wanted(
    mb: &MailboxConfig,
    store: &Store,
    thread: &crate::thread::Thread,
    trigger: &str,
    now: i64,
) -> bool {
    let Some(now) = chrono::DateTime::from_timestamp(now, 0) else {
        return false;
    };
    let contact = |address: &str| super::review::contact(mb, store, address);
    let verdict =
        crate::detect::assess(thread, &mb.identity, &mb.rules, mb.timezone, &contact, now);
    matches!(verdict, crate::detect::Verdict::Attention(f) if f.trigger == trigger)
}

/// The first message a person of ours or a colleague wrote after `trigger` in `messages` (in
/// thread order): no machine-sent mail (auto-replies, notifications), and no contact form's
/// notification, which speaks for the lead in its Reply-To (as `detect` reads it).
fn answer_after<'a>(mb: &MailboxConfig, messages: &'a [Email], trigger: &str) -> Option<&'a Email> {
    let at = messages.iter().position(|m| m.message_id == trigger)?;
    messages[at + 1..].iter().find(|m| {
        m.automated.is_none()
            && m.from.as_ref().is_some_and(|f| {
                mb.identity.is_internal(&f.email) && !mb.rules.is_form_sender(&f.email)
            })
    })
}

/// Drafts of ours appended since the start of today in the mailbox's timezone.
pub(super) fn drafted_today(
    mb: &MailboxConfig,
    store: &Store,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u32> {
    let local = now.with_timezone(&mb.timezone).date_naive();
    let start = local
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(mb.timezone).earliest())
        .map_or(now.timestamp() - 86_400, |t| t.timestamp());
    let copies = store.copies(&mb.name)?;
    Ok(copies.iter().filter(|(_, c)| c.at >= start).count() as u32)
}

/// What the store knows about Drafts, read once for a whole review.
pub(super) struct Known {
    pub view: crate::store::DraftsView,
    copies: Vec<DraftCopy>,
}

impl Known {
    pub fn read(mb: &MailboxConfig, store: &Store) -> Result<Known> {
        Ok(Known {
            view: store.drafts_view(&mb.name)?,
            copies: store
                .copies(&mb.name)?
                .into_iter()
                .map(|(_, c)| c)
                .collect(),
        })
    }

    /// What `status` and `explain` say about our drafts in `thread`, one line each.
    pub fn describe_thread(&self, thread: &crate::thread::Thread) -> Vec<String> {
        self.copies
            .iter()
            .filter(|c| {
                c.thread_id == thread.id
                    || thread.messages.iter().any(|m| m.message_id == c.trigger)
            })
            .map(|c| format!("our draft for <{}>: {}", c.trigger, describe(c)))
            .collect()
    }
}

/// How many findings wait for tomorrow under `[rules] max_drafts_per_day`.
pub fn waiting(
    mb: &MailboxConfig,
    store: &Store,
    reviews: &[super::Review],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<usize> {
    let left = mb
        .rules
        .max_drafts_per_day
        .saturating_sub(drafted_today(mb, store, now)?) as usize;
    let ts = now.timestamp();
    let due = reviews
        .iter()
        .filter(|r| matches!(r.verdict, crate::detect::Verdict::Attention(_)))
        .filter(|r| r.draft.is_none() && !r.hands_off)
        .filter(|r| {
            r.failure
                .as_ref()
                .is_none_or(|f| f.retry_at.is_some_and(|at| at <= ts))
        })
        .count();
    Ok(due.saturating_sub(left))
}

/// What `status` says about one draft of ours.
fn describe(copy: &DraftCopy) -> String {
    let status = match &copy.status {
        CopyStatus::InDrafts => "in Drafts, unmodified",
        CopyStatus::Replaced { .. } => "replaced by a newer draft",
        CopyStatus::RemovedAnswered { .. } => "removed: answered by hand",
        CopyStatus::FlaggedDeleted { .. } => {
            "flagged \\Deleted (the server has no UIDPLUS; your client's next expunge removes it)"
        }
        CopyStatus::GoneByUser { .. } => "sent, edited or deleted by you",
        CopyStatus::Stranded { .. } => {
            "stranded: recorded in a folder that is no longer Drafts, so tend never removes it"
        }
    };
    match &copy.fate {
        Some(fate) => format!("{status}; {fate}"),
        None => status.to_string(),
    }
}
