//! The HTML report opened in headless Chromium: the page loads with no console message (its
//! Content-Security-Policy turns any attempted fetch into one, so a clean log also means
//! nothing was fetched), the DOM Chromium built holds the four charts with drawn shapes and
//! the attention table, a hostile subject stayed text, and a screenshot is written for a
//! person to look at (kept with TEND_KEEP_REPORT_HTML=1; the path is printed).
//!
//! Chromium is required, not optional: scripts/test installs the Debian package `chromium`,
//! and without it these tests fail and say so.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tend::report::html;

#[allow(dead_code)]
mod fixture {
    use tend::report::*;
    include!("support/report.rs");
}

/// What one headless Chromium run left: the serialized DOM and the console lines of its log.
struct Run {
    dom: String,
    console: Vec<String>,
}

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser"] {
        if let Ok(found) = which(name) {
            return found;
        }
    }
    panic!(
        "chromium is not installed: run scripts/test, which installs the Debian package \
         `chromium` (or apt-get install chromium) and then runs these tests"
    );
}

fn which(name: &str) -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

/// Opens `page` in headless Chromium with `extra` arguments; its log goes to stderr, where
/// every console message (errors, CSP refusals) is an `INFO:CONSOLE` line.
fn open(dir: &Path, page: &Path, extra: &[String]) -> Run {
    let profile = dir.join("profile");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("stdout")).expect("stdout file"))
        .stderr(std::fs::File::create(dir.join("stderr")).expect("stderr file"))
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(status) => {
                assert!(status.success(), "chromium exited with {status}");
                break;
            }
            None if Instant::now() > deadline => {
                let _ = child.kill();
                panic!("chromium did not finish in 90 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    let dom = std::fs::read_to_string(dir.join("stdout")).expect("read the DOM");
    let log = std::fs::read_to_string(dir.join("stderr")).expect("read the log");
    let console = log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    Run { dom, console }
}

fn write_page(dir: &Path, name: &str, page: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, page).expect("write the page");
    path
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("tend-report-html-")
        .tempdir()
        .expect("temp dir")
}

/// Keeps the directory for a person to look at when asked to.
fn finish(dir: tempfile::TempDir) {
    if std::env::var_os("TEND_KEEP_REPORT_HTML").is_some() {
        eprintln!("kept: {}", dir.keep().display());
    }
}

#[test]
fn the_page_opens_in_chromium_with_every_chart_drawn_and_nothing_fetched() {
    let dir = temp_dir();
    let page = write_page(
        dir.path(),
        "report.html",
        &html::render(&fixture::realistic()),
    );
    let run = open(dir.path(), &page, &["--dump-dom".into()]);
    assert!(
        run.console.is_empty(),
        "console messages: {:#?}",
        run.console
    );

    let dom = &run.dom;
    assert!(
        dom.contains("<h1>tend report</h1>"),
        "no page in the DOM: {dom}"
    );
    let charts: Vec<&str> = dom.split("<figure class=\"chart\"").skip(1).collect();
    assert_eq!(charts.len(), 4, "{dom}");
    for kind in ["latency", "funnel", "time-in-stage", "stalls"] {
        let chart = charts
            .iter()
            .find(|c| c.starts_with(&format!(" data-chart=\"{kind}\"")))
            .unwrap_or_else(|| panic!("no {kind} chart"));
        let chart = &chart[..chart.find("</figure>").expect("closed figure")];
        assert!(chart.contains("<svg"), "{kind}: no svg");
        let shapes = ["<rect", "<path", "<polyline", "<line"]
            .iter()
            .map(|s| chart.matches(s).count())
            .sum::<usize>();
        assert!(shapes > 10, "{kind}: only {shapes} shapes");
        assert!(chart.contains("<text"), "{kind}: no labels");
    }

    let attention = &dom[dom
        .find("<table id=\"attention\">")
        .expect("attention table")..];
    let attention = &attention[..attention.find("</table>").expect("closed table")];
    assert_eq!(attention.matches("<tr class=").count(), 12, "{attention}");
    // The hostile subject is a cell's text, not markup Chromium parsed.
    assert!(attention.contains("&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!dom.contains("<script"), "a script element in the DOM");
    assert_eq!(dom.matches("<title>").count(), 1);

    // Nothing in the built DOM could fetch: no source, link or stylesheet address.
    let lower = dom.to_lowercase();
    for fetch in [" src=", " href=", "@import", "url(", "<link"] {
        assert!(!lower.contains(fetch), "{fetch} in the DOM");
    }

    let shot = dir.path().join("report.png");
    let run = open(
        dir.path(),
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1100,4200".into(),
        ],
    );
    assert!(
        run.console.is_empty(),
        "console messages: {:#?}",
        run.console
    );
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 50_000,
        "{} bytes",
        png.len()
    );
    finish(dir);
}

#[test]
fn the_empty_report_opens_cleanly_too() {
    let dir = temp_dir();
    let page = write_page(dir.path(), "empty.html", &html::render(&fixture::empty()));
    let run = open(dir.path(), &page, &["--dump-dom".into()]);
    assert!(
        run.console.is_empty(),
        "console messages: {:#?}",
        run.console
    );
    assert_eq!(run.dom.matches("<svg").count(), 4, "{}", run.dom);
    assert!(run.dom.contains("Nothing: every buyer has an answer"));
    finish(dir);
}

/// The log check above is only worth something if it sees what it looks for: a console error,
/// and a load our policy refused.
#[test]
fn the_log_check_sees_console_errors_and_refused_loads() {
    let dir = temp_dir();
    let page = html::render(&fixture::realistic()).replacen(
        "</body>",
        "<img src=\"missing.png\"><script>console.error(\"boom\")</script></body>",
        1,
    );
    let page = write_page(dir.path(), "bad.html", &page);
    let run = open(dir.path(), &page, &["--dump-dom".into()]);
    let refused = |what: &str| run.console.iter().any(|l| l.contains(what));
    assert!(refused("missing.png"), "{:#?}", run.console);
    assert!(refused("inline script"), "{:#?}", run.console);

    let open_page = write_page(
        dir.path(),
        "open.html",
        "<!DOCTYPE html><title>t</title><script>console.error(\"boom\")</script>",
    );
    let run = open(dir.path(), &open_page, &["--dump-dom".into()]);
    assert!(
        run.console.iter().any(|l| l.contains("boom")),
        "{:#?}",
        run.console
    );
    finish(dir);
}
