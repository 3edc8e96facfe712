//! The `tend` binary: arguments, logging, the runtime, the exit code. Everything else is in
//! the library, starting at `cli`.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = tend::cli::Args::parse();
    init_logging();
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

/// Logs to stderr, filtered by RUST_LOG (default `info`). Under systemd (JOURNAL_STREAM set)
/// the journal stamps each line, so ours carry no timestamp.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().with_ansi(false).init();
    } else {
        builder.init();
    }
}
