//! The numbers that show where a sales process leaks, and their renderings. [`Report`] is the
//! shape of `tend report --json` (the keys are an interface scripts rely on: add, never
//! rename); `numbers` computes it from a [`crate::record::Record`], a window and `now` (pure
//! arithmetic, no I/O, no clock); the terminal tables, the JSON and the HTML page with its
//! charts are renderings of one `Report`. A figure with no data is `None` (JSON null), never 0.
//!
//! It does not read the store or the mailbox; the daemon builds the record and passes it in.

pub mod business;
pub mod numbers;

use serde::{Deserialize, Serialize};

pub mod html;
pub mod term;

/// Everything `tend report` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub window: Window,
    /// Each mailbox's own figures, in name order.
    pub mailboxes: Vec<Section>,
    /// Over every mailbox.
    pub response_latency: Latencies,
    pub stages: Vec<StageNumbers>,
    pub needs_reply: Open,
    pub silent: Silent,
    pub drafts: Drafts,
    /// Companies with a deal touched in the window, most deals first (at most 20).
    pub companies: Vec<Section>,
    /// Where momentum dies: for deals that went quiet or were lost, grouped by the stage and
    /// whose turn it was, ranked by how many deals stalled there.
    pub stalls: Vec<Stall>,
    /// Deals that need attention now, oldest wait first (at most 20).
    pub attention: Vec<Attention>,
}

/// The half-open window `[since, until)`, RFC 3339 in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub since: chrono::DateTime<chrono::Utc>,
    pub until: chrono::DateTime<chrono::Utc>,
}

/// One mailbox's, or one company's, figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// The mailbox name, or the company's domain.
    pub name: String,
    pub response_latency: Latencies,
    pub needs_reply: Open,
    pub silent: Silent,
    pub drafts: Drafts,
    /// Deals with a touch in the window.
    pub deals: u64,
}

/// Both directions of response latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latencies {
    /// How quickly we (or a colleague) answered buyers.
    pub ours: Latency,
    /// How quickly buyers answered us.
    pub theirs: Latency,
}

/// Response latency in one direction. A wait opens at the first message of one side after a
/// message of the other side (or at a thread's first message) and closes at the next message
/// of the other side in that thread. Waits opened in the window count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Waits that were answered.
    pub answered: u64,
    /// Waits not answered yet (at `until`).
    pub waiting: u64,
    /// Age at `until` of the oldest unanswered wait.
    pub oldest_waiting_seconds: Option<i64>,
    /// Calendar time, over the answered waits.
    pub p50_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
    /// Share of answered waits answered within an hour, and within one business day (the
    /// same local time on the next weekday, in the time zone of our mailbox in the wait: the
    /// one that answered for "ours", the one that wrote for "theirs").
    pub within_1h: Option<f64>,
    pub within_1_business_day: Option<f64>,
    /// Business time (same zone): only Monday to Friday 09:00-17:00 local time counts.
    pub business_p50_seconds: Option<i64>,
    pub business_p90_seconds: Option<i64>,
    /// The answered waits' calendar seconds, bucketed for the charts (upper bounds in
    /// seconds; the last bucket is everything beyond).
    pub histogram: Vec<Bucket>,
}

/// One bar of a latency histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Upper bound in seconds; `None` for the last, open bucket.
    pub le_seconds: Option<i64>,
    /// Human label ("1h", "1d").
    pub label: String,
    pub count: u64,
}

/// Time in one stage and conversion out of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageNumbers {
    pub name: String,
    /// Deals that entered this stage in the window.
    pub entered: u64,
    /// Of those, the ones that left it: time spent in it.
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
    /// Still in it at `until`, and the age of the oldest of them.
    pub current: u64,
    pub current_oldest_seconds: Option<i64>,
    /// Share of the deals that entered in the window which reached a later stage (a terminal
    /// "lost" stage is not reaching further).
    pub converted: Option<f64>,
}

/// Threads that need our reply now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Open {
    pub open: u64,
    pub oldest_seconds: Option<i64>,
}

/// Deals silent after our last message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silent {
    pub deals: u64,
    pub oldest_seconds: Option<i64>,
}

/// Drafts tend wrote in the window, and what became of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drafts {
    pub written: u64,
    pub sent_as_written: u64,
    pub sent_edited: u64,
    pub ignored: u64,
    /// Not decided yet (still in Drafts).
    pub pending: u64,
    /// Replaced by a newer draft of ours before the user acted.
    pub replaced: u64,
}

/// Where deals stalled: a stage and whose turn it was when the deal went quiet or was lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stall {
    /// The stage the deal was in (`None`: before any stage was known).
    pub stage: Option<String>,
    /// "ours" (a buyer waited on us) or "theirs" (we waited on the buyer).
    pub turn: String,
    pub deals: u64,
    /// How long the last gap sat: median over those deals.
    pub median_gap_seconds: Option<i64>,
}

/// A deal that needs attention now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attention {
    pub deal: String,
    pub subject: String,
    pub mailbox: String,
    pub company: Option<String>,
    /// "needs_reply" or "quiet".
    pub state: String,
    pub stage: Option<String>,
    pub waiting_seconds: i64,
}
