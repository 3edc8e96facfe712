//! tend watches a seller's mailboxes and leaves reply drafts in their Drafts folder.
//!
//! The pipeline, in order (only `daemon` knows it):
//! config -> imap (fetch) -> parse -> thread -> store -> detect -> draft -> deliver (append);
//! beside it, store -> record (contacts, companies, deals) -> report (the numbers) and metrics.

pub mod config;
pub mod imap;
pub mod parse;
pub mod thread;
pub mod store;
pub mod detect;
pub mod record;
pub mod report;
pub mod llm;
pub mod voice;
pub mod draft;
pub mod deliver;
pub mod daemon;
pub mod metrics;
pub mod oauth2;
pub mod systemd;
pub mod cli;
pub mod alloc;
