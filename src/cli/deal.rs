//! `tend deal MESSAGE-ID --join OTHER-MESSAGE-ID [--note TEXT]` and `tend deal MESSAGE-ID
//! --split`: the user's word on which threads make one deal, over whatever the model judged.
//! Recorded in `<state_dir>/corrections.json` beside the stage corrections (see
//! `store::corrections`), so a rebuild of the store keeps it and it works while `tend run`
//! holds the store. The Message-IDs are checked against the store when it can be opened, and
//! otherwise recorded unchecked, saying so.
//!
//! It does not change the record itself: the next pass (or report) reads the corrections.
//! It also says, for `tend explain MESSAGE-ID`, which deal a thread belongs to and why.

use super::show::shown;
use crate::config::Config;
use crate::store::{self, corrections, Store};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::process::ExitCode;

/// Records the join or the split; exit 1 for an unknown Message-ID, a thread joined to itself
/// or a failure.
pub(super) fn run(
    config: &Config,
    message_id: &str,
    join: Option<&str>,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ExitCode> {
    let id = checked_id(message_id)?;
    let other = join.map(checked_id).transpose()?;
    let mut unchecked = false;
    let mut names = (
        format!("<{}>", shown(id)),
        other.map(|o| format!("<{}>", shown(o))),
    );
    match Store::open(&config.state_dir, now.timestamp()) {
        Ok(store) => {
            let describe = |id: &str| -> Result<(String, String)> {
                let Some(thread) = store.thread_of(id)? else {
                    anyhow::bail!(
                        "no stored message has the id <{}>; nothing recorded (give the Message-ID \
                         of a message tend has synced, with or without <>)",
                        shown(id)
                    );
                };
                let subject = store
                    .thread(&thread)?
                    .and_then(|t| t.messages.first().map(|m| m.subject.clone()))
                    .unwrap_or_default();
                Ok((
                    thread.clone(),
                    format!("the thread <{}> ({:?})", shown(&thread), shown(&subject)),
                ))
            };
            let (thread, name) = describe(id)?;
            names.0 = name;
            if let Some(other) = other {
                let (deal, name) = describe(other)?;
                anyhow::ensure!(
                    deal != thread,
                    "<{}> and <{}> are in the same thread already; nothing recorded",
                    shown(id),
                    shown(other)
                );
                names.1 = Some(name);
            }
        }
        Err(err) if store::is_locked(&err) => unchecked = true,
        Err(err) => return Err(err),
    }
    // Control characters in a note would reach a terminal later (`explain`, the report).
    let note: Option<String> = note.map(|n| {
        n.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    });
    let mut all = corrections::load(&config.state_dir)?;
    all.set_join(id, other, now.timestamp(), note.as_deref());
    all.save(&config.state_dir)
        .context("recording the deal correction")?;
    match &names.1 {
        Some(deal) => println!(
            "recorded: {} continues the deal of {deal}, whatever the model judged",
            names.0
        ),
        None => println!(
            "recorded: {} is a deal of its own, whatever the model judged",
            names.0
        ),
    }
    if let Some(note) = &note {
        println!("note: {}", shown(note));
    }
    if unchecked {
        println!(
            "not checked: `tend run` holds the store, so tend could not look the ids up; the \
             correction counts once synced messages have them"
        );
    }
    println!("the record changes on the next pass of `tend run` or `tend once`, and in the next `tend report`");
    Ok(ExitCode::SUCCESS)
}

/// What `tend explain` shows of a thread's deal: the user's word if they gave one, else what
/// the model judged, if it was asked. Empty when neither.
pub(super) fn explain_text(config: &Config, store: &Store, thread: &str) -> Result<String> {
    let said = corrections::load(&config.state_dir)?
        .joins_by_thread(&|id| store.thread_of(id).ok().flatten());
    Ok(match said.get(thread) {
        Some(corrections::JoinWord::Split) => {
            "    deal: a deal of its own, by the user (tend deal --split)\n".to_string()
        }
        Some(corrections::JoinWord::Join { thread: deal, note }) => format!(
            "    deal: continues the deal of <{}>, by the user (tend deal --join){}\n",
            shown(deal),
            note.as_deref()
                .map_or(String::new(), |n| format!(": {}", shown(n)))
        ),
        None => match store.join_judged(thread)? {
            Some(j) if j.continues => format!(
                "    deal: continues the deal of <{}>, the model judged: {}\n",
                shown(&j.deal),
                shown(&j.reason)
            ),
            Some(j) if !j.deal.is_empty() => format!(
                "    deal: a deal of its own; the model judged it does not continue <{}>: {}\n",
                shown(&j.deal),
                shown(&j.reason)
            ),
            _ => String::new(),
        },
    })
}

fn checked_id(message_id: &str) -> Result<&str> {
    let id = corrections::bare_id(message_id);
    anyhow::ensure!(
        !id.is_empty() && !id.chars().any(|c| c.is_control() || c.is_whitespace()),
        "{:?} is not a Message-ID",
        shown(message_id)
    );
    Ok(id)
}
