//! Unit tests for composing a draft: recipients, subject prefixes, the deterministic Message-ID,
//! reply headers and threading, header injection, non-ASCII bodies and the capped quote.

use super::*;
use crate::detect::Kind;
use crate::draft::test_support::{email, finding, mailbox};

fn addr(name: Option<&str>, email: &str) -> Addr {
    Addr {
        name: name.map(str::to_string),
        email: email.into(),
    }
}

fn emails(list: &[Addr]) -> Vec<&str> {
    list.iter().map(|a| a.email.as_str()).collect()
}

fn raw_text(d: &Draft) -> String {
    String::from_utf8(d.raw.clone()).unwrap()
}

/// The header block of a raw message, unfolded, as (name, value) pairs.
fn headers(raw: &str) -> Vec<(String, String)> {
    let head = raw.split("\r\n\r\n").next().unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with(' ') || line.starts_with('\t') {
            out.last_mut().unwrap().1.push_str(line);
        } else {
            let (n, v) = line.split_once(':').expect("a header line");
            out.push((n.to_string(), v.trim().to_string()));
        }
    }
    out
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    hs.iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn decoded_body(d: &Draft) -> String {
    let raw = raw_text(d);
    let (_, body) = raw.split_once("\r\n\r\n").unwrap();
    let bytes = quoted_printable::decode(body, quoted_printable::ParseMode::Strict).unwrap();
    String::from_utf8(bytes).unwrap().replace("\r\n", "\n")
}

/// The draft read back by `crate::parse`.
fn parse_back(raw: &[u8]) -> Email {
    crate::parse::parse(raw).unwrap_or_else(|e| panic!("our own draft does not parse: {e}"))
}

/// A thread holding only `parent`.
fn alone(parent: &Email) -> Thread {
    Thread {
        id: "root@x".into(),
        messages: vec![parent.clone()],
    }
}

/// Composes the draft answering `parent`, the only message of its thread.
fn compose1(parent: &Email, f: &Finding, mb: &MailboxConfig, body: &str) -> Result<Draft> {
    compose(&alone(parent), f, mb, body, now())
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 3, 9, 30, 0).unwrap()
}

#[test]
fn recipients_table() {
    let mb = mailbox();
    let me = mb.identity.clone();
    let bob = addr(Some("Bob"), "bob@buyer.example");
    let carol = addr(None, "carol@buyer.example");
    let alice = addr(Some("Alice"), "alice@shop.example");
    let alias_upper = addr(None, "SALES@Shop.Example");
    let colleague = addr(None, "dave@shop.example");
    let desk = addr(None, "orders@buyer.example");

    struct Case {
        name: &'static str,
        kind: Kind,
        from: Addr,
        reply_to: Vec<Addr>,
        to: Vec<Addr>,
        cc: Vec<Addr>,
        want_to: Vec<&'static str>,
        want_cc: Vec<&'static str>,
    }
    let reply = Kind::Reply;
    let follow = Kind::FollowUp { nudge: 1 };
    let cases = vec![
        Case {
            name: "plain reply goes to From",
            kind: reply,
            from: bob.clone(),
            reply_to: vec![],
            to: vec![alice.clone()],
            cc: vec![],
            want_to: vec!["bob@buyer.example"],
            want_cc: vec![],
        },
        Case {
            name: "Reply-To wins over From",
            kind: reply,
            from: bob.clone(),
            reply_to: vec![desk.clone()],
            to: vec![alice.clone()],
            cc: vec![],
            want_to: vec!["orders@buyer.example"],
            want_cc: vec![],
        },
        Case {
            name: "reply-all keeps their colleague and ours in Cc",
            kind: reply,
            from: bob.clone(),
            reply_to: vec![],
            to: vec![alice.clone(), carol.clone()],
            cc: vec![colleague.clone()],
            want_to: vec!["bob@buyer.example"],
            want_cc: vec!["carol@buyer.example", "dave@shop.example"],
        },
        Case {
            name: "own alias in other case is removed, To not repeated in Cc",
            kind: reply,
            from: bob.clone(),
            reply_to: vec![],
            to: vec![alias_upper.clone(), bob.clone()],
            cc: vec![addr(None, "Bob@Buyer.Example"), alice.clone()],
            want_to: vec!["bob@buyer.example"],
            want_cc: vec![],
        },
        Case {
            name: "Reply-To pointing at us falls back to From",
            kind: reply,
            from: bob.clone(),
            reply_to: vec![alias_upper.clone()],
            to: vec![alice.clone()],
            cc: vec![],
            want_to: vec!["bob@buyer.example"],
            want_cc: vec![],
        },
        Case {
            name: "follow-up goes to our message's recipients",
            kind: follow,
            from: alice.clone(),
            reply_to: vec![],
            to: vec![bob.clone(), alias_upper.clone()],
            cc: vec![carol.clone(), alice.clone()],
            want_to: vec!["bob@buyer.example"],
            want_cc: vec!["carol@buyer.example"],
        },
        Case {
            name: "garbage addresses are dropped",
            kind: reply,
            from: bob.clone(),
            reply_to: vec![],
            to: vec![
                addr(None, "not an address"),
                addr(None, "x@y.example\r\nBcc: z@evil.example"),
            ],
            cc: vec![],
            want_to: vec!["bob@buyer.example"],
            want_cc: vec![],
        },
    ];
    for c in cases {
        let mut e = email("p@x", c.from.clone(), "hi", 1_717_000_000);
        e.reply_to = c.reply_to;
        e.to = c.to;
        e.cc = c.cc;
        let r = recipients(&alone(&e), &e, c.kind, &mb);
        assert_eq!(emails(&r.to), c.want_to, "{}: To", c.name);
        assert_eq!(emails(&r.cc), c.want_cc, "{}: Cc", c.name);
        for a in r.to.iter().chain(&r.cc) {
            assert!(!me.is_own(&a.email), "{}: own address {}", c.name, a.email);
        }
    }
}

#[test]
fn subject_prefixes() {
    let cases = [
        ("Offer", "Re: Offer"),
        ("Re: Offer", "Re: Offer"),
        ("RE: Offer", "RE: Offer"),
        ("re:Offer", "re:Offer"),
        ("AW: Angebot", "AW: Angebot"),
        ("Aw: Angebot", "Aw: Angebot"),
        ("SV: Tilbud", "SV: Tilbud"),
        ("VS: Tarjous", "VS: Tarjous"),
        ("Antw: Offerte", "Antw: Offerte"),
        ("Réf : Offre", "Réf : Offre"),
        ("Re[2]: Offer", "Re[2]: Offer"),
        ("Re(3): Offer", "Re(3): Offer"),
        ("Reply needed", "Re: Reply needed"),
        ("Svelte quote", "Re: Svelte quote"),
        ("Vs. the competition", "Re: Vs. the competition"),
        ("Re[x]: odd", "Re: Re[x]: odd"),
        ("  Offer  ", "Re: Offer"),
        ("", "Re:"),
        (
            "Offer\r\nBcc: evil@attacker.example",
            "Re: Offer  Bcc: evil@attacker.example",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(reply_subject(input), want, "{input:?}");
    }
}

#[test]
fn message_id_is_deterministic() {
    let mb = mailbox();
    let a = message_id(&mb, "t1@x");
    assert_eq!(a, message_id(&mb, "t1@x"));
    let domain = draft_id_domain(&mb);
    assert!(
        a.starts_with("tend.") && a.ends_with(&format!("@{domain}")),
        "{a}"
    );
    assert_eq!(a.len(), "tend.".len() + 24 + 1 + domain.len());
    assert_ne!(a, message_id(&mb, "t2@x"));
    let mut other = mailbox();
    other.imap.username = "bob".into();
    assert_ne!(a, message_id(&other, "t1@x"));
    // Separated: moving a character between fields changes the legacy id.
    assert_ne!(
        legacy_message_id("ab", "c", "d", "x.example"),
        legacy_message_id("a", "bc", "d", "x.example")
    );
}

#[test]
fn the_draft_id_domain_is_the_accounts_own() {
    let mut mb = mailbox();
    mb.imap.username = "Alice@Example.COM".into();
    assert_eq!(draft_id_domain(&mb), "example.com");
    mb.imap.username = "alice".into();
    mb.imap.host = "imap.fastmail.com".into();
    assert_eq!(draft_id_domain(&mb), "imap.fastmail.com");
    mb.imap.host = "127.0.0.1".into();
    assert_eq!(draft_id_domain(&mb), "127.0.0.1");
    mb.imap.host = "localhost".into();
    assert_eq!(draft_id_domain(&mb), "tend.invalid");
    mb.imap.username = "x@bad domain".into();
    assert_eq!(draft_id_domain(&mb), "tend.invalid");
}

#[test]
fn the_draft_id_survives_a_rename_a_reorder_and_a_merge() {
    let mb = mailbox();
    let a = message_id(&mb, "t1@x");
    let mut renamed = mailbox();
    renamed.name = "alice-work".into();
    renamed.identity.addresses.reverse();
    renamed
        .identity
        .addresses
        .push("alice@other.example".into());
    renamed.identity.addresses.rotate_left(2);
    renamed.imap.username = "ALICE".into();
    renamed.imap.host = "IMAP.Shop.Example".into();
    assert_eq!(a, message_id(&renamed, "t1@x"));
    // The thread is no input: a merge that renames it changes nothing.
    let f = finding("t1@x", Kind::Reply);
    let mut merged = finding("t1@x", Kind::Reply);
    merged.thread_id = "older-root@x".into();
    assert_ne!(f.thread_id, merged.thread_id);
    let parent = email(
        "t1@x",
        addr(None, "bob@buyer.example"),
        "Price?",
        1_717_200_000,
    );
    let one = compose(&alone(&parent), &f, &mb, "Yes.", now()).unwrap();
    let two = compose(&alone(&parent), &merged, &renamed, "Yes.", now()).unwrap();
    assert_eq!(one.message_id, two.message_id);
    // The legacy formula is kept exactly (this is what tend 0.1 wrote), to find those drafts.
    assert_eq!(
        legacy_message_id("alice", "root@x", "t1@x", "shop.example"),
        "tend.c4f577df0b040448c62ab2f5@shop.example"
    );
}

#[test]
fn reply_headers_and_threading() {
    let mut parent = email(
        "p3@buyer.example",
        addr(Some("Bob Buyer"), "bob@buyer.example"),
        "Can you do 100 units?\n\n> older quote",
        1_717_200_000,
    );
    parent.references = vec!["p1@buyer.example".into(), "<p2@shop.example>".into()];
    parent.to = vec![addr(Some("Alice"), "alice@shop.example")];
    parent.subject = "AW: Offer".into();
    let f = finding("p3@buyer.example", Kind::Reply);
    let d = compose1(&parent, &f, &mailbox(), "Yes, [price] each.\r\n").unwrap();

    assert_eq!(d.subject, "AW: Offer");
    assert_eq!(d.body, "Yes, [price] each.");
    assert_eq!(d.message_id, message_id(&mailbox(), "p3@buyer.example"));
    assert_eq!(d.thread_id, "root@x");
    assert_eq!(d.trigger, "p3@buyer.example");
    assert_eq!(d.kind, Kind::Reply);

    let raw = raw_text(&d);
    assert!(!raw.replace("\r\n", "").contains('\n'), "CRLF only");
    let hs = headers(&raw);
    assert_eq!(header(&hs, "In-Reply-To"), ["<p3@buyer.example>"]);
    assert_eq!(
        header(&hs, "References"),
        ["<p1@buyer.example> <p2@shop.example> <p3@buyer.example>"]
    );
    assert_eq!(
        header(&hs, "Message-ID"),
        [format!("<{}>", d.message_id).as_str()]
    );
    assert_eq!(header(&hs, "To"), ["\"Bob Buyer\" <bob@buyer.example>"]);
    assert!(header(&hs, "Cc").is_empty());
    assert_eq!(
        header(&hs, "From"),
        ["\"Alice Seller\" <alice@shop.example>"]
    );
    assert_eq!(header(&hs, "Subject"), ["AW: Offer"]);
    assert_eq!(header(&hs, "Date"), ["Mon, 03 Jun 2024 09:30:00 +0000"]);
    // The marker vouches for the body as a parser decodes it back, and for nothing else.
    let (value, text) = crate::parse::header_and_text(&d.raw, MARKER_HEADER).expect("a marker");
    assert!(value.starts_with("v2 thread="), "{value}");
    assert!(crate::draft::compose::marker_vouches_for(&value, &text));
    assert!(!crate::draft::compose::marker_vouches_for(
        &value,
        &format!("{text}\nEdited.")
    ));
    assert_eq!(header(&hs, "Content-Type"), ["text/plain; charset=utf-8"]);
    assert_eq!(
        header(&hs, "Content-Transfer-Encoding"),
        ["quoted-printable"]
    );
    assert_eq!(header(&hs, "MIME-Version"), ["1.0"]);

    // The separator's space survives transport: QP encodes it (RFC 2045 6.7 rule 3).
    assert!(raw.contains("\r\n--=20\r\n"), "{raw}");
    let body = decoded_body(&d);
    assert_eq!(
        body,
        "Yes, [price] each.\n\n-- \nAlice Seller\nShop GmbH\n\n\
         On Sat, 1 Jun 2024 at 02:00 CEST, Bob Buyer wrote:\n\
         > Can you do 100 units?\n>\n>> older quote\n"
    );
}

#[test]
fn follow_up_answers_our_own_message() {
    let mut parent = email(
        "ours@shop.example",
        addr(None, "alice@shop.example"),
        "Our offer.",
        1_717_200_000,
    );
    parent.to = vec![addr(Some("Bob"), "bob@buyer.example")];
    parent.cc = vec![
        addr(None, "sales@shop.example"),
        addr(None, "carol@buyer.example"),
    ];
    parent.subject = "Re: Offer".into();
    let f = finding("ours@shop.example", Kind::FollowUp { nudge: 1 });
    let d = compose1(&parent, &f, &mailbox(), "Any news?").unwrap();
    assert_eq!(emails(&d.to), ["bob@buyer.example"]);
    assert_eq!(emails(&d.cc), ["carol@buyer.example"]);
    assert_eq!(d.subject, "Re: Offer");
    let hs = headers(&raw_text(&d));
    assert_eq!(header(&hs, "In-Reply-To"), ["<ours@shop.example>"]);
    assert_eq!(header(&hs, "Cc"), ["carol@buyer.example"]);
    assert!(decoded_body(&d).contains("alice@shop.example wrote:\n> Our offer.\n"));
}

#[test]
fn refuses_a_draft_without_recipients_or_for_the_wrong_parent() {
    let parent = email("p@x", addr(None, "alice@shop.example"), "hi", 1);
    let f = finding("p@x", Kind::FollowUp { nudge: 1 });
    let err = compose1(&parent, &f, &mailbox(), "x").unwrap_err();
    assert!(err.downcast_ref::<NoRecipient>().is_some(), "{err:#}");
    let f = finding("other@x", Kind::Reply);
    assert!(compose1(&parent, &f, &mailbox(), "x").is_err());
}

#[test]
fn header_injection_is_encoded_not_obeyed() {
    let mut parent = email(
        "p@x",
        addr(
            Some("Bob\r\nBcc: evil@attacker.example"),
            "bob@buyer.example",
        ),
        "hi",
        1_717_200_000,
    );
    parent.subject = "Offer\r\nBcc: evil@attacker.example\r\nX-Evil: 1".into();
    parent.cc = vec![addr(
        Some("Carol\nTo: evil2@attacker.example"),
        "carol@buyer.example",
    )];
    let f = finding("p@x", Kind::Reply);
    let mut mb = mailbox();
    mb.display_name = Some("Alice\r\nReply-To: evil@attacker.example".into());
    let d = compose1(&parent, &f, &mb, "Body\r\nBcc: nobody").unwrap();
    let raw = raw_text(&d);
    let hs = headers(&raw);
    let names: Vec<&str> = hs.iter().map(|(n, _)| n.as_str()).collect();
    for bad in ["Bcc", "X-Evil", "Reply-To"] {
        assert!(
            !names.iter().any(|n| n.eq_ignore_ascii_case(bad)),
            "{bad} in {names:?}"
        );
    }
    assert_eq!(header(&hs, "To").len(), 1);
    assert!(header(&hs, "To")[0].ends_with("<bob@buyer.example>"));
    assert!(!header(&hs, "To")[0].contains("evil2"));
    assert_eq!(emails(&d.to), ["bob@buyer.example"]);
    assert_eq!(emails(&d.cc), ["carol@buyer.example"]);
    // Every header line is a header or a fold: no line break from the hostile values.
    let head = raw.split("\r\n\r\n").next().unwrap();
    for line in head.split("\r\n") {
        assert!(
            line.starts_with([' ', '\t']) || line.contains(':'),
            "{line:?}"
        );
    }
    // Read back by our own parser: the hostile text stayed text.
    let back = parse_back(&d.raw);
    assert_eq!(emails(&back.to), ["bob@buyer.example"]);
    assert_eq!(emails(&back.cc), ["carol@buyer.example"]);
    assert!(back.subject.starts_with("Re: Offer"), "{}", back.subject);
    assert_eq!(back.from.as_ref().unwrap().email, "alice@shop.example");
}

#[test]
fn non_ascii_body_round_trips() {
    let mut parent = email(
        "p@x",
        addr(Some("Jürgen Müller"), "jm@kunde.example"),
        "Grüße aus Köln — 10 € pro Stück?",
        1_717_200_000,
    );
    parent.subject = "Anfrage für Bürostühle".into();
    let body = "Sehr geehrter Herr Müller,\n\ngerne: [Preis] € pro Stück. 日本語もOK.\n"
        .to_string()
        + &"Eine sehr lange Zeile ohne Umbruch, ".repeat(10);
    let d = compose1(&parent, &finding("p@x", Kind::Reply), &mailbox(), &body).unwrap();
    let raw = raw_text(&d);
    assert!(raw.is_ascii(), "the wire form is 7-bit");
    for line in raw.split("\r\n") {
        assert!(line.len() <= 78, "line too long: {line:?}");
    }
    let decoded = decoded_body(&d);
    assert!(decoded.starts_with(&normalise(&body)), "{decoded}");
    assert!(decoded.contains("Jürgen Müller wrote:\n> Grüße aus Köln — 10 € pro Stück?"));
    // Subject is RFC 2047 encoded and not mangled in the Draft.
    assert_eq!(d.subject, "Re: Anfrage für Bürostühle");
    assert!(header(&headers(&raw), "Subject")[0].contains("=?utf-8?"));
    // Our own parser reads back the same facts.
    let back = parse_back(&d.raw);
    assert_eq!(back.message_id, d.message_id);
    assert_eq!(back.subject, d.subject);
    assert_eq!(back.in_reply_to.as_deref(), Some("p@x"));
    assert_eq!(back.references, ["p@x"]);
    assert!(back.text.contains("日本語もOK"), "{}", back.text);
    assert!(back.text.contains("-- \nAlice Seller"), "{}", back.text);
}

#[test]
fn quote_is_capped_and_signature_separator_not_doubled() {
    let long = "z".repeat(QUOTE_CAP * 2);
    let parent = email("p@x", addr(None, "bob@buyer.example"), &long, 1_717_200_000);
    let mut mb = mailbox();
    mb.signature = Some("-- \nAlice".into());
    let d = compose1(&parent, &finding("p@x", Kind::Reply), &mb, "Hi").unwrap();
    let body = decoded_body(&d);
    assert!(body.len() < QUOTE_CAP + 500);
    assert!(body.ends_with("> [...]\n"));
    assert_eq!(body.matches("-- \n").count(), 1);
    mb.signature = None;
    let d = compose1(&parent, &finding("p@x", Kind::Reply), &mb, "Hi").unwrap();
    assert!(decoded_body(&d).starts_with("Hi\n\nOn "));
}

#[test]
fn normalise_cases() {
    assert_eq!(normalise("\r\n\r\n a  \r\nb\t\r\n\r\n"), " a\nb");
    assert_eq!(normalise("x\ry"), "x\ny");
    assert_eq!(normalise("   \n  "), "");
}
