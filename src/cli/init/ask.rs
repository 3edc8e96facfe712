//! The questions of `tend init`, on the terminal: a typed line with a default and a check, a
//! choice from a list (arrow keys or j/k, Enter), yes or no, and a secret typed without echo.
//! This module owns dialoguer; the rest of init only asks through these.
//!
//! It knows nothing of mail or models: what to ask and what an answer means is `init`'s.

use anyhow::{Context, Result};
use dialoguer::{Confirm, Input, Password, Select};

/// Ctrl-C at a question ends init with 130, after showing the cursor a list of choices hid
/// (killed by the signal instead, it would stay hidden in the user's shell).
pub(super) fn on_interrupt() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::spawn(async move {
        if int.recv().await.is_some() {
            let _ = dialoguer::console::Term::stderr().show_cursor();
            eprintln!("\ntend init: stopped (Ctrl-C)");
            std::process::exit(130);
        }
    });
    Ok(())
}

/// A line, trimmed; `default` is taken on a bare Enter. `check` says what is wrong with an
/// answer (asked again) or `None`.
pub(super) fn line(
    prompt: &str,
    default: Option<&str>,
    check: impl Fn(&str) -> Option<String>,
) -> Result<String> {
    let mut input = Input::<String>::new().with_prompt(prompt);
    if let Some(d) = default {
        input = input.default(d.to_string());
    }
    let answer = input
        .validate_with(|a: &String| match check(a.trim()) {
            Some(wrong) => Err(wrong),
            None => Ok(()),
        })
        .interact_text()
        .context("reading the answer from the terminal")?;
    Ok(answer.trim().to_string())
}

/// A line that may be left empty (`None`).
pub(super) fn optional(prompt: &str) -> Result<Option<String>> {
    let answer = Input::<String>::new()
        .with_prompt(format!("{prompt} (Enter for none)"))
        .allow_empty(true)
        .interact_text()
        .context("reading the answer from the terminal")?;
    let answer = answer.trim();
    Ok((!answer.is_empty()).then(|| answer.to_string()))
}

/// The index of the chosen item.
pub(super) fn choose(prompt: &str, items: &[&str], default: usize) -> Result<usize> {
    Select::new()
        .with_prompt(prompt)
        .items(items)
        .default(default)
        .interact()
        .context("reading the choice from the terminal")
}

pub(super) fn yes(prompt: &str, default: bool) -> Result<bool> {
    Confirm::new()
        .with_prompt(prompt)
        .default(default)
        .interact()
        .context("reading the answer from the terminal")
}

/// A secret, not shown while typed; empty only when `may_be_empty`.
pub(super) fn secret(prompt: &str, may_be_empty: bool) -> Result<String> {
    Password::new()
        .with_prompt(prompt)
        .allow_empty_password(may_be_empty)
        .interact()
        .context("reading the secret from the terminal")
}
