//! Drafts, read: the threading headers of every draft there (headers only, read-only), each
//! filed under the stored thread it answers, whoever wrote it, and marked ours when it is our
//! unmodified draft. The result is the store's [`DraftsView`], from which `attend` learns which
//! threads hold a draft of the user's and `status` says so. It never changes Drafts; removing
//! our drafts is `lifecycle`.

use crate::config::MailboxConfig;
use crate::imap::Session;
use crate::parse;
use crate::store::{CopyStatus, DraftsView, SeenDraft, Store};
use anyhow::Result;
use std::collections::{BTreeSet, HashMap};

/// Reads the threading headers of every draft in `folder` and records which stored thread each
/// belongs to, and whether it is ours unmodified (a recorded UID under the same UIDVALIDITY:
/// IMAP messages never change, so the fingerprint is checked only when removing). A draft of ours
/// whose UID is gone was sent or deleted by the user.
pub(super) async fn look(
    mb: &MailboxConfig,
    store: &Store,
    session: &mut Session,
    folder: &str,
    now: i64,
) -> Result<()> {
    let listing = session.draft_headers(folder).await?;
    let present: BTreeSet<u32> = listing.drafts.iter().map(|d| d.uid).collect();
    let mut ours = HashMap::new();
    for (id, mut copy) in store.copies(&mb.name)? {
        if !copy.status.in_drafts()
            || copy.placed.folder() != folder
            || copy.placed.uidvalidity() != listing.uidvalidity
        {
            continue;
        }
        if present.contains(&copy.placed.uid()) {
            ours.insert(copy.placed.uid(), id);
        } else {
            tracing::info!(draft = %id, "our draft left Drafts by the user's hand");
            copy.status = CopyStatus::GoneByUser { at: now };
            store.record_copy(&id, &copy)?;
        }
    }
    let mut view = DraftsView {
        uidvalidity: listing.uidvalidity,
        ..DraftsView::default()
    };
    for draft in &listing.drafts {
        let Ok(email) = parse::parse(&draft.raw) else {
            continue;
        };
        let mut parents = email
            .in_reply_to
            .iter()
            .chain(email.references.iter().rev());
        let thread = parents.find_map(|id| store.thread_of(id).ok().flatten());
        if let Some(thread) = thread {
            view.threads.entry(thread).or_default().push(SeenDraft {
                uid: draft.uid,
                ours: ours.get(&draft.uid).cloned(),
            });
        }
    }
    store.set_drafts_view(&mb.name, &view)
}
