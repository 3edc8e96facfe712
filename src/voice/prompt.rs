//! The voice section of a draft's prompt: the thread's language by name, the user's greeting
//! and closing habits in it, and up to three of their own messages as style examples, within
//! a character budget. The examples are the user's words, but they may hold text pasted from
//! others, so they sit in the user message between `<example>` tags with every `<` defanged.

use super::{examples_skipping, habit, lang, Example, Sample, Tier, Voice};
use crate::config::Identity;
use crate::parse::Email;
use crate::thread::Thread;

/// Characters of examples in one prompt.
pub const VOICE_BUDGET: usize = 4_000;
/// Style examples per prompt.
const EXAMPLES: usize = 3;

/// The section for a draft answering `trigger` in `thread` (one call for `draft::prompt`).
pub fn section_for(
    voice: &Voice,
    thread: &Thread,
    trigger: &str,
    me: &Identity,
    budget: usize,
) -> String {
    let language = thread_language(&thread.messages, me);
    let other = counterpart(&thread.messages, trigger, me);
    // Our messages in this very thread are in the prompt already; as "style" they would invite
    // the model to repeat our last nudge word for word (seen in scripts/bench-drafts). Skipped
    // in place: copying the voice without them cost more than the rest of the prompt.
    let in_thread =
        |s: &super::Sample| thread.messages.iter().any(|m| m.message_id == s.message_id);
    section(voice, language, other.as_deref(), budget, &in_thread)
}

/// The language the other side writes in: their newest message that says clearly, else ours.
pub fn thread_language(messages: &[Email], me: &Identity) -> Option<lang::Language> {
    let theirs = |m: &&Email| m.from.as_ref().is_some_and(|f| !me.is_internal(&f.email));
    let words = |m: &Email| {
        if m.new_text.trim().is_empty() {
            m.text.clone()
        } else {
            m.new_text.clone()
        }
    };
    messages
        .iter()
        .rev()
        .filter(theirs)
        .chain(messages.iter().rev())
        .find_map(|m| lang::detect(&words(m)))
}

/// Who the draft is for: the sender of `trigger`, or, when it is ours (a follow-up), its
/// first outside recipient.
pub fn counterpart(messages: &[Email], trigger: &str, me: &Identity) -> Option<String> {
    let m = messages
        .iter()
        .rev()
        .find(|m| m.message_id == trigger)
        .or(messages.last())?;
    let from = m.from.as_ref()?;
    if !me.is_internal(&from.email) {
        return Some(from.email.clone());
    }
    m.to.iter()
        .chain(&m.cc)
        .find(|a| !me.is_internal(&a.email))
        .map(|a| a.email.clone())
}

/// The voice section: the language, the habits in it, the examples. Empty when nothing is
/// known.
pub fn prompt_section(
    voice: &Voice,
    language: Option<lang::Language>,
    counterpart: Option<&str>,
    budget: usize,
) -> String {
    section(voice, language, counterpart, budget, &|_| false)
}

/// [`prompt_section`], with the samples `skip` says no to left out of the examples.
fn section(
    voice: &Voice,
    language: Option<lang::Language>,
    counterpart: Option<&str>,
    budget: usize,
    skip: &dyn Fn(&Sample) -> bool,
) -> String {
    let mut rules = Vec::new();
    if let Some(l) = language {
        rules.push(format!("- Write in {}.", l.name()));
        if let Some(h) = habit(voice, l) {
            let usual = |s: &super::Share| s.count >= 2 && s.count * 2 >= h.messages;
            if let Some(g) = h.greeting.as_ref().filter(|g| usual(g)) {
                rules.push(format!(
                    "- The user opens {} mail with \"{}\" ({} of {} messages): open the same way, \
                     with this recipient's name.",
                    l.name(),
                    g.text,
                    g.count,
                    h.messages
                ));
            }
            if let Some(s) = h.sign_off.as_ref().filter(|s| usual(s)) {
                rules.push(format!(
                    "- The user closes {} mail with \"{}\" ({} of {} messages): end the body with \
                     it, and no name after it.",
                    l.name(),
                    s.text,
                    s.count,
                    h.messages
                ));
            }
        }
    }
    if voice.signature.is_some() {
        rules.push(
            "- Do not sign: the user's signature is appended by code after your text.".into(),
        );
    }
    let chosen = examples_skipping(voice, counterpart, language, EXAMPLES, skip);
    if rules.is_empty() && chosen.is_empty() {
        return String::new();
    }
    let mut out = String::from("The user's voice (learned from the mail they sent):\n");
    for r in rules {
        out.push_str(&r);
        out.push('\n');
    }
    if !chosen.is_empty() {
        out.push_str(
            "Messages the user wrote before, to show their tone, length and wording only. Their \
             facts, names and figures belong to other conversations: never use them here. \
             [name], [email], [phone], [url] and [number] stand for details left out.\n",
        );
        let each = budget / chosen.len().max(1);
        for (i, e) in chosen.iter().enumerate() {
            out.push_str(&render(i + 1, e, each));
        }
    }
    out.push('\n');
    out
}

fn render(n: usize, e: &Example, max: usize) -> String {
    let to = match e.tier {
        Tier::Contact => "to this contact",
        Tier::Company => "to this company",
        Tier::Language => "to another company",
    };
    let text: String = super::cut(&e.text, max)
        .chars()
        .map(|c| {
            if c == '<' || c == '\u{ff1c}' {
                '\u{2039}'
            } else {
                c
            }
        })
        .collect();
    format!("<example {n}, {to}>\n{text}\n</example>\n")
}
