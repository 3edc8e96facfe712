//! (thread, who we are, rules, cross-thread contact facts, now) -> [`Verdict`]: does this thread
//! need a reply, or a follow-up, and why; or why not. Pure: no I/O, `now` is an argument. It does
//! not call the model and does not know about IMAP or sled; the daemon passes what the store
//! knows about a counterpart as a [`Contact`] lookup. Every verdict, also "quiet", carries a
//! one-line reason naming who and when, because `explain` and `status` show it to users.

use crate::config::{Identity, Rules};
use crate::parse::{Addr, Email};
use crate::thread::Thread;
use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
    Weekday,
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
            let at = email.date.and_then(usable_time);
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
                    cx.when(usable_time(t))
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
        Weekday::Sat => (add_days(local.date(), 2), NaiveTime::MIN),
        Weekday::Sun => (add_days(local.date(), 1), NaiveTime::MIN),
        _ => (local.date(), local.time()),
    };
    // Whole weeks first (five weekdays are seven days), then the rest one day at a time.
    date = add_days(date, u64::from(days / 5) * 7);
    let mut left = days % 5;
    while left > 0 {
        let next = add_days(date, 1);
        if next == date {
            break; // at the cap: the deadline will not arrive anyway
        }
        date = next;
        if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    local_to_utc(date.and_time(time), tz)
}

/// Latest Date header we take at face value (9999-12-31 23:59:59 UTC); later ones, and ones
/// before 1970, are garbage and count as missing. Keeps every local-time conversion in range.
const LATEST_USABLE: i64 = 253_402_300_799;

/// A Date header value as a time, when it is plausible.
fn usable_time(secs: i64) -> Option<DateTime<Utc>> {
    if (0..=LATEST_USABLE).contains(&secs) {
        DateTime::from_timestamp(secs, 0)
    } else {
        None
    }
}

/// `date` plus `n` days, capped at 9999-12-31 (a deadline that far out never arrives anyway).
fn add_days(date: NaiveDate, n: u64) -> NaiveDate {
    let cap = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX);
    date.checked_add_days(Days::new(n))
        .map_or(cap, |d| d.min(cap))
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

/// "out-of-office reply (...)" or "automated message (List-Id: ...)".
fn automated_what(e: &Email) -> String {
    if e.out_of_office {
        format!("out-of-office reply ({})", automated_why(e))
    } else {
        format!("automated message ({})", automated_why(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    const ME: &str = "me@seller.example";
    const ALIAS: &str = "sales@seller.example";
    const BOB: &str = "bob@seller.example"; // a colleague
    const ANNA: &str = "anna@buyer.example"; // the buyer
    const CARL: &str = "carl@buyer.example"; // the buyer's colleague
    const DAVE: &str = "dave@partner.example"; // a third party we copy
    const UTC: Tz = chrono_tz::UTC;
    const BERLIN: Tz = chrono_tz::Europe::Berlin;
    const NEW_YORK: Tz = chrono_tz::America::New_York;

    fn me() -> Identity {
        Identity {
            addresses: vec![ME.into(), ALIAS.into()],
            internal_domains: vec!["seller.example".into()],
        }
    }

    /// "2026-11-23 09:00", read as UTC, to Unix seconds.
    fn ts(s: &str) -> i64 {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
            .unwrap_or_else(|e| panic!("bad test time {s:?}: {e}"))
            .and_utc()
            .timestamp()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::from_timestamp(ts(s), 0).unwrap()
    }

    fn addr(email: &str) -> Addr {
        Addr {
            name: None,
            email: email.into(),
        }
    }

    /// A message written by a person, `from` -> `to`, at `when` (UTC). The runner numbers the
    /// Message-IDs m0, m1, ... in thread order.
    fn mail(from: &str, to: &[&str], when: &str) -> Email {
        Email {
            message_id: String::new(),
            in_reply_to: None,
            references: vec![],
            from: Some(addr(from)),
            reply_to: vec![],
            to: to.iter().map(|a| addr(a)).collect(),
            cc: vec![],
            date: Some(ts(when)),
            subject: "Offer 4711".into(),
            new_text: "text".into(),
            text: "text".into(),
            automated: None,
            out_of_office: false,
        }
    }

    trait With {
        fn cc(self, cc: &[&str]) -> Self;
        fn auto(self, why: &str) -> Self;
        fn ooo(self) -> Self;
        fn undated(self) -> Self;
        fn no_from(self) -> Self;
        fn named(self, name: &str) -> Self;
    }

    impl With for Email {
        fn cc(mut self, cc: &[&str]) -> Self {
            self.cc = cc.iter().map(|a| addr(a)).collect();
            self
        }
        fn auto(mut self, why: &str) -> Self {
            self.automated = Some(why.into());
            self
        }
        fn ooo(self) -> Self {
            let mut e = self.auto("Auto-Submitted: auto-replied");
            e.out_of_office = true;
            e
        }
        fn undated(mut self) -> Self {
            self.date = None;
            self
        }
        fn no_from(mut self) -> Self {
            self.from = None;
            self
        }
        fn named(mut self, name: &str) -> Self {
            if let Some(f) = self.from.as_mut() {
                f.name = Some(name.into());
            }
            self
        }
    }

    #[derive(Debug)]
    enum Want {
        /// Reply drafted for message index i.
        Reply(usize),
        /// Follow-up on our message index i, with this nudge number.
        FollowUp(usize, u32),
        /// Quiet, and the reason contains this text.
        Quiet(&'static str),
    }

    struct Case {
        name: &'static str,
        tz: Tz,
        rules: Rules,
        contacts: Vec<(&'static str, Contact)>,
        msgs: Vec<Email>,
        now: &'static str,
        want: Want,
    }

    fn case(name: &'static str, msgs: Vec<Email>, now: &'static str, want: Want) -> Case {
        Case {
            name,
            tz: UTC,
            rules: Rules::default(),
            contacts: vec![],
            msgs,
            now,
            want,
        }
    }

    impl Case {
        fn tz(mut self, tz: Tz) -> Self {
            self.tz = tz;
            self
        }
        fn rules(mut self, f: impl FnOnce(&mut Rules)) -> Self {
            f(&mut self.rules);
            self
        }
        fn contact(mut self, email: &'static str, c: Contact) -> Self {
            self.contacts.push((email, c));
            self
        }
    }

    fn thread(mut msgs: Vec<Email>) -> Thread {
        for (i, m) in msgs.iter_mut().enumerate() {
            m.message_id = format!("m{i}");
        }
        Thread {
            id: "t1".into(),
            messages: msgs,
        }
    }

    fn run(c: &Case) -> Verdict {
        let contacts = c.contacts.clone();
        let lookup = move |email: &str| {
            contacts
                .iter()
                .find(|(e, _)| e.eq_ignore_ascii_case(email))
                .map(|(_, c)| c.clone())
                .unwrap_or_default()
        };
        assess(
            &thread(c.msgs.clone()),
            &me(),
            &c.rules,
            c.tz,
            &lookup,
            utc(c.now),
        )
    }

    /// Runs every case and reports all failures at once.
    fn check(cases: Vec<Case>) {
        let mut failures = Vec::new();
        for c in &cases {
            let got = run(c);
            let reason = got.reason().to_string();
            if reason.trim().is_empty() || reason.contains('\n') {
                failures.push(format!(
                    "{}: reason must be one non-empty line: {reason:?}",
                    c.name
                ));
            }
            let ok = match (&c.want, &got) {
                (Want::Reply(i), Verdict::Attention(f)) => {
                    f.kind == Kind::Reply
                        && f.trigger == format!("m{i}")
                        && Some(f.since) == c.msgs[*i].date
                        && f.thread_id == "t1"
                }
                (Want::FollowUp(i, n), Verdict::Attention(f)) => {
                    f.kind == Kind::FollowUp { nudge: *n }
                        && f.trigger == format!("m{i}")
                        && Some(f.since) == c.msgs[*i].date
                        && f.thread_id == "t1"
                }
                (Want::Quiet(text), Verdict::Quiet { reason }) => reason.contains(text),
                _ => false,
            };
            if !ok {
                failures.push(format!("{}: want {:?}, got {got:?}", c.name, c.want));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }

    // Calendar used below (November 2026): Fri 20, Sat 21, Sun 22, Mon 23, Tue 24, Wed 25,
    // Thu 26, Fri 27. Berlin is UTC+1 (CET), New York UTC-5 (EST) in November.

    #[test]
    fn replies() {
        use Want::*;
        check(vec![
            case("buyer wrote, nobody answered",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00")],
                "2026-11-23 12:00", Reply(0)),
            case("buyer answered our offer",
                vec![mail(ME, &[ANNA], "2026-11-20 10:00"), mail(ANNA, &[ME], "2026-11-23 09:00")],
                "2026-11-23 12:00", Reply(1)),
            case("two buyer messages: the latest is the trigger",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(ANNA, &[ME], "2026-11-23 11:00")],
                "2026-11-23 12:00", Reply(1)),
            case("the buyer's colleague wrote after our answer",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(ME, &[ANNA], "2026-11-23 10:00"),
                     mail(CARL, &[ME], "2026-11-23 11:00").cc(&[ANNA])],
                "2026-11-23 12:00", Reply(2)),
            case("colleague answered, then the buyer wrote again",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(BOB, &[ANNA], "2026-11-23 10:00").cc(&[ME]),
                     mail(ANNA, &[BOB], "2026-11-23 11:00").cc(&[ME])],
                "2026-11-23 12:00", Reply(2)),
            case("our own auto-acknowledgement is not an answer",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00"),
                     mail(ME, &[ANNA], "2026-11-23 09:01").auto("Auto-Submitted: auto-replied")],
                "2026-11-23 12:00", Reply(0)),
            case("the buyer's ticket system after the buyer's message changes nothing",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00"),
                     mail("tickets@buyer.example", &[ME], "2026-11-23 09:01").auto("Precedence: bulk")],
                "2026-11-23 12:00", Reply(0)),
            case("alias in To, written in another case, is addressed to us",
                vec![mail(ANNA, &["Sales@Seller.EXAMPLE"], "2026-11-23 09:00")],
                "2026-11-23 12:00", Reply(0)),
            case("we are in Cc",
                vec![mail(ANNA, &[CARL], "2026-11-23 09:00").cc(&[ME])],
                "2026-11-23 12:00", Reply(0)),
            case("a message without From is skipped",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(ME, &[ANNA], "2026-11-23 10:00").no_from()],
                "2026-11-23 12:00", Reply(0)),
            case("reply window: 13 days old is answered",
                vec![mail(ANNA, &[ME], "2026-11-10 09:00")],
                "2026-11-23 09:00", Reply(0)),
            case("reply window: exactly 14 days old is still answered",
                vec![mail(ANNA, &[ME], "2026-11-09 09:00")],
                "2026-11-23 09:00", Reply(0)),
            case("reply window: 14 days and a minute is too old",
                vec![mail(ANNA, &[ME], "2026-11-09 08:59")],
                "2026-11-23 09:00", Quiet("older than the 14-day reply window")),
            case("reply window: 15 days old is too old",
                vec![mail(ANNA, &[ME], "2026-11-08 09:00")],
                "2026-11-23 09:00", Quiet("buyer message from anna@buyer.example on 2026-11-08 09:00 UTC is older than the 14-day reply window")),
            case("custom reply window of 3 days",
                vec![mail(ANNA, &[ME], "2026-11-19 09:00")],
                "2026-11-23 09:00", Quiet("older than the 3-day reply window"))
                .rules(|r| r.reply_window_days = 3),
            case("a buyer message dated in the future (skewed clock) is answered",
                vec![mail(ANNA, &[ME], "2026-11-23 13:00")],
                "2026-11-23 12:00", Reply(0)),
            case("10 received, never written to: not a conversation",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00")],
                "2026-11-23 12:00", Quiet("sent us 10 messages and we never wrote to them"))
                .contact(ANNA, Contact { received: 10, sent: 0, last_inbound_from_org: None }),
            case("9 received, never written to: still answered",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00")],
                "2026-11-23 12:00", Reply(0))
                .contact(ANNA, Contact { received: 9, sent: 0, last_inbound_from_org: None }),
            case("10 received, 1 sent: a conversation",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00")],
                "2026-11-23 12:00", Reply(0))
                .contact(ANNA, Contact { received: 10, sent: 1, last_inbound_from_org: None }),
            case("one-way by the store, but we wrote to them in this thread",
                vec![mail(ME, &[ANNA], "2026-11-20 09:00"), mail(ANNA, &[ME], "2026-11-23 09:00")],
                "2026-11-23 12:00", Reply(1))
                .contact(ANNA, Contact { received: 12, sent: 0, last_inbound_from_org: None }),
            case("us only in Bcc",
                vec![mail(ANNA, &[CARL], "2026-11-23 09:00")],
                "2026-11-23 12:00", Quiet("none of our addresses is in To or Cc (we got it by Bcc or through a list)")),
            case("list mail with an empty To",
                vec![mail(ANNA, &[], "2026-11-23 09:00")],
                "2026-11-23 12:00", Quiet("Bcc")),
            case("only a colleague in To, us in Bcc",
                vec![mail(ANNA, &[BOB], "2026-11-23 09:00")],
                "2026-11-23 12:00", Quiet("Bcc")),
            case("buyer message without a date cannot start a window",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00").undated()],
                "2026-11-23 12:00", Quiet("anna@buyer.example wrote a message without a usable Date")),
            case("an undated older buyer message, a dated newer one",
                vec![mail(ANNA, &[ME], "2026-11-20 09:00").undated(), mail(ANNA, &[ME], "2026-11-23 09:00")],
                "2026-11-23 12:00", Reply(1)),
        ]);
    }

    #[test]
    fn answered_or_internal() {
        use Want::*;
        check(vec![
            case("we answered",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(ME, &[ANNA], "2026-11-23 10:00")],
                "2026-11-23 12:00",
                Quiet("we answered anna@buyer.example on 2026-11-23 10:00 UTC; waiting: follow-up due Thu 2026-11-26 10:00 UTC")),
            case("we answered from an alias written in another case",
                vec![mail(ANNA, &[ALIAS], "2026-11-23 09:00"), mail("SALES@Seller.Example", &[ANNA], "2026-11-23 10:00")],
                "2026-11-23 12:00", Quiet("we answered")),
            case("a colleague answered the buyer",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(BOB, &[ANNA], "2026-11-23 10:00").cc(&[ME])],
                "2026-11-23 12:00",
                Quiet("our colleague bob@seller.example answered anna@buyer.example on 2026-11-23 10:00 UTC")),
            case("a colleague answered long ago: still no follow-up of ours",
                vec![mail(ANNA, &[ME], "2026-11-02 09:00"), mail(BOB, &[ANNA], "2026-11-02 10:00").cc(&[ME])],
                "2026-11-23 12:00", Quiet("our colleague")),
            case("colleague-only thread, ours latest",
                vec![mail(BOB, &[ME], "2026-11-16 09:00"), mail(ME, &[BOB], "2026-11-16 10:00")],
                "2026-11-23 12:00", Quiet("only colleagues in this thread")),
            case("colleague-only thread, colleague latest",
                vec![mail(ME, &[BOB], "2026-11-16 09:00"), mail(BOB, &[ME], "2026-11-16 10:00")],
                "2026-11-23 12:00", Quiet("only colleagues in this thread (latest: bob@seller.example on 2026-11-16 10:00 UTC)")),
            case("we answered the buyer only internally",
                vec![mail(ANNA, &[ME], "2026-11-16 09:00"), mail(ME, &[BOB], "2026-11-16 10:00")],
                "2026-11-23 12:00", Quiet("went to nobody outside the company")),
            case("our undated answer still counts as an answer",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(ME, &[ANNA], "2026-11-23 10:00").undated()],
                "2026-11-23 12:00", Quiet("we answered anna@buyer.example on an unknown date, but that message has no usable Date")),
            case("the latest message without From is skipped, our answer stands",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(ME, &[ANNA], "2026-11-23 10:00"),
                     mail(ANNA, &[ME], "2026-11-23 11:00").no_from()],
                "2026-11-23 12:00", Quiet("we answered")),
            case("empty thread",
                vec![], "2026-11-23 12:00", Quiet("the thread has no messages")),
            case("no message has a From",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00").no_from()],
                "2026-11-23 12:00", Quiet("no message in this thread has a From address")),
            case("the sender's display name is shown",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00").named("Anna Buyer"), mail(ME, &[ANNA], "2026-11-23 10:00")],
                "2026-11-23 12:00", Quiet("we answered Anna Buyer <anna@buyer.example> on")),
            case("dates are shown in the mailbox time zone",
                vec![mail(ANNA, &[ME], "2026-11-23 08:00"), mail(ME, &[ANNA], "2026-11-23 08:14")],
                "2026-11-23 12:00", Quiet("we answered anna@buyer.example on 2026-11-23 09:14 CET"))
                .tz(BERLIN),
        ]);
    }

    #[test]
    fn automated_mail() {
        use Want::*;
        check(vec![
            case("newsletter only",
                vec![mail("news@shop.example", &[ME], "2026-11-23 09:00").auto("List-Id: <news.shop.example>")],
                "2026-11-23 12:00",
                Quiet("latest message is automated (List-Id: <news.shop.example>) from news@shop.example on 2026-11-23 09:00 UTC")),
            case("bounce only",
                vec![mail("mailer-daemon@mx.example", &[ME], "2026-11-23 09:00").auto("bounce (multipart/report)")],
                "2026-11-23 12:00", Quiet("no person wrote in this thread")),
            case("calendar invite only",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00").auto("calendar invite (text/calendar)")],
                "2026-11-23 12:00", Quiet("automated (calendar invite")),
            case("an auto-reply only",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00").auto("Auto-Submitted: auto-replied")],
                "2026-11-23 12:00", Quiet("latest message is automated (Auto-Submitted: auto-replied)")),
            case("an out-of-office only",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00").ooo()],
                "2026-11-23 12:00", Quiet("latest message is an out-of-office reply")),
            case("newsletter after our answer: still waiting, and said so",
                vec![mail(ANNA, &[ME], "2026-11-23 09:00"), mail(ME, &[ANNA], "2026-11-23 10:00"),
                     mail("news@shop.example", &[ME], "2026-11-23 11:00").auto("List-Unsubscribe")],
                "2026-11-23 12:00",
                Quiet("waiting: follow-up due Thu 2026-11-26 10:00 UTC; the later automated message (List-Unsubscribe) from news@shop.example on 2026-11-23 11:00 UTC is not an answer")),
            case("out-of-office after our proposal: the silence keeps running (3 bd)",
                vec![mail(ANNA, &[ME], "2026-11-23 08:00"), mail(ME, &[ANNA], "2026-11-23 10:00"),
                     mail(ANNA, &[ME], "2026-11-23 10:01").ooo()],
                "2026-11-26 10:00", FollowUp(1, 1)),
            case("out-of-office after our proposal: 2 bd, waiting",
                vec![mail(ANNA, &[ME], "2026-11-23 08:00"), mail(ME, &[ANNA], "2026-11-23 10:00"),
                     mail(ANNA, &[ME], "2026-11-23 10:01").ooo()],
                "2026-11-25 10:00", Quiet("the later out-of-office reply (Auto-Submitted: auto-replied) from anna@buyer.example")),
            case("bounce after our proposal: the silence keeps running",
                vec![mail(ANNA, &[ME], "2026-11-16 08:00"), mail(ME, &[ANNA], "2026-11-16 10:00"),
                     mail("mailer-daemon@mx.example", &[ME], "2026-11-16 10:01").auto("bounce")],
                "2026-11-23 10:00", FollowUp(1, 1)),
            case("an out-of-office after cold outreach is no deal",
                vec![mail(ME, &[ANNA], "2026-11-16 10:00"), mail(ANNA, &[ME], "2026-11-16 10:01").ooo()],
                "2026-11-23 10:00", Quiet("nobody outside has written in this thread")),
        ]);
    }

    #[test]
    fn follow_up_timing() {
        use Want::*;
        let offer = |sent: &str| {
            vec![
                mail(ANNA, &[ME], "2026-11-02 09:00"),
                mail(ME, &[ANNA], sent),
            ]
        };
        check(vec![
            case(
                "proposal 4 business days ago",
                offer("2026-11-16 10:00"),
                "2026-11-20 10:00",
                FollowUp(1, 1),
            ),
            case(
                "proposal 2 business days ago: waiting with the due date",
                offer("2026-11-23 10:00"),
                "2026-11-25 10:00",
                Quiet("waiting: follow-up due Thu 2026-11-26 10:00 UTC"),
            ),
            case(
                "due exactly at the deadline",
                offer("2026-11-23 10:00"),
                "2026-11-26 10:00",
                FollowUp(1, 1),
            ),
            case(
                "a minute before the deadline",
                offer("2026-11-23 10:00"),
                "2026-11-26 09:59",
                Quiet("waiting"),
            ),
            case(
                "Fri -> Wed is 3 business days",
                offer("2026-11-20 10:00"),
                "2026-11-25 10:00",
                FollowUp(1, 1),
            ),
            case(
                "Fri -> Tue is 2 business days",
                offer("2026-11-20 10:00"),
                "2026-11-24 10:00",
                Quiet("follow-up due Wed 2026-11-25 10:00 UTC"),
            ),
            case(
                "Fri -> Mon a week later is plenty",
                offer("2026-11-20 10:00"),
                "2026-11-30 10:00",
                FollowUp(1, 1),
            ),
            case(
                "sent Saturday counts from Monday 00:00",
                offer("2026-11-21 15:00"),
                "2026-11-25 23:59",
                Quiet("follow-up due Thu 2026-11-26 00:00 UTC"),
            ),
            case(
                "sent Saturday, due Thursday 00:00",
                offer("2026-11-21 15:00"),
                "2026-11-26 00:00",
                FollowUp(1, 1),
            ),
            case(
                "sent Sunday night, due Thursday 00:00",
                offer("2026-11-22 23:00"),
                "2026-11-26 00:00",
                FollowUp(1, 1),
            ),
            case(
                "sent Sunday night, not yet Wednesday night",
                offer("2026-11-22 23:00"),
                "2026-11-25 23:00",
                Quiet("follow-up due Thu 2026-11-26 00:00 UTC"),
            ),
            case(
                "one business day configured: Fri -> Mon",
                offer("2026-11-20 10:00"),
                "2026-11-23 10:00",
                FollowUp(1, 1),
            )
            .rules(|r| r.followup_business_days = 1),
            case(
                "one business day configured: Fri -> Sun is not yet",
                offer("2026-11-20 10:00"),
                "2026-11-22 10:00",
                Quiet("follow-up due Mon 2026-11-23 10:00 UTC"),
            )
            .rules(|r| r.followup_business_days = 1),
            case(
                "ten business days configured are two weeks",
                offer("2026-11-16 10:00"),
                "2026-11-27 10:00",
                Quiet("follow-up due Mon 2026-11-30 10:00 UTC"),
            )
            .rules(|r| r.followup_business_days = 10),
            // 23:30 UTC Friday is Saturday 00:30 in Berlin (counts from Mon 00:00, due Thu 00:00
            // CET = Wed 23:00 UTC) but Friday 18:30 in New York (due Wed 18:30 EST = 23:30 UTC).
            case(
                "Fri 23:30 UTC in Berlin is Saturday: due Wed 23:00 UTC",
                offer("2026-11-20 23:30"),
                "2026-11-25 23:15",
                FollowUp(1, 1),
            )
            .tz(BERLIN),
            case(
                "Fri 23:30 UTC in New York is Friday: due Wed 23:30 UTC",
                offer("2026-11-20 23:30"),
                "2026-11-25 23:15",
                Quiet("follow-up due Wed 2026-11-25 18:30 EST"),
            )
            .tz(NEW_YORK),
            case(
                "Fri 23:30 UTC in UTC is Friday too",
                offer("2026-11-20 23:30"),
                "2026-11-25 23:15",
                Quiet("due Wed 2026-11-25 23:30 UTC"),
            ),
            // 23:30 UTC Sunday is Monday 00:30 in Berlin (due Thu 00:30 CET = Wed 23:30 UTC) but
            // Sunday 18:30 in New York (counts from Mon 00:00, due Thu 00:00 EST = Thu 05:00 UTC).
            case(
                "Sun 23:30 UTC in Berlin is Monday: due Wed 23:30 UTC",
                offer("2026-11-22 23:30"),
                "2026-11-25 23:45",
                FollowUp(1, 1),
            )
            .tz(BERLIN),
            case(
                "Sun 23:30 UTC in New York is Sunday: due Thu 05:00 UTC",
                offer("2026-11-22 23:30"),
                "2026-11-25 23:45",
                Quiet("follow-up due Thu 2026-11-26 00:00 EST"),
            )
            .tz(NEW_YORK),
            case(
                "Sun 23:30 UTC in New York, Thursday morning UTC",
                offer("2026-11-22 23:30"),
                "2026-11-26 05:00",
                FollowUp(1, 1),
            )
            .tz(NEW_YORK),
            // Berlin springs forward on Sun 2026-03-29: Fri 10:00 CET -> Wed 10:00 CEST (08:00 UTC).
            case(
                "across the spring DST change: due on local wall-clock time",
                vec![
                    mail(ANNA, &[ME], "2026-03-26 09:00"),
                    mail(ME, &[ANNA], "2026-03-27 09:00"),
                ],
                "2026-04-01 07:59",
                Quiet("follow-up due Wed 2026-04-01 10:00 CEST"),
            )
            .tz(BERLIN),
            case(
                "across the spring DST change: due at 08:00 UTC",
                vec![
                    mail(ANNA, &[ME], "2026-03-26 09:00"),
                    mail(ME, &[ANNA], "2026-03-27 09:00"),
                ],
                "2026-04-01 08:00",
                FollowUp(1, 1),
            )
            .tz(BERLIN),
            case(
                "the reason names the wait and the nudge",
                offer("2026-11-16 10:00"),
                "2026-11-20 10:00",
                FollowUp(1, 1),
            ),
            case(
                "our message dated in the future: waiting",
                offer("2026-11-24 10:00"),
                "2026-11-23 10:00",
                Quiet("waiting"),
            ),
        ]);
    }

    #[test]
    fn follow_up_counts_windows_and_evidence() {
        use Want::*;
        check(vec![
            case("second nudge",
                vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-09 10:00"),
                     mail(ME, &[ANNA], "2026-11-16 10:00")],
                "2026-11-20 10:00", FollowUp(2, 2)),
            case("second nudge not yet due: the wait restarts at our last follow-up",
                vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-09 10:00"),
                     mail(ME, &[ANNA], "2026-11-16 10:00")],
                "2026-11-18 10:00",
                Quiet("we followed up with anna@buyer.example on 2026-11-16 10:00 UTC (follow-up 1); waiting: follow-up due Thu 2026-11-19 10:00 UTC")),
            case("maximum follow-ups reached",
                vec![mail(ANNA, &[ME], "2026-11-02 09:00"), mail(ME, &[ANNA], "2026-11-02 10:00"),
                     mail(ME, &[ANNA], "2026-11-06 10:00"), mail(ME, &[ANNA], "2026-11-12 10:00")],
                "2026-11-23 10:00", Quiet("already followed up 2 times (maximum 2)")),
            case("a maximum of 3 allows a third nudge",
                vec![mail(ANNA, &[ME], "2026-11-02 09:00"), mail(ME, &[ANNA], "2026-11-02 10:00"),
                     mail(ME, &[ANNA], "2026-11-06 10:00"), mail(ME, &[ANNA], "2026-11-12 10:00")],
                "2026-11-23 10:00", FollowUp(3, 3))
                .rules(|r| r.max_followups = 3),
            case("follow-ups turned off",
                vec![mail(ANNA, &[ME], "2026-11-02 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00")],
                "2026-11-23 10:00", Quiet("follow-ups are turned off (max_followups = 0)"))
                .rules(|r| r.max_followups = 0),
            case("a buyer message in between restarts the count",
                vec![mail(ANNA, &[ME], "2026-11-02 09:00"), mail(ME, &[ANNA], "2026-11-02 10:00"),
                     mail(ME, &[ANNA], "2026-11-06 10:00"), mail(ANNA, &[ME], "2026-11-10 10:00"),
                     mail(ME, &[ANNA], "2026-11-16 10:00")],
                "2026-11-23 10:00", FollowUp(4, 1)),
            case("a colleague answered, we nudged: one follow-up already sent",
                vec![mail(ANNA, &[ME], "2026-11-02 09:00"), mail(BOB, &[ANNA], "2026-11-02 10:00").cc(&[ME]),
                     mail(ME, &[ANNA], "2026-11-09 10:00")],
                "2026-11-23 10:00", FollowUp(2, 2)),
            case("an out-of-office between our messages is not counted, and not an answer",
                vec![mail(ANNA, &[ME], "2026-11-02 09:00"), mail(ME, &[ANNA], "2026-11-02 10:00"),
                     mail(ANNA, &[ME], "2026-11-02 10:01").ooo(), mail(ME, &[ANNA], "2026-11-09 10:00")],
                "2026-11-23 10:00", FollowUp(3, 2)),
            case("follow-up window: our message 31 days old",
                vec![mail(ANNA, &[ME], "2026-10-22 09:00"), mail(ME, &[ANNA], "2026-10-23 10:00")],
                "2026-11-23 10:00", Quiet("older than the 30-day follow-up window")),
            case("follow-up window: our message 29 days old",
                vec![mail(ANNA, &[ME], "2026-10-22 09:00"), mail(ME, &[ANNA], "2026-10-25 10:00")],
                "2026-11-23 10:00", FollowUp(1, 1)),
            case("an old buyer message does not matter for a follow-up",
                vec![mail(ANNA, &[ME], "2026-09-01 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00")],
                "2026-11-23 10:00", FollowUp(1, 1)),
            case("cold outreach",
                vec![mail(ME, &[ANNA], "2026-11-16 10:00")],
                "2026-11-23 10:00",
                Quiet("we wrote to anna@buyer.example on 2026-11-16 10:00 UTC, but nobody outside has written in this thread")),
            case("cold outreach, nudged once by hand",
                vec![mail(ME, &[ANNA], "2026-11-09 10:00"), mail(ME, &[ANNA], "2026-11-16 10:00")],
                "2026-11-23 10:00", Quiet("outreach, not a deal")),
            case("a colleague wrote first, then we wrote outside: still outreach",
                vec![mail(BOB, &[ME], "2026-11-09 10:00"), mail(ME, &[ANNA], "2026-11-16 10:00").cc(&[BOB])],
                "2026-11-23 10:00", Quiet("outreach")),
            case("the buyer's organisation wrote in another thread after our message",
                vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00")],
                "2026-11-23 10:00",
                Quiet("someone at buyer.example wrote on 2026-11-18 08:00 UTC (in another thread), so the silence is over"))
                .contact(ANNA, Contact { received: 3, sent: 2, last_inbound_from_org: Some(ts("2026-11-18 08:00")) }),
            case("the buyer's organisation last wrote before our message",
                vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00")],
                "2026-11-23 10:00", FollowUp(1, 1))
                .contact(ANNA, Contact { received: 3, sent: 2, last_inbound_from_org: Some(ts("2026-11-16 09:59")) }),
            case("a copied third party's organisation wrote after our message",
                vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00").cc(&[DAVE])],
                "2026-11-23 10:00", Quiet("someone at partner.example wrote"))
                .contact(DAVE, Contact { received: 1, sent: 1, last_inbound_from_org: Some(ts("2026-11-17 08:00")) }),
            case("the one-way rule does not stop a follow-up",
                vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00")],
                "2026-11-23 10:00", FollowUp(1, 1))
                .contact(ANNA, Contact { received: 20, sent: 0, last_inbound_from_org: None }),
            case("our undated last message starts no follow-up window",
                vec![mail(ANNA, &[ME], "2026-11-09 09:00"), mail(ME, &[ANNA], "2026-11-16 10:00").undated()],
                "2026-11-23 10:00", Quiet("too old to follow up on")),
            case("an undated buyer message still makes a reply expected",
                vec![mail(ANNA, &[ME], "2026-11-09 09:00").undated(), mail(ME, &[ANNA], "2026-11-16 10:00")],
                "2026-11-23 10:00", FollowUp(1, 1)),
            case("an earlier message without From is no buyer",
                vec![mail(ANNA, &[ME], "2026-11-09 09:00").no_from(), mail(ME, &[ANNA], "2026-11-16 10:00")],
                "2026-11-23 10:00", Quiet("outreach")),
        ]);
    }

    #[test]
    fn reply_and_follow_up_reasons_in_full() {
        let c = case(
            "",
            vec![mail(ANNA, &[ME], "2026-11-23 08:14").named("Anna Buyer")],
            "2026-11-25 12:00",
            Want::Reply(0),
        )
        .tz(BERLIN);
        assert_eq!(
            run(&c).reason(),
            "Anna Buyer <anna@buyer.example> wrote on 2026-11-23 09:14 CET and nobody on our side answered (2 days ago)"
        );
        let c = case(
            "",
            vec![
                mail(ANNA, &[ME], "2026-11-02 09:00"),
                mail(ME, &[ANNA], "2026-11-16 10:00"),
            ],
            "2026-11-20 10:00",
            Want::FollowUp(1, 1),
        );
        assert_eq!(
            run(&c).reason(),
            "we answered anna@buyer.example on 2026-11-16 10:00 UTC and heard nothing for 3 business days (due Thu 2026-11-19 10:00 UTC); follow-up 1 of 2"
        );
    }

    #[test]
    fn hostile_display_names_stay_on_one_line() {
        let c = case(
            "",
            vec![mail(ANNA, &[ME], "2026-11-23 09:00").named("Anna\r\nBcc: evil")],
            "2026-11-23 12:00",
            Want::Reply(0),
        );
        let v = run(&c);
        assert!(matches!(v, Verdict::Attention(_)), "{v:?}");
        assert!(!v.reason().contains(['\r', '\n']), "{:?}", v.reason());
    }

    #[test]
    fn extreme_dates_do_not_panic() {
        for date in [
            i64::MIN,
            i64::MAX,
            -1,
            0,
            253_402_300_799,
            8_210_266_876_799,
        ] {
            for tz in [UTC, BERLIN, NEW_YORK, chrono_tz::Pacific::Kiritimati] {
                for msgs in [
                    vec![mail(ANNA, &[ME], "2026-11-23 09:00")],
                    vec![
                        mail(ANNA, &[ME], "2026-11-23 09:00"),
                        mail(ME, &[ANNA], "2026-11-23 09:00"),
                    ],
                ] {
                    let mut msgs = msgs;
                    for m in &mut msgs {
                        m.date = Some(date);
                    }
                    let c = case("", msgs, "2026-11-23 12:00", Want::Quiet("")).tz(tz);
                    assert!(!run(&c).reason().is_empty());
                }
            }
        }
        // Rules at their limits.
        let c = case(
            "",
            vec![
                mail(ANNA, &[ME], "2026-11-02 09:00"),
                mail(ME, &[ANNA], "2026-11-16 10:00"),
            ],
            "2026-11-20 10:00",
            Want::Quiet(""),
        )
        .rules(|r| {
            r.followup_business_days = u32::MAX;
            r.followup_window_days = u32::MAX;
            r.reply_window_days = u32::MAX;
        });
        assert!(run(&c).reason().contains("waiting"));
    }

    #[test]
    fn followup_due_table() {
        // (sent UTC, business days, tz, due local as shown)
        let cases = [
            ("2026-11-23 10:00", 3, UTC, "Thu 2026-11-26 10:00 UTC"),
            ("2026-11-20 10:00", 3, UTC, "Wed 2026-11-25 10:00 UTC"),
            ("2026-11-20 10:00", 2, UTC, "Tue 2026-11-24 10:00 UTC"),
            ("2026-11-20 10:00", 5, UTC, "Fri 2026-11-27 10:00 UTC"),
            ("2026-11-20 10:00", 6, UTC, "Mon 2026-11-30 10:00 UTC"),
            ("2026-11-21 15:00", 1, UTC, "Tue 2026-11-24 00:00 UTC"),
            ("2026-11-22 15:00", 5, UTC, "Mon 2026-11-30 00:00 UTC"),
            ("2026-11-20 23:30", 3, BERLIN, "Thu 2026-11-26 00:00 CET"),
            ("2026-11-20 23:30", 3, NEW_YORK, "Wed 2026-11-25 18:30 EST"),
            // Monday 04:00 UTC is still Sunday in New York: counts from Monday 00:00 there.
            ("2026-11-23 04:00", 1, NEW_YORK, "Tue 2026-11-24 00:00 EST"),
            ("2026-03-27 09:00", 3, BERLIN, "Wed 2026-04-01 10:00 CEST"),
            // Berlin falls back on Sun 2026-10-25: Fri 10:00 CEST -> Wed 10:00 CET.
            ("2026-10-23 08:00", 3, BERLIN, "Wed 2026-10-28 10:00 CET"),
        ];
        for (sent, days, tz, want) in cases {
            let due = followup_due(utc(sent), days, tz);
            let got = due
                .with_timezone(&tz)
                .format("%a %Y-%m-%d %H:%M %Z")
                .to_string();
            assert_eq!(got, want, "{sent} + {days} business days in {tz}");
        }
    }

    #[test]
    fn local_time_in_a_dst_gap_moves_past_the_gap() {
        // 02:30 on 2026-03-29 does not exist in Berlin; it becomes 03:30 CEST (01:30 UTC).
        let naive = NaiveDateTime::parse_from_str("2026-03-29 02:30", "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(local_to_utc(naive, BERLIN), utc("2026-03-29 01:30"));
        // 02:30 on 2026-10-25 happens twice; the earlier is 02:30 CEST (00:30 UTC).
        let naive = NaiveDateTime::parse_from_str("2026-10-25 02:30", "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(local_to_utc(naive, BERLIN), utc("2026-10-25 00:30"));
    }
}
