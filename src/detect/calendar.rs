//! Time for detection: when a follow-up is due (business days in the mailbox's time zone,
//! skipping weekends, safe across DST changes and at the end of the calendar), which Date
//! header values are usable, how old a message is, and how a date reads in a reason. It knows
//! nothing of threads or rules and never reads the clock: `now` and the zone are arguments.

use super::Ctx;
use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;

pub(super) const DAY_SECS: i64 = 86_400;

/// When a follow-up on a message sent at `sent` is due: its local time in `tz` advanced by `days`
/// weekdays, skipping Saturday and Sunday; a message sent on a weekend counts from Monday 00:00.
pub fn followup_due(sent: DateTime<Utc>, days: u32, tz: Tz) -> DateTime<Utc> {
    let local = sent.with_timezone(&tz).naive_local();
    let (mut date, time) = match local.weekday() {
        Weekday::Sat => (add_days(local.date(), 2), NaiveTime::MIN),
        Weekday::Sun => (add_days(local.date(), 1), NaiveTime::MIN),
        _ => (local.date(), local.time()),
    };
    // Whole weeks first (five weekdays are seven days), then the rest one day at a time.
    date = add_days(date, u64::from(days / 5) * 7);
    let mut left = days % 5;
    while left > 0 {
        let next = add_days(date, 1);
        if next == date {
            break; // at the cap: the deadline will not arrive anyway
        }
        date = next;
        if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    local_to_utc(date.and_time(time), tz)
}

/// 00:00 in `tz` of the first weekday after `day` (an out-of-office's return date).
pub(super) fn first_business_day_after(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut next = add_days(day, 1);
    while matches!(next.weekday(), Weekday::Sat | Weekday::Sun) {
        let later = add_days(next, 1);
        if later == next {
            break;
        }
        next = later;
    }
    local_to_utc(next.and_time(NaiveTime::MIN), tz)
}

/// Latest Date header we take at face value (9999-12-31 23:59:59 UTC); later ones, and ones
/// before 1970, are garbage and count as missing. Keeps every local-time conversion in range.
const LATEST_USABLE: i64 = 253_402_300_799;

/// A Date header value as a time, when it is plausible.
pub(super) fn usable_time(secs: i64) -> Option<DateTime<Utc>> {
    if (0..=LATEST_USABLE).contains(&secs) {
        DateTime::from_timestamp(secs, 0)
    } else {
        None
    }
}

/// `date` plus `n` days, capped at 9999-12-31 (a deadline that far out never arrives anyway).
fn add_days(date: NaiveDate, n: u64) -> NaiveDate {
    let cap = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX);
    date.checked_add_days(Days::new(n))
        .map_or(cap, |d| d.min(cap))
}

/// A local wall-clock time as UTC: the earlier of two in a DST overlap; in a DST gap, the time
/// just after the gap (clocks jump forward by at most an hour in practice).
pub(super) fn local_to_utc(naive: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    let pick = |r: LocalResult<DateTime<Tz>>| match r {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
        LocalResult::None => None,
    };
    pick(tz.from_local_datetime(&naive))
        .or_else(|| {
            let later = naive.checked_add_signed(chrono::Duration::hours(1))?;
            pick(tz.from_local_datetime(&later))
        })
        .unwrap_or_else(|| naive.and_utc())
}

impl Ctx<'_> {
    /// "2026-11-23 09:14 CET", or a note that the date is missing.
    pub(super) fn when(&self, at: Option<DateTime<Utc>>) -> String {
        match at {
            Some(t) => t
                .with_timezone(&self.tz)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string(),
            None => "an unknown date".to_string(),
        }
    }

    /// "Thu 2026-11-26 10:00 CET".
    pub(super) fn when_day(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.tz)
            .format("%a %Y-%m-%d %H:%M %Z")
            .to_string()
    }
}

/// Seconds from `at` to `now`; negative for a message dated in the future.
pub(super) fn age_secs(now: DateTime<Utc>, at: DateTime<Utc>) -> i64 {
    now.timestamp().saturating_sub(at.timestamp())
}

pub(super) fn ago(days: i64) -> String {
    match days {
        0 => "today".to_string(),
        1 => "1 day ago".to_string(),
        d => format!("{d} days ago"),
    }
}
