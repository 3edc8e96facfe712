//! Replays every input the fuzzers found (a crash, a timeout) through the same checks the fuzz
//! targets assert: `tests/fixtures/fuzz/<target>/<name>` goes to `fuzz/src/lib.rs`'s function
//! of that target. A new finding is a new file in its target's folder (`scripts/fuzz` says how).

use std::path::Path;
use std::time::{Duration, Instant};

#[path = "../fuzz/src/lib.rs"]
mod checks;

/// Slower than this on one input is a regression too: libFuzzer's `-timeout` in scripts/fuzz
/// is 10 s on an optimised build; the kept inputs take well under a second in a debug build,
/// so 20 s leaves room for a busy machine and still catches a quadratic step.
const SLOW: Duration = Duration::from_secs(20);

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return; // no finding kept for this target
    };
    let mut files: Vec<_> = entries
        .map(|e| e.expect("readable dir entry").path())
        .collect();
    files.sort();
    for file in files {
        let data = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let start = Instant::now();
        check(&data);
        let took = start.elapsed();
        assert!(took < SLOW, "{}: took {took:?}", file.display());
    }
}

#[test]
fn fuzz_parse_findings() {
    replay("parse", checks::parse);
}

#[test]
fn fuzz_html_to_text_findings() {
    replay("html_to_text", checks::html_to_text);
}

#[test]
fn fuzz_quote_findings() {
    replay("quote", checks::quote);
}

#[test]
fn fuzz_thread_resolve_findings() {
    replay("thread_resolve", checks::thread_resolve);
}

#[test]
fn fuzz_model_answer_findings() {
    replay("model_answer", checks::model_answer);
}
