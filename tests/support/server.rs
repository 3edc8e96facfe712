//! One face for the IMAP servers the end-to-end cases run against (Dovecot and Cyrus), so a
//! case is written once and no habit of one server passes for the standard. A server says how
//! to reach it, how to add a user, and what its folders are called; putting, reading and
//! deleting mail go over IMAP (`support::imap`) the same way on every server, as a mail client
//! or a delivering server would, so what a test asserts is what the server really holds.

use super::imap::{crlf, imap_date, Client, Message};

pub trait MailServer {
    /// A short name for messages: "dovecot", "cyrus (/)", "cyrus (.)".
    fn name(&self) -> String;
    /// Plain IMAP on 127.0.0.1 (plaintext LOGIN allowed), offering STARTTLS.
    fn port(&self) -> u16;
    /// Implicit TLS (imaps) on 127.0.0.1.
    fn tls_port(&self) -> u16;
    /// The self-signed certificate of both ports (localhost, 127.0.0.1), for tend's `ca_file`.
    fn ca_file(&self) -> std::path::PathBuf;
    /// What the server logged so far, for assertion messages.
    fn log(&self) -> String;
    /// A login with its INBOX, Sent, Drafts and Trash (special-use, RFC 6154).
    fn add_user(&self, user: &str, password: &str);
    /// The password `add_user` gave `user`.
    fn password_of(&self, user: &str) -> String;
    /// The name of the folder with that RFC 6154 attribute (`\Drafts`, `\Sent`) as a client
    /// reads it, e.g. "Drafts", "INBOX.Sent", "Entwürfe".
    fn special(&self, attribute: &str) -> String;
    /// The folder name written in IMAP commands (modified UTF-7, RFC 3501 5.1.3).
    fn wire(&self, folder: &str) -> String {
        folder.to_string()
    }

    /// A logged-in session as `user`.
    fn client(&self, user: &str) -> Client {
        Client::login(self.port(), user, &self.password_of(user))
    }

    /// APPENDs a message (line ends made CRLF) with `flags` (IMAP flags, e.g. `\Seen`; may be empty), its internal
    /// date taken from its Date header; returns its UID.
    fn put(&self, user: &str, folder: &str, raw: &[u8], flags: &str) -> Option<u32> {
        let date = date_of(raw).map(imap_date);
        let mut c = self.client(user);
        // CRLF line ends: Cyrus refuses a message with bare LF, as RFC 5322 allows it to.
        let uid = c.append(&self.wire(folder), flags, date.as_deref(), &crlf(raw));
        c.logout();
        uid
    }

    /// Every message in `folder`, fetched over IMAP, in UID order.
    fn messages(&self, user: &str, folder: &str) -> Vec<Message> {
        let mut c = self.client(user);
        let out = c.messages(&self.wire(folder));
        c.logout();
        out
    }

    /// Sets (`op` "+FLAGS") or removes ("-FLAGS") a keyword on the message with that
    /// Message-ID, as a mail client tagging it does (Thunderbird's tags are keywords).
    fn tag(&self, user: &str, folder: &str, message_id: &str, op: &str, keyword: &str) {
        let mut c = self.client(user);
        c.run(&format!(
            "SELECT {}",
            super::imap::quote(&self.wire(folder))
        ));
        let found = c.run(&format!("UID SEARCH HEADER Message-ID \"<{message_id}>\""));
        let uid: u32 = found
            .lines()
            .find_map(|l| l.strip_prefix("* SEARCH "))
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {message_id} in {folder}: {found}"));
        c.run(&format!("UID STORE {uid} {op} ({keyword})"));
        c.logout();
    }

    /// Deletes a message as a client does: STORE \Deleted, then EXPUNGE.
    fn remove(&self, user: &str, folder: &str, uid: u32) {
        let mut c = self.client(user);
        c.delete(&self.wire(folder), uid);
        c.logout();
    }
}

/// The Date header of a message, for its internal date.
fn date_of(raw: &[u8]) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next()?.split("\n\n").next()?;
    let value = head
        .lines()
        .find_map(|l| l.strip_prefix("Date:").or_else(|| l.strip_prefix("date:")))?;
    chrono::DateTime::parse_from_rfc2822(value.trim())
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}

impl MailServer for super::dovecot::Dovecot {
    fn name(&self) -> String {
        "dovecot".into()
    }
    fn port(&self) -> u16 {
        super::dovecot::Dovecot::port(self)
    }
    fn tls_port(&self) -> u16 {
        super::dovecot::Dovecot::tls_port(self)
    }
    fn ca_file(&self) -> std::path::PathBuf {
        super::dovecot::Dovecot::ca_file(self)
    }
    fn log(&self) -> String {
        super::dovecot::Dovecot::log(self)
    }
    fn add_user(&self, user: &str, password: &str) {
        super::dovecot::Dovecot::add_user(self, user, password)
    }
    fn password_of(&self, user: &str) -> String {
        self.password(user)
    }
    fn special(&self, attribute: &str) -> String {
        // dovecot.conf.tmpl: each special-use folder is named after its attribute.
        attribute.trim_start_matches('\\').to_string()
    }
}
