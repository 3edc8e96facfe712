//! (thread, who we are, rules, cross-thread contact facts, now) -> [`Verdict`]: does this thread
//! need a reply, or a follow-up, and why; or why not. Pure: no I/O, `now` is an argument. It does
//! not call the model and does not know about IMAP or sled; the daemon passes what the store
//! knows about a counterpart as a [`Contact`] lookup. Every verdict, also "quiet", carries a
//! one-line reason naming who and when, because `explain` and `status` show it to users. Soft
//! signs of machine-sent mail are overruled here: list signs from an address we wrote to, the
//! `always_human` list, and a contact form's lead in Reply-To (`form_senders`). This
//! file owns the public types and `assess`, which sorts each message onto a side and hands the
//! thread to one rule (`assess_traced` also returns each check made on the way, for `explain`);
//! the rules themselves are in `rules`, and weekday and time-zone arithmetic with the dates a
//! reason shows is in `calendar`.

mod calendar;
mod rules;
#[cfg(test)]
mod tests;

pub use calendar::followup_due;

use crate::config::{Identity, Rules};
use crate::parse::{Addr, Email};
use crate::thread::Thread;
use calendar::usable_time;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rules::{colleague_latest, needs_follow_up, needs_reply};

/// What kind of draft a thread needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    /// A buyer wrote and nobody on our side answered.
    Reply,
    /// Our message is the latest and went unanswered; `nudge` counts from 1.
    FollowUp { nudge: u32 },
}

/// A thread that needs attention, with the message a draft must answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub thread_id: String,
    pub kind: Kind,
    /// Message-ID of the message the draft answers (the buyer's, or our own latest for a follow-up).
    pub trigger: String,
    /// Unix seconds since when the thread has waited.
    pub since: i64,
    pub reason: String,
}

/// The decision on one thread, always with its reason.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Attention(Finding),
    Quiet { reason: String },
}

impl Verdict {
    /// The one-line reason, whichever the verdict.
    pub fn reason(&self) -> &str {
        match self {
            Verdict::Attention(f) => &f.reason,
            Verdict::Quiet { reason } => reason,
        }
    }
}

/// What the store knows about a counterpart across all threads (the daemon fills it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contact {
    /// Messages from them to us.
    pub received: u32,
    /// Messages from us to them.
    pub sent: u32,
    /// Latest human message from them, any thread, Unix seconds.
    pub last_inbound_from_person: Option<i64>,
    /// Latest human message from anyone at their domain, any thread, Unix seconds; `None` for a
    /// free-mail domain, where each person stands alone.
    pub last_inbound_from_org: Option<i64>,
}

/// A sender we received at least this many messages from and never wrote to is not a deal.
pub const ONE_WAY_SENDER_MIN: u32 = 10;

/// Which side of the conversation a sender is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// One of our own addresses or aliases.
    Own,
    /// Someone at an internal domain who is not us: not a buyer, but answers for us.
    Colleague,
    /// Everyone else: buyers and the rest of the world.
    External,
}

/// One message with a From address, classified.
struct Msg<'a> {
    email: &'a Email,
    from: &'a Addr,
    side: Side,
    /// The Date header, when present and representable.
    at: Option<DateTime<Utc>>,
    /// Written by a person: no sign of machine-sent mail, or only signs [`overruled`].
    human: bool,
}

impl Msg<'_> {
    fn human(&self) -> bool {
        self.human
    }
}

fn bounce(email: &Email) -> bool {
    email
        .automated
        .as_deref()
        .is_some_and(|why| why.starts_with("bounce"))
}

/// Are the automation signs on `email` from `from` overruled? By the `always_human` list (all
/// but bounces and auto-replies), or, for list and group signs only, because we wrote to that
/// address before (a Google or Microsoft 365 group used as a purchasing desk is a buyer).
fn overruled(
    email: &Email,
    from: &Addr,
    rules: &Rules,
    we_wrote_to: &dyn Fn(&str) -> bool,
) -> bool {
    let Some(why) = email.automated.as_deref() else {
        return false;
    };
    if email.out_of_office || crate::parse::is_hard_sign(why) {
        return false;
    }
    rules.is_always_human(&from.email)
        || (crate::parse::is_list_sign(why) && we_wrote_to(&from.email))
}

/// One check a rule made on the way to its verdict, for `explain`: what it looked at and what
/// it found.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub rule: &'static str,
    pub outcome: String,
}

/// Everything `assess` needs besides the thread, bundled to keep helper signatures short.
struct Ctx<'a> {
    me: &'a Identity,
    rules: &'a Rules,
    tz: Tz,
    contact: &'a dyn Fn(&str) -> Contact,
    now: DateTime<Utc>,
    /// The checks made so far, in order (see [`assess_traced`]).
    trace: std::cell::RefCell<Vec<Check>>,
}

impl Ctx<'_> {
    fn note(&self, rule: &'static str, outcome: String) {
        self.trace.borrow_mut().push(Check { rule, outcome });
    }
}

/// Judges one thread.
///
/// `contact` answers what the store knows about an address across all threads; `now` is the
/// moment of judgement (never read from the clock here).
pub fn assess(
    thread: &Thread,
    me: &Identity,
    rules: &Rules,
    tz: Tz,
    contact: &dyn Fn(&str) -> Contact,
    now: DateTime<Utc>,
) -> Verdict {
    assess_traced(thread, me, rules, tz, contact, now).0
}

/// [`assess`], with every check the rules made on the way, in order: how each message was
/// sorted, which rule applied, and what each of its tests found. The verdict's reason is the
/// last word; the checks are what led to it (`explain` prints both).
pub fn assess_traced(
    thread: &Thread,
    me: &Identity,
    rules: &Rules,
    tz: Tz,
    contact: &dyn Fn(&str) -> Contact,
    now: DateTime<Utc>,
) -> (Verdict, Vec<Check>) {
    let cx = Ctx {
        me,
        rules,
        tz,
        contact,
        now,
        trace: Default::default(),
    };
    let verdict = judge(thread, &cx);
    (verdict, cx.trace.into_inner())
}

fn judge(thread: &Thread, cx: &Ctx) -> Verdict {
    let (me, rules) = (cx.me, cx.rules);
    // "We exchanged mail with them": the store's count, or our side's To/Cc in this thread.
    let we_wrote_to = |address: &str| {
        (cx.contact)(address).sent > 0
            || thread.messages.iter().any(|m| {
                m.automated.is_none()
                    && m.from.as_ref().is_some_and(|f| me.is_internal(&f.email))
                    && m.to
                        .iter()
                        .chain(&m.cc)
                        .any(|a| a.email.eq_ignore_ascii_case(address))
            })
    };
    // A message without From cannot be placed on either side: skip it, never guess.
    let msgs: Vec<Msg> = thread
        .messages
        .iter()
        .filter_map(|email| {
            let from = email.from.as_ref()?;
            // A contact form's notification: the lead in its Reply-To is the one who wrote.
            let form_lead = rules
                .is_form_sender(&from.email)
                .then(|| email.reply_to.iter().find(|a| !me.is_internal(&a.email)))
                .flatten();
            let from = form_lead.unwrap_or(from);
            let side = if me.is_own(&from.email) {
                Side::Own
            } else if me.is_internal(&from.email) {
                Side::Colleague
            } else {
                Side::External
            };
            let at = email.date.and_then(usable_time);
            let human = email.automated.is_none()
                || (form_lead.is_some() && !email.out_of_office && !bounce(email))
                || overruled(email, from, rules, &we_wrote_to);
            Some(Msg {
                email,
                from,
                side,
                at,
                human,
            })
        })
        .collect();
    for (i, m) in msgs.iter().enumerate() {
        let side = match m.side {
            Side::Own => "ours",
            Side::Colleague => "a colleague's",
            Side::External => "their side",
        };
        let kind = match (&m.email.automated, m.human) {
            (None, _) => "written by a person".to_string(),
            (Some(_), true) => format!("a person's despite {} (overruled)", automated_why(m.email)),
            (Some(_), false) => automated_what(m.email),
        };
        cx.note(
            "sorting",
            format!(
                "message {} from {} on {}: {side}, {kind}",
                i + 1,
                who(m.from),
                cx.when(m.at)
            ),
        );
    }
    if msgs.is_empty() {
        return quiet(if thread.messages.is_empty() {
            "the thread has no messages".to_string()
        } else {
            "no message in this thread has a From address".to_string()
        });
    }
    // Automated mail neither needs a reply nor answers anyone: judge the latest human message.
    let Some(last) = msgs.iter().rposition(Msg::human) else {
        let m = &msgs[msgs.len() - 1];
        return quiet(format!(
            "latest message is {} ({}) from {} on {}; no person wrote in this thread",
            if m.email.out_of_office {
                "an out-of-office reply"
            } else {
                "automated"
            },
            automated_why(m.email),
            who(m.from),
            cx.when(m.at)
        ));
    };
    let note = match msgs[last + 1..].last() {
        Some(m) => format!(
            "; the later {} from {} on {} is not an answer",
            automated_what(m.email),
            who(m.from),
            cx.when(m.at)
        ),
        None => String::new(),
    };
    let rule = match msgs[last].side {
        Side::External => "theirs: does it need a reply?",
        Side::Colleague => "a colleague's: did they answer for us?",
        Side::Own => "ours: is a follow-up due?",
    };
    cx.note(
        "latest human message",
        format!("message {} from {}, {rule}", last + 1, who(msgs[last].from)),
    );
    let verdict = match msgs[last].side {
        Side::External => needs_reply(thread, &msgs, last, cx),
        Side::Colleague => colleague_latest(&msgs, last, cx),
        Side::Own => needs_follow_up(thread, &msgs, last, cx),
    };
    match verdict {
        Verdict::Attention(mut f) => {
            f.reason.push_str(&note);
            Verdict::Attention(f)
        }
        Verdict::Quiet { mut reason } => {
            reason.push_str(&note);
            Verdict::Quiet { reason }
        }
    }
}

fn quiet(reason: String) -> Verdict {
    Verdict::Quiet { reason }
}

/// "Anna Buyer <anna@buyer.example>" or the bare address; control characters become spaces so
/// a hostile display name cannot break the one-line reason.
fn who(a: &Addr) -> String {
    let s = match a.name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => format!("{n} <{}>", a.email),
        _ => a.email.clone(),
    };
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn domain(email: &str) -> &str {
    email.rsplit_once('@').map_or(email, |(_, d)| d)
}

/// Why a message counts as machine-sent, on one line.
fn automated_why(e: &Email) -> String {
    e.automated
        .as_deref()
        .unwrap_or("")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// "out-of-office reply (...)" or "automated message (List-Id: ...)".
fn automated_what(e: &Email) -> String {
    if e.out_of_office {
        format!("out-of-office reply ({})", automated_why(e))
    } else {
        format!("automated message ({})", automated_why(e))
    }
}
