//! The relationship's memory for one draft: who the draft's company is ([`Party`]), which
//! messages of a thread the prompt may show them ([`shown_text`]: never another company's
//! words, never a quote inside our own mail), and the compact summary of the other threads
//! with this contact and their company ([`summarise`]). Everything here is pure except
//! [`gather`], the one store read, which the daemon calls and hands to `draft::write` as a
//! plain value.
//!
//! The rule that keeps one customer's words out of another's draft: a message appears only
//! when its sender belongs to the draft's party (everyone the draft goes to who is not us),
//! or when we or a colleague wrote it to someone of that party; and of our own messages only
//! our new words, so a quote of another company's mail inside our reply never travels. It
//! does not choose recipients (that is `compose`) or find the threads (that is the store's
//! index, `store::related`).

use super::compose;
use super::prompt::date;
use crate::config::MailboxConfig;
use crate::detect::Finding;
use crate::parse::Email;
use crate::store::{party_keys, Decoded, Store};
use crate::thread::Thread;
use anyhow::Result;

/// Related threads read from the store for one draft; their summaries then fit
/// [`super::prompt::RELATED_BUDGET`].
pub const MAX_RELATED: usize = 8;

/// Characters of one message's words quoted in a related thread's summary.
const WORDS: usize = 300;

/// The outside people a draft goes to, as organisation keys: `@domain`, or the address itself
/// on a free-mail domain (see `store::party_keys`). Taken from the recipients, not from the
/// senders: the prompt holds only what the draft's readers wrote or were sent, so a forged
/// From or a followed Reply-To pulls no one else's conversations in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Party {
    addresses: Vec<String>,
    orgs: Vec<String>,
    /// The message the draft answers: always shown, whoever wrote it (the draft quotes it
    /// anyway), for a Reply-To or a contact form that sends the draft to someone else.
    trigger: Option<String>,
}

impl Party {
    /// Everyone the draft for `finding` goes to (To and Cc), less us and colleagues. Empty
    /// when nobody can be addressed (then `draft::write` refuses before the prompt matters).
    pub fn of(thread: &Thread, finding: &Finding, mailbox: &MailboxConfig) -> Party {
        let Ok(who) = compose::addressees(thread, finding, mailbox) else {
            return Party::default();
        };
        let addresses: Vec<String> = who
            .to
            .iter()
            .chain(&who.cc)
            .map(|a| a.email.clone())
            .filter(|a| !mailbox.identity.is_internal(a))
            .collect();
        let mut orgs: Vec<String> = addresses.iter().filter_map(|a| org(a)).collect();
        orgs.sort();
        orgs.dedup();
        Party {
            addresses,
            orgs,
            trigger: Some(finding.trigger.clone()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.orgs.is_empty()
    }

    /// Does this outside address belong to the party's organisations?
    pub fn includes(&self, address: &str) -> bool {
        org(address).is_some_and(|o| self.orgs.contains(&o))
    }

    /// The store index keys to look up: each person and each company.
    pub fn index_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.addresses.iter().flat_map(|a| party_keys(a)).collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// The organisation key of an address: its company's `@domain`, or the person on free mail.
fn org(address: &str) -> Option<String> {
    party_keys(address).pop()
}

/// The text of `m` the prompt may show to `party`, or `None` when the message must not appear
/// at all: another company's message, or ours to nobody of the party. With an empty party
/// (nobody outside) everything is shown, as before.
pub fn shown_text<'a>(m: &'a Email, party: &Party, mailbox: &MailboxConfig) -> Option<&'a str> {
    let new = m.new_text.trim();
    let whole = if new.is_empty() { m.text.trim() } else { new };
    if party.is_empty() {
        return Some(whole);
    }
    let trigger = party.trigger.as_deref() == Some(m.message_id.as_str());
    let Some(from) = m.from.as_ref() else {
        return trigger.then_some(whole);
    };
    if mailbox.identity.is_internal(&from.email) {
        // Ours: only when they saw it, and only our new words (a quote may be anyone's).
        let to_them = m.to.iter().chain(&m.cc).any(|a| party.includes(&a.email));
        return (to_them || trigger).then_some(new);
    }
    // Theirs: whole when they quoted nothing new (a forward), which is their own mail to us.
    (trigger || party.includes(&from.email)).then_some(whole)
}

/// The related threads' summaries as shown, and which threads they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub text: String,
    /// Each summarised thread's id and the characters of its summary, newest first.
    pub threads: Vec<(String, usize)>,
    /// Threads with something to show that did not fit the budget.
    pub left_out: usize,
}

/// A compact account of each related thread (newest first) within `budget` characters:
/// subject, dates, who wrote last, their latest words and ours, and what is open. A thread
/// with nothing the party may see is skipped; what does not fit is counted, not cut.
pub fn summarise(
    related: &[Thread],
    party: &Party,
    mailbox: &MailboxConfig,
    budget: usize,
) -> Summary {
    let mut out = Summary::default();
    let mut used = 0;
    for t in related {
        let Some(block) = summary(out.threads.len() + 1, t, party, mailbox) else {
            continue;
        };
        let len = block.chars().count();
        if used + len > budget {
            out.left_out += 1;
            continue;
        }
        used += len;
        out.threads.push((t.id.clone(), len));
        out.text.push_str(&block);
    }
    if out.left_out > 0 {
        out.text.push_str(&format!(
            "[{} older related conversation(s) left out]\n",
            out.left_out
        ));
    }
    out
}

fn summary(n: usize, t: &Thread, party: &Party, mailbox: &MailboxConfig) -> Option<String> {
    let tz = mailbox.timezone;
    let shown: Vec<(&Email, &str)> = t
        .messages
        .iter()
        .filter_map(|m| shown_text(m, party, mailbox).map(|s| (m, s)))
        .collect();
    let (first, _) = shown.first()?;
    let (last, _) = shown.last()?;
    let ours = |m: &Email| {
        m.from
            .as_ref()
            .is_some_and(|f| mailbox.identity.is_internal(&f.email))
    };
    let subject = shown
        .iter()
        .map(|(m, _)| m.subject.trim())
        .find(|s| !s.is_empty())
        .unwrap_or("(no subject)");
    let span = if day(first.date, tz) == day(last.date, tz) {
        day(last.date, tz)
    } else {
        format!("{} to {}", day(first.date, tz), day(last.date, tz))
    };
    let count = match shown.len() {
        1 => "1 message".to_string(),
        k => format!("{k} messages"),
    };
    let mut s = format!(
        "Conversation {n}: \"{}\", {count}, {span}, last from {}.\n",
        one_line(subject, 120),
        who(last, mailbox),
    );
    let theirs = shown.iter().rev().find(|(m, _)| !ours(m));
    let mine = shown.iter().rev().find(|(m, _)| ours(m));
    if let Some((m, text)) = theirs {
        s.push_str(&format!(
            "- They wrote ({}, {}): {}\n",
            who(m, mailbox),
            date(m.date, tz),
            one_line(text, WORDS)
        ));
    }
    if let Some((m, text)) = mine {
        s.push_str(&format!(
            "- We wrote ({}): {}\n",
            date(m.date, tz),
            one_line(text, WORDS)
        ));
    }
    // What is open: the last word that expects one back (an auto-reply expects nothing).
    let open = shown
        .iter()
        .rev()
        .find(|(m, _)| m.automated.is_none() && !m.out_of_office);
    match open {
        Some((m, text)) if !ours(m) => {
            let what = if text.contains('?') {
                "question"
            } else {
                "message"
            };
            s.push_str(&format!(
                "- Open: their {what} of {} has no answer from us.\n",
                day(m.date, tz)
            ));
        }
        Some((m, _)) => s.push_str(&format!(
            "- Open: our message of {} has no answer from them.\n",
            day(m.date, tz)
        )),
        None => {}
    }
    Some(s)
}

/// Who wrote a message, short: "us", or their name and address.
fn who(m: &Email, mailbox: &MailboxConfig) -> String {
    let Some(from) = &m.from else {
        return "(unknown sender)".into();
    };
    if mailbox.identity.is_internal(&from.email) {
        return "us".into();
    }
    match from.name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => {
            format!("{} <{}>", one_line(name, 60), one_line(&from.email, 120))
        }
        _ => format!("<{}>", one_line(&from.email, 120)),
    }
}

/// The day of a date in the mailbox time zone, like `Mon 2024-06-03`.
fn day(unix: Option<i64>, tz: chrono_tz::Tz) -> String {
    date(unix, tz).get(..14).map_or_else(
        || "(unknown date)".to_string(),
        |d| d.trim_end().to_string(),
    )
}

/// Words on one line, whitespace and control characters (a terminal escape in a subject)
/// collapsed, at most `max` characters (then "...").
fn one_line(s: &str, max: usize) -> String {
    let flat = s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    match flat.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &flat[..i]),
        None => flat,
    }
}

/// The other threads of this mailbox with the draft's contacts and their companies, newest
/// first (the only store read of the prompt; `draft::write` takes the result as a value).
/// `memo` keeps what was decoded for the drafts before this one (a pass, see `Decoded`).
pub fn gather(
    store: &Store,
    mailbox: &MailboxConfig,
    thread: &Thread,
    finding: &Finding,
    memo: &Decoded,
) -> Result<Vec<Thread>> {
    let party = Party::of(thread, finding, mailbox);
    if party.is_empty() {
        return Ok(Vec::new());
    }
    store.related_threads(
        &mailbox.name,
        &party.index_keys(),
        &thread.id,
        MAX_RELATED,
        memo,
    )
}

/// The [`super::prompt::Grounding`] of a draft: what [`gather`] finds (the voice is filled by
/// `voice`), and the service's pipeline of stages.
pub fn grounding(
    store: &Store,
    mailbox: &MailboxConfig,
    thread: &Thread,
    finding: &Finding,
    voice: std::sync::Arc<crate::voice::Voice>,
    pipeline: std::sync::Arc<crate::config::Pipeline>,
    memo: &Decoded,
) -> Result<super::prompt::Grounding> {
    Ok(super::prompt::Grounding {
        related: gather(store, mailbox, thread, finding, memo)?,
        voice,
        pipeline,
    })
}
