//! The voice where a draft uses it: the prompt section (language, habits, examples) through
//! `draft::prompt::build_with`, and the signature `compose` appends.

use super::*;
use crate::detect::Kind;
use crate::draft::test_support::{email, finding, mailbox};
use crate::draft::{compose, prompt};
use crate::parse::Addr;
use crate::thread::Thread;

fn addr(name: &str, email: &str) -> Addr {
    Addr {
        name: Some(name.into()),
        email: email.into(),
    }
}

fn learned() -> Voice {
    let mut emails = Vec::new();
    for i in 0..3 {
        let mut e = email(
            &format!("o{i}@shop"),
            addr("Alice Seller", "alice@shop.example"),
            "Hallo Anna,\n\ndie Ware geht morgen raus, die Rechnung kommt per Post.\n\nViele Grüße\n-- \nAlice Seller\nShop GmbH, Berlin",
            100 + i,
        );
        e.new_text = crate::parse::new_text(&e.text);
        e.to = vec![addr("Anna Other", "anna@other.example")];
        emails.push(e);
    }
    learn(&emails, &mailbox().identity)
}

fn german_thread() -> Thread {
    let mut m = email(
        "q@buyer",
        addr("Bernd Buyer", "bernd@buyer.example"),
        "Guten Tag, können Sie uns bitte ein Angebot über 200 Rohre schicken? Danke!",
        1_717_000_000,
    );
    m.to = vec![addr("Alice", "alice@shop.example")];
    Thread {
        id: "root@x".into(),
        messages: vec![m],
    }
}

#[test]
fn the_prompt_names_the_threads_language_and_the_users_habits() {
    let voice = learned();
    let msgs = prompt::build_with(
        &german_thread(),
        &finding("q@buyer", Kind::Reply),
        &mailbox(),
        &prompt::Grounding {
            voice: voice.into(),
            ..Default::default()
        },
    );
    let user = &msgs[1].content;
    let after_thread = &user[user.find("</thread>").unwrap()..];
    assert!(after_thread.contains("Write in German."), "{user}");
    assert!(
        after_thread.contains("\"Hallo <first name>,\" (3 of 3 messages)"),
        "{user}"
    );
    assert!(after_thread.contains("\"Viele Grüße\""), "{user}");
    // Written to another company: masked, and the signature is not part of the example.
    assert!(
        after_thread.contains("<example 1, to another company>\nHallo [name],"),
        "{user}"
    );
    assert!(!after_thread.contains("Anna"), "{user}");
    assert!(!after_thread.contains("Shop GmbH"), "{user}");
    assert!(
        !after_thread.contains("<example 2"),
        "one template is one example: {user}"
    );
    // Without a voice the language is still named.
    let plain = prompt::build(
        &german_thread(),
        &finding("q@buyer", Kind::Reply),
        &mailbox(),
    );
    assert!(
        plain[1].content.contains("Write in German."),
        "{}",
        plain[1].content
    );
}

#[test]
fn a_draft_carries_the_learned_signature_only_when_none_is_configured() {
    let voice = learned();
    let t = german_thread();
    let f = finding("q@buyer", Kind::Reply);
    let now = chrono::DateTime::from_timestamp(1_717_100_000, 0).unwrap();
    let mut unsigned = mailbox();
    unsigned.signature = None;
    let sig = signature(&unsigned, &voice);
    assert_eq!(sig, Some("Alice Seller\nShop GmbH, Berlin"));
    let d = compose::compose_signed(&t, &f, &unsigned, "Gern, anbei.", sig, now).unwrap();
    let text = crate::parse::parse(&d.raw)
        .unwrap()
        .text
        .replace("\r\n", "\n");
    assert!(
        text.contains("Gern, anbei.\n\n-- \nAlice Seller\nShop GmbH, Berlin\n"),
        "{text}"
    );
    // The configured one wins.
    let configured = mailbox();
    assert_eq!(
        signature(&configured, &voice),
        Some("Alice Seller\nShop GmbH")
    );
    assert_eq!(signature(&unsigned, &Voice::default()), None);
}

#[test]
fn our_messages_in_this_thread_are_no_style_examples() {
    let voice = learned();
    let mut thread = german_thread();
    let before = section_for(
        &voice,
        &thread,
        "q@buyer",
        &mailbox().identity,
        VOICE_BUDGET,
    );
    assert!(before.contains("<example 1"), "{before}");
    // The same three messages of ours, now part of the thread being answered: already in
    // the prompt, so never shown again as style.
    for i in 0..3 {
        let mut ours = email(
            &format!("o{i}@shop"),
            addr("Alice Seller", "alice@shop.example"),
            "Hallo Anna, die Ware geht morgen raus.",
            100 + i,
        );
        ours.to = vec![addr("Bernd Buyer", "bernd@buyer.example")];
        thread.messages.insert(0, ours);
    }
    let after = section_for(
        &voice,
        &thread,
        "q@buyer",
        &mailbox().identity,
        VOICE_BUDGET,
    );
    assert!(!after.contains("<example"), "{after}");
    assert!(after.contains("Write in German."), "{after}");
}
