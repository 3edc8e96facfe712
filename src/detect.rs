//! (thread, who we are, rules, cross-thread contact facts, now) -> [`Verdict`]: does this thread
//! need a reply, or a follow-up, and why; or why not. Pure: no I/O, `now` is an argument. It does
//! not call the model and does not know about IMAP or sled; the daemon passes what the store
//! knows about a counterpart as a [`Contact`] lookup. Every verdict, also "quiet", carries a
//! one-line reason naming who and when, because `explain` and `status` show it to users.

use crate::config::{Identity, Rules};
use crate::parse::{Addr, Email};
use crate::thread::Thread;
use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

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
    /// Latest human message from anyone at their domain, any thread, Unix seconds.
    pub last_inbound_from_org: Option<i64>,
}

/// A sender we received at least this many messages from and never wrote to is not a deal.
pub const ONE_WAY_SENDER_MIN: u32 = 10;

const DAY_SECS: i64 = 86_400;

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
}

impl Msg<'_> {
    fn human(&self) -> bool {
        self.email.automated.is_none()
    }
}

/// Everything `assess` needs besides the thread, bundled to keep helper signatures short.
struct Ctx<'a> {
    me: &'a Identity,
    rules: &'a Rules,
    tz: Tz,
    contact: &'a dyn Fn(&str) -> Contact,
    now: DateTime<Utc>,
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
    let cx = Ctx {
        me,
        rules,
        tz,
        contact,
        now,
    };
    // A message without From cannot be placed on either side: skip it, never guess.
    let msgs: Vec<Msg> = thread
        .messages
        .iter()
        .filter_map(|email| {
            let from = email.from.as_ref()?;
            let side = if me.is_own(&from.email) {
                Side::Own
            } else if me.is_internal(&from.email) {
                Side::Colleague
            } else {
                Side::External
            };
            let at = email.date.and_then(|s| DateTime::from_timestamp(s, 0));
            Some(Msg {
                email,
                from,
                side,
                at,
            })
        })
        .collect();
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
    let verdict = match msgs[last].side {
        Side::External => needs_reply(thread, &msgs, last, &cx),
        Side::Colleague => colleague_latest(&msgs, last, &cx),
        Side::Own => needs_follow_up(thread, &msgs, last, &cx),
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

/// The latest human message is from an external person: answer it, unless a filter says no.
fn needs_reply(thread: &Thread, msgs: &[Msg], last: usize, cx: &Ctx) -> Verdict {
    let m = &msgs[last];
    let sender = who(m.from);
    // A message without a date cannot open a reply window: treat it as too old.
    let Some(at) = m.at else {
        return quiet(format!(
            "{sender} wrote a message without a usable Date; too old to draft a reply for"
        ));
    };
    let window = i64::from(cx.rules.reply_window_days);
    if age_secs(cx.now, at) > window.saturating_mul(DAY_SECS) {
        return quiet(format!(
            "buyer message from {sender} on {} is older than the {window}-day reply window",
            cx.when(Some(at))
        ));
    }
    // Us only in Bcc (or via a list that rewrote the recipients): not addressed to us.
    let addressed = m
        .email
        .to
        .iter()
        .chain(&m.email.cc)
        .any(|a| cx.me.is_own(&a.email));
    if !addressed {
        return quiet(format!(
            "{sender} wrote on {}, but none of our addresses is in To or Cc (we got it by Bcc or through a list)",
            cx.when(Some(at))
        ));
    }
    // "We received ten from them and never answered" is evidence this is not a conversation;
    // our own message to them in this thread is evidence that it is, even if the store lags.
    let c = (cx.contact)(&m.from.email);
    let we_wrote_here = msgs.iter().any(|o| {
        o.side != Side::External
            && o.human()
            && o.email
                .to
                .iter()
                .chain(&o.email.cc)
                .any(|a| a.email.eq_ignore_ascii_case(&m.from.email))
    });
    if c.received >= ONE_WAY_SENDER_MIN && c.sent == 0 && !we_wrote_here {
        return quiet(format!(
            "{sender} sent us {} messages and we never wrote to them: not a conversation",
            c.received
        ));
    }
    let days = age_secs(cx.now, at).max(0) / DAY_SECS;
    Verdict::Attention(Finding {
        thread_id: thread.id.clone(),
        kind: Kind::Reply,
        trigger: m.email.message_id.clone(),
        since: at.timestamp(),
        reason: format!(
            "{sender} wrote on {} and nobody on our side answered ({})",
            cx.when(Some(at)),
            ago(days)
        ),
    })
}

/// The latest human message is a colleague's: they answered for us, or it is an internal thread.
fn colleague_latest(msgs: &[Msg], last: usize, cx: &Ctx) -> Verdict {
    let m = &msgs[last];
    match msgs[..last]
        .iter()
        .rev()
        .find(|o| o.side == Side::External && o.human())
    {
        Some(buyer) => quiet(format!(
            "our colleague {} answered {} on {}",
            who(m.from),
            who(buyer.from),
            cx.when(m.at)
        )),
        None => quiet(format!(
            "only colleagues in this thread (latest: {} on {})",
            who(m.from),
            cx.when(m.at)
        )),
    }
}

/// Our own message is the latest human one: is a follow-up due?
fn needs_follow_up(thread: &Thread, msgs: &[Msg], last: usize, cx: &Ctx) -> Verdict {
    let ours = &msgs[last];
    let external: Vec<&Addr> = ours
        .email
        .to
        .iter()
        .chain(&ours.email.cc)
        .filter(|a| !cx.me.is_internal(&a.email))
        .collect();
    if external.is_empty() {
        let anyone_outside = msgs.iter().any(|o| {
            o.side == Side::External
                || o.email
                    .to
                    .iter()
                    .chain(&o.email.cc)
                    .any(|a| !cx.me.is_internal(&a.email))
        });
        return quiet(if anyone_outside {
            format!(
                "our latest message on {} went to nobody outside the company",
                cx.when(ours.at)
            )
        } else {
            format!(
                "only colleagues in this thread (latest: {} on {})",
                who(ours.from),
                cx.when(ours.at)
            )
        });
    }
    // A reply is expected only when a person on their side wrote first: "we wrote to them once"
    // is no evidence of a deal (marketing mail passes that test).
    let Some(b) = msgs[..last]
        .iter()
        .rposition(|o| o.side == Side::External && o.human())
    else {
        return quiet(format!(
            "we wrote to {} on {}, but nobody outside has written in this thread: outreach, not a deal",
            who(external[0]),
            cx.when(ours.at)
        ));
    };
    let buyer = &msgs[b];
    let buyer_who = who(buyer.from);
    // Every human message after the buyer's is ours or a colleague's; the first answers, the
    // rest are follow-ups already sent.
    let run = msgs[b + 1..=last].iter().filter(|o| o.human()).count();
    let sent = u32::try_from(run.saturating_sub(1)).unwrap_or(u32::MAX);
    let said = if sent == 0 {
        format!("we answered {buyer_who} on {}", cx.when(ours.at))
    } else {
        format!(
            "we followed up with {buyer_who} on {} (follow-up {sent})",
            cx.when(ours.at)
        )
    };
    let Some(at) = ours.at else {
        return quiet(format!(
            "{said}, but that message has no usable Date; too old to follow up on"
        ));
    };
    // Any message from their organisation after ours, in any thread, ends the silence.
    let mut asked: Vec<&str> = Vec::new();
    for a in std::iter::once(buyer.from).chain(external.iter().copied()) {
        if cx.me.is_internal(&a.email) || asked.iter().any(|x| x.eq_ignore_ascii_case(&a.email)) {
            continue;
        }
        asked.push(&a.email);
        if let Some(t) = (cx.contact)(&a.email).last_inbound_from_org {
            if t > at.timestamp() {
                return quiet(format!(
                    "{said}; someone at {} wrote on {} (in another thread), so the silence is over",
                    domain(&a.email),
                    cx.when(DateTime::from_timestamp(t, 0))
                ));
            }
        }
    }
    let max = cx.rules.max_followups;
    if max == 0 {
        return quiet(format!(
            "{said}; follow-ups are turned off (max_followups = 0)"
        ));
    }
    if sent >= max {
        return quiet(format!(
            "already followed up {sent} times (maximum {max}); last on {}, to {buyer_who}",
            cx.when(Some(at))
        ));
    }
    let window = i64::from(cx.rules.followup_window_days);
    if age_secs(cx.now, at) > window.saturating_mul(DAY_SECS) {
        return quiet(format!(
            "{said}; that is older than the {window}-day follow-up window"
        ));
    }
    let n = cx.rules.followup_business_days;
    let due = followup_due(at, n, cx.tz);
    if cx.now < due {
        return quiet(format!(
            "{said}; waiting: follow-up due {}",
            cx.when_day(due)
        ));
    }
    let nudge = sent + 1;
    Verdict::Attention(Finding {
        thread_id: thread.id.clone(),
        kind: Kind::FollowUp { nudge },
        trigger: ours.email.message_id.clone(),
        since: at.timestamp(),
        reason: format!(
            "{said} and heard nothing for {n} business days (due {}); follow-up {nudge} of {max}",
            cx.when_day(due)
        ),
    })
}

/// When a follow-up on a message sent at `sent` is due: its local time in `tz` advanced by `days`
/// weekdays, skipping Saturday and Sunday; a message sent on a weekend counts from Monday 00:00.
pub fn followup_due(sent: DateTime<Utc>, days: u32, tz: Tz) -> DateTime<Utc> {
    let local = sent.with_timezone(&tz).naive_local();
    let (mut date, time) = match local.weekday() {
        Weekday::Sat => (local.date() + Days::new(2), NaiveDateTime::MIN.time()),
        Weekday::Sun => (local.date() + Days::new(1), NaiveDateTime::MIN.time()),
        _ => (local.date(), local.time()),
    };
    // Whole weeks first (five weekdays are seven days), then the rest one day at a time.
    date = add_days(date, u64::from(days / 5) * 7);
    let mut left = days % 5;
    while left > 0 {
        date = add_days(date, 1);
        if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    local_to_utc(date.and_time(time), tz)
}

fn add_days(date: NaiveDate, n: u64) -> NaiveDate {
    date.checked_add_days(Days::new(n))
        .unwrap_or(NaiveDate::MAX)
}

/// A local wall-clock time as UTC: the earlier of two in a DST overlap; in a DST gap, the time
/// just after the gap (clocks jump forward by at most an hour in practice).
fn local_to_utc(naive: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    let pick = |r: LocalResult<DateTime<Tz>>| match r {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
        LocalResult::None => None,
    };
    pick(tz.from_local_datetime(&naive))
        .or_else(|| {
            let later = naive.checked_add_signed(chrono::Duration::hours(1))?;
            pick(tz.from_local_datetime(&later))
        })
        .unwrap_or_else(|| naive.and_utc())
}

impl Ctx<'_> {
    /// "2026-11-23 09:14 CET", or a note that the date is missing.
    fn when(&self, at: Option<DateTime<Utc>>) -> String {
        match at {
            Some(t) => t
                .with_timezone(&self.tz)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string(),
            None => "an unknown date".to_string(),
        }
    }

    /// "Thu 2026-11-26 10:00 CET".
    fn when_day(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.tz)
            .format("%a %Y-%m-%d %H:%M %Z")
            .to_string()
    }
}

fn quiet(reason: String) -> Verdict {
    Verdict::Quiet { reason }
}

/// Seconds from `at` to `now`; negative for a message dated in the future.
fn age_secs(now: DateTime<Utc>, at: DateTime<Utc>) -> i64 {
    now.timestamp().saturating_sub(at.timestamp())
}

fn ago(days: i64) -> String {
    match days {
        0 => "today".to_string(),
        1 => "1 day ago".to_string(),
        d => format!("{d} days ago"),
    }
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

/// "an out-of-office reply (...)" or "an automated message (List-Id: ...)".
fn automated_what(e: &Email) -> String {
    if e.out_of_office {
        format!("an out-of-office reply ({})", automated_why(e))
    } else {
        format!("an automated message ({})", automated_why(e))
    }
}
