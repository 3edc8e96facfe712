//! (thread, who we are, rules, now) -> [`Verdict`]: does this thread need a reply, or a
//! follow-up, and why; or why not. Pure: no I/O, `now` is an argument. It does not call the
//! model and does not know about IMAP or sled.

use crate::config::{Identity, Rules};
use crate::thread::Thread;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// What kind of draft a thread needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    /// A buyer wrote and nobody on our side answered.
    Reply,
    /// Our message is the latest and went unanswered; `nudge` counts from 1.
    FollowUp { nudge: u32 },
}

/// A thread that needs attention, with the message a draft must answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub thread_id: String,
    pub kind: Kind,
    /// Message-ID of the message the draft answers (the buyer's, or our own latest for a follow-up).
    pub trigger: String,
    /// Unix seconds since when the thread has waited.
    pub since: i64,
    pub reason: String,
}

/// The decision on one thread, always with its reason.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Attention(Finding),
    Quiet { reason: String },
}

/// Judges one thread.
pub fn assess(thread: &Thread, me: &Identity, rules: &Rules, tz: Tz, now: DateTime<Utc>) -> Verdict {
    let _ = (thread, me, rules, tz, now);
    Verdict::Quiet { reason: "detection not written yet".into() }
}
