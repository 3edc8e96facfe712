//! Data-driven end to end: every folder `tests/fixtures/scenarios/NNN-name/` is one mailbox
//! story. `inbox/*.eml` go into INBOX unread and `sent/*.eml` into Sent with \Seen, in file-name
//! order; the real `tend` binary runs `once` twice against a throwaway Dovecot and a fake model,
//! and the drafts found in the Drafts Maildir must be exactly those `expected.toml` lists.
//! A new case is a new folder, not code. `findings.golden` holds what `tend status` and `tend
//! explain` said of the scenario at the version that wrote it (`TEND_WRITE_GOLDEN=1`), so a change
//! to the store cannot move a finding unseen.
//!
//! Dates in the .eml files are written relative to now, so a scenario never ages out of tend's
//! windows: `{{now}}`, `{{now-2d}}`, `{{now-5h}}`, `{{now-6bd+3m}}` (units: m minutes, h hours,
//! d days, bd business days Mon-Fri in the mailbox's time zone) become RFC 2822 dates.
//!
//! `expected.toml`:
//! ```toml
//! [mailbox]                     # optional; defaults below
//! addresses = ["alice@acme.test", "sales@acme.test"]
//! internal_domains = ["acme.test"]
//! timezone = "UTC"
//! rules = { followup_stops_on = "company" }   # optional: the mailbox file's [rules]
//!
//! drafts = []                   # no draft at all, or one table per draft:
//! [[draft]]
//! in_reply_to = "q1@buyer.test" # the Message-ID the draft answers, without <>
//! to = ["bob@buyer.test"]       # addresses, compared case-insensitively, in any order
//! cc = []                       # optional, default []
//! subject = "Re: Pricing"
//! references = ["a@x", "b@y"]   # optional, checked only when given
//!
//! [[thread]]                    # optional: `tend explain ID` must show a thread of N messages
//! message_id = "q1@buyer.test"
//! messages = 2
//! ```
//! A folder whose name ends in `.pending` is a known tend bug with its correct expectation:
//! it is skipped with a notice (run it with `TEND_SCENARIO=name.pending`).
//! `TEND_SCENARIO=002` runs only folders whose name contains that text.

mod support;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use support::dovecot::{Dovecot, Stored};
use support::llm::{FakeLlm, Reply};

const MODEL_BODY: &str =
    "Hi,\n\nthanks for your message. I will get back to you with details today.";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    #[serde(default)]
    mailbox: MailboxOverrides,
    /// `drafts = []` says "none" explicitly; `[[draft]]` tables list them.
    drafts: Option<Vec<Draft>>,
    draft: Option<Vec<Draft>>,
    #[serde(default)]
    thread: Vec<ThreadCheck>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MailboxOverrides {
    #[serde(default = "default_addresses")]
    addresses: Vec<String>,
    #[serde(default = "default_internal")]
    internal_domains: Vec<String>,
    #[serde(default = "default_tz")]
    timezone: String,
    /// The mailbox file's `[rules]` table, as written.
    #[serde(default)]
    rules: toml::Table,
}

impl Default for MailboxOverrides {
    fn default() -> Self {
        MailboxOverrides {
            addresses: default_addresses(),
            internal_domains: default_internal(),
            timezone: default_tz(),
            rules: toml::Table::new(),
        }
    }
}

fn default_addresses() -> Vec<String> {
    vec!["alice@acme.test".into(), "sales@acme.test".into()]
}
fn default_internal() -> Vec<String> {
    vec!["acme.test".into()]
}
fn default_tz() -> String {
    "UTC".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Draft {
    in_reply_to: String,
    to: Vec<String>,
    #[serde(default)]
    cc: Vec<String>,
    subject: String,
    references: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThreadCheck {
    message_id: String,
    messages: usize,
}

// ---------------------------------------------------------------------------------------------
// Date placeholders

/// Replaces every `{{now...}}` in a message with an RFC 2822 date in `tz`.
fn fill_placeholders(raw: &[u8], now: DateTime<Utc>, tz: Tz) -> Result<Vec<u8>, String> {
    // Placeholders are ASCII; the mail around them may be any charset (ISO-8859-1 bodies,
    // 8-bit headers), so substitute on bytes split at the placeholders, never decode the rest.
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = find(rest, b"{{") {
        let len = find(&rest[start..], b"}}").ok_or("unclosed {{ placeholder")? + 2;
        let spec = std::str::from_utf8(&rest[start + 2..start + len - 2])
            .map_err(|_| "non-ASCII inside a {{ }} placeholder")?;
        let date = moment(spec, now, tz)?.with_timezone(&tz).to_rfc2822();
        out.extend_from_slice(&rest[..start]);
        out.extend_from_slice(date.as_bytes());
        rest = &rest[start + len..];
    }
    out.extend_from_slice(rest);
    Ok(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `now`, then any number of `+N<unit>` / `-N<unit>` steps; unit m, h, d or bd.
fn moment(spec: &str, now: DateTime<Utc>, tz: Tz) -> Result<DateTime<Utc>, String> {
    let bad = || format!("bad date placeholder {{{{{spec}}}}} (want e.g. now-2d, now-6bd+3m)");
    let mut rest = spec.trim().strip_prefix("now").ok_or_else(bad)?;
    let mut t = now;
    while !rest.is_empty() {
        let sign: i64 = match rest.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return Err(bad()),
        };
        let digits = rest[1..].chars().take_while(char::is_ascii_digit).count();
        let n: i64 = rest[1..1 + digits].parse().map_err(|_| bad())?;
        let after = &rest[1 + digits..];
        let unit_len = after.chars().take_while(char::is_ascii_alphabetic).count();
        t = match &after[..unit_len] {
            "m" => t + Duration::minutes(sign * n),
            "h" => t + Duration::hours(sign * n),
            "d" => t + Duration::days(sign * n),
            "bd" => business_days(t, sign * n, tz),
            _ => return Err(bad()),
        };
        rest = &after[unit_len..];
    }
    Ok(t)
}

/// `n` weekdays (Mon-Fri in `tz`) away from `t`, same time of day.
fn business_days(t: DateTime<Utc>, n: i64, tz: Tz) -> DateTime<Utc> {
    let step = if n < 0 { -1 } else { 1 };
    let mut local = t.with_timezone(&tz).naive_local();
    let mut left = n.abs();
    while left > 0 {
        local += Duration::days(step);
        if !matches!(local.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    // A DST gap or overlap: take the earliest valid instant, else keep the UTC arithmetic.
    tz.from_local_datetime(&local)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|| local.and_utc())
}

// ---------------------------------------------------------------------------------------------
// One scenario

struct Scenario {
    name: String,
    dir: PathBuf,
}

/// Dovecot with user alice, the fake model, and a config directory pointing at both.
struct World {
    dovecot: Dovecot,
    _llm: FakeLlm,
    dir: tempfile::TempDir,
}

impl World {
    fn new(mb: &MailboxOverrides) -> World {
        let dovecot = Dovecot::start();
        dovecot.add_user("alice", "s3cret pass");
        let llm = FakeLlm::start(|_| {
            Reply::Content(
                serde_json::json!({"needs_reply": true, "reason": "r", "body": MODEL_BODY})
                    .to_string(),
            )
        });
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("mailboxes")).unwrap();
        std::fs::write(
            d.join("tend.toml"),
            format!(
                "state_dir = \"state\"\n[llm]\nbase_url = \"{}\"\nmodel = \"test-model\"\n",
                llm.base_url()
            ),
        )
        .unwrap();
        let pw = d.join("mailboxes/alice.password");
        std::fs::write(&pw, "s3cret pass\n").unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        let list = |v: &[String]| {
            toml::Value::Array(v.iter().cloned().map(toml::Value::String).collect()).to_string()
        };
        std::fs::write(
            d.join("mailboxes/alice.toml"),
            format!(
                "addresses = {}\ninternal_domains = {}\ntimezone = {}\nname = \"Alice Seller\"\n\
                 signature = \"Alice Seller\\nAcme Analytics\"\n[imap]\nhost = \"127.0.0.1\"\n\
                 port = {}\nsecurity = \"plain\"\nusername = \"alice\"\n\
                 password_file = \"alice.password\"\n[rules]\n{}",
                list(&mb.addresses),
                list(&mb.internal_domains),
                toml::Value::String(mb.timezone.clone()),
                dovecot.port(),
                mb.rules
            ),
        )
        .unwrap();
        World {
            dovecot,
            _llm: llm,
            dir,
        }
    }

    fn tend(&self, args: &[&str]) -> (bool, String) {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
            .arg("--config")
            .arg(self.dir.path().join("tend.toml"))
            .args(args)
            .env("RUST_LOG", "info")
            .output()
            .expect("run tend");
        let text = format!(
            "$ tend {} -> {}\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }
}

/// The .eml files of `dir/sub`, in file-name order.
fn emls(dir: &Path, sub: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
}

/// A draft as found in the Drafts Maildir, reduced to what `expected.toml` states.
fn observed(stored: &Stored) -> Result<Draft, String> {
    let email = tend::parse::parse(&stored.raw).map_err(|e| format!("unparseable draft: {e}"))?;
    let emails = |v: &[tend::parse::Addr]| -> Vec<String> {
        let mut v: Vec<String> = v.iter().map(|a| a.email.to_ascii_lowercase()).collect();
        v.sort();
        v
    };
    Ok(Draft {
        in_reply_to: email.in_reply_to.clone().unwrap_or_default(),
        to: emails(&email.to),
        cc: emails(&email.cc),
        subject: email.subject.clone(),
        references: Some(email.references.clone()),
    })
}

fn normalised(d: &Draft, with_refs: bool) -> Draft {
    let lower = |v: &[String]| -> Vec<String> {
        let mut v: Vec<String> = v.iter().map(|a| a.to_ascii_lowercase()).collect();
        v.sort();
        v
    };
    Draft {
        in_reply_to: d.in_reply_to.clone(),
        to: lower(&d.to),
        cc: lower(&d.cc),
        subject: d.subject.clone(),
        references: if with_refs {
            d.references.clone()
        } else {
            None
        },
    }
}

fn show(d: &Draft) -> String {
    let mut s = format!(
        "in_reply_to = {:?}, to = {:?}, cc = {:?}, subject = {:?}",
        d.in_reply_to, d.to, d.cc, d.subject
    );
    if let Some(r) = &d.references {
        s.push_str(&format!(", references = {r:?}"));
    }
    s
}

/// What differs between the expected and the found drafts, one line each; empty when equal.
fn diff_drafts(want: &[Draft], stored: &[Stored]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut got = Vec::new();
    for s in stored {
        if !s.flags.contains('D') {
            problems.push(format!(
                "draft {} lacks the \\Draft flag (maildir flags {:?})",
                s.path.display(),
                s.flags
            ));
        }
        match observed(s) {
            Ok(d) => got.push(d),
            Err(e) => problems.push(e),
        }
    }
    if want.len() != got.len() {
        problems.push(format!(
            "expected {} draft(s), found {}",
            want.len(),
            got.len()
        ));
    }
    // Pair by In-Reply-To; each expectation checks references only when it names them.
    let mut unmatched: Vec<Draft> = got.clone();
    for w in want {
        let with_refs = w.references.is_some();
        let w = normalised(w, with_refs);
        match unmatched
            .iter()
            .position(|g| g.in_reply_to == w.in_reply_to)
        {
            Some(i) => {
                let g = normalised(&unmatched.remove(i), with_refs);
                if g != w {
                    problems.push(format!(
                        "draft answering <{}> differs\n      want {}\n      got  {}",
                        w.in_reply_to,
                        show(&w),
                        show(&g)
                    ));
                }
            }
            None => problems.push(format!("missing draft: {}", show(&w))),
        }
    }
    for g in unmatched {
        problems.push(format!(
            "unexpected draft: {}",
            show(&normalised(&g, false))
        ));
    }
    problems
}

/// Runs one scenario; Err carries the full failure report.
fn run(sc: &Scenario) -> Result<(), String> {
    let text = std::fs::read_to_string(sc.dir.join("expected.toml"))
        .map_err(|e| format!("read expected.toml: {e}"))?;
    let expected: Expected = toml::from_str(&text).map_err(|e| format!("expected.toml: {e}"))?;
    let want: Vec<Draft> = match (expected.drafts, expected.draft) {
        (Some(d), None) | (None, Some(d)) => d,
        (Some(_), Some(_)) => return Err("expected.toml has both drafts = [] and [[draft]]".into()),
        (None, None) => {
            return Err("expected.toml names no drafts: write drafts = [] or [[draft]]".into())
        }
    };
    let tz: Tz = expected
        .mailbox
        .timezone
        .parse()
        .map_err(|e| format!("timezone: {e}"))?;

    let world = World::new(&expected.mailbox);
    let now = Utc::now();
    let mut ids = BTreeSet::new();
    for (sub, folder, flags) in [("inbox", "INBOX", ""), ("sent", "Sent", "S")] {
        for path in emls(&sc.dir, sub) {
            let raw = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let raw =
                fill_placeholders(&raw, now, tz).map_err(|e| format!("{}: {e}", path.display()))?;
            if let Ok(e) = tend::parse::parse(&raw) {
                ids.insert(e.message_id);
            }
            world.dovecot.put("alice", folder, &raw, flags);
        }
    }
    if ids.is_empty() {
        return Err("no parseable inbox/*.eml or sent/*.eml: the scenario tests nothing".into());
    }

    let mut log = String::new();
    let mut problems = Vec::new();
    for pass in 1..=2 {
        let (ok, out) = world.tend(&["once"]);
        log.push_str(&out);
        if !ok {
            problems.push(format!("pass {pass}: tend once failed"));
        }
        for p in diff_drafts(&want, &world.dovecot.messages("alice", "Drafts")) {
            problems.push(format!("after pass {pass}: {p}"));
        }
        let read: Vec<String> = world
            .dovecot
            .messages("alice", "INBOX")
            .into_iter()
            .filter(|m| m.flags.contains('S'))
            .map(|m| m.path.display().to_string())
            .collect();
        if !read.is_empty() {
            problems.push(format!(
                "after pass {pass}: INBOX messages got \\Seen: {read:?}"
            ));
        }
    }
    for t in &expected.thread {
        let (_, out) = world.tend(&["explain", &t.message_id]);
        let want = format!("({} messages)", t.messages);
        if !out.contains(&want) {
            problems.push(format!(
                "thread of <{}>: expected {want}\n{out}",
                t.message_id
            ));
        }
    }
    // The findings must not move when the store changes (its format, what it keeps): what
    // `tend status` and `tend explain` say of every message, against the golden file written
    // at the version before (`TEND_WRITE_GOLDEN=1` rewrites it).
    let found = findings(&world, &ids);
    let golden = sc.dir.join("findings.golden");
    if std::env::var_os("TEND_WRITE_GOLDEN").is_some() {
        std::fs::write(&golden, &found).map_err(|e| format!("{}: {e}", golden.display()))?;
    }
    match std::fs::read_to_string(&golden) {
        Ok(want) if want == found => {}
        Ok(want) => problems.push(format!(
            "findings differ from findings.golden\n--- want\n{want}--- found\n{found}"
        )),
        Err(e) => problems.push(format!("{}: {e}", golden.display())),
    }
    if problems.is_empty() {
        return Ok(());
    }
    // Explain every thread the scenario touches (the same thread is shown once).
    let mut explained = BTreeSet::new();
    let mut explain = String::new();
    for id in want.iter().map(|d| &d.in_reply_to).chain(&ids) {
        let (_, out) = world.tend(&["explain", id]);
        let body: String = out.lines().skip(1).collect::<Vec<_>>().join("\n");
        if explained.insert(body) {
            explain.push_str(&out);
        }
    }
    Err(format!(
        "  {}\n--- tend explain\n{explain}--- tend once (both passes)\n{log}",
        problems.join("\n  ")
    ))
}

/// What tend found: `tend status` and `tend explain` of each Message-ID, with every run of
/// digits written `#` and weekdays `Day` (dates relative to now move; the words do not).
fn findings(world: &World, ids: &BTreeSet<String>) -> String {
    let mut out = String::new();
    let stdout = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
            .arg("--config")
            .arg(world.dir.path().join("tend.toml"))
            .args(args)
            .output()
            .expect("run tend");
        format!(
            "$ tend {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&o.stdout)
        )
    };
    out.push_str(&stdout(&["status"]));
    for id in ids {
        out.push_str(&stdout(&["explain", id]));
    }
    let mut norm = String::with_capacity(out.len());
    let mut in_digits = false;
    for c in out.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                norm.push('#');
            }
            in_digits = true;
        } else {
            norm.push(c);
            in_digits = false;
        }
    }
    // A date relative to now falls on another weekday on another day.
    for day in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] {
        norm = norm.replace(&format!("{day} #-#-#"), "Day #-#-#");
    }
    norm
}

// ---------------------------------------------------------------------------------------------

#[test]
fn scenarios() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scenarios");
    let only = std::env::var("TEND_SCENARIO").ok();
    let mut all: Vec<Scenario> = std::fs::read_dir(&root)
        .expect("tests/fixtures/scenarios exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|dir| Scenario {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            dir,
        })
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(!all.is_empty(), "no scenarios in {}", root.display());

    let mut todo = Vec::new();
    for sc in all {
        let chosen = only.as_deref().is_some_and(|o| sc.name.contains(o));
        if only.is_some() && !chosen {
            continue;
        }
        if sc.name.ends_with(".pending") && !chosen {
            eprintln!(
                "NOTICE: skipping pending scenario {} (a known tend bug; TEND_SCENARIO={} runs it)",
                sc.name, sc.name
            );
            continue;
        }
        todo.push(sc);
    }

    // Each scenario has its own Dovecot and model server: run them side by side, a few at a time.
    let workers = std::thread::available_parallelism().map_or(4, |n| n.get().clamp(2, 8));
    let queue = std::sync::Mutex::new(todo.into_iter());
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let Some(sc) = queue.lock().unwrap().next() else {
                    break;
                };
                let started = std::time::Instant::now();
                let result = run(&sc);
                eprintln!(
                    "scenario {} {} ({:.1} s)",
                    sc.name,
                    if result.is_ok() { "ok" } else { "FAILED" },
                    started.elapsed().as_secs_f64()
                );
                if let Err(report) = result {
                    failures.lock().unwrap().push((sc.name, report));
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} scenario(s) failed:\n\n{}",
        failures.len(),
        failures
            .iter()
            .map(|(name, report)| format!("=== scenario {name}\n{report}"))
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

#[test]
fn date_placeholders() {
    let now = Utc.with_ymd_and_hms(2026, 11, 16, 10, 0, 0).unwrap(); // a Monday
    let utc: Tz = "UTC".parse().unwrap();
    let at = |s: &str| moment(s, now, utc).unwrap();
    assert_eq!(at("now"), now);
    assert_eq!(at("now-5h"), now - Duration::hours(5));
    assert_eq!(
        at("now-2d+30m"),
        now - Duration::days(2) + Duration::minutes(30)
    );
    // Monday minus 1 business day is Friday; minus 6 is the Friday before last.
    assert_eq!(at("now-1bd"), now - Duration::days(3));
    assert_eq!(at("now-6bd"), now - Duration::days(10));
    assert!(moment("now-2x", now, utc).is_err());
    assert!(moment("then", now, utc).is_err());
    let filled = fill_placeholders(b"Date: {{now-1d}}\r\n\xe4", now, utc).unwrap();
    assert_eq!(filled, b"Date: Sun, 15 Nov 2026 10:00:00 +0000\r\n\xe4");
    // Business days count in the mailbox's zone: Monday 00:30 in Tokyo is Sunday in UTC.
    let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
    let mon_tokyo = Utc.with_ymd_and_hms(2026, 11, 15, 15, 30, 0).unwrap();
    assert_eq!(
        moment("now-1bd", mon_tokyo, tokyo).unwrap(),
        mon_tokyo - Duration::days(3)
    );
}
