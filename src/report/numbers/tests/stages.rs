//! Time in stage and conversion, where momentum dies, and the per-mailbox and per-company
//! sections, on fixture records with hand-checked numbers.

use super::{buyer, deal, ours, record, report, staged, t, D, H};
use crate::record::{DealState, DraftNote, DraftOutcome, StageSource};

#[test]
fn stages_count_skips_as_converted_collapse_repeats_and_ignore_later_changes() {
    let since = t("2026-01-01T00:00:00Z");
    let until = since + 90 * D;
    let d0 = since + D;
    let quiet = |id: &str| deal(id, "alice", DealState::WaitingOnThem, vec![vec![]]);
    let r = record(
        &[("alice", "UTC")],
        vec![
            // new 1 d, qualified 4 d, then proposal: skips demo.
            staged(
                quiet("d1"),
                &[("new", d0), ("qualified", d0 + D), ("proposal", d0 + 5 * D)],
            ),
            // new again after 2 d is no leaving: 4 d in new, then qualified until now.
            staged(
                quiet("d2"),
                &[("new", d0), ("new", d0 + 2 * D), ("qualified", d0 + 4 * D)],
            ),
            // new 10 d, then lost: no conversion.
            staged(quiet("d3"), &[("new", d0), ("lost", d0 + 10 * D)]),
            // Entered new before the window (not counted there), demo in it.
            staged(
                quiet("d4"),
                &[("new", since - 10 * D), ("demo", since + 20 * D)],
            ),
            // Qualified only after `until`: as of `until` still in new.
            staged(
                quiet("d5"),
                &[("new", since + 30 * D), ("qualified", until + D)],
            ),
        ],
    );
    let rep = report(&r, since, until);
    let names: Vec<_> = rep.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "new",
            "qualified",
            "demo",
            "proposal",
            "negotiation",
            "won",
            "lost"
        ]
    );
    let [new, qualified, demo, proposal, negotiation, won, lost] = &rep.stages[..] else {
        panic!("seven stages");
    };
    // new: entered by d1, d2, d3, d5. Left after 1 d, 4 d, 10 d (d5 still in it): median is
    // rank ceil(0.5 x 3) = 2 of [1, 4, 10] d = 4 d, p90 rank ceil(2.7) = 3: 10 d. Converted:
    // d1 and d2 reached qualified, d3 only lost, d5 not before `until`: 2 of 4.
    assert_eq!(new.entered, 4);
    assert_eq!(new.median_seconds, Some(4 * D));
    assert_eq!(new.p90_seconds, Some(10 * D));
    assert_eq!(new.converted, Some(0.5));
    // Still in new at `until`: d5, since day 30 of 90: 60 d.
    assert_eq!((new.current, new.current_oldest_seconds), (1, Some(60 * D)));
    // qualified: d1 (left after 4 d, reached proposal by skipping demo) and d2 (still in it,
    // since d0 + 4 d = day 5: 85 d): 1 of 2 converted.
    assert_eq!(qualified.entered, 2);
    assert_eq!(qualified.median_seconds, Some(4 * D));
    assert_eq!(qualified.p90_seconds, Some(4 * D));
    assert_eq!(qualified.converted, Some(0.5));
    assert_eq!(
        (qualified.current, qualified.current_oldest_seconds),
        (1, Some(85 * D))
    );
    // demo: only d4, still in it since day 20: 70 d; nothing left it, so no time in stage.
    assert_eq!(demo.entered, 1);
    assert_eq!(demo.median_seconds, None);
    assert_eq!(demo.converted, Some(0.0));
    assert_eq!(demo.current_oldest_seconds, Some(70 * D));
    // proposal: d1 since day 6: 84 d.
    assert_eq!((proposal.entered, proposal.current), (1, 1));
    assert_eq!(proposal.current_oldest_seconds, Some(84 * D));
    // Nobody in negotiation or won: null, not 0.
    assert_eq!(negotiation.entered, 0);
    assert_eq!(negotiation.converted, None);
    assert_eq!(negotiation.median_seconds, None);
    assert_eq!(won.converted, None);
    // lost is terminal: no conversion even though d3 entered it; in it since day 11: 79 d.
    assert_eq!(lost.entered, 1);
    assert_eq!(lost.converted, None);
    assert_eq!(lost.current_oldest_seconds, Some(79 * D));
}

#[test]
fn stalls_are_ranked_by_deals_then_by_the_median_gap() {
    let until = t("2026-06-01T00:00:00Z");
    let since = until - 90 * D;
    let mut dark = staged(
        deal(
            "s3",
            "alice",
            DealState::Lost,
            vec![vec![ours(until - 35 * D, "alice")]],
        ),
        &[("demo", until - 60 * D), ("lost", until - 5 * D)],
    );
    dark.history[1].source = StageSource::Dark;
    let mut dark_long_ago = staged(
        deal(
            "s5",
            "alice",
            DealState::Lost,
            vec![vec![ours(since - 31 * D, "alice")]],
        ),
        &[("new", since - 40 * D), ("lost", since - D)],
    );
    dark_long_ago.history[1].source = StageSource::Dark;
    let r = record(
        &[("alice", "UTC")],
        vec![
            // (proposal, theirs): our last message 10 d ago.
            staged(
                deal(
                    "s1",
                    "alice",
                    DealState::Quiet,
                    vec![vec![
                        buyer(until - 15 * D, "alice"),
                        ours(until - 10 * D, "alice"),
                    ]],
                ),
                &[("proposal", until - 20 * D)],
            ),
            // (proposal, theirs): 4 d.
            staged(
                deal(
                    "s2",
                    "alice",
                    DealState::Quiet,
                    vec![vec![ours(until - 4 * D, "alice")]],
                ),
                &[("proposal", until - 20 * D)],
            ),
            // (demo, theirs): went dark 5 d ago, 30 d after our last message.
            dark,
            // (qualified, ours): the buyer's last message declined (the lost change is at
            // it, so the stage is the one before): gap 0.
            staged(
                deal(
                    "s4",
                    "alice",
                    DealState::Lost,
                    vec![vec![
                        ours(until - 25 * D, "alice"),
                        buyer(until - 20 * D, "alice"),
                    ]],
                ),
                &[("qualified", until - 50 * D), ("lost", until - 20 * D)],
            ),
            // Lost before the window: not counted.
            dark_long_ago,
            // Needs our reply: no stall.
            deal(
                "s6",
                "alice",
                DealState::NeedsReply,
                vec![vec![buyer(until - H, "alice")]],
            ),
            // (demo, theirs): 2 d.
            staged(
                deal(
                    "s7",
                    "alice",
                    DealState::Quiet,
                    vec![vec![ours(until - 2 * D, "alice")]],
                ),
                &[("demo", until - 30 * D)],
            ),
        ],
    );
    let rep = report(&r, since, until);
    let stalls: Vec<_> = rep
        .stalls
        .iter()
        .map(|s| {
            (
                s.stage.as_deref(),
                s.turn.as_str(),
                s.deals,
                s.median_gap_seconds,
            )
        })
        .collect();
    // proposal [4 d, 10 d] and demo [2 d, 30 d] both have 2 deals; the median (rank 1 of 2)
    // ranks proposal's 4 d above demo's 2 d.
    assert_eq!(
        stalls,
        [
            (Some("proposal"), "theirs", 2, Some(4 * D)),
            (Some("demo"), "theirs", 2, Some(2 * D)),
            (Some("qualified"), "ours", 1, Some(0)),
        ]
    );
    // Silent: s1, s2, s7; the oldest since our message 10 d ago.
    assert_eq!(rep.silent.deals, 3);
    assert_eq!(rep.silent.oldest_seconds, Some(10 * D));
    let attention: Vec<_> = rep
        .attention
        .iter()
        .map(|a| (a.deal.as_str(), a.state.as_str(), a.waiting_seconds))
        .collect();
    assert_eq!(
        attention,
        [
            ("s1", "quiet", 10 * D),
            ("s2", "quiet", 4 * D),
            ("s7", "quiet", 2 * D),
            ("s6", "needs_reply", H),
        ]
    );
}

#[test]
fn sections_per_mailbox_and_company_with_their_drafts() {
    let until = t("2026-06-01T00:00:00Z");
    let since = until - 90 * D;
    let at = until - 10 * D;
    let touched = |id: &str, owner: &str, company: Option<&str>, when: i64| {
        let mut d = deal(
            id,
            owner,
            DealState::WaitingOnThem,
            vec![vec![buyer(when, owner), ours(when + H, owner)]],
        );
        d.company = company.map(String::from);
        d
    };
    let note = |mailbox: &str, thread: &str, at: i64, outcome| DraftNote {
        mailbox: mailbox.into(),
        thread_id: thread.into(),
        at,
        outcome,
    };
    let mut r = record(
        &[("alice", "UTC"), ("bob", "UTC"), ("carol", "UTC")],
        vec![
            touched("a1", "alice", Some("acme.example"), at),
            touched("a2", "bob", Some("acme.example"), at),
            touched("b1", "alice", Some("beta.example"), at),
            touched("f1", "bob", None, at),
            // Touched only before the window: neither a deal of the window nor a company.
            touched("g1", "alice", Some("gamma.example"), since - 5 * D),
        ],
    );
    r.drafts = vec![
        note("alice", "a1/0", at, DraftOutcome::SentAsWritten),
        note("alice", "b1/0", at, DraftOutcome::Pending),
        note("bob", "a2/0", at, DraftOutcome::SentEdited),
        note("bob", "f1/0", at, DraftOutcome::Ignored),
        // Outside the half-open window.
        note("alice", "a1/0", since - 1, DraftOutcome::SentAsWritten),
        note("bob", "a2/0", until, DraftOutcome::SentEdited),
    ];
    let rep = report(&r, since, until);
    let d = &rep.drafts;
    assert_eq!(
        (
            d.written,
            d.sent_as_written,
            d.sent_edited,
            d.ignored,
            d.pending
        ),
        (4, 1, 1, 1, 1)
    );
    let mailboxes: Vec<_> = rep
        .mailboxes
        .iter()
        .map(|s| (s.name.as_str(), s.deals, s.drafts.written))
        .collect();
    // alice: a1 and b1 (g1 untouched in the window); bob: a2 and f1; carol: nothing.
    assert_eq!(mailboxes, [("alice", 2, 2), ("bob", 2, 2), ("carol", 0, 0)]);
    assert_eq!(rep.mailboxes[0].response_latency.ours.answered, 2);
    assert_eq!(rep.mailboxes[2].response_latency.ours.p50_seconds, None);
    // acme: a1 and a2 across two mailboxes, one record; its drafts by thread.
    let companies: Vec<_> = rep
        .companies
        .iter()
        .map(|s| (s.name.as_str(), s.deals, s.drafts.written))
        .collect();
    assert_eq!(companies, [("acme.example", 2, 2), ("beta.example", 1, 1)]);
    assert_eq!(rep.companies[0].response_latency.ours.p50_seconds, Some(H));
}

#[test]
fn attention_lists_the_twenty_longest_waits() {
    let until = t("2026-06-01T00:00:00Z");
    let deals = (1..=25)
        .map(|k| {
            deal(
                &format!("n{k:02}"),
                "alice",
                DealState::NeedsReply,
                vec![vec![buyer(until - k * H, "alice")]],
            )
        })
        .collect();
    let rep = report(&record(&[("alice", "UTC")], deals), until - 90 * D, until);
    assert_eq!(rep.attention.len(), 20);
    assert_eq!(rep.attention[0].deal, "n25");
    assert_eq!(rep.attention[19].deal, "n06");
    assert_eq!(rep.needs_reply.open, 25);
    assert_eq!(rep.needs_reply.oldest_seconds, Some(25 * H));
}

#[test]
fn a_deal_back_in_a_stage_counts_once_with_its_first_stay() {
    // new 1 d, qualified 1 d, back to new 1 d, qualified again 3 d, then demo.
    let since = t("2026-01-01T00:00:00Z");
    let d0 = since + D;
    let r = record(
        &[("alice", "UTC")],
        vec![staged(
            deal("d", "alice", DealState::WaitingOnThem, vec![vec![]]),
            &[
                ("new", d0),
                ("qualified", d0 + D),
                ("new", d0 + 2 * D),
                ("qualified", d0 + 3 * D),
                ("demo", d0 + 6 * D),
            ],
        )],
    );
    let rep = report(&r, since, since + 90 * D);
    let (new, qualified) = (&rep.stages[0], &rep.stages[1]);
    // Each stage: entered once, its first stay in the window (1 d each), and converted,
    // since demo came later.
    assert_eq!((new.entered, new.median_seconds), (1, Some(D)));
    assert_eq!((qualified.entered, qualified.median_seconds), (1, Some(D)));
    assert_eq!((new.converted, qualified.converted), (Some(1.0), Some(1.0)));
    assert_eq!(rep.stages[2].current, 1);
}
