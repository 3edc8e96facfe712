use super::*;

#[allow(dead_code)]
mod fixture {
    use crate::report::*;
    include!("../../../tests/support/report.rs");
}

#[test]
fn durations_read_in_their_two_largest_units() {
    let cases = [
        (None, "-"),
        (Some(-5), "0s"),
        (Some(0), "0s"),
        (Some(45), "45s"),
        (Some(12 * 60 + 30), "12m"),
        (Some(3 * 3_600), "3h"),
        (Some(3 * 3_600 + 20 * 60), "3h 20m"),
        (Some(86_400), "1d"),
        (Some(2 * 86_400 + 4 * 3_600 + 59 * 60), "2d 4h"),
        (Some(400 * 86_400), "400d"),
    ];
    for (seconds, want) in cases {
        assert_eq!(duration(seconds), want, "{seconds:?}");
    }
}

#[test]
fn shares_are_whole_percentages_and_none_is_a_dash() {
    assert_eq!(share(Some(0.4)), "40%");
    assert_eq!(share(Some(0.926)), "93%");
    assert_eq!(share(Some(1.0)), "100%");
    assert_eq!(share(None), "-");
    assert_eq!(share(Some(f64::NAN)), "-");
}

#[test]
fn the_tables_show_the_reports_figures() {
    let out = render(&fixture::realistic(), false);
    // The window, and a block per mailbox after the overall one.
    assert!(
        out.contains("2026-09-02 12:00 UTC to 2026-12-01 12:00 UTC (90 days)"),
        "{out}"
    );
    let all = out.find("All mailboxes (2)").expect("overall block");
    let alice = out.find("alice: 9 deals").expect("alice's block");
    let bob = out.find("bob: 5 deals").expect("bob's block");
    assert!(all < alice && alice < bob, "{out}");
    // Our latency: p50 3h 20m, p90 1d 2h, the shares, waiting and oldest.
    let want = "  we answer    p50 3h 20m, p90 1d 2h; business hours p50 1h 6m, p90 8h 40m\n\
        \x20              within 1h 40%, within 1 business day 92%; 120 answered, 3 waiting (oldest 2d 4h)\n\
        \x20 they answer  p50 1d 2h, p90 5d, within 1h 10%; 75 answered, 6 waiting (oldest 9d)\n\
        \x20 needs reply  3 open, oldest 1d 3h; silent: 6 deals, oldest 12d\n\
        \x20 drafts       24 written: 12 sent as written, 6 sent edited, 3 ignored, 3 pending\n";
    assert!(
        out.contains(&format!("All mailboxes (2): 14 deals\n{want}")),
        "{out}"
    );
    // The stage table: every stage, with entered, median, p90, now, oldest, converted.
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("proposal"))
        .expect("the proposal row");
    let cells: Vec<_> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        ["proposal", "10", "11d", "33d", "4", "6d", "5h", "50%"],
        "{row}"
    );
    for stage in ["new", "qualified", "demo", "negotiation", "won", "lost"] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(stage)),
            "{stage}: {out}"
        );
    }
}

#[test]
fn stalls_and_attention_are_cut_to_the_top_few() {
    let report = fixture::realistic();
    let out = render(&report, false);
    let stalls = &out[out.find("Where momentum dies").expect("stalls")..];
    let stalls = &stalls[..stalls.find("Needs attention now").expect("attention")];
    // Six stalls in the report, five shown, in the report's rank order.
    let first = stalls.lines().nth(3).expect("the first stall row");
    assert!(first.trim_start().starts_with("proposal"), "{stalls}");
    assert!(first.contains("theirs (we waited)"), "{first:?}");
    let tail: Vec<_> = first.split_whitespace().rev().take(2).collect();
    assert_eq!(tail, ["16d", "5"], "{first:?}");
    assert!(stalls.contains("(no stage yet)"), "{stalls}");
    assert!(
        !stalls.lines().any(|l| l.trim_start().starts_with("new ")),
        "{stalls}"
    );
    let attention = &out[out.find("Needs attention now").expect("attention")..];
    // Header, rule, ten rows, and the line that says how many more.
    let rows = attention
        .lines()
        .skip(3)
        .take_while(|l| !l.contains("more"))
        .count();
    assert_eq!(rows, 10, "{attention}");
    assert!(attention.contains("... and 2 more"), "{attention}");
    assert!(attention.contains("Pricing for 40 seats"), "{attention}");
    assert!(attention.contains("needs reply"), "{attention}");
    assert!(attention.contains("14d 1h"), "{attention}");
}

#[test]
fn a_long_subject_is_cut_and_control_characters_do_not_reach_the_terminal() {
    let mut report = fixture::realistic();
    report.attention[2].subject = "Invoice\x1b[2J\x1b]0;pwned\x07 overdue\r\nnow".into();
    let out = render(&report, false);
    let long = fixture::LONG_SUBJECT;
    assert!(!out.contains(long), "{out}");
    let cut: String = long.chars().take(SUBJECT_CHARS - 1).collect();
    assert!(out.contains(&format!("{}…", cut.trim_end())), "{out}");
    assert!(
        !out.contains('\x1b') && !out.contains('\x07') && !out.contains('\r'),
        "{out:?}"
    );
    assert!(out.contains("Invoice [2J ]0;pwned  overdue"), "{out}");
}

#[test]
fn colour_only_when_asked() {
    let report = fixture::realistic();
    let plain = render(&report, false);
    assert!(!plain.contains('\x1b'), "{plain:?}");
    let coloured = render(&report, true);
    assert!(coloured.contains("\x1b[1;36mStages\x1b[0m"), "{coloured:?}");
    assert!(coloured.matches('\x1b').count() > 20, "{coloured:?}");
    // Without its escapes the coloured text is the plain one.
    let stripped = strip_ansi(&coloured);
    assert_eq!(stripped, plain);
}

#[test]
fn an_empty_report_shows_dashes_never_zero_durations() {
    let out = render(&fixture::empty(), false);
    let want = "alice: 0 deals\n\
        \x20 we answer    p50 -, p90 -; business hours p50 -, p90 -\n\
        \x20              within 1h -, within 1 business day -; 0 answered, 0 waiting\n\
        \x20 they answer  p50 -, p90 -, within 1h -; 0 answered, 0 waiting\n\
        \x20 needs reply  0 open, oldest -; silent: 0 deals, oldest -\n";
    assert!(out.contains(want), "{out}");
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("negotiation"))
        .expect("the negotiation row");
    let cells: Vec<_> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        ["negotiation", "0", "-", "-", "0", "-", "-"],
        "{row}"
    );
    assert!(
        out.contains("no deal went quiet or was lost in the window"),
        "{out}"
    );
    assert!(out.contains("nothing: every buyer has an answer"), "{out}");
    assert!(!out.contains("0s"), "{out}");
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn colour_is_wanted_only_on_a_terminal_without_no_color() {
    use std::ffi::OsStr;
    assert!(color_wanted(true, None));
    assert!(color_wanted(true, Some(OsStr::new(""))));
    assert!(!color_wanted(true, Some(OsStr::new("1"))));
    assert!(!color_wanted(false, None));
    assert!(!color_wanted(false, Some(OsStr::new(""))));
}
