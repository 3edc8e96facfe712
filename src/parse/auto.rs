//! Signs of machine-sent mail: bounces, RFC 3834 Auto-Submitted, list and bulk headers,
//! calendar invites, noreply senders, and which of them mean out-of-office. It names the
//! strongest sign as a reason, hard signs (bounces, auto-replies) first and list or group signs
//! last, so `detect` can tell from the reason alone which signs a person's mail may carry; a
//! sign a person can trip alone (an out-of-office subject) needs a second one. It does not
//! decide what to do about a sign (`detect` does, and may overrule soft ones).

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

use super::{collapse_ws, Addr, Headers};

/// Longest header value quoted in an `automated` reason, in chars.
const REASON_VALUE_CAP: usize = 80;

/// Subject prefixes of out-of-office replies (Exchange, Gmail, localized).
const OOO_SUBJECTS: &[&str] = &[
    "automatic reply:",
    "auto-reply:",
    "autoreply:",
    "auto reply:",
    "out of office",
    "out of the office",
    "abwesend",
    "abwesenheitsnotiz",
    "automatische antwort:",
    "réponse automatique",
    "respuesta automática",
    "risposta automatica",
    "automatisch antwoord",
    "autosvar",
];

/// Reasons (as [`automation`] words them) that only say "sent through a list or group": a
/// Google or Microsoft 365 group used as a purchasing desk carries them on a person's mail, so
/// `detect` may overrule them when we wrote to that address before.
const LIST_SIGNS: &[&str] = &["List-Id:", "List-Unsubscribe", "Precedence: list"];

/// Reasons that no allow list overrules: a bounce or an RFC 3834 / X-Autoreply auto-reply.
const HARD_SIGNS: &[&str] = &[
    "bounce",
    "Auto-Submitted:",
    "X-Autoreply:",
    "X-Autorespond:",
];

/// Is this `automated` reason only a list or group sign (see [`LIST_SIGNS`])? The reason names
/// the strongest sign, and list signs come last, so a list reason means no other sign was seen.
pub fn is_list_sign(reason: &str) -> bool {
    LIST_SIGNS.iter().any(|p| reason.starts_with(p))
}

/// Is this `automated` reason a bounce or an explicit auto-reply (see [`HARD_SIGNS`])? Those
/// come first, so a softer reason means none of them was seen.
pub fn is_hard_sign(reason: &str) -> bool {
    HARD_SIGNS.iter().any(|p| reason.starts_with(p))
}

/// Signs of machine-sent mail, strongest first, and whether it is an out-of-office reply.
/// `text` is the sender's new text, read for the words of an absence notice.
pub(super) fn automation(
    msg: &Message<'_>,
    h: &Headers<'_, '_>,
    from: Option<&Addr>,
    subject: &str,
    text: &str,
) -> (Option<String>, bool) {
    let local = from
        .map(|a| a.email.rsplit_once('@').map_or(&*a.email, |(l, _)| l))
        .unwrap_or_default();

    // Bounces first: a DSN often also says Auto-Submitted: auto-replied, but is no vacation.
    if let Some(ct) = msg.root_part().content_type() {
        if ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        {
            return (Some("bounce (multipart/report)".into()), false);
        }
    }
    if local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster") {
        let email = from.map(|a| a.email.as_str()).unwrap_or_default();
        return (Some(format!("bounce (From: {email})")), false);
    }

    let mut ooo = false;
    let mut reason: Option<String> = None;
    // The first (strongest) sign names the reason.
    fn set(reason: &mut Option<String>, r: String) {
        reason.get_or_insert(r);
    }

    // RFC 3834 section 5: anything but "no" is machine-sent.
    if let Some(v) = h.raw_value("Auto-Submitted") {
        let kind = v
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_lowercase();
        if !kind.is_empty() && kind != "no" {
            ooo |= kind == "auto-replied";
            set(&mut reason, format!("Auto-Submitted: {}", short(&v)));
        }
    }
    for name in ["X-Autoreply", "X-Autorespond"] {
        if let Some(v) = h.raw_value(name) {
            ooo = true;
            set(&mut reason, format!("{name}: {}", short(&v)));
        }
    }
    if h.raw_value("Return-Path").is_some_and(|v| v.trim() == "<>") {
        set(&mut reason, "bounce (Return-Path: <>)".into());
    }
    let mut precedence_list = None;
    if let Some(v) = h.raw_value("Precedence") {
        let p = v.trim().to_lowercase();
        if p == "list" {
            precedence_list = Some(v);
        } else if matches!(p.as_str(), "bulk" | "junk" | "auto_reply") {
            set(&mut reason, format!("Precedence: {}", short(&v)));
        }
    }
    if let Some(v) = h.raw_value("X-Auto-Response-Suppress") {
        set(
            &mut reason,
            format!("X-Auto-Response-Suppress: {}", short(&v)),
        );
    }
    if let Some(r) = calendar(msg) {
        set(&mut reason, r);
    }
    if is_noreply_local(local) {
        let email = from.map(|a| a.email.as_str()).unwrap_or_default();
        set(&mut reason, format!("noreply sender ({email})"));
    }
    // An out-of-office subject needs a second sign: a person writes "Out of office next week -
    // can we meet Monday?". X-MS-Exchange-Inbox-Rules-Loop alone only says an inbox rule
    // handled the message (a rule forwards human mail too), so it only backs such a subject.
    if ooo_subject(subject)
        && (reason.is_some() || h.has("X-MS-Exchange-Inbox-Rules-Loop") || absence_notice(text))
    {
        ooo = true;
        set(&mut reason, format!("Subject: {}", short(subject)));
    }
    // List and group signs last (see LIST_SIGNS).
    if let Some(v) = h.raw_value("List-Id") {
        set(&mut reason, format!("List-Id: {}", short(&v)));
    }
    if let Some(v) = precedence_list {
        set(&mut reason, format!("Precedence: {}", short(&v)));
    }
    if h.has("List-Unsubscribe") {
        // The value is a long URL list; naming the header is reason enough.
        set(&mut reason, "List-Unsubscribe".into());
    }
    (reason, ooo)
}

fn ooo_subject(subject: &str) -> bool {
    let subj = subject.to_lowercase();
    OOO_SUBJECTS.iter().any(|p| subj.starts_with(p))
}

/// Words of an absence notice, lower-case; a text that asks something is a person's.
const ABSENCE_WORDS: &[&str] = &[
    "out of the office",
    "out of office",
    "on vacation",
    "on holiday",
    "on leave",
    "limited access",
    "will return",
    "will be back",
    "back in the office",
    "urgent",
    "abwesend",
    "nicht im büro",
    "urlaub",
    "dringend",
    "absent",
    "urgence",
    "ausente",
    "fuori ufficio",
    "afwezig",
];

/// Does the new text read like an absence notice: such words, and no question?
fn absence_notice(text: &str) -> bool {
    let t = text.to_lowercase();
    !t.contains('?') && ABSENCE_WORDS.iter().any(|w| t.contains(w))
}

/// A header value for a reason: on one line, control characters (a hostile `ESC]...`) as
/// spaces, capped.
fn short(v: &str) -> String {
    let v: String = v
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let v = collapse_ws(&v);
    match v.char_indices().nth(REASON_VALUE_CAP) {
        Some((i, _)) => format!("{}...", &v[..i]),
        None => v,
    }
}

/// An invitation: the message's main content is a calendar, that is the root part is
/// text/calendar (or application/ics), or a multipart/alternative offers one as a version of
/// the text (Google, Outlook). A `.ics` attached beside a person's question is no invitation.
fn calendar(msg: &Message<'_>) -> Option<String> {
    let describe = |part: &MessagePart<'_>| -> Option<String> {
        let ct = part.content_type()?;
        let ty = format!(
            "{}/{}",
            ct.ctype().to_lowercase(),
            ct.subtype().unwrap_or_default().to_lowercase()
        );
        if ty != "text/calendar" && ty != "application/ics" {
            return None;
        }
        let method = ct
            .attribute("method")
            .map(|m| m.trim().to_uppercase())
            .filter(|m| matches!(m.as_str(), "REQUEST" | "CANCEL" | "REPLY"));
        Some(match method {
            Some(m) => format!("calendar invite ({ty}; method={m})"),
            None => format!("calendar invite ({ty})"),
        })
    };
    if let Some(r) = describe(msg.root_part()) {
        return Some(r);
    }
    for part in &msg.parts {
        let PartType::Multipart(children) = &part.body else {
            continue;
        };
        let alternative = part.content_type().is_some_and(|ct| {
            ct.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("alternative"))
        });
        if !alternative {
            continue;
        }
        if let Some(r) = children
            .iter()
            .filter_map(|&i| msg.part(i))
            .find_map(describe)
        {
            return Some(r);
        }
    }
    None
}

/// Local parts of senders nobody can answer.
fn is_noreply_local(local: &str) -> bool {
    let l = local.to_lowercase();
    let base = l.split('+').next().unwrap_or_default();
    matches!(
        base,
        "noreply"
            | "no-reply"
            | "no_reply"
            | "donotreply"
            | "do-not-reply"
            | "do_not_reply"
            | "notifications"
            | "notification"
            | "mailer-daemon"
    ) || base.starts_with("noreply")
        || base.starts_with("no-reply")
        || base.starts_with("donotreply")
        || base.starts_with("do-not-reply")
        || base.starts_with("bounce")
}

#[cfg(test)]
mod tests {
    //! Filters a human can trip (review 1.3.4), through `parse` as a whole.
    use crate::parse::{is_hard_sign, is_list_sign, parse, Email};

    fn mail(headers: &str, body: &str) -> Email {
        let raw = format!(
            "From: Anna <anna@buyer.example>\r\nTo: sales@shop.example\r\n\
             Message-ID: <m@buyer.example>\r\nDate: Mon, 23 Nov 2026 09:00:00 +0000\r\n\
             {headers}\r\n{body}"
        );
        parse(raw.as_bytes()).unwrap()
    }

    #[test]
    fn subject_only_out_of_office_is_a_person() {
        let e = mail(
            "Subject: Out of office next week - can we meet Monday?\r\n",
            "Hi Alice, I'm out of office next week. Can we meet Monday at 10?\r\n",
        );
        assert_eq!(e.automated, None);
        assert!(!e.out_of_office);
        // The same subject with an absence notice for a body is an auto-reply.
        let e = mail(
            "Subject: Out of office\r\n",
            "I am out of the office until 30 November with limited access to e-mail.\r\n",
        );
        assert!(e.out_of_office, "{e:?}");
        assert!(e.automated.as_deref().unwrap().starts_with("Subject:"));
        // Or with a header sign.
        let e = mail(
            "Subject: Abwesend\r\nX-MS-Exchange-Inbox-Rules-Loop: anna@buyer.example\r\n",
            "Wie kann ich helfen?\r\n",
        );
        assert!(e.out_of_office);
    }

    #[test]
    fn inbox_rules_loop_alone_is_not_out_of_office() {
        let e = mail(
            "Subject: Fwd: Order 42\r\nX-MS-Exchange-Inbox-Rules-Loop: anna@buyer.example\r\n",
            "Please quote 100 chairs.\r\n",
        );
        assert_eq!(e.automated, None);
        assert!(!e.out_of_office);
    }

    const ICS: &str = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nSUMMARY:Visit\r\n\
                       END:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn ics_beside_a_question_is_not_an_invitation() {
        let e = mail(
            "Subject: Visit\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b\"\r\n",
            &format!(
                "--b\r\nContent-Type: text/plain\r\n\r\nDoes this slot work for you?\r\n\
                 --b\r\nContent-Type: text/calendar; method=REQUEST; name=\"visit.ics\"\r\n\
                 Content-Disposition: attachment; filename=\"visit.ics\"\r\n\r\n{ICS}--b--\r\n"
            ),
        );
        assert_eq!(e.automated, None, "{e:?}");
        // A calendar as a version of the text (Google, Outlook) is an invitation.
        let e = mail(
            "Subject: Invitation: Visit\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"m\"\r\n",
            &format!(
                "--m\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n\
                 --a\r\nContent-Type: text/plain\r\n\r\nYou are invited.\r\n\
                 --a\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\n{ICS}--a--\r\n--m--\r\n"
            ),
        );
        assert_eq!(
            e.automated.as_deref(),
            Some("calendar invite (text/calendar; method=REQUEST)")
        );
        // So is a message that is only a calendar.
        let e = mail(
            "Subject: Visit\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; method=CANCEL\r\n",
            ICS,
        );
        assert!(e.automated.unwrap().starts_with("calendar invite"));
    }

    #[test]
    fn reasons_carry_no_control_characters() {
        let e = mail(
            "Subject: x\r\nList-Id: \u{1b}]8;;http://evil\u{7}list\r\n",
            "x\r\n",
        );
        let why = e.automated.unwrap();
        assert!(!why.chars().any(char::is_control), "{why:?}");
    }

    #[test]
    fn list_signs_name_the_reason_only_when_nothing_else_was_seen() {
        let e = mail(
            "Subject: RFQ\r\nList-Id: <purchasing.buyer.example>\r\nPrecedence: list\r\n",
            "Please quote.\r\n",
        );
        let why = e.automated.unwrap();
        assert!(is_list_sign(&why) && !is_hard_sign(&why), "{why}");
        let e = mail(
            "Subject: RFQ\r\nList-Id: <x.example>\r\nAuto-Submitted: auto-generated\r\n",
            "x\r\n",
        );
        let why = e.automated.unwrap();
        assert!(!is_list_sign(&why) && is_hard_sign(&why), "{why}");
    }
}
