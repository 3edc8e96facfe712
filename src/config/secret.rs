//! Where a secret lives and how it is read: a private file, a command or a systemd credential.
//! The config keeps only the location ([`Secret`]), chosen from a `*_file` / `*_command` /
//! `*_credential` key triple; [`Secret::reveal`] reads it when a connection needs it. A secret
//! file that group or others may read is refused. Adding a kind of secret touches only this file
//! and `raw`.
//!
//! It does not hold or log secret values, and does not decide which keys name a secret.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

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
                    format!("credential {name:?}: CREDENTIALS_DIRECTORY is not set (not started by systemd with LoadCredential=?)")
                })?;
                let path = Path::new(&dir).join(name);
                std::fs::read_to_string(&path)
                    .with_context(|| format!("reading credential {}", path.display()))?
            }
            Secret::Command(cmd) => {
                let out = std::process::Command::new("/bin/sh")
                    .arg("-c")
                    .arg(cmd)
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::inherit())
                    .output()
                    .with_context(|| format!("running password_command {cmd:?}"))?;
                anyhow::ensure!(
                    out.status.success(),
                    "password_command {cmd:?} failed with {}",
                    out.status
                );
                String::from_utf8(out.stdout).context("password_command printed non-UTF-8")?
            }
        };
        let secret = raw.strip_suffix('\n').unwrap_or(&raw);
        let secret = secret.strip_suffix('\r').unwrap_or(secret);
        anyhow::ensure!(!secret.is_empty(), "the secret is empty");
        Ok(secret.to_string())
    }
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
