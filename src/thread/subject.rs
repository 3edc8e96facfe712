//! Subjects: the one list of reply and forward prefixes, used both to normalise a subject for
//! the subject-fallback key and to write a draft's "Re:" subject (`draft::compose` calls
//! [`reply_subject`]), so the two cannot drift apart.

/// Reply prefixes as clients write them, lower-case: English, German (AW), Nordic (SV, VS),
/// Dutch (Antw), French Open-Xchange (Réf). Not "Ref": "Ref: PO 4711" is a business subject.
const REPLY: &[&str] = &["re", "aw", "sv", "vs", "antw", "réf"];

/// Forward prefixes: English and Outlook's localised forwards (German WG, French TR, Spanish
/// RV, Portuguese ENC). Stripped for the subject key, but a forward is not a reply: it never
/// joins a thread by subject alone.
const FORWARD: &[&str] = &["fw", "fwd", "wg", "tr", "rv", "enc"];

/// Strips reply/forward prefixes (`Re:`, `AW:`, `Re[2]:`, `Fwd:`...) and `[tags]` before them,
/// lower-cases and collapses whitespace: "RE: AW:  Pricing  Q4" -> "pricing q4".
pub fn normalize_subject(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let before = s;
        if let Some(rest) = strip_prefix(s, REPLY).or_else(|| strip_prefix(s, FORWARD)) {
            s = rest.trim_start();
        } else if let Some(rest) = strip_tag(s) {
            s = rest;
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

/// Does the subject carry a reply prefix ("Re:", "AW:"...), perhaps after gateway tags?
pub fn is_reply_subject(subject: &str) -> bool {
    reply_part(subject.trim()).is_some()
}

/// The subject of a reply: the subject as it is when it already carries a reply prefix (a
/// gateway's `[EXT]` before it dropped, so `[EXT] Re: Pricing` gives `Re: Pricing`, not
/// `Re: [EXT] Re: Pricing`); otherwise "Re: " before it.
pub fn reply_subject(subject: &str) -> String {
    let subject = subject.trim();
    match reply_part(subject) {
        Some(s) => s.to_string(),
        None if subject.is_empty() => "Re:".into(),
        None => format!("Re: {subject}"),
    }
}

/// `s` from its reply prefix on, skipping `[tags]` before it; `None` without a reply prefix.
fn reply_part(mut s: &str) -> Option<&str> {
    loop {
        if strip_prefix(s, REPLY).is_some() {
            return Some(s);
        }
        s = strip_tag(s)?;
    }
}

/// `s` without one leading "[tag]" a gateway added ("[EXT] Re: ..."); `None` when `s` does
/// not start with one, or the tag is the whole subject.
fn strip_tag(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let end = rest.find(']')?;
    let after = rest[end + 1..].trim_start();
    (!after.is_empty()).then_some(after)
}

/// `s` without one leading prefix of `list` such as "Re:", "re :", "Re[3]:", "Re(2):".
fn strip_prefix<'a>(s: &'a str, list: &[&str]) -> Option<&'a str> {
    let word_end = s.find(|c: char| !c.is_alphabetic())?;
    let word = s[..word_end].to_lowercase();
    if !list.contains(&word.as_str()) {
        return None;
    }
    let mut rest = &s[word_end..];
    for (open, close) in [('[', ']'), ('(', ')')] {
        if let Some(r) = rest.strip_prefix(open) {
            let end = r.find(close)?;
            let n = &r[..end];
            if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            rest = &r[end + 1..];
            break;
        }
    }
    let rest = rest.trim_start_matches(' ');
    rest.strip_prefix(':').or_else(|| rest.strip_prefix('：'))
}
