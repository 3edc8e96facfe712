//! The `tend` binary run once against a config, its output echoed so that a failing test's log
//! shows what tend said. (`service` runs `tend run` as a process that stays.)

use std::path::Path;
use std::process::Output;

/// `tend --config CONFIG ARGS...` with `env` and `RUST_LOG=info`; `label` (a server's name, or
/// empty) starts the echo.
pub fn tend(config: &Path, args: &[&str], env: &[(&str, &str)], label: &str) -> Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(config)
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let label = if label.is_empty() {
        String::new()
    } else {
        format!("[{label}] ")
    };
    eprintln!(
        "{label}tend {args:?} -> {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
