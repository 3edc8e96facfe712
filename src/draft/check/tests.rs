//! The checks on real-looking answers: echoes of the prompt (what SmolLM2-135M did in the
//! demo), copies of the thread, drafts written as the buyer, empty ones, and figures kept or
//! replaced, against the prompt `prompt::build` really writes.

use super::figures::values;
use super::*;
use crate::detect::Kind as Finding;
use crate::draft::prompt;
use crate::draft::test_support::{email, finding, mailbox};
use crate::parse::Addr;

const NADIA_ASKS: &str = "Hi Alice,\n\nWe saw your talk last week. Do you offer a 30-day pilot \
    for a team of 12, and could it start on 05.01.2027?\n\nThanks,\nNadia";

fn nadia() -> Addr {
    Addr {
        name: Some("Nadia Okafor".into()),
        email: "nadia@northwind.example".into(),
    }
}

/// Our quote (1.250,00 EUR a year) and Nadia's question.
fn thread() -> Thread {
    let mut quote = email(
        "quote@shop.example",
        Addr {
            name: Some("Alice Seller".into()),
            email: "alice@shop.example".into(),
        },
        "Dear Nadia,\n\nour list price is 1.250,00 EUR a year for up to 20 seats.",
        1_795_000_000,
    );
    quote.to = vec![nadia()];
    let mut ask = email("ask@northwind.example", nadia(), NADIA_ASKS, 1_795_100_000);
    ask.to = vec![Addr {
        name: None,
        email: "alice@shop.example".into(),
    }];
    Thread {
        id: "root@x".into(),
        messages: vec![quote, ask],
    }
}

fn prompt_for(t: &Thread) -> Vec<ChatMessage> {
    prompt::build(
        t,
        &finding("ask@northwind.example", Finding::Reply),
        &mailbox(),
    )
}

fn checked(body: &str) -> Result<Checked, Unusable> {
    let t = thread();
    check(body, &prompt_for(&t), &t, &mailbox())
}

#[test]
fn an_echo_of_the_prompt_is_refused() {
    let t = thread();
    let p = prompt_for(&t);
    let first_line = p[0].content.lines().next().unwrap().to_string();
    let echoes = [
        // What SmolLM2-135M answered in the demo: the prompt's first line.
        first_line.as_str(),
        "You draft an email for Alice Seller.",
        "Hi Nadia,\n\nDo not invent prices, discounts, dates, deadlines, quantities, \
         availability or commitments.",
        "The conversation, oldest message first. Times are in Europe/Berlin.",
        "body is the complete text of the email you wrote, in plain text",
    ];
    for body in echoes {
        match checked(body) {
            Err(Unusable::EchoesInstructions(_)) => {}
            other => panic!("{body:?}: {other:?}"),
        }
    }
}

#[test]
fn a_copy_of_the_thread_is_refused() {
    for body in [
        NADIA_ASKS.to_string(),
        format!("Dear Nadia,\n\n{}", NADIA_ASKS.replace("Hi Alice,", "")),
    ] {
        match checked(&body) {
            Err(Unusable::EchoesThread(_) | Unusable::SpeaksAsOtherSide(_)) => {}
            other => panic!("{body:?}: {other:?}"),
        }
    }
    // Recalling one phrase of her question is a reply, not a copy.
    let ok = "Hi Nadia,\n\nyou asked whether a 30-day pilot for a team of 12 could start on \
              05.01.2027: yes, it can.";
    assert!(checked(ok).is_ok(), "{:?}", checked(ok));
}

#[test]
fn a_draft_written_as_the_buyer_is_refused() {
    let reversed = [
        "Hi Alice,\n\nWe would like to order the pilot for 12 people. Could you send us a \
         quote?\n\nThanks,\nNadia",
        "Hello,\n\nthat sounds good, we will discuss it internally.\n\nBest regards,\nNadia Okafor",
        "Dear Alice,\n\nthanks, we will get back to you next week.",
        "Sehr geehrte Frau Seller,\n\nvielen Dank, wir melden uns.",
        "Hi,\n\nthank you for your quote. We need a few more days to decide.",
        "Bonjour,\n\nmerci pour votre devis, nous revenons vers vous.",
    ];
    for body in reversed {
        match checked(body) {
            Err(Unusable::SpeaksAsOtherSide(why)) => assert!(!why.is_empty()),
            other => panic!("{body:?}: {other:?}"),
        }
    }
}

#[test]
fn good_drafts_pass_with_their_grounded_figures() {
    let good = [
        "Hi Nadia,\n\nyes, we offer a 30-day pilot for a team of 12, and it can start on 5 \
         January. I will send you the details tomorrow.\n\nBest regards,",
        "Hi Nadia,\n\nthank you for your quote request. The list price stays 1,250 EUR a year \
         for up to 20 seats; the pilot is [price] for 30 days.\n\nThanks again, Nadia.",
        "Hallo Nadia,\n\nja, ein Pilot über 30 Tage für 12 Personen ist möglich, Start am \
         5. Januar 2027.\n\nViele Grüße",
        "Hi Nadia,\n\ngreat to hear from you. Here is what I suggest:\n1. a short call\n2. the \
         pilot\n\nWould Monday work for you?",
    ];
    for body in good {
        let c = checked(body).unwrap_or_else(|e| panic!("{body:?}: {e}"));
        assert_eq!(c.body, body);
        assert_eq!(c.placeholders, Vec::<String>::new(), "{body:?}");
    }
}

#[test]
fn invented_figures_become_placeholders() {
    let c = checked(
        "Hi Nadia,\n\nthe pilot costs €450 per month for 12 users, with a 15% discount after 3 \
         months, starting on 20 January.",
    )
    .unwrap();
    assert_eq!(
        c.body,
        "Hi Nadia,\n\nthe pilot costs [price?] per month for 12 users, with a [percentage?] \
         discount after [quantity?] months, starting on [date?]."
    );
    assert_eq!(c.placeholders.len(), 4, "{:?}", c.placeholders);
    assert!(
        c.placeholders[0].contains("\"€450\""),
        "{:?}",
        c.placeholders
    );
    assert!(
        c.placeholders[3].contains("\"20 January\""),
        "{:?}",
        c.placeholders
    );
    // Prices in other spellings: EUR before, "euros" after, a German ",-".
    let c = checked("Hi Nadia, EUR 990 or 1.100 euros, or 500,- for the pilot.").unwrap();
    assert_eq!(
        c.body,
        "Hi Nadia, [price?] or [price?], or [price?] for the pilot."
    );
}

#[test]
fn figures_from_anything_the_prompt_gives_count_as_grounded() {
    let t = thread();
    let mut p = prompt_for(&t);
    // A knowledge file or the relationship's memory, added to the user content.
    p[1].content
        .push_str("\n<knowledge>\nPilot: 99 EUR per seat and month, 14 days notice.\n</knowledge>");
    let c = check(
        "Hi Nadia,\n\nthe pilot is 99 EUR per seat and month, with 14 days notice.",
        &p,
        &t,
        &mailbox(),
    )
    .unwrap();
    assert!(c.placeholders.is_empty(), "{:?}", c.placeholders);
    // The system message is no grounding: its examples are no facts, and its delimited
    // blocks are not instructions either.
    p[0].content.push_str(
        "\n<example>\nThanks for the call today, I will send the signed order form by Friday.\n</example>",
    );
    let body = "Hi Nadia,\n\nthanks for the call today, I will send the signed order form by \
                Friday at 2 pm.";
    let c = check(body, &p, &t, &mailbox()).unwrap();
    assert_eq!(c.placeholders.len(), 1, "{:?}", c.placeholders);
}

#[test]
fn an_empty_answer_is_refused() {
    for body in ["[Your answer here]", "Hi", "[price?] [date?]"] {
        assert_eq!(checked(body), Err(Unusable::Empty), "{body:?}");
    }
}

#[test]
fn numbers_read_in_both_conventions() {
    assert_eq!(values("1.250,00"), vec![1250.0]);
    assert_eq!(values("1,250.00"), vec![1250.0]);
    assert_eq!(values("1,250"), vec![1250.0, 1.25]);
    assert_eq!(values("12,5"), vec![12.5]);
    assert_eq!(values("1'000"), vec![1000.0]);
    assert_eq!(values("7"), vec![7.0]);
}

/// A prompt as `tend explain --prompt` printed it in a run of scripts/demo.
fn printed_prompt(text: &str) -> Vec<ChatMessage> {
    let rest = text.strip_prefix("===== system =====\n").unwrap();
    let (system, user) = rest.split_once("\n===== user =====\n").unwrap();
    vec![
        ChatMessage {
            role: Role::System,
            content: system.into(),
        },
        ChatMessage {
            role: Role::User,
            content: user.trim_end_matches('\n').into(),
        },
    ]
}

fn from(name: &str, address: &str) -> Thread {
    let who = Addr {
        name: Some(name.into()),
        email: address.into(),
    };
    Thread {
        id: "t".into(),
        messages: vec![email("m@x", who, "text", 1_795_000_000)],
    }
}

#[test]
fn real_smollm2_answers_from_the_demo() {
    let mut mb = mailbox();
    mb.display_name = Some("Alice Example".into());
    let a = printed_prompt(include_str!("demo_prompt_a.txt"));
    let jonas = from("Jonas Weber", "jonas.weber@nordwind-logistik.example");
    // Its answer to the pilot question in the service run, twice: the prompt's first line;
    // and in another run, to the dispatch question, with one word changed.
    for echo in [
        "The conversation, oldest message first.",
        "The conversation oldest message first.",
        "The conversation, latest message first.",
    ] {
        assert!(matches!(
            check(echo, &a, &jonas, &mb),
            Err(Unusable::EchoesInstructions(_))
        ));
    }
    // A draft in our voice, with invented figures: those become placeholders, the grounded
    // ones ("3-4 weeks", "25 named users") stay.
    let c = check(
        "Hi Jonas, I hope you're doing well. In fact, we're planning to have a demo on Tuesday on \
         20th of next month. We have a standard connector, which allows for 3-4 weeks of training. \
         The price for the 25 named users is EUR 150, and the invoice is in EUR. We're also \
         offering a discount of EUR 25 for signing up before the end of the quarter.",
        &a,
        &jonas,
        &mb,
    )
    .unwrap();
    assert_eq!(
        c.body,
        "Hi Jonas, I hope you're doing well. In fact, we're planning to have a demo on Tuesday on \
         [date?] of next month. We have a standard connector, which allows for 3-4 weeks of training. \
         The price for the 25 named users is [price?], and the invoice is in EUR. We're also \
         offering a discount of [price?] for signing up before the end of the quarter."
    );
    assert_eq!(c.placeholders.len(), 3, "{:?}", c.placeholders);
    // The follow-up to our proposal from the second run: short, but a follow-up.
    let b = printed_prompt(include_str!("demo_prompt_b.txt"));
    let priya = from("Priya Raman", "priya.raman@brightfield-retail.example");
    let ok = check(
        "This is a follow-up message to our proposal.",
        &b,
        &priya,
        &mb,
    );
    assert!(ok.is_ok(), "{ok:?}");
    // The follow-up to our proposal, written as if Priya were to send us one.
    let reversed = "This message is for the request to send a proposal to a store analytics \
        partner, which we will use to improve our BI platform for retail analytics. We will \
        provide you with a detailed proposal that includes details about our business, including \
        our pricing, billing, and data residency options. We will also provide you with an email \
        address that you can use to send your proposal to us.";
    assert!(matches!(
        check(reversed, &b, &priya, &mb),
        Err(Unusable::SpeaksAsOtherSide(_))
    ));
}

#[test]
fn a_refusal_names_its_reason_but_no_mail_text() {
    // The reason goes to the log and the failure record: mail text must not.
    for body in [
        NADIA_ASKS.to_string(),
        "Hello,\n\nthat sounds good.\n\nBest regards,\nNadia Okafor".to_string(),
        "Dear Alice,\n\nthanks, we will get back to you next week.".to_string(),
    ] {
        let why = checked(&body).unwrap_err().to_string();
        for mail_words in ["Nadia", "pilot", "Alice", "Logistics"] {
            assert!(!why.contains(mail_words), "{why}");
        }
    }
}
