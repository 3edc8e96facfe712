//! `tend stage MESSAGE-ID STAGE [--note TEXT]` and `tend stage MESSAGE-ID --clear`: the user's
//! correction of a deal's stage, recorded in `<state_dir>/corrections.json` (see
//! `store::corrections`), which needs no store lock, so it works while `tend run` holds the
//! store. The stage is checked against the pipeline; the Message-ID against the store when the
//! store can be opened, and otherwise recorded unchecked, saying so.
//!
//! It does not change the record itself: the next pass (or report) reads the corrections.

use super::show::shown;
use crate::config::Config;
use crate::store::{self, corrections};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::process::ExitCode;

/// What the store said about the Message-ID given.
enum Known {
    /// Its thread: id, subject of its first message, how many messages.
    Thread(String, String, usize),
    /// `tend run` holds the store: not checked.
    Unchecked,
}

/// Records the correction; exit 2 for a stage the pipeline does not have (as for a bad
/// argument), 1 for an unknown Message-ID or a failure.
pub(super) fn run(
    config: &Config,
    message_id: &str,
    stage: Option<&str>,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ExitCode> {
    let id = corrections::bare_id(message_id);
    anyhow::ensure!(
        !id.is_empty() && !id.chars().any(|c| c.is_control() || c.is_whitespace()),
        "{:?} is not a Message-ID",
        shown(message_id)
    );
    let stage = match stage {
        None => None,
        Some(name) => match config.pipeline.stage(name) {
            Some(s) => Some(s.name.clone()),
            None => {
                let names: Vec<&str> = config
                    .pipeline
                    .stages
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect();
                eprintln!(
                    "tend: no stage named {:?}; the stages are: {}",
                    shown(name),
                    names.join(", ")
                );
                return Ok(ExitCode::from(2));
            }
        },
    };
    // Another user's store (sudo) is refused here, before corrections.json is written.
    let known = match super::owner::open_store(config, now) {
        Ok(store) => {
            let Some(thread_id) = store.thread_of(id)? else {
                anyhow::bail!(
                    "no stored message has the id <{}>; nothing recorded (give the Message-ID of \
                     a message tend has synced, with or without <>)",
                    shown(id)
                );
            };
            let thread = store.thread(&thread_id)?;
            let subject = thread
                .as_ref()
                .and_then(|t| t.messages.first())
                .map(|m| m.subject.clone())
                .unwrap_or_default();
            let count = thread.map_or(0, |t| t.messages.len());
            Known::Thread(thread_id, subject, count)
        }
        Err(err) if store::is_locked(&err) => Known::Unchecked,
        Err(err) => return Err(err),
    };
    // Control characters in a note would reach a terminal later (`explain`, the report).
    let note: Option<String> = note.map(|n| {
        n.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    });
    let mut all = corrections::load(&config.state_dir)?;
    all.set(id, stage.as_deref(), now.timestamp(), note.as_deref());
    all.save(&config.state_dir)
        .context("recording the stage correction")?;

    let which = match &known {
        Known::Thread(thread_id, subject, count) => format!(
            "the thread <{}> ({:?}, {count} messages)",
            shown(thread_id),
            shown(subject)
        ),
        Known::Unchecked => format!("the thread of <{}>", shown(id)),
    };
    match &stage {
        Some(stage) => println!("recorded: {which} is in stage {stage:?} from now on"),
        None => println!(
            "recorded: the stage corrections of {which} are withdrawn (stage tags set in the \
             mail client still count; remove them there)"
        ),
    }
    if let Some(note) = &note {
        println!("note: {}", shown(note));
    }
    if let Known::Unchecked = known {
        println!(
            "not checked: `tend run` holds the store, so tend could not look up <{}>; it counts \
             once a synced message has that id",
            shown(id)
        );
    }
    println!("the record changes on the next pass of `tend run` or `tend once`, and in the next `tend report`");
    Ok(ExitCode::SUCCESS)
}
