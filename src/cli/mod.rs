//! The commands: parse the arguments, load the config, open the store, call the daemon, and
//! print what a person needs to see. Output formatting lives here (show.rs: what `status`,
//! `explain` and a pass print), decisions do not. `init` (init/) runs before any config is
//! loaded: it writes the first one.

use crate::config::{self, Config, MailboxConfig};
use crate::daemon::health::Health;
use crate::daemon::{self, Action, Review};
use crate::detect::{self, Kind, Verdict};
use crate::draft;
use crate::llm::Client;
use crate::store::{self, DraftState, Store};
use anyhow::{Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// `println!` and `print!` for every command (and the modules below): through `pipe`, so a
/// closed pipe ends the output quietly instead of panicking. Must stay above the `mod` lines.
macro_rules! println {
    () => {
        $crate::cli::pipe::print(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::cli::pipe::print(format_args!($($arg)*), true)
    };
}

macro_rules! print {
    ($($arg:tt)*) => {
        $crate::cli::pipe::print(format_args!($($arg)*), false)
    };
}

mod auth;
mod checkup;
mod deal;
mod init;
mod owner;
mod party;
mod pipe;
mod report;
mod resolve;
mod show;
mod stage;
mod voice;
#[cfg(test)]
mod tests;

use show::*;

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
    /// The first run, in a terminal: asks for the address, the server and password (or the
    /// OAuth2 consent) and the model, writes a commented mailbox file (and tend.toml when there
    /// is none), checks them and prints the systemd steps. Again: adds another mailbox.
    Init,
    /// Check the configuration, the secrets, the login, the folders and the model.
    Check,
    /// The one-time OAuth2 consent for mailbox NAME (`auth = "oauth2"`): a code to enter
    /// (device flow) or an address to open in a browser; stores the refresh token.
    Auth {
        /// The mailbox (its file name without .toml).
        name: String,
    },
    /// Fetch and store new mail only (no model calls): the first import of a large mailbox.
    Sync {
        /// Only this mailbox (its file name without .toml).
        #[arg(long)]
        mailbox: Option<String>,
    },
    /// One full pass: sync, find what needs attention, write drafts into Drafts.
    Once {
        /// Print the drafts instead of saving them (and make no stage-only model calls: a dry
        /// run writes nothing).
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
    /// What tend learned from your own sent mail: signature, greeting and closing habits per
    /// language, and the style examples a draft shows the model (masked).
    Voice {
        /// The mailbox (its file name without .toml); all when omitted.
        #[arg(conflicts_with = "mailbox")]
        name: Option<String>,
        #[arg(long)]
        mailbox: Option<String>,
    },
    /// Why a thread was or was not flagged: every check the rules made, the parts of the prompt
    /// a draft would send, what became of the draft (name the thread by any Message-ID of it,
    /// a draft's Message-ID as `once` prints it, its number in `tend status`, or words of its
    /// subject); or, given an address or a company's domain, the timeline of everything
    /// between us across threads and mailboxes, their deals with each stage change and the
    /// sentence behind it.
    Explain {
        /// A Message-ID (a message's or a draft's), a number from `tend status`, words of a
        /// subject, a contact's address, or a company's domain (`acme.example`).
        message_id: String,
        #[arg(long)]
        mailbox: Option<String>,
        /// Print the exact prompt (system and user messages) a draft for this thread would send
        /// the model now, built as a real draft builds it; nothing is sent.
        #[arg(long)]
        prompt: bool,
    },
    /// Correct a deal's stage: the thread of MESSAGE_ID (any message of it) is in STAGE from now
    /// on, whatever tend inferred; `--clear` withdraws the thread's corrections. Kept apart from
    /// the store (a rebuild keeps it), and works while `tend run` is running.
    Stage {
        /// Any message of the thread, with or without <>.
        message_id: String,
        /// A stage of `[pipeline]` (case-insensitive).
        #[arg(required_unless_present = "clear")]
        stage: Option<String>,
        /// Why (shown with the stage history).
        #[arg(long, conflicts_with = "clear")]
        note: Option<String>,
        /// Withdraw the thread's corrections (tags set in the mail client still count).
        #[arg(long, conflicts_with = "stage")]
        clear: bool,
    },
    /// Correct which threads make one deal: the thread of MESSAGE_ID continues the deal of the
    /// thread of `--join` OTHER, or (`--split`) stands alone, whatever the model judged. Kept
    /// apart from the store (a rebuild keeps it), and works while `tend run` is running.
    Deal {
        /// Any message of the thread, with or without <>.
        message_id: String,
        /// Any message of the deal it continues.
        #[arg(
            long,
            value_name = "OTHER_MESSAGE_ID",
            required_unless_present = "split"
        )]
        join: Option<String>,
        /// The thread is a deal of its own.
        #[arg(long, conflicts_with = "join")]
        split: bool,
        /// Why (shown with the deal).
        #[arg(long)]
        note: Option<String>,
    },
    /// The numbers: how quickly we answer buyers and they us, time in each stage and the
    /// conversion between stages, where deals stall, open needs-reply threads, silent deals,
    /// drafts and what became of them; per mailbox, per company and overall.
    Report {
        /// The window's start: a span back from its end (90d, 12w, 36h) or a date (2026-09-01).
        #[arg(long, default_value = "90d")]
        since: String,
        /// The window's end (default: now): a span back from now, or a date.
        #[arg(long)]
        until: Option<String>,
        /// Print the report as JSON (keys documented in the README).
        #[arg(long)]
        json: bool,
        /// Write a self-contained HTML page with charts to this file.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
}

/// Runs the command; a configuration problem exits with 78 (EX_CONFIG, which systemd's
/// RestartPreventExitStatus can name), any other failure with 1.
pub async fn main(args: Args) -> ExitCode {
    // Before any config is loaded: there may be none yet.
    if let Command::Init = args.command {
        return match init::run(&args.config).await {
            Ok(code) => code,
            Err(err) => {
                eprintln!("tend: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match config::load(&args.config) {
        Ok(c) => c,
        Err(err) => {
            eprintln!("tend: configuration error: {err}");
            return ExitCode::from(78);
        }
    };
    match dispatch(&config, args.command).await {
        Ok(_) if pipe::failed() => ExitCode::FAILURE,
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
        // Dispatched in `main`, before the config is loaded.
        Command::Init => anyhow::bail!("tend init runs before the config is loaded"),
        Command::Check => checkup::run(config).await,
        Command::Auth { name } => auth::run(config, &name).await,
        Command::Sync { mailbox } => {
            let store = owner::open_store(config, now)?;
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
            let store = owner::open_store(config, now)?;
            let model = Client::new(&config.llm)?;
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
                let pass = daemon::pass(mb, &config.pipeline, &store, &model, dry_run, &shutdown);
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
            let store = owner::open_store(config, now)?;
            let model = Client::new(&config.llm)?;
            daemon::run(config.clone(), store, model, Box::new(snapshot_writer())).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { mailbox } => {
            let chosen = select(config, mailbox.as_deref())?;
            match owner::open_store(config, now) {
                Ok(store) => print!("{}", status_text(&chosen, &store, now)?),
                // `tend run` holds the store, or it is the service's (`sudo tend status`):
                // show the snapshot it keeps.
                Err(err) if store::is_locked(&err) || owner::is_foreign(&err) => {
                    let whose = if owner::is_foreign(&err) {
                        "the store is the service's"
                    } else {
                        "tend run is active"
                    };
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
                    println!("({whose}; this is the status it wrote{age})");
                    print!("{text}");
                }
                Err(err) => return Err(err),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Voice { name, mailbox } => {
            let store = owner::open_store(config, now)?;
            for mb in select(config, name.or(mailbox).as_deref())? {
                store.refresh_voice(&mb.name, &mb.identity)?;
                let learned = store.voice(&mb.name)?.unwrap_or_default();
                print!("{}", voice::voice_text(mb, &learned));
            }
            store.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Stage {
            message_id,
            stage,
            note,
            clear: _,
        } => stage::run(config, &message_id, stage.as_deref(), note.as_deref(), now),
        Command::Deal {
            message_id,
            join,
            split: _,
            note,
        } => deal::run(config, &message_id, join.as_deref(), note.as_deref(), now),
        Command::Report {
            since,
            until,
            json,
            html,
        } => {
            let asked = report::Asked {
                since: &since,
                until: until.as_deref(),
                json,
                html: html.as_deref(),
            };
            report::run(config, asked, now)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain {
            message_id,
            mailbox,
            prompt,
        } => {
            let store = owner::open_store(config, now)?;
            let id = message_id
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>');
            let chosen = select(config, mailbox.as_deref())?;
            let thread_id = match resolve::resolve(&chosen, &store, id, now)? {
                resolve::Target::Thread(t) => t,
                resolve::Target::Ambiguous(candidates) => {
                    eprintln!(
                        "tend: the subjects of {} threads hold {id:?}; name one by its number in \
                         `tend status`, its whole subject or a Message-ID:",
                        candidates.len()
                    );
                    for (subject, thread) in &candidates {
                        eprintln!("  {:?} <{}>", shown(subject), shown(thread));
                    }
                    return Ok(ExitCode::FAILURE);
                }
                // Not a thread: a person or a company, if the record knows them.
                resolve::Target::Nothing => return party::run(config, &store, id, now),
            };
            let thread = store
                .thread(&thread_id)?
                .context("the thread has no stored messages")?;
            let mut failed = false;
            for mb in select(config, mailbox.as_deref())? {
                let review = daemon::judge(mb, &store, thread.clone(), now)?;
                if prompt {
                    match &review.verdict {
                        Verdict::Attention(f) => {
                            let grounding = grounding(config, &store, mb, &review.thread, f)?;
                            print!(
                                "{}",
                                prompt_text(&draft::request(&review.thread, f, mb, &grounding))
                            )
                        }
                        Verdict::Quiet { reason } => {
                            failed = true;
                            eprintln!(
                                "{}: no draft would be asked for: {}",
                                mb.name,
                                shown(reason)
                            );
                        }
                    }
                    continue;
                }
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
                print!("{}", deal::explain_text(config, &store, &thread_id)?);
                let contact = |a: &str| daemon::contact(mb, &store, a);
                let (_, checks) = detect::assess_traced(
                    &thread,
                    &mb.identity,
                    &mb.rules,
                    mb.timezone,
                    &contact,
                    now,
                );
                print!("{}", checks_text(&checks));
                if let Verdict::Attention(f) = &review.verdict {
                    let grounding = grounding(config, &store, mb, &review.thread, f)?;
                    let sources = draft::prompt::parts(&review.thread, f, mb, &grounding);
                    let sent = draft::request(&review.thread, f, mb, &grounding);
                    print!("{}", prompt_parts_text(&sources, &sent));
                    let used = store.draft_usage(&daemon::draft_id(mb, f))?;
                    if used.calls > 0 {
                        println!(
                            "    the model so far: {} answer(s), {} tokens ({} in, {} out)",
                            used.calls,
                            used.input_tokens + used.output_tokens,
                            used.input_tokens,
                            used.output_tokens
                        );
                    }
                }
            }
            Ok(exit(failed))
        }
    }
}

/// What a draft for `finding` would be grounded in now: the related threads and the voice, as
/// the daemon gathers them, so `explain` shows the prompt a draft would really send.
fn grounding(
    config: &Config,
    store: &Store,
    mb: &MailboxConfig,
    thread: &crate::thread::Thread,
    finding: &crate::detect::Finding,
) -> Result<draft::prompt::Grounding> {
    // A pass relearns the voice after its sync; `explain` must see the voice that pass would.
    store.refresh_voice(&mb.name, &mb.identity)?;
    let voice = store.voice(&mb.name)?.unwrap_or_default();
    let pipeline = std::sync::Arc::new(config.pipeline.clone());
    let memo = crate::store::Decoded::default();
    draft::memory::grounding(store, mb, thread, finding, voice.into(), pipeline, &memo)
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
