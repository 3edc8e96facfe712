//! What makes a draft recognisably ours: its deterministic Message-ID (the account and the
//! trigger, so a rename, a reorder or a merge changes nothing), the id tend 0.1 gave it (only
//! searched for), and the marker header whose body digest proves a copy in Drafts is still the
//! text we wrote. Pure; it builds no message.

use crate::config::MailboxConfig;
use sha2::{Digest, Sha256};

/// The right side of every draft's Message-ID: the account's own mail domain (the IMAP user
/// name's domain, else the IMAP host), so a draft the user sends carries an id like any other
/// mail of theirs, and it depends on the account alone: reordering `addresses` or renaming the
/// file cannot change it. Spam filters score a Message-ID whose right side is no domain of the
/// sender's (rspamd's MID_RHS_*), and `.invalid` would tell the buyer a machine drafted it.
/// Only a user name and host with no usable domain fall back to `tend.invalid` (RFC 6761 6.4).
pub fn draft_id_domain(mailbox: &MailboxConfig) -> String {
    let user = mailbox.imap.username.to_lowercase();
    let host = mailbox.imap.host.to_lowercase();
    let candidate = user.rsplit_once('@').map_or(host.as_str(), |(_, d)| d);
    let usable = candidate.contains('.')
        && candidate
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if usable {
        candidate.to_string()
    } else {
        "tend.invalid".into()
    }
}

/// The deterministic Message-ID (without `<>`) of the draft answering `trigger` in `mailbox`:
/// a hash of the account (IMAP user name and host, lowercased: not the file name, so renaming
/// the file changes nothing) and the trigger's Message-ID (unique, and unlike the thread id
/// untouched by a merge), so `deliver` can find a draft it already appended.
pub fn message_id(mailbox: &MailboxConfig, trigger: &str) -> String {
    let account = format!(
        "{}@{}",
        mailbox.imap.username.to_lowercase(),
        mailbox.imap.host.to_lowercase()
    );
    let mut hash = Sha256::new();
    // Length-prefixed, so ("ab", "c") and ("a", "bc") cannot collide; "v2" keeps the space of
    // these ids apart from the legacy formula's.
    for part in ["v2", &account, trigger] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let hex = hex(&hash.finalize());
    format!("tend.{}@{}", &hex[..24], draft_id_domain(mailbox))
}

/// The Message-ID tend 0.1 gave the draft for (mailbox file name, thread, trigger), at the
/// primary address's domain: never written any more, only searched for, so a draft written
/// before an upgrade is not written again.
pub fn legacy_message_id(mailbox: &str, thread_id: &str, trigger: &str, domain: &str) -> String {
    let mut hash = Sha256::new();
    for part in [mailbox, thread_id, trigger] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let hex = hex(&hash.finalize());
    format!("tend.{}@{}", &hex[..24], domain)
}

/// The value of [`MARKER_HEADER`] for a thread and the text body we wrote: hashes, so the
/// header leaks neither the id nor the words.
pub fn marker(thread_id: &str, body: &str) -> String {
    let hex = hex(&Sha256::digest(thread_id.as_bytes()));
    format!("v2 thread={} body={}", &hex[..24], body_digest(body))
}

/// Does a marker value vouch for this decoded text body? Only a `v2` marker can: a `v1` one
/// (before bodies were hashed) says nothing about the words.
pub fn marker_vouches_for(marker: &str, body: &str) -> bool {
    let want = body_digest(body);
    marker.split_ascii_whitespace().next() == Some("v2")
        && marker
            .split_ascii_whitespace()
            .any(|p| p.strip_prefix("body=") == Some(want.as_str()))
}

/// SHA-256 of a text body normalised so transport does not matter (CRLF or LF, trailing
/// spaces a server or quoted-printable may drop or add, trailing blank lines), lowercase hex.
pub fn body_digest(body: &str) -> String {
    let lines: Vec<&str> = body.split('\n').map(str::trim_end).collect();
    let text = lines.join("\n");
    hex(&Sha256::digest(text.trim_end().as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
