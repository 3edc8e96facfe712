//! Puts a draft into Drafts exactly once. Two guards, one local and one on the server: the
//! ledger in the store remembers every draft tend appended (so a draft the user deleted is not
//! written again), and before every APPEND a search of Drafts for the draft's deterministic
//! Message-ID catches what the ledger cannot know (a crash between APPEND and the ledger write,
//! a deleted state directory). After the APPEND it records where the server stored the draft
//! (UIDVALIDITY, UID, fingerprint of the bytes fetched back: a [`DraftCopy`]), which is all that
//! ever allows tend to remove it. It never composes, and never touches a message it did not make.

use crate::imap::Session;
use crate::store::{CopyStatus, DraftCopy, DraftRecord, DraftState, Store};
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

/// Has the draft for `trigger` in `mailbox` been dealt with before, under its id `draft_id` or
/// any id an older tend gave it? Cheap, local: checked before paying for the model.
pub fn already_handled(
    store: &Store,
    mailbox: &str,
    draft_id: &str,
    trigger: &str,
) -> Result<Option<DraftState>> {
    if let Some(r) = store.draft(draft_id)? {
        return Ok(Some(r.state));
    }
    Ok(store.draft_for_trigger(mailbox, trigger)?.map(|r| r.state))
}

/// Looks for the draft on the server under each of `ids` (its id first, then the legacy one)
/// and records it under the first when found. Also checked before paying for the model, so a
/// lost state directory does not cost a second model call.
pub async fn recover(
    session: &mut Session,
    drafts: &str,
    store: &Store,
    record: &DraftRecord,
    ids: &[String],
) -> Result<bool> {
    for id in ids {
        let found = session.find_message_id(drafts, id).await?;
        if !found.is_empty() {
            if let Some(first) = ids.first() {
                // Ours to remove later only if it is one UID carrying our marker whose body
                // digest matches its decoded body: Thunderbird keeps our Message-ID and headers
                // on an edited copy, which is the user's. Otherwise it stays recorded as
                // written and is never touched.
                let adopted = session.adopt_draft(drafts, &found).await?;
                if let Some((placed, bytes)) = adopted.filter(|(_, b)| body_is_ours(b)) {
                    if store.copy(&record.mailbox, first)?.is_none() {
                        store.record_copy(first, &copy(record, placed, words(&bytes)))?;
                    }
                }
                store.record_draft(first, record)?;
            }
            return Ok(true);
        }
    }
    Ok(false)
}

/// Does the message's decoded text body still hash to the digest our marker carries?
fn body_is_ours(raw: &[u8]) -> bool {
    use crate::draft::compose::{marker_vouches_for, MARKER_HEADER};
    let vouched = crate::parse::header_and_text(raw, MARKER_HEADER)
        .is_some_and(|(marker, text)| marker_vouches_for(&marker, &text));
    if !vouched {
        tracing::info!("a draft under our Message-ID was edited (its body is not what tend wrote): it is the user's, never removed");
    }
    vouched
}

/// Our words in a draft as the parser reads them, so they compare with a reply read the same way.
fn words(raw: &[u8]) -> String {
    crate::parse::parse(raw).map_or_else(|_| String::new(), |e| e.new_text)
}

fn copy(record: &DraftRecord, placed: crate::imap::Placed, body: String) -> DraftCopy {
    DraftCopy {
        mailbox: record.mailbox.clone(),
        thread_id: record.thread_id.clone(),
        trigger: record.trigger.clone(),
        placed,
        body,
        at: record.at,
        status: CopyStatus::InDrafts,
        fate: None,
    }
}

/// Appends `raw` (whose Message-ID is `ids[0]`) to `drafts` unless it is, or was, there under
/// any of `ids`.
pub async fn deliver(
    session: &mut Session,
    drafts: &str,
    store: &Store,
    record: &DraftRecord,
    ids: &[String],
    raw: &[u8],
) -> Result<Delivery> {
    let draft_id = ids.first().map(String::as_str).unwrap_or_default();
    if already_handled(store, &record.mailbox, draft_id, &record.trigger)?.is_some() {
        return Ok(Delivery::Done);
    }
    if recover(session, drafts, store, record, ids).await? {
        return Ok(Delivery::AlreadyThere);
    }
    // Everything the store learned this pass is on disk before the server changes.
    store.flush()?;
    let placed = session.append_draft(drafts, raw, draft_id).await?;
    // Test hook: die the hardest way in the one window the server-side search exists for. Only
    // in debug builds (the e2e tests run one): a release binary has no way to abort here.
    #[cfg(debug_assertions)]
    if std::env::var_os("TEND_TEST_CRASH_AFTER_APPEND").is_some() {
        std::process::abort();
    }
    // A crash here leaves the draft unrecorded; the search above finds it on the next pass.
    // The copy first: a ledger entry without one would make the draft unremovable.
    if let Some(placed) = placed {
        store.record_copy(draft_id, &copy(record, placed, words(raw)))?;
    }
    store.record_draft(draft_id, record)?;
    Ok(Delivery::Appended)
}
