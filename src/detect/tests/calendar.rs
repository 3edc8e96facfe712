//! Calendar cases: `followup_due` across weekends, time zones and DST changes, local times in a
//! DST gap or overlap, and Date values and rules at their limits that must not panic.

use super::*;
use crate::detect::calendar::local_to_utc;

#[test]
fn extreme_dates_do_not_panic() {
    for date in [
        i64::MIN,
        i64::MAX,
        -1,
        0,
        253_402_300_799,
        8_210_266_876_799,
    ] {
        for tz in [UTC, BERLIN, NEW_YORK, chrono_tz::Pacific::Kiritimati] {
            for msgs in [
                vec![mail(ANNA, &[ME], "2026-11-23 09:00")],
                vec![
                    mail(ANNA, &[ME], "2026-11-23 09:00"),
                    mail(ME, &[ANNA], "2026-11-23 09:00"),
                ],
            ] {
                let mut msgs = msgs;
                for m in &mut msgs {
                    m.date = Some(date);
                }
                let c = case("", msgs, "2026-11-23 12:00", Want::Quiet("")).tz(tz);
                assert!(!run(&c).reason().is_empty());
            }
        }
    }
    // Rules at their limits.
    let c = case(
        "",
        vec![
            mail(ANNA, &[ME], "2026-11-02 09:00"),
            mail(ME, &[ANNA], "2026-11-16 10:00"),
        ],
        "2026-11-20 10:00",
        Want::Quiet(""),
    )
    .rules(|r| {
        r.followup_business_days = u32::MAX;
        r.followup_window_days = u32::MAX;
        r.reply_window_days = u32::MAX;
    });
    assert!(run(&c).reason().contains("waiting"));
}

#[test]
fn followup_due_table() {
    // (sent UTC, business days, tz, due local as shown)
    let cases = [
        ("2026-11-23 10:00", 3, UTC, "Thu 2026-11-26 10:00 UTC"),
        ("2026-11-20 10:00", 3, UTC, "Wed 2026-11-25 10:00 UTC"),
        ("2026-11-20 10:00", 2, UTC, "Tue 2026-11-24 10:00 UTC"),
        ("2026-11-20 10:00", 5, UTC, "Fri 2026-11-27 10:00 UTC"),
        ("2026-11-20 10:00", 6, UTC, "Mon 2026-11-30 10:00 UTC"),
        ("2026-11-21 15:00", 1, UTC, "Tue 2026-11-24 00:00 UTC"),
        ("2026-11-22 15:00", 5, UTC, "Mon 2026-11-30 00:00 UTC"),
        ("2026-11-20 23:30", 3, BERLIN, "Thu 2026-11-26 00:00 CET"),
        ("2026-11-20 23:30", 3, NEW_YORK, "Wed 2026-11-25 18:30 EST"),
        // Monday 04:00 UTC is still Sunday in New York: counts from Monday 00:00 there.
        ("2026-11-23 04:00", 1, NEW_YORK, "Tue 2026-11-24 00:00 EST"),
        ("2026-03-27 09:00", 3, BERLIN, "Wed 2026-04-01 10:00 CEST"),
        // Berlin falls back on Sun 2026-10-25: Fri 10:00 CEST -> Wed 10:00 CET.
        ("2026-10-23 08:00", 3, BERLIN, "Wed 2026-10-28 10:00 CET"),
    ];
    for (sent, days, tz, want) in cases {
        let due = followup_due(utc(sent), days, tz);
        let got = due
            .with_timezone(&tz)
            .format("%a %Y-%m-%d %H:%M %Z")
            .to_string();
        assert_eq!(got, want, "{sent} + {days} business days in {tz}");
    }
}

#[test]
fn local_time_in_a_dst_gap_moves_past_the_gap() {
    // 02:30 on 2026-03-29 does not exist in Berlin; it becomes 03:30 CEST (01:30 UTC).
    let naive = NaiveDateTime::parse_from_str("2026-03-29 02:30", "%Y-%m-%d %H:%M").unwrap();
    assert_eq!(local_to_utc(naive, BERLIN), utc("2026-03-29 01:30"));
    // 02:30 on 2026-10-25 happens twice; the earlier is 02:30 CEST (00:30 UTC).
    let naive = NaiveDateTime::parse_from_str("2026-10-25 02:30", "%Y-%m-%d %H:%M").unwrap();
    assert_eq!(local_to_utc(naive, BERLIN), utc("2026-10-25 00:30"));
}
