//! The refresh token on disk: `<state_dir>/oauth2/NAME.json`, the folder mode 700 and the file
//! mode 600, written whole to a temporary file and renamed over the old one, so a crash or a
//! full disk never leaves half a token (a provider that rotates refresh tokens has already
//! invalidated the old one: losing the new one means a new consent).
//!
//! It does not talk to the provider and does not cache the access token (that lives only in
//! memory, in `oauth2`).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// What the file holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Stored {
    pub refresh_token: String,
    /// The scopes granted, as the provider said (for `tend check`; informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// When it was written, Unix seconds.
    #[serde(default)]
    pub saved_at: i64,
}

/// Reads the stored refresh token; `Ok(None)` when there is no file yet.
pub fn load(file: &Path) -> Result<Option<Stored>> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let stored: Stored = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a tend token file", file.display()))?;
    Ok(Some(stored))
}

/// Writes `stored` to `file` atomically, mode 600, its folder mode 700.
pub fn save(file: &Path, stored: &Stored) -> Result<()> {
    let dir = file
        .parent()
        .with_context(|| format!("{} has no folder", file.display()))?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    // A folder made by an older tend or by hand: the tokens in it are as good as passwords.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("chmod 700 {}", dir.display()))?;
    let tmp = file.with_extension("json.tmp");
    let json = serde_json::to_vec_pretty(stored).context("encoding the token file")?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(&json)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    drop(f);
    std::fs::rename(&tmp, file)
        .with_context(|| format!("renaming {} to {}", tmp.display(), file.display()))?;
    // The rename itself must survive a crash.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_token_is_private_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state/oauth2/alice.json");
        assert!(load(&file).unwrap().is_none());
        let stored = Stored {
            refresh_token: "r1".into(),
            scope: None,
            saved_at: 5,
        };
        save(&file, &stored).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
        save(
            &file,
            &Stored {
                refresh_token: "r2".into(),
                ..stored
            },
        )
        .unwrap();
        assert_eq!(load(&file).unwrap().unwrap().refresh_token, "r2");
        assert!(!file.with_extension("json.tmp").exists());
    }
}
