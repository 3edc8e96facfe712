//! Signs of machine-sent mail: bounces, RFC 3834 Auto-Submitted, list and bulk headers,
//! calendar invites, noreply senders, and which of them mean out-of-office. It names the
//! strongest sign as a reason; it does not decide what to do about it (`detect` does).

use mail_parser::{Message, MimeHeaders};

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

/// Signs of machine-sent mail, strongest first, and whether it is an out-of-office reply.
pub(super) fn automation(
    msg: &Message<'_>,
    h: &Headers<'_, '_>,
    from: Option<&Addr>,
    subject: &str,
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

    let subj = subject.to_lowercase();
    let ooo_subject = OOO_SUBJECTS.iter().any(|p| subj.starts_with(p));
    let mut ooo = ooo_subject || h.has("X-MS-Exchange-Inbox-Rules-Loop");
    let mut reason: Option<String> = None;
    let mut set = |r: String| {
        if reason.is_none() {
            reason = Some(r);
        }
    };

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
            set(format!("Auto-Submitted: {}", short(&v)));
        }
    }
    for name in ["X-Autoreply", "X-Autorespond"] {
        if let Some(v) = h.raw_value(name) {
            ooo = true;
            set(format!("{name}: {}", short(&v)));
        }
    }
    if let Some(v) = h.raw_value("List-Id") {
        set(format!("List-Id: {}", short(&v)));
    }
    if let Some(v) = h.raw_value("Precedence") {
        let p = v.trim().to_lowercase();
        if matches!(p.as_str(), "bulk" | "list" | "junk" | "auto_reply") {
            set(format!("Precedence: {}", short(&v)));
        }
    }
    if h.has("List-Unsubscribe") {
        // The value is a long URL list; naming the header is reason enough.
        set("List-Unsubscribe".into());
    }
    if let Some(v) = h.raw_value("X-Auto-Response-Suppress") {
        set(format!("X-Auto-Response-Suppress: {}", short(&v)));
    }
    if h.raw_value("Return-Path").is_some_and(|v| v.trim() == "<>") {
        set("bounce (Return-Path: <>)".into());
    }
    if let Some(r) = calendar(msg) {
        set(r);
    }
    if is_noreply_local(local) {
        let email = from.map(|a| a.email.as_str()).unwrap_or_default();
        set(format!("noreply sender ({email})"));
    }
    if let Some(v) = h.raw_value("X-MS-Exchange-Inbox-Rules-Loop") {
        set(format!("X-MS-Exchange-Inbox-Rules-Loop: {}", short(&v)));
    }
    if ooo_subject {
        set(format!("Subject: {}", short(subject)));
    }
    (reason, ooo)
}

fn short(v: &str) -> String {
    let v = collapse_ws(v);
    match v.char_indices().nth(REASON_VALUE_CAP) {
        Some((i, _)) => format!("{}...", &v[..i]),
        None => v,
    }
}

/// A text/calendar (or application/ics) part, or an iTIP method on any part's Content-Type.
fn calendar(msg: &Message<'_>) -> Option<String> {
    for part in &msg.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let ty = format!(
            "{}/{}",
            ct.ctype().to_lowercase(),
            ct.subtype().unwrap_or_default().to_lowercase()
        );
        let method = ct
            .attribute("method")
            .map(|m| m.trim().to_uppercase())
            .filter(|m| matches!(m.as_str(), "REQUEST" | "CANCEL" | "REPLY"));
        if ty == "text/calendar" || ty == "application/ics" || method.is_some() {
            return Some(match method {
                Some(m) => format!("calendar invite ({ty}; method={m})"),
                None => format!("calendar invite ({ty})"),
            });
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
