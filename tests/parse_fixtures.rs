//! Data-driven tests for `parse`: every `tests/fixtures/parse/NNN-name.eml` is parsed and
//! compared with the `Email` in `NNN-name.json` beside it. A new case is a new pair of files.
//! `UPDATE_EXPECT=1 cargo test --test parse_fixtures` (re)writes the .json files; read every
//! one before committing it, since a wrong expectation is a defect.

use std::path::{Path, PathBuf};

use tend::parse::{parse, Email};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parse")
}

fn pretty(email: &Email) -> String {
    let mut s = serde_json::to_string_pretty(email).expect("Email serialises");
    s.push('\n');
    s
}

#[test]
fn parse_fixtures() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1");
    let mut emls: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("tests/fixtures/parse exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    emls.sort();
    assert!(!emls.is_empty(), "no .eml fixtures found");

    let mut failures = Vec::new();
    for eml in &emls {
        let name = eml.file_name().unwrap().to_string_lossy().into_owned();
        let raw = std::fs::read(eml).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = match parse(&raw) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("{name}: parse failed: {e}"));
                continue;
            }
        };
        let json_path = eml.with_extension("json");
        if update {
            std::fs::write(&json_path, pretty(&got)).unwrap_or_else(|e| panic!("{name}: {e}"));
            continue;
        }
        let want_text = match std::fs::read_to_string(&json_path) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!(
                    "{name}: no expectation {} ({e}); run with UPDATE_EXPECT=1 and review it",
                    json_path.display()
                ));
                continue;
            }
        };
        let want: Email = match serde_json::from_str(&want_text) {
            Ok(w) => w,
            Err(e) => {
                failures.push(format!("{name}: bad expectation JSON: {e}"));
                continue;
            }
        };
        if got != want {
            let (g, w) = (pretty(&got), pretty(&want));
            let diff: Vec<String> = w
                .lines()
                .zip(g.lines())
                .filter(|(a, b)| a != b)
                .map(|(a, b)| format!("    want {a}\n    got  {b}"))
                .collect();
            failures.push(format!(
                "{name}: parsed Email differs from {}\n{}\n  full result:\n{g}",
                json_path.file_name().unwrap().to_string_lossy(),
                diff.join("\n")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n\n{}",
        failures.len(),
        emls.len(),
        failures.join("\n\n")
    );
}
