//! Response latency: the waits of each thread (who waited on whom, from when, until when) and
//! the figures over a set of them (count, nearest-rank percentiles, shares, histogram). Pure
//! over the record's touches; the window and `until` are arguments.

use super::super::business::{business_seconds, within_business_day, zone};
use super::super::{Bucket, Latency};
use crate::record::{Deal, Record, Touch};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::BTreeMap;

/// Whose turn it was during a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Turn {
    /// A buyer waited on us: our response latency.
    Ours,
    /// We waited on a buyer: theirs.
    Theirs,
}

/// One wait in one thread of a deal.
///
/// In each thread the touches are walked in their order. An **"ours" wait** opens at a buyer
/// message that is the thread's first buyer message or the first after a message of ours or a
/// colleague's (so two buyer messages in a row open one wait, at the first); it closes at the
/// first later message of ours or of a colleague (a colleague's reply counts as ours). A
/// **"theirs" wait** is the mirror: it opens at our first message after a buyer's (or at our
/// message that opens the thread) and closes at the buyer's next message.
#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    /// The deal's id, and the thread's.
    pub deal: String,
    pub thread: String,
    pub turn: Turn,
    /// Unix seconds of the message that opened it.
    pub opened: i64,
    /// Unix seconds of the message that closed it, when one did before `until`; `None` while
    /// it is still waiting (also when the answer came at or after `until`).
    pub closed: Option<i64>,
    /// The time zone business time counts in: for "ours" the mailbox of the message that
    /// closed it (the one that answered), for "theirs" and for a wait still open the mailbox
    /// of the message that opened it. An unknown zone name counts as UTC.
    pub tz: Tz,
}

impl Wait {
    /// Calendar seconds from open to close, when answered (0 when the answer's Date header is
    /// earlier than the question's).
    pub fn seconds(&self) -> Option<i64> {
        self.closed.map(|c| c.saturating_sub(self.opened).max(0))
    }

    /// Business seconds from open to close, when answered (see
    /// [`business_seconds`](crate::report::business::business_seconds)).
    pub fn business_seconds(&self) -> Option<i64> {
        self.closed
            .map(|c| business_seconds(self.opened, c, self.tz))
    }

    /// Whether it was answered within one business day in its zone.
    pub fn within_business_day(&self) -> Option<bool> {
        self.closed
            .map(|c| within_business_day(self.opened, c, self.tz))
    }
}

/// Every wait of every deal of `record` that opened in `[since, until)`, deal by deal, thread
/// by thread, in order of opening within a thread. For all time, pass
/// `DateTime::<Utc>::MIN_UTC` as `since`.
pub fn waits(record: &Record, since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<Wait> {
    let (since, until) = (since.timestamp(), until.timestamp());
    record
        .deals
        .iter()
        .flat_map(|d| deal_waits(d, &record.mailboxes, since, until))
        .collect()
}

/// The waits of one deal that opened in `[since, until)`.
pub(super) fn deal_waits(
    deal: &Deal,
    mailboxes: &BTreeMap<String, String>,
    since: i64,
    until: i64,
) -> Vec<Wait> {
    let tz = |t: &Touch| zone(mailboxes.get(&t.mailbox).map(String::as_str));
    let mut out = Vec::new();
    for thread in &deal.threads {
        let start = out.len();
        let mut ours: Option<&Touch> = None;
        let mut theirs: Option<&Touch> = None;
        let mut last_us: Option<bool> = None;
        let mut push = |turn, open: &Touch, close: Option<&Touch>| {
            if !(since..until).contains(&open.at) {
                return;
            }
            let close = close.filter(|c| c.at < until);
            let zone_of = match (turn, close) {
                (Turn::Ours, Some(c)) => c,
                _ => open,
            };
            out.push(Wait {
                deal: deal.id.clone(),
                thread: thread.id.clone(),
                turn,
                opened: open.at,
                closed: close.map(|c| c.at),
                tz: tz(zone_of),
            });
        };
        for t in &thread.touches {
            let us = t.side.is_us();
            if us {
                if let Some(open) = ours.take() {
                    push(Turn::Ours, open, Some(t));
                }
                if last_us != Some(true) {
                    theirs = Some(t);
                }
            } else {
                if let Some(open) = theirs.take() {
                    push(Turn::Theirs, open, Some(t));
                }
                if last_us != Some(false) {
                    ours = Some(t);
                }
            }
            last_us = Some(us);
        }
        if let Some(open) = ours {
            push(Turn::Ours, open, None);
        }
        if let Some(open) = theirs {
            push(Turn::Theirs, open, None);
        }
        // Pushed as they closed; a thread's waits read best in the order they opened.
        out[start..].sort_by_key(|w| w.opened);
    }
    out
}

/// Histogram bars: upper bounds in seconds and labels; a latency goes in the first bar whose
/// bound it does not exceed, beyond the last in ">7d". Bars count, they do not accumulate.
const BUCKETS: [(i64, &str); 7] = [
    (300, "5m"),
    (900, "15m"),
    (3_600, "1h"),
    (14_400, "4h"),
    (86_400, "1d"),
    (259_200, "3d"),
    (604_800, "7d"),
];

/// The figures over `waits` (all of one turn), as of `until` (Unix seconds).
///
/// - `answered`: waits closed before `until`; `waiting`: the others, with
///   `oldest_waiting_seconds` = `until` minus the earliest opening among them.
/// - `p50_seconds`, `p90_seconds` (calendar) and `business_p50_seconds`,
///   `business_p90_seconds` (business time): nearest-rank percentiles over the answered waits,
///   the value at rank ceil(p/100 x n) of the sorted latencies (with 2 values p50 is the lower
///   and p90 the higher; with 10, p90 is the 9th).
/// - `within_1h`: share of answered waits with a latency of at most 3,600 s;
///   `within_1_business_day`: share answered at or before the same local time on the next
///   weekday in the wait's zone.
///
/// Every figure over answered waits is `None` when none was answered.
pub(super) fn latency<'a>(waits: impl IntoIterator<Item = &'a Wait>, until: i64) -> Latency {
    let mut calendar = Vec::new();
    let mut business = Vec::new();
    let mut within_day = 0u64;
    let mut waiting = 0u64;
    let mut oldest: Option<i64> = None;
    for w in waits {
        match w.closed {
            Some(_) => {
                calendar.push(w.seconds().unwrap_or(0));
                business.push(w.business_seconds().unwrap_or(0));
                within_day += u64::from(w.within_business_day() == Some(true));
            }
            None => {
                waiting += 1;
                oldest = Some(oldest.map_or(w.opened, |o| o.min(w.opened)));
            }
        }
    }
    calendar.sort_unstable();
    business.sort_unstable();
    let n = calendar.len() as u64;
    let share = |k: u64| (n > 0).then(|| k as f64 / n as f64);
    let within_hour = calendar.iter().filter(|&&s| s <= 3_600).count() as u64;
    let mut histogram: Vec<Bucket> = BUCKETS
        .iter()
        .map(|&(le, label)| Bucket {
            le_seconds: Some(le),
            label: label.to_string(),
            count: 0,
        })
        .collect();
    histogram.push(Bucket {
        le_seconds: None,
        label: ">7d".to_string(),
        count: 0,
    });
    for &s in &calendar {
        let i = BUCKETS
            .iter()
            .position(|&(le, _)| s <= le)
            .unwrap_or(BUCKETS.len());
        histogram[i].count += 1;
    }
    Latency {
        answered: n,
        waiting,
        oldest_waiting_seconds: oldest.map(|o| until.saturating_sub(o)),
        p50_seconds: percentile(&calendar, 50),
        p90_seconds: percentile(&calendar, 90),
        within_1h: share(within_hour),
        within_1_business_day: share(within_day),
        business_p50_seconds: percentile(&business, 50),
        business_p90_seconds: percentile(&business, 90),
        histogram,
    }
}

/// The nearest-rank `p`th percentile of `sorted` (ascending): the value at rank
/// ceil(p/100 x n), 1-based; `None` for no values.
pub(super) fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = (p * n).div_ceil(100).clamp(1, n);
    sorted.get(rank - 1).copied()
}
