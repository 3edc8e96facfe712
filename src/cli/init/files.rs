//! What `tend init` puts on disk and with which mode: a secret as `credentials/FILE` (mode 600,
//! the folder 700, as the unit's LoadCredential= wants them), a new config file (mode 644,
//! never over an existing one), and the credential-to-file swap that lets init's own check,
//! run by hand, read the secrets the service will get as credentials.
//!
//! It does not decide what goes into a file (`render`) nor ask anything (`ask`).

use crate::config::{Auth, Config, MailboxConfig, OAuth2, Secret, TokenSource};
use anyhow::{Context, Result};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Stores `value` as `credentials/file`, mode 600, creating the folder with mode 700; an
/// existing file of that name is replaced (its mailbox file does not exist, or it is the
/// model's key being set anew).
pub(super) fn store_secret(credentials: &Path, file: &str, value: &str) -> Result<PathBuf> {
    if !credentials.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(credentials)
            .with_context(|| format!("creating {}", credentials.display()))?;
        // Whatever the umask let through: the secrets' folder is the owner's alone.
        std::fs::set_permissions(credentials, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("setting mode 700 on {}", credentials.display()))?;
    }
    let path = credentials.join(file);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    // A file that existed keeps its old mode through open(): set it.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("setting mode 600 on {}", path.display()))?;
    f.write_all(format!("{value}\n").as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Writes `text` as a new file, mode 644 (config holds no secret, and the service's user,
/// who is not its owner, must read it); an existing file is an error, not overwritten.
pub(super) fn write_new(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("setting mode 644 on {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Replaces the file at `path` by `text` in one rename, mode 644 (only the package's unchanged
/// example tend.toml is ever replaced).
pub(super) fn replace(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("toml.tend-init");
    let _ = std::fs::remove_file(&tmp);
    write_new(&tmp, text)?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// The credential `tend_FILE` read straight from `credentials/FILE`, where the unit's
/// LoadCredential= would take it from: init runs by hand, outside the service, and checks
/// with the secrets it just stored. Other secrets stay as they are.
fn by_hand(secret: &mut Secret, credentials: &Path) {
    if let Secret::Credential(name) = secret {
        if let Some(file) = name.strip_prefix("tend_") {
            let path = credentials.join(file);
            if path.is_file() {
                *secret = Secret::File(path);
            }
        }
    }
}

/// `config` with only mailbox `name`, every `tend_*` credential of it and of the model read
/// from the credentials folder; `None` if the mailbox did not load.
pub(super) fn for_check(config: &Config, name: &str, credentials: &Path) -> Option<Config> {
    let mut mb: MailboxConfig = config.mailboxes.iter().find(|m| m.name == name)?.clone();
    match &mut mb.imap.auth {
        Auth::Password(secret) => by_hand(secret, credentials),
        Auth::OAuth2(OAuth2 {
            source: TokenSource::Refresh(client),
            ..
        }) => {
            if let Some(secret) = &mut client.client_secret {
                by_hand(secret, credentials);
            }
        }
        Auth::OAuth2(_) => {}
    }
    let mut config = config.clone();
    if let Some(key) = &mut config.llm.api_key {
        by_hand(key, credentials);
    }
    config.mailboxes = vec![mb];
    Some(config)
}

/// A model config (not yet written) whose key is read from the credentials folder.
pub(super) fn llm_by_hand(llm: &mut crate::config::LlmConfig, credentials: &Path) {
    if let Some(key) = &mut llm.api_key {
        by_hand(key, credentials);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_secret_is_the_owners_alone_and_a_config_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        let path = store_secret(&creds, "bob", "pw").unwrap();
        assert_eq!(std::fs::metadata(&creds).unwrap().mode() & 0o777, 0o700);
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        store_secret(&creds, "bob", "pw2").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "pw2\n");

        let mut s = Secret::Credential("tend_bob".into());
        by_hand(&mut s, &creds);
        assert_eq!(s.reveal().unwrap(), "pw2");
        let mut other = Secret::Credential("tend_carol".into());
        by_hand(&mut other, &creds);
        assert_eq!(other, Secret::Credential("tend_carol".into()));

        let file = dir.path().join("mailboxes/bob.toml");
        write_new(&file, "a = 1\n").unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o644);
        assert!(write_new(&file, "b = 2\n").is_err());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "a = 1\n");
    }
}
