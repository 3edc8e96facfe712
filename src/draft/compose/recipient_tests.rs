//! Regression tests for who a draft goes to (review 1.4.3, 1.4.4) and for the threading headers
//! a hostile parent cannot bend (1.4.5): competitors on an RFQ, a foreign Reply-To, the From
//! alias, the Cc cap, trimmed References and ids a header cannot carry.

use super::*;
use crate::detect::Kind;
use crate::draft::test_support::{email, finding, mailbox};

fn addr(email: &str) -> Addr {
    Addr {
        name: None,
        email: email.into(),
    }
}

fn addrs(list: &[&str]) -> Vec<Addr> {
    list.iter().map(|e| addr(e)).collect()
}

fn emails(list: &[Addr]) -> Vec<&str> {
    list.iter().map(|a| a.email.as_str()).collect()
}

fn thread(messages: Vec<Email>) -> Thread {
    Thread {
        id: "root@x".into(),
        messages,
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 3, 9, 30, 0).unwrap()
}

/// The buyer's RFQ: From anna@buyer.example To us and `to`, Cc `cc`.
fn rfq(to: &[&str], cc: &[&str]) -> Email {
    let mut e = email(
        "rfq@buyer.example",
        addr("anna@buyer.example"),
        "Price for 100?",
        1,
    );
    e.to = addrs(to);
    e.cc = addrs(cc);
    e
}

#[test]
fn rfq_with_competitors_in_to_copies_only_the_buyers_organisation() {
    let mb = mailbox();
    let parent = rfq(
        &[
            "sales@shop.example",
            "bids@rival-one.example",
            "carl@buyer.example",
            "info@rival-two.example",
        ],
        &["dave@shop.example", "offers@rival-three.example"],
    );
    let r = recipients(&thread(vec![parent.clone()]), &parent, Kind::Reply, &mb);
    assert_eq!(emails(&r.to), ["anna@buyer.example"]);
    assert_eq!(emails(&r.cc), ["carl@buyer.example", "dave@shop.example"]);
    assert_eq!(
        r.left_out,
        [
            "bids@rival-one.example",
            "info@rival-two.example",
            "offers@rival-three.example"
        ]
    );
    // The composed draft carries the same and names who was left out.
    let d = compose(
        &thread(vec![parent]),
        &finding("rfq@buyer.example", Kind::Reply),
        &mb,
        "Our price.",
        now(),
    )
    .unwrap();
    let raw = String::from_utf8(d.raw.clone()).unwrap();
    assert!(!raw.contains("rival"), "{raw}");
    assert_eq!(d.left_out.len(), 3);
}

#[test]
fn people_already_in_the_conversation_stay_copied() {
    let mb = mailbox();
    // We wrote to Anna and her consultant earlier; now Anna writes again, the consultant in Cc.
    let mut ours = email("o@shop.example", addr("alice@shop.example"), "Offer", 0);
    ours.to = addrs(&["anna@buyer.example"]);
    ours.cc = addrs(&["kim@consult.example"]);
    // A rival in To beside us was not brought in by Anna: left out.
    let mut parent = rfq(
        &["alice@shop.example", "x@rival.example"],
        &["kim@consult.example"],
    );
    parent.message_id = "p@buyer.example".into();
    let t = thread(vec![ours, parent.clone()]);
    let r = recipients(&t, &parent, Kind::Reply, &mb);
    assert_eq!(emails(&r.cc), ["kim@consult.example"]);
    assert_eq!(r.left_out, ["x@rival.example"]);
}

#[test]
fn freemail_senders_are_no_organisation() {
    let mb = mailbox();
    let mut parent = email("p@x", addr("anna@gmail.com"), "hi", 1);
    parent.to = addrs(&["alice@shop.example", "other.vendor@gmail.com"]);
    let r = recipients(&thread(vec![parent.clone()]), &parent, Kind::Reply, &mb);
    assert_eq!(emails(&r.to), ["anna@gmail.com"]);
    assert!(r.cc.is_empty());
    assert_eq!(r.left_out, ["other.vendor@gmail.com"]);
}

#[test]
fn reply_to_on_another_domain_goes_to_the_sender() {
    let mut mb = mailbox();
    let mut parent = email("p@x", addr("ceo@buyer.example"), "Pay now", 1);
    parent.to = addrs(&["alice@shop.example"]);
    parent.reply_to = addrs(&["x@evil.example"]);
    let t = thread(vec![parent.clone()]);
    let r = recipients(&t, &parent, Kind::Reply, &mb);
    assert_eq!(emails(&r.to), ["ceo@buyer.example"]);
    assert_eq!(r.left_out, ["x@evil.example"]);
    assert_eq!(r.notes.len(), 1);
    assert!(r.notes[0].contains("x@evil.example"), "{}", r.notes[0]);
    assert!(r.notes[0].contains("trusted_reply_to_domains"));

    // Same organisation: followed.
    parent.reply_to = addrs(&["orders@buyer.example"]);
    let r = recipients(&thread(vec![parent.clone()]), &parent, Kind::Reply, &mb);
    assert_eq!(emails(&r.to), ["orders@buyer.example"]);
    assert!(r.notes.is_empty());

    // Trusted sender domain (a buyer using a ticket system): followed.
    parent.reply_to = addrs(&["ticket-9@helpdesk.example"]);
    mb.rules.trusted_reply_to_domains = vec!["buyer.example".into()];
    let r = recipients(&thread(vec![parent.clone()]), &parent, Kind::Reply, &mb);
    assert_eq!(emails(&r.to), ["ticket-9@helpdesk.example"]);
    assert!(r.notes.is_empty() && r.left_out.is_empty());
}

#[test]
fn reply_to_shown_earlier_in_the_thread_is_followed() {
    let mb = mailbox();
    let mut first = email("a@x", addr("ceo@buyer.example"), "hi", 0);
    first.to = addrs(&["alice@shop.example"]);
    first.reply_to = addrs(&["assistant@agency.example"]);
    let mut parent = email("p@x", addr("ceo@buyer.example"), "again", 1);
    parent.to = addrs(&["alice@shop.example"]);
    parent.reply_to = addrs(&["assistant@agency.example"]);
    let t = thread(vec![first, parent.clone()]);
    let r = recipients(&t, &parent, Kind::Reply, &mb);
    assert_eq!(emails(&r.to), ["assistant@agency.example"]);
    assert!(r.notes.is_empty());
}

#[test]
fn draft_is_from_the_alias_the_buyer_wrote_to() {
    let mb = mailbox();
    let mut parent = email("p@x", addr("anna@buyer.example"), "hi", 1);
    parent.to = addrs(&["Sales+Web@Shop.Example"]);
    let t = thread(vec![parent.clone()]);
    let d = compose(&t, &finding("p@x", Kind::Reply), &mb, "Hello", now()).unwrap();
    assert_eq!(d.from, "sales@shop.example");
    let raw = String::from_utf8(d.raw.clone()).unwrap();
    assert!(
        raw.contains("From: \"Alice Seller\" <sales@shop.example>"),
        "{raw}"
    );
    // The plus-tagged alias is ours: never copied.
    assert!(d.cc.is_empty() && d.left_out.is_empty());

    // A follow-up comes from the address our last message used.
    let mut ours = email("o@x", addr("sales@shop.example"), "Offer", 2);
    ours.to = addrs(&["anna@buyer.example"]);
    let t = thread(vec![parent, ours]);
    let r = recipients(&t, &t.messages[1], Kind::FollowUp { nudge: 1 }, &mb);
    assert_eq!(r.from, "sales@shop.example");
    // Unknown to any of our addresses: the primary.
    let mut bcc = email("b@x", addr("anna@buyer.example"), "hi", 1);
    bcc.to = addrs(&["list@lists.example"]);
    let r = recipients(&thread(vec![bcc.clone()]), &bcc, Kind::Reply, &mb);
    assert_eq!(r.from, "alice@shop.example");
}

#[test]
fn cc_list_is_capped() {
    let mb = mailbox();
    let many: Vec<String> = (0..25).map(|i| format!("p{i}@buyer.example")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let parent = rfq(&["alice@shop.example"], &refs);
    let r = recipients(&thread(vec![parent.clone()]), &parent, Kind::Reply, &mb);
    assert_eq!(r.cc.len(), CC_CAP);
    assert_eq!(r.left_out.len(), 25 - CC_CAP);
    assert_eq!(r.cc[0].email, "p0@buyer.example");
    // Thousands of outsiders: named up to a cap, the rest counted.
    let many: Vec<String> = (0..5000)
        .map(|i| format!("v{i}@vendor{i}.example"))
        .collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let parent = rfq(&["alice@shop.example"], &refs);
    let r = recipients(&thread(vec![parent.clone()]), &parent, Kind::Reply, &mb);
    assert!(r.cc.is_empty());
    assert_eq!(r.left_out.len(), LEFT_OUT_CAP);
    assert_eq!(
        r.notes,
        [format!(
            "{} more addresses on the message were left out",
            5000 - LEFT_OUT_CAP
        )]
    );
}

#[test]
fn follow_up_does_not_copy_unrelated_vendors() {
    let mb = mailbox();
    let first = rfq(&["alice@shop.example", "bids@rival.example"], &[]);
    // Our answer went (by a human reply-all) to the buyer and the rival.
    let mut ours = email("o@shop.example", addr("alice@shop.example"), "Offer", 2);
    ours.to = addrs(&["anna@buyer.example", "carl@buyer.example"]);
    ours.cc = addrs(&["bids@rival.example", "dave@shop.example"]);
    let t = thread(vec![first, ours.clone()]);
    let r = recipients(&t, &ours, Kind::FollowUp { nudge: 1 }, &mb);
    assert_eq!(emails(&r.to), ["anna@buyer.example", "carl@buyer.example"]);
    assert_eq!(emails(&r.cc), ["dave@shop.example"]);
    assert_eq!(r.left_out, ["bids@rival.example"]);
}

#[test]
fn references_are_trimmed_to_the_first_and_the_latest() {
    let mut parent = email("p@x", addr("anna@buyer.example"), "hi", 1);
    parent.to = addrs(&["alice@shop.example"]);
    parent.references = (0..500).map(|i| format!("r{i}@x")).collect();
    let refs = references(&parent);
    assert_eq!(refs.len(), REFERENCES_CAP);
    assert_eq!(refs[0], "r0@x");
    assert_eq!(refs[1], "r481@x");
    assert_eq!(refs[REFERENCES_CAP - 2], "r499@x");
    assert_eq!(refs[REFERENCES_CAP - 1], "p@x");
    // Short chains are kept whole.
    parent.references = vec!["a@x".into(), "b@x".into()];
    assert_eq!(references(&parent), ["a@x", "b@x", "p@x"]);
}

#[test]
fn non_ascii_message_id_never_reaches_a_header() {
    let mut parent = email("pärent@bücher.example", addr("anna@buyer.example"), "hi", 1);
    parent.to = addrs(&["alice@shop.example"]);
    parent.references = vec![
        "root@x".into(),
        "évil@x".into(),
        "with space@x".into(),
        "fine@x".into(),
    ];
    let t = thread(vec![parent.clone()]);
    let f = finding("pärent@bücher.example", Kind::Reply);
    let d = compose(&t, &f, &mailbox(), "Hello", now()).unwrap();
    let raw = String::from_utf8(d.raw.clone()).unwrap();
    let head = raw.split("\r\n\r\n").next().unwrap();
    assert!(
        !head.contains("=?"),
        "an encoded word in the header: {head}"
    );
    assert!(!head.contains("In-Reply-To"), "{head}");
    assert!(head.contains("References: <root@x> <fine@x>\r\n"), "{head}");
    // A usable parent id still threads.
    let mut ok = parent.clone();
    ok.message_id = "p@x".into();
    let d = compose(
        &thread(vec![ok]),
        &finding("p@x", Kind::Reply),
        &mailbox(),
        "Hi",
        now(),
    )
    .unwrap();
    let raw = String::from_utf8(d.raw).unwrap();
    assert!(raw.contains("In-Reply-To: <p@x>\r\n"), "{raw}");
}

#[test]
fn addresses_lettre_refuses_are_not_valid() {
    for bad in [
        "Alice <a@b.example>",
        "a b@c.example",
        "@localhost",
        "a@",
        "plain",
    ] {
        assert!(!is_valid_address(bad), "{bad}");
    }
    for good in ["a@b.example", "alice+tag@shop.example"] {
        assert!(is_valid_address(good), "{good}");
    }
}

#[test]
fn a_colleague_the_buyer_copies_in_an_answer_to_us_stays_copied() {
    let mb = mailbox();
    // We wrote to Maria (gmail); she answers with her colleague at her company in Cc.
    let mut ours = email("o@shop.example", addr("alice@shop.example"), "Intro", 0);
    ours.to = addrs(&["maria@gmail.com"]);
    let mut parent = email("p@gmail.com", addr("maria@gmail.com"), "Tell me more", 1);
    parent.to = addrs(&["alice@shop.example", "vendor@rival.example"]);
    parent.cc = addrs(&["jonas@interiors.example"]);
    let t = thread(vec![ours, parent.clone()]);
    let r = recipients(&t, &parent, Kind::Reply, &mb);
    assert_eq!(emails(&r.cc), ["jonas@interiors.example"]);
    // Someone in the To beside us is not "brought in": left out.
    assert_eq!(r.left_out, ["vendor@rival.example"]);
}

#[test]
fn contact_form_notification_is_answered_to_the_lead() {
    let mut mb = mailbox();
    mb.rules.form_senders = vec!["website@shop.example".into()];
    let mut parent = email("p@x", addr("website@shop.example"), "New enquiry", 1);
    parent.to = addrs(&["sales@shop.example"]);
    parent.reply_to = addrs(&["lena@lead.example"]);
    let r = recipients(&thread(vec![parent.clone()]), &parent, Kind::Reply, &mb);
    assert_eq!(emails(&r.to), ["lena@lead.example"]);
    assert_eq!(r.from, "sales@shop.example");
    assert!(r.notes.is_empty() && r.cc.is_empty(), "{r:?}");
}

#[test]
fn a_strangers_earlier_message_does_not_vouch_for_a_reply_to() {
    let mb = mailbox();
    // The attacker first writes into the thread themselves, then spoofs the buyer.
    let mut plant = email("a@x", addr("x@evil.example"), "hello", 0);
    plant.to = addrs(&["alice@shop.example"]);
    let mut parent = email("p@x", addr("ceo@buyer.example"), "Pay now", 1);
    parent.to = addrs(&["alice@shop.example"]);
    parent.reply_to = addrs(&["x@evil.example"]);
    let t = thread(vec![plant, parent.clone()]);
    let r = recipients(&t, &parent, Kind::Reply, &mb);
    assert_eq!(emails(&r.to), ["ceo@buyer.example"]);
    // An address we wrote to in this thread is vouched for.
    let mut ours = email("o@x", addr("alice@shop.example"), "hi", 0);
    ours.to = addrs(&["ceo@buyer.example"]);
    ours.cc = addrs(&["assistant@agency.example"]);
    parent.reply_to = addrs(&["assistant@agency.example"]);
    let t = thread(vec![ours, parent.clone()]);
    let r = recipients(&t, &parent, Kind::Reply, &mb);
    assert_eq!(emails(&r.to), ["assistant@agency.example"]);
}

#[test]
fn writing_into_the_thread_does_not_earn_a_copy() {
    let mb = mailbox();
    let mut plant = email("a@x", addr("spy@rival.example"), "hello", 0);
    plant.to = addrs(&["alice@shop.example"]);
    let mut parent = rfq(&["alice@shop.example", "spy@rival.example"], &[]);
    parent.date = Some(1);
    let t = thread(vec![plant, parent.clone()]);
    let r = recipients(&t, &parent, Kind::Reply, &mb);
    assert!(r.cc.is_empty(), "{r:?}");
    assert_eq!(r.left_out, ["spy@rival.example"]);
}
