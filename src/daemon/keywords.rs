//! After a sync, the look at the stage keywords: which messages in INBOX and Sent the user
//! tagged with a stage's IMAP keyword in their mail client, each folder's list replacing the
//! last one in the store (a removed tag drops out). A failed look keeps the last list and the
//! pass goes on: a stage tag is no reason to hold back a draft.
//!
//! It does not decide what a tag means for a deal (`store::corrections` resolves the user's word,
//! the record merges it).

use crate::config::{MailboxConfig, Pipeline};
use crate::imap::{FolderNames, Session};
use crate::store::Store;
use anyhow::{Context, Result};

/// Looks at INBOX and Sent; logs a warning, and keeps what the store had, on failure.
pub async fn look(
    mb: &MailboxConfig,
    pipeline: &Pipeline,
    store: &Store,
    session: &mut Session,
    folders: &FolderNames,
) {
    if let Err(err) = look_checked(mb, pipeline, store, session, folders).await {
        tracing::warn!("the stage keywords could not be read; keeping the last look: {err:#}");
    }
}

async fn look_checked(
    mb: &MailboxConfig,
    pipeline: &Pipeline,
    store: &Store,
    session: &mut Session,
    folders: &FolderNames,
) -> Result<()> {
    let keywords: Vec<&str> = pipeline.stages.iter().map(|s| s.keyword.as_str()).collect();
    for folder in std::iter::once(&folders.inbox).chain(folders.sent.as_ref()) {
        let found = session
            .keyworded(folder, &keywords)
            .await
            .with_context(|| format!("looking for stage keywords in {folder:?}"))?;
        let tagged: Vec<(String, String)> = found
            .into_iter()
            .filter_map(|k| {
                let stage = pipeline.by_keyword(&k.keyword)?;
                Some((k.message_id, stage.name.clone()))
            })
            .collect();
        if !tagged.is_empty() {
            tracing::debug!(folder, tagged = tagged.len(), "stage keywords");
        }
        store.set_keyworded(&mb.name, folder, &tagged)?;
    }
    Ok(())
}
