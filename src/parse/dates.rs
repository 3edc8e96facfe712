//! Calendar dates written in running text, in English, German and French: ISO `2026-12-05`,
//! `05.12.2026` and `05.12.`, `5/12/2026` (day first, with the month-first reading kept as an
//! alternative), `12 December`, `3. Dezember`, `1er décembre 2026`, `December 12, 2026`, `Dec
//! 12`. Pure and deterministic: it finds where a date is written and what it says, never which
//! year a yearless date means (the caller knows the message's own date) and never reads the
//! clock. Used for an out-of-office's return date and for the figures a draft may state.

/// One date found in a text: its byte span and what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateMention {
    pub start: usize,
    pub end: usize,
    pub day: u32,
    pub month: u32,
    pub year: Option<i32>,
    /// `5/12/2026` read month first (May 12), when that is a different valid date.
    pub alt: Option<(u32, u32)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok<'a> {
    Num(&'a str),
    Word(&'a str),
    Punct(char),
}

/// A token with its byte span and whether whitespace comes right before it.
#[derive(Debug, Clone, Copy)]
struct T<'a> {
    tok: Tok<'a>,
    start: usize,
    end: usize,
    spaced: bool,
}

fn tokens(text: &str) -> Vec<T<'_>> {
    let mut out = Vec::new();
    let mut it = text.char_indices().peekable();
    let mut spaced = true;
    while let Some((i, c)) = it.next() {
        if c.is_whitespace() {
            spaced = true;
            continue;
        }
        let mut end = i + c.len_utf8();
        let tok = if c.is_ascii_digit() {
            while let Some(&(j, d)) = it.peek() {
                if !d.is_ascii_digit() {
                    break;
                }
                end = j + d.len_utf8();
                it.next();
            }
            Tok::Num(&text[i..end])
        } else if c.is_alphabetic() {
            while let Some(&(j, d)) = it.peek() {
                if !d.is_alphabetic() {
                    break;
                }
                end = j + d.len_utf8();
                it.next();
            }
            Tok::Word(&text[i..end])
        } else {
            Tok::Punct(c)
        };
        out.push(T {
            tok,
            start: i,
            end,
            spaced,
        });
        spaced = false;
    }
    out
}

/// The month a word names (English, German, French; full or the usual abbreviations).
pub fn month_of(word: &str) -> Option<u32> {
    let w = word.to_lowercase();
    let m = match w.as_str() {
        "january" | "jan" | "januar" | "jänner" | "janvier" | "janv" => 1,
        "february" | "feb" | "februar" | "février" | "fevrier" | "févr" | "fevr" => 2,
        "march" | "mar" | "märz" | "maerz" | "mär" | "mrz" | "mars" => 3,
        "april" | "apr" | "avril" | "avr" => 4,
        "may" | "mai" => 5,
        "june" | "jun" | "juni" | "juin" => 6,
        "july" | "jul" | "juli" | "juillet" | "juil" => 7,
        "august" | "aug" | "août" | "aout" => 8,
        "september" | "sep" | "sept" | "septembre" => 9,
        "october" | "oct" | "oktober" | "okt" | "octobre" => 10,
        "november" | "nov" | "novembre" => 11,
        "december" | "dec" | "dezember" | "dez" | "décembre" | "decembre" | "déc" => 12,
        _ => return None,
    };
    Some(m)
}

fn valid(day: u32, month: u32, year: Option<i32>) -> bool {
    match year {
        Some(y) => chrono::NaiveDate::from_ymd_opt(y, month, day).is_some(),
        // A yearless date may be any year: 29 February is allowed.
        None => chrono::NaiveDate::from_ymd_opt(2024, month, day).is_some(),
    }
}

fn num(t: Option<&T>, digits: std::ops::RangeInclusive<usize>) -> Option<u32> {
    match t?.tok {
        Tok::Num(s) if digits.contains(&s.len()) => s.parse().ok(),
        _ => None,
    }
}

fn punct(t: Option<&T>, c: char) -> bool {
    matches!(t, Some(T { tok: Tok::Punct(p), spaced: false, .. }) if *p == c)
}

fn year_of(t: Option<&T>) -> Option<i32> {
    match t?.tok {
        Tok::Num(s) if s.len() == 4 => s.parse().ok(),
        Tok::Num(s) if s.len() == 2 => s.parse::<i32>().ok().map(|y| 2000 + y),
        _ => None,
    }
}

fn is_ordinal(t: Option<&T>) -> bool {
    matches!(t, Some(T { tok: Tok::Word(w), spaced: false, .. })
        if matches!(w.to_lowercase().as_str(), "st" | "nd" | "rd" | "th" | "er" | "e"))
}

/// Every date written in `text`, in order, none overlapping.
pub fn find_dates(text: &str) -> Vec<DateMention> {
    let t = tokens(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        match date_at(&t, i) {
            Some((m, next)) => {
                out.push(m);
                i = next;
            }
            None => i += 1,
        }
    }
    out
}

/// A date starting at token `i`, and the token after it.
fn date_at(t: &[T], i: usize) -> Option<(DateMention, usize)> {
    let at = |k: usize| t.get(k);
    // A number glued to letters before it ("A4", "SKU12") is no date.
    if i > 0 && matches!(t[i - 1].tok, Tok::Word(_)) && !t[i].spaced {
        return None;
    }
    let mention = |day, month, year, alt, last: usize| DateMention {
        start: t[i].start,
        end: t[last].end,
        day,
        month,
        year,
        alt,
    };
    match t[i].tok {
        Tok::Num(_) => {
            // 2026-12-05
            if let (Some(y), true, Some(mo), true, Some(d)) = (
                num(at(i), 4..=4),
                punct(at(i + 1), '-'),
                num(at(i + 2), 1..=2),
                punct(at(i + 3), '-'),
                num(at(i + 4), 1..=2),
            ) {
                let y = y as i32;
                return valid(d, mo, Some(y))
                    .then(|| (mention(d, mo, Some(y), None, i + 4), i + 5));
            }
            let d = num(at(i), 1..=2)?;
            // 05.12.2026, 05.12.26, 05.12.
            if punct(at(i + 1), '.') && !at(i + 2).is_some_and(|x| x.spaced) {
                if let Some(mo) = num(at(i + 2), 1..=2) {
                    if !punct(at(i + 3), '.') {
                        return None; // "1.5" is a number
                    }
                    let glued = at(i + 4).filter(|x| !x.spaced);
                    let (year, last) = match glued.map(|x| x.tok) {
                        Some(Tok::Num(_)) => (Some(year_of(glued)?), i + 4),
                        _ => (None, i + 3),
                    };
                    return valid(d, mo, year)
                        .then(|| (mention(d, mo, year, None, last), last + 1));
                }
            }
            // 5/12/2026: day first, month first as the alternative.
            if punct(at(i + 1), '/') && punct(at(i + 3), '/') {
                let mo = num(at(i + 2), 1..=2)?;
                let y = at(i + 4)
                    .filter(|x| !x.spaced)
                    .and_then(|x| year_of(Some(x)))?;
                // The month-first reading, as (day, month), when it is another valid date.
                let alt = (mo != d && valid(mo, d, Some(y))).then_some((mo, d));
                if valid(d, mo, Some(y)) {
                    return Some((mention(d, mo, Some(y), alt, i + 4), i + 5));
                }
                return alt.map(|(d2, m2)| (mention(d2, m2, Some(y), None, i + 4), i + 5));
            }
            // 12 December [2026], 3. Dezember, 1er décembre, 12th of December
            let mut k = i + 1;
            if punct(at(k), '.') || is_ordinal(at(k)) {
                k += 1;
            }
            if matches!(at(k).map(|x| x.tok), Some(Tok::Word(w)) if w.eq_ignore_ascii_case("of")) {
                k += 1;
            }
            let (mo, abbreviated) = match at(k).map(|x| x.tok) {
                Some(Tok::Word(w)) => (month_of(w)?, w.chars().count() <= 4),
                _ => return None,
            };
            let mut last = k;
            // "Dec." keeps its dot; "December." ends a sentence.
            if abbreviated && punct(at(last + 1), '.') {
                last += 1;
            }
            let year = num(at(last + 1), 4..=4).map(|y| y as i32);
            if year.is_some() {
                last += 1;
            }
            valid(d, mo, year).then(|| (mention(d, mo, year, None, last), last + 1))
        }
        Tok::Word(w) => {
            // December 12[, 2026]; "may" only as "May" (it is a common English word).
            let mo = month_of(w)?;
            if w == "may" {
                return None;
            }
            let mut k = i + 1;
            if punct(at(k), '.') {
                k += 1;
            }
            let d = num(at(k), 1..=2)?;
            // "Dec 12.5" or "June 12:30" is something else.
            if punct(at(k + 1), '.') && num(at(k + 2), 1..=9).is_some() || punct(at(k + 1), ':') {
                return None;
            }
            let mut last = k;
            if is_ordinal(at(last + 1)) {
                last += 1;
            }
            let mut year = None;
            let comma = usize::from(matches!(at(last + 1).map(|x| x.tok), Some(Tok::Punct(','))));
            if let Some(y) = num(at(last + 1 + comma), 4..=4) {
                year = Some(y as i32);
                last += 1 + comma;
            }
            valid(d, mo, year).then(|| (mention(d, mo, year, None, last), last + 1))
        }
        Tok::Punct(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Found<'a> = Vec<(u32, u32, Option<i32>, &'a str)>;

    fn found(text: &str) -> Found<'_> {
        find_dates(text)
            .into_iter()
            .map(|m| (m.day, m.month, m.year, &text[m.start..m.end]))
            .collect()
    }

    #[test]
    fn dates_in_three_languages_and_numeric_forms() {
        let cases: Vec<(&str, Found)> = vec![
            (
                "I am back on 12 December.",
                vec![(12, 12, None, "12 December")],
            ),
            (
                "back on December 12, 2026 at 9",
                vec![(12, 12, Some(2026), "December 12, 2026")],
            ),
            ("until 05.12.2026", vec![(5, 12, Some(2026), "05.12.2026")]),
            ("bis 05.12. im Urlaub", vec![(5, 12, None, "05.12.")]),
            ("zurück am 3. Dezember", vec![(3, 12, None, "3. Dezember")]),
            (
                "de retour le 4 décembre 2026",
                vec![(4, 12, Some(2026), "4 décembre 2026")],
            ),
            (
                "de retour le 1er décembre",
                vec![(1, 12, None, "1er décembre")],
            ),
            (
                "ISO 2026-12-07 too",
                vec![(7, 12, Some(2026), "2026-12-07")],
            ),
            ("the 12th of Dec", vec![(12, 12, None, "12th of Dec")]),
            (
                "Tue, 01 Dec 2026 10:00:00 +0000",
                vec![(1, 12, Some(2026), "01 Dec 2026")],
            ),
            ("on 7/12/2026", vec![(7, 12, Some(2026), "7/12/2026")]),
            // Not dates.
            ("costs 1.5 EUR, 12.50 each, 31.13.2026, 200 units", vec![]),
            ("you may 12 times; A4 paper; 30 Februar", vec![]),
            ("June 12:30", vec![]),
        ];
        for (text, want) in cases {
            assert_eq!(found(text), want, "{text}");
        }
        let m = find_dates("on 7/12/2026")[0];
        assert_eq!(m.alt, Some((12, 7)));
    }

    #[test]
    fn hostile_text_does_not_panic() {
        for s in [
            "1.",
            "1/",
            "1/2/",
            "Dec",
            "12 ",
            "2026-",
            "2026-1-",
            "ü1.ü",
            "9999999999999999999.12.",
        ] {
            let _ = find_dates(s);
        }
    }
}
