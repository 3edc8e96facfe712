//! The only module that knows the order of the stages: sync (imap -> parse -> store), review
//! (store -> detect), attend (draft -> deliver), and the loop of `tend run`. Every other module
//! does one stage and returns; this one decides what happens next, and when a failure in one
//! thread or mailbox must not stop the others. This file owns the types a pass reports and the
//! order itself (`open`, `pass`, `run`); fetching and storing a folder is in `sync`, judging
//! threads and drafting for them in `attend`.

mod attend;
mod sync;

pub use attend::{attend, draft_id, judge, review};
pub use sync::sync;

use crate::config::{Config, MailboxConfig};
use crate::deliver::Delivery;
use crate::detect::Verdict;
use crate::draft;
use crate::imap::{self, FolderNames, Session};
use crate::llm::LanguageModel;
use crate::store::{DraftState, Store};
use crate::thread::Thread;
use anyhow::{Context, Result};
use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// What one sync did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SyncReport {
    pub fetched: usize,
    pub new: usize,
    pub unparseable: usize,
}

/// One thread as `status` and `explain` show it.
#[derive(Debug, Clone)]
pub struct Review {
    pub thread: Thread,
    pub verdict: Verdict,
    /// What happened to the draft for this finding, if anything yet.
    pub draft: Option<DraftState>,
}

/// What a pass did about one finding.
#[derive(Debug)]
pub enum Action {
    /// A draft written to Drafts (or, in a dry run, only composed).
    Drafted {
        draft: draft::Draft,
        delivery: Option<Delivery>,
    },
    /// The model judged no answer is needed.
    Vetoed { thread_id: String, reason: String },
    /// Someone answered while the model was drafting; nothing was written.
    Superseded { thread_id: String },
    /// Drafts already held it: nothing new to do.
    AlreadyThere { thread_id: String },
    /// The model or the server failed; retried on the next pass.
    Failed { thread_id: String, error: String },
}

/// Connects, finds the folders, and says which ones it uses.
pub async fn open(mb: &MailboxConfig) -> Result<(Session, FolderNames)> {
    let mut session = Session::connect(&mb.imap)
        .await
        .with_context(|| format!("connecting to {}", imap::describe(&mb.imap)))?;
    let folders = session.folders(&mb.folders).await?;
    Ok((session, folders))
}

/// One full pass over one mailbox: sync, review, draft, deliver.
pub async fn pass<M: LanguageModel>(
    mb: &MailboxConfig,
    store: &Store,
    model: &M,
    dry_run: bool,
    shutdown: &CancellationToken,
) -> Result<(SyncReport, Vec<Action>)> {
    let (mut session, folders) = open(mb).await?;
    let report = sync(mb, store, &mut session, &folders).await?;
    let now = Utc::now();
    let actions = if dry_run {
        attend(mb, store, model, None, now, shutdown).await?
    } else {
        attend::drafts_folder(&folders)?;
        attend(
            mb,
            store,
            model,
            Some((&mut session, &folders)),
            now,
            shutdown,
        )
        .await?
    };
    session.logout().await;
    Ok((report, actions))
}

/// The span every log line about one mailbox carries.
pub fn span(mb: &MailboxConfig) -> tracing::Span {
    tracing::info_span!("mailbox", name = %mb.name)
}

/// `tend run`: a pass over every mailbox every poll interval until `shutdown`; `after_round`
/// runs after each round (the CLI leaves a status snapshot with it).
pub async fn run<M: LanguageModel>(
    config: &Config,
    store: &Store,
    model: &M,
    shutdown: CancellationToken,
    after_round: impl Fn(&Store),
) -> Result<()> {
    loop {
        for mb in &config.mailboxes {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            let span = span(mb);
            match pass(mb, store, model, false, &shutdown)
                .instrument(span.clone())
                .await
            {
                Ok((r, actions)) => tracing::info!(parent: &span,
                    fetched = r.fetched,
                    new = r.new,
                    drafts = actions.iter().filter(|a| matches!(a, Action::Drafted { .. })).count(),
                    "pass done"
                ),
                // One mailbox failing must not stop the others; the next pass retries.
                Err(err) => tracing::error!(parent: &span, "pass failed: {err:#}"),
            }
        }
        after_round(store);
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(config.poll_interval) => {}
        }
    }
}
