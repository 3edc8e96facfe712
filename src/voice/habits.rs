//! Habits read off the user's own messages: the greeting line they open with, the closing
//! line they end with (each generalised, "Hi Anna," -> "Hi <first name>,"), and the
//! signature, either the block after an RFC 3676 "-- " line or the trailing lines most of
//! their messages share. Pure text work; choosing what to learn from is `voice`'s job.

use std::collections::HashMap;

/// Opening phrases, lower-case, longest first within a language so "sehr geehrte frau" wins
/// over "sehr geehrte".
const GREETINGS: &[&str] = &[
    "good morning",
    "good afternoon",
    "good evening",
    "hello",
    "dear",
    "hey",
    "hi",
    "sehr geehrte damen und herren",
    "sehr geehrter",
    "sehr geehrte",
    "guten morgen",
    "guten tag",
    "hallo",
    "liebe",
    "lieber",
    "moin",
    "servus",
    "grüß gott",
    "bonjour",
    "bonsoir",
    "salut",
    "chère",
    "cher",
    "madame",
    "monsieur",
    "buenos días",
    "buenas tardes",
    "estimada",
    "estimado",
    "hola",
    "buongiorno",
    "buonasera",
    "gentile",
    "ciao",
    "salve",
    "goedemorgen",
    "goedemiddag",
    "beste",
    "hoi",
    "dag",
    "hej",
    "hallå",
    "olá",
    "bom dia",
];

/// Titles that stay in a greeting pattern: "Hallo Herr <last name>,".
const TITLES: &[&str] = &[
    "mr", "mr.", "mrs", "mrs.", "ms", "ms.", "dr", "dr.", "herr", "frau", "prof.", "m.", "mme",
    "monsieur", "madame", "sr.", "sra.", "señor", "señora", "sig.", "sig.ra", "dhr.", "mevr.",
];

/// Words after a greeting that name nobody ("Hi there," "Hallo zusammen,"): kept as written,
/// never masked as a name.
const NOBODY: &[&str] = &[
    "there",
    "all",
    "everyone",
    "everybody",
    "team",
    "both",
    "folks",
    "guys",
    "zusammen",
    "alle",
    "allerseits",
    "ihr beiden",
    "à tous",
    "tous",
    "todos",
    "a todos",
    "tutti",
    "a tutti",
    "allemaal",
    "alla",
    "allihop",
];

/// Closing phrases, lower-case, without their trailing comma.
const CLOSINGS: &[&str] = &[
    "best",
    "best regards",
    "kind regards",
    "warm regards",
    "regards",
    "best wishes",
    "all the best",
    "thanks",
    "thank you",
    "many thanks",
    "cheers",
    "sincerely",
    "yours sincerely",
    "yours",
    "viele grüße",
    "viele grüsse",
    "beste grüße",
    "beste grüsse",
    "liebe grüße",
    "liebe grüsse",
    "freundliche grüße",
    "freundliche grüsse",
    "mit freundlichen grüßen",
    "mit freundlichen grüssen",
    "mit besten grüßen",
    "herzliche grüße",
    "schöne grüße",
    "gruß",
    "grüße",
    "lg",
    "vg",
    "mfg",
    "danke",
    "cordialement",
    "bien cordialement",
    "bien à vous",
    "salutations",
    "meilleures salutations",
    "merci",
    "bonne journée",
    "saludos",
    "un saludo",
    "atentamente",
    "saludos cordiales",
    "gracias",
    "cordiali saluti",
    "saluti",
    "distinti saluti",
    "grazie",
    "met vriendelijke groet",
    "vriendelijke groet",
    "groeten",
    "mvg",
    "med vänlig hälsning",
    "hälsningar",
    "mvh",
    "med venlig hilsen",
    "hilsen",
    "atenciosamente",
    "cumprimentos",
    "obrigado",
];

/// A greeting line, generalised: "Hi <first name>," / "Dear Mr <last name>," / "Hello,".
/// `first`/`last` are the recipient's name parts when known, to tell which name is used.
pub fn greeting(text: &str, first: Option<&str>, last: Option<&str>) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    if line.chars().count() > 60 {
        return None;
    }
    let (phrase, rest) = split_greeting(line)?;
    // "Hi, thanks for the order!" on one line: a bare greeting, then the text.
    if let Some(text) = rest.trim_start().strip_prefix(',') {
        if !text.trim().is_empty() {
            return Some(format!("{phrase},"));
        }
    }
    let punct: String = rest
        .chars()
        .rev()
        .take_while(|c| matches!(c, ',' | '!' | ':' | '.'))
        .collect();
    let rest = rest.trim_end_matches([',', '!', ':', '.']).trim();
    // A greeting runs into the text ("Hi, thanks for ...") only when followed by a comma.
    if rest.split_whitespace().count() > 4 {
        return None;
    }
    let mut words: Vec<&str> = rest.split_whitespace().collect();
    let mut out = phrase.to_string();
    while let Some(w) = words
        .first()
        .filter(|w| TITLES.contains(&w.to_lowercase().as_str()))
    {
        out.push(' ');
        out.push_str(w);
        words.remove(0);
    }
    if !words.is_empty() {
        let said = words.join(" ").to_lowercase();
        let is = |n: Option<&str>| n.is_some_and(|n| n.to_lowercase() == said);
        if NOBODY.contains(&said.as_str()) {
            out.push(' ');
            out.push_str(&words.join(" "));
        } else {
            out.push_str(if is(first) {
                " <first name>"
            } else if is(last) {
                " <last name>"
            } else {
                " <name>"
            });
        }
    }
    out.push_str(&punct.chars().rev().collect::<String>());
    Some(out)
}

/// The greeting phrase as written and what follows it, or `None` when `line` is no greeting.
pub fn split_greeting(line: &str) -> Option<(&str, &str)> {
    let lower = line.to_lowercase();
    let phrase = GREETINGS
        .iter()
        .filter(|g| {
            lower.starts_with(*g)
                && lower[g.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric())
        })
        .max_by_key(|g| g.len())?;
    // Lower-casing keeps byte lengths for these phrases (no special casing in them).
    let at = line
        .char_indices()
        .nth(phrase.chars().count())
        .map_or(line.len(), |(i, _)| i);
    Some((&line[..at], &line[at..]))
}

/// The name a greeting line addresses ("Hi Anna," -> "Anna"), titles left out.
pub fn greeted_name(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let (_, rest) = split_greeting(line)?;
    let rest = rest.trim_matches(|c: char| c.is_whitespace() || matches!(c, ',' | '!' | ':' | '.'));
    let words: Vec<&str> = rest
        .split_whitespace()
        .filter(|w| !TITLES.contains(&w.to_lowercase().as_str()))
        .collect();
    let name = words.join(" ");
    let nobody = NOBODY.contains(&name.to_lowercase().as_str());
    (!words.is_empty() && words.len() <= 3 && !nobody && !rest.starts_with(',')).then_some(name)
}

/// The closing line the text ends with ("Best," / "Viele Grüße"), as written.
pub fn sign_off(text: &str) -> Option<String> {
    // The closing may be followed by a name line: "Best,\nAnna".
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .take(2)
        .find(|l| is_closing(l))
        .map(|l| l.to_string())
}

/// Is this line a closing phrase ("Best regards," "Viele Grüße")?
pub fn is_closing(line: &str) -> bool {
    let l = line
        .trim()
        .trim_end_matches([',', '!', '.'])
        .trim()
        .to_lowercase();
    l.chars().count() <= 40 && CLOSINGS.contains(&l.as_str())
}

/// Most lines a learned signature has; more reads as text.
const SIGNATURE_MAX_LINES: usize = 8;
/// Longest line a learned signature has.
const SIGNATURE_MAX_LINE: usize = 120;

/// The block after the "-- " separator in a whole text body, up to quoted history.
pub fn separator_block(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .take_while(|l| !l.trim_start().starts_with('>'))
        .position(|l| l.trim_end() == "--")?;
    let rest = lines[at + 1..].join("\n");
    // `new_text` cuts quoted history, attributions and forwarded parts after the signature.
    let block = crate::parse::new_text(&rest);
    let block = block.trim();
    let lines: Vec<&str> = block.lines().map(str::trim_end).collect();
    let plausible = !block.is_empty()
        && lines.len() <= SIGNATURE_MAX_LINES
        && lines
            .iter()
            .all(|l| !l.trim_start().starts_with('>') && l.chars().count() <= SIGNATURE_MAX_LINE);
    plausible.then(|| lines.join("\n"))
}

/// The most common of `blocks` when at least half of `of` messages carry it.
pub fn most_common(blocks: &[String], of: usize) -> Option<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for b in blocks {
        *counts.entry(b.as_str()).or_default() += 1;
    }
    let (block, n) = counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))?;
    (n * 2 >= of && n > 0).then(|| block.to_string())
}

/// The trailing lines (2 or more) that more than half of `texts` end with, and at least 3 of
/// them; a closing line at its start stays with the text (it is a habit, not the signature).
pub fn shared_trailing_lines(texts: &[&str]) -> Option<String> {
    if texts.len() < 3 {
        return None;
    }
    let tails: Vec<Vec<&str>> = texts
        .iter()
        .map(|t| {
            t.lines()
                .map(str::trim_end)
                .filter(|l| !l.trim().is_empty())
                .collect()
        })
        .collect();
    for len in (2..=SIGNATURE_MAX_LINES).rev() {
        let mut counts: HashMap<&[&str], usize> = HashMap::new();
        for t in tails.iter().filter(|t| t.len() > len) {
            *counts.entry(&t[t.len() - len..]).or_default() += 1;
        }
        let best = counts
            .into_iter()
            .filter(|(_, n)| n * 2 > texts.len())
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)));
        if let Some((block, _)) = best {
            let mut block = block.to_vec();
            while block.first().is_some_and(|l| is_closing(l)) {
                block.remove(0);
            }
            if block.is_empty() || block.iter().any(|l| l.chars().count() > SIGNATURE_MAX_LINE) {
                return None;
            }
            return Some(block.join("\n"));
        }
    }
    None
}

/// `text` without `signature` at its end (the learned signature is no part of their words).
pub fn without_signature(text: &str, signature: Option<&str>) -> String {
    let text = text.trim_end();
    let Some(sig) = signature.map(str::trim).filter(|s| !s.is_empty()) else {
        return text.to_string();
    };
    fn norm(s: &str) -> Vec<&str> {
        s.lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
            .collect()
    }
    let (lines, sig) = (norm(text), norm(sig));
    if lines.len() > sig.len() && lines.ends_with(&sig) {
        // Rebuild from the original lines so paragraph breaks survive.
        let mut kept = 0;
        let mut out = Vec::new();
        for l in text.lines() {
            if kept == lines.len() - sig.len() {
                break;
            }
            if !l.trim().is_empty() {
                kept += 1;
            }
            out.push(l.trim_end());
        }
        return out.join("\n").trim_end().to_string();
    }
    text.to_string()
}
