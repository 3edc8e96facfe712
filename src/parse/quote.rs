//! The sender's new words ([`new_text`]): cutting quoted history, attribution lines ("On ...
//! wrote:" and its translations), Outlook's quoted header blocks, original/forwarded-message
//! separators, signatures and mobile footers. Works on text lines only; it does not choose or
//! convert the body (`text` does) and never reads the message's own headers.

/// The sender's new words: quoted blocks, attributions, forwarded/original-message separators,
/// signatures and mobile footers removed. Falls back to the whole text when nothing is left.
pub fn new_text(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        if t.starts_with('>') {
            i += 1;
            continue;
        }
        if let Some(n) = attribution_len(&lines[i..]) {
            // An attribution followed by a '>' block (bottom or inline posting) only hides
            // that block; one followed by unmarked text (HTML converted, Outlook) ends the reply.
            let next = lines[i + n..].iter().find(|l| !l.trim().is_empty());
            if next.is_some_and(|l| l.trim_start().starts_with('>')) {
                i += n;
                continue;
            }
            break;
        }
        if is_separator(t) || is_header_block(&lines[i..]) {
            break;
        }
        if line.trim_end() == "--" {
            break; // signature separator "-- " (clients often strip the trailing space)
        }
        if is_mobile_footer(t) {
            break;
        }
        kept.push(line.trim_end());
        i += 1;
    }
    while kept
        .last()
        .is_some_and(|l| l.trim().is_empty() || is_rule(l.trim()))
    {
        kept.pop();
    }
    let mut out = String::new();
    let mut blank = false;
    for l in kept {
        if l.trim().is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push('\n');
            blank = false;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(l);
    }
    if out.trim().is_empty() {
        return text.trim().to_string();
    }
    out.trim().to_string()
}

/// Attribution line prefixes and suffixes as clients write them, per language.
const ATTRIBUTIONS: &[(&str, &str)] = &[
    ("On ", "wrote:"),
    ("Am ", "schrieb:"),
    ("Le ", "a écrit :"),
    ("Le ", "a écrit:"),
    ("Le ", "a écrit :"), // NBSP before the colon, as French typography has it
    ("El ", "escribió:"),
    ("Op ", "geschreven:"),
    ("Op ", "schreef:"),
    ("Il ", "ha scritto:"),
    ("Em ", "escreveu:"),
    ("Den ", "skrev:"),
];

/// If `lines` starts with an attribution ("On <date>, <name> wrote:"), its length in lines (1 or 2).
fn attribution_len(lines: &[&str]) -> Option<usize> {
    let first = strip_emphasis(lines.first()?.trim());
    if first.is_empty() || first.len() > 300 {
        return None;
    }
    let matches = |s: &str| {
        ATTRIBUTIONS
            .iter()
            .any(|(p, suf)| s.starts_with(p) && s.ends_with(suf))
            || (s.starts_with("Am ") && s.contains(" schrieb ") && s.ends_with(':'))
            || ((s.ends_with(" wrote:") || s.ends_with(" writes:")) && s.contains('@'))
    };
    if matches(first) {
        return Some(1);
    }
    let second = strip_emphasis(lines.get(1)?.trim());
    if second.is_empty() || second.len() > 300 {
        return None;
    }
    if ATTRIBUTIONS.iter().any(|(p, _)| first.starts_with(p)) {
        let joined = format!("{first} {second}");
        if matches(&joined) {
            return Some(2);
        }
    }
    None
}

/// Strips HTML-to-text bold markers such as "*From:*".
fn strip_emphasis(s: &str) -> &str {
    s.trim_start_matches('*')
}

/// "-----Original Message-----", forwarded-message markers and their translations.
fn is_separator(t: &str) -> bool {
    if t.len() > 100 {
        return false;
    }
    if t.starts_with("Begin forwarded message:") {
        return true;
    }
    if !t.starts_with("--") && !t.starts_with("__") {
        return false;
    }
    let inner = t
        .trim_matches(|c: char| c == '-' || c == '_' || c.is_whitespace())
        .to_lowercase();
    matches!(
        inner.as_str(),
        "original message"
            | "ursprüngliche nachricht"
            | "originalnachricht"
            | "message d'origine"
            | "message d’origine"
            | "mensaje original"
            | "messaggio originale"
            | "oorspronkelijk bericht"
            | "forwarded message"
            | "weitergeleitete nachricht"
            | "message transféré"
            | "mensaje reenviado"
    )
}

/// A horizontal rule line such as Outlook's "________________________________".
fn is_rule(t: &str) -> bool {
    t.len() >= 10 && t.chars().all(|c| c == '_' || c == '-')
}

const FROM_KEYS: &[&str] = &["From:", "Von:", "De:", "De :", "Da:", "Van:", "Från:"];
const OTHER_KEYS: &[&str] = &[
    "Sent:",
    "Date:",
    "To:",
    "Cc:",
    "Subject:",
    "Gesendet:",
    "Datum:",
    "An:",
    "Betreff:",
    "Envoyé :",
    "Envoyé:",
    "À :",
    "À:",
    "Objet :",
    "Objet:",
    "Enviado:",
    "Para:",
    "Asunto:",
    "Fecha:",
    "Inviato:",
    "Oggetto:",
    "Verzonden:",
    "Aan:",
    "Onderwerp:",
    "Skickat:",
    "Till:",
    "Ämne:",
];

/// Outlook's quoted header block: a "From:" line followed closely by at least two of
/// "Sent:/To:/Subject:" (or their translations), optionally after a "____" rule.
fn is_header_block(lines: &[&str]) -> bool {
    let mut lines = lines;
    if lines.first().is_some_and(|l| is_rule(l.trim())) {
        let skip = 1 + lines[1..]
            .iter()
            .take(2)
            .take_while(|l| l.trim().is_empty())
            .count();
        lines = &lines[skip..];
    }
    let Some(first) = lines.first() else {
        return false;
    };
    let first = strip_emphasis(first.trim());
    if !FROM_KEYS.iter().any(|k| first.starts_with(k)) {
        return false;
    }
    let others = lines
        .iter()
        .skip(1)
        .take(8)
        .map(|l| strip_emphasis(l.trim()))
        .filter(|l| OTHER_KEYS.iter().any(|k| l.starts_with(k)))
        .count();
    others >= 2
}

/// Mobile and webmail footers that add nothing to the sender's words.
fn is_mobile_footer(t: &str) -> bool {
    if t.len() > 80 {
        return false;
    }
    let l = t.to_lowercase();
    const FOOTERS: &[&str] = &[
        "sent from my ",
        "sent from mail for windows",
        "sent from outlook",
        "sent from yahoo mail",
        "sent from the all new aol app",
        "get outlook for ",
        "obtenir outlook pour ",
        "obtener outlook para ",
        "outlook für ios beziehen",
        "outlook für android beziehen",
        "von meinem iphone gesendet",
        "von meinem ipad gesendet",
        "von meinem smartphone gesendet",
        "gesendet von meinem ",
        "envoyé de mon ",
        "enviado desde mi ",
        "enviado do meu ",
        "inviato da ",
        "verzonden vanaf mijn ",
        "skickat från min ",
    ];
    FOOTERS.iter().any(|f| l.starts_with(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_text_table() {
        let table: &[(&str, &str)] = &[
            ("Hi\n\nOn Mon, 3 Jun 2026 at 10:00, Ann <a@b.c> wrote:\n> old", "Hi"),
            (
                "Hi\n\nOn Mon, 3 Jun 2026 at 10:00, Ann Example\n<a@b.c> wrote:\n> old",
                "Hi",
            ),
            ("> old\n> more\n\nMy answer", "My answer"),
            (
                "Yes.\n\n-----Original Message-----\nFrom: x\nSent: y\n",
                "Yes.",
            ),
            (
                "Yes.\n\n________________________________\nFrom: Ann\nSent: Monday\nTo: Bob\nSubject: Re: x\n\nold",
                "Yes.",
            ),
            (
                "Ja.\n\nVon: Ann\nGesendet: Montag\nAn: Bob\nBetreff: x\n",
                "Ja.",
            ),
            ("Ok\n\n-- \nBob\nACME", "Ok"),
            ("Ok\n\nSent from my iPhone", "Ok"),
            ("Ok\n\nGet Outlook for iOS", "Ok"),
            ("Ok\n\nObtenir Outlook pour Android", "Ok"),
            ("Am 12.11.2026 um 09:14 schrieb Hans <h@x.de>:\n> alt", "Am 12.11.2026 um 09:14 schrieb Hans <h@x.de>:\n> alt"),
            ("Le 12 nov. 2026 à 09:14, Jean <j@x.fr> a écrit :\n> vieux", "Le 12 nov. 2026 à 09:14, Jean <j@x.fr> a écrit :\n> vieux"),
            ("Sí\n\nEl lun, 3 jun 2026, Ana <a@x.es> escribió:\n> viejo", "Sí"),
            ("Sent from my iPhone", "Sent from my iPhone"),
            ("", ""),
        ];
        for (input, want) in table {
            assert_eq!(new_text(input), *want, "input {input:?}");
        }
    }
}
