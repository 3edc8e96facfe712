//! `tend init`: the first run in a terminal. It asks for the address, the mailbox's name, the
//! provider (guessed from the domain) or the server, the password (stored as a credential
//! file) or the OAuth2 client (then the consent, as `tend auth` does it), and, when there is
//! no tend.toml yet, the model (tested with one request); writes the commented mailbox file
//! (and tend.toml) from the shipped examples, runs `tend check`'s checks on them and prints the
//! systemd steps. Run again, it adds a mailbox file and leaves the others and tend.toml alone.
//!
//! It owns the order of the questions and what the answers mean; the asking is `ask`, the
//! model's questions `model`, the files' text `render`, their modes `files`. It runs before
//! any config is loaded (there may be none) and never overwrites a config file.

mod ask;
mod files;
mod model;
mod render;
mod server;

use super::{auth, checkup, owner};
use crate::config::{self, Auth, OAuth2, TokenSource};
use anyhow::{Context, Result};
use render::Login;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub(super) async fn run(tend_toml: &Path) -> Result<ExitCode> {
    // Absolute, as the files name the credentials and the unit's alias needs them.
    let tend_toml = &std::path::absolute(tend_toml)
        .with_context(|| format!("the absolute path of {}", tend_toml.display()))?;
    let dir = tend_toml.parent().unwrap_or(Path::new("/"));
    let credentials = dir.join("credentials");
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "tend init asks questions; run it in a terminal. Or set up by hand: copy \
             {d}/mailboxes/example.toml.sample to {d}/mailboxes/NAME.toml and edit it, store the \
             password as {c}/NAME (mode 600) and the model's key as {c}/openai, set [llm] in {t}, \
             then run `tendctl check` (README, \"Run it as a service\")",
            d = dir.display(),
            c = credentials.display(),
            t = tend_toml.display()
        );
    }
    writable(dir)?;
    ask::on_interrupt()?;
    // An existing tend.toml is kept as it is: it must load before anything is asked. The
    // package's own, still as shipped, holds no choice of the admin's: it is replaced.
    let existing = match std::fs::read_to_string(tend_toml) {
        Ok(text) if render::is_shipped_tend_toml(&text) => None,
        Ok(text) => Some(config::llm_of_text(&text, dir).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e}; tend init keeps an existing tend.toml, so fix it first",
                tend_toml.display()
            )
        })?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", tend_toml.display())),
    };
    say("tend init: a few questions, then it writes the mailbox file and checks it. Ctrl-C stops at any question; the files are written after the last one (the model's key when given, for its test).");
    let mailboxes = dir.join("mailboxes");
    let address = ask::line("Your email address (the mailbox tend watches)", None, |a| {
        (!a.contains('@') || !crate::draft::compose::is_valid_address(&a.to_ascii_lowercase()))
            .then(|| "a bare address, such as alice@example.com".to_string())
    })?
    .to_ascii_lowercase();
    let (local, domain) = address.rsplit_once('@').context("an address has an @")?;
    let name = ask::line(
        "The mailbox's name (its file mailboxes/NAME.toml)",
        Some(&free_name(&mailboxes, local)),
        |n| name_problem(&mailboxes, n),
    )?;
    let (server, username, login, secret) = server::server_and_login(&address, domain)?;
    let timezone = ask::line(
        "Your time zone (business days for follow-ups are counted in it)",
        Some(&local_timezone()),
        |tz| {
            tz.parse::<chrono_tz::Tz>()
                .is_err()
                .then(|| "an IANA name, such as Europe/Berlin or America/New_York".to_string())
        },
    )?;
    let new_tend_toml = match &existing {
        Some(llm) => {
            model::keep(tend_toml, llm)?;
            None
        }
        None => Some(model::choose(tend_toml, &credentials).await?),
    };

    // The answers are complete: the files.
    let oauth2 = matches!(login, Login::OAuth2 { .. });
    match (&login, secret) {
        (Login::Password, Some(pw)) => {
            files::store_secret(&credentials, &name, &pw)?;
        }
        (Login::OAuth2 { .. }, Some(s)) => {
            files::store_secret(&credentials, &format!("{name}_oauth"), &s)?;
        }
        _ => {}
    }
    if let Some(text) = &new_tend_toml {
        if tend_toml.exists() {
            files::replace(tend_toml, text)?;
            say(&format!(
                "Wrote {} (over the package's example, which was unchanged)",
                tend_toml.display()
            ));
        } else {
            files::write_new(tend_toml, text)?;
            say(&format!("Wrote {}", tend_toml.display()));
        }
    }
    let file = mailboxes.join(format!("{name}.toml"));
    let m = render::Mailbox {
        name: &name,
        address: &address,
        domain: (!config::is_freemail(domain)).then_some(domain),
        timezone: &timezone,
        server,
        username: &username,
        login,
        credentials: &credentials.display().to_string(),
    };
    files::write_new(
        &file,
        &render::mailbox_file(&m, &file.display().to_string())?,
    )?;
    say(&format!("Wrote {}", file.display()));
    check(tend_toml, &name, &file, &credentials, oauth2).await
}

/// Loads what was written, runs the consent if due, then `tend check`'s checks on the new
/// mailbox and the model; the next steps, or what to fix.
async fn check(
    tend_toml: &Path,
    name: &str,
    file: &Path,
    credentials: &Path,
    oauth2: bool,
) -> Result<ExitCode> {
    let kept = format!(
        "The file {} was kept: edit it (or store the secret again in {}), then run `tendctl \
         check`; or remove it and run `tend init` again.",
        file.display(),
        credentials.display()
    );
    let loaded = match config::load(tend_toml) {
        Ok(c) => c,
        Err(err) => {
            say(&format!("FAIL configuration: {err}\n{kept}"));
            return Ok(ExitCode::from(78));
        }
    };
    let mut config = files::for_check(&loaded, name, credentials)
        .with_context(|| format!("the mailbox {name:?} did not load from {}", file.display()))?;
    if oauth2 {
        let mb = &config.mailboxes[0];
        if let Auth::OAuth2(OAuth2 {
            source: TokenSource::Refresh(client),
            ..
        }) = &mb.imap.auth
        {
            match consent_possible(&config.state_dir) {
                Ok(()) => {
                    if let Err(err) = auth::consent(client, name).await {
                        say(&format!("FAIL the consent: {err:#}"));
                    }
                }
                Err(why) => {
                    say(&format!(
                        "todo the consent: {why}; run `tendctl auth {name}` (README), then \
                         `tendctl check`. Checking the model only."
                    ));
                    config.mailboxes.clear();
                }
            }
        }
    }
    if checkup::failed(&config).await {
        say(&kept);
        return Ok(ExitCode::FAILURE);
    }
    say(&next_steps(tend_toml, credentials));
    Ok(ExitCode::SUCCESS)
}

/// The systemd steps, with a dry run first.
fn next_steps(tend_toml: &Path, credentials: &Path) -> String {
    let elsewhere = if tend_toml == Path::new("/etc/tend/tend.toml") {
        String::new()
    } else {
        format!(
            "\nNote: the service (tend.service) reads /etc/tend/tend.toml and \
             /etc/tend/credentials/, not {}: copy the files there, or run tend by hand with \
             --config and the secrets as files (the comments in the files say how).",
            tend_toml.display()
        )
    };
    format!(
        "\nNext steps:\n\
         1. See what tend would draft, saving nothing, as the service's user with its credentials:\n\
         \x20    alias tendctl='sudo systemd-run --pty --wait --collect -p DynamicUser=yes -p User=tend \
         -p StateDirectory=tend -p LoadCredential=tend:{} /usr/bin/tend'\n\
         \x20    tendctl once --dry-run\n\
         2. Start the service (it loads the credentials when it starts):\n\
         \x20    sudo systemctl daemon-reload\n\
         \x20    sudo systemctl enable --now tend     (already running: sudo systemctl restart tend)\n\
         \x20    systemctl status tend\n\
         \x20    journalctl -u tend -f\n\
         Another mailbox: run `tend init` again.{elsewhere}",
        credentials.display()
    )
}

/// Init writes here; better said before the questions than after them.
fn writable(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let probe = dir.join(format!(".tend-init-{}", std::process::id()));
    std::fs::File::create(&probe).with_context(|| {
        format!(
            "tend init writes in {}, and may not: run `sudo tend init`",
            dir.display()
        )
    })?;
    std::fs::remove_file(&probe).with_context(|| format!("removing {}", probe.display()))
}

/// Whether this user can store the refresh token, or the service's user must (its store).
fn consent_possible(state_dir: &Path) -> Result<(), String> {
    owner::check(state_dir).map_err(|_| {
        format!(
            "the state directory {} belongs to the service's user",
            state_dir.display()
        )
    })?;
    std::fs::create_dir_all(state_dir).map_err(|e| {
        format!(
            "cannot create the state directory {}: {e}",
            state_dir.display()
        )
    })
}

fn name_problem(mailboxes: &Path, n: &str) -> Option<String> {
    let ok = n
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if n.is_empty() || !ok || n.starts_with(['.', '-']) {
        return Some("letters, digits, . _ and - only (it names files)".into());
    }
    mailboxes.join(format!("{n}.toml")).exists().then(|| {
        format!(
            "mailboxes/{n}.toml exists: choose another name (init never overwrites a mailbox file)"
        )
    })
}

/// The local part as a file name, numbered when a mailbox file of that name exists.
fn free_name(mailboxes: &Path, local: &str) -> String {
    let base: String = local
        .split('+')
        .next()
        .unwrap_or(local)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = if base.is_empty() {
        "mailbox".to_string()
    } else {
        base
    };
    (1..)
        .map(|i| {
            if i == 1 {
                base.clone()
            } else {
                format!("{base}{i}")
            }
        })
        .find(|n| name_problem(mailboxes, n).is_none())
        .unwrap_or(base)
}

/// This machine's time zone: $TZ, /etc/timezone, or the target of /etc/localtime; else UTC.
fn local_timezone() -> String {
    let link: Option<PathBuf> = std::fs::read_link("/etc/localtime").ok();
    let from_link = link.and_then(|p| {
        let s = p.to_string_lossy().into_owned();
        s.split_once("zoneinfo/").map(|(_, tz)| tz.to_string())
    });
    [
        std::env::var("TZ").ok(),
        std::fs::read_to_string("/etc/timezone").ok(),
        from_link,
    ]
    .into_iter()
    .flatten()
    .map(|tz| tz.trim().trim_start_matches(':').to_string())
    .find(|tz| tz.parse::<chrono_tz::Tz>().is_ok())
    .unwrap_or_else(|| "UTC".to_string())
}

/// A line on stdout, at once (the questions go to stderr between).
fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}
