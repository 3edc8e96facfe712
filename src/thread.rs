//! Which thread a message belongs to. Pure: the store asks it which ids may already name the
//! thread of a message (References, In-Reply-To) and for the subject key used as a fallback for
//! clients that drop threading headers. It owns [`Thread`], the unit `detect` judges.

use crate::parse::Email;

/// One conversation: its id (the root Message-ID as first seen) and its messages, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Thread {
    pub id: String,
    pub messages: Vec<Email>,
}
