//! The RFC 5322 draft: recipients, subject and threading headers computed by code, the model's
//! body, the signature, and the quoted parent. Pure (no I/O, `now` is an argument); the only
//! user of lettre. Nothing the model wrote reaches a header: it supplies the body text only.

use super::Draft;
use crate::config::{Identity, MailboxConfig};
use crate::detect::{Finding, Kind};
use crate::parse::{Addr, Email};
use anyhow::{Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, SinglePart};
use sha2::{Digest, Sha256};

/// Our marker header; its value is [`marker`] of the thread. `deliver` only ever touches
/// messages that carry it.
pub const MARKER_HEADER: &str = "X-Tend-Draft";

/// Characters of the parent's text quoted below the draft.
pub const QUOTE_CAP: usize = 20_000;

/// Builds the draft answering `parent` (the finding's trigger) with the model's `body`.
pub fn compose(
    parent: &Email,
    finding: &Finding,
    mailbox: &MailboxConfig,
    body: &str,
    now: DateTime<Utc>,
) -> Result<Draft> {
    anyhow::ensure!(
        parent.message_id == finding.trigger,
        "the parent <{}> is not the finding's trigger <{}>",
        parent.message_id,
        finding.trigger
    );
    let me = &mailbox.identity;
    let primary = me.primary();
    let domain = primary.rsplit_once('@').map(|(_, d)| d).unwrap_or(primary);

    let (to, cc) = recipients(parent, finding.kind, me);
    anyhow::ensure!(
        !to.is_empty(),
        "no recipient for the draft: every address on <{}> is our own or unusable",
        parent.message_id
    );

    let subject = reply_subject(&parent.subject);
    let message_id = message_id(&mailbox.name, &finding.thread_id, &finding.trigger, domain);
    // RFC 5322 3.6.4: the parent's References, or, when it has none (Outlook often sends only
    // In-Reply-To), its In-Reply-To; then the parent itself.
    let inherited = if parent.references.is_empty() {
        parent.in_reply_to.as_slice()
    } else {
        parent.references.as_slice()
    };
    let mut references: Vec<String> = inherited
        .iter()
        .map(|r| bare_id(r))
        .filter(|r| !r.is_empty() && *r != parent.message_id)
        .collect();
    references.push(parent.message_id.clone());

    let model_body = normalise(body);
    let full_body = full_body(&model_body, parent, mailbox);

    let from_name = mailbox
        .display_name
        .as_deref()
        .map(one_line)
        .filter(|n| !n.is_empty());
    let from = Mailbox::new(
        from_name,
        primary
            .parse()
            .with_context(|| format!("our own address {primary:?} is not valid"))?,
    );
    let mut builder = lettre::Message::builder()
        .from(from)
        .date(now.into())
        .subject(subject.clone())
        .message_id(Some(format!("<{message_id}>")))
        .in_reply_to(format!("<{}>", parent.message_id))
        .references(
            references
                .iter()
                .map(|r| format!("<{r}>"))
                .collect::<Vec<_>>()
                .join(" "),
        )
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str(MARKER_HEADER),
            marker(&finding.thread_id),
        ));
    for a in &to {
        builder = builder.to(mailbox_of(a)?);
    }
    for a in &cc {
        builder = builder.cc(mailbox_of(a)?);
    }
    let message = builder
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .header(ContentTransferEncoding::QuotedPrintable)
                .body(full_body),
        )
        .context("building the draft message")?;

    Ok(Draft {
        message_id,
        thread_id: finding.thread_id.clone(),
        trigger: finding.trigger.clone(),
        kind: finding.kind,
        to,
        cc,
        subject,
        body: model_body,
        raw: message.formatted(),
    })
}

/// To and Cc for a draft answering `parent`, never containing our own addresses.
///
/// Reply: To = Reply-To, else From; Cc = the parent's other To/Cc addresses (reply-all, so
/// colleagues stay in copy). Follow-up (the parent is our own message): its To and Cc again.
pub fn recipients(parent: &Email, kind: Kind, me: &Identity) -> (Vec<Addr>, Vec<Addr>) {
    let mut seen: Vec<String> = Vec::new();
    let mut take = |list: &[Addr]| -> Vec<Addr> {
        let mut out = Vec::new();
        for a in list {
            let email = a.email.trim().to_ascii_lowercase();
            if email.is_empty()
                || me.is_own(&email)
                || seen.contains(&email)
                || email.parse::<lettre::Address>().is_err()
            {
                continue;
            }
            seen.push(email.clone());
            out.push(Addr {
                name: a.name.as_deref().map(one_line).filter(|n| !n.is_empty()),
                email,
            });
        }
        out
    };
    match kind {
        Kind::Reply => {
            let mut to = take(&parent.reply_to);
            if to.is_empty() {
                to = take(parent.from.as_slice());
            }
            let others: Vec<Addr> = parent.to.iter().chain(&parent.cc).cloned().collect();
            let cc = take(&others);
            (to, cc)
        }
        Kind::FollowUp { .. } => {
            let to = take(&parent.to);
            let cc = take(&parent.cc);
            (to, cc)
        }
    }
}

/// "Re: " + subject, unless it already carries a reply prefix (Re, AW, SV, VS, Antw, Réf,
/// with an optional counter as in "Re\[2\]:"), in any case.
pub fn reply_subject(subject: &str) -> String {
    let subject = one_line(subject);
    let subject = subject.trim();
    if has_reply_prefix(subject) {
        subject.to_string()
    } else if subject.is_empty() {
        "Re:".into()
    } else {
        format!("Re: {subject}")
    }
}

fn has_reply_prefix(subject: &str) -> bool {
    const PREFIXES: [&str; 6] = ["re", "aw", "sv", "vs", "antw", "réf"];
    let lower = subject.to_lowercase();
    PREFIXES.iter().any(|p| {
        let Some(rest) = lower.strip_prefix(p) else {
            return false;
        };
        // Optional counter: "Re[2]:" or "Re(2):".
        let rest = match rest.chars().next() {
            Some(open @ ('[' | '(')) => {
                let close = if open == '[' { ']' } else { ')' };
                match rest[1..].split_once(close) {
                    Some((n, after)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
                        after
                    }
                    _ => return false,
                }
            }
            _ => rest,
        };
        rest.trim_start().starts_with(':')
    })
}

/// The deterministic Message-ID (without `<>`) of the draft for (mailbox, thread, trigger):
/// the same inputs always give the same id, so `deliver` can find a draft it already appended.
pub fn message_id(mailbox: &str, thread_id: &str, trigger: &str, domain: &str) -> String {
    let mut hash = Sha256::new();
    // Length-prefixed, so ("ab", "c") and ("a", "bc") cannot collide.
    for part in [mailbox, thread_id, trigger] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let hex = hex(&hash.finalize());
    format!("tend.{}@{}", &hex[..24], domain)
}

/// The value of [`MARKER_HEADER`] for a thread: a hash, so the header does not leak the id.
pub fn marker(thread_id: &str) -> String {
    let hex = hex(&Sha256::digest(thread_id.as_bytes()));
    format!("v1 thread={}", &hex[..24])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The model's body, then the signature, then the quoted parent, as a mail client would.
fn full_body(model_body: &str, parent: &Email, mailbox: &MailboxConfig) -> String {
    let mut out = String::from(model_body);
    if let Some(sig) = mailbox.signature.as_deref() {
        let sig = normalise(sig);
        if !sig.is_empty() {
            out.push_str("\n\n");
            // RFC 3676 section 4.3 separator "-- " (with its space, which `normalise` trims):
            // ours, replacing the one the configured signature may bring.
            let sig = match sig.split_once('\n') {
                Some(("--", rest)) => rest,
                _ if sig == "--" => "",
                _ => &sig,
            };
            out.push_str("-- \n");
            out.push_str(sig);
        }
    }
    out.push_str("\n\n");
    let who = parent
        .from
        .as_ref()
        .map(|a| match a.name.as_deref().map(one_line) {
            Some(n) if !n.trim().is_empty() => n.trim().to_string(),
            _ => a.email.clone(),
        })
        .unwrap_or_else(|| "someone".into());
    let when = parent
        .date
        .and_then(|s| mailbox.timezone.timestamp_opt(s, 0).single())
        .map(|d| d.format("%a, %-d %b %Y at %H:%M %Z").to_string());
    match when {
        Some(when) => out.push_str(&format!("On {when}, {who} wrote:\n")),
        None => out.push_str(&format!("{who} wrote:\n")),
    }
    out.push_str(&quote(&parent.text));
    // lettre ends the body with CRLF itself.
    out.truncate(out.trim_end().len());
    out
}

/// Each line prefixed with "> " (">" before an already quoted line or an empty one), capped.
fn quote(text: &str) -> String {
    let text = normalise(text);
    let (text, cut) = match text.char_indices().nth(QUOTE_CAP) {
        Some((i, _)) => (&text[..i], true),
        None => (text.as_str(), false),
    };
    let mut out = String::with_capacity(text.len() + text.len() / 20);
    for line in text.lines() {
        if line.is_empty() {
            out.push_str(">\n");
        } else if line.starts_with('>') {
            out.push('>');
            out.push_str(line);
            out.push('\n');
        } else {
            out.push_str("> ");
            out.push_str(line);
            out.push('\n');
        }
    }
    if cut {
        out.push_str("> [...]\n");
    }
    out
}

/// LF line endings, no trailing whitespace on any line, no leading or trailing blank lines.
pub(crate) fn normalise(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let start = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |i| i + 1);
    lines[start..end].join("\n")
}

/// Header text from hostile mail on one line: control characters (CR, LF, ...) become spaces.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// A Message-ID without surrounding whitespace or angle brackets.
fn bare_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

fn mailbox_of(a: &Addr) -> Result<Mailbox> {
    let address = a
        .email
        .parse()
        .with_context(|| format!("{:?} is not a usable address", a.email))?;
    Ok(Mailbox::new(a.name.clone(), address))
}

#[cfg(test)]
mod tests {
    use super::*;
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

    /// Decodes a quoted-printable body (RFC 2045 section 6.7), enough for these tests.
    fn qp_decode(body: &str) -> String {
        let mut out = Vec::new();
        let bytes = body.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'=' if bytes[i + 1..].starts_with(b"\r\n") => i += 3,
                b'=' => {
                    let h = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(h, 16).unwrap());
                    i += 3;
                }
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                    out.push(b'\n');
                    i += 2;
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).unwrap()
    }

    fn decoded_body(d: &Draft) -> String {
        let raw = raw_text(d);
        let (_, body) = raw.split_once("\r\n\r\n").unwrap();
        qp_decode(body)
    }

    /// The draft read back by `crate::parse`; `None` only while that is still the skeleton stub.
    fn parse_back(raw: &[u8]) -> Option<Email> {
        match crate::parse::parse(raw) {
            Ok(e) => Some(e),
            Err(e) if e.to_string().contains("not written yet") => None,
            Err(e) => panic!("our own draft does not parse: {e}"),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 3, 9, 30, 0).unwrap()
    }

    #[test]
    fn recipients_table() {
        let me = mailbox().identity;
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
            let (to, cc) = recipients(&e, c.kind, &me);
            assert_eq!(emails(&to), c.want_to, "{}: To", c.name);
            assert_eq!(emails(&cc), c.want_cc, "{}: Cc", c.name);
            for a in to.iter().chain(&cc) {
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
        let a = message_id("alice", "root@x", "t1@x", "shop.example");
        assert_eq!(a, message_id("alice", "root@x", "t1@x", "shop.example"));
        assert!(
            a.starts_with("tend.") && a.ends_with("@shop.example"),
            "{a}"
        );
        assert_eq!(a.len(), "tend.".len() + 24 + "@shop.example".len());
        assert_ne!(a, message_id("alice", "root@x", "t2@x", "shop.example"));
        assert_ne!(a, message_id("bob", "root@x", "t1@x", "shop.example"));
        // Separated: moving a character between fields changes the id.
        assert_ne!(
            message_id("ab", "c", "d", "x.example"),
            message_id("a", "bc", "d", "x.example")
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
        let d = compose(&parent, &f, &mailbox(), "Yes, [price] each.\r\n", now()).unwrap();

        assert_eq!(d.subject, "AW: Offer");
        assert_eq!(d.body, "Yes, [price] each.");
        assert_eq!(
            d.message_id,
            message_id("alice", "root@x", "p3@buyer.example", "shop.example")
        );
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
        assert_eq!(header(&hs, MARKER_HEADER), [marker("root@x").as_str()]);
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
        let d = compose(&parent, &f, &mailbox(), "Any news?", now()).unwrap();
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
        assert!(compose(&parent, &f, &mailbox(), "x", now()).is_err());
        let f = finding("other@x", Kind::Reply);
        assert!(compose(&parent, &f, &mailbox(), "x", now()).is_err());
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
        let d = compose(&parent, &f, &mb, "Body\r\nBcc: nobody", now()).unwrap();
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
        let Some(back) = parse_back(&d.raw) else {
            return;
        };
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
        let d = compose(
            &parent,
            &finding("p@x", Kind::Reply),
            &mailbox(),
            &body,
            now(),
        )
        .unwrap();
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
        let Some(back) = parse_back(&d.raw) else {
            return;
        };
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
        let d = compose(&parent, &finding("p@x", Kind::Reply), &mb, "Hi", now()).unwrap();
        let body = decoded_body(&d);
        assert!(body.len() < QUOTE_CAP + 500);
        assert!(body.ends_with("> [...]\n"));
        assert_eq!(body.matches("-- \n").count(), 1);
        mb.signature = None;
        let d = compose(&parent, &finding("p@x", Kind::Reply), &mb, "Hi", now()).unwrap();
        assert!(decoded_body(&d).starts_with("Hi\n\nOn "));
    }

    #[test]
    fn normalise_cases() {
        assert_eq!(normalise("\r\n\r\n a  \r\nb\t\r\n\r\n"), " a\nb");
        assert_eq!(normalise("x\ry"), "x\ny");
        assert_eq!(normalise("   \n  "), "");
    }
}
