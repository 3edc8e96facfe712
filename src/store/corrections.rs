//! The user's stage corrections made with `tend stage`: the one piece of the record that is in
//! no mailbox, so it is kept apart from the sled store, in `<state_dir>/corrections.json`, and
//! survives a rebuild of the store (a damaged `db` moved aside, a format migration). It needs no
//! store lock: `tend stage` records a correction while `tend run` holds the store. The file is
//! written whole and atomically (a temp file in the same directory, fsync, rename, mode 600);
//! a missing file is no correction yet, a damaged one is refused and left as it is, never
//! overwritten. It also resolves the corrections and the stages set by IMAP keywords into the
//! [`StageChange`]s of each thread ([`Corrections::stage_changes`]), which the record merges
//! with the inferred ones.
//!
//! It also keeps the user's word on which threads make one deal (`tend deal ID --join OTHER`,
//! `tend deal ID --split`), a list of its own in the same file ([`JoinCorrection`]); a file
//! written before that list existed loads as having none, and a file without any is written
//! as before.
//!
//! Two `tend stage` at the same instant may lose one of the two (each reads, adds, renames); no
//! file lock is taken, as std's is newer than our rust-version.
//!
//! It does not check stage names against the pipeline (`cli::stage` does) nor read the mailbox.

use crate::record::{StageChange, StageSource};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The file's name in the state directory.
pub const FILE: &str = "corrections.json";
/// The format written; a file of a later format is refused rather than misread.
const VERSION: u32 = 1;

/// One `tend stage` command, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    /// The Message-ID given (any message of the thread), without angle brackets.
    pub message_id: String,
    /// The stage set, as the pipeline names it; `None` clears the corrections of the thread
    /// made before this one (`tend stage ID --clear`).
    pub stage: Option<String>,
    /// Unix seconds of the command.
    pub at: i64,
    /// The user's `--note`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Every correction ever recorded, in the order they were made: a history, not only the latest
/// word, so the record can show when the user moved a deal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Corrections {
    entries: Vec<Correction>,
    joins: Vec<JoinCorrection>,
}

/// One `tend deal` command, as recorded: the thread of `message_id` continues the deal of the
/// thread of `join`, or (`join` is `None`) stands alone whatever the model said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinCorrection {
    /// Any message of the thread, without angle brackets.
    pub message_id: String,
    /// Any message of the deal it joins; `None` for `--split`.
    pub join: Option<String>,
    /// Unix seconds of the command.
    pub at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The user's last word on one thread's deal (see [`Corrections::joins_by_thread`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinWord {
    /// Continues the deal of this thread, with the user's note.
    Join {
        thread: String,
        note: Option<String>,
    },
    /// Stands alone.
    Split,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDisk {
    version: u32,
    corrections: Vec<Correction>,
    /// Absent from files written before joins were corrected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    joins: Vec<JoinCorrection>,
}

/// Where the corrections of `state_dir` are kept.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

/// Reads the corrections of `state_dir`: none when the file does not exist; an error naming
/// the file when it cannot be read or is damaged (the file is left as it is).
pub fn load(state_dir: &Path) -> Result<Corrections> {
    let file = path(state_dir);
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Corrections::default()),
        Err(e) => {
            return Err(e).with_context(|| format!("reading the corrections in {}", file.display()))
        }
    };
    let disk: OnDisk = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "the corrections in {} are damaged; tend leaves the file as it is (repair or move \
             it aside; moving it loses the stage corrections made with `tend stage`)",
            file.display()
        )
    })?;
    anyhow::ensure!(
        disk.version <= VERSION,
        "the corrections in {} are of format {} and this tend reads up to {VERSION}; the file \
         is left as it is",
        file.display(),
        disk.version
    );
    Ok(Corrections {
        entries: disk.corrections,
        joins: disk.joins,
    })
}

impl Corrections {
    /// Every correction, oldest first.
    pub fn entries(&self) -> &[Correction] {
        &self.entries
    }

    /// Records that the thread of `message_id` is in `stage` since `at` (a `None` stage clears
    /// the thread's earlier corrections). Angle brackets around the id are dropped.
    pub fn set(&mut self, message_id: &str, stage: Option<&str>, at: i64, note: Option<&str>) {
        self.entries.push(Correction {
            message_id: bare_id(message_id).to_string(),
            stage: stage.map(str::to_string),
            at,
            note: note
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(String::from),
        });
    }

    /// Every `tend deal` command, oldest first.
    pub fn join_entries(&self) -> &[JoinCorrection] {
        &self.joins
    }

    /// Records that the thread of `message_id` continues the deal of the thread of `join`
    /// (`None`: stands alone) since `at`. Angle brackets around the ids are dropped.
    pub fn set_join(&mut self, message_id: &str, join: Option<&str>, at: i64, note: Option<&str>) {
        self.joins.push(JoinCorrection {
            message_id: bare_id(message_id).to_string(),
            join: join.map(|j| bare_id(j).to_string()),
            at,
            note: note
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(String::from),
        });
    }

    /// The user's last word per thread (`thread_of` as for [`Self::stage_changes`]; a message
    /// no thread knows stands for a thread of its own): the latest `tend deal` naming a
    /// message of the thread wins.
    pub fn joins_by_thread(
        &self,
        thread_of: &dyn Fn(&str) -> Option<String>,
    ) -> BTreeMap<String, JoinWord> {
        let thread = |id: &str| thread_of(id).unwrap_or_else(|| id.to_string());
        let mut commands: Vec<&JoinCorrection> = self.joins.iter().collect();
        // Stable: commands of one second keep the order they were made in.
        commands.sort_by_key(|c| c.at);
        let mut out = BTreeMap::new();
        for c in commands {
            let word = match &c.join {
                Some(other) => JoinWord::Join {
                    thread: thread(other),
                    note: c.note.clone(),
                },
                None => JoinWord::Split,
            };
            out.insert(thread(&c.message_id), word);
        }
        out
    }

    /// Writes the corrections to `<state_dir>/corrections.json` atomically, mode 600: a crash
    /// leaves either the old file or the new one (and perhaps a temp file, which `load`
    /// ignores).
    pub fn save(&self, state_dir: &Path) -> Result<()> {
        // 0700 like the store's directory: `tend stage` may come before any `tend run`.
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(state_dir)
            .with_context(|| format!("creating the state directory {}", state_dir.display()))?;
        let file = path(state_dir);
        let disk = OnDisk {
            version: VERSION,
            corrections: self.entries.clone(),
            joins: self.joins.clone(),
        };
        let mut bytes = serde_json::to_vec_pretty(&disk).context("serialising the corrections")?;
        bytes.push(b'\n');
        // Unique per process and moment, so two `tend stage` at once never share a temp file.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = state_dir.join(format!(".{FILE}.tmp-{}-{nanos}", std::process::id()));
        let write = || -> Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            f.write_all(&bytes)
                .with_context(|| format!("writing {}", tmp.display()))?;
            f.sync_all()
                .with_context(|| format!("syncing {}", tmp.display()))?;
            std::fs::rename(&tmp, &file)
                .with_context(|| format!("replacing {} by {}", file.display(), tmp.display()))?;
            // The rename itself is durable only once the directory is.
            std::fs::File::open(state_dir)
                .and_then(|d| d.sync_all())
                .with_context(|| format!("syncing the directory {}", state_dir.display()))
        };
        let written = write();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// The stage changes the user made, per thread: every correction not cleared by a later
    /// `--clear` of its thread (source [`StageSource::Command`], `at` the date of the message
    /// it names, as every stage change is dated by the message that caused it; the command's
    /// own time when the store does not know that message; never before an earlier command
    /// on the thread, so the later command stays the last word; evidence the note), and every stage set by an IMAP keyword on a message (source
    /// [`StageSource::Keyword`], `at` that message's date from `date_of`; a tagged message
    /// the store does not know yet, or without a date, counts once it is known).
    ///
    /// `keyworded` is [`Store::keyworded_stages`](super::Store::keyworded_stages); a thread is
    /// `thread_of(message_id)`, and a message no thread knows stands for a thread of its own,
    /// keyed by its id. Each list is in order of `at`; both sources are the user's word, so the
    /// later one wins: the last change of a list is where the user put the thread. On a tie the
    /// command comes last (it was said in so many words).
    pub fn stage_changes(
        &self,
        keyworded: &[(String, String)],
        thread_of: &dyn Fn(&str) -> Option<String>,
        date_of: &dyn Fn(&str) -> Option<i64>,
    ) -> BTreeMap<String, Vec<StageChange>> {
        let thread = |id: &str| thread_of(id).unwrap_or_else(|| id.to_string());
        let mut out: BTreeMap<String, Vec<StageChange>> = BTreeMap::new();
        // Commands in the order of their time (the file is in the order they were made, which
        // is the same unless a clock went back).
        let mut commands: Vec<&Correction> = self.entries.iter().collect();
        commands.sort_by_key(|c| c.at);
        for c in commands {
            let list = out.entry(thread(&c.message_id)).or_default();
            match &c.stage {
                None => list.retain(|s| s.source != StageSource::Command),
                Some(stage) => list.push(StageChange {
                    stage: stage.clone(),
                    at: date_of(&c.message_id)
                        .unwrap_or(c.at)
                        .max(list.last().map_or(i64::MIN, |l| l.at)),
                    message_id: Some(c.message_id.clone()),
                    source: StageSource::Command,
                    evidence: c.note.clone(),
                }),
            }
        }
        // The same tag seen from two mailboxes (a shared thread) is one change.
        let tagged: BTreeSet<&(String, String)> = keyworded.iter().collect();
        for (message_id, stage) in tagged {
            let Some(at) = date_of(message_id) else {
                continue;
            };
            out.entry(thread(message_id))
                .or_default()
                .push(StageChange {
                    stage: stage.clone(),
                    at,
                    message_id: Some(message_id.clone()),
                    source: StageSource::Keyword,
                    evidence: Some(format!("tagged {stage:?} in the mail client")),
                });
        }
        out.retain(|_, list| !list.is_empty());
        for list in out.values_mut() {
            // Stable: commands keep their order among themselves.
            list.sort_by_key(|s| (s.at, s.source == StageSource::Command));
        }
        out
    }
}

/// A Message-ID as given on a command line: `<id>` or `id`, spaces around dropped.
pub fn bare_id(message_id: &str) -> &str {
    let id = message_id.trim();
    let id = id.strip_prefix('<').unwrap_or(id);
    id.strip_suffix('>').unwrap_or(id).trim()
}

#[cfg(test)]
mod tests;
