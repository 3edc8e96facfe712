// Hand-built Reports for the renderings' tests: a realistic one (2 mailboxes, 3 companies, the
// 7 default stages, latency histograms, stalls, attention items with hostile subjects) and an
// empty one where most figures are None. Pasted with `include!` by src/report/term/tests.rs
// and tests/report_html.rs after `use ...::report::*;` (so it names no crate path), and not a
// module of tests/support/mod.rs. The includer wraps it in `#[allow(dead_code)] mod`.

/// A subject that must come out inert in the HTML page.
pub const HOSTILE_SUBJECT: &str = "</title><script>alert(1)</script>";

/// A subject longer than any terminal column.
pub const LONG_SUBJECT: &str =
    "Re: Follow-up on the revised pricing proposal for the 2027 fleet renewal and the SLA annex";

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().expect("an RFC 3339 time")
}

fn buckets(counts: [u64; 7]) -> Vec<Bucket> {
    let bounds = [
        (Some(900), "15m"),
        (Some(3_600), "1h"),
        (Some(4 * 3_600), "4h"),
        (Some(86_400), "1d"),
        (Some(3 * 86_400), "3d"),
        (Some(7 * 86_400), "1w"),
        (None, "more"),
    ];
    bounds
        .iter()
        .zip(counts)
        .map(|(&(le_seconds, label), count)| Bucket {
            le_seconds,
            label: label.into(),
            count,
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn latency(
    answered: u64,
    waiting: u64,
    oldest: Option<i64>,
    p50: i64,
    p90: i64,
    within_1h: f64,
    within_1bd: f64,
    histogram: [u64; 7],
) -> Latency {
    Latency {
        answered,
        waiting,
        oldest_waiting_seconds: oldest,
        p50_seconds: Some(p50),
        p90_seconds: Some(p90),
        within_1h: Some(within_1h),
        within_1_business_day: Some(within_1bd),
        business_p50_seconds: Some(p50 / 3),
        business_p90_seconds: Some(p90 / 3),
        histogram: buckets(histogram),
    }
}

fn section(name: &str, deals: u64, scale: u64) -> Section {
    Section {
        name: name.into(),
        response_latency: Latencies {
            ours: latency(
                40 * scale,
                scale,
                Some(2 * 86_400 + 4 * 3_600),
                3 * 3_600 + 20 * 60,
                86_400 + 2 * 3_600,
                0.4,
                0.92,
                [
                    8 * scale,
                    8 * scale,
                    10 * scale,
                    8 * scale,
                    4 * scale,
                    scale,
                    scale,
                ],
            ),
            theirs: latency(
                25 * scale,
                2 * scale,
                Some(9 * 86_400),
                86_400 + 2 * 3_600,
                5 * 86_400,
                0.1,
                0.45,
                [
                    scale,
                    2 * scale,
                    3 * scale,
                    6 * scale,
                    7 * scale,
                    4 * scale,
                    2 * scale,
                ],
            ),
        },
        needs_reply: Open {
            open: scale,
            oldest_seconds: Some(86_400 + 3 * 3_600),
        },
        silent: Silent {
            deals: 2 * scale,
            oldest_seconds: Some(12 * 86_400),
        },
        drafts: Drafts {
            written: 8 * scale,
            sent_as_written: 4 * scale,
            sent_edited: 2 * scale,
            ignored: scale,
            pending: scale,
            replaced: 0,
        },
        deals,
    }
}

fn stage(
    name: &str,
    entered: u64,
    median: Option<i64>,
    current: u64,
    converted: Option<f64>,
) -> StageNumbers {
    StageNumbers {
        name: name.into(),
        entered,
        median_seconds: median,
        p90_seconds: median.map(|m| m * 3),
        current,
        current_oldest_seconds: (current > 0).then_some(6 * 86_400 + 5 * 3_600),
        converted,
    }
}

fn attention(
    i: usize,
    subject: &str,
    state: &str,
    stage: Option<&str>,
    company: Option<&str>,
) -> Attention {
    Attention {
        deal: format!("deal-{i:03}"),
        subject: subject.into(),
        mailbox: ["alice", "bob"][i % 2].into(),
        company: company.map(Into::into),
        state: state.into(),
        stage: stage.map(Into::into),
        waiting_seconds: (14 - i as i64) * 86_400 + 3_600,
    }
}

/// Two mailboxes, three companies, all seven default stages, with figures in every field.
pub fn realistic() -> Report {
    let alice = section("alice", 9, 2);
    let bob = section("bob", 5, 1);
    let mut overall = section("", 14, 3);
    overall.name.clear();
    let subjects = [
        HOSTILE_SUBJECT,
        LONG_SUBJECT,
        "Pricing for 40 seats",
        "Demo next Tuesday?",
        "Re: PO 4471 & terms \"net 60\"",
        "Security questionnaire <draft>",
        "Re: Re: renewal",
        "Intro: Globex ↔ us",
        "Question about the API limits",
        "Contract redlines v3",
        "Checking in",
        "Trial extension",
    ];
    let companies = [
        Some("acme.com"),
        Some("globex.example"),
        Some("initech.io"),
        None,
    ];
    let stages = [
        Some("proposal"),
        Some("negotiation"),
        Some("qualified"),
        None,
        Some("demo"),
    ];
    let attention = subjects
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let state = if i % 3 == 1 { "quiet" } else { "needs_reply" };
            attention(
                i,
                s,
                state,
                stages[i % stages.len()],
                companies[i % companies.len()],
            )
        })
        .collect();
    Report {
        window: Window {
            since: at("2026-09-02T12:00:00Z"),
            until: at("2026-12-01T12:00:00Z"),
        },
        mailboxes: vec![alice, bob],
        response_latency: overall.response_latency.clone(),
        stages: vec![
            stage("new", 40, Some(2 * 86_400 + 3 * 3_600), 6, Some(0.7)),
            stage("qualified", 28, Some(5 * 86_400), 5, Some(0.57)),
            stage("demo", 16, Some(8 * 86_400 + 12 * 3_600), 3, Some(0.62)),
            stage("proposal", 10, Some(11 * 86_400), 4, Some(0.5)),
            stage("negotiation", 5, Some(9 * 86_400), 2, Some(0.6)),
            stage("won", 3, None, 3, None),
            stage("lost", 7, None, 7, None),
        ],
        needs_reply: overall.needs_reply.clone(),
        silent: overall.silent.clone(),
        drafts: overall.drafts.clone(),
        companies: vec![
            section("acme.com", 6, 2),
            section("globex.example", 4, 1),
            section("initech.io", 2, 1),
        ],
        stalls: vec![
            Stall {
                stage: Some("proposal".into()),
                turn: "theirs".into(),
                deals: 5,
                median_gap_seconds: Some(16 * 86_400),
            },
            Stall {
                stage: Some("qualified".into()),
                turn: "ours".into(),
                deals: 3,
                median_gap_seconds: Some(4 * 86_400 + 6 * 3_600),
            },
            Stall {
                stage: None,
                turn: "theirs".into(),
                deals: 2,
                median_gap_seconds: Some(21 * 86_400),
            },
            Stall {
                stage: Some("demo".into()),
                turn: "theirs".into(),
                deals: 1,
                median_gap_seconds: Some(10 * 86_400),
            },
            Stall {
                stage: Some("negotiation".into()),
                turn: "ours".into(),
                deals: 1,
                median_gap_seconds: Some(3 * 86_400),
            },
            Stall {
                stage: Some("new".into()),
                turn: "ours".into(),
                deals: 1,
                median_gap_seconds: Some(2 * 86_400),
            },
        ],
        attention,
    }
}

fn empty_latency() -> Latency {
    Latency {
        answered: 0,
        waiting: 0,
        oldest_waiting_seconds: None,
        p50_seconds: None,
        p90_seconds: None,
        within_1h: None,
        within_1_business_day: None,
        business_p50_seconds: None,
        business_p90_seconds: None,
        histogram: buckets([0; 7]),
    }
}

/// One mailbox with no mail in the window: counts 0, every figure None, no stalls or attention.
pub fn empty() -> Report {
    let latencies = Latencies {
        ours: empty_latency(),
        theirs: empty_latency(),
    };
    let open = Open {
        open: 0,
        oldest_seconds: None,
    };
    let silent = Silent {
        deals: 0,
        oldest_seconds: None,
    };
    let drafts = Drafts {
        written: 0,
        sent_as_written: 0,
        sent_edited: 0,
        ignored: 0,
        pending: 0,
        replaced: 0,
    };
    let names = [
        "new",
        "qualified",
        "demo",
        "proposal",
        "negotiation",
        "won",
        "lost",
    ];
    Report {
        window: Window {
            since: at("2026-09-02T12:00:00Z"),
            until: at("2026-12-01T12:00:00Z"),
        },
        mailboxes: vec![Section {
            name: "alice".into(),
            response_latency: latencies.clone(),
            needs_reply: open.clone(),
            silent: silent.clone(),
            drafts: drafts.clone(),
            deals: 0,
        }],
        response_latency: latencies,
        stages: names.iter().map(|n| stage(n, 0, None, 0, None)).collect(),
        needs_reply: open,
        silent,
        drafts,
        companies: vec![],
        stalls: vec![],
        attention: vec![],
    }
}
