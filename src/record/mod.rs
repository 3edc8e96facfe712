//! The sales record of the whole service: contacts, companies and deals with their stage
//! history, derived from the stored threads of every mailbox plus the stage changes the model
//! inferred and the user's corrections. One record for all mailboxes, so two teammates writing
//! to one company see one history. Pure over what it is given: the daemon reads the store and
//! the corrections and passes them in, with `now`; building it twice from the same input gives
//! the same record, which is what makes a rebuild of the store keep it.
//!
//! It does not compute the numbers (`report`) and does not decide what needs attention now
//! (`detect`), though a deal's state agrees with it.

mod build;
mod join;
#[cfg(test)]
mod tests;

pub use build::{company_of, Builder, Known};

/// Who said that a thread continues another thread's deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinSource {
    /// The model judged it (once per new thread, stored in the store's `deal_joins`).
    Inferred,
    /// `tend deal MESSAGE-ID --join OTHER`: the user's word, which wins.
    Command,
}

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which side of the conversation wrote a message. Machine-sent mail (lists, auto-replies,
/// bounces) is no touch at all and never reaches the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// One of a mailbox's own addresses.
    Ours,
    /// Someone at one of our internal domains: answers for us, is no buyer.
    Colleague,
    /// A person outside: the buyer side.
    Buyer,
}

impl Side {
    /// Ours or a colleague's: a message that answers a buyer.
    pub fn is_us(self) -> bool {
        matches!(self, Side::Ours | Side::Colleague)
    }
}

/// One human message of a deal's thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Touch {
    pub message_id: String,
    /// Unix seconds (the Date header; threads are in causal order first).
    pub at: i64,
    pub side: Side,
    /// The mailbox that holds it (for our own, the one that wrote it): its time zone counts.
    pub mailbox: String,
    /// The sender's address, canonical (lower-case, plus-tag removed).
    pub from: String,
    /// External people it was addressed to (To and Cc), canonical.
    pub to: Vec<String>,
}

/// One thread of a deal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DealThread {
    pub id: String,
    pub subject: String,
    /// Human messages only, oldest first (causal order, then date).
    pub touches: Vec<Touch>,
}

/// Where a stage change came from. A correction wins over inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageSource {
    /// The deal opened: it enters the pipeline's first stage at its first message.
    Opened,
    /// The model, from the message that caused it.
    Inferred,
    /// An IMAP keyword on a message of the thread (a mail client's tag).
    Keyword,
    /// `tend stage`.
    Command,
    /// tend itself: a deal silent for `lost_after_days` went dark.
    Dark,
}

/// A deal entered a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageChange {
    pub stage: String,
    /// Unix seconds: the date of the message that caused it (of the correction, for a
    /// command without a message).
    pub at: i64,
    /// The message that caused it, when there is one.
    pub message_id: Option<String>,
    pub source: StageSource,
    /// The sentence that justifies it (inference), or the user's note.
    pub evidence: Option<String>,
}

/// Where a deal stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DealState {
    /// The buyer wrote last and nobody on our side answered.
    NeedsReply,
    /// We wrote last, less than the follow-up delay ago.
    WaitingOnThem,
    /// We wrote last and nobody answered for the follow-up delay or longer.
    Quiet,
    Won,
    Lost,
}

/// The unit of the pipeline: by default one human conversation with a buyer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deal {
    /// The id of its first thread.
    pub id: String,
    /// The buyer's company (domain); `None` for a free-mail buyer, who stands alone.
    pub company: Option<String>,
    /// The buyer-side people, canonical addresses.
    pub contacts: Vec<String>,
    pub threads: Vec<DealThread>,
    /// The mailbox that owns it: the one that wrote first to the buyer, or got the first mail.
    pub owner: String,
    /// A figure a buyer or we stated ("EUR 12,000"), when one was.
    pub value: Option<String>,
    pub state: DealState,
    /// The current stage (the last of `history`), `None` before any is known.
    pub stage: Option<String>,
    /// Every stage change, in order of `at`; corrections included, marked by source.
    pub history: Vec<StageChange>,
    /// The model's inferences a correction of the user's overruled (kept for `explain`, left
    /// out of the numbers).
    #[serde(default)]
    pub overruled: Vec<StageChange>,
    /// Why a later thread joined this deal (the model's reason, or the user's).
    pub joined: Vec<String>,
}

impl Deal {
    /// Every touch of every thread, thread by thread: each thread's oldest first, the threads
    /// in order of their first touch (a deal of joined threads interleaves in time).
    pub fn touches(&self) -> impl Iterator<Item = &Touch> {
        self.threads.iter().flat_map(|t| &t.touches)
    }

    /// The latest touch.
    pub fn last(&self) -> Option<&Touch> {
        self.touches().max_by_key(|t| t.at)
    }
}

/// A buyer-side person we exchanged mail with (never one seen only in a Cc or a newsletter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub address: String,
    pub name: Option<String>,
    /// Domain; `None` for free mail.
    pub company: Option<String>,
    /// Messages from them to us, and from us (any mailbox) to them.
    pub received: u32,
    pub sent: u32,
    pub first_received: Option<i64>,
    pub last_received: Option<i64>,
    pub first_sent: Option<i64>,
    pub last_sent: Option<i64>,
    /// Who wrote the latest message between us.
    pub last_from: Option<Side>,
}

/// A buyer organisation: everyone at one domain that is not free mail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Company {
    pub domain: String,
    pub contacts: Vec<String>,
    /// Ids of its deals.
    pub deals: Vec<String>,
}

/// A draft tend wrote, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DraftNote {
    pub mailbox: String,
    pub thread_id: String,
    /// Unix seconds of the APPEND.
    pub at: i64,
    pub outcome: DraftOutcome,
}

/// What the user did with a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftOutcome {
    /// Still in Drafts, nothing decided yet.
    Pending,
    SentAsWritten,
    SentEdited,
    /// Answered in other words, or deleted unanswered.
    Ignored,
    /// Replaced by a newer draft of ours before the user acted (the newer one counts).
    Replaced,
}

/// The whole record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Unix seconds it was built at.
    pub built_at: i64,
    /// The mailboxes it covers, by name, with their time zone (IANA name).
    pub mailboxes: BTreeMap<String, String>,
    pub contacts: BTreeMap<String, Contact>,
    pub companies: BTreeMap<String, Company>,
    pub deals: Vec<Deal>,
    pub drafts: Vec<DraftNote>,
}
