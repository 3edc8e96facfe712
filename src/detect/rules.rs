//! The three rules `assess` dispatches to, by who wrote the latest human message: a buyer (does
//! it need a reply, or does a filter say no), a colleague (they answered for us), or we (is a
//! follow-up due, or did their side speak elsewhere, or have we nudged enough; an out-of-office
//! reply's return date moves the due date to the first business day after it). Each returns a
//! [`Verdict`] with its one-line reason. They read only the thread, the rules and the contact
//! lookup; sorting messages into sides is `assess`'s job, and counting business days is
//! `calendar`'s.

use super::calendar::{age_secs, ago, first_business_day_after, usable_time, DAY_SECS};
use super::ONE_WAY_SENDER_MIN;
use super::{domain, followup_due, quiet, who, Ctx, Finding, Kind, Msg, Side, Verdict};
use crate::config::StopsOn;
use crate::parse::Addr;
use crate::thread::Thread;
use chrono::NaiveDate;

/// The latest human message is from an external person: answer it, unless a filter says no.
pub(super) fn needs_reply(thread: &Thread, msgs: &[Msg], last: usize, cx: &Ctx) -> Verdict {
    let m = &msgs[last];
    let sender = who(m.from);
    // A message without a date cannot open a reply window: treat it as too old.
    let Some(at) = m.at else {
        return quiet(format!(
            "{sender} wrote a message without a usable Date; too old to draft a reply for"
        ));
    };
    let window = i64::from(cx.rules.reply_window_days);
    cx.note(
        "reply window",
        format!(
            "{sender} wrote {}; the window is {window} days",
            ago(age_secs(cx.now, at).max(0) / DAY_SECS)
        ),
    );
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
    cx.note(
        "addressed to us",
        if addressed {
            "one of our addresses is in To or Cc"
        } else {
            "none of our addresses is in To or Cc"
        }
        .to_string(),
    );
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
    cx.note(
        "a conversation",
        format!(
            "{} messages from them and {} from us in all threads{}; one-way senders are those \
             with {ONE_WAY_SENDER_MIN} or more and none from us",
            c.received,
            c.sent,
            if we_wrote_here {
                ", and we wrote to them in this thread"
            } else {
                ""
            }
        ),
    );
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
pub(super) fn colleague_latest(msgs: &[Msg], last: usize, cx: &Ctx) -> Verdict {
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
pub(super) fn needs_follow_up(thread: &Thread, msgs: &[Msg], last: usize, cx: &Ctx) -> Verdict {
    let ours = &msgs[last];
    let external: Vec<&Addr> = ours
        .email
        .to
        .iter()
        .chain(&ours.email.cc)
        .filter(|a| !cx.me.is_internal(&a.email))
        .collect();
    cx.note(
        "our latest message",
        format!(
            "on {}, to {} outside the company",
            cx.when(ours.at),
            external.len()
        ),
    );
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
    cx.note(
        "their side wrote first",
        format!("{buyer_who} on {}", cx.when(buyer.at)),
    );
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
    // A silence ends in its own thread: repeat buyers write several threads at once, and a new
    // RFQ is no answer to last week's quote (a company-wide stop silenced every follow-up of a
    // busy account). Sellers who want the stricter rule choose it with `followup_stops_on`.
    cx.note(
        "silence ends with",
        match cx.rules.followup_stops_on {
            StopsOn::Thread => "a message in this thread (followup_stops_on = \"thread\")",
            StopsOn::Person => "any message from them (followup_stops_on = \"person\")",
            StopsOn::Company => "any message from their company (followup_stops_on = \"company\")",
        }
        .to_string(),
    );
    if let Some(reason) = spoke_elsewhere(buyer.from, &external, at.timestamp(), &said, cx) {
        return quiet(reason);
    }
    let max = cx.rules.max_followups;
    cx.note(
        "follow-ups sent",
        format!("{sent} since their message (maximum {max})"),
    );
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
    cx.note(
        "follow-up window",
        format!(
            "our message is from {}; the window is {window} days",
            ago(age_secs(cx.now, at).max(0) / DAY_SECS)
        ),
    );
    if age_secs(cx.now, at) > window.saturating_mul(DAY_SECS) {
        return quiet(format!(
            "{said}; that is older than the {window}-day follow-up window"
        ));
    }
    let n = cx.rules.followup_business_days;
    let mut due = followup_due(at, n, cx.tz);
    // An out-of-office on their side that names a return date: not before they are back.
    let mut away = String::new();
    if let Some((back, from)) = return_date(&msgs[b + 1..]) {
        let after = first_business_day_after(back, cx.tz);
        if after > due {
            due = after;
            away = format!(
                " because the out-of-office reply from {} says they are back {}",
                who(from),
                back.format("%Y-%m-%d")
            );
        }
    }
    cx.note(
        "due",
        format!(
            "{} ({n} business days after our message{away})",
            cx.when_day(due)
        ),
    );
    if cx.now < due {
        return quiet(format!(
            "{said}; waiting: follow-up due {}{away}",
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
            "{said} and heard nothing for {n} business days (due {}{away}); follow-up {nudge} of {max}",
            cx.when_day(due)
        ),
    })
}

/// The latest return date an out-of-office reply from their side states among `msgs`, and who
/// sent it (`parse` read and checked it: after the reply's date, at most 60 days ahead).
fn return_date<'a>(msgs: &[Msg<'a>]) -> Option<(NaiveDate, &'a Addr)> {
    msgs.iter()
        .filter(|m| m.side == Side::External && m.email.out_of_office)
        .filter_map(|m| {
            let day = usable_time(m.email.ooo_until?)?.date_naive();
            Some((day, m.from))
        })
        .max_by_key(|(day, _)| *day)
}

/// Under `followup_stops_on = "person"` or `"company"`: did the buyer (or anyone at their
/// company) write to us after our message `at`, in another thread? The reason says who and when.
fn spoke_elsewhere(
    buyer: &Addr,
    external: &[&Addr],
    at: i64,
    said: &str,
    cx: &Ctx,
) -> Option<String> {
    let company = match cx.rules.followup_stops_on {
        StopsOn::Thread => return None,
        StopsOn::Person => false,
        StopsOn::Company => true,
    };
    let mut asked: Vec<&str> = Vec::new();
    for a in std::iter::once(buyer).chain(external.iter().copied()) {
        if cx.me.is_internal(&a.email) || asked.iter().any(|x| x.eq_ignore_ascii_case(&a.email)) {
            continue;
        }
        asked.push(&a.email);
        let c = (cx.contact)(&a.email);
        if let Some(t) = c.last_inbound_from_person.filter(|&t| t > at) {
            return Some(format!(
                "{said}; {} wrote to us on {} (in another thread), so the silence is over",
                who(a),
                cx.when(usable_time(t))
            ));
        }
        if let Some(t) = c.last_inbound_from_org.filter(|&t| company && t > at) {
            return Some(format!(
                "{said}; someone at {} wrote on {} (in another thread), so the silence is over",
                domain(&a.email),
                cx.when(usable_time(t))
            ));
        }
    }
    None
}
