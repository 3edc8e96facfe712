//! The store is opened only by the user who owns the state directory: `sudo tend status` (or
//! any command run by hand as root) used to create root-owned files in the service's store,
//! which the service's own user then could not write. Read-only commands that have a
//! snapshot of their own (`status`, `report`) show it instead; the others refuse and say as
//! whom to run.
//!
//! It does not open anything itself beyond `Store::open`; sled cannot open a store read-only.

use crate::config::Config;
use crate::store::Store;
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The state directory belongs to another user than the one running this command.
#[derive(Debug, thiserror::Error)]
#[error(
    "the state directory {} belongs to uid {owner} (the service's user), and this command runs \
     as uid {me}: tend opens its store only as its owner, since files another user (root, with \
     sudo) writes there stop the service from writing its own store; run the command as that \
     user (`tendctl ...`, see the README), or stop at `tend status`, which shows what the \
     service wrote",
    dir.display()
)]
pub(super) struct ForeignStore {
    dir: PathBuf,
    owner: u32,
    me: u32,
}

/// Is `err` a refusal to open another user's store?
pub(super) fn is_foreign(err: &anyhow::Error) -> bool {
    err.downcast_ref::<ForeignStore>().is_some()
}

/// Opens the store of `config` when this process's user owns its directory (or it does not
/// exist yet, and will be ours).
pub(super) fn open_store(config: &Config, now: DateTime<Utc>) -> Result<Store> {
    check(&config.state_dir)?;
    Store::open(&config.state_dir, now.timestamp()).map_err(|err| {
        if crate::store::is_locked(&err) {
            // The sled error stays underneath: `status` and `report` branch on it.
            err.context(
                "a running `tend run` holds the store; this command needs it: stop the service \
                 first (`sudo systemctl stop tend`), or see `tend status` and `tend report`, \
                 which show what it wrote",
            )
        } else {
            err
        }
    })
}

/// Refuses a state directory another user owns (`tend init` asks before the OAuth2 consent).
pub(super) fn check(dir: &Path) -> Result<()> {
    let Ok(meta) = std::fs::metadata(dir) else {
        return Ok(());
    };
    let me = effective_uid()?;
    let owner = meta.uid();
    if owner != me {
        return Err(ForeignStore {
            dir: dir.to_path_buf(),
            owner,
            me,
        }
        .into());
    }
    Ok(())
}

/// This process's effective uid: Linux makes a process's /proc directory its own.
fn effective_uid() -> Result<u32> {
    use anyhow::Context;
    Ok(std::fs::metadata("/proc/self")
        .context("reading /proc/self for this process's user")?
        .uid())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_effective_uid_owns_what_this_process_creates() {
        let dir = tempfile::tempdir().unwrap();
        assert!(super::check(dir.path()).is_ok());
        assert!(super::check(&dir.path().join("not yet")).is_ok());
    }

    #[test]
    fn another_users_state_directory_is_refused() {
        // The root directory is root's; the tests run as another user or as root.
        let me = super::effective_uid().unwrap();
        let err = super::check(std::path::Path::new("/"));
        if me == 0 {
            assert!(err.is_ok());
            let other = tempfile::tempdir().unwrap();
            std::os::unix::fs::chown(other.path(), Some(65534), None).unwrap();
            let err = super::check(other.path()).unwrap_err();
            assert!(super::is_foreign(&err), "{err}");
            assert!(err.to_string().contains("belongs to uid 65534"), "{err}");
        } else {
            assert!(super::is_foreign(&err.unwrap_err()));
        }
    }
}
