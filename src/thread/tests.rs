//! Unit tests for threading: subject normalisation across client prefixes, the reply subject,
//! the causal order of a thread, placement by References, In-Reply-To and the subject key in
//! arrival order (filed into a real sled store in a temp dir, as the daemon files them), and
//! which side is the counterpart.

use super::*;
use crate::parse::Addr;
use crate::store::Store;

fn me() -> Identity {
    Identity {
        addresses: vec!["alice@acme.test".into()],
        internal_domains: vec!["acme.test".into()],
    }
}

fn addr(e: &str) -> Addr {
    Addr {
        name: None,
        email: e.into(),
    }
}

fn mail(id: &str, irt: Option<&str>, refs: &[&str], from: &str, to: &str, subject: &str) -> Email {
    Email {
        message_id: id.into(),
        in_reply_to: irt.map(Into::into),
        references: refs.iter().map(|r| r.to_string()).collect(),
        from: Some(addr(from)),
        reply_to: vec![],
        to: vec![addr(to)],
        cc: vec![],
        date: Some(0),
        subject: subject.into(),
        new_text: String::new(),
        text: String::new(),
        automated: None,
        out_of_office: false,
        ooo_until: None,
    }
}

#[test]
fn subjects_normalise_across_client_prefixes() {
    let cases = [
        ("Pricing", "pricing"),
        ("Re: Pricing", "pricing"),
        ("RE: AW: Pricing", "pricing"),
        ("Re[2]: Pricing", "pricing"),
        ("SV: VS: Pricing", "pricing"),
        ("Antw: Pricing", "pricing"),
        ("Fwd: Re: Pricing", "pricing"),
        ("[EXT] Re: Pricing  Q4", "pricing q4"),
        ("re : pricing", "pricing"),
        ("Réf : Devis", "devis"),
        ("Re: Rebate", "rebate"),
        ("Research: results", "research: results"),
        ("[urgent]", "[urgent]"),
        ("WG: TR: RV: ENC: Angebot", "angebot"),
        ("Re(2): Offer", "offer"),
        ("", ""),
    ];
    for (input, want) in cases {
        assert_eq!(normalize_subject(input), want, "subject {input:?}");
    }
    assert!(is_reply_subject("AW: Angebot"));
    assert!(is_reply_subject("[EXT] Re: Pricing"));
    assert!(!is_reply_subject("Reply needed"));
    assert!(!is_reply_subject("Rebate"));
}

/// 1.2.3: "Ref:" is how businesses write a reference, and a forward is not a reply: neither
/// may join an old thread by subject alone.
#[test]
fn ref_and_forward_prefixes_do_not_make_a_reply() {
    assert_eq!(normalize_subject("Ref: PO 4711"), "ref: po 4711");
    for s in [
        "Ref: PO 4711",
        "Fw: Pricing",
        "Fwd: Pricing",
        "WG: Angebot",
        "TR: Devis",
    ] {
        assert!(!is_reply_subject(s), "{s:?}");
    }
}

/// 1.2.4: compose writes its "Re:" with the same prefix list and strips a gateway's tag
/// before an existing prefix.
#[test]
fn compose_and_threading_share_one_prefix_list() {
    let cases = [
        ("[EXT] Re: Pricing", "Re: Pricing"),
        ("[EXT] [SPAM?] AW: Angebot", "AW: Angebot"),
        ("[list] Pricing", "Re: [list] Pricing"),
        ("Ref: PO 4711", "Re: Ref: PO 4711"),
        ("Fwd: Pricing", "Re: Fwd: Pricing"),
        ("Re(3): Offer", "Re(3): Offer"),
        ("", "Re:"),
    ];
    for (input, want) in cases {
        assert_eq!(reply_subject(input), want, "{input:?}");
        assert_eq!(
            crate::draft::compose::reply_subject(input),
            want,
            "{input:?}"
        );
    }
}

fn ids(messages: &[Email]) -> Vec<&str> {
    messages.iter().map(|e| e.message_id.as_str()).collect()
}

/// Files each message alone into a real store, as a sync of one message per batch would.
struct Filed {
    _dir: tempfile::TempDir,
    store: Store,
}

impl Filed {
    fn new() -> Filed {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        Filed { _dir: dir, store }
    }

    fn add(&self, e: &Email) -> String {
        let saved = self
            .store
            .save_all("m", &me(), std::slice::from_ref(e))
            .unwrap();
        saved[0].thread_id.clone()
    }
}

#[test]
fn threads_by_headers_subject_and_arrival_order() {
    // (message, expected thread) in arrival order.
    let cases: Vec<(Email, &str)> = vec![
        (
            mail(
                "a1",
                None,
                &[],
                "bob@buyer.test",
                "alice@acme.test",
                "Pricing",
            ),
            "a1",
        ),
        (
            mail(
                "a2",
                Some("a1"),
                &["a1"],
                "alice@acme.test",
                "bob@buyer.test",
                "Re: Pricing",
            ),
            "a1",
        ),
        // Outlook keeps only In-Reply-To.
        (
            mail(
                "a3",
                Some("a2"),
                &[],
                "bob@buyer.test",
                "alice@acme.test",
                "RE: Pricing",
            ),
            "a1",
        ),
        // A client that dropped both headers: joins by subject and counterpart.
        (
            mail(
                "a4",
                None,
                &[],
                "bob@buyer.test",
                "alice@acme.test",
                "Re: Pricing",
            ),
            "a1",
        ),
        // Same subject, no reply prefix: a new conversation.
        (
            mail(
                "b1",
                None,
                &[],
                "bob@buyer.test",
                "alice@acme.test",
                "Pricing",
            ),
            "b1",
        ),
        // Same subject with a reply prefix but another counterpart: not joined.
        (
            mail(
                "c1",
                None,
                &[],
                "carol@other.test",
                "alice@acme.test",
                "Re: Pricing",
            ),
            "c1",
        ),
        // A reply arriving before its parent: named after the root it references.
        (
            mail(
                "d3",
                Some("d2"),
                &["d1", "d2"],
                "dan@d.test",
                "alice@acme.test",
                "Re: Demo",
            ),
            "d1",
        ),
        // The parent arrives later and joins the thread its child named.
        (
            mail(
                "d2",
                Some("d1"),
                &["d1"],
                "alice@acme.test",
                "dan@d.test",
                "Re: Demo",
            ),
            "d1",
        ),
        (
            mail("d1", None, &[], "dan@d.test", "alice@acme.test", "Demo"),
            "d1",
        ),
        // An out-of-office naming only our proposal, before the proposal itself arrives
        // (INBOX is synced before Sent): a thread of its own at first...
        (
            mail(
                "f1",
                None,
                &[],
                "fay@f.test",
                "alice@acme.test",
                "Proposal request",
            ),
            "f1",
        ),
        (
            mail(
                "f3",
                Some("f2"),
                &["f2"],
                "fay@f.test",
                "alice@acme.test",
                "Automatic reply: Re: Proposal request",
            ),
            "f2",
        ),
        // ...until the proposal links both: the root's thread absorbs the other one.
        (
            mail(
                "f2",
                Some("f1"),
                &["f1"],
                "alice@acme.test",
                "fay@f.test",
                "Re: Proposal request",
            ),
            "f1",
        ),
        (
            mail(
                "f4",
                Some("f3"),
                &["f2", "f3"],
                "fay@f.test",
                "alice@acme.test",
                "Re: Proposal request",
            ),
            "f1",
        ),
        // A buyer's client dropped all headers and INBOX is read before Sent: the reply
        // starts an orphan thread, and our original, arriving later, claims it.
        (
            mail(
                "g2",
                None,
                &[],
                "gil@g.test",
                "alice@acme.test",
                "Re: Licences",
            ),
            "g2",
        ),
        (
            mail("g1", None, &[], "alice@acme.test", "gil@g.test", "Licences"),
            "g2",
        ),
        (
            mail(
                "g3",
                Some("g1"),
                &["g1"],
                "gil@g.test",
                "alice@acme.test",
                "Re: Licences",
            ),
            "g2",
        ),
        // Once claimed, a new original with the same subject starts its own thread.
        (
            mail("g9", None, &[], "alice@acme.test", "gil@g.test", "Licences"),
            "g9",
        ),
        // Self-reference and empty ids are ignored.
        (
            mail(
                "e1",
                Some("e1"),
                &["", "e1"],
                "erin@e.test",
                "alice@acme.test",
                "Hello",
            ),
            "e1",
        ),
    ];
    let filed = Filed::new();
    for (email, want) in cases {
        let got = filed.add(&email);
        assert_eq!(got, want, "message {}", email.message_id);
    }
    // The merge moved the out-of-office into the root's thread, on every read path.
    let f = filed.store.thread("f2").unwrap().unwrap();
    assert_eq!(
        (f.id.as_str(), ids(&f.messages)),
        ("f1", vec!["f1", "f2", "f3", "f4"])
    );
    assert_eq!(filed.store.thread_of("f3").unwrap().as_deref(), Some("f1"));
    let recent = filed.store.recent_threads("m", 0).unwrap();
    assert!(recent.contains(&"f1".to_string()) && !recent.contains(&"f2".to_string()));
}

#[test]
fn counterpart_is_the_external_side() {
    let inbound = mail("x", None, &[], "bob@buyer.test", "alice@acme.test", "s");
    assert_eq!(counterpart(&inbound, &me()), Some("bob@buyer.test"));
    let outbound = mail("y", None, &[], "alice@acme.test", "bob@buyer.test", "s");
    assert_eq!(counterpart(&outbound, &me()), Some("bob@buyer.test"));
    let internal = mail("z", None, &[], "alice@acme.test", "carl@acme.test", "s");
    assert_eq!(counterpart(&internal, &me()), None);
}
