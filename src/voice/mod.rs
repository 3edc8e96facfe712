//! The user's voice, learned from their own messages (every address and alias, any folder):
//! their signature, their greeting and closing habits per language, and a bounded set of their
//! own words to show a model as style examples ([`Voice`], [`learn`]), then the examples chosen
//! for one draft ([`examples`]: to this contact first, then to their company, then others in
//! the thread's language, masked when written to another company) and the prompt section that
//! states all of it (`prompt`). Pure: no I/O, no clock. The store keeps a [`Voice`] per mailbox
//! and refreshes it as Sent grows (`store::voice`); `compose` appends the learned signature.

mod habits;
mod lang;
mod mask;
mod prompt;
#[cfg(test)]
mod draft_tests;
#[cfg(test)]
mod mask_tests;
#[cfg(test)]
mod tests;

pub use lang::{detect as detect_language, Language};
pub use mask::mask;
pub use prompt::{counterpart, prompt_section, section_for, thread_language, VOICE_BUDGET};

use crate::config::domains::{canonical, domain_of};
#[cfg(test)]
use crate::config::same_organisation;
use crate::config::{is_freemail, Identity};
use crate::parse::Email;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Our newest messages a voice is learned from: bounded work on every refresh.
pub const LEARN_FROM: usize = 500;
/// Characters of one message kept as a sample.
const SAMPLE_CAP: usize = 2_000;
/// Shorter bodies ("Thanks!") show no style.
const MIN_SAMPLE: usize = 20;

/// What tend learned about how the user writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Voice {
    /// How many of our messages it was learned from.
    pub learned_from: usize,
    pub signature: Option<Signature>,
    /// Per language, most used first.
    pub habits: Vec<Habit>,
    /// Our own words, newest first, at most [`LEARN_FROM`].
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    pub text: String,
    pub source: SignatureSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignatureSource {
    /// The block after an RFC 3676 "-- " line.
    Separator,
    /// The trailing lines most of the messages share.
    SharedLines,
}

/// Greeting and closing habits in one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Habit {
    pub language: Language,
    pub messages: u32,
    pub greeting: Option<Share>,
    pub sign_off: Option<Share>,
}

/// A habit and how many of the language's messages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub text: String,
    pub count: u32,
}

/// One of our messages, as a style example: only our new words (no quotes, no signature).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub message_id: String,
    pub date: Option<i64>,
    /// Outside recipients (To and Cc), canonical addresses.
    pub to: Vec<String>,
    /// Names to mask when the sample is shown for another company: the recipients' display
    /// names, the words of their addresses, their company's domain label.
    pub names: Vec<String>,
    pub language: Option<Language>,
    pub text: String,
}

/// Which rung of the order an example was chosen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Contact,
    Company,
    Language,
}

/// A sample as one prompt shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub message_id: String,
    pub tier: Tier,
    /// True when written to another company, so `text` is masked.
    pub masked: bool,
    pub text: String,
}

/// Learns the voice from our own messages (others in `emails` are skipped), the newest
/// [`LEARN_FROM`] of them.
pub fn learn(emails: &[Email], me: &Identity) -> Voice {
    let mut own: Vec<&Email> = emails
        .iter()
        .filter(|e| e.from.as_ref().is_some_and(|f| me.is_own(&f.email)))
        .filter(|e| e.automated.is_none())
        .collect();
    own.sort_by_key(|e| std::cmp::Reverse(e.date));
    own.truncate(LEARN_FROM);

    let signature = learn_signature(&own);
    let sig_text = signature.as_ref().map(|s| s.text.as_str());
    let mut samples = Vec::new();
    let mut per_lang: HashMap<Language, Counts> = HashMap::new();
    for e in &own {
        let to: Vec<&crate::parse::Addr> =
            e.to.iter()
                .chain(&e.cc)
                .filter(|a| !me.is_internal(&a.email))
                .collect();
        // Mail among colleagues is another register.
        if to.is_empty() {
            continue;
        }
        let text = habits::without_signature(e.new_text.trim(), sig_text);
        if text.chars().count() < MIN_SAMPLE {
            continue;
        }
        let language = lang::detect(&text);
        if let Some(l) = language {
            let first_name = to[0].name.as_deref().map(str::split_whitespace);
            let (first, last) = match first_name {
                Some(mut w) => {
                    let first = w.next();
                    (first, w.next_back().or(first))
                }
                None => (None, None),
            };
            let c = per_lang.entry(l).or_default();
            c.messages += 1;
            if let Some(g) = habits::greeting(&text, first, last) {
                *c.greetings.entry(g).or_default() += 1;
            }
            if let Some(s) = habits::sign_off(&text) {
                *c.sign_offs.entry(s).or_default() += 1;
            }
        }
        samples.push(Sample {
            message_id: e.message_id.clone(),
            date: e.date,
            to: to.iter().map(|a| canonical(&a.email)).collect(),
            names: names_of(&to),
            language,
            text: cut(&text, SAMPLE_CAP),
        });
    }
    let mut habits: Vec<Habit> = per_lang
        .into_iter()
        .map(|(language, c)| Habit {
            language,
            messages: c.messages,
            greeting: top(c.greetings),
            sign_off: top(c.sign_offs),
        })
        .collect();
    habits.sort_by(|a, b| {
        b.messages
            .cmp(&a.messages)
            .then(a.language.code().cmp(b.language.code()))
    });
    Voice {
        learned_from: own.len(),
        signature,
        habits,
        samples,
    }
}

#[derive(Default)]
struct Counts {
    messages: u32,
    greetings: HashMap<String, u32>,
    sign_offs: HashMap<String, u32>,
}

/// The most frequent habit (ties: the alphabetically first, so a rebuild gives the same).
fn top(counts: HashMap<String, u32>) -> Option<Share> {
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(text, count)| Share { text, count })
}

/// The signature: the "-- " block at least half of the messages whose whole text we still
/// have carry, else the trailing lines most messages share.
fn learn_signature(own: &[&Email]) -> Option<Signature> {
    let with_text: Vec<&str> = own
        .iter()
        .map(|e| e.text.as_str())
        .filter(|t| !t.trim().is_empty())
        .collect();
    let blocks: Vec<String> = with_text
        .iter()
        .filter_map(|t| habits::separator_block(t))
        .collect();
    if let Some(text) = habits::most_common(&blocks, with_text.len()) {
        return Some(Signature {
            text,
            source: SignatureSource::Separator,
        });
    }
    let texts: Vec<&str> = own.iter().map(|e| e.new_text.as_str()).collect();
    habits::shared_trailing_lines(&texts).map(|text| Signature {
        text,
        source: SignatureSource::SharedLines,
    })
}

/// Names to mask for a sample written to `to`.
fn names_of(to: &[&crate::parse::Addr]) -> Vec<String> {
    let mut names = Vec::new();
    for a in to {
        if let Some(n) = a.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            names.push(n.to_string());
        }
        if let Some((local, _)) = a.email.split_once('@') {
            names.extend(
                local
                    .split(['.', '_', '-', '+'])
                    .filter(|w| w.chars().count() >= 3 && w.chars().all(char::is_alphabetic))
                    .map(str::to_string),
            );
        }
        let domain = domain_of(&a.email);
        if !is_freemail(&domain) {
            // "buyer" of buyer.example, "acme" of mail.acme.co.uk: the company's own word.
            let labels: Vec<&str> = domain.split('.').collect();
            if let Some(l) = labels
                .iter()
                .rev()
                .skip(1)
                .find(|l| l.chars().count() > 3 || labels.len() == 2)
            {
                names.push(l.to_string());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Up to `n` examples for a draft to `counterpart`: samples to them first, then to their
/// company (person by person on free-mail domains), then others in `language` (any, when it
/// is unknown). A sample with any outside recipient not of the counterpart's company is masked.
pub fn examples(
    voice: &Voice,
    counterpart: Option<&str>,
    language: Option<Language>,
    n: usize,
) -> Vec<Example> {
    examples_skipping(voice, counterpart, language, n, &|_| false)
}

/// [`examples`] without the samples `skip` rejects (ours in the draft's own thread).
fn examples_skipping(
    voice: &Voice,
    counterpart: Option<&str>,
    language: Option<Language>,
    n: usize,
    skip: &dyn Fn(&Sample) -> bool,
) -> Vec<Example> {
    let me_to = counterpart.map(canonical);
    let org = me_to.as_deref().map(Organisation::of);
    let same_org = |t: &str| org.as_ref().is_some_and(|o| o.includes(t));
    let tier = |s: &Sample| -> Option<Tier> {
        let c = me_to.as_deref();
        if c.is_some_and(|c| s.to.iter().any(|t| t == c)) {
            Some(Tier::Contact)
        } else if s.to.iter().any(|t| same_org(t)) {
            Some(Tier::Company)
        } else if language.is_none() || s.language == language {
            Some(Tier::Language)
        } else {
            None
        }
    };
    let mut ranked: Vec<(Tier, bool, &Sample)> = voice
        .samples
        .iter()
        .filter(|s| !skip(s))
        .filter_map(|s| tier(s).map(|t| (t, language.is_some() && s.language == language, s)))
        .collect();
    // Stable: within a rung, samples in the thread's language first, then newest first (the
    // order they are stored in).
    ranked.sort_by_key(|(t, same_lang, _)| (tier_rank(*t), !same_lang));
    // A template sent ten times is one example. Only until `n` are found: hashing every
    // sample's text (up to 500 of 2,000 characters) for each draft showed in the profile.
    let mut seen = std::collections::HashSet::new();
    ranked
        .into_iter()
        .filter(|(_, _, s)| seen.insert(s.text.as_str()))
        .take(n)
        .map(|(tier, _, s)| {
            let own_company = org.is_some() && s.to.iter().all(|t| same_org(t));
            Example {
                message_id: s.message_id.clone(),
                tier,
                masked: !own_company,
                text: if own_company {
                    s.text.clone()
                } else {
                    mask::mask(&s.text, &s.names)
                },
            }
        })
        .collect()
}

/// [`same_organisation`] with one side fixed, its canonical form and domain worked out once:
/// it is asked of every recipient of up to 500 samples for each draft, and allocating both
/// sides' forms each time was a tenth of a draft's CPU.
struct Organisation<'a> {
    /// Canonical (see `config::domains::canonical`).
    address: &'a str,
    domain: String,
    /// A company domain (not free mail), so the whole domain is one organisation.
    company: bool,
}

impl<'a> Organisation<'a> {
    fn of(address: &'a str) -> Organisation<'a> {
        let domain = domain_of(address);
        let company = !domain.is_empty() && !is_freemail(&domain);
        Organisation {
            address,
            domain,
            company,
        }
    }

    /// `same_organisation(self.address, other)`. Different domains never are: both the
    /// canonical forms and the domains would differ after their last `@`.
    fn includes(&self, other: &str) -> bool {
        let domain = other.trim().rsplit_once('@').map_or("", |(_, d)| d);
        domain.eq_ignore_ascii_case(&self.domain)
            && (self.company || canonical(other) == self.address)
    }
}

fn tier_rank(t: Tier) -> u8 {
    match t {
        Tier::Contact => 0,
        Tier::Company => 1,
        Tier::Language => 2,
    }
}

/// The habits for `language`, if any were learned.
pub fn habit(voice: &Voice, language: Language) -> Option<&Habit> {
    voice.habits.iter().find(|h| h.language == language)
}

/// The first `max` characters.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].trim_end().to_string(),
        None => s.to_string(),
    }
}

/// The signature a draft carries: the configured `signature` wins, else the learned one.
pub fn signature<'a>(
    mailbox: &'a crate::config::MailboxConfig,
    voice: &'a Voice,
) -> Option<&'a str> {
    mailbox
        .signature
        .as_deref()
        .or(voice.signature.as_ref().map(|s| s.text.as_str()))
}
