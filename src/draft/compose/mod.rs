//! The RFC 5322 draft: recipients, subject and threading headers computed by code, the model's
//! body, the signature, and the quoted parent. Pure (no I/O, `now` is an argument); the only
//! user of lettre. Nothing the model wrote reaches a header: it supplies the body text only.
//! Who the draft goes to, copies and comes from is decided in `recipients`; this file writes
//! the headers (References trimmed, ids a header cannot carry dropped) and the body.

mod identity;
mod recipients;

pub use recipients::{recipients, Recipients, CC_CAP, LEFT_OUT_CAP};

use super::Draft;
use crate::config::MailboxConfig;
use crate::detect::Finding;
use crate::parse::{Addr, Email};
use crate::thread::Thread;
use anyhow::{Context, Result};
use chrono::{DateTime, TimeZone, Utc};
pub use identity::{
    body_digest, draft_id_domain, legacy_message_id, marker, marker_vouches_for, message_id,
};
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, SinglePart};

/// Our marker header; its value is [`marker`] of the thread and of the body we wrote. It tells
/// a person (and a mail filter) that tend wrote the draft; `deliver` finds its drafts by their
/// deterministic Message-ID, and adopts one found there (after a lost ledger entry) only when
/// its decoded body still hashes to the marker's `body=`: an edited copy that kept our headers
/// (Thunderbird keeps them) is the user's.
pub const MARKER_HEADER: &str = "X-Tend-Draft";

/// Characters of the parent's text quoted below the draft.
pub const QUOTE_CAP: usize = 20_000;

/// Builds the draft answering `finding`'s trigger in `thread` with the model's `body`.
pub fn compose(
    thread: &Thread,
    finding: &Finding,
    mailbox: &MailboxConfig,
    body: &str,
    now: DateTime<Utc>,
) -> Result<Draft> {
    compose_signed(
        thread,
        finding,
        mailbox,
        body,
        mailbox.signature.as_deref(),
        now,
    )
}

/// [`compose`] with the signature chosen by the caller (`voice::signature`: the configured
/// one, else the one learned from Sent).
pub fn compose_signed(
    thread: &Thread,
    finding: &Finding,
    mailbox: &MailboxConfig,
    body: &str,
    signature: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Draft> {
    let parent = trigger(thread, finding)?;

    let who = addressees(thread, finding, mailbox)?;
    let subject = reply_subject(&parent.subject);
    let message_id = message_id(mailbox, &finding.trigger);
    let references = references(parent);

    let model_body = normalise(body);
    let full_body = full_body(&model_body, parent, mailbox, signature);

    let from_name = mailbox
        .display_name
        .as_deref()
        .map(one_line)
        .filter(|n| !n.is_empty());
    let from = Mailbox::new(
        from_name,
        who.from
            .parse()
            .with_context(|| format!("our own address {:?} is not valid", who.from))?,
    );
    let mut builder = lettre::Message::builder()
        .from(from)
        .date(now.into())
        .subject(subject.clone())
        .message_id(Some(format!("<{message_id}>")));
    // A parent id that is not plain ASCII would be RFC 2047-encoded by lettre, which no client
    // matches: no In-Reply-To then (References still carry the usable ancestors).
    if header_safe_id(&parent.message_id) {
        builder = builder.in_reply_to(format!("<{}>", parent.message_id));
    }
    if !references.is_empty() {
        builder = builder.references(
            references
                .iter()
                .map(|r| format!("<{r}>"))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    builder = builder.raw_header(HeaderValue::new(
        HeaderName::new_from_ascii_str(MARKER_HEADER),
        marker(&finding.thread_id, &full_body),
    ));
    for a in &who.to {
        builder = builder.to(mailbox_of(a)?);
    }
    for a in &who.cc {
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
        from: who.from,
        to: who.to,
        cc: who.cc,
        left_out: who.left_out,
        notes: who.notes,
        placeholders: Vec::new(),
        stage: None,
        subject,
        body: model_body,
        raw: message.formatted(),
    })
}

/// The addressing of the draft for `finding` (see [`recipients`]), computed before the model is
/// asked; an error when nobody usable is left to write to.
pub fn addressees(
    thread: &Thread,
    finding: &Finding,
    mailbox: &MailboxConfig,
) -> Result<Recipients> {
    let parent = trigger(thread, finding)?;
    let who = recipients(thread, parent, finding.kind, mailbox);
    if who.to.is_empty() {
        return Err(NoRecipient {
            trigger: parent.message_id.clone(),
        }
        .into());
    }
    Ok(who)
}

/// Nobody usable to write to: a failure that does not heal until the thread changes, so a
/// caller can `downcast_ref` it and stop asking the model for that finding.
#[derive(Debug, thiserror::Error)]
#[error("no recipient for the draft: every address on <{trigger}> is our own or unusable")]
pub struct NoRecipient {
    pub trigger: String,
}

/// The finding's trigger in the thread (the latest copy).
fn trigger<'a>(thread: &'a Thread, finding: &Finding) -> Result<&'a Email> {
    thread
        .messages
        .iter()
        .rev()
        .find(|m| m.message_id == finding.trigger)
        .with_context(|| {
            format!(
                "the trigger <{}> is not in thread <{}>",
                finding.trigger, thread.id
            )
        })
}

/// Ids in the draft's References, at most this many: the first and the latest ones.
pub const REFERENCES_CAP: usize = 21;

/// RFC 5322 3.6.4: the parent's References, or, when it has none (Outlook often sends only
/// In-Reply-To), its In-Reply-To; then the parent itself. Trimmed as RFC 5322 and RFC 5537
/// 3.4.4 suggest: the first id (the thread's root) and the latest ones, so a hostile or
/// long-running thread cannot grow the header without bound. Ids a header cannot carry
/// verbatim are dropped.
fn references(parent: &Email) -> Vec<String> {
    let inherited = if parent.references.is_empty() {
        parent.in_reply_to.as_slice()
    } else {
        parent.references.as_slice()
    };
    let mut ids: Vec<String> = inherited
        .iter()
        .map(|r| bare_id(r))
        .filter(|r| header_safe_id(r) && *r != parent.message_id)
        .collect();
    if header_safe_id(&parent.message_id) {
        ids.push(parent.message_id.clone());
    }
    if ids.len() > REFERENCES_CAP {
        ids.drain(1..ids.len() - (REFERENCES_CAP - 1));
    }
    ids
}

/// Longest Message-ID we copy into a header; real ones are under 100 characters.
const ID_CAP: usize = 250;

/// Can this id go between `<>` in a header as it is: printable ASCII without spaces, brackets
/// or quotes (RFC 5322 3.6.4 msg-id), so lettre never RFC 2047-encodes it?
fn header_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= ID_CAP
        && id.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\' | b'(' | b')' | b',')
        })
}

/// Is `email` a bare address a draft can carry (lettre's syntax: no display name, no spaces)?
pub fn is_valid_address(email: &str) -> bool {
    email.parse::<lettre::Address>().is_ok()
}

/// "Re: " + subject, unless it already carries a reply prefix: one prefix list with the
/// threading code, so the two cannot disagree (see `thread::reply_subject`).
pub fn reply_subject(subject: &str) -> String {
    crate::thread::reply_subject(&one_line(subject))
}

/// The model's body, then the signature, then the quoted parent, as a mail client would.
fn full_body(
    model_body: &str,
    parent: &Email,
    mailbox: &MailboxConfig,
    signature: Option<&str>,
) -> String {
    let mut out = String::from(model_body);
    if let Some(sig) = signature {
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
mod tests;
#[cfg(test)]
mod recipient_tests;
