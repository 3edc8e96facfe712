//! The figures of a body (prices, percentages, quantities, dates, days of the month) and
//! which of them the grounding states: numbers compare by value in either convention (`1.250,00`
//! is `1,250.00`), a price only with a price, a percentage only with a percentage, dates by day
//! and month. What the grounding does not state becomes a placeholder, with a note. Pure.

use super::Checked;
use crate::parse::dates::{find_dates, DateMention};

/// What a figure in a body is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Price,
    Percentage,
    Quantity,
    Date,
    /// "the 20th": a day of the month without one.
    Day,
}

impl Kind {
    fn placeholder(self) -> &'static str {
        match self {
            Kind::Price => "[price?]",
            Kind::Percentage => "[percentage?]",
            Kind::Quantity => "[quantity?]",
            Kind::Date | Kind::Day => "[date?]",
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::Price => "price",
            Kind::Percentage => "percentage",
            Kind::Quantity => "number",
            Kind::Date => "date",
            Kind::Day => "day",
        }
    }
}

#[derive(Debug, Clone)]
struct Figure {
    start: usize,
    end: usize,
    kind: Kind,
    /// The values a number may mean (`1,250` is 1250 or 1.25).
    values: Vec<f64>,
    date: Option<DateMention>,
}

const CURRENCY_SYMBOLS: &[char] = &['€', '$', '£', '¥', '₹'];
const CURRENCY_WORDS: &[&str] = &[
    "eur", "euro", "euros", "usd", "dollar", "dollars", "gbp", "pound", "pounds", "chf", "franken",
    "francs", "sek", "nok", "dkk", "pln",
];
const PERCENT_WORDS: &[&str] = &["percent", "prozent", "pourcent"];

/// Every figure in `text`: dates first, then numbers outside them, placeholders and times.
fn figures(text: &str) -> Vec<Figure> {
    let dates = find_dates(text);
    let mut out: Vec<Figure> = dates
        .iter()
        .map(|d| Figure {
            start: d.start,
            end: d.end,
            kind: Kind::Date,
            values: Vec::new(),
            date: Some(*d),
        })
        .collect();
    let bytes = text.as_bytes();
    let mut in_bracket = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'[' {
            in_bracket = true;
        } else if b == b']' {
            in_bracket = false;
        }
        if !b.is_ascii_digit() || in_bracket || dates.iter().any(|d| (d.start..d.end).contains(&i))
        {
            i += 1;
            continue;
        }
        let prev = text[..i].chars().next_back();
        // Glued to letters before it: an identifier (A4, SKU12), skipped whole.
        if prev.is_some_and(char::is_alphabetic) || prev == Some(':') {
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            continue;
        }
        let start = i;
        let mut end = i;
        while end < bytes.len() {
            let separator = matches!(bytes[end], b'.' | b',' | b'\'')
                && bytes.get(end + 1).is_some_and(u8::is_ascii_digit);
            if !bytes[end].is_ascii_digit() && !separator {
                break;
            }
            end += 1;
        }
        i = end;
        let raw = &text[start..end];
        let after = &text[end..];
        // A time (14:30) or 24/7.
        if after.starts_with(':') && after[1..].starts_with(|c: char| c.is_ascii_digit())
            || (raw == "24" && after.starts_with("/7"))
        {
            i = end + 1;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            continue;
        }
        // A list marker: "1." or "2)" alone at the start of a line.
        let line_start = text[..start].rfind('\n').map_or(0, |p| p + 1);
        if text[line_start..start].trim().is_empty()
            && (after.starts_with(". ") || after.starts_with(") "))
        {
            continue;
        }
        let values = values(raw);
        let (mut fs, mut fe, mut kind) = (start, end, Kind::Quantity);
        let before = text[..start].trim_end_matches(' ');
        let ahead = after.trim_start_matches(' ');
        let ahead_word: String = ahead
            .chars()
            .take_while(|c| c.is_alphabetic())
            .collect::<String>()
            .to_lowercase();
        if let Some(c) = before
            .chars()
            .next_back()
            .filter(|c| CURRENCY_SYMBOLS.contains(c))
        {
            kind = Kind::Price;
            fs = before.len() - c.len_utf8();
        } else if let Some(code) = CURRENCY_WORDS.iter().find(|w| {
            w.len() == 3
                && before
                    .get(before.len().saturating_sub(3)..)
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(w))
        }) {
            let at = before.len() - code.len();
            if !before[..at].ends_with(char::is_alphabetic) {
                kind = Kind::Price;
                fs = at;
            }
        }
        let skipped = after.len() - ahead.len();
        if ahead.starts_with('%') {
            kind = Kind::Percentage;
            fe = end + skipped + 1;
        } else if let Some(c) = ahead
            .chars()
            .next()
            .filter(|c| CURRENCY_SYMBOLS.contains(c))
        {
            kind = Kind::Price;
            fe = end + skipped + c.len_utf8();
        } else if CURRENCY_WORDS.contains(&ahead_word.as_str()) {
            kind = Kind::Price;
            fe = end + skipped + ahead_word.len();
        } else if PERCENT_WORDS.contains(&ahead_word.as_str()) {
            kind = Kind::Percentage;
            fe = end + skipped + ahead_word.len();
        } else if after.starts_with(",-") || after.starts_with(".-") {
            kind = Kind::Price;
            fe = end + 2;
        } else if let Some(suffix) = ["st", "nd", "rd", "th", "er"]
            .iter()
            .find(|x| after.starts_with(**x) && !after[2..].starts_with(char::is_alphabetic))
        {
            kind = Kind::Day;
            fe = end + suffix.len();
        }
        // The end must stay on a char boundary of the original text.
        if !text.is_char_boundary(fe) {
            fe = end;
        }
        out.push(Figure {
            start: fs,
            end: fe,
            kind,
            values,
            date: None,
        });
    }
    out.sort_by_key(|f| f.start);
    out
}

/// The prices stated in `text` ("EUR 12,000", "4.500 €", "$99"), as written, in order.
pub fn prices(text: &str) -> Vec<&str> {
    figures(text)
        .into_iter()
        .filter(|f| f.kind == Kind::Price)
        .filter_map(|f| text.get(f.start..f.end))
        .collect()
}

/// What a written number may mean: `1,250` and `1.250` are 1250 or 1.25; `1.250,50` is
/// 1250.5; `12,5` is 12.5.
pub(super) fn values(raw: &str) -> Vec<f64> {
    let plain = |s: &str| s.parse::<f64>().ok();
    let raw = raw.replace('\'', "");
    let (dots, commas) = (raw.matches('.').count(), raw.matches(',').count());
    let mut out = Vec::new();
    if dots > 0 && commas > 0 {
        // The last separator is the decimal one.
        let (thousands, decimal) = if raw.rfind('.') > raw.rfind(',') {
            (',', '.')
        } else {
            ('.', ',')
        };
        out.extend(plain(&raw.replace(thousands, "").replace(decimal, ".")));
    } else if dots + commas > 0 {
        let sep = if dots > 0 { '.' } else { ',' };
        let groups: Vec<&str> = raw.split(sep).collect();
        if groups[1..].iter().all(|g| g.len() == 3) {
            out.extend(plain(&raw.replace(sep, "")));
        }
        if groups.len() == 2 {
            out.extend(plain(&raw.replace(sep, ".")));
        }
    } else {
        out.extend(plain(&raw));
    }
    out
}

/// The body with every ungrounded figure replaced, and the notes saying so.
pub(super) fn ground(body: &str, grounding: &str) -> Checked {
    let known = figures(grounding);
    let values_of = |kinds: &[Kind]| -> Vec<f64> {
        known
            .iter()
            .filter(|f| kinds.contains(&f.kind))
            .flat_map(|f| f.values.clone())
            .collect()
    };
    let dates: Vec<DateMention> = known.iter().filter_map(|f| f.date).collect();
    // A price is grounded only by a price, a percentage only by a percentage: "25 named users"
    // grounds no "discount of EUR 25" (SmolLM2 wrote exactly that). Any number grounds a
    // quantity; a day of the month is grounded by a date on that day too.
    let prices = values_of(&[Kind::Price]);
    let percentages = values_of(&[Kind::Percentage]);
    let mut numbers = values_of(&[Kind::Price, Kind::Percentage, Kind::Quantity, Kind::Day]);
    numbers.extend(dates.iter().filter_map(|d| d.year.map(f64::from)));
    let mut days = values_of(&[Kind::Day, Kind::Quantity]);
    days.extend(dates.iter().map(|d| f64::from(d.day)));
    let any = |pool: &[f64], f: &Figure| {
        f.values
            .iter()
            .any(|v| pool.iter().any(|n| (n - v).abs() < 1e-9))
    };
    let same_day = |a: &DateMention, b: &DateMention| {
        let days = |d: &DateMention| {
            std::iter::once((d.day, d.month))
                .chain(d.alt)
                .collect::<Vec<_>>()
        };
        let years_agree = a.year.is_none() || b.year.is_none() || a.year == b.year;
        years_agree && days(a).iter().any(|x| days(b).contains(x))
    };
    let mut out = body.to_string();
    let mut notes = Vec::new();
    for f in figures(body).into_iter().rev() {
        let grounded = match (&f.date, f.kind) {
            (Some(d), _) => dates.iter().any(|g| same_day(d, g)),
            (None, Kind::Price) => any(&prices, &f),
            (None, Kind::Percentage) => any(&percentages, &f),
            (None, Kind::Day) => any(&days, &f),
            (None, _) => any(&numbers, &f),
        };
        if grounded {
            continue;
        }
        let original = body[f.start..f.end].to_string();
        out.replace_range(f.start..f.end, f.kind.placeholder());
        notes.push(format!(
            "the {} \"{original}\" is in nothing the model was given: replaced by {}",
            f.kind.name(),
            f.kind.placeholder()
        ));
    }
    notes.reverse();
    Checked {
        body: out,
        placeholders: notes,
    }
}
