//! A [`Draft`] for a [`Finding`]: the prompt (pure), the model call, and
//! the composed message (pure). It never talks to IMAP; `deliver` puts the result in Drafts.
//! The model supplies only the body text (or a veto); everything else is computed by code.
//! An unusable answer (malformed, empty, or no draft at all by [`check`]: an echo of the prompt,
//! a copy of the thread, written as the buyer) is asked for once more; twice unusable is the
//! model's failure for that finding, which `daemon::attend` records. Figures in an accepted body
//! that nothing in the prompt grounds become placeholders, noted on the [`Draft`]. The same
//! answer names the deal's sales stage ([`stage`]), carried on the [`Outcome`] for `attend`.

pub mod check;
pub mod compose;
pub mod join;
pub mod memory;
pub mod parts;
pub mod prompt;
pub mod stage;

use crate::config::MailboxConfig;
use crate::detect::{Finding, Kind};
use crate::llm::{ChatMessage, LanguageModel, LlmError};
use crate::parse::Addr;
use crate::thread::Thread;
use anyhow::Result;
use chrono::{DateTime, Utc};

/// Longest body taken from the model, in characters; the rest is cut.
pub const BODY_CAP: usize = 8_000;

/// A composed draft, ready for `deliver` to append to Drafts.
#[derive(Debug, Clone)]
pub struct Draft {
    /// Deterministic Message-ID, without `<>` (see [`compose::message_id`]).
    pub message_id: String,
    pub thread_id: String,
    /// Message-ID of the message this draft answers.
    pub trigger: String,
    pub kind: Kind,
    /// Our address the draft is From (the alias the buyer wrote to, see [`compose::Recipients`]).
    pub from: String,
    pub to: Vec<Addr>,
    pub cc: Vec<Addr>,
    /// Addresses on the parent the draft does not copy (other vendors on an RFQ, over the cap).
    pub left_out: Vec<String>,
    /// Why the draft goes elsewhere than the parent asked (a Reply-To not followed).
    pub notes: Vec<String>,
    pub subject: String,
    /// The model's part only (no signature, no quote).
    pub body: String,
    /// What [`check`] replaced in the model's body: one note per invented figure.
    pub placeholders: Vec<String>,
    /// The deal's stage the same answer named, if it named one of the pipeline's.
    pub stage: Option<stage::Inferred>,
    /// The whole RFC 5322 message with CRLF line endings.
    pub raw: Vec<u8>,
}

/// What came of asking for a draft.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Boxed: a draft is large beside a veto.
    Draft(Box<Draft>),
    /// The model judged that no answer is needed, with its one-line reason, and the stage the
    /// same answer named.
    Veto {
        reason: String,
        stage: Option<stage::Inferred>,
    },
}

impl Outcome {
    /// The deal's stage the model named in this answer, if any.
    pub fn stage(&self) -> Option<&stage::Inferred> {
        match self {
            Outcome::Draft(d) => d.stage.as_ref(),
            Outcome::Veto { stage, .. } => stage.as_ref(),
        }
    }
}

/// The model's answer, interpreted.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A body to draft (normalised, capped, never empty) and the model's reason, if given.
    Body {
        body: String,
        reason: Option<String>,
    },
    Veto {
        reason: String,
    },
}

/// Most lines after a "--" that still read as a signature block (RFC 3676 4.3 customs: 4).
const SIGNATURE_LINES: usize = 4;

/// Model calls per draft: the first, and one retry after an unusable answer.
const ATTEMPTS: u32 = 2;

/// Asks the model for a draft answering `finding` from the thread alone and composes it.
pub async fn write<M: LanguageModel>(
    model: &M,
    mailbox: &MailboxConfig,
    thread: &Thread,
    finding: &Finding,
    now: DateTime<Utc>,
) -> Result<Outcome> {
    write_with(
        model,
        mailbox,
        thread,
        finding,
        &prompt::Grounding::default(),
        now,
    )
    .await
}

/// Asks the model for a draft answering `finding`, grounded in what the store knows besides
/// the thread (`grounding`, see [`memory::gather`]), and composes it. Model errors keep their
/// [`LlmError`] kind for `downcast_ref`.
pub async fn write_with<M: LanguageModel>(
    model: &M,
    mailbox: &MailboxConfig,
    thread: &Thread,
    finding: &Finding,
    grounding: &prompt::Grounding,
    now: DateTime<Utc>,
) -> Result<Outcome> {
    // Nobody to write to is known before the model is paid.
    compose::addressees(thread, finding, mailbox)?;
    let first = request(thread, finding, mailbox, grounding);
    // The configured signature wins; else the one learned from Sent.
    let signature = crate::voice::signature(mailbox, &grounding.voice);
    let schema = prompt::answer_schema(&grounding.pipeline);
    let staged = |answer: &str| stage::from_answer(answer, &grounding.pipeline, thread);
    let may_veto = mailbox.rules.model_may_veto;
    let mut messages = first.clone();
    let mut attempt = 1;
    let (checked, inferred) = loop {
        let unusable = match model.complete(&messages, Some(&schema)).await {
            Ok(answer) => {
                tracing::debug!(
                    attempt,
                    answer_chars = answer.len(),
                    "interpreting the model's answer"
                );
                match interpret_with(&answer, signature, may_veto) {
                    Ok(Answer::Body { body, .. }) => {
                        match check::check(&body, &first, thread, mailbox) {
                            Ok(checked) => break (checked, staged(&answer)),
                            Err(bad) => {
                                // The reason only: the body may quote mail, which no log holds.
                                tracing::info!(attempt, "refused: {bad}");
                                anyhow::Error::new(bad)
                            }
                        }
                    }
                    Ok(Answer::Veto { reason }) => {
                        let stage = staged(&answer);
                        return Ok(Outcome::Veto { reason, stage });
                    }
                    Err(err) => err,
                }
            }
            // A 200 that is no usable completion (no content, cut, garbage, a refusal or a
            // length stop): worth one more try. Whatever is about the server or this request
            // (down, rate limited, rejected, timed out) is not, so any other kind of answer
            // problem a provider reports is retried like BadAnswer.
            Err(err) if answer_problem(err.downcast_ref()) => err,
            // Down, rate limiting, refusing us: the daemon decides; asking again now won't help.
            Err(err) => return Err(err.context("asking the model for a draft")),
        };
        if attempt >= ATTEMPTS {
            return Err(
                unusable.context(format!("the model's answer was unusable {ATTEMPTS} times"))
            );
        }
        tracing::info!(
            attempt,
            "the model's answer is unusable, asking again: {unusable:#}"
        );
        messages = prompt::retry(&first, &format!("{unusable:#}"));
        attempt += 1;
    };
    if !checked.placeholders.is_empty() {
        tracing::info!(
            thread = %thread.id,
            placeholders = checked.placeholders.len(),
            "figures the prompt does not state were replaced by placeholders"
        );
    }
    let mut draft =
        compose::compose_signed(thread, finding, mailbox, &checked.body, signature, now)?;
    draft.placeholders = checked.placeholders;
    draft.stage = inferred;
    Ok(Outcome::Draft(Box::new(draft)))
}

/// Is this model error about the answer itself (so asking again may help)?
fn answer_problem(err: Option<&LlmError>) -> bool {
    match err {
        Some(LlmError::Rejected(_) | LlmError::Failed(_)) => false,
        Some(e) => !e.for_everyone(),
        None => false,
    }
}

/// The exact messages a draft for `finding` sends the model first: `write` uses it, and so does
/// `tend explain --prompt`, so what it prints is what would be sent.
pub fn request(
    thread: &Thread,
    finding: &Finding,
    mailbox: &MailboxConfig,
    grounding: &prompt::Grounding,
) -> Vec<ChatMessage> {
    prompt::build_with(thread, finding, mailbox, grounding)
}

/// Reads the model's answer: the JSON object `{needs_reply, reason, body}` (code fences and
/// surrounding chatter tolerated), or, from a model that ignored JSON mode, plain text taken as
/// the body. An empty body is an error, so no empty draft is ever written. A signature or
/// sign-off the model added anyway is removed when trivially recognisable.
pub fn interpret(answer: &str, signature: Option<&str>) -> Result<Answer> {
    interpret_with(answer, signature, true)
}

/// [`interpret`], and with `may_veto` false (`rules.model_may_veto`) a veto is overruled: its
/// body becomes the draft, and a veto without a body is an error like an empty body.
pub fn interpret_with(answer: &str, signature: Option<&str>, may_veto: bool) -> Result<Answer> {
    let text = strip_fences(answer.trim());
    let (body, reason, vetoed) = match json_object(text) {
        Some(obj) => {
            let reason = obj
                .get("reason")
                .and_then(|r| r.as_str())
                .map(|r| one_line(r, 300))
                .filter(|r| !r.is_empty());
            let needs_reply = match obj.get("needs_reply") {
                Some(serde_json::Value::Bool(b)) => *b,
                Some(serde_json::Value::String(s)) => !s.trim().eq_ignore_ascii_case("false"),
                _ => true,
            };
            if !needs_reply && may_veto {
                return Ok(Answer::Veto {
                    reason: reason.unwrap_or_else(|| "the model saw nothing to answer".into()),
                });
            }
            let body = obj
                .get("body")
                .and_then(|b| b.as_str())
                .unwrap_or_default()
                .to_string();
            (body, reason, !needs_reply)
        }
        None => {
            // A broken object (cut at max_tokens, say) must not become a draft full of JSON.
            anyhow::ensure!(
                !text.starts_with('{') && !text.contains("\"needs_reply\""),
                "the model's answer is malformed JSON"
            );
            (text.to_string(), None, false)
        }
    };
    let body = clean_body(&body, signature);
    anyhow::ensure!(
        !body.is_empty(),
        if vetoed {
            "the model vetoed without a body, and rules.model_may_veto is false"
        } else {
            "the model returned an empty body"
        }
    );
    if vetoed {
        tracing::debug!("the model's veto is overruled (rules.model_may_veto = false)");
    }
    Ok(Answer::Body { body, reason })
}

/// The inside of a ```...``` fence around the whole answer, or the answer.
fn strip_fences(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    // Skip the info string ("json") up to the end of the first line.
    let rest = rest.split_once('\n').map_or("", |(_, r)| r);
    rest.trim_end().strip_suffix("```").unwrap_or(rest).trim()
}

/// The first `{` to the last `}`, if that parses as a JSON object.
fn json_object(text: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    if end < start {
        return None;
    }
    match serde_json::from_str(&text[start..=end]) {
        Ok(serde_json::Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// Normalised, without a subject line, signature or name placeholder the model added, capped.
fn clean_body(body: &str, signature: Option<&str>) -> String {
    let mut body = compose::normalise(body);
    // "Subject: ..." as the first line.
    if body
        .get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("subject:"))
    {
        body = compose::normalise(body.split_once('\n').map_or("", |(_, rest)| rest));
    }
    let mut lines: Vec<&str> = body.lines().collect();
    // A signature block after an RFC 3676 separator ("-- ", its space already trimmed): only
    // when what follows reads like one, a few lines at the very end without a paragraph break.
    // A "--" the model used as a rule between list items is text.
    if let Some(i) = lines.iter().rposition(|l| *l == "--") {
        let tail = &lines[i + 1..];
        if tail.len() <= SIGNATURE_LINES && tail.iter().all(|l| !l.trim().is_empty()) {
            lines.truncate(i);
        }
    }
    // A trailing name placeholder: "[Your Name]", "[Name]", "[Ihr Name]".
    while lines.last().is_some_and(|l| {
        let l = l.trim();
        l.starts_with('[') && l.ends_with(']') && l.to_lowercase().contains("name")
    }) {
        lines.pop();
    }
    let mut body = compose::normalise(&lines.join("\n"));
    // The configured signature, if the model copied it at the end.
    if let Some(sig) = signature.map(compose::normalise).filter(|s| !s.is_empty()) {
        if let Some(rest) = body.strip_suffix(sig.as_str()) {
            body = compose::normalise(rest);
        }
    }
    if let Some((i, _)) = body.char_indices().nth(BODY_CAP) {
        body.truncate(i);
        body = compose::normalise(&body);
    }
    body
}

fn one_line(s: &str, max_chars: usize) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    s.trim().to_string()
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Fixtures shared by the draft tests.
    use crate::config::{Folders, Identity, ImapConfig, MailboxConfig, Rules, Secret, Security};
    use crate::detect::{Finding, Kind};
    use crate::parse::{Addr, Email};
    use std::time::Duration;

    /// alice@shop.example (alias sales@), colleagues at shop.example, Europe/Berlin.
    pub fn mailbox() -> MailboxConfig {
        MailboxConfig {
            name: "alice".into(),
            file: "/etc/tend/mailboxes/alice.toml".into(),
            identity: Identity {
                addresses: vec!["alice@shop.example".into(), "sales@shop.example".into()],
                internal_domains: vec!["shop.example".into()],
            },
            display_name: Some("Alice Seller".into()),
            timezone: "Europe/Berlin".parse().unwrap(),
            signature: Some("Alice Seller\nShop GmbH".into()),
            knowledge: None,
            imap: ImapConfig {
                host: "imap.shop.example".into(),
                port: 993,
                security: Security::Tls,
                username: "alice".into(),
                auth: crate::config::Auth::Password(Secret::File("/nonexistent".into())),
                ca_file: None,
                timeout: Duration::from_secs(60),
            },
            folders: Folders::default(),
            rules: Rules::default(),
        }
    }

    /// A message as the parser reads `raw`, written with plain line breaks.
    pub fn parsed(raw: &str) -> Email {
        crate::parse::parse(raw.replace('\n', "\r\n").as_bytes()).unwrap()
    }

    pub fn email(id: &str, from: Addr, text: &str, date: i64) -> Email {
        Email {
            message_id: id.into(),
            in_reply_to: None,
            references: vec![],
            from: Some(from),
            reply_to: vec![],
            to: vec![],
            cc: vec![],
            date: Some(date),
            subject: "Offer".into(),
            new_text: text.into(),
            text: text.into(),
            automated: None,
            out_of_office: false,
            ooo_until: None,
        }
    }

    pub fn finding(trigger: &str, kind: Kind) -> Finding {
        Finding {
            thread_id: "root@x".into(),
            kind,
            trigger: trigger.into(),
            since: 0,
            reason: "test".into(),
        }
    }
}

#[cfg(test)]
mod tests;
