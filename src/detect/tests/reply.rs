//! Reply cases: a buyer's message that needs an answer, and every reason it does not (already
//! answered, internal thread, reply window, Bcc, one-way senders, automated and out-of-office
//! mail), plus hostile display names that must not break the one-line reason.

use super::*;

#[test]
fn replies() {
    use Want::*;
    check(vec![
        case("buyer wrote, nobody answered",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00")],
            "2026-11-23 12:00", Reply(0)),
        case("buyer answered our offer",
            vec![mail(ME, &[ANNA], "2026-11-20 10:00"), mail(ANNA, &[ME], "2026-11-23 09:00")],
            "2026-11-23 12:00", Reply(1)),
        case("two buyer messages: the latest is the trigger",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(ANNA, &[ME], "2026-11-23 11:00")],
            "2026-11-23 12:00", Reply(1)),
        case("the buyer's colleague wrote after our answer",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(ME, &[ANNA], "2026-11-23 10:00"),
                 mail(CARL, &[ME], "2026-11-23 11:00").cc(&[ANNA])],
            "2026-11-23 12:00", Reply(2)),
        case("colleague answered, then the buyer wrote again",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(BOB, &[ANNA], "2026-11-23 10:00").cc(&[ME]),
                 mail(ANNA, &[BOB], "2026-11-23 11:00").cc(&[ME])],
            "2026-11-23 12:00", Reply(2)),
        case("our own auto-acknowledgement is not an answer",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00"),
                 mail(ME, &[ANNA], "2026-11-23 09:01").auto("Auto-Submitted: auto-replied")],
            "2026-11-23 12:00", Reply(0)),
        case("the buyer's ticket system after the buyer's message changes nothing",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00"),
                 mail("tickets@buyer.example", &[ME], "2026-11-23 09:01").auto("Precedence: bulk")],
            "2026-11-23 12:00", Reply(0)),
        case("alias in To, written in another case, is addressed to us",
            vec![mail(ANNA, &["Sales@Seller.EXAMPLE"], "2026-11-23 09:00")],
            "2026-11-23 12:00", Reply(0)),
        case("we are in Cc",
            vec![mail(ANNA, &[CARL], "2026-11-23 09:00").cc(&[ME])],
            "2026-11-23 12:00", Reply(0)),
        case("a message without From is skipped",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(ME, &[ANNA], "2026-11-23 10:00").no_from()],
            "2026-11-23 12:00", Reply(0)),
        case("reply window: 13 days old is answered",
            vec![mail(ANNA, &[ME], "2026-11-10 09:00")],
            "2026-11-23 09:00", Reply(0)),
        case("reply window: exactly 14 days old is still answered",
            vec![mail(ANNA, &[ME], "2026-11-09 09:00")],
            "2026-11-23 09:00", Reply(0)),
        case("reply window: 14 days and a minute is too old",
            vec![mail(ANNA, &[ME], "2026-11-09 08:59")],
            "2026-11-23 09:00", Quiet("older than the 14-day reply window")),
        case("reply window: 15 days old is too old",
            vec![mail(ANNA, &[ME], "2026-11-08 09:00")],
            "2026-11-23 09:00", Quiet("buyer message from anna@buyer.example on 2026-11-08 09:00 UTC is older than the 14-day reply window")),
        case("custom reply window of 3 days",
            vec![mail(ANNA, &[ME], "2026-11-19 09:00")],
            "2026-11-23 09:00", Quiet("older than the 3-day reply window"))
            .rules(|r| r.reply_window_days = 3),
        case("a buyer message dated in the future (skewed clock) is answered",
            vec![mail(ANNA, &[ME], "2026-11-23 13:00")],
            "2026-11-23 12:00", Reply(0)),
        case("10 received, never written to: not a conversation",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00")],
            "2026-11-23 12:00", Quiet("sent us 10 messages and we never wrote to them"))
            .contact(ANNA, Contact { received: 10, sent: 0, last_inbound_from_person: None, last_inbound_from_org: None }),
        case("9 received, never written to: still answered",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00")],
            "2026-11-23 12:00", Reply(0))
            .contact(ANNA, Contact { received: 9, sent: 0, last_inbound_from_person: None, last_inbound_from_org: None }),
        case("10 received, 1 sent: a conversation",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00")],
            "2026-11-23 12:00", Reply(0))
            .contact(ANNA, Contact { received: 10, sent: 1, last_inbound_from_person: None, last_inbound_from_org: None }),
        case("one-way by the store, but we wrote to them in this thread",
            vec![mail(ME, &[ANNA], "2026-11-20 09:00"), mail(ANNA, &[ME], "2026-11-23 09:00")],
            "2026-11-23 12:00", Reply(1))
            .contact(ANNA, Contact { received: 12, sent: 0, last_inbound_from_person: None, last_inbound_from_org: None }),
        case("us only in Bcc",
            vec![mail(ANNA, &[CARL], "2026-11-23 09:00")],
            "2026-11-23 12:00", Quiet("none of our addresses is in To or Cc (we got it by Bcc or through a list)")),
        case("list mail with an empty To",
            vec![mail(ANNA, &[], "2026-11-23 09:00")],
            "2026-11-23 12:00", Quiet("Bcc")),
        case("only a colleague in To, us in Bcc",
            vec![mail(ANNA, &[BOB], "2026-11-23 09:00")],
            "2026-11-23 12:00", Quiet("Bcc")),
        case("buyer message without a date cannot start a window",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00").undated()],
            "2026-11-23 12:00", Quiet("anna@buyer.example wrote a message without a usable Date")),
        case("an undated older buyer message, a dated newer one",
            vec![mail(ANNA, &[ME], "2026-11-20 09:00").undated(), mail(ANNA, &[ME], "2026-11-23 09:00")],
            "2026-11-23 12:00", Reply(1)),
    ]);
}

#[test]
fn answered_or_internal() {
    use Want::*;
    check(vec![
        case("we answered",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(ME, &[ANNA], "2026-11-23 10:00")],
            "2026-11-23 12:00",
            Quiet("we answered anna@buyer.example on 2026-11-23 10:00 UTC; waiting: follow-up due Thu 2026-11-26 10:00 UTC")),
        case("we answered from an alias written in another case",
            vec![mail(ANNA, &[ALIAS], "2026-11-23 09:00"), mail("SALES@Seller.Example", &[ANNA], "2026-11-23 10:00")],
            "2026-11-23 12:00", Quiet("we answered")),
        case("a colleague answered the buyer",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(BOB, &[ANNA], "2026-11-23 10:00").cc(&[ME])],
            "2026-11-23 12:00",
            Quiet("our colleague bob@seller.example answered anna@buyer.example on 2026-11-23 10:00 UTC")),
        case("a colleague answered long ago: still no follow-up of ours",
            vec![mail(ANNA, &[ME], "2026-11-02 09:00"), mail(BOB, &[ANNA], "2026-11-02 10:00").cc(&[ME])],
            "2026-11-23 12:00", Quiet("our colleague")),
        case("colleague-only thread, ours latest",
            vec![mail(BOB, &[ME], "2026-11-16 09:00"), mail(ME, &[BOB], "2026-11-16 10:00")],
            "2026-11-23 12:00", Quiet("only colleagues in this thread")),
        case("colleague-only thread, colleague latest",
            vec![mail(ME, &[BOB], "2026-11-16 09:00"), mail(BOB, &[ME], "2026-11-16 10:00")],
            "2026-11-23 12:00", Quiet("only colleagues in this thread (latest: bob@seller.example on 2026-11-16 10:00 UTC)")),
        case("we answered the buyer only internally",
            vec![mail(ANNA, &[ME], "2026-11-16 09:00"), mail(ME, &[BOB], "2026-11-16 10:00")],
            "2026-11-23 12:00", Quiet("went to nobody outside the company")),
        case("our undated answer still counts as an answer",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(ME, &[ANNA], "2026-11-23 10:00").undated().answers(0)],
            "2026-11-23 12:00", Quiet("we answered anna@buyer.example on an unknown date, but that message has no usable Date")),
        // The store orders undated messages that name no parent first: they never start a
        // wait, and they do not answer either.
        case("an undated message of ours that names no parent is no answer",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(ME, &[ANNA], "2026-11-23 10:00").undated()],
            "2026-11-23 12:00", Reply(0)),
        // 1.3.2: the buyer's clock is an hour late; our answer names their message.
        case("a_reply_dated_before_its_parent_still_answers_it",
            vec![mail(ANNA, &[ME], "2026-11-23 10:00"), mail(ME, &[ANNA], "2026-11-23 09:30").answers(0)],
            "2026-11-23 12:00", Quiet("we answered anna@buyer.example on 2026-11-23 09:30 UTC")),
        case("the latest message without From is skipped, our answer stands",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(ME, &[ANNA], "2026-11-23 10:00"),
                 mail(ANNA, &[ME], "2026-11-23 11:00").no_from()],
            "2026-11-23 12:00", Quiet("we answered")),
        case("empty thread",
            vec![], "2026-11-23 12:00", Quiet("the thread has no messages")),
        case("no message has a From",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00").no_from()],
            "2026-11-23 12:00", Quiet("no message in this thread has a From address")),
        case("the sender's display name is shown",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00").named("Anna Buyer"), mail(ME, &[ANNA], "2026-11-23 10:00")],
            "2026-11-23 12:00", Quiet("we answered Anna Buyer <anna@buyer.example> on")),
        case("dates are shown in the mailbox time zone",
            vec![mail(ANNA, &[ME], "2026-11-23 08:00"), mail(ME, &[ANNA], "2026-11-23 08:14")],
            "2026-11-23 12:00", Quiet("we answered anna@buyer.example on 2026-11-23 09:14 CET"))
            .tz(BERLIN),
    ]);
}

#[test]
fn automated_mail() {
    use Want::*;
    check(vec![
        case("newsletter only",
            vec![mail("news@shop.example", &[ME], "2026-11-23 09:00").auto("List-Id: <news.shop.example>")],
            "2026-11-23 12:00",
            Quiet("latest message is automated (List-Id: <news.shop.example>) from news@shop.example on 2026-11-23 09:00 UTC")),
        case("bounce only",
            vec![mail("mailer-daemon@mx.example", &[ME], "2026-11-23 09:00").auto("bounce (multipart/report)")],
            "2026-11-23 12:00", Quiet("no person wrote in this thread")),
        case("calendar invite only",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00").auto("calendar invite (text/calendar)")],
            "2026-11-23 12:00", Quiet("automated (calendar invite")),
        case("an auto-reply only",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00").auto("Auto-Submitted: auto-replied")],
            "2026-11-23 12:00", Quiet("latest message is automated (Auto-Submitted: auto-replied)")),
        case("an out-of-office only",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00").ooo()],
            "2026-11-23 12:00", Quiet("latest message is an out-of-office reply")),
        case("newsletter after our answer: still waiting, and said so",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(ME, &[ANNA], "2026-11-23 10:00"),
                 mail("news@shop.example", &[ME], "2026-11-23 11:00").auto("List-Unsubscribe")],
            "2026-11-23 12:00",
            Quiet("waiting: follow-up due Thu 2026-11-26 10:00 UTC; the later automated message (List-Unsubscribe) from news@shop.example on 2026-11-23 11:00 UTC is not an answer")),
        case("out-of-office after our proposal: the silence keeps running (3 bd)",
            vec![mail(ANNA, &[ME], "2026-11-23 08:00"), mail(ME, &[ANNA], "2026-11-23 10:00"),
                 mail(ANNA, &[ME], "2026-11-23 10:01").ooo()],
            "2026-11-26 10:00", FollowUp(1, 1)),
        case("out-of-office after our proposal: 2 bd, waiting",
            vec![mail(ANNA, &[ME], "2026-11-23 08:00"), mail(ME, &[ANNA], "2026-11-23 10:00"),
                 mail(ANNA, &[ME], "2026-11-23 10:01").ooo()],
            "2026-11-25 10:00", Quiet("the later out-of-office reply (Auto-Submitted: auto-replied) from anna@buyer.example")),
        case("bounce after our proposal: the silence keeps running",
            vec![mail(ANNA, &[ME], "2026-11-16 08:00"), mail(ME, &[ANNA], "2026-11-16 10:00"),
                 mail("mailer-daemon@mx.example", &[ME], "2026-11-16 10:01").auto("bounce")],
            "2026-11-23 10:00", FollowUp(1, 1)),
        case("an out-of-office after cold outreach is no deal",
            vec![mail(ME, &[ANNA], "2026-11-16 10:00"), mail(ANNA, &[ME], "2026-11-16 10:01").ooo()],
            "2026-11-23 10:00", Quiet("nobody outside has written in this thread")),
    ]);
}

#[test]
fn hostile_display_names_stay_on_one_line() {
    let c = case(
        "",
        vec![mail(ANNA, &[ME], "2026-11-23 09:00").named("Anna\r\nBcc: evil")],
        "2026-11-23 12:00",
        Want::Reply(0),
    );
    let v = run(&c);
    assert!(matches!(v, Verdict::Attention(_)), "{v:?}");
    assert!(!v.reason().contains(['\r', '\n']), "{:?}", v.reason());
}

/// Review 1.3.4 and 1.3.6: group addresses, the allow list, plus-tags, internal subdomains.
#[test]
fn group_address_buyer_and_other_filter_escapes() {
    use Want::*;
    const DESK: &str = "purchasing@buyer.example";
    let group = |when| mail(DESK, &[ME], when).auto("List-Id: <purchasing.buyer.example>");
    let wrote = Contact {
        received: 3,
        sent: 2,
        last_inbound_from_person: None,
        last_inbound_from_org: None,
    };
    check(vec![
        case(
            "group address buyer we wrote to before is a buyer",
            vec![group("2026-11-23 09:00")],
            "2026-11-23 12:00",
            Reply(0),
        )
        .contact(DESK, wrote),
        case(
            "group address buyer we wrote to in this thread is a buyer",
            vec![
                mail(ME, &[DESK], "2026-11-20 09:00"),
                group("2026-11-23 09:00"),
            ],
            "2026-11-23 12:00",
            Reply(1),
        ),
        case(
            "a list we never wrote to stays automated",
            vec![group("2026-11-23 09:00")],
            "2026-11-23 12:00",
            Quiet("automated (List-Id"),
        ),
        case(
            "a noreply sign is not overruled by having written to the address",
            vec![mail(DESK, &[ME], "2026-11-23 09:00").auto("noreply sender (x)")],
            "2026-11-23 12:00",
            Quiet("automated (noreply"),
        )
        .contact(
            DESK,
            Contact {
                received: 1,
                sent: 1,
                last_inbound_from_person: None,
                last_inbound_from_org: None,
            },
        ),
        case(
            "always_human domain overrules a noreply sign",
            vec![
                mail("noreply@forms.example", &[ME], "2026-11-23 09:00").auto("noreply sender (x)")
            ],
            "2026-11-23 12:00",
            Reply(0),
        )
        .rules(|r| r.always_human = vec!["forms.example".into()]),
        case(
            "always_human address overrules list signs",
            vec![group("2026-11-23 09:00")],
            "2026-11-23 12:00",
            Reply(0),
        )
        .rules(|r| r.always_human = vec![DESK.into()]),
        case(
            "always_human does not overrule an auto-reply",
            vec![mail(DESK, &[ME], "2026-11-23 09:00").ooo()],
            "2026-11-23 12:00",
            Quiet("out-of-office"),
        )
        .rules(|r| r.always_human = vec!["buyer.example".into()]),
        case(
            "plus-tag: mail to me+web@ is addressed to us",
            vec![mail(ANNA, &["me+web@seller.example"], "2026-11-23 09:00")],
            "2026-11-23 12:00",
            Reply(0),
        ),
        case(
            "a colleague at an internal subdomain answered",
            vec![
                mail(ANNA, &[ME], "2026-11-23 09:00"),
                mail("eva@de.seller.example", &[ANNA], "2026-11-23 10:00"),
            ],
            "2026-11-23 12:00",
            Quiet("our colleague eva@de.seller.example answered"),
        ),
    ]);
}

/// Review 1.3.5: a website contact form writes From our own domain or a noreply address, with
/// the lead in Reply-To.
#[test]
fn contact_form_lead_is_the_buyer() {
    use Want::*;
    const LEAD: &str = "lena@lead.example";
    let form = |from: &str| {
        let mut e = mail(from, &[ME], "2026-11-23 09:00");
        e.reply_to = vec![addr(LEAD)];
        e
    };
    let forms = |r: &mut Rules| {
        r.form_senders = vec![
            "website@seller.example".into(),
            "noreply@forms.example".into(),
        ]
    };
    check(vec![
        case(
            "a form on our own domain is a colleague's message without the rule",
            vec![form("website@seller.example")],
            "2026-11-23 12:00",
            Quiet("only colleagues"),
        ),
        case(
            "contact form lead from our own domain is the buyer",
            vec![form("website@seller.example")],
            "2026-11-23 12:00",
            Reply(0),
        )
        .rules(forms),
        case(
            "contact form lead through a noreply service is the buyer",
            vec![form("noreply@forms.example").auto("noreply sender (noreply@forms.example)")],
            "2026-11-23 12:00",
            Reply(0),
        )
        .rules(forms),
        case(
            "a form notification without Reply-To is no lead",
            vec![
                mail("noreply@forms.example", &[ME], "2026-11-23 09:00").auto("noreply sender (x)")
            ],
            "2026-11-23 12:00",
            Quiet("automated"),
        )
        .rules(forms),
        case(
            "our answer to the lead answers the form",
            vec![
                form("website@seller.example"),
                mail(ME, &[LEAD], "2026-11-23 10:00"),
            ],
            "2026-11-23 12:00",
            Quiet("waiting"),
        )
        .rules(forms),
    ]);
}
