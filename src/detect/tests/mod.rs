//! The table harness for detection: a fixed cast (us, a colleague, a buyer and theirs, a third
//! party), a builder for messages and cases, and `check`, which runs a table and reports every
//! failing case at once, insisting that each reason is one non-empty line. The tables live in
//! the topic files beside it: replies, follow-ups, and calendar arithmetic. It tests through
//! `assess` and `followup_due` and does no I/O.

// Calendar used in the tables (November 2026): Fri 20, Sat 21, Sun 22, Mon 23, Tue 24, Wed 25,
// Thu 26, Fri 27. Berlin is UTC+1 (CET), New York UTC-5 (EST) in November.

mod calendar;
mod follow_up;
mod reply;

use super::*;
pub(super) use crate::config::StopsOn;
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
        ooo_until: None,
    }
}

trait With {
    fn cc(self, cc: &[&str]) -> Self;
    fn auto(self, why: &str) -> Self;
    fn ooo(self) -> Self;
    fn back(self, day: &str) -> Self;
    fn undated(self) -> Self;
    fn answers(self, i: usize) -> Self;
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
    /// An out-of-office reply that states this return date ("2026-11-27").
    fn back(self, day: &str) -> Self {
        let mut e = self.ooo();
        e.ooo_until = Some(ts(&format!("{day} 00:00")));
        e
    }
    fn undated(mut self) -> Self {
        self.date = None;
        self
    }
    /// In-Reply-To message `i` of the case (ids are m0, m1, ... in the order written).
    fn answers(mut self, i: usize) -> Self {
        self.in_reply_to = Some(format!("m{i}"));
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

/// The thread as the store hands it over: in `thread::order` (reply links, then dates), so a
/// case cannot rely on an order production never produces.
fn thread(mut msgs: Vec<Email>) -> Thread {
    for (i, m) in msgs.iter_mut().enumerate() {
        m.message_id = format!("m{i}");
    }
    crate::thread::order(&mut msgs);
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
