//! Building the [`Record`] one thread at a time, so that a mailbox of any size costs the
//! memory of its metadata, never of its text: the caller reads each stored thread, hands it to
//! [`Builder::add_thread`] with what is known of its stages, and drops it. A message counts
//! only when a person wrote it (machine-sent mail is no touch); a thread is a deal when a
//! person on the buyer side wrote in it, unless every such person is one we received many
//! messages from and never answered (a newsletter without list headers). Contacts are the
//! buyer-side people who wrote to us or whom we wrote to directly (in To): never someone seen
//! only in a Cc. Companies are domains, except free mail.
//!
//! A thread said to continue another thread's deal ([`Known::joins`], the model's judgement or
//! the user's) becomes a second thread of that deal in [`Builder::finish`]: chains follow to
//! the root deal, and a join to a thread that is no deal (or a cycle) is ignored, so the
//! thread stands alone as its own deal.
//!
//! It reads no store and no clock: `now` and the lookups come in as arguments.

use super::{
    Company, Contact, Deal, DealState, DealThread, DraftNote, JoinSource, Record, Side,
    StageChange, Touch,
};
use crate::config::domains::{canonical, domain_of};
use crate::config::{is_freemail, MailboxConfig, Pipeline};
use crate::parse::Email;
use crate::thread::Thread;
use std::collections::{BTreeMap, BTreeSet};

mod stage;

/// What a stored thread brings besides its messages.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Stage changes the model inferred, in any order.
    pub inferred: Vec<StageChange>,
    /// The user's corrections (keywords and `tend stage`), in any order.
    pub corrections: Vec<StageChange>,
    /// The deal this thread continues: the other thread's id, why, and who said so (the
    /// user's word is resolved before, by the caller). `None`: the thread stands alone.
    pub joins: Option<(String, String, JoinSource)>,
}

/// Collects threads into a record.
pub struct Builder<'a> {
    mailboxes: &'a [MailboxConfig],
    pipeline: &'a Pipeline,
    now: i64,
    /// Has any mailbox written to this address (canonical)? Decides overruled list signs.
    we_wrote_to: &'a dyn Fn(&str) -> bool,
    record: Record,
    /// Deal ids already taken: a thread listed by two mailboxes is one deal.
    seen: BTreeSet<String>,
    /// Messages dated after this are left out: a record as of a past moment (`tend report
    /// --until`). `i64::MAX` by default: a message dated ahead of our clock still counts.
    cutoff: i64,
    /// Threads with a buyer-side person in them, judged once every contact is counted.
    pending: Vec<(Deal, Known, &'a MailboxConfig)>,
}

/// The company of an address: its domain, unless free mail.
pub fn company_of(address: &str) -> Option<String> {
    let domain = domain_of(address);
    (!domain.is_empty() && !is_freemail(&domain)).then_some(domain)
}

/// A buyer we received at least this many messages from and never wrote to is not a deal
/// (the same threshold `detect` uses).
const ONE_WAY_MIN: u32 = crate::detect::ONE_WAY_SENDER_MIN;

impl<'a> Builder<'a> {
    pub fn new(
        mailboxes: &'a [MailboxConfig],
        pipeline: &'a Pipeline,
        now: i64,
        we_wrote_to: &'a dyn Fn(&str) -> bool,
    ) -> Builder<'a> {
        let record = Record {
            built_at: now,
            mailboxes: mailboxes
                .iter()
                .map(|m| (m.name.clone(), m.timezone.name().to_string()))
                .collect(),
            ..Record::default()
        };
        Builder {
            mailboxes,
            pipeline,
            now,
            we_wrote_to,
            record,
            seen: BTreeSet::new(),
            cutoff: i64::MAX,
            pending: Vec::new(),
        }
    }

    /// The record as it stood at `now`: later mail is left out.
    pub fn as_of_now(mut self) -> Builder<'a> {
        self.cutoff = self.now;
        self
    }

    /// Which mailbox a message belongs to: the one whose own address wrote it, else the first
    /// one it was addressed to, else the mailbox that listed the thread.
    fn mailbox_of(&self, email: &Email, from: &str, holder: &'a MailboxConfig) -> &'a str {
        if let Some(mb) = self.mailboxes.iter().find(|m| m.identity.is_own(from)) {
            return &mb.name;
        }
        let to: Vec<&str> = email
            .to
            .iter()
            .chain(&email.cc)
            .map(|a| a.email.as_str())
            .collect();
        self.mailboxes
            .iter()
            .find(|m| to.iter().any(|a| m.identity.is_own(a)))
            .map_or(holder.name.as_str(), |m| m.name.as_str())
    }

    fn side(&self, from: &str) -> Side {
        if self.mailboxes.iter().any(|m| m.identity.is_own(from)) {
            Side::Ours
        } else if self.mailboxes.iter().any(|m| m.identity.is_internal(from)) {
            Side::Colleague
        } else {
            Side::Buyer
        }
    }

    /// Did a person write this? Machine signs count, except those `detect` overrules too: the
    /// `always_human` list and list signs from an address we wrote to (a buyer's group alias).
    fn human(&self, email: &Email, from: &str, holder: &MailboxConfig) -> bool {
        let Some(why) = email.automated.as_deref() else {
            return true;
        };
        if email.out_of_office || crate::parse::is_hard_sign(why) {
            return false;
        }
        holder.rules.is_always_human(from)
            || (crate::parse::is_list_sign(why) && (self.we_wrote_to)(&canonical(from)))
    }

    /// Was this thread added already (listed by another mailbox)? Saves reading it again.
    pub fn knows(&self, thread_id: &str) -> bool {
        self.seen.contains(thread_id)
    }

    /// Adds one stored thread, listed by mailbox `holder`.
    pub fn add_thread(&mut self, holder: &'a MailboxConfig, thread: &Thread, known: Known) {
        if !self.seen.insert(thread.id.clone()) {
            return;
        }
        let mut touches = Vec::new();
        // What each counted message newly said, for the deal's value.
        let mut said: Vec<&str> = Vec::new();
        for email in &thread.messages {
            let (Some(from), Some(at)) = (email.from.as_ref(), email.date) else {
                continue;
            };
            if at > self.cutoff {
                continue;
            }
            if !self.human(email, &from.email, holder) {
                continue;
            }
            let from_addr = canonical(&from.email);
            let side = self.side(&from_addr);
            let to: Vec<String> = email
                .to
                .iter()
                .chain(&email.cc)
                .map(|a| canonical(&a.email))
                .filter(|a| self.side(a) == Side::Buyer)
                .collect();
            let direct: Vec<String> = email
                .to
                .iter()
                .map(|a| canonical(&a.email))
                .filter(|a| self.side(a) == Side::Buyer)
                .collect();
            self.note_contacts(side, &from_addr, from.name.as_deref(), &to, &direct, at);
            said.push(&email.new_text);
            touches.push(Touch {
                message_id: email.message_id.clone(),
                at,
                side,
                mailbox: self.mailbox_of(email, &from_addr, holder).to_string(),
                from: from_addr,
                to,
            });
        }
        // The deal's value: the latest price either side stated in its own words. Looked for
        // from the newest message back, so a thread's older messages are seldom scanned (the
        // scan was a seventh of a record's CPU at 200,000 messages).
        let value = said.iter().rev().find_map(|text| {
            crate::draft::check::prices(text)
                .last()
                .map(|price| price.chars().take(40).collect::<String>())
        });
        let buyers: BTreeSet<&str> = touches
            .iter()
            .filter(|t| t.side == Side::Buyer)
            .map(|t| t.from.as_str())
            .collect();
        if buyers.is_empty() {
            return;
        }
        let mut contacts: BTreeSet<String> = buyers.iter().map(|b| b.to_string()).collect();
        for t in touches.iter().filter(|t| t.side.is_us()) {
            contacts.extend(t.to.iter().cloned());
        }
        let first_buyer = touches.iter().find(|t| t.side == Side::Buyer);
        let company = first_buyer.and_then(|t| company_of(&t.from));
        let owner = touches
            .iter()
            .find(|t| t.side == Side::Ours)
            .map_or(holder.name.clone(), |t| t.mailbox.clone());
        let subject = thread
            .messages
            .first()
            .map(|m| m.subject.clone())
            .unwrap_or_default();
        let deal_thread = DealThread {
            id: thread.id.clone(),
            subject,
            touches,
        };
        let deal = Deal {
            id: thread.id.clone(),
            company,
            contacts: contacts.into_iter().collect(),
            threads: vec![deal_thread],
            owner,
            value,
            state: DealState::WaitingOnThem,
            stage: None,
            history: Vec::new(),
            overruled: Vec::new(),
            joined: Vec::new(),
        };
        self.pending.push((deal, known, holder));
    }

    /// Is this a sender we received many messages from and never wrote to?
    fn one_way(&self, address: &str) -> bool {
        self.record
            .contacts
            .get(address)
            .is_some_and(|c| c.sent == 0 && c.received >= ONE_WAY_MIN)
    }

    fn note_contacts(
        &mut self,
        side: Side,
        from: &str,
        name: Option<&str>,
        to: &[String],
        direct: &[String],
        at: i64,
    ) {
        let blank = |address: &str| Contact {
            address: address.to_string(),
            name: None,
            company: company_of(address),
            received: 0,
            sent: 0,
            first_received: None,
            last_received: None,
            first_sent: None,
            last_sent: None,
            last_from: None,
        };
        let later = |a: Option<i64>, b: i64| Some(a.map_or(b, |a| a.max(b)));
        let earlier = |a: Option<i64>, b: i64| Some(a.map_or(b, |a| a.min(b)));
        match side {
            Side::Buyer => {
                let c = self
                    .record
                    .contacts
                    .entry(from.to_string())
                    .or_insert_with(|| blank(from));
                c.received += 1;
                if c.last_received.is_none_or(|l| at >= l) {
                    if let Some(n) = name.map(str::trim).filter(|n| !n.is_empty()) {
                        c.name = Some(n.to_string());
                    }
                }
                c.first_received = earlier(c.first_received, at);
                c.last_received = later(c.last_received, at);
                if c.last_sent.is_none_or(|s| at >= s) {
                    c.last_from = Some(Side::Buyer);
                }
            }
            Side::Ours | Side::Colleague => {
                for address in to {
                    // A Cc alone makes no contact; a direct message does.
                    let exists = self.record.contacts.contains_key(address);
                    if !exists && !direct.contains(address) {
                        continue;
                    }
                    let c = self
                        .record
                        .contacts
                        .entry(address.clone())
                        .or_insert_with(|| blank(address));
                    c.sent += 1;
                    c.first_sent = earlier(c.first_sent, at);
                    c.last_sent = later(c.last_sent, at);
                    if c.last_received.is_none_or(|r| at >= r) {
                        c.last_from = Some(side);
                    }
                }
            }
        }
    }

    /// Adds a draft tend wrote.
    pub fn add_draft(&mut self, note: DraftNote) {
        self.record.drafts.push(note);
    }

    /// The record, deals and drafts in a stable order.
    pub fn finish(mut self) -> Record {
        let pending = std::mem::take(&mut self.pending);
        let deals: Vec<(Deal, Known, &MailboxConfig)> = pending
            .into_iter()
            .filter(|(deal, _, _)| {
                !deal
                    .touches()
                    .filter(|t| t.side == Side::Buyer)
                    .all(|t| self.one_way(&t.from))
            })
            .collect();
        for (mut deal, known, holder) in super::join::fold(deals) {
            (deal.history, deal.overruled) = self.history(&deal, known);
            self.settle(&mut deal, holder);
            self.record.deals.push(deal);
        }
        let one_way: Vec<String> = self
            .record
            .contacts
            .keys()
            .filter(|a| self.one_way(a))
            .cloned()
            .collect();
        for a in one_way {
            self.record.contacts.remove(&a);
        }
        let mut companies: BTreeMap<String, Company> = BTreeMap::new();
        for c in self.record.contacts.values() {
            if let Some(domain) = &c.company {
                companies
                    .entry(domain.clone())
                    .or_insert_with(|| Company {
                        domain: domain.clone(),
                        contacts: Vec::new(),
                        deals: Vec::new(),
                    })
                    .contacts
                    .push(c.address.clone());
            }
        }
        let opened = |d: &Deal| d.touches().next().map(|t| t.at);
        self.record
            .deals
            .sort_by(|a, b| (opened(a), &a.id).cmp(&(opened(b), &b.id)));
        for d in &self.record.deals {
            if let Some(domain) = &d.company {
                if let Some(c) = companies.get_mut(domain) {
                    c.deals.push(d.id.clone());
                }
            }
        }
        self.record.companies = companies;
        self.record
            .drafts
            .sort_by(|a, b| (a.at, &a.thread_id).cmp(&(b.at, &b.thread_id)));
        self.record
    }
}
