//! Masking an example written to another company before a model sees it: email addresses,
//! links, phone numbers, figures and names become `[email]`, `[url]`, `[phone]`, `[number]`
//! and `[name]`. The rule errs on the side of masking: a file name read as a link or a date
//! read as a figure costs nothing, a stranger's price in another buyer's prompt costs trust.
//! Names are the ones we know: the recipients' display names, the parts of their addresses,
//! their company's domain label and the name the greeting addresses.

/// `text` with everything identifying replaced; `names` are whole words to hide (any case).
pub fn mask(text: &str, names: &[String]) -> String {
    let mut names: Vec<String> = names.iter().flat_map(|n| name_parts(n)).collect();
    if let Some(n) = super::habits::greeted_name(text) {
        names.extend(name_parts(&n));
    }
    let tokens = mask_tokens(text);
    let figures = mask_figures(&tokens);
    mask_names(&figures, &names)
}

/// The words of a name worth hiding: letters only, two or more, titles left out.
fn name_parts(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_alphabetic() && c != '\'' && c != '’')
        .map(|w| w.trim_matches(|c| c == '\'' || c == '’'))
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
        .filter(|w| !matches!(w.as_str(), "mr" | "mrs" | "ms" | "dr" | "herr" | "frau"))
        .collect()
}

/// Addresses and links, token by token (whitespace-separated, punctuation around kept).
fn mask_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let ws = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..ws]);
        rest = &rest[ws..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let token = &rest[..end];
        rest = &rest[end..];
        let core_start = token
            .find(|c: char| c.is_alphanumeric() || c == '+')
            .unwrap_or(token.len());
        let core_end = token
            .rfind(|c: char| c.is_alphanumeric() || c == '/')
            .map_or(core_start, |i| {
                i + token[i..].chars().next().map_or(1, char::len_utf8)
            });
        if core_start >= core_end {
            out.push_str(token);
            continue;
        }
        let core = &token[core_start..core_end];
        let placeholder = if is_email(core) {
            Some("[email]")
        } else if is_url(core) {
            Some("[url]")
        } else {
            None
        };
        match placeholder {
            Some(p) => {
                out.push_str(&token[..core_start]);
                out.push_str(p);
                out.push_str(&token[core_end..]);
            }
            None => out.push_str(token),
        }
    }
    out
}

fn is_email(s: &str) -> bool {
    let s = s.trim_start_matches("mailto:");
    match s.split_once('@') {
        Some((local, domain)) => !local.is_empty() && !domain.is_empty(),
        None => false,
    }
}

fn is_url(s: &str) -> bool {
    let lower = s.to_lowercase();
    if lower.contains("://") || lower.starts_with("www.") {
        return true;
    }
    // A bare host ("acme.example/offer"): labels of letters, digits and dashes, the last of
    // two or more letters, one of the others two or more characters long.
    let host = lower.split('/').next().unwrap_or("");
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        && labels
            .last()
            .is_some_and(|t| t.chars().count() >= 2 && t.chars().all(char::is_alphabetic))
        && labels[..labels.len() - 1]
            .iter()
            .any(|l| l.chars().count() >= 2)
}

/// Phone numbers (seven or more digits in a run of digits, spaces, dashes, slashes and
/// brackets, starting with `+`, `(` or `0`, or nine digits or more), then any other figure.
fn mask_figures(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts = c.is_ascii_digit() || ((c == '+' || c == '(') && next_digit(&chars, i + 1));
        if !starts || (i > 0 && chars[i - 1].is_alphanumeric() && !c.is_ascii_digit()) {
            out.push(c);
            i += 1;
            continue;
        }
        // The longest run that can be a phone number.
        let mut j = i;
        let mut last_digit = i;
        let mut digits = 0;
        while j < chars.len() {
            let d = chars[j];
            if d.is_ascii_digit() {
                digits += 1;
                last_digit = j;
            } else if j > i && !matches!(d, ' ' | '-' | '/' | '(' | ')' | '\u{a0}') {
                break;
            }
            j += 1;
        }
        let lead = chars[i];
        if digits >= 7 && (matches!(lead, '+' | '(' | '0') || digits >= 9) {
            out.push_str("[phone]");
            i = last_digit + 1;
            continue;
        }
        if c.is_ascii_digit() {
            // A figure: digits with inner separators (1,234.50 / 12.03.2026 / 10:30 / 3-4).
            let mut k = i;
            while k < chars.len()
                && (chars[k].is_ascii_digit()
                    || (matches!(chars[k], '.' | ',' | ':' | '\'' | '-' | '/' | '\u{202f}')
                        && next_digit(&chars, k + 1)))
            {
                k += 1;
            }
            out.push_str("[number]");
            i = k;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn next_digit(chars: &[char], i: usize) -> bool {
    chars.get(i).is_some_and(char::is_ascii_digit)
}

/// Titles after which a capitalised word is a person's name ("Herr Müller", "Ms. Wong").
const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "dr", "herr", "frau", "monsieur", "madame", "mme", "señor", "señora", "sr",
    "sra", "signor", "signora", "dhr", "mevr",
];

/// Whole words equal to one of `names` (case-insensitive), and a capitalised word right after
/// a title, become `[name]`.
fn mask_names(text: &str, names: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    // The last word was a title, and only spaces or a dot came since.
    let mut after_title = false;
    let flush = |word: &mut String, out: &mut String, after_title: &mut bool| {
        if word.is_empty() {
            return;
        }
        let lower = word.to_lowercase();
        let capitalised = word.chars().next().is_some_and(char::is_uppercase);
        if names.contains(&lower) || (*after_title && capitalised) {
            out.push_str("[name]");
        } else {
            out.push_str(word);
        }
        *after_title = TITLES.contains(&lower.as_str());
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphabetic() {
            word.push(c);
        } else {
            flush(&mut word, &mut out, &mut after_title);
            if !matches!(c, ' ' | '.' | '\u{a0}') {
                after_title = false;
            }
            out.push(c);
        }
    }
    flush(&mut word, &mut out, &mut after_title);
    out
}
