//! What a person reads: the lines `status`, `explain`, the dry run and a pass print, and the
//! status snapshot `tend run` keeps for `tend status`. Everything that came from mail is shown
//! escaped (no control characters reach the terminal). It decides nothing.

use super::*;

pub(super) fn when(mb: &MailboxConfig, unix: Option<i64>) -> String {
    match unix.and_then(|t| mb.timezone.timestamp_opt(t, 0).single()) {
        Some(t) => t.format("%a %Y-%m-%d %H:%M %Z").to_string(),
        None => "(no date)".into(),
    }
}

/// Text from mail, safe for a terminal: control characters (ESC, CR, ...) shown escaped.
pub(super) fn shown(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// One message of a thread as `explain` lists it; everything from the mail is escaped.
pub(super) fn message_line(mb: &MailboxConfig, m: &crate::parse::Email) -> String {
    let from = m.from.as_ref().map_or("?", |a| a.email.as_str());
    let auto = m
        .automated
        .as_deref()
        .map(|a| format!("  [automated: {}]", shown(a)))
        .unwrap_or_default();
    format!(
        "  {}  {}  {:?}{auto}",
        when(mb, m.date),
        shown(from),
        m.subject
    )
}

/// Who the draft for a finding goes to and who it leaves out, for `status` and `explain`.
pub(super) fn addressing_text(
    mb: &MailboxConfig,
    r: &Review,
    f: &crate::detect::Finding,
) -> String {
    let who = match crate::draft::compose::addressees(&r.thread, f, mb) {
        Ok(who) => who,
        Err(err) => return format!("      addressing: {}\n", shown(&format!("{err:#}"))),
    };
    let list = |v: &[crate::parse::Addr]| {
        v.iter()
            .map(|a| shown(&a.email))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = format!("      from {}, to {}", shown(&who.from), list(&who.to));
    if !who.cc.is_empty() {
        out.push_str(&format!(", cc {}", list(&who.cc)));
    }
    out.push('\n');
    if !who.left_out.is_empty() {
        let names: Vec<String> = who.left_out.iter().map(|a| shown(a)).collect();
        out.push_str(&format!(
            "      left out (outside the conversation with us): {}\n",
            names.join(", ")
        ));
    }
    for note in &who.notes {
        out.push_str(&format!("      note: {}\n", shown(note)));
    }
    out
}

/// One thread as `status` and `explain` show it.
pub(super) fn review_text(mb: &MailboxConfig, r: &Review, now: DateTime<Utc>) -> String {
    let subject = r.thread.messages.last().map_or("", |m| m.subject.as_str());
    match &r.verdict {
        Verdict::Attention(f) => {
            let kind = match f.kind {
                Kind::Reply => "needs a reply".to_string(),
                Kind::FollowUp { nudge } => format!("follow-up #{nudge} due"),
            };
            let days = (now.timestamp() - f.since).max(0) / 86_400;
            let draft = match &r.draft {
                Some(DraftState::Appended) => "draft written to Drafts".to_string(),
                Some(DraftState::Vetoed { reason }) => {
                    format!(
                        "no draft: the model judged no answer is needed ({})",
                        shown(reason)
                    )
                }
                None => match &r.failure {
                    Some(fail) => {
                        let next = match fail.retry_at {
                            Some(at) => format!("next try {}", when(mb, Some(at))),
                            None => "not tried again until the thread has a new message".into(),
                        };
                        format!(
                            "no draft: failed {} time{}, last: {}; {next}",
                            fail.count,
                            if fail.count == 1 { "" } else { "s" },
                            fail.error
                        )
                    }
                    None if r.hands_off => "no draft: this thread holds a draft of yours (or ours, edited by you); tend leaves it alone".to_string(),
                    None => "no draft yet".to_string(),
                },
            };
            let draft = r
                .lifecycle
                .iter()
                .fold(draft, |d, l| format!("{d}\n      {}", shown(l)));
            format!(
                "  * {subject:?}: {kind}, waiting since {} ({days} days)\n      why: {}\n{}      {draft}\n",
                when(mb, Some(f.since)),
                shown(&f.reason),
                addressing_text(mb, r, f)
            )
        }
        Verdict::Quiet { reason } => {
            let mut out = format!("  - {subject:?}: nothing to do: {}\n", shown(reason));
            for l in &r.lifecycle {
                out.push_str(&format!("      {}\n", shown(l)));
            }
            out
        }
    }
}

/// The checks that led to a verdict, for `explain`.
pub(super) fn checks_text(checks: &[crate::detect::Check]) -> String {
    let mut out = String::from("    how the rules got there:\n");
    for c in checks {
        out.push_str(&format!("      {}: {}\n", c.rule, shown(&c.outcome)));
    }
    out
}

/// The parts of the prompt a draft would send now, for `explain`: where each comes from (the
/// thread, which related threads, the knowledge file, the voice), then the blocks as written
/// with their sizes.
pub(super) fn prompt_parts_text(
    sources: &[crate::draft::prompt::Part],
    messages: &[crate::llm::ChatMessage],
) -> String {
    let mut out = String::from(
        "    the prompt a draft would send now (`tend explain --prompt ID` prints it whole):\n",
    );
    for p in sources {
        out.push_str(&format!(
            "      {} from {}: {} chars\n",
            p.part,
            shown(&p.source),
            p.chars
        ));
    }
    for line in crate::draft::parts::describe(messages) {
        out.push_str(&format!("      {}\n", shown(&line)));
    }
    out
}

/// The exact prompt, for `explain --prompt`: each message under a header line. Line breaks are
/// kept; every other control character from mail is shown escaped.
pub(super) fn prompt_text(messages: &[crate::llm::ChatMessage]) -> String {
    let mut out = String::new();
    for m in messages {
        let role = match m.role {
            crate::llm::Role::System => "system",
            crate::llm::Role::User => "user",
        };
        out.push_str(&format!("===== {role} =====\n"));
        let lines: Vec<String> = m.content.lines().map(shown).collect();
        out.push_str(&lines.join("\n"));
        out.push('\n');
    }
    out
}

/// What `tend status` prints: per mailbox, the threads that need attention.
pub(super) fn status_text(
    mailboxes: &[&MailboxConfig],
    store: &Store,
    now: DateTime<Utc>,
) -> Result<String> {
    let mut out = String::new();
    // Numbered across the mailboxes shown, in the order `explain N` recomputes them.
    let mut number = 0;
    for (mb, reviews, judged) in super::resolve::listed(mailboxes, store, now)? {
        out.push_str(&format!(
            "{}: {} of {judged} recent threads need attention\n",
            mb.name,
            reviews.len(),
        ));
        out.push_str(&usage_line(mb, store, now)?);
        for r in &reviews {
            number += 1;
            let text = review_text(mb, r, now);
            out.push_str(&format!(
                "  [{number}] {}",
                text.strip_prefix("  ").unwrap_or(&text)
            ));
        }
        let waiting = daemon::lifecycle::waiting(mb, store, &reviews, now)?;
        if waiting > 0 {
            out.push_str(&format!(
                "  {waiting} finding(s) wait for tomorrow: max_drafts_per_day = {} reached\n",
                mb.rules.max_drafts_per_day
            ));
        }
    }
    if number > 0 {
        out.push_str(
            "(`tend explain N` says why thread N is listed; a subject or a Message-ID works too)\n",
        );
    }
    Ok(out)
}

/// "  today: 3 drafts, 1 veto, 4 model calls, 12840 tokens (11900 in, 940 out)", in the
/// mailbox's own day.
fn usage_line(mb: &MailboxConfig, store: &Store, now: DateTime<Utc>) -> Result<String> {
    let day = now.with_timezone(&mb.timezone).date_naive();
    let u = store.usage(&mb.name, day)?;
    let plural = |n: u32, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    Ok(format!(
        "  today: {}, {}, {}, {} tokens ({} in, {} out)\n",
        plural(u.drafts, "draft", "drafts"),
        plural(u.vetoes, "veto", "vetoes"),
        plural(u.calls, "model call", "model calls"),
        u.input_tokens + u.output_tokens,
        u.input_tokens,
        u.output_tokens
    ))
}

/// The threads part of the status snapshot is worked out again at least this often when
/// nothing changed; the connection lines are rewritten every time.
const THREADS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// `tend run`'s status snapshot writer: each mailbox's connection state, then `status_text`.
/// The service calls it after every change and at least once a minute; the threads part, a
/// sweep of every mailbox's window (0.6 s of CPU at 200,000 messages), is reused while the
/// health version is unchanged (no pass ended, no connection changed) for up to ten
/// minutes: between passes only the clock moves, and it moves ages counted in days.
pub(super) fn snapshot_writer() -> impl Fn(&Config, &Store, &Health) + Send + Sync {
    let last: std::sync::Mutex<Option<(u64, std::time::Instant, String)>> = Default::default();
    move |config, store, health| write_snapshot(config, store, health, &last)
}

fn write_snapshot(
    config: &Config,
    store: &Store,
    health: &Health,
    last: &std::sync::Mutex<Option<(u64, std::time::Instant, String)>>,
) {
    // Read before the sweep: a change while it runs is seen by the next call.
    let version = health.version();
    let now = Utc::now();
    let mut text = String::new();
    for (name, h) in health.snapshot() {
        text.push_str(&format!("{name}: {}\n", h.describe(now)));
    }
    let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
    let threads = match &*last {
        Some((v, at, threads)) if *v == version && at.elapsed() < THREADS_MAX_AGE => {
            Ok(threads.clone())
        }
        _ => {
            let all: Vec<&MailboxConfig> = config.mailboxes.iter().collect();
            status_text(&all, store, now).inspect(|threads| {
                *last = Some((version, std::time::Instant::now(), threads.clone()));
            })
        }
    };
    let written = threads.and_then(|threads| {
        text.push_str(&threads);
        daemon::record::write_atomic(&status_snapshot(config), text.as_bytes())
    });
    if let Err(err) = written {
        tracing::warn!("could not write the status snapshot: {err:#}");
    }
}

/// Where `tend run` leaves the status after every round, for `tend status` to show while the
/// running service holds the store.
pub(super) fn status_snapshot(config: &Config) -> PathBuf {
    config.state_dir.join("status.txt")
}

pub(super) fn print_action(mb: &MailboxConfig, a: &Action, dry_run: bool) {
    match a {
        Action::Drafted { draft, delivery } => {
            let list = |v: &[crate::parse::Addr]| {
                v.iter()
                    .map(|a| a.email.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let state = match (dry_run, delivery) {
                (true, _) => "dry run: not saved".to_string(),
                (false, Some(d)) => format!("{d:?}"),
                (false, None) => "not saved".to_string(),
            };
            println!("--- draft for {} ({state})", mb.name);
            println!("From: {}", draft.from);
            println!("To: {}", list(&draft.to));
            if !draft.cc.is_empty() {
                println!("Cc: {}", list(&draft.cc));
            }
            if !draft.left_out.is_empty() {
                println!(
                    "Left out (outside the conversation with us): {}",
                    shown(&draft.left_out.join(", "))
                );
            }
            for note in &draft.notes {
                println!("Note: {}", shown(note));
            }
            for note in &draft.placeholders {
                println!("Placeholder: {}", shown(note));
            }
            println!("Subject: {}", shown(&draft.subject));
            println!("Message-ID: <{}>", draft.message_id);
            println!();
            // The model's text: line breaks kept, every other control character escaped.
            let body: Vec<String> = draft.body.lines().map(shown).collect();
            println!("{}", body.join("\n"));
            println!("---");
        }
        Action::Vetoed { thread_id, reason } => {
            println!("no draft for <{thread_id}>: the model judged no answer is needed: {reason}")
        }
        Action::Superseded { thread_id } => {
            println!("no draft for <{thread_id}>: answered while drafting")
        }
        Action::AlreadyThere { thread_id } => println!("draft for <{thread_id}> already in Drafts"),
        Action::HandsOff { thread_id } => {
            println!("no draft for <{thread_id}>: it holds a draft of yours; left alone")
        }
        Action::Waiting { thread_id } => {
            println!("no draft for <{thread_id}> today: max_drafts_per_day reached")
        }
        Action::Removed { thread_id, removal } => {
            println!("our draft for <{thread_id}> left Drafts: {removal:?}")
        }
        Action::Failed { thread_id, failure } => {
            eprintln!("no draft for <{thread_id}>: {}", failure.error)
        }
        Action::ModelDown {
            thread_id, error, ..
        } => {
            eprintln!("no draft for <{thread_id}> this time: {error}")
        }
    }
}
