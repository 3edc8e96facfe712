//! Follow-up cases: when our unanswered message is due a nudge, how nudges are counted and capped,
//! the follow-up window, evidence from other threads that the silence is over, and the full text
//! of a reply and a follow-up reason.

use super::*;

#[test]
fn follow_up_timing() {
    use Want::*;
    let offer = |sent: &str| {
        vec![
            mail(ANNA, &[ME], "2026-11-02 09:00"),
            mail(ME, &[ANNA], sent),
        ]
    };
    check(vec![
        case(
            "proposal 4 business days ago",
            offer("2026-11-16 10:00"),
            "2026-11-20 10:00",
            FollowUp(1, 1),
        ),
        case(
            "proposal 2 business days ago: waiting with the due date",
            offer("2026-11-23 10:00"),
            "2026-11-25 10:00",
            Quiet("waiting: follow-up due Thu 2026-11-26 10:00 UTC"),
        ),
        case(
            "due exactly at the deadline",
            offer("2026-11-23 10:00"),
            "2026-11-26 10:00",
            FollowUp(1, 1),
        ),
        case(
            "a minute before the deadline",
            offer("2026-11-23 10:00"),
            "2026-11-26 09:59",
            Quiet("waiting"),
        ),
        case(
            "Fri -> Wed is 3 business days",
            offer("2026-11-20 10:00"),
            "2026-11-25 10:00",
            FollowUp(1, 1),
        ),
        case(
            "Fri -> Tue is 2 business days",
            offer("2026-11-20 10:00"),
            "2026-11-24 10:00",
            Quiet("follow-up due Wed 2026-11-25 10:00 UTC"),
        ),
        case(
            "Fri -> Mon a week later is plenty",
            offer("2026-11-20 10:00"),
            "2026-11-30 10:00",
            FollowUp(1, 1),
        ),
        case(
            "sent Saturday counts from Monday 00:00",
            offer("2026-11-21 15:00"),
            "2026-11-25 23:59",
            Quiet("follow-up due Thu 2026-11-26 00:00 UTC"),
        ),
        case(
            "sent Saturday, due Thursday 00:00",
            offer("2026-11-21 15:00"),
            "2026-11-26 00:00",
            FollowUp(1, 1),
        ),
        case(
            "sent Sunday night, due Thursday 00:00",
            offer("2026-11-22 23:00"),
            "2026-11-26 00:00",
            FollowUp(1, 1),
        ),
        case(
            "sent Sunday night, not yet Wednesday night",
            offer("2026-11-22 23:00"),
            "2026-11-25 23:00",
            Quiet("follow-up due Thu 2026-11-26 00:00 UTC"),
        ),
        case(
            "one business day configured: Fri -> Mon",
            offer("2026-11-20 10:00"),
            "2026-11-23 10:00",
            FollowUp(1, 1),
        )
        .rules(|r| r.followup_business_days = 1),
        case(
            "one business day configured: Fri -> Sun is not yet",
            offer("2026-11-20 10:00"),
            "2026-11-22 10:00",
            Quiet("follow-up due Mon 2026-11-23 10:00 UTC"),
        )
        .rules(|r| r.followup_business_days = 1),
        case(
            "ten business days configured are two weeks",
            offer("2026-11-16 10:00"),
            "2026-11-27 10:00",
            Quiet("follow-up due Mon 2026-11-30 10:00 UTC"),
        )
        .rules(|r| r.followup_business_days = 10),
        // 23:30 UTC Friday is Saturday 00:30 in Berlin (counts from Mon 00:00, due Thu 00:00
        // CET = Wed 23:00 UTC) but Friday 18:30 in New York (due Wed 18:30 EST = 23:30 UTC).
        case(
            "Fri 23:30 UTC in Berlin is Saturday: due Wed 23:00 UTC",
            offer("2026-11-20 23:30"),
            "2026-11-25 23:15",
            FollowUp(1, 1),
        )
        .tz(BERLIN),
        case(
            "Fri 23:30 UTC in New York is Friday: due Wed 23:30 UTC",
            offer("2026-11-20 23:30"),
            "2026-11-25 23:15",
            Quiet("follow-up due Wed 2026-11-25 18:30 EST"),
        )
        .tz(NEW_YORK),
        case(
            "Fri 23:30 UTC in UTC is Friday too",
            offer("2026-11-20 23:30"),
            "2026-11-25 23:15",
            Quiet("due Wed 2026-11-25 23:30 UTC"),
        ),
        // 23:30 UTC Sunday is Monday 00:30 in Berlin (due Thu 00:30 CET = Wed 23:30 UTC) but
        // Sunday 18:30 in New York (counts from Mon 00:00, due Thu 00:00 EST = Thu 05:00 UTC).
        case(
            "Sun 23:30 UTC in Berlin is Monday: due Wed 23:30 UTC",
            offer("2026-11-22 23:30"),
            "2026-11-25 23:45",
            FollowUp(1, 1),
        )
        .tz(BERLIN),
        case(
            "Sun 23:30 UTC in New York is Sunday: due Thu 05:00 UTC",
            offer("2026-11-22 23:30"),
            "2026-11-25 23:45",
            Quiet("follow-up due Thu 2026-11-26 00:00 EST"),
        )
        .tz(NEW_YORK),
        case(
            "Sun 23:30 UTC in New York, Thursday morning UTC",
            offer("2026-11-22 23:30"),
            "2026-11-26 05:00",
            FollowUp(1, 1),
        )
        .tz(NEW_YORK),
        // Berlin springs forward on Sun 2026-03-29: Fri 10:00 CET -> Wed 10:00 CEST (08:00 UTC).
        case(
            "across the spring DST change: due on local wall-clock time",
            vec![
                mail(ANNA, &[ME], "2026-03-26 09:00"),
                mail(ME, &[ANNA], "2026-03-27 09:00"),
            ],
            "2026-04-01 07:59",
            Quiet("follow-up due Wed 2026-04-01 10:00 CEST"),
        )
        .tz(BERLIN),
        case(
            "across the spring DST change: due at 08:00 UTC",
            vec![
                mail(ANNA, &[ME], "2026-03-26 09:00"),
                mail(ME, &[ANNA], "2026-03-27 09:00"),
            ],
            "2026-04-01 08:00",
            FollowUp(1, 1),
        )
        .tz(BERLIN),
        case(
            "the reason names the wait and the nudge",
            offer("2026-11-16 10:00"),
            "2026-11-20 10:00",
            FollowUp(1, 1),
        ),
        case(
            "our message dated in the future: waiting",
            offer("2026-11-24 10:00"),
            "2026-11-23 10:00",
            Quiet("waiting"),
        ),
    ]);
}

#[test]
fn follow_up_counts_windows_and_evidence() {
    use Want::*;
    check(vec![
        case("second nudge",
            vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-09 10:00"),
                 mail(ME, &[ANNA], "2026-11-16 10:00")],
            "2026-11-20 10:00", FollowUp(2, 2)),
        case("second nudge not yet due: the wait restarts at our last follow-up",
            vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-09 10:00"),
                 mail(ME, &[ANNA], "2026-11-16 10:00")],
            "2026-11-18 10:00",
            Quiet("we followed up with anna@buyer.example on 2026-11-16 10:00 UTC (follow-up 1); waiting: follow-up due Thu 2026-11-19 10:00 UTC")),
        case("maximum follow-ups reached",
            vec![mail(ANNA, &[ME], "2026-11-02 09:00"), mail(ME, &[ANNA], "2026-11-02 10:00"),
                 mail(ME, &[ANNA], "2026-11-06 10:00"), mail(ME, &[ANNA], "2026-11-12 10:00")],
            "2026-11-23 10:00", Quiet("already followed up 2 times (maximum 2)")),
        case("a maximum of 3 allows a third nudge",
            vec![mail(ANNA, &[ME], "2026-11-02 09:00"), mail(ME, &[ANNA], "2026-11-02 10:00"),
                 mail(ME, &[ANNA], "2026-11-06 10:00"), mail(ME, &[ANNA], "2026-11-12 10:00")],
            "2026-11-23 10:00", FollowUp(3, 3))
            .rules(|r| r.max_followups = 3),
        case("follow-ups turned off",
            vec![mail(ANNA, &[ME], "2026-11-02 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00")],
            "2026-11-23 10:00", Quiet("follow-ups are turned off (max_followups = 0)"))
            .rules(|r| r.max_followups = 0),
        case("a buyer message in between restarts the count",
            vec![mail(ANNA, &[ME], "2026-11-02 09:00"), mail(ME, &[ANNA], "2026-11-02 10:00"),
                 mail(ME, &[ANNA], "2026-11-06 10:00"), mail(ANNA, &[ME], "2026-11-10 10:00"),
                 mail(ME, &[ANNA], "2026-11-16 10:00")],
            "2026-11-23 10:00", FollowUp(4, 1)),
        case("a colleague answered, we nudged: one follow-up already sent",
            vec![mail(ANNA, &[ME], "2026-11-02 09:00"), mail(BOB, &[ANNA], "2026-11-02 10:00").cc(&[ME]),
                 mail(ME, &[ANNA], "2026-11-09 10:00")],
            "2026-11-23 10:00", FollowUp(2, 2)),
        case("an out-of-office between our messages is not counted, and not an answer",
            vec![mail(ANNA, &[ME], "2026-11-02 09:00"), mail(ME, &[ANNA], "2026-11-02 10:00"),
                 mail(ANNA, &[ME], "2026-11-02 10:01").ooo(), mail(ME, &[ANNA], "2026-11-09 10:00")],
            "2026-11-23 10:00", FollowUp(3, 2)),
        case("follow-up window: our message 31 days old",
            vec![mail(ANNA, &[ME], "2026-10-22 09:00"), mail(ME, &[ANNA], "2026-10-23 10:00")],
            "2026-11-23 10:00", Quiet("older than the 30-day follow-up window")),
        case("follow-up window: our message 29 days old",
            vec![mail(ANNA, &[ME], "2026-10-22 09:00"), mail(ME, &[ANNA], "2026-10-25 10:00")],
            "2026-11-23 10:00", FollowUp(1, 1)),
        case("an old buyer message does not matter for a follow-up",
            vec![mail(ANNA, &[ME], "2026-09-01 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00")],
            "2026-11-23 10:00", FollowUp(1, 1)),
        case("cold outreach",
            vec![mail(ME, &[ANNA], "2026-11-16 10:00")],
            "2026-11-23 10:00",
            Quiet("we wrote to anna@buyer.example on 2026-11-16 10:00 UTC, but nobody outside has written in this thread")),
        case("cold outreach, nudged once by hand",
            vec![mail(ME, &[ANNA], "2026-11-09 10:00"), mail(ME, &[ANNA], "2026-11-16 10:00")],
            "2026-11-23 10:00", Quiet("outreach, not a deal")),
        case("a colleague wrote first, then we wrote outside: still outreach",
            vec![mail(BOB, &[ME], "2026-11-09 10:00"), mail(ME, &[ANNA], "2026-11-16 10:00").cc(&[BOB])],
            "2026-11-23 10:00", Quiet("outreach")),
        // Review 1.3.1 and issue 8: a silence ends only in its own thread unless the seller asks
        // for the stricter rule. A repeat buyer's new RFQ is no answer to last week's quote.
        case("the buyer wrote in another thread after our message: the silence goes on",
            vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00")],
            "2026-11-23 10:00", FollowUp(1, 1))
            .contact(ANNA, Contact { received: 3, sent: 2, last_inbound_from_person: Some(ts("2026-11-18 08:00")), last_inbound_from_org: Some(ts("2026-11-18 08:00")) }),
        case("followup_stops_on = person: the buyer wrote in another thread after our message",
            vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00")],
            "2026-11-23 10:00",
            Quiet("anna@buyer.example wrote to us on 2026-11-18 08:00 UTC (in another thread), so the silence is over"))
            .rules(|r| r.followup_stops_on = StopsOn::Person)
            .contact(ANNA, Contact { received: 3, sent: 2, last_inbound_from_person: Some(ts("2026-11-18 08:00")), last_inbound_from_org: Some(ts("2026-11-18 08:00")) }),
        case("followup_stops_on = person: only her colleague wrote since",
            vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00")],
            "2026-11-23 10:00", FollowUp(1, 1))
            .rules(|r| r.followup_stops_on = StopsOn::Person)
            .contact(ANNA, Contact { received: 3, sent: 2, last_inbound_from_person: Some(ts("2026-11-12 08:00")), last_inbound_from_org: Some(ts("2026-11-18 08:00")) }),
        case("followup_stops_on = company: the buyer's organisation wrote in another thread",
            vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00")],
            "2026-11-23 10:00",
            Quiet("someone at buyer.example wrote on 2026-11-18 08:00 UTC (in another thread), so the silence is over"))
            .rules(|r| r.followup_stops_on = StopsOn::Company)
            .contact(ANNA, Contact { received: 3, sent: 2, last_inbound_from_person: None, last_inbound_from_org: Some(ts("2026-11-18 08:00")) }),
        case("followup_stops_on = company: the organisation last wrote before our message",
            vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00")],
            "2026-11-23 10:00", FollowUp(1, 1))
            .rules(|r| r.followup_stops_on = StopsOn::Company)
            .contact(ANNA, Contact { received: 3, sent: 2, last_inbound_from_person: None, last_inbound_from_org: Some(ts("2026-11-16 09:59")) }),
        case("followup_stops_on = company: a copied third party's organisation wrote after our message",
            vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00").cc(&[DAVE])],
            "2026-11-23 10:00", Quiet("someone at partner.example wrote"))
            .rules(|r| r.followup_stops_on = StopsOn::Company)
            .contact(DAVE, Contact { received: 1, sent: 1, last_inbound_from_person: None, last_inbound_from_org: Some(ts("2026-11-17 08:00")) }),
        case("the one-way rule does not stop a follow-up",
            vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00")],
            "2026-11-23 10:00", FollowUp(1, 1))
            .contact(ANNA, Contact { received: 20, sent: 0, last_inbound_from_person: None, last_inbound_from_org: None }),
        case("our undated last message starts no follow-up window",
            vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00").undated().answers(0)],
            "2026-11-23 10:00", Quiet("too old to follow up on")),
        case("an undated buyer message still makes a reply expected",
            vec![mail(ANNA, &[ME], "2026-11-09 09:00").undated(), mail(ME, &[ANNA], "2026-11-16 10:00")],
            "2026-11-23 10:00", FollowUp(1, 1)),
        case("an earlier message without From is no buyer",
            vec![mail(ANNA, &[ME], "2026-11-09 09:00").no_from(), mail(ME, &[ANNA], "2026-11-16 10:00")],
            "2026-11-23 10:00", Quiet("outreach")),
    ]);
}

#[test]
fn reply_and_follow_up_reasons_in_full() {
    let c = case(
        "",
        vec![mail(ANNA, &[ME], "2026-11-23 08:14").named("Anna Buyer")],
        "2026-11-25 12:00",
        Want::Reply(0),
    )
    .tz(BERLIN);
    assert_eq!(
        run(&c).reason(),
        "Anna Buyer <anna@buyer.example> wrote on 2026-11-23 09:14 CET and nobody on our side answered (2 days ago)"
    );
    let c = case(
        "",
        vec![
            mail(ANNA, &[ME], "2026-11-02 09:00"),
            mail(ME, &[ANNA], "2026-11-16 10:00"),
        ],
        "2026-11-20 10:00",
        Want::FollowUp(1, 1),
    );
    assert_eq!(
        run(&c).reason(),
        "we answered anna@buyer.example on 2026-11-16 10:00 UTC and heard nothing for 3 business days (due Thu 2026-11-19 10:00 UTC); follow-up 1 of 2"
    );
}

#[test]
fn out_of_office_return_date_moves_the_follow_up() {
    use Want::*;
    // Our proposal on Mon 16 Nov is normally due a follow-up on Thu 19 Nov 10:00.
    let away = |back: &str| {
        vec![
            mail(ANNA, &[ME], "2026-11-13 09:00"),
            mail(ME, &[ANNA], "2026-11-16 10:00"),
            mail(ANNA, &[ME], "2026-11-16 10:01").back(back),
        ]
    };
    check(vec![
        case("back Fri 27 Nov: not before Mon 30 Nov",
            away("2026-11-27"), "2026-11-20 10:00",
            Quiet("waiting: follow-up due Mon 2026-11-30 00:00 UTC because the out-of-office reply from anna@buyer.example says they are back 2026-11-27")),
        case("back Fri 27 Nov: due on Monday's first minute",
            away("2026-11-27"), "2026-11-30 00:00", FollowUp(1, 1)),
        case("back Fri 27 Nov: Sunday night is still the weekend",
            away("2026-11-27"), "2026-11-29 23:59", Quiet("due Mon 2026-11-30 00:00 UTC")),
        case("back Wed 18 Nov, before the usual due date: the usual date holds",
            away("2026-11-18"), "2026-11-19 10:00", FollowUp(1, 1)),
        case("back Wed 18 Nov: the usual wait still applies",
            away("2026-11-18"), "2026-11-19 09:59", Quiet("follow-up due Thu 2026-11-19 10:00 UTC")),
        case("back Thu 19 Nov: the next business day, Fri 20 Nov",
            away("2026-11-19"), "2026-11-19 23:00", Quiet("due Fri 2026-11-20 00:00 UTC because")),
        case("in Berlin, Monday 00:00 CET is Sunday 23:00 UTC",
            away("2026-11-27"), "2026-11-29 23:00", FollowUp(1, 1)).tz(BERLIN),
        case("an out-of-office without a return date changes nothing",
            vec![mail(ANNA, &[ME], "2026-11-13 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00"),
                 mail(ANNA, &[ME], "2026-11-16 10:01").ooo()],
            "2026-11-19 10:00", FollowUp(1, 1)),
        case("the latest of two return dates counts",
            vec![mail(ANNA, &[ME], "2026-11-13 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00"),
                 mail(ANNA, &[ME], "2026-11-16 10:01").back("2026-11-24"),
                 mail(CARL, &[ME], "2026-11-16 10:02").back("2026-11-26")],
            "2026-11-26 12:00", Quiet("due Fri 2026-11-27 00:00 UTC")),
    ]);
    let c = case("", away("2026-11-27"), "2026-11-30 09:00", FollowUp(1, 1));
    assert_eq!(
        run(&c).reason(),
        "we answered anna@buyer.example on 2026-11-16 10:00 UTC and heard nothing for 3 business days (due Mon 2026-11-30 00:00 UTC because the out-of-office reply from anna@buyer.example says they are back 2026-11-27); follow-up 1 of 2; the later out-of-office reply (Auto-Submitted: auto-replied) from anna@buyer.example on 2026-11-16 10:01 UTC is not an answer"
    );
}

#[test]
fn explain_sees_every_check_that_led_to_a_follow_up() {
    let msgs = vec![
        mail(ANNA, &[ME], "2026-11-13 09:00"),
        mail(ME, &[ANNA], "2026-11-16 10:00"),
        mail(ANNA, &[ME], "2026-11-16 10:01").back("2026-11-27"),
    ];
    let (verdict, checks) = assess_traced(
        &thread(msgs),
        &me(),
        &Rules::default(),
        UTC,
        &|_: &str| Contact::default(),
        utc("2026-11-20 10:00"),
    );
    let rules: Vec<&str> = checks.iter().map(|c| c.rule).collect();
    assert_eq!(
        rules,
        [
            "sorting",
            "sorting",
            "sorting",
            "latest human message",
            "our latest message",
            "their side wrote first",
            "silence ends with",
            "follow-ups sent",
            "follow-up window",
            "due"
        ]
    );
    assert!(
        checks[2].outcome.contains("out-of-office reply"),
        "{checks:?}"
    );
    assert!(
        checks[9].outcome.contains("Mon 2026-11-30 00:00 UTC")
            && checks[9].outcome.contains("back 2026-11-27"),
        "{checks:?}"
    );
    assert!(verdict.reason().contains("waiting"), "{verdict:?}");
}
