//! Where a secret lives and how it is read: a private file, a command or a systemd credential.
//! The config keeps only the location ([`Secret`]), chosen from a `*_file` / `*_command` /
//! `*_credential` key triple; [`Secret::reveal`] reads it when a connection needs it. A secret
//! file that group or others may read is refused; a command runs with a timeout and a cap on
//! what it prints, off the async worker. Adding a kind of secret touches only this file and
//! `raw`.
//!
//! It does not hold or log secret values, and does not decide which keys name a secret.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where a secret lives. Never holds the secret itself, so `Debug` cannot leak it.
#[derive(Debug, Clone, PartialEq)]
pub enum Secret {
    File(PathBuf),
    Command(String),
    /// A systemd credential: `$CREDENTIALS_DIRECTORY/NAME`.
    Credential(String),
}

impl Secret {
    /// Reads the secret now. A trailing newline is not part of it.
    pub fn reveal(&self) -> Result<String> {
        let raw = match self {
            Secret::File(path) => read_private_file(path)?,
            Secret::Credential(name) => {
                let dir = std::env::var_os("CREDENTIALS_DIRECTORY").with_context(|| {
                    format!(
                        "credential {name:?}: CREDENTIALS_DIRECTORY is not set: only the service \
                         (LoadCredential=) or `tendctl` (README) hands credentials over; run by \
                         hand, name the secret as a file instead (password_file or api_key_file, \
                         mode 600)"
                    )
                })?;
                let path = Path::new(&dir).join(name);
                std::fs::read_to_string(&path)
                    .with_context(|| format!("reading credential {}", path.display()))?
            }
            Secret::Command(cmd) => off_the_runtime(|| run_command(cmd, COMMAND_TIMEOUT))?,
        };
        let secret = raw.strip_suffix('\n').unwrap_or(&raw);
        let secret = secret.strip_suffix('\r').unwrap_or(secret);
        anyhow::ensure!(!secret.is_empty(), "the secret is empty");
        Ok(secret.to_string())
    }
}

/// How long a `*_command` may take: a `pass` waiting for a gpg-agent prompt nobody answers
/// must give a clear error, not wedge the connection until the watchdog restarts tend.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Most bytes a `*_command` may print; a secret is a line.
const COMMAND_OUTPUT_CAP: u64 = 64 * 1024;

/// Runs blocking `f` so that it does not hold up the other tasks of a multi-threaded tokio
/// runtime (the callers are async; `block_in_place` hands this worker's tasks to another).
fn off_the_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Runs `cmd` with `/bin/sh -c`, stdin closed, stderr inherited; its stdout (capped) within
/// `timeout`, or an error naming the command. A command over time is killed.
fn run_command(cmd: &str, timeout: Duration) -> Result<String> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("running the command {cmd:?}"))?;
    let mut stdout = child.stdout.take().context("the command's stdout")?;
    // A reader thread, so a command that fills the pipe cannot block its own exit; a command
    // whose children keep the pipe open after a kill leaves only this thread waiting.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let r = stdout
            .by_ref()
            .take(COMMAND_OUTPUT_CAP + 1)
            .read_to_end(&mut buf)
            .map(|_| buf);
        let _ = tx.send(r);
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for the command")? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!(
                "the command {cmd:?} did not finish within {} s (waiting for a passphrase prompt?)",
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = rx
        .recv_timeout(deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(1))
        .map_err(|_| {
            anyhow::anyhow!("the command {cmd:?} exited, but its output did not end (a background child keeps it open)")
        })?
        .with_context(|| format!("reading the output of {cmd:?}"))?;
    anyhow::ensure!(
        out.len() as u64 <= COMMAND_OUTPUT_CAP,
        "the command {cmd:?} printed more than {} KiB; a secret is one line",
        COMMAND_OUTPUT_CAP / 1024
    );
    // After the size check: a command cut off at the cap dies of SIGPIPE.
    anyhow::ensure!(status.success(), "the command {cmd:?} failed with {status}");
    String::from_utf8(out).with_context(|| format!("the command {cmd:?} printed non-UTF-8"))
}

/// Reads a secret file, refusing one that group or others may read.
fn read_private_file(path: &Path) -> Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    let mode = meta.permissions().mode();
    anyhow::ensure!(
        mode & 0o077 == 0,
        "{} is readable by group or others (mode {:o}); run: chmod 600 {}",
        path.display(),
        mode & 0o777,
        path.display()
    );
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Exactly one of `*_file`, `*_command`, `*_credential` (or none where that is allowed).
pub(super) fn one_secret(
    key: &str,
    file: Option<PathBuf>,
    command: Option<String>,
    credential: Option<String>,
    required: bool,
) -> Result<Option<Secret>, String> {
    let stem = key.trim_end_matches("_file");
    let given = [file.is_some(), command.is_some(), credential.is_some()];
    match given.iter().filter(|g| **g).count() {
        0 if required => Err(format!(
            "key `{key}`: missing; give one of `{stem}_file`, `{stem}_command` or `{stem}_credential`"
        )),
        0 => Ok(None),
        // A missing or too-open secret file is a configuration error, found at start-up
        // rather than at the first login. A command is run only when the secret is needed.
        1 if file.is_some() => {
            let path = file.expect("checked above");
            read_private_file(&path).map_err(|e| format!("key `{key}`: {e:#}"))?;
            Ok(Some(Secret::File(path)))
        }
        // Under systemd, credentials are loaded when the service starts: one a reload names
        // but the service never got is a configuration error now, not a login failure later.
        1 if credential.is_some() => {
            let name = credential.expect("checked above");
            if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
                if !Path::new(&dir).join(&name).is_file() {
                    return Err(format!(
                        "key `{stem}_credential`: systemd gave this service no credential {name:?}; \
                         credentials are loaded at start: add the file and restart the service"
                    ));
                }
            }
            Ok(Some(Secret::Credential(name)))
        }
        1 => Ok(file
            .map(Secret::File)
            .or(command.map(Secret::Command))),
        _ => Err(format!(
            "key `{key}`: give only one of `{stem}_file`, `{stem}_command` and `{stem}_credential`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_command_prints_the_secret() {
        let s = Secret::Command("printf 'pw\\n'".into()).reveal().unwrap();
        assert_eq!(s, "pw");
        let err = run_command("exit 3", COMMAND_TIMEOUT).unwrap_err();
        assert!(format!("{err:#}").contains("failed"), "{err:#}");
    }

    #[test]
    fn password_command_that_hangs_gives_a_clear_error() {
        let started = Instant::now();
        let err = run_command("exec sleep 60", Duration::from_secs(1)).unwrap_err();
        assert!(
            format!("{err:#}").contains("did not finish within 1 s"),
            "{err:#}"
        );
        // Generous: the point is "not 60 s".
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn password_command_output_is_capped() {
        let err =
            run_command("head -c 100000 /dev/zero | tr '\\0' x", COMMAND_TIMEOUT).unwrap_err();
        assert!(format!("{err:#}").contains("more than 64 KiB"), "{err:#}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn password_command_runs_off_the_async_worker() {
        let s = Secret::Command("echo key".into()).reveal().unwrap();
        assert_eq!(s, "key");
    }
}
