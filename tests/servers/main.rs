//! The end-to-end cases on every IMAP server the tests can start: Dovecot, and Cyrus IMAP with
//! `/` and top-level folders and with `.` and everything under INBOX, so no habit of one server
//! passes for the standard. Each case is written once over `support::server::MailServer` and
//! run through the real `tend` binary and a local model server; the mail goes in and is read
//! back over IMAP by the support's own client, so what is asserted is what the server holds.
//! `on_every_server!` makes one test per server: `CASE::dovecot`, `CASE::cyrus_slash`,
//! `CASE::cyrus_dot`.
//! The cases: `drafts.rs` (what gets a draft, and only one), `lifecycle.rs` (our draft beside
//! the user's mail, IDLE, stage tags), `cyrus.rs` (Cyrus alone, set up as Dovecot never is);
//! `world.rs` holds the servers, the config and the mail they share.

#[path = "../support/mod.rs"]
mod support;

macro_rules! on_every_server {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[test]
            fn dovecot() {
                super::$case(super::Kind::Dovecot)
            }
            #[test]
            fn cyrus_slash() {
                super::$case(super::Kind::CyrusSlash)
            }
            #[test]
            fn cyrus_dot() {
                super::$case(super::Kind::CyrusDot)
            }
        }
    )*};
}

mod world;

mod cyrus;
mod drafts;
mod lifecycle;
