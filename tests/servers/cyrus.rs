//! Cases for Cyrus alone, where its configuration differs from Dovecot's in ways tend must
//! not depend on: folders without special-use, special-use named only when LIST asks for it,
//! no idled.

use crate::lifecycle::delivered_while_idling;
use crate::support::cyrus::{Cyrus, Flavour};
use crate::support::server::MailServer;
use crate::world::*;

/// `tend check` picks `drafts` and `sent` on this server, and a buyer's question gets its
/// one draft in `drafts`.
fn checks_and_drafts_into(server: Box<dyn MailServer>, drafts: String, sent: String) {
    let w = World::around(server, drafts.clone(), sent.clone());
    let check = w.tend_env(&["check"], &[]);
    let text = String::from_utf8_lossy(&check.stdout);
    let want = format!("sent {sent:?}, drafts {drafts:?}");
    assert!(
        check.status.success() && text.contains(&want),
        "want {want} in:\n{text}"
    );
    w.seed();
    w.once();
    assert_eq!(
        answering(&w.drafts(), "q1@buyer.test").len(),
        1,
        "in {drafts}"
    );
}

/// Folders without special-use (a server set up before RFC 6154): found by name, at the top
/// with `/` and under INBOX with `.`, the habit of Cyrus and Courier.
#[test]
fn cyrus_folders_without_special_use_are_found_by_name() {
    for flavour in [Flavour::Slash, Flavour::Dot] {
        let cyrus = Cyrus::start(flavour);
        cyrus.add_user_without_special_use(USER, PASSWORD);
        let (drafts, sent) = (cyrus.folder("Drafts"), cyrus.folder("Sent"));
        checks_and_drafts_into(Box::new(cyrus), drafts, sent);
    }
}

/// RFC 6154 lets a server name the special-use folders only when LIST asks for them with
/// `RETURN (SPECIAL-USE)`; Cyrus does so with `specialusealways: 0`. Dovecot always names them.
#[test]
fn cyrus_naming_special_use_only_when_asked_still_gets_the_draft_into_its_drafts() {
    for flavour in [Flavour::Slash, Flavour::Dot] {
        let cyrus = Cyrus::start_with(flavour, "specialusealways: 0\n");
        cyrus.add_user(USER, PASSWORD);
        let plain = cyrus.client(USER).run("LIST \"\" \"*\"");
        assert!(
            !plain.contains("\\Drafts"),
            "asked plainly, no attributes: {plain}"
        );
        let (drafts, sent) = (cyrus.special("\\Drafts"), cyrus.special("\\Sent"));
        checks_and_drafts_into(Box::new(cyrus), drafts, sent);
    }
}

/// Debian's own cyrus.conf runs no idled: an idling session hears of new mail only when imapd
/// polls, each minute. tend renews its IDLE sooner (at most `timeout / 2`, 5 s here) and looks
/// then, so the draft still comes within seconds.
#[test]
fn cyrus_without_idled_still_drafts_a_message_delivered_while_tend_run_idles() {
    let cyrus = Cyrus::start_without_idled(Flavour::Dot);
    cyrus.add_user(USER, PASSWORD);
    let (drafts, sent) = (cyrus.special("\\Drafts"), cyrus.special("\\Sent"));
    let w = World::around(Box::new(cyrus), drafts, sent);
    delivered_while_idling(&w);
}
