//! Golden tests for "never another customer's words": canary strings in another company's
//! messages, and in quotes inside our own mail to them, never reach a prompt; free mail is
//! person by person; a contact form's lead sees the form, never another lead's.

use super::grounding_tests::{addr, all, at, grounded, mail, related_part, thread, DAY, T0};
use super::*;
use crate::draft::test_support::{finding, mailbox};

#[test]
fn another_companys_canary_never_appears() {
    // One thread where two companies were copied: our offer went to Anna (buyer.example) and
    // Olga (other.example); Olga answered us alone, we answered her alone quoting her; now
    // Anna asks. The draft goes to Anna only.
    let t = thread(
        "offer@shop",
        vec![
            at(
                mail(
                    "offer@shop",
                    "alice@shop.example",
                    &["anna@buyer.example", "olga@other.example"],
                    "Offer",
                    "Our offer for both of you.",
                    "",
                ),
                T0,
            ),
            at(
                mail(
                    "olga1@other",
                    "olga@other.example",
                    &["alice@shop.example"],
                    "Re: Offer",
                    "CANARY-OLGA we pay EUR 3 less elsewhere",
                    "Our offer for both of you.",
                ),
                T0 + DAY,
            ),
            at(
                mail(
                    "olga2@shop",
                    "alice@shop.example",
                    &["olga@other.example"],
                    "Re: Offer",
                    "CANARY-OURS-TO-OLGA: for you EUR 2.10.",
                    "CANARY-QUOTE-OLGA we pay EUR 3 less elsewhere",
                ),
                T0 + 2 * DAY,
            ),
            // Our bare forward of Olga's mail to Anna: no words of ours, only hers quoted.
            at(
                mail(
                    "fwd@shop",
                    "alice@shop.example",
                    &["anna@buyer.example"],
                    "Fwd: Offer",
                    "",
                    "CANARY-FORWARDED-OLGA we pay EUR 3 less elsewhere",
                ),
                T0 + 2 * DAY + 3_600,
            ),
            at(
                mail(
                    "anna1@buyer",
                    "anna@buyer.example",
                    &["alice@shop.example"],
                    "Re: Offer",
                    "When can you deliver?",
                    "",
                ),
                T0 + 3 * DAY,
            ),
        ],
    );
    // A related thread Anna was copied on, where Olga wrote and we answered both, quoting her
    // (our new words reach Anna, Olga's never); and Olga's own thread with us.
    let mut olga_cc = mail(
        "r1@other",
        "olga@other.example",
        &["alice@shop.example"],
        "Samples",
        "CANARY-REL-OLGA send samples",
        "",
    );
    olga_cc.cc = vec![addr("anna@buyer.example")];
    let mut ours_to_both = mail(
        "r2@shop",
        "alice@shop.example",
        &["olga@other.example"],
        "Re: Samples",
        "Samples go out on Friday.",
        "CANARY-REL-QUOTE send samples",
    );
    ours_to_both.cc = vec![addr("anna@buyer.example")];
    let related = vec![
        thread("samples@other", vec![olga_cc, ours_to_both]),
        thread(
            "olga@other",
            vec![mail(
                "x1@other",
                "olga@other.example",
                &["alice@shop.example"],
                "CANARY-SUBJECT-OLGA",
                "CANARY-OWN-THREAD",
                "",
            )],
        ),
    ];
    let mb = mailbox();
    let f = finding("anna1@buyer", Kind::Reply);
    let msgs = build_with(&t, &f, &mb, &grounded(related));
    let text = all(&msgs);
    assert!(!text.contains("CANARY"), "{text}");
    assert!(
        !text.contains("EUR 3") && !text.contains("EUR 2.10"),
        "{text}"
    );
    // What Anna saw is there: our offer to both, her question, our sample answer's new words.
    assert!(text.contains("Our offer for both of you."));
    assert!(text.contains("When can you deliver?"));
    assert!(related_part(&msgs[1].content).contains("Samples go out on Friday."));
    assert!(text.contains("2 message(s) of this thread, between us and other companies, not shown"));
    // Drafting to Olga instead, Anna's question is the one left out.
    let to_olga = build_with(
        &t,
        &finding("olga1@other", Kind::Reply),
        &mb,
        &grounded(vec![]),
    );
    let text = all(&to_olga);
    assert!(!text.contains("When can you deliver?"), "{text}");
}

#[test]
fn free_mail_contacts_are_person_by_person() {
    let t = thread(
        "p@gmail",
        vec![mail(
            "p@gmail",
            "pat@gmail.com",
            &["alice@shop.example"],
            "Hi",
            "Any news on my order?",
            "",
        )],
    );
    let related = vec![
        thread(
            "q@gmail",
            vec![mail(
                "q1@gmail",
                "quinn@gmail.com",
                &["alice@shop.example"],
                "CANARY-QUINN-SUBJECT",
                "CANARY-QUINN a stranger at the same free-mail service",
                "",
            )],
        ),
        thread(
            "p2@gmail",
            vec![mail(
                "p2@gmail",
                "Pat+shop@GMail.com",
                &["alice@shop.example"],
                "Order 77",
                "I ordered the blue one.",
                "",
            )],
        ),
    ];
    let msgs = build_with(
        &t,
        &finding("p@gmail", Kind::Reply),
        &mailbox(),
        &grounded(related),
    );
    let text = all(&msgs);
    assert!(!text.contains("CANARY"), "{text}");
    let rel = related_part(&msgs[1].content);
    assert!(rel.contains("Order 77") && rel.contains("I ordered the blue one."));
    assert!(rel.starts_with("Conversation 1: \"Order 77\""), "{rel}");
}

#[test]
fn a_contact_forms_lead_sees_the_form_but_never_another_lead() {
    // The form service writes every lead's notification; the draft goes to the lead.
    let mut form = mail(
        "f1@forms",
        "forms@forms.example",
        &["alice@shop.example"],
        "New enquiry",
        "Lead: Lena <lena@lead.example> asks for 40 pallets.",
        "",
    );
    form.reply_to = vec![addr("lena@lead.example")];
    let mut other = mail(
        "f0@forms",
        "forms@forms.example",
        &["alice@shop.example"],
        "New enquiry",
        "CANARY-OTHER-LEAD: Max wants a discount.",
        "",
    );
    other.reply_to = vec![addr("max@else.example")];
    let mut mb = mailbox();
    mb.rules.form_senders = vec!["forms@forms.example".into()];
    let msgs = build_with(
        &thread("f1@forms", vec![form]),
        &finding("f1@forms", Kind::Reply),
        &mb,
        &grounded(vec![thread("f0@forms", vec![other])]),
    );
    let text = all(&msgs);
    assert!(
        text.contains("asks for 40 pallets"),
        "the message answered: {text}"
    );
    assert!(!text.contains("CANARY"), "{text}");
}

#[test]
fn a_follow_ups_own_message_never_shows_what_it_quotes() {
    // We forwarded Olga's figures to Anna without a word of ours; the follow-up is for Anna.
    let t = thread(
        "q@shop",
        vec![mail(
            "q@shop",
            "alice@shop.example",
            &["anna@buyer.example"],
            "Fwd: Quote",
            "",
            "CANARY-QUOTED-OLGA EUR 3 less",
        )],
    );
    let msgs = build_with(
        &t,
        &finding("q@shop", Kind::FollowUp { nudge: 1 }),
        &mailbox(),
        &grounded(vec![]),
    );
    let text = all(&msgs);
    assert!(text.contains("(no new words: only quoted text)"), "{text}");
    assert!(!text.contains("CANARY"), "{text}");
}
