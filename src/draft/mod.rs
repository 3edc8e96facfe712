//! A [`Draft`] for a [`Finding`](crate::detect::Finding): the prompt (pure), the model call, and
//! the composed message (pure). It never talks to IMAP; `deliver` puts the result in Drafts.

pub mod compose;
pub mod prompt;
