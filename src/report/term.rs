//! The terminal rendering of a [`Report`]: a few lines of figures per mailbox and overall,
//! then the stage table, where momentum dies and the deals that need attention now, as plain
//! text with ANSI colour only when the caller asks for it (it knows whether stdout is a
//! terminal and whether NO_COLOR is set; this module does not look). It owns comfy-table and
//! the human forms of durations and shares that the HTML page shares. It computes nothing:
//! every figure comes from the `Report`.

use std::fmt::Write as _;

use comfy_table::{CellAlignment, LineStyle, Table, TableStyle};

use super::{Attention, Drafts, Latency, Report, Section, StageNumbers, Stall};

/// How many stalls and attention items the terminal shows (the HTML page shows them all).
const STALLS_SHOWN: usize = 5;
const ATTENTION_SHOWN: usize = 10;
/// Subjects are cut to this many characters so a row fits a terminal.
const SUBJECT_CHARS: usize = 44;

/// Whether to colour: only on a terminal, and never when NO_COLOR is set to a non-empty value
/// (no-color.org). The caller reads both; kept here so the rule has one home and a test.
///
/// The CLI: `color_wanted(stdout().is_terminal(), env::var_os("NO_COLOR").as_deref())`.
pub fn color_wanted(stdout_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stdout_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// The report as terminal text; ANSI colour only when `color` is true.
pub fn render(report: &Report, color: bool) -> String {
    let p = Paint(color);
    let mut out = String::new();
    let w = &report.window;
    let days = (w.until - w.since).num_days();
    let _ = writeln!(
        out,
        "{} {} to {} ({days} days)\n",
        p.heading("tend report:"),
        w.since.format("%Y-%m-%d %H:%M UTC"),
        w.until.format("%Y-%m-%d %H:%M UTC"),
    );

    let overall = Section {
        name: String::new(),
        response_latency: report.response_latency.clone(),
        needs_reply: report.needs_reply.clone(),
        silent: report.silent.clone(),
        drafts: report.drafts.clone(),
        deals: report.mailboxes.iter().map(|m| m.deals).sum(),
    };
    let title = format!("All mailboxes ({})", report.mailboxes.len());
    section(&mut out, &p, &title, &overall);
    for mailbox in &report.mailboxes {
        section(&mut out, &p, &clean(&mailbox.name, 60), mailbox);
    }

    let _ = writeln!(out, "{}", p.heading("Stages"));
    if report.stages.is_empty() {
        let _ = writeln!(out, "  no stages configured");
    } else {
        table(&mut out, &p, stage_table(&report.stages), |_| None);
    }

    let _ = writeln!(out, "\n{}", p.heading("Where momentum dies"));
    if report.stalls.is_empty() {
        let _ = writeln!(out, "  no deal went quiet or was lost in the window");
    } else {
        table(&mut out, &p, stall_table(&report.stalls), |_| None);
    }

    let _ = writeln!(out, "\n{}", p.heading("Needs attention now"));
    if report.attention.is_empty() {
        let _ = writeln!(
            out,
            "  nothing: every buyer has an answer and no deal sits quiet"
        );
    } else {
        let shown = &report.attention[..report.attention.len().min(ATTENTION_SHOWN)];
        table(&mut out, &p, attention_table(shown), |row| {
            shown.get(row).and_then(|a| match a.state.as_str() {
                "needs_reply" => Some(YELLOW),
                _ => None,
            })
        });
        if report.attention.len() > shown.len() {
            let more = report.attention.len() - shown.len();
            let _ = writeln!(
                out,
                "  ... and {more} more (tend report --html shows them all)"
            );
        }
    }
    out
}

/// One block of figures: a mailbox, or every mailbox. Labels are 13 wide, so a continued
/// line starts at column 15.
fn section(out: &mut String, p: &Paint, title: &str, s: &Section) {
    let _ = writeln!(out, "{}: {} deals", p.heading(title), s.deals);
    let ours = &s.response_latency.ours;
    let _ = writeln!(
        out,
        "  {}p50 {}, p90 {}; business hours p50 {}, p90 {}",
        p.label("we answer    "),
        duration(ours.p50_seconds),
        duration(ours.p90_seconds),
        duration(ours.business_p50_seconds),
        duration(ours.business_p90_seconds),
    );
    let _ = writeln!(
        out,
        "               within 1h {}, within 1 business day {}; {}",
        share(ours.within_1h),
        share(ours.within_1_business_day),
        waits(ours),
    );
    let theirs = &s.response_latency.theirs;
    let _ = writeln!(
        out,
        "  {}p50 {}, p90 {}, within 1h {}; {}",
        p.label("they answer  "),
        duration(theirs.p50_seconds),
        duration(theirs.p90_seconds),
        share(theirs.within_1h),
        waits(theirs),
    );
    let needs = format!(
        "{} open, oldest {}",
        s.needs_reply.open,
        duration(s.needs_reply.oldest_seconds)
    );
    let needs = if s.needs_reply.open > 0 {
        p.paint(YELLOW, &needs)
    } else {
        needs
    };
    let _ = writeln!(
        out,
        "  {}{needs}; silent: {} deals, oldest {}",
        p.label("needs reply  "),
        s.silent.deals,
        duration(s.silent.oldest_seconds),
    );
    let _ = writeln!(
        out,
        "  {}{}\n",
        p.label("drafts       "),
        drafts_line(&s.drafts)
    );
}

/// "120 answered, 3 waiting (oldest 2d 4h)".
fn waits(l: &Latency) -> String {
    let mut line = format!("{} answered, {} waiting", l.answered, l.waiting);
    if l.waiting > 0 {
        let _ = write!(line, " (oldest {})", duration(l.oldest_waiting_seconds));
    }
    line
}

fn drafts_line(d: &Drafts) -> String {
    let mut line = format!(
        "{} written: {} sent as written, {} sent edited, {} ignored, {} pending",
        d.written, d.sent_as_written, d.sent_edited, d.ignored, d.pending
    );
    if d.replaced > 0 {
        let _ = write!(line, ", {} replaced by a newer draft", d.replaced);
    }
    line
}

fn stage_table(stages: &[StageNumbers]) -> Table {
    let mut t = new_table(&[
        "stage",
        "entered",
        "median",
        "p90",
        "now in it",
        "oldest",
        "converted",
    ]);
    for s in stages {
        t.add_row(vec![
            clean(&s.name, 24),
            s.entered.to_string(),
            duration(s.median_seconds),
            duration(s.p90_seconds),
            s.current.to_string(),
            duration(s.current_oldest_seconds),
            share(s.converted),
        ]);
    }
    right_align(&mut t, 1..7);
    t
}

fn stall_table(stalls: &[Stall]) -> Table {
    let mut t = new_table(&["stage", "whose turn", "deals", "median gap"]);
    for s in stalls.iter().take(STALLS_SHOWN) {
        t.add_row(vec![
            s.stage
                .as_deref()
                .map_or("(no stage yet)".into(), |n| clean(n, 24)),
            turn(&s.turn).to_string(),
            s.deals.to_string(),
            duration(s.median_gap_seconds),
        ]);
    }
    right_align(&mut t, 2..4);
    t
}

fn attention_table(items: &[Attention]) -> Table {
    let mut t = new_table(&["waiting", "state", "stage", "company", "mailbox", "subject"]);
    for a in items {
        t.add_row(vec![
            duration(Some(a.waiting_seconds)),
            state(&a.state).to_string(),
            a.stage.as_deref().map_or("-".into(), |n| clean(n, 16)),
            a.company.as_deref().map_or("-".into(), |c| clean(c, 24)),
            clean(&a.mailbox, 20),
            clean(&a.subject, SUBJECT_CHARS),
        ]);
    }
    right_align(&mut t, 0..1);
    t
}

/// Who owed the next message, in words.
pub(crate) fn turn(turn: &str) -> &str {
    match turn {
        "ours" => "ours (buyer waited)",
        "theirs" => "theirs (we waited)",
        other => other,
    }
}

/// A deal's state, in words.
pub(crate) fn state(state: &str) -> &str {
    match state {
        "needs_reply" => "needs reply",
        "quiet" => "quiet",
        other => other,
    }
}

/// A table with a header row and a rule under it, no other lines.
fn new_table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(TableStyle::new().header_separator(LineStyle::none().fill('─').junction('─')));
    t.set_header(header.to_vec());
    t
}

fn right_align(t: &mut Table, columns: std::ops::Range<usize>) {
    for i in columns {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// Appends the table indented, its header bold, and a row coloured where `row_color` says.
/// A cell never holds a newline (`clean`), so line `2 + i` is row `i`.
fn table(out: &mut String, p: &Paint, t: Table, row_color: impl Fn(usize) -> Option<&'static str>) {
    for (i, line) in t.lines().enumerate() {
        let line = line.trim_end();
        let line = match i {
            0 => p.paint(BOLD, line),
            1 => p.paint(DIM, line),
            _ => match row_color(i - 2) {
                Some(code) => p.paint(code, line),
                None => line.to_string(),
            },
        };
        let _ = writeln!(out, " {line}");
    }
}

/// A duration in the largest two units: "45s", "12m", "3h 20m", "2d 4h"; `None` is "-".
pub(crate) fn duration(seconds: Option<i64>) -> String {
    let Some(s) = seconds else {
        return "-".into();
    };
    let s = s.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// A share as a whole percentage: "82%"; `None` is "-".
pub(crate) fn share(f: Option<f64>) -> String {
    match f {
        Some(f) if f.is_finite() => format!("{:.0}%", (f * 100.0).clamp(0.0, 100.0)),
        _ => "-".into(),
    }
}

/// Mail text made safe for one terminal line: control characters (an escape sequence in a
/// subject would drive the terminal) become spaces, and it is cut to `max` characters.
pub(crate) fn clean(s: &str, max: usize) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let s = s.trim();
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

const BOLD: &str = "1";
const DIM: &str = "2";
const YELLOW: &str = "33";
const CYAN: &str = "1;36";

/// ANSI colour, or nothing when colour is off.
struct Paint(bool);

impl Paint {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn heading(&self, text: &str) -> String {
        self.paint(CYAN, text)
    }

    fn label(&self, text: &str) -> String {
        self.paint(BOLD, text)
    }
}

#[cfg(test)]
mod tests;
