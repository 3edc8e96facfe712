//! The fence around untrusted text: anything inside a message or a related thread's summary
//! that could pass for our delimiters is defanged, so stranger-written text cannot close its
//! block and speak outside it (see the prompt module's comment on injection).

/// Hides anything that could pass for our delimiters, so a message cannot "close" the thread
/// block and speak outside it: `<thread`, `</thread`, `<message`, `</message`, `<related`,
/// `</related`, `<offer`, `<example` lose their `<`,
/// in any case and with any spacing a model reads the same way (`< /thread>`, `</ Thread>`,
/// a fullwidth `＜`, zero-width characters between).
pub(crate) fn defang(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(['<', '\u{ff1c}']) {
        out.push_str(&rest[..i]);
        let open = rest[i..].chars().next().map_or(1, char::len_utf8);
        let after = rest[i + open..]
            .trim_start_matches(|c: char| c == '/' || c.is_whitespace() || is_invisible(c));
        let lower: String = after
            .chars()
            .filter(|c| !is_invisible(*c))
            .take(7)
            .collect::<String>()
            .to_lowercase();
        if lower.starts_with("thread")
            || lower.starts_with("message")
            || lower.starts_with("related")
            || lower.starts_with("offer")
            || lower.starts_with("example")
        {
            out.push('\u{2039}'); // single left-pointing angle quotation mark
        } else {
            out.push_str(&rest[i..i + open]);
        }
        rest = &rest[i + open..];
    }
    out.push_str(rest);
    out
}

/// Zero-width and formatting characters that render as nothing.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}')
}
