//! The Prometheus metrics of `tend run`: a [`Metrics`] handle holding the registry (per mailbox:
//! open needs-reply threads, silent deals, drafts written and what became of them, syncs and
//! their errors, the last good sync, model calls, tokens and errors, and our response-latency
//! histogram), and the HTTP endpoint serving it (`http`). The only user of prometheus-client and
//! of hyper's server side. It decides nothing: the daemon's stages tell it what they did.
//!
//! Format: prometheus-client's own encoder of the classic Prometheus text format 0.0.4
//! (`encoding::prometheus_text`, served as `text/plain; version=0.0.4`), not OpenMetrics: that is
//! what `promtool check metrics` lints (version 2.42 reads OpenMetrics counters as "no help
//! text"), and what every Prometheus scrapes, so nothing is converted or told apart.
//!
//! How the stages reach it: like health's `beat`, through a task-local that the service sets
//! around each mailbox task (`scope`), read by [`with`]. The hooks deep in a pass (attend, review,
//! lifecycle) then need no new parameter on functions the one-shot commands and the tests call
//! too, and outside `tend run` they do nothing. Counters count since the process started, as
//! Prometheus expects (it handles the reset on a restart); the latency histogram is the
//! exception: it is recomputed from the record, so it is encoded from a stored snapshot.

mod http;
mod latency;
#[cfg(test)]
mod tests;

pub use http::{serve, Endpoint};
pub use latency::{LatencySnapshot, LATENCY_BUCKETS};

use latency::Latencies;

use crate::llm::{LlmError, Usage};
use crate::store::Fate;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// The Content-Type of what [`Metrics::encode`] writes.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MailboxLabel {
    mailbox: String,
}

/// What became of a draft of ours, as `tend_draft_outcomes_total` counts it.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// Sent with (nearly) our words.
    SentAsWritten,
    /// Sent after edits.
    SentEdited,
    /// Answered in other words, or deleted unanswered.
    Ignored,
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        use std::fmt::Write;
        encoder.write_str(match self {
            Outcome::SentAsWritten => "sent_as_written",
            Outcome::SentEdited => "sent_edited",
            Outcome::Ignored => "ignored",
        })
    }
}

impl Outcome {
    /// The outcome a draft's fate counts as.
    pub fn of(fate: &Fate) -> Outcome {
        match fate {
            Fate::SentAsWritten { .. } => Outcome::SentAsWritten,
            Fate::SentAfterEdits { .. } => Outcome::SentEdited,
            Fate::AnsweredWithout { .. } | Fate::DeletedUnanswered => Outcome::Ignored,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    mailbox: String,
    outcome: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    mailbox: String,
    kind: &'static str,
}

/// The metrics of one `tend run`; cheap to clone, shared by every mailbox task.
#[derive(Clone, Debug)]
pub struct Metrics(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    registry: Registry,
    needs_reply: Family<MailboxLabel, Gauge>,
    silent: Family<MailboxLabel, Gauge>,
    drafts: Family<MailboxLabel, Counter>,
    outcomes: Family<OutcomeLabels, Counter>,
    syncs: Family<MailboxLabel, Counter>,
    sync_errors: Family<MailboxLabel, Counter>,
    last_sync: Family<MailboxLabel, Gauge<f64, AtomicU64>>,
    model_calls: Family<MailboxLabel, Counter>,
    model_errors: Family<KindLabels, Counter>,
    tokens: Family<KindLabels, Counter>,
    latency: Arc<Latencies>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric registered, none with a sample yet.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let needs_reply = Family::default();
        registry.register(
            "tend_needs_reply_threads",
            "Threads where a buyer wrote and nobody on our side answered, as of the last review",
            needs_reply.clone(),
        );
        let silent = Family::default();
        registry.register(
            "tend_silent_deals",
            "Threads where our message is the latest and is due a follow-up, as of the last review",
            silent.clone(),
        );
        let drafts = Family::default();
        registry.register(
            "tend_drafts_written",
            "Reply drafts written into the Drafts folder",
            drafts.clone(),
        );
        let outcomes = Family::default();
        registry.register(
            "tend_draft_outcomes",
            "Drafts of ours whose fate was decided: sent as written, sent edited, or ignored \
             (answered in other words, or deleted unanswered)",
            outcomes.clone(),
        );
        let syncs = Family::default();
        registry.register(
            "tend_syncs",
            "Passes that connected and synced the mailbox, or tried to",
            syncs.clone(),
        );
        let sync_errors = Family::default();
        registry.register(
            "tend_sync_errors",
            "Passes that failed: no connection, login refused, or an error while syncing",
            sync_errors.clone(),
        );
        let last_sync = Family::default();
        registry.register_with_unit(
            "tend_last_successful_sync_timestamp",
            "When the mailbox last synced without error, in Unix time",
            Unit::Seconds,
            last_sync.clone(),
        );
        let model_calls = Family::default();
        registry.register(
            "tend_model_calls",
            "Requests to the model for drafts, answered or not (a retried unusable answer counts again)",
            model_calls.clone(),
        );
        let model_errors = Family::default();
        registry.register(
            "tend_model_errors",
            "Draft requests the model failed, by kind of failure",
            model_errors.clone(),
        );
        let tokens = Family::default();
        registry.register(
            "tend_model_tokens",
            "Tokens the model server billed for drafts, prompt and completion",
            tokens.clone(),
        );
        let latency = Arc::new(Latencies::default());
        registry.register_collector(Box::new(latency.clone()));
        Metrics(Arc::new(Inner {
            registry,
            needs_reply,
            silent,
            drafts,
            outcomes,
            syncs,
            sync_errors,
            last_sync,
            model_calls,
            model_errors,
            tokens,
            latency,
        }))
    }

    /// The text exposition of every metric (Prometheus text format 0.0.4, see [`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; a collector of ours returns no error either.
        if let Err(err) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.0.registry)
        {
            tracing::error!("encoding the metrics: {err}");
        }
        out
    }

    /// A review of the mailbox found these open threads.
    pub fn reviewed(&self, mailbox: &str, needs_reply: usize, silent: usize) {
        let label = label(mailbox);
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.0
            .needs_reply
            .get_or_create(&label)
            .set(gauge(needs_reply));
        self.0.silent.get_or_create(&label).set(gauge(silent));
    }

    /// A draft was appended to the mailbox's Drafts.
    pub fn draft_written(&self, mailbox: &str) {
        self.0.drafts.get_or_create(&label(mailbox)).inc();
    }

    /// A draft's fate went from `before` to `after`: counted when that changes its outcome. A
    /// draft deleted unanswered and later sent in our words counts under both (a counter cannot
    /// take back; it is rare).
    pub fn fate_changed(&self, mailbox: &str, before: Option<&Fate>, after: Option<&Fate>) {
        let Some(outcome) = after.map(Outcome::of) else {
            return;
        };
        if before.map(Outcome::of) != Some(outcome) {
            let labels = OutcomeLabels {
                mailbox: mailbox.to_string(),
                outcome,
            };
            self.0.outcomes.get_or_create(&labels).inc();
        }
    }

    /// A pass tried to sync the mailbox; `ok` if it synced (and drafted) without error, at `now`.
    pub fn synced(&self, mailbox: &str, ok: bool, now: DateTime<Utc>) {
        let label = label(mailbox);
        self.0.syncs.get_or_create(&label).inc();
        if ok {
            let at = now.timestamp_millis() as f64 / 1000.0;
            self.0.last_sync.get_or_create(&label).set(at);
        } else {
            self.0.sync_errors.get_or_create(&label).inc();
        }
    }

    /// A draft's model requests: what they `used`, and the error they ended with, if any.
    pub fn model_used(&self, mailbox: &str, used: &Usage, error: Option<&anyhow::Error>) {
        let kind = error.and_then(|e| e.downcast_ref::<LlmError>());
        // `calls` counts answers; a request that got none (down, refused, timed out) is one more.
        let unanswered = kind.is_some_and(|k| !k.is_unusable_answer());
        let calls = u64::from(used.calls) + u64::from(unanswered);
        self.0
            .model_calls
            .get_or_create(&label(mailbox))
            .inc_by(calls);
        if let Some(kind) = kind {
            let labels = KindLabels {
                mailbox: mailbox.to_string(),
                kind: error_kind(kind),
            };
            self.0.model_errors.get_or_create(&labels).inc();
        }
        for (kind, n) in [
            ("prompt", used.input_tokens),
            ("completion", used.output_tokens),
        ] {
            let labels = KindLabels {
                mailbox: mailbox.to_string(),
                kind,
            };
            self.0.tokens.get_or_create(&labels).inc_by(n);
        }
    }

    /// Our answered response latencies in the mailbox, in seconds, all time: they replace the
    /// last ones given (recomputed from the record each pass, so they only grow as mail does).
    pub fn set_latencies(&self, mailbox: &str, seconds: &[i64]) {
        self.0.latency.set(mailbox, LatencySnapshot::of(seconds));
    }

    /// The mailbox is gone from the configuration: its series go too.
    pub fn forget(&self, mailbox: &str) {
        let m = &self.0;
        let label = label(mailbox);
        for family in [&m.needs_reply, &m.silent] {
            family.remove(&label);
        }
        for family in [&m.drafts, &m.syncs, &m.sync_errors, &m.model_calls] {
            family.remove(&label);
        }
        m.last_sync.remove(&label);
        for outcome in [
            Outcome::SentAsWritten,
            Outcome::SentEdited,
            Outcome::Ignored,
        ] {
            let mailbox = mailbox.to_string();
            m.outcomes.remove(&OutcomeLabels { mailbox, outcome });
        }
        let kinds = ERROR_KINDS.iter().map(|k| (&m.model_errors, *k));
        for (family, kind) in kinds.chain([(&m.tokens, "prompt"), (&m.tokens, "completion")]) {
            let mailbox = mailbox.to_string();
            family.remove(&KindLabels { mailbox, kind });
        }
        m.latency.remove(mailbox);
    }
}

fn label(mailbox: &str) -> MailboxLabel {
    MailboxLabel {
        mailbox: mailbox.to_string(),
    }
}

/// Every `kind` label [`error_kind`] gives.
const ERROR_KINDS: [&str; 8] = [
    "rate_limited",
    "unavailable",
    "refused",
    "rejected",
    "failed",
    "bad_answer",
    "cut",
    "declined",
];

/// The `kind` label of a model error.
fn error_kind(err: &LlmError) -> &'static str {
    match err {
        LlmError::RateLimited { .. } => "rate_limited",
        LlmError::Unavailable(_) => "unavailable",
        LlmError::Refused(_) => "refused",
        LlmError::Rejected(_) => "rejected",
        LlmError::Failed(_) => "failed",
        LlmError::BadAnswer(_) => "bad_answer",
        LlmError::Cut(_) => "cut",
        LlmError::Declined(_) => "declined",
    }
}

tokio::task_local! {
    /// The metrics the current mailbox task counts into.
    static TASK: Metrics;
}

/// Runs `fut` (a mailbox task) counting into `metrics`, for [`with`] inside it.
pub async fn scope<F: std::future::Future>(metrics: Metrics, fut: F) -> F::Output {
    TASK.scope(metrics, fut).await
}

/// Calls `f` with the current mailbox task's metrics; outside `tend run` it does nothing.
pub fn with(f: impl FnOnce(&Metrics)) {
    let _ = TASK.try_with(f);
}
