//! The report's arithmetic on fixture records, every expected number worked out by hand in a
//! comment beside it. This file has the builder and the response-latency cases; business time
//! (weekends, zones, DST) is in `tests/business.rs`, stages, stalls and sections in
//! `tests/stages.rs`.

mod business;
mod stages;

use super::{compute, waits, Turn};
use crate::config::Pipeline;
use crate::record::{Deal, DealState, DealThread, Record, Side, StageChange, StageSource, Touch};
use crate::report::{Latency, Report};
use chrono::{DateTime, Utc};

const H: i64 = 3_600;
const D: i64 = 86_400;

/// Unix seconds of an RFC 3339 time.
fn t(s: &str) -> i64 {
    DateTime::parse_from_rfc3339(s).unwrap().timestamp()
}

fn utc(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

fn touch(side: Side, at: i64, mailbox: &str) -> Touch {
    Touch {
        message_id: format!("<{at}.{mailbox}@example>"),
        at,
        side,
        mailbox: mailbox.into(),
        from: match side {
            Side::Buyer => "buyer@acme.example".into(),
            _ => format!("{mailbox}@us.example"),
        },
        to: vec![],
    }
}

fn buyer(at: i64, mailbox: &str) -> Touch {
    touch(Side::Buyer, at, mailbox)
}

fn ours(at: i64, mailbox: &str) -> Touch {
    touch(Side::Ours, at, mailbox)
}

/// A deal owned by `owner`, one thread per list of touches (ids `{id}/0`, `{id}/1`, ...).
fn deal(id: &str, owner: &str, state: DealState, threads: Vec<Vec<Touch>>) -> Deal {
    Deal {
        id: id.into(),
        company: Some("acme.example".into()),
        contacts: vec!["buyer@acme.example".into()],
        threads: threads
            .into_iter()
            .enumerate()
            .map(|(i, touches)| DealThread {
                id: format!("{id}/{i}"),
                subject: format!("subject of {id}/{i}"),
                touches,
            })
            .collect(),
        owner: owner.into(),
        value: None,
        state,
        stage: None,
        history: vec![],
        overruled: Vec::new(),
        joined: vec![],
    }
}

/// `deal` with these stage changes (inferred), the last one its current stage.
fn staged(mut deal: Deal, changes: &[(&str, i64)]) -> Deal {
    deal.history = changes
        .iter()
        .map(|&(stage, at)| StageChange {
            stage: stage.into(),
            at,
            message_id: None,
            source: StageSource::Inferred,
            evidence: None,
        })
        .collect();
    deal.stage = changes.last().map(|c| c.0.to_string());
    deal
}

fn record(mailboxes: &[(&str, &str)], deals: Vec<Deal>) -> Record {
    Record {
        built_at: 0,
        mailboxes: mailboxes
            .iter()
            .map(|&(m, tz)| (m.to_string(), tz.to_string()))
            .collect(),
        deals,
        ..Record::default()
    }
}

fn report(record: &Record, since: i64, until: i64) -> Report {
    compute(record, &Pipeline::default(), utc(since), utc(until))
}

/// A report of one deal owned by mailbox "alice" in `tz`, over the 30 days from its first
/// touch.
fn one_deal(tz: &str, touches: Vec<Touch>) -> Report {
    let since = touches.first().map_or(0, |t| t.at);
    let r = record(
        &[("alice", tz)],
        vec![deal("d", "alice", DealState::WaitingOnThem, vec![touches])],
    );
    report(&r, since, since + 30 * D)
}

#[test]
fn the_window_is_half_open() {
    let since = t("2026-02-02T00:00:00Z");
    let until = since + 7 * D;
    let r = record(
        &[("alice", "UTC")],
        vec![
            // Opened exactly at `since`: counts, answered in 600 s. Our answer opens a
            // "theirs" wait at since + 600, still waiting.
            deal(
                "a",
                "alice",
                DealState::WaitingOnThem,
                vec![vec![buyer(since, "alice"), ours(since + 600, "alice")]],
            ),
            // Opened exactly at `until`: does not count.
            deal(
                "b",
                "alice",
                DealState::NeedsReply,
                vec![vec![buyer(until, "alice")]],
            ),
            // Opened a second before `since`: does not count; our answer at since + 100 opens
            // a "theirs" wait that does.
            deal(
                "c",
                "alice",
                DealState::WaitingOnThem,
                vec![vec![buyer(since - 1, "alice"), ours(since + 100, "alice")]],
            ),
            // Opened an hour before `until`, answered exactly at `until`: still waiting at
            // `until`, 3,600 s old; the answer's own "theirs" wait opens at `until`: not counted.
            deal(
                "d",
                "alice",
                DealState::WaitingOnThem,
                vec![vec![buyer(until - H, "alice"), ours(until, "alice")]],
            ),
        ],
    );
    let rep = report(&r, since, until);
    let l = &rep.response_latency;
    assert_eq!((l.ours.answered, l.ours.waiting), (1, 1));
    assert_eq!(l.ours.p50_seconds, Some(600));
    assert_eq!(l.ours.oldest_waiting_seconds, Some(3_600));
    // Theirs: a's (since + 600) and c's (since + 100) wait; oldest 7 d - 100 s = 604,700 s.
    assert_eq!((l.theirs.answered, l.theirs.waiting), (0, 2));
    assert_eq!(l.theirs.oldest_waiting_seconds, Some(604_700));
    // Deals touched in the window: a, c and d (b's only touch is at `until`).
    assert_eq!(rep.mailboxes[0].deals, 3);
}

#[test]
fn unanswered_waits_are_counted_apart_with_the_oldest() {
    let until = t("2026-06-01T12:00:00Z");
    let r = record(
        &[("alice", "UTC")],
        vec![
            deal(
                "answered",
                "alice",
                DealState::WaitingOnThem,
                vec![vec![
                    buyer(until - 3 * D, "alice"),
                    ours(until - 3 * D + H, "alice"),
                ]],
            ),
            // Two buyer messages in a row: one wait, from the first (2 d before `until`).
            deal(
                "old",
                "alice",
                DealState::NeedsReply,
                vec![vec![
                    buyer(until - 2 * D, "alice"),
                    buyer(until - D, "alice"),
                ]],
            ),
            deal(
                "new",
                "alice",
                DealState::NeedsReply,
                vec![vec![buyer(until - 5 * H, "alice")]],
            ),
        ],
    );
    let rep = report(&r, until - 90 * D, until);
    let ours = &rep.response_latency.ours;
    assert_eq!((ours.answered, ours.waiting), (1, 2));
    assert_eq!(ours.oldest_waiting_seconds, Some(2 * D));
    // Over the one answered wait: 3,600 s, within the hour (3,600 <= 3,600) and the "1h" bar.
    assert_eq!(ours.p50_seconds, Some(3_600));
    assert_eq!(ours.within_1h, Some(1.0));
    assert_eq!(ours.histogram[2].label, "1h");
    assert_eq!(ours.histogram[2].count, 1);
    // Needs reply: "old" and "new"; the oldest since the first of the unanswered run.
    assert_eq!(rep.needs_reply.open, 2);
    assert_eq!(rep.needs_reply.oldest_seconds, Some(2 * D));
    // Attention: oldest first.
    let order: Vec<_> = rep.attention.iter().map(|a| a.deal.as_str()).collect();
    assert_eq!(order, ["old", "new"]);
    assert_eq!(rep.attention[0].waiting_seconds, 2 * D);
    assert_eq!(rep.attention[0].subject, "subject of old/0");
    assert_eq!(rep.attention[0].state, "needs_reply");
}

#[test]
fn a_colleague_reply_closes_our_wait() {
    // Buyer at 0, a colleague answers 30 min later, we write again 2 h later.
    let t0 = t("2026-11-02T10:00:00Z");
    let r = one_deal(
        "UTC",
        vec![
            buyer(t0, "alice"),
            touch(Side::Colleague, t0 + 1_800, "alice"),
            ours(t0 + 2 * H, "alice"),
        ],
    );
    let l = &r.response_latency;
    assert_eq!((l.ours.answered, l.ours.waiting), (1, 0));
    assert_eq!(l.ours.p50_seconds, Some(1_800));
    // The colleague's message opens the "theirs" wait, ours after it does not open another.
    assert_eq!((l.theirs.answered, l.theirs.waiting), (0, 1));
    // Open since t0 + 30 min, at `until` = t0 + 30 d.
    assert_eq!(l.theirs.oldest_waiting_seconds, Some(30 * D - 1_800));
}

#[test]
fn messages_in_a_row_open_one_wait_at_the_first() {
    // Buyer at 0 and 1 h, we at 3 h and 4 h, buyer at 27 h.
    let t0 = t("2026-11-03T08:00:00Z");
    let touches = vec![
        buyer(t0, "alice"),
        buyer(t0 + H, "alice"),
        ours(t0 + 3 * H, "alice"),
        ours(t0 + 4 * H, "alice"),
        buyer(t0 + 27 * H, "alice"),
    ];
    let r = one_deal("UTC", touches.clone());
    let l = &r.response_latency;
    // Ours: 0 -> 3 h = 10,800 s, then the buyer's 27 h message waits.
    assert_eq!((l.ours.answered, l.ours.waiting), (1, 1));
    assert_eq!(l.ours.p50_seconds, Some(10_800));
    // Theirs: 3 h -> 27 h = 86,400 s.
    assert_eq!((l.theirs.answered, l.theirs.waiting), (1, 0));
    assert_eq!(l.theirs.p50_seconds, Some(86_400));
    // The same waits as `waits` gives them (for the metrics), in the order they opened.
    let rec = record(
        &[("alice", "UTC")],
        vec![deal("d", "alice", DealState::NeedsReply, vec![touches])],
    );
    let all = waits(&rec, DateTime::<Utc>::MIN_UTC, utc(t0 + 30 * H));
    let seen: Vec<_> = all.iter().map(|w| (w.turn, w.opened, w.closed)).collect();
    assert_eq!(
        seen,
        [
            (Turn::Ours, t0, Some(t0 + 3 * H)),
            (Turn::Theirs, t0 + 3 * H, Some(t0 + 27 * H)),
            (Turn::Ours, t0 + 27 * H, None),
        ]
    );
    assert_eq!(all[0].seconds(), Some(10_800));
    assert_eq!(all[2].seconds(), None);
}

#[test]
fn percentiles_are_nearest_rank_on_one_two_and_ten_values() {
    use super::waits::percentile;
    assert_eq!(percentile(&[], 50), None);
    // One value: it is every percentile.
    assert_eq!(percentile(&[7], 50), Some(7));
    assert_eq!(percentile(&[7], 90), Some(7));
    // Two: p50 is rank ceil(1.0) = 1, p90 rank ceil(1.8) = 2.
    assert_eq!(percentile(&[10, 20], 50), Some(10));
    assert_eq!(percentile(&[10, 20], 90), Some(20));
    // Ten answered waits of 1..10 minutes, one thread each: p50 rank 5 = 300 s, p90 rank 9 =
    // 540 s; 1-5 min in the "5m" bar, 6-10 min in "15m"; all within the hour.
    let t0 = t("2026-11-04T10:00:00Z");
    let threads = (1..=10)
        .map(|k| vec![buyer(t0, "alice"), ours(t0 + 60 * k, "alice")])
        .collect();
    let r = record(
        &[("alice", "UTC")],
        vec![deal("d", "alice", DealState::WaitingOnThem, threads)],
    );
    let until = t("2026-12-01T00:00:00Z");
    let ours: Latency = report(&r, until - 90 * D, until).response_latency.ours;
    assert_eq!(ours.answered, 10);
    assert_eq!(ours.p50_seconds, Some(300));
    assert_eq!(ours.p90_seconds, Some(540));
    assert_eq!(ours.within_1h, Some(1.0));
    let counts: Vec<_> = ours.histogram.iter().map(|b| b.count).collect();
    assert_eq!(counts, [5, 5, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn no_data_is_null_never_zero() {
    let r = record(&[("alice", "Nowhere/Unknown")], vec![]);
    let rep = report(&r, 0, t("2026-12-01T00:00:00Z"));
    let json = serde_json::to_value(&rep).unwrap();
    for side in ["ours", "theirs"] {
        let l = &json["response_latency"][side];
        assert_eq!(l["answered"], 0);
        assert_eq!(l["waiting"], 0);
        for key in [
            "oldest_waiting_seconds",
            "p50_seconds",
            "p90_seconds",
            "within_1h",
            "within_1_business_day",
            "business_p50_seconds",
            "business_p90_seconds",
        ] {
            assert!(l[key].is_null(), "{side}.{key}: {}", l[key]);
        }
    }
    assert_eq!(json["stages"].as_array().unwrap().len(), 7);
    for s in json["stages"].as_array().unwrap() {
        assert_eq!(s["entered"], 0);
        for key in [
            "median_seconds",
            "p90_seconds",
            "converted",
            "current_oldest_seconds",
        ] {
            assert!(s[key].is_null(), "{}.{key}", s["name"]);
        }
    }
    assert!(json["needs_reply"]["oldest_seconds"].is_null());
    assert!(json["silent"]["oldest_seconds"].is_null());
    assert_eq!(json["drafts"]["written"], 0);
    assert_eq!(rep.mailboxes.len(), 1);
    assert!(rep.companies.is_empty() && rep.stalls.is_empty() && rep.attention.is_empty());
}

#[test]
fn odd_input_gives_numbers_not_panics() {
    // Dates at both ends of i64, answers dated before their question, an empty thread, a
    // stage the pipeline does not know, history out of order, states that disagree with the
    // touches: the report is computed over whole time without overflow or panic.
    let weird = vec![
        buyer(i64::MAX, "nobody"),
        ours(i64::MIN, "alice"),
        buyer(0, "alice"),
        ours(-5, "alice"),
    ];
    let mut deals = vec![
        staged(
            deal("w", "alice", DealState::NeedsReply, vec![weird, vec![]]),
            &[("Proposal", i64::MAX), ("mystery", i64::MIN), ("NEW", 0)],
        ),
        deal("q", "ghost", DealState::Quiet, vec![]),
        deal("l", "alice", DealState::Lost, vec![vec![ours(10, "alice")]]),
    ];
    deals[1].company = None;
    let r = record(&[("alice", "Not/AZone")], deals);
    let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    for (since, until) in [(min, max), (utc(0), utc(1)), (max, min)] {
        let rep = compute(&r, &Pipeline::default(), since, until);
        assert_eq!(rep.needs_reply.open, 1);
        assert_eq!(rep.silent.deals, 1);
        let _ = serde_json::to_string(&rep).unwrap();
    }
    // Answered before it was asked: 0 s, not negative. Buyer at 0, our answer dated -5.
    let r = one_deal("UTC", vec![buyer(0, "alice"), ours(-5, "alice")]);
    assert_eq!(r.response_latency.ours.p50_seconds, Some(0));
}
