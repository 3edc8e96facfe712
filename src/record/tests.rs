//! The record built from hand-made threads: who counts as a contact, what is a deal, the
//! deal's state and its stage history.

use super::*;
use crate::config::{MailboxConfig, Pipeline};
use crate::draft::test_support::{email, mailbox};
use crate::parse::{Addr, Email};
use crate::thread::Thread;

const DAY: i64 = 86_400;
/// Monday 2026-11-02 10:00 UTC.
const MON: i64 = 1_793_613_600;

fn addr(a: &str) -> Addr {
    Addr {
        name: None,
        email: a.into(),
    }
}

fn msg(id: &str, from: &str, to: &[&str], at: i64) -> Email {
    let mut e = email(id, addr(from), "text", at);
    e.to = to.iter().map(|a| addr(a)).collect();
    e
}

fn thread(id: &str, messages: Vec<Email>) -> Thread {
    Thread {
        id: id.into(),
        messages,
    }
}

fn bob() -> MailboxConfig {
    let mut mb = mailbox();
    mb.name = "bob".into();
    mb.identity.addresses = vec!["bob@shop.example".into()];
    mb
}

fn build(mailboxes: &[MailboxConfig], threads: &[(usize, Thread, Known)], now: i64) -> Record {
    let pipeline = Pipeline::default();
    let never = |_: &str| false;
    let mut b = Builder::new(mailboxes, &pipeline, now, &never);
    for (holder, t, known) in threads {
        b.add_thread(&mailboxes[*holder], t, known.clone());
    }
    b.finish()
}

#[test]
fn two_teammates_writing_to_one_company_make_one_record() {
    let mbs = [mailbox(), bob()];
    let threads = [
        (
            0,
            thread(
                "t1",
                vec![
                    msg("a1", "carol@acme.example", &["alice@shop.example"], MON),
                    msg(
                        "a2",
                        "alice@shop.example",
                        &["carol@acme.example"],
                        MON + 3600,
                    ),
                ],
            ),
            Known::default(),
        ),
        (
            1,
            thread(
                "t2",
                vec![
                    msg("b1", "bob@shop.example", &["dave@acme.example"], MON + DAY),
                    msg(
                        "b2",
                        "dave@acme.example",
                        &["bob@shop.example"],
                        MON + 2 * DAY,
                    ),
                ],
            ),
            Known::default(),
        ),
        // The same thread listed by bob's mailbox too (he was copied): still one deal.
        (
            1,
            thread(
                "t1",
                vec![msg(
                    "a1",
                    "carol@acme.example",
                    &["alice@shop.example"],
                    MON,
                )],
            ),
            Known::default(),
        ),
    ];
    let r = build(&mbs, &threads, MON + 3 * DAY);
    assert_eq!(r.deals.len(), 2);
    assert_eq!(r.deals[0].value, None, "no figure was stated");
    let acme = &r.companies["acme.example"];
    assert_eq!(acme.contacts, ["carol@acme.example", "dave@acme.example"]);
    assert_eq!(acme.deals, ["t1", "t2"]);
    assert_eq!(r.deals[0].owner, "alice");
    assert_eq!(r.deals[1].owner, "bob");
    assert_eq!(r.deals[1].threads[0].touches[0].mailbox, "bob");
    let carol = &r.contacts["carol@acme.example"];
    assert_eq!((carol.received, carol.sent), (1, 1));
    assert_eq!(carol.last_from, Some(Side::Ours));
    assert_eq!(r.deals[0].state, DealState::WaitingOnThem);
    assert_eq!(r.deals[1].state, DealState::NeedsReply);
}

#[test]
fn a_newsletter_a_cc_and_a_colleague_make_no_contact() {
    let mbs = [mailbox()];
    let mut news = msg("n1", "news@vendor.example", &["alice@shop.example"], MON);
    news.automated = Some("List-Id: <news.vendor.example>".into());
    let mut cc = msg("c1", "alice@shop.example", &["erin@buyer.example"], MON);
    cc.cc = vec![addr("frank@buyer.example")];
    let threads = [
        (0, thread("n", vec![news]), Known::default()),
        (0, thread("c", vec![cc]), Known::default()),
        (
            0,
            thread(
                "i",
                vec![msg("i1", "carl@shop.example", &["alice@shop.example"], MON)],
            ),
            Known::default(),
        ),
    ];
    let r = build(&mbs, &threads, MON + DAY);
    let names: Vec<&str> = r.contacts.keys().map(String::as_str).collect();
    assert_eq!(names, ["erin@buyer.example"], "only the direct recipient");
    assert!(r.deals.is_empty(), "no buyer wrote: no deal");
}

#[test]
fn a_freemail_buyer_stands_alone() {
    let mbs = [mailbox()];
    let threads = [(
        0,
        thread(
            "g",
            vec![msg("g1", "pat@gmail.com", &["alice@shop.example"], MON)],
        ),
        Known::default(),
    )];
    let r = build(&mbs, &threads, MON + DAY);
    assert_eq!(r.deals[0].company, None);
    assert!(r.companies.is_empty());
    assert_eq!(r.contacts["pat@gmail.com"].company, None);
}

#[test]
fn a_sender_never_answered_after_ten_messages_is_no_deal() {
    let mbs = [mailbox()];
    let threads: Vec<_> = (0..10)
        .map(|i| {
            (
                0,
                thread(
                    &format!("s{i}"),
                    vec![msg(
                        &format!("s{i}m"),
                        "digest@tool.example",
                        &["alice@shop.example"],
                        MON + i * DAY,
                    )],
                ),
                Known::default(),
            )
        })
        .collect();
    let r = build(&mbs, &threads, MON + 11 * DAY);
    assert!(r.deals.is_empty());
    assert!(r.contacts.is_empty());
}

#[test]
fn our_last_message_goes_quiet_then_dark() {
    let mbs = [mailbox()];
    let t = thread(
        "q",
        vec![
            msg("q1", "carol@acme.example", &["alice@shop.example"], MON),
            msg(
                "q2",
                "alice@shop.example",
                &["carol@acme.example"],
                MON + 3600,
            ),
        ],
    );
    let at = |now| build(&mbs, &[(0, t.clone(), Known::default())], now).deals[0].clone();
    // Three business days (the default follow-up delay) from Monday: Thursday.
    assert_eq!(at(MON + 2 * DAY).state, DealState::WaitingOnThem);
    assert_eq!(at(MON + 3 * DAY + 3600).state, DealState::Quiet);
    let dark = at(MON + 3600 + 30 * DAY);
    assert_eq!(dark.state, DealState::Lost);
    let last = dark.history.last().unwrap();
    assert_eq!(
        (last.stage.as_str(), last.source, last.at),
        ("lost", StageSource::Dark, MON + 3600 + 30 * DAY)
    );
}

#[test]
fn a_correction_wins_over_inference_until_later_mail_moves_the_deal() {
    let mbs = [mailbox()];
    let t = thread(
        "s",
        vec![
            msg("s1", "carol@acme.example", &["alice@shop.example"], MON),
            msg(
                "s2",
                "alice@shop.example",
                &["carol@acme.example"],
                MON + DAY,
            ),
            msg(
                "s3",
                "carol@acme.example",
                &["alice@shop.example"],
                MON + 2 * DAY,
            ),
        ],
    );
    let change = |stage: &str, at, source| StageChange {
        stage: stage.into(),
        at,
        message_id: None,
        source,
        evidence: None,
    };
    let known = Known {
        inferred: vec![
            change("qualified", MON, StageSource::Inferred),
            change("negotiation", MON + 2 * DAY, StageSource::Inferred),
            change("no-such-stage", MON + 2 * DAY, StageSource::Inferred),
        ],
        corrections: vec![change("Proposal", MON + DAY, StageSource::Keyword)],
        joins: None,
    };
    let r = build(&mbs, &[(0, t, known)], MON + 2 * DAY + 60);
    let stages: Vec<(&str, StageSource)> = r.deals[0]
        .history
        .iter()
        .map(|c| (c.stage.as_str(), c.source))
        .collect();
    assert_eq!(
        stages,
        [
            ("new", StageSource::Opened),
            ("proposal", StageSource::Keyword),
            ("negotiation", StageSource::Inferred),
        ],
        "the inference dated before the correction is overruled; the later one stands"
    );
    assert_eq!(r.deals[0].stage.as_deref(), Some("negotiation"));
    let overruled: Vec<&str> = r.deals[0]
        .overruled
        .iter()
        .map(|c| c.stage.as_str())
        .collect();
    assert_eq!(overruled, ["qualified"], "kept apart, for explain");
}

#[test]
fn a_deal_is_worth_the_latest_price_stated() {
    let mbs = [mailbox()];
    let mut offer = msg(
        "v2",
        "alice@shop.example",
        &["carol@acme.example"],
        MON + DAY,
    );
    offer.new_text = "For 50 seats it is EUR 12,000 a year, or EUR 11,000 paid upfront.".into();
    let mut ask = msg("v1", "carol@acme.example", &["alice@shop.example"], MON);
    ask.new_text = "We are 50 people; what would it cost?".into();
    let t = thread("v", vec![ask, offer]);
    let r = build(&mbs, &[(0, t, Known::default())], MON + DAY + 60);
    assert_eq!(r.deals[0].value.as_deref(), Some("EUR 11,000"));
}

#[test]
fn a_won_stage_ends_the_deal_whoever_wrote_last() {
    let mbs = [mailbox()];
    let t = thread(
        "w",
        vec![msg(
            "w1",
            "carol@acme.example",
            &["alice@shop.example"],
            MON,
        )],
    );
    let known = Known {
        inferred: vec![],
        corrections: vec![StageChange {
            stage: "won".into(),
            at: MON,
            message_id: Some("w1".into()),
            source: StageSource::Command,
            evidence: Some("PO received by phone".into()),
        }],
        joins: None,
    };
    let r = build(&mbs, &[(0, t, known)], MON + DAY);
    assert_eq!(r.deals[0].state, DealState::Won);
}

fn joins(deal: &str, reason: &str) -> Known {
    Known {
        joins: Some((deal.into(), reason.into(), JoinSource::Inferred)),
        ..Known::default()
    }
}

/// Carol's pilot (we answered), and a week later her colleague Dan's PO in a thread of its own.
fn pilot_and_po() -> (Thread, Thread) {
    let pilot = thread(
        "pilot",
        vec![
            msg("p1", "carol@nordwind.example", &["alice@shop.example"], MON),
            msg(
                "p2",
                "alice@shop.example",
                &["carol@nordwind.example"],
                MON + 3600,
            ),
        ],
    );
    let po = thread(
        "po",
        vec![msg(
            "o1",
            "dan@nordwind.example",
            &["alice@shop.example"],
            MON + 7 * DAY,
        )],
    );
    (pilot, po)
}

#[test]
fn a_thread_joined_to_an_open_deal_makes_one_deal_of_two_threads() {
    let mbs = [mailbox()];
    let (pilot, po) = pilot_and_po();
    let threads = [
        (0, po, joins("pilot", "the PO for the pilot we quoted")),
        (0, pilot, Known::default()),
    ];
    let r = build(&mbs, &threads, MON + 7 * DAY + 60);
    assert_eq!(r.deals.len(), 1);
    let deal = &r.deals[0];
    assert_eq!(deal.id, "pilot", "the deal keeps its first thread's id");
    let ids: Vec<&str> = deal.threads.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["pilot", "po"]);
    assert_eq!(deal.joined, ["the PO for the pilot we quoted"]);
    assert_eq!(
        deal.contacts,
        ["carol@nordwind.example", "dan@nordwind.example"]
    );
    assert_eq!(
        deal.state,
        DealState::NeedsReply,
        "the latest touch of all threads: Dan's PO waits for us"
    );
    assert_eq!(r.companies["nordwind.example"].deals, ["pilot"]);
}

#[test]
fn a_chain_of_joins_follows_to_the_root_deal() {
    let mbs = [mailbox()];
    let (pilot, po) = pilot_and_po();
    let invoice = thread(
        "invoice",
        vec![msg(
            "i1",
            "erin@nordwind.example",
            &["alice@shop.example"],
            MON + 9 * DAY,
        )],
    );
    let threads = [
        (0, invoice, joins("po", "the invoice address for the PO")),
        (0, po, joins("pilot", "the PO")),
        (0, pilot, Known::default()),
    ];
    let r = build(&mbs, &threads, MON + 10 * DAY);
    assert_eq!(r.deals.len(), 1);
    let ids: Vec<&str> = r.deals[0].threads.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["pilot", "po", "invoice"]);
    assert_eq!(
        r.deals[0].joined,
        ["the PO", "the invoice address for the PO"]
    );
}

#[test]
fn a_thread_without_a_join_stands_alone_and_a_join_into_no_deal_is_ignored() {
    let mbs = [mailbox()];
    let (pilot, po) = pilot_and_po();
    // A `--split` reaches the builder as no join at all: the thread is its own deal.
    let r = build(
        &mbs,
        &[
            (0, po.clone(), Known::default()),
            (0, pilot.clone(), Known::default()),
        ],
        MON + 8 * DAY,
    );
    assert_eq!(r.deals.len(), 2);
    // Our own announcement to nobody outside is no deal; a join into it, or into a thread
    // the record never saw, leaves the PO a deal of its own.
    let ours = thread(
        "ours",
        vec![msg("n1", "alice@shop.example", &["bob@shop.example"], MON)],
    );
    for target in ["ours", "unknown"] {
        let r = build(
            &mbs,
            &[
                (0, po.clone(), joins(target, "x")),
                (0, pilot.clone(), Known::default()),
                (0, ours.clone(), Known::default()),
            ],
            MON + 8 * DAY,
        );
        assert_eq!(r.deals.len(), 2, "join into {target}");
        assert!(r.deals.iter().all(|d| d.joined.is_empty()));
    }
}

#[test]
fn two_threads_joined_to_each_other_both_stand_alone() {
    let mbs = [mailbox()];
    let (pilot, po) = pilot_and_po();
    let threads = [(0, po, joins("pilot", "a")), (0, pilot, joins("po", "b"))];
    let r = build(&mbs, &threads, MON + 8 * DAY);
    assert_eq!(r.deals.len(), 2);
}
