//! Which files of the `mailboxes/` folder are mailboxes (`NAME.toml`), and the error when none
//! is: the folder, the files it ignored, and which of them are examples (`*.sample`).
//!
//! Reading and checking one mailbox file is `load_mailbox`'s (config/mod.rs).

use super::{load_mailbox, ConfigError, MailboxConfig};
use std::path::{Path, PathBuf};

/// Every `*.toml` in `dir`, sorted by name so runs are repeatable. None is an error: a service
/// watching no mailbox would idle forever looking healthy (issue 11: `alice.conf`).
pub(super) fn load_mailboxes(dir: &Path) -> Result<Vec<MailboxConfig>, ConfigError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ConfigError {
        file: dir.to_path_buf(),
        message: format!("cannot read the mailboxes folder: {e}"),
    })?;
    let mut all: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    all.sort();
    let (files, others): (Vec<PathBuf>, Vec<PathBuf>) = all
        .into_iter()
        .partition(|p| p.extension().is_some_and(|x| x == "toml"));
    if files.is_empty() {
        return Err(ConfigError {
            file: dir.to_path_buf(),
            message: no_mailboxes_message(&others),
        });
    }
    files.iter().map(|f| load_mailbox(f)).collect()
}

/// What to say when the mailboxes folder holds no `NAME.toml`: the files it does hold, the
/// examples (`*.sample`, as packaging ships them) apart from what looks like a misnamed one.
fn no_mailboxes_message(others: &[PathBuf]) -> String {
    let name = |p: &PathBuf| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let (samples, ignored): (Vec<String>, Vec<String>) = others
        .iter()
        .map(name)
        .partition(|n| n.ends_with(".sample"));
    let mut message =
        "no mailbox file (NAME.toml) in this folder, so there is nothing to watch".to_string();
    if !ignored.is_empty() {
        message.push_str(&format!(
            "; ignored {}: only files ending in .toml are read as mailboxes (rename one to \
             NAME.toml if it is meant as one)",
            ignored.join(", ")
        ));
    }
    if samples.is_empty() {
        message.push_str("; write one mailbox file per address (see the README)");
    } else {
        message.push_str(&format!(
            "; {} {} an example: copy it to NAME.toml and edit it",
            samples.join(", "),
            if samples.len() == 1 { "is" } else { "are" }
        ));
    }
    message
}
