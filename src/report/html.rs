//! The HTML rendering of a [`Report`]: one self-contained page (inline CSS and inline SVG, no
//! script, font, image or stylesheet fetched from anywhere, and a Content-Security-Policy
//! that forbids every fetch) that a user opens offline or mails to a colleague. It holds the
//! terminal report's figures as tables, four charts (`charts`, drawn with plotters) and every
//! deal that needs attention. Every string from the report is escaped here: subjects, names
//! and domains come from mail and are hostile input. It computes nothing and writes no file.

use std::fmt::Write as _;

use super::term::{clean, duration, share, state, turn};
use super::{Latency, Report, Section};

mod charts;

/// The page's style; no `url(...)` and no `@import`, so it loads nothing.
const STYLE: &str = "
body { font: 15px/1.45 system-ui, sans-serif; color: #2d3748; margin: 2rem auto; max-width: 64rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #e2e8f0; padding-bottom: 0.2rem; }
.window { color: #718096; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-variant-numeric: tabular-nums; }
th, td { padding: 0.25rem 0.7rem; text-align: right; border-bottom: 1px solid #edf2f7; }
td { white-space: nowrap; }
th { background: #f7fafc; font-weight: 600; }
th:first-child, td:first-child, td.text { text-align: left; }
td.subject { text-align: left; max-width: 28rem; white-space: normal; overflow-wrap: anywhere; }
tr.all td { font-weight: 600; }
#attention th, #attention td, table.stalls th:nth-child(2), table.stalls td:nth-child(2) { text-align: left; }
#attention th:first-child, #attention td:first-child { text-align: right; }
tr.needs_reply td:nth-child(2) { color: #b7791f; font-weight: 600; }
figure.chart { margin: 1rem 0; }
figure.chart svg { max-width: 100%; height: auto; }
figcaption { color: #718096; font-size: 0.9rem; }
.note { color: #718096; font-size: 0.9rem; }
";

/// The report as one HTML page.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let w = &report.window;
    let since = w.since.format("%Y-%m-%d %H:%M UTC").to_string();
    let until = w.until.format("%Y-%m-%d %H:%M UTC").to_string();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>tend report {since} to {until}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>tend report</h1>\n<p class=\"window\">{since} to {until} ({} days)</p>\n",
        (w.until - w.since).num_days()
    );

    let overall = Section {
        name: "all mailboxes".into(),
        response_latency: report.response_latency.clone(),
        needs_reply: report.needs_reply.clone(),
        silent: report.silent.clone(),
        drafts: report.drafts.clone(),
        deals: report.mailboxes.iter().map(|m| m.deals).sum(),
    };
    let rows: Vec<&Section> = std::iter::once(&overall).chain(&report.mailboxes).collect();

    out.push_str("<h2>Response latency</h2>\n<h3>How quickly we answer buyers</h3>\n");
    latency_table(&mut out, &rows, |s| &s.response_latency.ours, true);
    out.push_str("<h3>How quickly buyers answer us</h3>\n");
    latency_table(&mut out, &rows, |s| &s.response_latency.theirs, false);
    let l = &report.response_latency;
    figure(
        &mut out,
        "latency",
        "Answered waits by how long they took, over every mailbox: ours (a buyer waited on us) \
         and theirs (we waited on a buyer).",
        charts::latency(&l.ours.histogram, &l.theirs.histogram),
    );

    out.push_str("<h2>Open items and drafts</h2>\n");
    open_table(&mut out, &rows);
    if !report.companies.is_empty() {
        out.push_str("<h3>Companies</h3>\n");
        company_table(&mut out, &report.companies);
    }

    out.push_str("<h2>Stages</h2>\n");
    figure(
        &mut out,
        "funnel",
        "The stage funnel: deals that entered each stage in the window.",
        charts::funnel(&report.stages),
    );
    figure(
        &mut out,
        "time-in-stage",
        "Time in stage of the deals that left it: median and p90 (\"-\": none left it yet).",
        charts::time_in_stage(&report.stages),
    );
    stage_table(&mut out, report);

    out.push_str("<h2>Where momentum dies</h2>\n");
    if report.stalls.is_empty() {
        out.push_str("<p class=\"note\">No deal went quiet or was lost in the window.</p>\n");
    }
    figure(
        &mut out,
        "stalls",
        "Deals that went quiet or were lost, by the stage they were in and whose turn it was, \
         with the median of how long the last gap sat.",
        charts::stalls(&report.stalls),
    );
    stall_table(&mut out, report);

    out.push_str("<h2>Deals that need attention now</h2>\n");
    attention_table(&mut out, report);
    out.push_str("</body>\n</html>\n");
    out
}

/// A chart in its figure; the class and `data-chart` let tests and readers find it.
fn figure(
    out: &mut String,
    kind: &str,
    caption: &str,
    drawn: Result<String, Box<dyn std::error::Error>>,
) {
    let _ = writeln!(out, "<figure class=\"chart\" data-chart=\"{kind}\">");
    match drawn {
        Ok(svg) => {
            // plotters' root element; the label names the chart for screen readers.
            let tag = format!(
                "<svg class=\"chart\" role=\"img\" aria-label=\"{}\" ",
                esc(caption)
            );
            out.push_str(&svg.replacen("<svg ", &tag, 1));
        }
        Err(err) => {
            let _ = write!(
                out,
                "<p class=\"note\">This chart could not be drawn: {}</p>",
                esc(&err.to_string())
            );
        }
    }
    let _ = writeln!(
        out,
        "\n<figcaption>{}</figcaption>\n</figure>",
        esc(caption)
    );
}

fn latency_table(
    out: &mut String,
    rows: &[&Section],
    pick: impl Fn(&Section) -> &Latency,
    business: bool,
) {
    let mut head = vec!["", "answered", "p50", "p90"];
    if business {
        head.extend(["business p50", "business p90"]);
    }
    head.extend([
        "within 1h",
        "within 1 business day",
        "waiting",
        "oldest waiting",
    ]);
    table_head(out, &head, "");
    for (i, s) in rows.iter().enumerate() {
        let l = pick(s);
        let mut cells = vec![
            l.answered.to_string(),
            duration(l.p50_seconds),
            duration(l.p90_seconds),
        ];
        if business {
            cells.extend([
                duration(l.business_p50_seconds),
                duration(l.business_p90_seconds),
            ]);
        }
        cells.extend([
            share(l.within_1h),
            share(l.within_1_business_day),
            l.waiting.to_string(),
            duration(l.oldest_waiting_seconds),
        ]);
        row(out, if i == 0 { "all" } else { "" }, &s.name, &cells);
    }
    out.push_str("</tbody></table>\n");
}

fn open_table(out: &mut String, rows: &[&Section]) {
    table_head(
        out,
        &[
            "",
            "deals",
            "needs reply",
            "oldest",
            "silent deals",
            "oldest",
            "drafts written",
            "sent as written",
            "sent edited",
            "ignored",
            "pending",
            "replaced",
        ],
        "",
    );
    for (i, s) in rows.iter().enumerate() {
        let d = &s.drafts;
        let cells = [
            s.deals.to_string(),
            s.needs_reply.open.to_string(),
            duration(s.needs_reply.oldest_seconds),
            s.silent.deals.to_string(),
            duration(s.silent.oldest_seconds),
            d.written.to_string(),
            d.sent_as_written.to_string(),
            d.sent_edited.to_string(),
            d.ignored.to_string(),
            d.pending.to_string(),
            d.replaced.to_string(),
        ];
        row(out, if i == 0 { "all" } else { "" }, &s.name, &cells);
    }
    out.push_str("</tbody></table>\n");
}

fn company_table(out: &mut String, companies: &[Section]) {
    table_head(
        out,
        &[
            "company",
            "deals",
            "our p50",
            "their p50",
            "needs reply",
            "silent deals",
        ],
        "",
    );
    for c in companies {
        let cells = [
            c.deals.to_string(),
            duration(c.response_latency.ours.p50_seconds),
            duration(c.response_latency.theirs.p50_seconds),
            c.needs_reply.open.to_string(),
            c.silent.deals.to_string(),
        ];
        row(out, "", &c.name, &cells);
    }
    out.push_str("</tbody></table>\n");
}

fn stage_table(out: &mut String, report: &Report) {
    table_head(
        out,
        &[
            "stage",
            "entered",
            "median",
            "p90",
            "now in it",
            "oldest",
            "converted",
        ],
        "",
    );
    for s in &report.stages {
        let cells = [
            s.entered.to_string(),
            duration(s.median_seconds),
            duration(s.p90_seconds),
            s.current.to_string(),
            duration(s.current_oldest_seconds),
            share(s.converted),
        ];
        row(out, "", &s.name, &cells);
    }
    out.push_str("</tbody></table>\n");
}

fn stall_table(out: &mut String, report: &Report) {
    if report.stalls.is_empty() {
        return;
    }
    table_head(
        out,
        &["stage", "whose turn", "deals", "median gap"],
        " class=\"stalls\"",
    );
    for s in &report.stalls {
        let stage = s.stage.as_deref().unwrap_or("(no stage yet)");
        let cells = [
            turn(&s.turn).to_string(),
            s.deals.to_string(),
            duration(s.median_gap_seconds),
        ];
        row(out, "", stage, &cells);
    }
    out.push_str("</tbody></table>\n");
}

fn attention_table(out: &mut String, report: &Report) {
    if report.attention.is_empty() {
        out.push_str(
            "<p class=\"note\">Nothing: every buyer has an answer and no deal sits quiet.</p>\n",
        );
        return;
    }
    table_head(
        out,
        &["waiting", "state", "stage", "company", "mailbox", "subject"],
        " id=\"attention\"",
    );
    for a in &report.attention {
        let _ = writeln!(
            out,
            "<tr class=\"{}\" data-deal=\"{}\"><td>{}</td><td class=\"text\">{}</td>\
             <td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td>\
             <td class=\"subject\">{}</td></tr>",
            if a.state == "needs_reply" {
                "needs_reply"
            } else {
                "quiet"
            },
            esc(&a.deal),
            duration(Some(a.waiting_seconds)),
            esc(state(&a.state)),
            esc(a.stage.as_deref().unwrap_or("-")),
            esc(a.company.as_deref().unwrap_or("-")),
            esc(&a.mailbox),
            esc(&clean(&a.subject, 200)),
        );
    }
    out.push_str("</tbody></table>\n");
}

/// `<table{attrs}><thead>...</thead><tbody>`; the caller closes it.
fn table_head(out: &mut String, head: &[&str], attrs: &str) {
    let _ = write!(out, "<table{attrs}><thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>\n");
}

/// A row: the name (escaped) in the first cell, then figures.
fn row(out: &mut String, class: &str, name: &str, cells: &[String]) {
    if class.is_empty() {
        out.push_str("<tr>");
    } else {
        let _ = write!(out, "<tr class=\"{class}\">");
    }
    let _ = write!(out, "<td>{}</td>", esc(name));
    for c in cells {
        let _ = write!(out, "<td>{}</td>", esc(c));
    }
    out.push_str("</tr>\n");
}

/// Text made inert in HTML content and in quoted attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline are not valid in HTML text.
            c if c.is_control() && c != '\t' && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
