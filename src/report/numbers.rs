//! The arithmetic of `tend report`: a [`Report`] from a [`Record`], the pipeline and the
//! half-open window `[since, until)` (`until` is "now" for a normal report). Pure: no I/O, no
//! clock, the same input gives the same report. This file assembles the report and owns the
//! figures of what is open now (needs reply, silent, attention) and of drafts; response
//! latency is in `waits`, stages and stalls in `stages`, business hours in
//! [`super::business`]. It does not render anything.
//!
//! Every figure with no data is `None` (JSON null), never 0.

mod stages;
#[cfg(test)]
mod tests;
mod waits;

pub use waits::{waits, Turn, Wait};

use super::{Attention, Drafts, Latencies, Open, Report, Section, Silent, Window};
use crate::config::Pipeline;
use crate::record::{Deal, DealState, DraftNote, DraftOutcome, Record};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// Companies and attention items listed at most.
const TOP: usize = 20;

/// The report over `[since, until)`.
///
/// - `mailboxes`: one section per mailbox of the record, over the deals it owns;
/// - `companies`: one section per company (a deal's `company`), over its deals, for the
///   companies with the most deals touched in the window (most first, then by name; at most
///   20, and only companies with at least one);
/// - a section's `deals`: its deals with a message dated in the window;
/// - `response_latency` over every wait (see [`Wait`]), `stages` and `stalls` over every deal
///   (defined where they are computed, in `numbers/stages.rs`);
/// - `needs_reply`, `silent` and `attention` as of `until`, whenever the wait began;
///   `attention`: the deals that need our reply or went quiet, longest waiting first (then by
///   deal id), at most 20; `drafts`: those written in the window.
pub fn compute(
    record: &Record,
    pipeline: &Pipeline,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Report {
    let (s, u) = (since.timestamp(), until.timestamp());
    let facts: Vec<Facts<'_>> = record
        .deals
        .iter()
        .map(|d| Facts::new(d, &record.mailboxes, s, u))
        .collect();
    let all: Vec<&Facts<'_>> = facts.iter().collect();

    let mailboxes = record
        .mailboxes
        .keys()
        .map(|m| {
            let own: Vec<_> = facts.iter().filter(|f| &f.deal.owner == m).collect();
            let notes = record.drafts.iter().filter(|n| &n.mailbox == m);
            section(m.clone(), &own, drafts(notes, s, u), u)
        })
        .collect();

    let mut by_company: BTreeMap<&str, Vec<&Facts<'_>>> = BTreeMap::new();
    for f in &facts {
        if let Some(c) = f.deal.company.as_deref() {
            by_company.entry(c).or_default().push(f);
        }
    }
    let mut ranked: Vec<(&str, Vec<&Facts<'_>>, usize)> = by_company
        .into_iter()
        .map(|(c, fs)| {
            let touched = fs.iter().filter(|f| f.touched).count();
            (c, fs, touched)
        })
        .filter(|(_, _, touched)| *touched > 0)
        .collect();
    ranked.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
    let companies = ranked
        .into_iter()
        .take(TOP)
        .map(|(c, fs, _)| {
            let threads: BTreeSet<&str> = fs
                .iter()
                .flat_map(|f| f.deal.threads.iter().map(|t| t.id.as_str()))
                .collect();
            let notes = record
                .drafts
                .iter()
                .filter(|n| threads.contains(n.thread_id.as_str()));
            section(c.to_string(), &fs, drafts(notes, s, u), u)
        })
        .collect();

    let mut attention: Vec<Attention> = facts.iter().filter_map(|f| f.attention(u)).collect();
    attention.sort_by(|a, b| {
        b.waiting_seconds
            .cmp(&a.waiting_seconds)
            .then_with(|| a.deal.cmp(&b.deal))
    });
    attention.truncate(TOP);

    Report {
        window: Window { since, until },
        mailboxes,
        response_latency: latencies(&all, u),
        stages: stages::stage_numbers(pipeline, &record.deals, s, u),
        needs_reply: open(&all, u),
        silent: silent(&all, u),
        drafts: drafts(&record.drafts, s, u),
        companies,
        stalls: stages::stalls(pipeline, &record.deals, s, u),
        attention,
    }
}

/// What the report needs of one deal, computed once.
struct Facts<'a> {
    deal: &'a Deal,
    /// Its waits that opened in the window.
    waits: Vec<Wait>,
    /// It has a message dated in the window.
    touched: bool,
    /// For a deal that needs our reply: since when (the earliest still-open "ours" wait,
    /// wherever it opened), and the subject of its thread.
    needs_reply_since: Option<(i64, &'a str)>,
    /// For a quiet deal: our last message before `until`, and its thread's subject.
    quiet_since: Option<(i64, &'a str)>,
}

impl<'a> Facts<'a> {
    fn new(deal: &'a Deal, mailboxes: &BTreeMap<String, String>, since: i64, until: i64) -> Self {
        let subject = |thread: &str| {
            deal.threads
                .iter()
                .find(|t| t.id == thread)
                .map_or("", |t| t.subject.as_str())
        };
        let needs_reply_since = (deal.state == DealState::NeedsReply).then(|| {
            waits::deal_waits(deal, mailboxes, i64::MIN, until)
                .into_iter()
                .filter(|w| w.turn == Turn::Ours && w.closed.is_none())
                .min_by_key(|w| w.opened)
                .map(|w| (w.opened, subject(&w.thread)))
                // The state says so though no buyer message is open (a record built from
                // other facts): count from the latest message.
                .or_else(|| last_of(deal, until, |_| true))
                .unwrap_or((until, ""))
        });
        let quiet_since = (deal.state == DealState::Quiet).then(|| {
            last_of(deal, until, |us| us)
                .or_else(|| last_of(deal, until, |_| true))
                .unwrap_or((until, ""))
        });
        Facts {
            deal,
            waits: waits::deal_waits(deal, mailboxes, since, until),
            touched: deal.touches().any(|t| (since..until).contains(&t.at)),
            needs_reply_since,
            quiet_since,
        }
    }

    fn attention(&self, until: i64) -> Option<Attention> {
        let (state, (at, subject)) = match (self.needs_reply_since, self.quiet_since) {
            (Some(n), _) => ("needs_reply", n),
            (None, Some(q)) => ("quiet", q),
            (None, None) => return None,
        };
        Some(Attention {
            deal: self.deal.id.clone(),
            subject: subject.to_string(),
            mailbox: self.deal.owner.clone(),
            company: self.deal.company.clone(),
            state: state.to_string(),
            stage: self.deal.stage.clone(),
            waiting_seconds: until.saturating_sub(at),
        })
    }
}

/// The latest touch of `deal` before `until` whose side passes `keep` (given `is_us`), with
/// its thread's subject.
fn last_of(deal: &Deal, until: i64, keep: impl Fn(bool) -> bool) -> Option<(i64, &str)> {
    deal.threads
        .iter()
        .flat_map(|th| th.touches.iter().map(move |t| (t, th.subject.as_str())))
        .filter(|(t, _)| t.at < until && keep(t.side.is_us()))
        .max_by_key(|(t, _)| t.at)
        .map(|(t, s)| (t.at, s))
}

fn section(name: String, facts: &[&Facts<'_>], drafts: Drafts, until: i64) -> Section {
    Section {
        name,
        response_latency: latencies(facts, until),
        needs_reply: open(facts, until),
        silent: silent(facts, until),
        drafts,
        deals: facts.iter().filter(|f| f.touched).count() as u64,
    }
}

fn latencies(facts: &[&Facts<'_>], until: i64) -> Latencies {
    let of = |turn| {
        waits::latency(
            facts
                .iter()
                .flat_map(|f| &f.waits)
                .filter(move |w| w.turn == turn),
            until,
        )
    };
    Latencies {
        ours: of(Turn::Ours),
        theirs: of(Turn::Theirs),
    }
}

/// Deals whose state is NeedsReply (now, not only in the window): how many, and `until`
/// minus the first buyer message of the oldest unanswered run among them.
fn open(facts: &[&Facts<'_>], until: i64) -> Open {
    let since: Vec<i64> = facts
        .iter()
        .filter_map(|f| f.needs_reply_since.map(|(at, _)| at))
        .collect();
    Open {
        open: since.len() as u64,
        oldest_seconds: since.iter().min().map(|&at| until.saturating_sub(at)),
    }
}

/// Deals whose state is Quiet (now): how many, and `until` minus our last message in the
/// one silent longest.
fn silent(facts: &[&Facts<'_>], until: i64) -> Silent {
    let since: Vec<i64> = facts
        .iter()
        .filter_map(|f| f.quiet_since.map(|(at, _)| at))
        .collect();
    Silent {
        deals: since.len() as u64,
        oldest_seconds: since.iter().min().map(|&at| until.saturating_sub(at)),
    }
}

/// Drafts written (appended) in `[since, until)`, by what became of them; `pending` (still
/// undecided) and `replaced` (by a newer draft of ours) are part of `written`.
fn drafts<'a>(notes: impl IntoIterator<Item = &'a DraftNote>, since: i64, until: i64) -> Drafts {
    let mut d = Drafts {
        written: 0,
        sent_as_written: 0,
        sent_edited: 0,
        ignored: 0,
        pending: 0,
        replaced: 0,
    };
    for n in notes.into_iter().filter(|n| (since..until).contains(&n.at)) {
        d.written += 1;
        match n.outcome {
            DraftOutcome::Pending => d.pending += 1,
            DraftOutcome::SentAsWritten => d.sent_as_written += 1,
            DraftOutcome::SentEdited => d.sent_edited += 1,
            DraftOutcome::Ignored => d.ignored += 1,
            DraftOutcome::Replaced => d.replaced += 1,
        }
    }
    d
}
