//! The `tend` binary: arguments, logging, the runtime, the exit code. Everything else is in
//! the library, starting at `cli`.

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = tend::cli::Args::parse();
    tend::alloc::one_arena();
    // `tend init` talks with a person at a terminal: the model test's retry notes would drown
    // its questions, so only warnings, unless RUST_LOG asks for more.
    let quiet = matches!(args.command, tend::cli::Command::Init);
    init_logging(if quiet { "warn" } else { "info" });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(err) => {
            eprintln!("tend: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(tend::cli::main(args))
}

/// Logs to stderr, filtered by RUST_LOG (default `default`). Under systemd (JOURNAL_STREAM set)
/// the journal stamps each line, so ours carry no timestamp.
fn init_logging(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // async-imap traces every command it sends, LOGIN and its password included, and every
    // byte it receives, mail bodies included: never, whatever RUST_LOG says.
    let filter = filter.add_directive("async_imap=info".parse().expect("a valid directive"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // Colours only for a person at a terminal, never into a file or the journal.
    let builder = builder.with_ansi(std::io::stderr().is_terminal());
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().init();
    } else {
        builder.init();
    }
}
