//! `tend explain` for a person or a company: the timeline of every human message between us
//! across threads and mailboxes, their deals with the stage history and the sentence behind
//! each inferred stage, and why each open deal is flagged. Text from mail is shown through
//! `shown` (control characters out), as everywhere in the CLI.

use super::show::shown;
use crate::config::domains::canonical;
use crate::record::{Deal, DealState, Record, Side, StageSource};
use crate::report::term::duration;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::fmt::Write;

/// What `who` names: a contact's address or a company's domain (`@acme.example` too).
pub(super) enum Party {
    Person(String),
    Company(String),
}

impl Party {
    pub(super) fn parse(who: &str) -> Party {
        let who = who.trim().trim_start_matches('<').trim_end_matches('>');
        match who.strip_prefix('@') {
            Some(domain) => Party::Company(domain.to_ascii_lowercase()),
            None if who.contains('@') => Party::Person(canonical(who)),
            None => Party::Company(who.to_ascii_lowercase()),
        }
    }

    fn has(&self, deal: &Deal) -> bool {
        match self {
            Party::Person(a) => deal.contacts.iter().any(|c| c == a),
            Party::Company(d) => deal.company.as_deref() == Some(d.as_str()),
        }
    }
}

fn at(t: i64, tz: Tz) -> String {
    DateTime::from_timestamp(t, 0)
        .map(|d| d.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "?".into())
}

/// The explanation, or `None` when the record knows no such person or company. `why` gives
/// the reason `detect` states for a deal's thread, when the store can be read.
pub(super) fn explain(
    record: &Record,
    party: &Party,
    tz: Tz,
    now: DateTime<Utc>,
    why: &dyn Fn(&Deal) -> Option<String>,
) -> Option<String> {
    let deals: Vec<&Deal> = record.deals.iter().filter(|d| party.has(d)).collect();
    let mut out = String::new();
    match party {
        Party::Person(a) => {
            let c = record.contacts.get(a)?;
            let name = c
                .name
                .as_deref()
                .map_or(String::new(), |n| format!("{} ", shown(n)));
            let _ = writeln!(
                out,
                "{name}<{}>: {} from them, {} from us; company {}",
                shown(a),
                c.received,
                c.sent,
                c.company
                    .as_deref()
                    .map_or("none (free mail)".into(), shown)
            );
        }
        Party::Company(d) => {
            let c = record.companies.get(d)?;
            let _ = writeln!(
                out,
                "{}: {} people ({}), {} deals",
                shown(d),
                c.contacts.len(),
                c.contacts
                    .iter()
                    .map(|a| shown(a))
                    .collect::<Vec<_>>()
                    .join(", "),
                c.deals.len()
            );
        }
    }
    for deal in &deals {
        let state = match deal.state {
            DealState::NeedsReply => "needs our reply",
            DealState::WaitingOnThem => "waiting on them",
            DealState::Quiet => "quiet",
            DealState::Won => "won",
            DealState::Lost => "lost",
        };
        let subject = deal.threads.first().map_or("", |t| t.subject.as_str());
        let _ = writeln!(
            out,
            "\ndeal <{}> \"{}\" ({}, owner {}): {state}, stage {}",
            shown(&deal.id),
            shown(subject),
            deal.company.as_deref().map_or("free mail".into(), shown),
            shown(&deal.owner),
            deal.stage.as_deref().map_or("unknown".into(), shown)
        );
        let joined = deal.threads.iter().filter(|t| t.id != deal.id);
        for (thread, reason) in joined.zip(&deal.joined) {
            let _ = writeln!(
                out,
                "  joined: <{}> \"{}\": {}",
                shown(&thread.id),
                shown(&thread.subject),
                shown(reason)
            );
        }
        // The model's overruled inferences stay in view, marked, where they fell.
        let mut changes: Vec<(&crate::record::StageChange, bool)> = deal
            .history
            .iter()
            .map(|c| (c, false))
            .chain(deal.overruled.iter().map(|c| (c, true)))
            .collect();
        changes.sort_by_key(|(c, overruled)| (c.at, !overruled));
        for (c, overruled) in changes {
            let source = match c.source {
                StageSource::Opened => "opened",
                StageSource::Inferred => "inferred",
                StageSource::Keyword => "your tag",
                StageSource::Command => "your correction",
                StageSource::Dark => "went dark",
            };
            let note = if overruled {
                ", overruled by your correction"
            } else {
                ""
            };
            let evidence = c
                .evidence
                .as_deref()
                .map_or(String::new(), |e| format!(": \"{}\"", shown(e)));
            let _ = writeln!(
                out,
                "  {} {} ({source}{note}){evidence}",
                at(c.at, tz),
                shown(&c.stage)
            );
        }
        if matches!(deal.state, DealState::NeedsReply | DealState::Quiet) {
            let since = deal.last().map_or(0, |t| t.at);
            let _ = writeln!(
                out,
                "  flagged: {state} for {}{}",
                duration(Some(now.timestamp() - since)),
                why(deal).map_or(String::new(), |r| format!(": {}", shown(&r)))
            );
        }
    }
    let mut touches: Vec<(&Deal, &crate::record::Touch)> = deals
        .iter()
        .flat_map(|d| d.touches().map(move |t| (*d, t)))
        .collect();
    touches.sort_by_key(|(_, t)| t.at);
    let _ = writeln!(out, "\ntimeline ({} messages):", touches.len());
    for (deal, t) in touches {
        let side = match t.side {
            Side::Ours => "us",
            Side::Colleague => "colleague",
            Side::Buyer => "them",
        };
        let subject = deal.threads.first().map_or("", |th| th.subject.as_str());
        // A buyer's message names only the outside people it also went to; "us" is implied.
        let to = match (t.side, t.to.is_empty()) {
            (Side::Buyer, true) => "us".to_string(),
            (Side::Buyer, false) => format!("us, {}", t.to.join(", ")),
            _ => t.to.join(", "),
        };
        let _ = writeln!(
            out,
            "  {} {:<8} {side:<9} {} -> {}  \"{}\"",
            at(t.at, tz),
            format!("[{}]", shown(&t.mailbox)),
            shown(&t.from),
            shown(&to),
            shown(subject)
        );
    }
    Some(out)
}

/// `tend explain ADDRESS|DOMAIN`: the record built from the store, the party's deals with the
/// reason `detect` gives for each open one (judged by the deal's owner mailbox).
pub(super) fn run(
    config: &crate::config::Config,
    store: &crate::store::Store,
    who: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<std::process::ExitCode> {
    let record = crate::daemon::record::build(config, store, now, false)?;
    let party = Party::parse(who);
    let why = |deal: &Deal| -> Option<String> {
        let mb = config.mailboxes.iter().find(|m| m.name == deal.owner)?;
        let thread = store.thread(&deal.id).ok()??;
        let review = crate::daemon::judge(mb, store, thread, now).ok()?;
        Some(review.verdict.reason().to_string())
    };
    let tz = config
        .mailboxes
        .first()
        .map_or(chrono_tz::UTC, |m| m.timezone);
    match explain(&record, &party, tz, now, &why) {
        Some(text) => {
            print!("{text}");
            Ok(std::process::ExitCode::SUCCESS)
        }
        None => anyhow::bail!(
            "no stored message has the id <{}>, and no contact or company is named {:?}",
            shown(who),
            shown(who)
        ),
    }
}
