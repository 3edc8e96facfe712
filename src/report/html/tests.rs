use super::*;

#[allow(dead_code)]
mod fixture {
    use crate::report::*;
    include!("../../../tests/support/report.rs");
}

/// The `data-chart` kinds of the page's figures, in order.
fn charts(page: &str) -> Vec<&str> {
    page.split("<figure class=\"chart\" data-chart=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

#[test]
fn the_page_has_four_charts_each_an_svg_with_drawn_shapes() {
    let page = render(&fixture::realistic());
    assert_eq!(
        charts(&page),
        ["latency", "funnel", "time-in-stage", "stalls"]
    );
    for figure in page.split("<figure class=\"chart\"").skip(1) {
        let figure = &figure[..figure.find("</figure>").expect("closed figure")];
        assert!(figure.contains("<svg class=\"chart\""), "{figure}");
        assert!(figure.contains("</svg>"), "{figure}");
        // Bars are rects beyond the background's; axes are lines or paths; labels are text.
        assert!(figure.matches("<rect").count() > 3, "{figure}");
        assert!(figure.contains("<text"), "{figure}");
    }
}

#[test]
fn the_charts_carry_the_reports_labels_and_values() {
    let page = render(&fixture::realistic());
    let funnel = &page[page.find("data-chart=\"funnel\"").expect("funnel")..];
    let funnel = &funnel[..funnel.find("</figure>").expect("end")];
    for stage in [
        "new",
        "qualified",
        "demo",
        "proposal",
        "negotiation",
        "won",
        "lost",
    ] {
        assert!(funnel.contains(&format!(">\n{stage}\n</text>")), "{stage}");
    }
    assert!(
        funnel.contains(">\n40\n</text>") && funnel.contains(">\n28\n</text>"),
        "{funnel}"
    );
    let latency = &page[page.find("data-chart=\"latency\"").expect("latency")..];
    let latency = &latency[..latency.find("</figure>").expect("end")];
    for label in [
        "≤ 15m",
        "≤ 1h",
        "≤ 1d",
        "&gt; 1w",
        "we answered",
        "they answered",
    ] {
        assert!(latency.contains(label), "{label}: {latency}");
    }
    let stalls = &page[page.find("data-chart=\"stalls\"").expect("stalls")..];
    assert!(
        stalls.contains("proposal, buyer") && stalls.contains("5 (gap 16d)"),
        "{stalls}"
    );
}

#[test]
fn the_tables_hold_the_terminal_reports_figures() {
    let page = render(&fixture::realistic());
    assert!(page.contains("2026-09-02 12:00 UTC to 2026-12-01 12:00 UTC (90 days)"));
    // Our latency, overall: answered, p50, p90, business p50/p90, shares, waiting, oldest.
    assert!(page.contains(
        "<tr class=\"all\"><td>all mailboxes</td><td>120</td><td>3h 20m</td><td>1d 2h</td>\
         <td>1h 6m</td><td>8h 40m</td><td>40%</td><td>92%</td><td>3</td><td>2d 4h</td></tr>"
    ));
    assert!(page.contains("<tr><td>bob</td><td>25</td><td>1d 2h</td><td>5d</td>"));
    assert!(page.contains(
        "<tr><td>proposal</td><td>10</td><td>11d</td><td>33d</td><td>4</td><td>6d 5h</td><td>50%</td></tr>"
    ));
    assert!(page.contains("<tr><td>globex.example</td><td>4</td>"));
    assert!(
        page.contains("<td>(no stage yet)</td><td>theirs (we waited)</td><td>2</td><td>21d</td>")
    );
    // Every attention item, not only the terminal's top ten.
    let attention = &page[page
        .find("<table id=\"attention\">")
        .expect("attention table")..];
    let attention = &attention[..attention.find("</table>").expect("end")];
    assert_eq!(attention.matches("<tr class=").count(), 12);
    assert!(attention.contains(&esc(fixture::LONG_SUBJECT)));
}

#[test]
fn a_hostile_subject_comes_out_inert() {
    let mut report = fixture::realistic();
    report.attention[1].company = Some("\"><img src=x onerror=alert(2)>".into());
    report.mailboxes[0].name = "<b onmouseover=alert(3)>alice</b>".into();
    report.stages[0].name = "<script>alert(4)</script>".into();
    let page = render(&report);
    assert!(page.contains("&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_eq!(page.matches("<title>").count(), 1);
    assert_eq!(page.matches("</title>").count(), 1);
    assert!(page.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
    assert!(page.contains("&lt;b onmouseover=alert(3)&gt;alice&lt;/b&gt;"));
    for live in ["<script", "<img", "<b "] {
        assert!(!page.contains(live), "{live} is live in the page");
    }
    // The stage name reaches the SVG text too, escaped by plotters.
    assert!(page.contains(">\n&lt;script&gt;alert(4)&lt;"));
}

#[test]
fn the_page_fetches_nothing() {
    let page = render(&fixture::realistic());
    let lower = page.to_lowercase();
    for fetch in [
        "src=", "href=", "@import", "url(", "<link", "<script", "<iframe", "<object", "<img",
    ] {
        assert!(!lower.contains(fetch), "{fetch} in the page");
    }
    // The only addresses are SVG's namespace names, which no browser fetches.
    let mut rest = lower.as_str();
    while let Some(i) = rest.find("http:").or(rest.find("https:")) {
        let tail = &rest[i..];
        assert!(
            tail.starts_with("http://www.w3.org/2000/svg\"")
                || tail.starts_with("http://www.w3.org/1999/xlink\""),
            "a network address: {}",
            &tail[..tail.len().min(60)]
        );
        let before = &rest[..i];
        assert!(
            before.ends_with("xmlns=\"") || before.ends_with("xmlns:xlink=\""),
            "{before}"
        );
        rest = &tail[4..];
    }
    assert!(page.contains("content=\"default-src 'none'; style-src 'unsafe-inline'\""));
}

#[test]
fn an_empty_report_still_draws_every_chart_and_says_what_is_missing() {
    let page = render(&fixture::empty());
    assert_eq!(
        charts(&page),
        ["latency", "funnel", "time-in-stage", "stalls"]
    );
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 4);
    assert!(page.contains("No deal went quiet or was lost in the window."));
    assert!(page.contains("Nothing: every buyer has an answer"));
    assert!(!page.contains("id=\"attention\""));
    assert!(page.contains(
        "<tr class=\"all\"><td>all mailboxes</td><td>0</td><td>-</td><td>-</td><td>-</td><td>-</td>\
         <td>-</td><td>-</td><td>0</td><td>-</td></tr>"
    ));
}

#[test]
fn escaping_covers_text_and_attribute_quotes() {
    assert_eq!(esc("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
    assert_eq!(esc("x\u{1b}[31my\u{0}"), "x [31my ");
    assert_eq!(esc("line\nnext"), "line\nnext");
}

#[test]
fn extreme_figures_render_without_panicking() {
    let mut report = fixture::realistic();
    let l = &mut report.response_latency.ours;
    l.answered = u64::MAX;
    l.p50_seconds = Some(i64::MAX);
    l.p90_seconds = Some(i64::MIN);
    l.within_1h = Some(f64::NAN);
    l.within_1_business_day = Some(f64::INFINITY);
    l.histogram[0].count = u64::MAX;
    l.histogram[1].label = "<\u{0}\n".repeat(500);
    report.response_latency.theirs.histogram.clear();
    report.stages[0].entered = u64::MAX;
    report.stages[1].median_seconds = Some(i64::MAX);
    report.stages[1].p90_seconds = Some(i64::MAX);
    report.stages[2].median_seconds = Some(-86_400);
    report.stages[3].name = "名前".repeat(200);
    report.stalls[0].deals = u64::MAX;
    report.stalls = report.stalls.iter().cycle().take(300).cloned().collect();
    report.attention[0].waiting_seconds = i64::MIN;
    report.attention[1].subject = "x".repeat(100_000);
    let page = render(&report);
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 4);
    assert!(page.len() < 2_000_000, "{} bytes", page.len());
    let text = crate::report::term::render(&report, true);
    assert!(text.contains("Needs attention now"));

    let mut bare = fixture::empty();
    bare.stages.clear();
    bare.mailboxes.clear();
    bare.response_latency.ours.histogram.clear();
    bare.response_latency.theirs.histogram.clear();
    assert_eq!(render(&bare).matches("<svg class=\"chart\"").count(), 4);
    assert!(crate::report::term::render(&bare, false).contains("no stages configured"));
}
