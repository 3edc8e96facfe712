//! Business time for the response-latency figures: how many seconds of an interval fall in
//! business hours (Monday to Friday, 09:00 to 17:00 local time in a mailbox's time zone), and
//! whether an answer came within one business day. Each day's window is built in local wall
//! time and its two bounds are converted to UTC, so a day on which the clocks change still
//! counts its eight local hours (or what is left of them) and never an hour twice or none.
//!
//! It knows nothing of waits or deals and never reads the clock; the zone is an argument.

use crate::detect::followup_due;
use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// Business hours start and end, local wall time.
const OPEN_HOUR: u32 = 9;
const CLOSE_HOUR: u32 = 17;
/// One full business week (five days of eight hours), for the weeks an interval spans whole.
const WEEK_SECS: i64 = 5 * 8 * 3600;

/// Earliest and latest Unix seconds the arithmetic takes at face value (1970 to 9999): a Date
/// header outside is garbage, and clamping keeps every local-time conversion in range.
const EARLIEST: i64 = 0;
const LATEST: i64 = 253_402_300_799;

/// The seconds of `[from, to)` (Unix seconds) that fall on Monday to Friday between 09:00 and
/// 17:00 local time in `tz`; 0 when `to` is not after `from`. Whole weeks inside the interval
/// count 40 hours each, which is exact in every zone whose clocks do not change between 09:00
/// and 17:00; the partial weeks at both ends are counted day by day from local bounds.
pub fn business_seconds(from: i64, to: i64, tz: Tz) -> i64 {
    let (from, to) = (from.clamp(EARLIEST, LATEST), to.clamp(EARLIEST, LATEST));
    if to <= from {
        return 0;
    }
    let (Some(start), Some(end)) = (utc(from), utc(to)) else {
        return 0;
    };
    let first = start.with_timezone(&tz).date_naive();
    let last = end.with_timezone(&tz).date_naive();
    let mut total = 0;
    let mut day = first;
    while day <= last {
        // From the first Monday after the first day, the whole weeks that end on or before the
        // last day: every business hour of them is inside the interval. Counted at once, so
        // a garbage date decades away costs no more than a week day by day.
        if day > first && day.weekday() == Weekday::Mon {
            let weeks = last.signed_duration_since(day).num_days() / 7;
            if let Some(after) = u64::try_from(weeks * 7)
                .ok()
                .and_then(|n| day.checked_add_days(Days::new(n)))
            {
                total += weeks * WEEK_SECS;
                day = after;
            }
        }
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            let open = local(day, OPEN_HOUR, tz).max(from);
            let close = local(day, CLOSE_HOUR, tz).min(to);
            total += (close - open).max(0);
        }
        match day.checked_add_days(Days::new(1)) {
            Some(next) => day = next,
            None => break,
        }
    }
    total
}

/// Whether an answer at `closed` came within one business day of `opened` (Unix seconds): at
/// or before the same local time on the next weekday in `tz` (a wait opened on a weekend counts
/// from Monday 00:00), as [`followup_due`] computes it.
pub fn within_business_day(opened: i64, closed: i64, tz: Tz) -> bool {
    let (opened, closed) = (
        opened.clamp(EARLIEST, LATEST),
        closed.clamp(EARLIEST, LATEST),
    );
    match (utc(opened), utc(closed)) {
        (Some(o), Some(c)) => c <= followup_due(o, 1, tz),
        _ => false,
    }
}

/// The zone named `name` (IANA), UTC when the name is unknown.
pub fn zone(name: Option<&str>) -> Tz {
    name.and_then(|n| n.parse().ok()).unwrap_or(chrono_tz::UTC)
}

fn utc(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// `hour`:00 local time on `day` in `tz`, as Unix seconds: the earlier instant in a DST
/// overlap, the first instant after a DST gap.
fn local(day: NaiveDate, hour: u32, tz: Tz) -> i64 {
    let naive = day.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN));
    let pick = |r: LocalResult<DateTime<Tz>>| match r {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.timestamp()),
        LocalResult::None => None,
    };
    pick(tz.from_local_datetime(&naive))
        .or_else(|| {
            let later = naive.checked_add_signed(chrono::Duration::hours(1))?;
            pick(tz.from_local_datetime(&later))
        })
        .unwrap_or_else(|| naive.and_utc().timestamp())
}
