//! Is the model's body a draft at all, and does it state only what the model was given? Pure:
//! it reads the body and the prompt that was sent, nothing else.
//!
//! A body is refused ([`Unusable`]) when it is empty once cleaned, when it repeats our
//! instructions (any run of [`INSTRUCTION_RUN`] words from the system message or the user
//! message's own frame, the opening words of either, or one of their sentences with a word or
//! two changed: a small model echoes its prompt), when
//! it copies the delimited thread (a run of [`THREAD_RUN`] words, or most of the body in runs of
//! [`INSTRUCTION_RUN`]: a reply quotes a phrase, not the message), or when it speaks as the other
//! side (it signs with the buyer's name on a line of its own, greets our own user by name, or
//! says what only the buyer says: "we would like to order", "send us a quote", "thank you for
//! your quote"). Each signal is narrow on purpose: a false refusal costs a draft the user wanted,
//! a false pass costs one bad draft the user reads before sending.
//!
//! A figure (price, percentage, quantity, date) in an accepted body that appears nowhere in the
//! grounding, the user content of the prompt as sent (the thread and whatever else the prompt
//! gives the model as facts: the relationship's memory, the knowledge file), is replaced by a
//! bracketed placeholder such as `[price?]`, and a note says what was replaced. Numbers compare
//! by value (`1.250,00` is `1,250.00`), dates by day and month (`5 January` is `05.01.2027`).
//! Text inside a `<tag>...</tag>` block of the system message (examples, not instructions) is
//! not taken for instructions.

mod figures;

pub use figures::prices;

use crate::config::MailboxConfig;
use crate::llm::{ChatMessage, Role};
use crate::thread::Thread;
use figures::ground;

/// Words in a row shared with our instructions that make a body an echo.
pub const INSTRUCTION_RUN: usize = 8;
/// Words in a row shared with the thread that make a body a copy of it.
pub const THREAD_RUN: usize = 15;
/// Share of a body's words inside runs of [`INSTRUCTION_RUN`] shared with the thread that make
/// it a copy, for bodies of at least [`COPY_MIN_WORDS`] words.
const COPY_SHARE: f64 = 0.6;
const COPY_MIN_WORDS: usize = 20;

/// Why a body is no draft. The text goes back to the model in the retry, and to `status`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Unusable {
    #[error("the body is empty once cleaned")]
    Empty,
    #[error("the body repeats the instructions ({0})")]
    EchoesInstructions(String),
    /// Says how much was copied, never what: the message ends up in logs, mail text must not.
    #[error("the body copies the conversation instead of answering it ({0})")]
    EchoesThread(String),
    /// Names the sign, never the mail's words (the message ends up in logs).
    #[error("the body is written as the other side ({0}); write as the user, to them")]
    SpeaksAsOtherSide(String),
}

/// An accepted body, its ungrounded figures replaced, and a note for each replacement.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub body: String,
    pub placeholders: Vec<String>,
}

/// Checks `body` against the prompt it answers (`prompt` as sent, before any retry wording).
pub fn check(
    body: &str,
    prompt: &[ChatMessage],
    thread: &Thread,
    mailbox: &MailboxConfig,
) -> Result<Checked, Unusable> {
    let join = |role: Role| {
        prompt
            .iter()
            .filter(|m| m.role == role)
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (system, user) = (join(Role::System), join(Role::User));
    if words(&strip_brackets(body)).len() < 2 {
        return Err(Unusable::Empty);
    }
    let body_words = words(body);
    // Our instructions: the system message without its delimited blocks, and the user
    // message's frame (its first line and its closing request).
    let frame_first = user.lines().next().unwrap_or_default();
    let frame_last = user.rsplit("\n\n").next().unwrap_or_default();
    // The closing request names the buyer: an echo of it is refused but not quoted (logs).
    let fixed = format!("{}\n{frame_first}", strip_blocks(&system));
    let quoted = |s: String| format!("\"{s}\"");
    if let Some(run) = shared_run(&body_words, &words(&fixed), INSTRUCTION_RUN) {
        return Err(Unusable::EchoesInstructions(quoted(run)));
    }
    for opening in [system.lines().next().unwrap_or_default(), frame_first] {
        let w = words(opening);
        if w.len() >= 5 && body_words.starts_with(&w[..5]) {
            return Err(Unusable::EchoesInstructions(quoted(w[..5].join(" "))));
        }
    }
    if let Some(sentence) = near_echo(body, &fixed) {
        return Err(Unusable::EchoesInstructions(quoted(sentence)));
    }
    let closing = words(frame_last);
    if shared_run(&body_words, &closing, INSTRUCTION_RUN).is_some()
        || near_echo(body, frame_last).is_some()
    {
        return Err(Unusable::EchoesInstructions("the closing request".into()));
    }
    // The thread is most of the prompt: not read into words for a body too short to copy it.
    let thread_words = if body_words.len() >= THREAD_RUN.min(COPY_MIN_WORDS) {
        words(between(&user, "<thread>", "</thread>"))
    } else {
        Vec::new()
    };
    if let Some(run) = shared_run(&body_words, &thread_words, THREAD_RUN) {
        return Err(Unusable::EchoesThread(format!(
            "{} words in a row from it",
            run.split(' ').count()
        )));
    }
    if body_words.len() >= COPY_MIN_WORDS {
        let share =
            covered(&body_words, &thread_words, INSTRUCTION_RUN) as f64 / body_words.len() as f64;
        if share >= COPY_SHARE {
            return Err(Unusable::EchoesThread(format!(
                "{:.0}% of its words in runs from the thread",
                share * 100.0
            )));
        }
    }
    if let Some(why) = other_side(body, thread, mailbox) {
        return Err(Unusable::SpeaksAsOtherSide(why));
    }
    let grounding: String = user
        .lines()
        .filter(|l| !l.starts_with("<message ") && !l.starts_with("</message"))
        .collect::<Vec<_>>()
        .join("\n");
    Ok(ground(body, &grounding))
}

/// Lower-case words: runs of letters and digits, an apostrophe inside a word dropped ("we'd"
/// is "wed").
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        // ASCII, most of any prompt, without the Unicode tables.
        if c.is_ascii_alphanumeric() {
            cur.push(c.to_ascii_lowercase());
        } else if c.is_ascii() && c != '\'' {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        } else if matches!(c, '\'' | '\u{2019}')
            && !cur.is_empty()
            && chars.peek().is_some_and(|n| n.is_alphanumeric())
        {
            // inside a word
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Sentences of at least this many words are compared for a near echo.
const SENTENCE_MIN_WORDS: usize = 4;
/// Share of the longer sentence's words, in order, that make a near echo.
const NEAR_ECHO_SHARE: f64 = 0.75;

/// A sentence of `body` that is one of the instructions' sentences with a word or two changed
/// (SmolLM2 wrote "The conversation, latest message first." for "..., oldest message first."):
/// the longest common subsequence of their words covers [`NEAR_ECHO_SHARE`] of the longer one.
fn near_echo(body: &str, instructions: &str) -> Option<String> {
    let sentences = |s: &str| -> Vec<Vec<String>> {
        s.split(['.', '!', '?', ';', ':', '\n'])
            .map(words)
            .filter(|w| w.len() >= SENTENCE_MIN_WORDS)
            .collect()
    };
    let theirs = sentences(instructions);
    // The instructions' sentence is quoted, not the body's: the body may hold mail text.
    sentences(body).into_iter().find_map(|b| {
        theirs
            .iter()
            .find(|t| {
                let longer = b.len().max(t.len()) as f64;
                lcs(&b, t) as f64 >= NEAR_ECHO_SHARE * longer
            })
            .map(|t| t.join(" "))
    })
}

/// Length of the longest common subsequence of two word lists.
fn lcs(a: &[String], b: &[String]) -> usize {
    let mut row = vec![0usize; b.len() + 1];
    for x in a {
        let mut diag = 0;
        for (j, y) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = if x == y { diag + 1 } else { up.max(row[j]) };
            diag = up;
        }
    }
    row[b.len()]
}

/// The first run of `n` words of `body` that also stands in `source`.
fn shared_run(body: &[String], source: &[String], n: usize) -> Option<String> {
    if body.len() < n || source.len() < n {
        return None;
    }
    let grams: std::collections::HashSet<&[String]> = source.windows(n).collect();
    body.windows(n)
        .find(|w| grams.contains(w))
        .map(|w| w.join(" "))
}

/// How many words of `body` lie in some run of `n` words that also stands in `source`.
fn covered(body: &[String], source: &[String], n: usize) -> usize {
    if body.len() < n || source.len() < n {
        return 0;
    }
    let grams: std::collections::HashSet<&[String]> = source.windows(n).collect();
    let mut hit = vec![false; body.len()];
    for (i, w) in body.windows(n).enumerate() {
        if grams.contains(w) {
            hit[i..i + n].iter_mut().for_each(|h| *h = true);
        }
    }
    hit.iter().filter(|h| **h).count()
}

/// The text between the first `open` and the following `close`, or "".
fn between<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
    let Some(i) = s.find(open) else { return "" };
    let rest = &s[i + open.len()..];
    rest.find(close).map_or(rest, |j| &rest[..j])
}

/// `s` without its `<name ...>...</name>` blocks (examples and data, not instructions).
fn strip_blocks(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('<') {
        let name: String = rest[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        let close = format!("</{name}>");
        match (name.is_empty(), rest[i..].find(&close)) {
            (false, Some(j)) => {
                out.push_str(&rest[..i]);
                out.push('\n');
                rest = &rest[i + j + close.len()..];
            }
            _ => {
                out.push_str(&rest[..=i]);
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `s` without `[...]` placeholders.
fn strip_brackets(s: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// What only the buyer writes, as words (see [`words`]); not when followed by "request".
const BUYER_PHRASES: &[&str] = &[
    "we would like to order",
    "wed like to order",
    "i would like to order",
    "id like to order",
    "we want to order",
    "we would like to buy",
    "wed like to buy",
    "we would like to purchase",
    "wed like to purchase",
    "please send us a quote",
    "please send us an offer",
    "please send me a quote",
    "could you send us a quote",
    "can you send us a quote",
    "send us your quote",
    "send us your best price",
    "send your proposal",
    "send us your proposal",
    "thank you for your quote",
    "thanks for your quote",
    "thank you for your proposal",
    "thanks for your proposal",
    "we accept your offer",
    "we accept your quote",
    "bitte senden sie uns ein angebot",
    "senden sie uns bitte ein angebot",
    "wir möchten bestellen",
    "wir möchten gerne bestellen",
    "wir würden gerne bestellen",
    "vielen dank für ihr angebot",
    "danke für ihr angebot",
    "wir nehmen ihr angebot an",
    "merci pour votre devis",
    "merci pour votre offre",
    "nous souhaitons commander",
    "nous aimerions commander",
    "pourriez vous nous envoyer un devis",
    "merci de nous envoyer un devis",
    "nous acceptons votre offre",
];

const GREETINGS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "dear",
    "hallo",
    "liebe",
    "lieber",
    "sehr",
    "geehrte",
    "geehrter",
    "guten",
    "tag",
    "morgen",
    "bonjour",
    "cher",
    "chère",
    "salut",
    "good",
    "morning",
    "afternoon",
];
const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "dr", "frau", "herr", "madame", "monsieur", "mme", "m",
];

/// A sign the body speaks as the buyer: their name signing it, our user greeted, their words.
fn other_side(body: &str, thread: &Thread, mailbox: &MailboxConfig) -> Option<String> {
    let ours = mailbox
        .display_name
        .as_deref()
        .map(words)
        .unwrap_or_default();
    let mut theirs: Vec<Vec<String>> = Vec::new();
    for m in &thread.messages {
        let Some(from) = &m.from else { continue };
        if mailbox.identity.is_internal(&from.email) {
            continue;
        }
        if let Some(name) = from.name.as_deref() {
            // "Martin, Sophie" is Sophie Martin.
            let name = match name.split_once(',') {
                Some((last, first)) => format!("{first} {last}"),
                None => name.to_string(),
            };
            let w = words(&name);
            if !w.is_empty() && !theirs.contains(&w) {
                theirs.push(w);
            }
        }
    }
    // A name both sides share tells nothing.
    let shared = |w: &String| ours.contains(w) && theirs.iter().any(|t| t.contains(w));
    let lines: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
    for line in lines.iter().rev().take(3) {
        let w = words(line);
        for name in &theirs {
            let first = &name[..1];
            if (w == *name || w == first) && !shared(&name[0]) {
                return Some("it is signed with their name".into());
            }
        }
    }
    if let Some(first) = lines.first() {
        let w = words(first);
        let n = w
            .iter()
            .take_while(|x| GREETINGS.contains(&x.as_str()))
            .count();
        if n > 0 {
            let rest = &w[n..];
            let t = rest
                .iter()
                .take_while(|x| TITLES.contains(&x.as_str()))
                .count();
            if let Some(name) = rest.get(t) {
                if ours.contains(name) && !shared(name) {
                    return Some("it greets the user by name, as if writing to them".into());
                }
            }
        }
    }
    let body_words = words(body);
    for phrase in BUYER_PHRASES {
        let p = words(phrase);
        let hit = body_words.windows(p.len()).enumerate().find(|(i, w)| {
            *w == p.as_slice()
                && !body_words.get(i + p.len()).is_some_and(|n| {
                    matches!(
                        n.as_str(),
                        "request" | "requests" | "inquiry" | "enquiry" | "anfrage" | "demande"
                    )
                })
        });
        if hit.is_some() {
            return Some(format!("\"{phrase}\" is the buyer's line"));
        }
    }
    None
}

#[cfg(test)]
mod tests;
