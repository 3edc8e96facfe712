//! What went into a prompt, part by part, for `tend explain` (issue 8 item 7): the thread, each
//! related thread summarised, the knowledge file and the voice, with their sources and sizes
//! in characters, computed by the same code that builds the prompt. Pure, like the prompt.

use super::{knowledge, render_thread, Grounding, RELATED_BUDGET};
use crate::config::MailboxConfig;
use crate::detect::Finding;
use crate::draft::memory::{self, Party};
use crate::thread::Thread;

/// One part of a prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// "thread", "related", "knowledge" or "voice".
    pub part: &'static str,
    /// Where it comes from: a thread id, the knowledge file's path, "voice".
    pub source: String,
    /// Its size in the prompt, in characters.
    pub chars: usize,
}

/// The parts of the prompt [`super::build_with`] builds for the same arguments, in prompt order
/// (related threads newest first); a related thread left out for the budget is not listed.
pub fn parts(
    thread: &Thread,
    finding: &Finding,
    mailbox: &MailboxConfig,
    grounding: &Grounding,
) -> Vec<Part> {
    let party = Party::of(thread, finding, mailbox);
    let mut out = vec![Part {
        part: "thread",
        source: thread.id.clone(),
        chars: render_thread(&thread.messages, &party, mailbox)
            .chars()
            .count(),
    }];
    let related = memory::summarise(&grounding.related, &party, mailbox, RELATED_BUDGET);
    out.extend(related.threads.into_iter().map(|(id, chars)| Part {
        part: "related",
        source: id,
        chars,
    }));
    if let (Some(k), Some(file)) = (knowledge(mailbox), mailbox.knowledge.as_ref()) {
        out.push(Part {
            part: "knowledge",
            source: file.file.display().to_string(),
            chars: k.chars().count(),
        });
    }
    let voice = crate::voice::section_for(
        &grounding.voice,
        thread,
        &finding.trigger,
        &mailbox.identity,
        crate::voice::VOICE_BUDGET,
    );
    if !voice.trim().is_empty() {
        out.push(Part {
            part: "voice",
            source: format!(
                "learned from {} of our messages",
                grounding.voice.learned_from
            ),
            chars: voice.chars().count(),
        });
    }
    out
}
