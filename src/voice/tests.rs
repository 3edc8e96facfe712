//! Learning and choosing: examples in the stated order, habits per language, the signature.

use super::*;
use crate::parse::Addr;

pub(super) fn me() -> Identity {
    Identity {
        addresses: vec!["alice@shop.example".into(), "sales@shop.example".into()],
        internal_domains: vec!["shop.example".into()],
    }
}

pub(super) fn addr(name: &str, email: &str) -> Addr {
    Addr {
        name: (!name.is_empty()).then(|| name.to_string()),
        email: email.into(),
    }
}

/// A message of ours (from `from`) to `to`, whose whole text is `text`.
pub(super) fn ours(id: &str, from: &str, to: Addr, text: &str, date: i64) -> Email {
    Email {
        message_id: id.into(),
        in_reply_to: None,
        references: vec![],
        from: Some(addr("Alice Seller", from)),
        reply_to: vec![],
        to: vec![to],
        cc: vec![],
        date: Some(date),
        subject: "Offer".into(),
        new_text: crate::parse::new_text(text),
        text: text.into(),
        automated: None,
        out_of_office: false,
        ooo_until: None,
    }
}

fn theirs(id: &str, from: Addr, text: &str, date: i64) -> Email {
    let mut e = ours(id, "x@x", addr("", "alice@shop.example"), text, date);
    e.from = Some(from);
    e
}

pub(super) const EN: &str =
    "thank you for your order, the pallets leave our warehouse on Monday and \
                  the driver will call before he arrives at your loading dock.";
const DE: &str = "vielen Dank für Ihre Bestellung, die Paletten verlassen unser Lager am Montag \
                  und der Fahrer ruft vor der Ankunft an Ihrer Rampe an.";

#[test]
fn examples_come_to_this_contact_first_then_their_company_then_the_threads_language() {
    let anna = addr("Anna Buyer", "anna@buyer.example");
    let carl = addr("Carl Buyer", "carl@buyer.example");
    let other = addr("Olga Other", "olga@other.example");
    let german = addr("Dora Deutsch", "dora@kunde.example");
    let emails = vec![
        // Newest first would put the other company's and the German ones ahead.
        ours(
            "o1",
            "alice@shop.example",
            other.clone(),
            &format!("Hi Olga,\n\n{EN}"),
            900,
        ),
        ours(
            "g1",
            "alice@shop.example",
            german,
            &format!("Hallo Dora,\n\n{DE}"),
            800,
        ),
        ours(
            "c1",
            "sales@shop.example",
            carl,
            &format!("Hi Carl,\n\n{EN}"),
            700,
        ),
        ours(
            "a1",
            "alice@shop.example",
            anna.clone(),
            &format!("Hi Anna,\n\n{EN}"),
            100,
        ),
        // Not ours: never an example.
        theirs("t1", anna.clone(), &format!("Hi Alice,\n\n{EN}"), 950),
    ];
    let voice = learn(&emails, &me());
    assert_eq!(voice.learned_from, 4);
    let eng = Language::from_code("eng");
    let got = examples(&voice, Some("Anna@Buyer.example"), eng, 3);
    let order: Vec<(&str, Tier, bool)> = got
        .iter()
        .map(|e| (e.message_id.as_str(), e.tier, e.masked))
        .collect();
    assert_eq!(
        order,
        vec![
            ("a1", Tier::Contact, false),
            ("c1", Tier::Company, false),
            ("o1", Tier::Language, true),
        ]
    );
    // Their own company's mail is shown as written; another company's is masked.
    assert!(got[0].text.starts_with("Hi Anna,"), "{}", got[0].text);
    assert!(got[2].text.starts_with("Hi [name],"), "{}", got[2].text);
    // A German thread gets the German message as its third example, not the English one.
    let de = examples(
        &voice,
        Some("anna@buyer.example"),
        Language::from_code("deu"),
        3,
    );
    assert_eq!(de[2].message_id, "g1");
}

#[test]
fn on_a_free_mail_domain_examples_go_person_by_person() {
    let anna = addr("Anna", "anna@gmail.com");
    let bob = addr("Bob", "bob@gmail.com");
    let emails = vec![ours(
        "b1",
        "alice@shop.example",
        bob,
        &format!("Hi Bob,\n\n{EN}"),
        5,
    )];
    let voice = learn(&emails, &me());
    let got = examples(&voice, Some(&anna.email), Language::from_code("eng"), 3);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].tier, Tier::Language);
    assert!(got[0].masked, "Bob is not Anna's company");
    assert!(!got[0].text.contains("Bob"), "{}", got[0].text);
}

#[test]
fn greetings_and_sign_offs_are_learned_per_language() {
    let mut emails = Vec::new();
    let names = [
        "Anna Berg",
        "Bernd Kurz",
        "Clara Wolf",
        "Dirk Lang",
        "Eva Stein",
    ];
    for (i, n) in names.iter().enumerate() {
        let first = n.split(' ').next().unwrap();
        let to = addr(n, &format!("p{i}@firma{i}.example"));
        let (hello, body, bye) = if i < 4 {
            ("Hi", EN, "Best,")
        } else {
            ("Dear", EN, "Kind regards,")
        };
        let text = format!("{hello} {first},\n\n{body}\n\n{bye}\nAlice");
        emails.push(ours(
            &format!("e{i}"),
            "alice@shop.example",
            to.clone(),
            &text,
            i as i64,
        ));
        let text = format!("Hallo {first},\n\n{DE}\n\nViele Grüße\nAlice");
        emails.push(ours(
            &format!("d{i}"),
            "alice@shop.example",
            to,
            &text,
            10 + i as i64,
        ));
    }
    let voice = learn(&emails, &me());
    let en = habit(&voice, Language::from_code("eng").unwrap()).expect("English habits");
    assert_eq!(en.messages, 5);
    let g = en.greeting.as_ref().unwrap();
    assert_eq!((g.text.as_str(), g.count), ("Hi <first name>,", 4));
    let s = en.sign_off.as_ref().unwrap();
    assert_eq!((s.text.as_str(), s.count), ("Best,", 4));
    let de = habit(&voice, Language::from_code("deu").unwrap()).expect("German habits");
    assert_eq!(de.greeting.as_ref().unwrap().text, "Hallo <first name>,");
    assert_eq!(de.sign_off.as_ref().unwrap().text, "Viele Grüße");
    let section = prompt_section(&voice, Language::from_code("deu"), None, VOICE_BUDGET);
    assert!(section.contains("Write in German."), "{section}");
    assert!(
        section.contains("\"Hallo <first name>,\" (5 of 5 messages)"),
        "{section}"
    );
    assert!(section.contains("\"Viele Grüße\""), "{section}");
}

#[test]
fn greeting_patterns_keep_titles_and_tell_first_from_last_names() {
    let g = |line: &str| habits::greeting(line, Some("Anna"), Some("Müller"));
    assert_eq!(g("Hi Anna,").as_deref(), Some("Hi <first name>,"));
    assert_eq!(
        g("Sehr geehrte Frau Müller,").as_deref(),
        Some("Sehr geehrte Frau <last name>,")
    );
    assert_eq!(
        g("Bonjour Madame Dupont,").as_deref(),
        Some("Bonjour Madame <name>,")
    );
    assert_eq!(g("Hello,").as_deref(), Some("Hello,"));
    assert_eq!(g("Thanks for the order."), None);
    assert_eq!(g("Hi there,").as_deref(), Some("Hi there,"));
    assert_eq!(g("Hallo zusammen,").as_deref(), Some("Hallo zusammen,"));
    assert_eq!(g("Hi, thanks for the order!").as_deref(), Some("Hi,"));
    assert_eq!(
        mask(
            "Hi there,
over there.",
            &[]
        ),
        "Hi there,
over there."
    );
    assert_eq!(g("Hi there, the pallets leave on Monday as planned."), None);
}

#[test]
fn the_signature_after_a_separator_line_is_learned() {
    let sig = "Alice Seller\nShop GmbH | +49 30 1111111";
    let emails: Vec<Email> = (0..3)
        .map(|i| {
            let text = format!(
                "Hi Anna,\n\n{EN}\n\nBest,\n-- \n{sig}\n\nOn Mon, Anna wrote:\n> the old question {i}"
            );
            ours(&format!("s{i}"), "alice@shop.example", addr("Anna", "anna@buyer.example"), &text, i)
        })
        .collect();
    let voice = learn(&emails, &me());
    let learned = voice.signature.expect("a signature");
    assert_eq!(learned.source, SignatureSource::Separator);
    assert_eq!(learned.text, sig);
    // The examples hold their words only: no signature, no quote.
    let s = &voice.samples[0].text;
    assert!(s.ends_with("Best,") && !s.contains("old question"), "{s}");
}

#[test]
fn the_trailing_lines_most_messages_share_are_the_signature() {
    let tail = "Alice Seller\nSales, Shop GmbH\nTel. +49 30 1111111";
    let bodies = [
        EN,
        DE,
        "Short note about the invoice, it is attached as PDF for you.",
        EN,
    ];
    let mut emails: Vec<Email> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            // Old messages: only their new words are kept, so no "-- " is visible.
            let mut e = ours(
                &format!("t{i}"),
                "alice@shop.example",
                addr("Anna", "anna@buyer.example"),
                &format!("Hi Anna,\n\n{b}\n\nBest regards,\n{tail}"),
                i as i64,
            );
            e.text = String::new();
            e
        })
        .collect();
    // One message without it does not stop the majority.
    emails.push(ours(
        "n",
        "alice@shop.example",
        addr("", "z@z.example"),
        EN,
        9,
    ));
    let voice = learn(&emails, &me());
    let learned = voice.signature.expect("a signature");
    assert_eq!(learned.source, SignatureSource::SharedLines);
    assert_eq!(learned.text, tail, "the closing stays with the text");
    let s = voice.samples.iter().find(|s| s.message_id == "t0").unwrap();
    assert!(s.text.ends_with("Best regards,"), "{}", s.text);
    // Two messages are no pattern.
    assert_eq!(learn(&emails[..2], &me()).signature, None);
}

#[test]
fn the_threads_language_is_the_other_sides() {
    let anna = addr("Anna", "anna@buyer.example");
    let msgs = vec![
        theirs(
            "q",
            anna.clone(),
            "Guten Tag, können Sie uns bitte ein Angebot über 200 Stück schicken?",
            1,
        ),
        ours(
            "r",
            "alice@shop.example",
            anna.clone(),
            "Hello, here is our offer for the 200 pieces you asked about.",
            2,
        ),
    ];
    assert_eq!(
        thread_language(&msgs, &me()).map(Language::code),
        Some("deu")
    );
    // A follow-up's counterpart is the one we wrote to.
    assert_eq!(
        counterpart(&msgs, "r", &me()).as_deref(),
        Some("anna@buyer.example")
    );
    assert_eq!(
        counterpart(&msgs, "q", &me()).as_deref(),
        Some("anna@buyer.example")
    );
}

#[test]
fn a_voice_survives_the_store_round_trip_as_json() {
    let emails = vec![ours(
        "a",
        "alice@shop.example",
        addr("Anna", "anna@buyer.example"),
        &format!("Hi Anna,\n\n{EN}"),
        1,
    )];
    let voice = learn(&emails, &me());
    let json = serde_json::to_string(&voice).unwrap();
    assert!(json.contains("\"eng\""), "{json}");
    assert_eq!(serde_json::from_str::<Voice>(&json).unwrap(), voice);
}

#[test]
fn an_organisation_worked_out_once_agrees_with_same_organisation() {
    let addresses = [
        "anna@buyer.example",
        "Carl@Buyer.Example",
        " carl+x@buyer.example ",
        "anna@gmail.com",
        "Anna+shop@GMail.com",
        "carl@gmail.com",
        "anna@other.example",
        "+x@buyer.example",
        "no-at-sign",
        "",
        "a@b@buyer.example",
    ];
    for a in addresses {
        let canon = canonical(a);
        let org = Organisation::of(&canon);
        for b in addresses {
            assert_eq!(
                org.includes(b),
                same_organisation(&canon, b),
                "{a:?} and {b:?}"
            );
        }
    }
}
