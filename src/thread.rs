//! Which thread a message belongs to. Pure: [`resolve`] gets lookups into what is already known
//! (Message-ID -> thread, subject key -> thread) and answers with a thread id; the store owns
//! the lookups and the writing. References and In-Reply-To decide first; a subject key (the
//! normalised subject plus the counterpart's address) catches replies from clients that drop
//! threading headers. It owns [`Thread`], the unit `detect` judges.

use crate::config::Identity;
use crate::parse::Email;

/// One conversation: its id (the root Message-ID as first seen) and its messages, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Thread {
    pub id: String,
    pub messages: Vec<Email>,
}

/// Reply and forward prefixes as clients write them, lower-case: English, German (AW, WG),
/// Nordic (SV, VS), Dutch (Antw), French (Réf, TR), Outlook's localised forwards.
const PREFIXES: &[&str] = &[
    "re", "aw", "sv", "vs", "antw", "réf", "ref", "fw", "fwd", "wg", "tr", "rv", "enc",
];

/// Strips reply/forward prefixes (`Re:`, `AW:`, `Re[2]:`, `Fwd:`...) and `[tags]` before them,
/// lower-cases and collapses whitespace: "RE: AW:  Pricing  Q4" -> "pricing q4".
pub fn normalize_subject(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let before = s;
        if let Some(rest) = strip_prefix(s) {
            s = rest.trim_start();
        } else if s.starts_with('[') {
            // "[EXT] Re: ..." tags added by gateways; keep a bracket that is the whole subject.
            match s.find(']') {
                Some(end) if end + 1 < s.len() => s = s[end + 1..].trim_start(),
                _ => break,
            }
        }
        if s == before {
            break;
        }
    }
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Does the subject carry a reply prefix ("Re:", "AW:"...)?
pub fn is_reply_subject(subject: &str) -> bool {
    strip_prefix(subject.trim()).is_some()
}

/// `s` without one leading prefix such as "Re:", "re :", "Re[3]:", "Fwd:".
fn strip_prefix(s: &str) -> Option<&str> {
    let word_end = s.find(|c: char| !c.is_alphabetic())?;
    let word = s[..word_end].to_lowercase();
    if !PREFIXES.contains(&word.as_str()) {
        return None;
    }
    let mut rest = &s[word_end..];
    if let Some(r) = rest.strip_prefix('[') {
        let close = r.find(']')?;
        if !r[..close].chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        rest = &r[close + 1..];
    }
    let rest = rest.trim_start_matches(' ');
    rest.strip_prefix(':').or_else(|| rest.strip_prefix('：'))
}

/// The counterpart of a message: the sender when it is inbound, else the first recipient who
/// is not us or a colleague. `None` for purely internal mail.
pub fn counterpart<'a>(email: &'a Email, me: &Identity) -> Option<&'a str> {
    let from = email.from.as_ref()?;
    if !me.is_internal(&from.email) {
        return Some(&from.email);
    }
    email
        .to
        .iter()
        .chain(&email.cc)
        .map(|a| a.email.as_str())
        .find(|a| !me.is_internal(a))
}

/// The subject-fallback key of a message: normalised subject and counterpart.
pub fn subject_key(email: &Email, me: &Identity) -> Option<String> {
    let subject = normalize_subject(&email.subject);
    if subject.is_empty() {
        return None;
    }
    Some(format!("{}\u{0}{}", counterpart(email, me)?, subject))
}

/// The ids this message names as its ancestors, nearest first: In-Reply-To, then References
/// from the newest back to the root.
pub fn ancestors(email: &Email) -> Vec<&str> {
    let mut ids: Vec<&str> = Vec::with_capacity(email.references.len() + 1);
    for id in email
        .in_reply_to
        .iter()
        .chain(email.references.iter().rev())
    {
        if !id.is_empty() && id != &email.message_id && !ids.contains(&id.as_str()) {
            ids.push(id);
        }
    }
    ids
}

/// Where a message goes: its thread, and other threads it proves to be the same conversation
/// (a reply that arrived before its parent started one of its own). The store merges those
/// into `thread`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub thread: String,
    pub absorbs: Vec<String>,
    /// What this message does to the orphan index (see [`orphan_key`]).
    pub orphan: Orphan,
}

/// A reply whose client dropped the threading headers can arrive before the original it
/// answers (INBOX is read before Sent). Such a reply starts an "orphan" thread, indexed under
/// [`orphan_key`]; the original, arriving later without a reply prefix, claims it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orphan {
    None,
    /// Index this message's thread under the orphan key of its subject key.
    Starts,
    /// This original joined an orphan thread: remove the orphan key, so a later unrelated
    /// original with the same subject stays apart.
    Claims,
}

/// The index key under which an orphan thread waits for its original.
pub fn orphan_key(subject_key: &str) -> String {
    format!("orphan\u{0}{subject_key}")
}

/// The thread of `email`. `known` maps a Message-ID (of a stored message, or of an ancestor a
/// stored message named) to its thread; `by_subject` maps a subject key (or an
/// [`orphan_key`]) to a thread.
pub fn resolve(
    email: &Email,
    me: &Identity,
    known: impl Fn(&str) -> Option<String>,
    by_subject: impl Fn(&str) -> Option<String>,
) -> Placement {
    let placed = |thread: String, absorbs: Vec<String>, orphan: Orphan| Placement {
        thread,
        absorbs,
        orphan,
    };
    // Root side first, so a merged thread keeps the name of its oldest known part; then the
    // message's own id, which a child that arrived first may already have named.
    let mut found: Vec<String> = Vec::new();
    let ids = ancestors(email);
    for id in ids.iter().rev().copied().chain([email.message_id.as_str()]) {
        if let Some(t) = known(id) {
            if !found.contains(&t) {
                found.push(t);
            }
        }
    }
    if !found.is_empty() {
        let thread = found.remove(0);
        return placed(thread, found, Orphan::None);
    }
    // Only a message that says it is a reply, yet names no known ancestor, joins by subject:
    // two unrelated "Meeting" mails stay apart. An original joins only an orphan reply.
    let key = subject_key(email, me);
    let is_reply = is_reply_subject(&email.subject);
    if let Some(k) = &key {
        if is_reply {
            if let Some(t) = by_subject(k) {
                return placed(t, Vec::new(), Orphan::None);
            }
        } else if let Some(t) = by_subject(&orphan_key(k)) {
            return placed(t, Vec::new(), Orphan::Claims);
        }
    }
    // A new thread is named after its root, so later messages naming that root join it.
    let thread = email
        .references
        .first()
        .filter(|r| !r.is_empty())
        .or(email.in_reply_to.as_ref())
        .unwrap_or(&email.message_id)
        .clone();
    let orphan = if is_reply && ids.is_empty() && key.is_some() {
        Orphan::Starts
    } else {
        Orphan::None
    };
    placed(thread, Vec::new(), orphan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Addr;
    use std::collections::HashMap;

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

    fn mail(
        id: &str,
        irt: Option<&str>,
        refs: &[&str],
        from: &str,
        to: &str,
        subject: &str,
    ) -> Email {
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
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_subject(input), want, "subject {input:?}");
        }
        assert!(is_reply_subject("AW: Angebot"));
        assert!(!is_reply_subject("Reply needed"));
        assert!(!is_reply_subject("Rebate"));
    }

    /// A tiny in-memory store that records like the real one: the message, and its ancestors.
    struct Mem {
        known: HashMap<String, String>,
        subjects: HashMap<String, String>,
    }

    impl Mem {
        fn add(&mut self, e: &Email) -> String {
            let p = resolve(
                e,
                &me(),
                |id| self.known.get(id).cloned(),
                |k| self.subjects.get(k).cloned(),
            );
            let t = p.thread;
            for v in self.known.values_mut().chain(self.subjects.values_mut()) {
                if p.absorbs.contains(v) {
                    *v = t.clone();
                }
            }
            self.known.insert(e.message_id.clone(), t.clone());
            for a in ancestors(e) {
                self.known.entry(a.to_string()).or_insert(t.clone());
            }
            if let Some(k) = subject_key(e, &me()) {
                match p.orphan {
                    Orphan::Starts => drop(self.subjects.insert(orphan_key(&k), t.clone())),
                    Orphan::Claims => drop(self.subjects.remove(&orphan_key(&k))),
                    Orphan::None => {}
                }
                self.subjects.insert(k, t.clone());
            }
            t
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
        let mut mem = Mem {
            known: HashMap::new(),
            subjects: HashMap::new(),
        };
        for (email, want) in cases {
            let got = mem.add(&email);
            assert_eq!(got, want, "message {}", email.message_id);
        }
    }

    #[test]
    fn counterpart_is_the_external_side() {
        let inbound = mail("x", None, &[], "Bob@Buyer.test", "alice@acme.test", "s");
        let mut inbound = inbound;
        inbound.from = Some(addr("bob@buyer.test"));
        assert_eq!(counterpart(&inbound, &me()), Some("bob@buyer.test"));
        let outbound = mail("y", None, &[], "alice@acme.test", "bob@buyer.test", "s");
        assert_eq!(counterpart(&outbound, &me()), Some("bob@buyer.test"));
        let internal = mail("z", None, &[], "alice@acme.test", "carl@acme.test", "s");
        assert_eq!(counterpart(&internal, &me()), None);
    }
}
