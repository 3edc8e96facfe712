//! The commands: parse the arguments, load the config, open the store, call the daemon, and
//! print what a person needs to see. Output formatting lives here; decisions do not.

use crate::config::{self, Config, MailboxConfig};
use crate::daemon::health::Health;
use crate::daemon::{self, Action, Review};
use crate::detect::{Kind, Verdict};
use crate::llm::OpenAi;
use crate::store::{self, DraftState, Store};
use anyhow::{Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// tend: finds buyer replies nobody answered and deals gone quiet, and leaves a draft reply in
/// your Drafts folder. It never sends mail.
#[derive(Parser, Debug)]
#[command(version, about)]
pub struct Args {
    /// The main configuration file; mailboxes are the *.toml files in `mailboxes/` beside it.
    #[arg(
        long,
        short,
        global = true,
        default_value = "/etc/tend/tend.toml",
        env = "TEND_CONFIG"
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check the configuration, the secrets, the login, the folders and the model.
    Check,
    /// Fetch and store new mail only (no model calls): the first import of a large mailbox.
    Sync {
        /// Only this mailbox (its file name without .toml).
        #[arg(long)]
        mailbox: Option<String>,
    },
    /// One full pass: sync, find what needs attention, write drafts into Drafts.
    Once {
        /// Print the drafts instead of saving them.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        mailbox: Option<String>,
    },
    /// Run as a service: every mailbox at once, woken by IDLE, until SIGTERM or SIGINT; SIGHUP
    /// re-reads the mailbox files.
    Run,
    /// Every thread that needs attention now, why, and since when (from the last sync).
    Status {
        #[arg(long)]
        mailbox: Option<String>,
    },
    /// Why a thread was or was not flagged. Give any Message-ID of the thread.
    Explain {
        message_id: String,
        #[arg(long)]
        mailbox: Option<String>,
    },
}

/// Runs the command; a configuration problem exits with 78 (EX_CONFIG, which systemd's
/// RestartPreventExitStatus can name), any other failure with 1.
pub async fn main(args: Args) -> ExitCode {
    let config = match config::load(&args.config) {
        Ok(c) => c,
        Err(err) => {
            eprintln!("tend: configuration error: {err}");
            return ExitCode::from(78);
        }
    };
    match dispatch(&config, args.command).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("tend: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(config: &Config, command: Command) -> Result<ExitCode> {
    let now = Utc::now();
    match command {
        Command::Check => check(config).await,
        Command::Sync { mailbox } => {
            let store = Store::open(&config.state_dir, now.timestamp())?;
            // Ctrl-C during a long first import stops between batches, keeping what is stored.
            let shutdown = CancellationToken::new();
            spawn_signal_handler(shutdown.clone())?;
            let mut failed = false;
            for mb in select(config, mailbox.as_deref())? {
                match sync_only(mb, &store, &shutdown).await {
                    Ok(r) => println!("{}: {r}", mb.name),
                    Err(err) => {
                        failed = true;
                        eprintln!("{}: sync failed: {err:#}", mb.name);
                    }
                }
            }
            Ok(exit(failed))
        }
        Command::Once { dry_run, mailbox } => {
            let store = Store::open(&config.state_dir, now.timestamp())?;
            let model = OpenAi::new(&config.llm)?;
            // Ctrl-C stops between steps, as the service does (an APPEND in flight finishes).
            let shutdown = CancellationToken::new();
            spawn_signal_handler(shutdown.clone())?;
            let mut failed = false;
            // A colleague's reply in their own Sent closes my finding, so every mailbox sharing
            // the store is synced before any is judged; the passes then find nothing new.
            if config.mailboxes.len() > 1 {
                for mb in &config.mailboxes {
                    if let Err(err) = sync_only(mb, &store, &shutdown).await {
                        tracing::warn!(mailbox = %mb.name, "sync before the passes failed: {err:#}");
                    }
                }
            }
            for mb in select(config, mailbox.as_deref())? {
                if shutdown.is_cancelled() {
                    break;
                }
                let pass = daemon::pass(mb, &store, &model, dry_run, &shutdown);
                match pass.instrument(daemon::span(mb)).await {
                    Ok((r, actions)) => {
                        println!("{}: {r}", mb.name);
                        for a in &actions {
                            failed |= matches!(a, Action::Failed { .. } | Action::ModelDown { .. });
                            print_action(mb, a, dry_run);
                        }
                    }
                    Err(err) => {
                        failed = true;
                        eprintln!("{}: pass failed: {err:#}", mb.name);
                    }
                }
            }
            // Interrupted: not everything was done, which the exit status says.
            Ok(exit(failed || shutdown.is_cancelled()))
        }
        Command::Run => {
            let store = Store::open(&config.state_dir, now.timestamp())?;
            let model = OpenAi::new(&config.llm)?;
            daemon::run(config.clone(), store, model, Box::new(write_snapshot)).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { mailbox } => {
            let chosen = select(config, mailbox.as_deref())?;
            match Store::open(&config.state_dir, now.timestamp()) {
                Ok(store) => print!("{}", status_text(&chosen, &store, now)?),
                // `tend run` holds the store: show the snapshot it keeps.
                Err(err) if store::is_locked(&err) => {
                    let path = status_snapshot(config);
                    let text = std::fs::read_to_string(&path).with_context(|| {
                        format!(
                            "{err:#}; and no status written by it yet ({})",
                            path.display()
                        )
                    })?;
                    let age = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .map_or(String::new(), |d| format!(" {} s ago", d.as_secs()));
                    println!("(tend run is active; this is the status it wrote{age})");
                    print!("{text}");
                }
                Err(err) => return Err(err),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain {
            message_id,
            mailbox,
        } => {
            let store = Store::open(&config.state_dir, now.timestamp())?;
            let id = message_id
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>');
            let thread_id = store
                .thread_of(id)?
                .with_context(|| format!("no stored message or thread has the id <{id}>"))?;
            let thread = store
                .thread(&thread_id)?
                .context("the thread has no stored messages")?;
            for mb in select(config, mailbox.as_deref())? {
                let review = daemon::judge(mb, &store, thread.clone(), now)?;
                println!(
                    "{}: thread <{}> ({} messages)",
                    mb.name,
                    shown(&thread_id),
                    thread.messages.len()
                );
                for m in &thread.messages {
                    println!("{}", message_line(mb, m));
                }
                print!("{}", review_text(mb, &review, now));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn exit(failed: bool) -> ExitCode {
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn select<'a>(config: &'a Config, name: Option<&str>) -> Result<Vec<&'a MailboxConfig>> {
    let chosen: Vec<&MailboxConfig> = config
        .mailboxes
        .iter()
        .filter(|m| name.is_none_or(|n| m.name == n))
        .collect();
    if chosen.is_empty() {
        match name {
            Some(n) => anyhow::bail!("no mailbox named {n:?} (the file mailboxes/{n}.toml)"),
            None => anyhow::bail!(
                "no mailbox files in the mailboxes/ folder beside {}",
                config.path.display()
            ),
        }
    }
    Ok(chosen)
}

async fn check(config: &Config) -> Result<ExitCode> {
    println!(
        "ok   config {} ({} mailboxes)",
        config.path.display(),
        config.mailboxes.len()
    );
    let mut failed = false;
    for mb in &config.mailboxes {
        let result = async {
            let (session, folders) = daemon::open(mb).await?;
            session.logout().await;
            Ok::<_, anyhow::Error>(folders)
        }
        .await;
        match result {
            Ok(f) => {
                let sent = f
                    .sent
                    .as_deref()
                    .unwrap_or("(none: our replies are seen only via other folders)");
                match &f.drafts {
                    Some(d) => println!(
                        "ok   {}: login works; inbox {:?}, sent {sent:?}, drafts {d:?}",
                        mb.name, f.inbox
                    ),
                    None => {
                        failed = true;
                        println!("FAIL {}: login works but no Drafts folder was found; set [folders] drafts", mb.name);
                    }
                }
            }
            Err(err) => {
                failed = true;
                println!("FAIL {}: {err:#}", mb.name);
            }
        }
    }
    match OpenAi::new(&config.llm) {
        Ok(model) => match model.ping().await {
            Ok(()) => println!("ok   model server {} answers", config.llm.base_url),
            Err(err) => {
                failed = true;
                println!("FAIL model server {}: {err:#}", config.llm.base_url);
            }
        },
        Err(err) => {
            failed = true;
            println!("FAIL model: {err:#}");
        }
    }
    Ok(exit(failed))
}

fn when(mb: &MailboxConfig, unix: Option<i64>) -> String {
    match unix.and_then(|t| mb.timezone.timestamp_opt(t, 0).single()) {
        Some(t) => t.format("%a %Y-%m-%d %H:%M %Z").to_string(),
        None => "(no date)".into(),
    }
}

/// Text from mail, safe for a terminal: control characters (ESC, CR, ...) shown escaped.
fn shown(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// One message of a thread as `explain` lists it; everything from the mail is escaped.
fn message_line(mb: &MailboxConfig, m: &crate::parse::Email) -> String {
    let from = m.from.as_ref().map_or("?", |a| a.email.as_str());
    let auto = m
        .automated
        .as_deref()
        .map(|a| format!("  [automated: {}]", shown(a)))
        .unwrap_or_default();
    format!(
        "  {}  {}  {:?}{auto}",
        when(mb, m.date),
        shown(from),
        m.subject
    )
}

/// Who the draft for a finding goes to and who it leaves out, for `status` and `explain`.
fn addressing_text(mb: &MailboxConfig, r: &Review, f: &crate::detect::Finding) -> String {
    let who = match crate::draft::compose::addressees(&r.thread, f, mb) {
        Ok(who) => who,
        Err(err) => return format!("      addressing: {}\n", shown(&format!("{err:#}"))),
    };
    let list = |v: &[crate::parse::Addr]| {
        v.iter()
            .map(|a| shown(&a.email))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = format!("      from {}, to {}", shown(&who.from), list(&who.to));
    if !who.cc.is_empty() {
        out.push_str(&format!(", cc {}", list(&who.cc)));
    }
    out.push('\n');
    if !who.left_out.is_empty() {
        let names: Vec<String> = who.left_out.iter().map(|a| shown(a)).collect();
        out.push_str(&format!(
            "      left out (outside the conversation with us): {}\n",
            names.join(", ")
        ));
    }
    for note in &who.notes {
        out.push_str(&format!("      note: {}\n", shown(note)));
    }
    out
}

/// One thread as `status` and `explain` show it.
fn review_text(mb: &MailboxConfig, r: &Review, now: DateTime<Utc>) -> String {
    let subject = r.thread.messages.last().map_or("", |m| m.subject.as_str());
    match &r.verdict {
        Verdict::Attention(f) => {
            let kind = match f.kind {
                Kind::Reply => "needs a reply".to_string(),
                Kind::FollowUp { nudge } => format!("follow-up #{nudge} due"),
            };
            let days = (now.timestamp() - f.since).max(0) / 86_400;
            let draft = match &r.draft {
                Some(DraftState::Appended) => "draft written to Drafts".to_string(),
                Some(DraftState::Vetoed { reason }) => {
                    format!(
                        "no draft: the model judged no answer is needed ({})",
                        shown(reason)
                    )
                }
                None => match &r.failure {
                    Some(fail) => {
                        let next = match fail.retry_at {
                            Some(at) => format!("next try {}", when(mb, Some(at))),
                            None => "not tried again until the thread has a new message".into(),
                        };
                        format!(
                            "no draft: failed {} time{}, last: {}; {next}",
                            fail.count,
                            if fail.count == 1 { "" } else { "s" },
                            fail.error
                        )
                    }
                    None => "no draft yet".to_string(),
                },
            };
            format!(
                "  * {subject:?}: {kind}, waiting since {} ({days} days)\n      why: {}\n{}      {draft}\n",
                when(mb, Some(f.since)),
                shown(&f.reason),
                addressing_text(mb, r, f)
            )
        }
        Verdict::Quiet { reason } => {
            format!("  - {subject:?}: nothing to do: {}\n", shown(reason))
        }
    }
}

/// Syncs one mailbox on a connection of its own, without judging or drafting.
async fn sync_only(
    mb: &MailboxConfig,
    store: &Store,
    shutdown: &CancellationToken,
) -> Result<daemon::SyncReport> {
    async {
        let (mut session, folders) = daemon::open(mb).await?;
        let report = daemon::sync(mb, store, &mut session, &folders, shutdown).await?;
        session.logout().await;
        Ok(report)
    }
    .instrument(daemon::span(mb))
    .await
}

/// What `tend status` prints: per mailbox, the threads that need attention.
fn status_text(mailboxes: &[&MailboxConfig], store: &Store, now: DateTime<Utc>) -> Result<String> {
    let mut out = String::new();
    for mb in mailboxes {
        let reviews = daemon::review(mb, store, now)?;
        let attention: Vec<&Review> = reviews
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Attention(_)))
            .collect();
        out.push_str(&format!(
            "{}: {} of {} recent threads need attention\n",
            mb.name,
            attention.len(),
            reviews.len()
        ));
        for r in attention {
            out.push_str(&review_text(mb, r, now));
        }
    }
    Ok(out)
}

/// `tend run`'s status snapshot: each mailbox's connection state, then `status_text`.
fn write_snapshot(config: &Config, store: &Store, health: &Health) {
    let now = Utc::now();
    let mut text = String::new();
    for (name, h) in health.snapshot() {
        text.push_str(&format!("{name}: {}\n", h.describe(now)));
    }
    let all: Vec<&MailboxConfig> = config.mailboxes.iter().collect();
    let written = status_text(&all, store, now).and_then(|threads| {
        text.push_str(&threads);
        let path = status_snapshot(config);
        let tmp = path.with_extension("txt.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    });
    if let Err(err) = written {
        tracing::warn!("could not write the status snapshot: {err:#}");
    }
}

/// Where `tend run` leaves the status after every round, for `tend status` to show while the
/// running service holds the store.
fn status_snapshot(config: &Config) -> PathBuf {
    config.state_dir.join("status.txt")
}

fn print_action(mb: &MailboxConfig, a: &Action, dry_run: bool) {
    match a {
        Action::Drafted { draft, delivery } => {
            let list = |v: &[crate::parse::Addr]| {
                v.iter()
                    .map(|a| a.email.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let state = match (dry_run, delivery) {
                (true, _) => "dry run: not saved".to_string(),
                (false, Some(d)) => format!("{d:?}"),
                (false, None) => "not saved".to_string(),
            };
            println!("--- draft for {} ({state})", mb.name);
            println!("From: {}", draft.from);
            println!("To: {}", list(&draft.to));
            if !draft.cc.is_empty() {
                println!("Cc: {}", list(&draft.cc));
            }
            if !draft.left_out.is_empty() {
                println!(
                    "Left out (outside the conversation with us): {}",
                    shown(&draft.left_out.join(", "))
                );
            }
            for note in &draft.notes {
                println!("Note: {}", shown(note));
            }
            println!("Subject: {}", shown(&draft.subject));
            println!("Message-ID: <{}>", draft.message_id);
            println!();
            // The model's text: line breaks kept, every other control character escaped.
            let body: Vec<String> = draft.body.lines().map(shown).collect();
            println!("{}", body.join("\n"));
            println!("---");
        }
        Action::Vetoed { thread_id, reason } => {
            println!("no draft for <{thread_id}>: the model judged no answer is needed: {reason}")
        }
        Action::Superseded { thread_id } => {
            println!("no draft for <{thread_id}>: answered while drafting")
        }
        Action::AlreadyThere { thread_id } => println!("draft for <{thread_id}> already in Drafts"),
        Action::Failed { thread_id, failure } => {
            eprintln!("no draft for <{thread_id}>: {}", failure.error)
        }
        Action::ModelDown {
            thread_id, error, ..
        } => {
            eprintln!("no draft for <{thread_id}> this time: {error}")
        }
    }
}

/// SIGTERM and SIGINT cancel `token`: `tend sync` stops between batches, `tend once` between
/// steps.
fn spawn_signal_handler(token: CancellationToken) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = int.recv() => tracing::info!("SIGINT: stopping"),
        }
        token.cancel();
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Verdict;
    use crate::draft::test_support::{email, mailbox};
    use crate::parse::Addr;
    use crate::thread::Thread;

    #[test]
    fn status_names_who_a_draft_leaves_out_and_why() {
        use crate::detect::{Finding, Kind};
        let mb = mailbox();
        let mut m = email(
            "rfq@buyer.example",
            Addr {
                name: None,
                email: "anna@buyer.example".into(),
            },
            "quote?",
            1_717_200_000,
        );
        m.to = ["sales@shop.example", "bids@rival.example"]
            .iter()
            .map(|e| Addr {
                name: None,
                email: e.to_string(),
            })
            .collect();
        m.reply_to = vec![Addr {
            name: None,
            email: "x@evil.example".into(),
        }];
        let f = Finding {
            thread_id: "rfq@buyer.example".into(),
            kind: Kind::Reply,
            trigger: "rfq@buyer.example".into(),
            since: 1_717_200_000,
            reason: "anna wrote".into(),
        };
        let review = Review {
            thread: Thread {
                id: "rfq@buyer.example".into(),
                messages: vec![m],
            },
            verdict: Verdict::Attention(f),
            draft: None,
            failure: None,
        };
        let text = review_text(&mb, &review, Utc::now());
        assert!(
            text.contains("from sales@shop.example, to anna@buyer.example\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "left out (outside the conversation with us): x@evil.example, bids@rival.example"
            ),
            "{text}"
        );
        assert!(text.contains("note: Reply-To x@evil.example"), "{text}");
    }

    #[test]
    fn state_directory_is_created_0700() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("var/tend");
        drop(Store::open(&state, 0).unwrap());
        for d in [&state, &dir.path().join("var")] {
            let mode = std::fs::metadata(d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", d.display());
        }
    }

    #[test]
    fn explain_escapes_control_characters_from_mail() {
        let mb = mailbox();
        let mut m = email(
            "p@x",
            Addr {
                name: None,
                email: "x\u{1b}]0;pwned\u{7}@evil.example".into(),
            },
            "hi",
            1_717_200_000,
        );
        m.subject = "Offer\u{1b}[2J".into();
        m.automated = Some("List-Id: \u{1b}]8;;http://evil\u{1b}\\".into());
        let line = message_line(&mb, &m);
        assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
        assert!(line.contains("\\u{1b}]8;;http://evil"), "{line}");
        let review = Review {
            thread: Thread {
                id: "p@x".into(),
                messages: vec![m],
            },
            verdict: Verdict::Quiet {
                reason: "automated (List-Id: \u{1b}[31m)".into(),
            },
            draft: None,
            failure: None,
        };
        let text = review_text(&mb, &review, Utc::now());
        assert!(
            !text.trim_end().chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
    }
}
