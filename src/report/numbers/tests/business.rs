//! Business time on fixture records: a reply across a weekend, mailboxes in two zones, both
//! DST changes of Europe/Berlin in 2026; every expected number worked out by hand.

use super::{buyer, deal, one_deal, ours, record, report, t, D, H};
use crate::record::DealState;
use crate::report::business::business_seconds;

#[test]
fn a_reply_across_a_weekend_counts_calendar_and_business_time_apart() {
    // Buyer Fri 2026-01-09 16:00 UTC, we answer Mon 2026-01-12 10:00 UTC (mailbox in UTC).
    let r = one_deal(
        "UTC",
        vec![
            buyer(t("2026-01-09T16:00:00Z"), "alice"),
            ours(t("2026-01-12T10:00:00Z"), "alice"),
        ],
    );
    let ours = &r.response_latency.ours;
    assert_eq!(ours.answered, 1);
    // Calendar: Fri 16:00 -> Mon 10:00 = 2 d 18 h = 66 h = 237,600 s.
    assert_eq!(ours.p50_seconds, Some(237_600));
    assert_eq!(ours.p90_seconds, Some(237_600));
    // Business: Fri 16:00-17:00 (1 h) + Mon 09:00-10:00 (1 h) = 7,200 s.
    assert_eq!(ours.business_p50_seconds, Some(7_200));
    // One business day from Fri 16:00 is Mon 16:00; Mon 10:00 is within it, not within 1 h.
    assert_eq!(ours.within_1_business_day, Some(1.0));
    assert_eq!(ours.within_1h, Some(0.0));
    // 1 d (86,400) < 237,600 <= 3 d (259,200): the "3d" bar, and no other.
    let bar = |label: &str| ours.histogram.iter().find(|b| b.label == label).unwrap();
    assert_eq!(bar("3d").count, 1);
    assert_eq!(ours.histogram.iter().map(|b| b.count).sum::<u64>(), 1);
}

#[test]
fn business_time_counts_in_the_answering_mailbox_zone() {
    // Deal b (Berlin, UTC+1 in January): buyer Tue 2026-01-13 07:00Z = 08:00 local, we answer
    // 15:00Z = 16:00 local: business 09:00-16:00 = 7 h = 25,200 s.
    // Deal n: the buyer's mail is held by the Berlin mailbox but New York (UTC-5) answers:
    // 07:00Z = 02:00 local -> 15:00Z = 10:00 local: business 09:00-10:00 = 3,600 s. Then the
    // buyer answers New York's message Wed 17:00Z: a "theirs" wait in New York's zone (the
    // opening message's): Tue 10:00-17:00 (7 h) + Wed 09:00-12:00 (3 h) = 36,000 s; in Berlin's
    // it would be Tue 16:00-17:00 + Wed 09:00-18:00 capped at 17:00 = 9 h.
    let r = record(
        &[("berlin", "Europe/Berlin"), ("ny", "America/New_York")],
        vec![
            deal(
                "b",
                "berlin",
                DealState::WaitingOnThem,
                vec![vec![
                    buyer(t("2026-01-13T07:00:00Z"), "berlin"),
                    ours(t("2026-01-13T15:00:00Z"), "berlin"),
                ]],
            ),
            deal(
                "n",
                "ny",
                DealState::NeedsReply,
                vec![vec![
                    buyer(t("2026-01-13T07:00:00Z"), "berlin"),
                    ours(t("2026-01-13T15:00:00Z"), "ny"),
                    buyer(t("2026-01-14T17:00:00Z"), "ny"),
                ]],
            ),
        ],
    );
    let until = t("2026-02-01T00:00:00Z");
    let rep = report(&r, until - 90 * D, until);
    let (berlin, ny) = (&rep.mailboxes[0], &rep.mailboxes[1]);
    assert_eq!((berlin.name.as_str(), ny.name.as_str()), ("berlin", "ny"));
    // Calendar time is the same 8 h = 28,800 s for both.
    assert_eq!(berlin.response_latency.ours.p50_seconds, Some(28_800));
    assert_eq!(ny.response_latency.ours.p50_seconds, Some(28_800));
    assert_eq!(
        berlin.response_latency.ours.business_p50_seconds,
        Some(25_200)
    );
    assert_eq!(ny.response_latency.ours.business_p50_seconds, Some(3_600));
    assert_eq!(
        ny.response_latency.theirs.business_p50_seconds,
        Some(36_000)
    );
    // Overall: business [3,600, 25,200]: p50 (rank 1) 3,600, p90 (rank 2) 25,200.
    let all = &rep.response_latency.ours;
    assert_eq!(all.business_p50_seconds, Some(3_600));
    assert_eq!(all.business_p90_seconds, Some(25_200));
    // New York's reply is Tue 10:00 local, its next business day's 02:00 is Wed: within.
    assert_eq!(all.within_1_business_day, Some(1.0));
}

#[test]
fn waits_across_both_dst_changes_count_local_business_hours() {
    // Spring, Europe/Berlin 2026-03-29 (Sun) 02:00 -> 03:00. Buyer Fri 2026-03-27 12:00 CET
    // (11:00Z), we answer Mon 2026-03-30 09:30 CEST (07:30Z).
    // Calendar: 11:00Z Fri -> 07:30Z Mon = 2 d 20.5 h = 246,600 s (the wall clock says 69.5 h).
    // Business: Fri 12:00-17:00 = 5 h, Mon 09:00-09:30 = 0.5 h: 19,800 s. (Monday's 09:00 at
    // Friday's offset would be 08:00Z, after the answer, giving 18,000.)
    let spring = one_deal(
        "Europe/Berlin",
        vec![
            buyer(t("2026-03-27T11:00:00Z"), "alice"),
            ours(t("2026-03-30T07:30:00Z"), "alice"),
        ],
    );
    assert_eq!(spring.response_latency.ours.p50_seconds, Some(246_600));
    assert_eq!(
        spring.response_latency.ours.business_p50_seconds,
        Some(19_800)
    );
    // Autumn, 2026-10-25 (Sun) 03:00 -> 02:00. Buyer Fri 2026-10-23 12:00 CEST (10:00Z), we
    // answer Mon 2026-10-26 09:30 CET (08:30Z).
    // Calendar: 10:00Z Fri -> 08:30Z Mon = 2 d 22.5 h = 253,800 s.
    // Business: 5 h + 0.5 h = 19,800 s. (At Friday's offset Monday's 09:00 would be 07:00Z,
    // giving 5 h + 1.5 h = 23,400.)
    let autumn = one_deal(
        "Europe/Berlin",
        vec![
            buyer(t("2026-10-23T10:00:00Z"), "alice"),
            ours(t("2026-10-26T08:30:00Z"), "alice"),
        ],
    );
    assert_eq!(autumn.response_latency.ours.p50_seconds, Some(253_800));
    assert_eq!(
        autumn.response_latency.ours.business_p50_seconds,
        Some(19_800)
    );
    // Within one business day across the spring change: Fri 16:00 CET (15:00Z) is due Mon
    // 16:00 CEST = 14:00Z (not 15:00Z, 72 h later). An answer at 14:30Z is late, 13:30Z not.
    for (answer, within) in [("2026-03-30T14:30:00Z", 0.0), ("2026-03-30T13:30:00Z", 1.0)] {
        let r = one_deal(
            "Europe/Berlin",
            vec![
                buyer(t("2026-03-27T15:00:00Z"), "alice"),
                ours(t(answer), "alice"),
            ],
        );
        assert_eq!(
            r.response_latency.ours.within_1_business_day,
            Some(within),
            "{answer}"
        );
    }
}

#[test]
fn business_seconds_over_whole_weeks_and_a_dst_change() {
    let utc = chrono_tz::UTC;
    let berlin = chrono_tz::Europe::Berlin;
    // Mon 2026-01-05 09:00 -> Mon 2026-01-26 09:00: 15 weekdays x 8 h = 432,000 s.
    let mon = t("2026-01-05T09:00:00Z");
    assert_eq!(business_seconds(mon, mon + 21 * D, utc), 432_000);
    // Wed 12:00 -> Wed 12:00 three weeks later: also 15 x 8 h (5 h + 3 h at the ends).
    let wed = t("2026-01-07T12:00:00Z");
    assert_eq!(business_seconds(wed, wed + 21 * D, utc), 432_000);
    // Mon 2026-03-16 00:00 CET -> Mon 2026-04-13 00:00 CEST, over the spring change: four
    // weeks, 20 x 8 h = 576,000 s.
    assert_eq!(
        business_seconds(t("2026-03-15T23:00:00Z"), t("2026-04-12T22:00:00Z"), berlin),
        576_000
    );
    // A year, Mon 2026-01-05 00:00 -> Mon 2027-01-04 00:00: 52 weeks x 40 h = 7,488,000 s.
    assert_eq!(
        business_seconds(t("2026-01-05T00:00:00Z"), t("2027-01-04T00:00:00Z"), utc),
        7_488_000
    );
    // Garbage dates from before 1970 to beyond 9999 are clamped and cost weeks at once.
    assert!(business_seconds(i64::MIN, i64::MAX, berlin) > 0);
    // Saturday to Sunday: none; an empty or reversed interval: none.
    assert_eq!(
        business_seconds(t("2026-01-10T10:00:00Z"), t("2026-01-11T16:00:00Z"), utc),
        0
    );
    assert_eq!(business_seconds(mon, mon, utc), 0);
    assert_eq!(business_seconds(mon + H, mon, utc), 0);
}
