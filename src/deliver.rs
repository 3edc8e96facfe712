//! Puts a draft into Drafts exactly once. Two guards, one local and one on the server: the
//! ledger in the store remembers every draft tend appended (so a draft the user deleted is not
//! written again), and before every APPEND a search of Drafts for the draft's deterministic
//! Message-ID catches what the ledger cannot know (a crash between APPEND and the ledger write,
//! a deleted state directory). It never composes, and never touches a message it did not make.

use crate::imap::Session;
use crate::store::{DraftRecord, DraftState, Store};
use anyhow::Result;

/// What [`deliver`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The draft is now in Drafts.
    Appended,
    /// Drafts already holds it (a rerun after a crash or a lost state directory); recorded.
    AlreadyThere,
    /// The ledger says it was written before; the user may have sent or deleted it since.
    Done,
}

/// Has this draft been dealt with before? Cheap, local: checked before paying for the model.
pub fn already_handled(store: &Store, draft_id: &str) -> Result<Option<DraftState>> {
    Ok(store.draft(draft_id)?.map(|r| r.state))
}

/// Looks for the draft on the server and records it when found. Also checked before paying
/// for the model, so a lost state directory does not cost a second model call.
pub async fn recover(
    session: &mut Session,
    drafts: &str,
    store: &Store,
    record: &DraftRecord,
    draft_id: &str,
) -> Result<bool> {
    if session.find_message_id(drafts, draft_id).await?.is_empty() {
        return Ok(false);
    }
    store.record_draft(draft_id, record)?;
    Ok(true)
}

/// Appends `raw` (whose Message-ID is `draft_id`) to `drafts` unless it is, or was, there.
pub async fn deliver(
    session: &mut Session,
    drafts: &str,
    store: &Store,
    record: &DraftRecord,
    draft_id: &str,
    raw: &[u8],
) -> Result<Delivery> {
    if already_handled(store, draft_id)?.is_some() {
        return Ok(Delivery::Done);
    }
    if recover(session, drafts, store, record, draft_id).await? {
        return Ok(Delivery::AlreadyThere);
    }
    // Everything the store learned this pass is on disk before the server changes.
    store.flush()?;
    session.append_draft(drafts, raw).await?;
    // Test hook: die the hardest way in the one window the server-side search exists for.
    if std::env::var_os("TEND_TEST_CRASH_AFTER_APPEND").is_some() {
        std::process::abort();
    }
    // A crash here leaves the draft unrecorded; the search above finds it on the next pass.
    store.record_draft(draft_id, record)?;
    Ok(Delivery::Appended)
}
