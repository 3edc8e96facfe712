//! `tend report`: the record built from the store (or, while `tend run` holds the store, the
//! record it last left in the state directory), the numbers over a window, and one of three
//! renderings: terminal tables, JSON, or a self-contained HTML page.

use crate::config::Config;
use crate::daemon;
use crate::record::Record;
use crate::report::{self, Report};
use crate::store;
use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use std::io::IsTerminal;
use std::path::Path;

/// A moment: a span back from `now` (`90d`, `12w`, `36h`), or a date (`2026-09-01`, 00:00
/// UTC) or an RFC 3339 time.
pub(super) fn parse_moment(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let text = text.trim();
    let unit = |c: char| match c {
        'h' => Some(3600),
        'd' => Some(86_400),
        'w' => Some(7 * 86_400),
        _ => None,
    };
    if let Some(last) = text.chars().last().filter(|c| unit(*c).is_some()) {
        let n: i64 = text[..text.len() - 1]
            .parse()
            .ok()
            .filter(|n| *n > 0 && *n <= 36_500)
            .with_context(|| format!("--since {text:?}: say a number of h, d or w, like 90d"))?;
        let secs = n * unit(last).unwrap_or(86_400);
        return Ok(now - chrono::Duration::seconds(secs));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(Utc.from_utc_datetime(&t));
        }
    }
    bail!("--since {text:?}: give a span like 90d, 12w or 36h, or a date like 2026-09-01")
}

/// The record as of `until`: built from the store, or the one `tend run` left while it holds
/// the store (saying how old it is on stderr; later mail in it is not left out).
pub(super) fn record(config: &Config, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<Record> {
    match super::owner::open_store(config, now) {
        Ok(store) => daemon::record::build(config, &store, until, until < now),
        Err(err) if store::is_locked(&err) || super::owner::is_foreign(&err) => {
            let path = daemon::record::snapshot_path(&config.state_dir);
            let bytes = std::fs::read(&path).with_context(|| {
                format!(
                    "{err:#}; and it has not written its record yet ({})",
                    path.display()
                )
            })?;
            let record: Record = serde_json::from_slice(&bytes)
                .with_context(|| format!("reading the record {}", path.display()))?;
            let age = now.timestamp() - record.built_at;
            eprintln!(
                "(tend run is active, or the store is the service's; this is the record it \
                 wrote {} s ago)",
                age.max(0)
            );
            Ok(record)
        }
        Err(err) => Err(err),
    }
}

/// What `tend report` was asked for.
pub(super) struct Asked<'a> {
    pub since: &'a str,
    pub until: Option<&'a str>,
    pub json: bool,
    pub html: Option<&'a Path>,
}

/// Runs `tend report`.
pub(super) fn run(config: &Config, asked: Asked, now: DateTime<Utc>) -> Result<()> {
    let until = match asked.until {
        Some(u) => parse_moment(u, now).context("--until")?.min(now),
        None => now,
    };
    let since = parse_moment(asked.since, until)?;
    if since >= until {
        bail!("--since must be before --until (or now)");
    }
    let record = record(config, until, now)?;
    let report: Report = report::numbers::compute(&record, &config.pipeline, since, until);
    let (json, html) = (asked.json, asked.html);
    if let Some(path) = html {
        let page = report::html::render(&report);
        daemon::record::write_atomic(path, page.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("writing the report as JSON")?
        );
    } else if html.is_none() {
        let color = report::term::color_wanted(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        );
        print!("{}", report::term::render(&report, color));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_spans_and_dates() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        assert_eq!(
            parse_moment("90d", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 9, 2, 12, 0, 0).unwrap()
        );
        assert_eq!(
            parse_moment("2w", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 17, 12, 0, 0).unwrap()
        );
        assert_eq!(
            parse_moment("2026-09-01", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(
            parse_moment("2026-09-01T08:00:00+02:00", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 9, 1, 6, 0, 0).unwrap()
        );
        for bad in ["", "d", "0d", "-3d", "90 days", "yesterday", "99999999d"] {
            assert!(parse_moment(bad, now).is_err(), "{bad}");
        }
    }
}
