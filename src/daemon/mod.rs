//! The only module that knows the order of the stages: sync (imap -> parse -> store), review
//! (store -> detect), attend (draft -> deliver), the sales stages where no draft was asked
//! for (`stages`), and the loop of `tend run`. Every other module
//! does one stage and returns; this one decides what happens next, and when a failure in one
//! thread or mailbox must not stop the others. This file owns the types a pass reports and the
//! order itself (`open`, `pass`, `run`); fetching and storing a folder is in `sync`, judging
//! threads and drafting for them in `attend`.

mod attend;
mod drafts;
pub mod health;
mod joins;
mod keywords;
pub mod lifecycle;
pub mod record;
mod mailbox;
mod review;
mod service;
mod stages;
mod sync;

pub use attend::{attend, draft_id};
pub use review::{contact, judge, review, since as window_start};
pub use service::run;
pub use stages::StageReport;
pub use sync::sync;

use crate::config::{MailboxConfig, Pipeline};
use crate::deliver::Delivery;
use crate::detect::Verdict;
use crate::draft;
use crate::imap::{self, FolderNames, Session};
use crate::llm::LanguageModel;
use crate::store::{DraftState, FailureRecord, Store};
use crate::thread::Thread;
use anyhow::{Context, Result};
use chrono::Utc;
use tokio_util::sync::CancellationToken;

/// What one sync did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SyncReport {
    pub fetched: usize,
    pub new: usize,
    pub unparseable: usize,
    /// Messages the server would not give (each logged with its UID and the server's words);
    /// the cursor stays below the first, so the next pass asks again.
    pub unfetched: usize,
    /// Folders left below such a message, with the UIDNEXT they had: see `sync::behind`.
    pub held: std::collections::BTreeMap<String, u32>,
}

impl std::fmt::Display for SyncReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} fetched, {} new, {} unparseable",
            self.fetched, self.new, self.unparseable
        )?;
        if self.unfetched > 0 {
            write!(
                f,
                ", {} could not be fetched (asked again next pass)",
                self.unfetched
            )?;
        }
        Ok(())
    }
}

/// One thread as `status` and `explain` show it.
#[derive(Debug, Clone)]
pub struct Review {
    pub thread: Thread,
    pub verdict: Verdict,
    /// What happened to the draft for this finding, if anything yet.
    pub draft: Option<DraftState>,
    /// Why its draft failed so far, if it did (count, last error, next try).
    pub failure: Option<FailureRecord>,
    /// Our drafts in this thread and what became of them, or why none is written beside the
    /// user's own draft (see `lifecycle::describe_thread`).
    pub lifecycle: Vec<String>,
    /// The thread holds a draft that is not ours unmodified: no draft of ours beside it.
    pub hands_off: bool,
}

/// What a pass did about one finding.
#[derive(Debug)]
pub enum Action {
    /// A draft written to Drafts (or, in a dry run, only composed).
    Drafted {
        draft: Box<draft::Draft>,
        delivery: Option<Delivery>,
    },
    /// The model judged no answer is needed.
    Vetoed { thread_id: String, reason: String },
    /// Someone answered while the model was drafting; nothing was written.
    Superseded { thread_id: String },
    /// Drafts already held it: nothing new to do.
    AlreadyThere { thread_id: String },
    /// The thread holds a draft that is not ours unmodified (the user's own, or ours edited):
    /// it is theirs, so no draft of ours is written beside it.
    HandsOff { thread_id: String },
    /// Past `[rules] max_drafts_per_day`: this finding waits for tomorrow.
    Waiting { thread_id: String },
    /// A draft of ours left Drafts (replaced, or the thread was answered by hand).
    Removed {
        thread_id: String,
        removal: imap::Removal,
    },
    /// This finding's draft failed (the model rejected or timed out on this thread, answered it
    /// unusably; no recipient); recorded with its backoff, the other findings went on.
    Failed {
        thread_id: String,
        failure: FailureRecord,
    },
    /// The model server is down, rate limiting or refusing us: the pass stopped here, and the
    /// mailbox asks again soon (never before `retry_after`, the server's Retry-After).
    ModelDown {
        thread_id: String,
        error: String,
        retry_after: Option<std::time::Duration>,
    },
}

/// Connects, finds the folders, and says which ones it uses.
pub async fn open(mb: &MailboxConfig) -> Result<(Session, FolderNames)> {
    let mut session = Session::connect(&mb.imap)
        .await
        .with_context(|| format!("connecting to {}", imap::describe(&mb.imap)))?;
    let folders = session.folders(&mb.folders).await?;
    Ok((session, folders))
}

/// One full pass over one mailbox on a new connection: sync, review, draft, deliver, stages.
pub async fn pass<M: LanguageModel>(
    mb: &MailboxConfig,
    pipeline: &Pipeline,
    store: &Store,
    model: &M,
    dry_run: bool,
    shutdown: &CancellationToken,
) -> Result<(SyncReport, Vec<Action>)> {
    let (mut session, folders) = open(mb).await?;
    let result = work(
        mb,
        pipeline,
        store,
        model,
        &mut session,
        &folders,
        dry_run,
        shutdown,
    )
    .await;
    session.logout().await;
    result
}

/// One pass on an open session: sync, the stage keywords, then draft for what needs it, then a
/// stage-only call where new buyer mail got no draft (not in a dry run, see `stages`).
#[allow(clippy::too_many_arguments)]
pub async fn work<M: LanguageModel>(
    mb: &MailboxConfig,
    pipeline: &Pipeline,
    store: &Store,
    model: &M,
    session: &mut Session,
    folders: &FolderNames,
    dry_run: bool,
    shutdown: &CancellationToken,
) -> Result<(SyncReport, Vec<Action>)> {
    let report = sync(mb, store, session, folders, shutdown).await?;
    keywords::look(mb, pipeline, store, session, folders).await;
    // Bounded (the newest 500 of ours), and only when a message of ours came.
    if let Err(err) = store.refresh_voice(&mb.name, &mb.identity) {
        tracing::warn!("the voice could not be relearned; drafting with the last one: {err:#}");
    }
    // A message of ours in Sent that could not be fetched may be the answer that closes a
    // thread: without it the thread looks unanswered. No drafts until Sent is whole again.
    if let Some(sent) = folders
        .sent
        .as_ref()
        .filter(|s| report.held.contains_key(*s))
    {
        tracing::warn!(folder = %sent, "a message in Sent could not be fetched: no drafts this pass");
        return Ok((report, Vec::new()));
    }
    let now = Utc::now();
    // The window's threads, decoded once for the pass: the review, every draft's related
    // threads and the joins read them (see `store::Decoded`). Dropped with the pass.
    let decoded = crate::store::Decoded::default();
    let actions = if dry_run {
        attend(mb, pipeline, store, model, None, now, shutdown, &decoded).await?
    } else {
        attend::drafts_folder(folders)?;
        let session = Some((session, folders));
        let actions = attend(mb, pipeline, store, model, session, now, shutdown, &decoded).await?;
        stages::after_attend(mb, pipeline, store, model, &actions, now, shutdown).await;
        actions
    };
    if !shutdown.is_cancelled() {
        joins::judge(mb, pipeline, store, model, dry_run, now, &decoded).await;
    }
    Ok((report, actions))
}

/// The span every log line about one mailbox carries.
pub fn span(mb: &MailboxConfig) -> tracing::Span {
    tracing::info_span!("mailbox", name = %mb.name)
}
