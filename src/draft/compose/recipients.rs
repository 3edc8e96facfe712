//! Who a draft goes to, who it copies, and which of our addresses it comes from. A reply copies
//! the sender's own organisation, our colleagues and people already in the conversation with
//! us; every other outside address in the parent's To/Cc (other vendors on an RFQ) is left out
//! and named, so `status` can show it. A Reply-To at another organisation than the sender's is
//! followed only when the thread showed it before or the sender's domain is trusted in the
//! rules; otherwise the draft goes to the sender, with the reason kept. Pure.
//!
//! It does not decide whether a draft is needed (`detect`) and writes no header (`compose`).

use crate::config::{same_organisation, MailboxConfig};
use crate::detect::Kind;
use crate::parse::{Addr, Email};
use crate::thread::Thread;
use std::collections::HashSet;

/// Most addresses a draft copies: a longer Cc list is cut (and the rest named as left out).
pub const CC_CAP: usize = 10;

/// Most left-out addresses named; the rest are counted in a note (a hostile Cc of thousands).
pub const LEFT_OUT_CAP: usize = 20;

/// The addressing of one draft.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recipients {
    /// Our address the draft is From: the one the buyer wrote to, or the one our last message
    /// used; the primary address when neither is known.
    pub from: String,
    pub to: Vec<Addr>,
    pub cc: Vec<Addr>,
    /// Addresses on the parent that the draft does not copy (outside the conversation, or over
    /// the Cc cap), lower-case, for `status` and the dry run.
    pub left_out: Vec<String>,
    /// Why the draft goes elsewhere than the parent asked (a Reply-To not followed), one line each.
    pub notes: Vec<String>,
}

/// The addressing of a draft answering `parent`, a message of `thread`, as a `kind`. Never
/// contains our own addresses (plus-tags included) or addresses lettre cannot carry.
pub fn recipients(thread: &Thread, parent: &Email, kind: Kind, mb: &MailboxConfig) -> Recipients {
    let me = &mb.identity;
    let earlier = earlier_messages(thread, parent);
    let mut known = in_conversation(&earlier, mb);
    let mut out = Recipients {
        from: me.primary().to_string(),
        ..Recipients::default()
    };
    let mut taken: HashSet<String> = HashSet::new();
    // (To, the counterpart whose organisation is welcome, more To candidates, Cc candidates)
    let (to, counterpart, more_to, more_cc): (Vec<Addr>, Option<String>, &[Addr], Vec<&Addr>) =
        match kind {
            Kind::Reply => {
                if let Some(own) = parent
                    .to
                    .iter()
                    .chain(&parent.cc)
                    .find_map(|a| me.own_address(&a.email))
                {
                    out.from = own.to_string();
                }
                let mut sender = parent.from.as_ref().map(|a| a.email.to_ascii_lowercase());
                // A contact form's notification: its Reply-To is the lead, who is the sender.
                if sender
                    .as_deref()
                    .is_some_and(|s| mb.rules.is_form_sender(s))
                {
                    if let Some(lead) = parent.reply_to.iter().find(|a| !me.is_internal(&a.email)) {
                        sender = Some(lead.email.to_ascii_lowercase());
                    }
                }
                let to = reply_target(parent, sender.as_deref(), &earlier, mb, &mut out);
                let to = usable(&to, mb, &mut taken);
                known.extend(brought_in(parent, &known));
                (
                    to,
                    sender,
                    &[],
                    parent.to.iter().chain(&parent.cc).collect(),
                )
            }
            Kind::FollowUp { .. } => {
                if let Some(own) = parent.from.as_ref().and_then(|a| me.own_address(&a.email)) {
                    out.from = own.to_string();
                }
                // The counterpart is the first outside address we wrote to; the rest of our
                // last message's recipients pass the same test as a reply's Cc.
                let first = parent
                    .to
                    .iter()
                    .chain(&parent.cc)
                    .find(|a| !me.is_internal(&a.email) && valid(&a.email));
                let to = match first {
                    Some(a) => usable(std::slice::from_ref(a), mb, &mut taken),
                    None => usable(&parent.to, mb, &mut taken),
                };
                let counterpart = to.first().map(|a| a.email.clone());
                (to, counterpart, &parent.to, parent.cc.iter().collect())
            }
        };
    out.to = to;
    let welcome = |email: &str, to: &[Addr]| {
        me.is_internal(email)
            || known.contains(&crate::config::domains::canonical(email))
            || counterpart
                .as_deref()
                .is_some_and(|c| same_organisation(c, email))
            || to.iter().any(|t| same_organisation(&t.email, email))
    };
    let mut copies = 0;
    let mut unnamed = 0usize;
    for (a, into_to) in more_to
        .iter()
        .map(|a| (a, true))
        .chain(more_cc.into_iter().map(|a| (a, false)))
    {
        let email = a.email.trim().to_ascii_lowercase();
        if email.is_empty() || me.is_own(&email) || !valid(&email) || taken.contains(&email) {
            continue;
        }
        taken.insert(email.clone());
        if !welcome(&email, &out.to) || copies >= CC_CAP {
            if out.left_out.len() < LEFT_OUT_CAP {
                out.left_out.push(email);
            } else {
                unnamed += 1;
            }
            continue;
        }
        copies += 1;
        if into_to {
            out.to.push(clean(a, email));
        } else {
            out.cc.push(clean(a, email));
        }
    }
    if unnamed > 0 {
        out.notes.push(format!(
            "{unnamed} more addresses on the message were left out"
        ));
    }
    out
}

/// The messages of the thread before `parent` (all others when it is not found).
fn earlier_messages<'a>(thread: &'a Thread, parent: &Email) -> Vec<&'a Email> {
    let end = thread
        .messages
        .iter()
        .position(|m| m.message_id == parent.message_id)
        .unwrap_or(thread.messages.len());
    thread.messages[..end].iter().collect()
}

/// Canonical addresses already in the conversation with us: everyone our side wrote to, and
/// everyone someone we wrote to brought into Cc. Not whoever merely wrote into the thread:
/// naming a thread in References is enough for that, and a competitor's reply-all to an RFQ
/// does it too.
fn in_conversation(earlier: &[&Email], mb: &MailboxConfig) -> HashSet<String> {
    let me = &mb.identity;
    let canonical = crate::config::domains::canonical;
    let mut known = HashSet::new();
    for m in earlier {
        let Some(from) = &m.from else { continue };
        if me.is_internal(&from.email) {
            known.extend(m.to.iter().chain(&m.cc).map(|a| canonical(&a.email)));
        } else {
            let cc = brought_in(m, &known);
            known.extend(cc);
        }
    }
    known
}

/// The Cc of a message from someone we already wrote to: people they brought into the
/// conversation with us (a buyer at gmail.com copying a colleague at their company). The
/// vendors of an RFQ are not: nobody on it was writing with us before.
fn brought_in(m: &Email, known: &HashSet<String>) -> Vec<String> {
    let canonical = crate::config::domains::canonical;
    match &m.from {
        Some(from) if known.contains(&canonical(&from.email)) => {
            m.cc.iter().map(|a| canonical(&a.email)).collect()
        }
        _ => Vec::new(),
    }
}

/// Reply-To when it is safe to follow, else the sender, with a note when Reply-To was ignored.
fn reply_target(
    parent: &Email,
    sender: Option<&str>,
    earlier: &[&Email],
    mb: &MailboxConfig,
    out: &mut Recipients,
) -> Vec<Addr> {
    let me = &mb.identity;
    let reply_to: Vec<&Addr> = parent
        .reply_to
        .iter()
        .filter(|a| !me.is_own(&a.email) && valid(&a.email))
        .collect();
    let Some(sender) = sender else {
        return reply_to.into_iter().cloned().collect();
    };
    if reply_to.is_empty() {
        return parent.from.iter().cloned().collect();
    }
    // Shown before: our side wrote to that address in this thread, or an earlier message from
    // the sender's organisation carried the same Reply-To. A stranger's earlier message is
    // not enough: anyone can write into a thread by naming it in References.
    let canonical = crate::config::domains::canonical;
    let shown_before = |email: &str| {
        let c = canonical(email);
        earlier.iter().any(|m| {
            let Some(from) = &m.from else { return false };
            if me.is_internal(&from.email) {
                m.to.iter().chain(&m.cc).any(|a| canonical(&a.email) == c)
            } else {
                same_organisation(&from.email, sender)
                    && m.reply_to.iter().any(|a| canonical(&a.email) == c)
            }
        })
    };
    let foreign: Vec<&str> = reply_to
        .iter()
        .map(|a| a.email.as_str())
        .filter(|e| !same_organisation(e, sender) && !me.is_internal(e) && !shown_before(e))
        .collect();
    if foreign.is_empty() || mb.rules.trusts_reply_to_of(sender) {
        return reply_to.into_iter().cloned().collect();
    }
    out.notes.push(format!(
        "Reply-To {} is at another domain than the sender {sender} and was not in this thread \
         before: the draft goes to the sender (list the sender's domain in \
         rules.trusted_reply_to_domains to follow such a Reply-To)",
        foreign.join(", ").to_ascii_lowercase()
    ));
    out.left_out
        .extend(foreign.iter().map(|e| e.to_ascii_lowercase()));
    parent.from.iter().cloned().collect()
}

/// The addresses of `list` a draft may carry, lower-case, deduplicated against `taken`.
fn usable(list: &[Addr], mb: &MailboxConfig, taken: &mut HashSet<String>) -> Vec<Addr> {
    let mut out = Vec::new();
    for a in list {
        let email = a.email.trim().to_ascii_lowercase();
        if email.is_empty() || mb.identity.is_own(&email) || !valid(&email) {
            continue;
        }
        if taken.insert(email.clone()) {
            out.push(clean(a, email));
        }
    }
    out
}

fn clean(a: &Addr, email: String) -> Addr {
    Addr {
        name: a
            .name
            .as_deref()
            .map(super::one_line)
            .filter(|n| !n.is_empty()),
        email,
    }
}

fn valid(email: &str) -> bool {
    super::is_valid_address(email.trim())
}
