//! `tend report`, `tend explain` for a person or a company and `tend stage`, end to end: the
//! real binary over a real Dovecot with two teammates' mailboxes (alice and bob at acme.test)
//! holding the fixtures of `tests/fixtures/report/` (absolute dates, February and March 2026),
//! synced, then reported over the window [2026-01-01, 2026-04-01). The figures asserted here
//! were worked out by hand from the fixtures (see each comment); `report.golden.json` holds the
//! whole JSON as the version that wrote it printed it (`TEND_WRITE_GOLDEN=1` rewrites it).

mod support;

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use support::dovecot::Dovecot;
use support::llm::FakeLlm;
use support::service::{instant_model, Setup, Tend, NO_POLL};

const WINDOW: [&str; 4] = ["--since", "2026-01-01", "--until", "2026-04-01"];

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report")
}

/// Alice's and bob's mailboxes with the fixtures, and a config naming both.
fn world() -> (Dovecot, FakeLlm, Setup) {
    let d = Dovecot::start();
    let llm = instant_model();
    let setup = Setup::new(&llm, NO_POLL);
    for user in ["alice", "bob"] {
        d.add_user(user, "pw");
        for (dir, folder, flags) in [("inbox", "INBOX", "S"), ("sent", "Sent", "S")] {
            let path = fixtures().join(user).join(dir);
            let mut files: Vec<_> = std::fs::read_dir(&path)
                .map(|r| r.map(|e| e.unwrap().path()).collect())
                .unwrap_or_default();
            files.sort();
            for f in files {
                d.put(user, folder, &std::fs::read(f).unwrap(), flags);
            }
        }
        let pw = setup.path(&format!("mailboxes/{user}.password"));
        std::fs::write(&pw, "pw\n").unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        let text = format!(
            "addresses = [\"{user}@acme.test\"]\ninternal_domains = [\"acme.test\"]\n\
             timezone = \"UTC\"\n[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\n\
             username = \"{user}\"\npassword_file = \"{user}.password\"\n",
            d.port()
        );
        std::fs::write(setup.path(&format!("mailboxes/{user}.toml")), text).unwrap();
    }
    (d, llm, setup)
}

fn tend(setup: &Setup, args: &[&str]) -> Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("--config")
        .arg(setup.config())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    eprintln!(
        "tend {args:?} -> {}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ok(setup: &Setup, args: &[&str]) -> String {
    let out = tend(setup, args);
    assert!(out.status.success(), "tend {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

fn report(setup: &Setup) -> Value {
    let mut args = vec!["report", "--json"];
    args.extend(WINDOW);
    serde_json::from_str(&ok(setup, &args)).unwrap()
}

fn stage<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

#[test]
fn the_report_of_two_teammates_mailboxes_has_the_hand_checked_figures() {
    let (_d, _llm, setup) = world();
    ok(&setup, &["sync"]);
    let r = report(&setup);
    assert_eq!(r["window"]["since"], "2026-01-01T00:00:00Z");
    assert_eq!(r["window"]["until"], "2026-04-01T00:00:00Z");
    // Our waits: carol 2 Feb 09:00 -> alice 11:30 (9,000 s); carol Fri 6 Feb 16:00 -> alice
    // Mon 9 Feb 10:00 (237,600 s; in business hours Fri 16-17 and Mon 9-10: 7,200 s); dave Thu
    // 12 Feb 14:00 -> bob 14:20 (1,200 s); carol 2 Mar 09:00 -> sam, a colleague, 09:45 (2,700
    // s); pat Fri 20 Mar 17:30, unanswered at the window's end (973,800 s).
    let ours = &r["response_latency"]["ours"];
    assert_eq!(ours["answered"], 4);
    assert_eq!(ours["waiting"], 1);
    assert_eq!(ours["oldest_waiting_seconds"], 973_800);
    assert_eq!(ours["p50_seconds"], 2_700, "nearest rank: the 2nd of 4");
    assert_eq!(ours["p90_seconds"], 237_600);
    assert_eq!(ours["within_1h"], 0.5);
    assert_eq!(ours["within_1_business_day"], 1.0);
    assert_eq!(ours["business_p50_seconds"], 2_700);
    assert_eq!(ours["business_p90_seconds"], 9_000);
    // Theirs: alice 2 Feb 11:30 -> carol 6 Feb 16:00 (361,800 s); bob 10 Feb 08:00 -> dave 12
    // Feb 14:00 (194,400 s); alice's 9 Feb, bob's 12 Feb and sam's 2 Mar still waiting.
    let theirs = &r["response_latency"]["theirs"];
    assert_eq!(theirs["answered"], 2);
    assert_eq!(theirs["waiting"], 3);
    assert_eq!(theirs["p50_seconds"], 194_400);
    assert_eq!(theirs["p90_seconds"], 361_800);
    // Needs reply: pat's question. Silent: the invoice thread (sam's answer, 2 Mar 09:45, is
    // ours and older than three business days; not yet 30 days dark at the window's end).
    assert_eq!(r["needs_reply"]["open"], 1);
    assert_eq!(r["needs_reply"]["oldest_seconds"], 973_800);
    assert_eq!(r["silent"]["deals"], 1);
    assert_eq!(r["silent"]["oldest_seconds"], 2_556_900);
    // Four deals open "new" (the newsletter is none); the two quiet longest went dark: lost.
    assert_eq!(stage(&r, "new")["entered"], 4);
    assert_eq!(stage(&r, "lost")["entered"], 2);
    assert_eq!(r["drafts"]["written"], 0);
    // Per mailbox: alice owns three deals, bob one; the company is nordwind.example only
    // (pat writes from gmail.com, who stands alone).
    let mbs: Vec<(&str, u64)> = r["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m["deals"].as_u64().unwrap()))
        .collect();
    assert_eq!(mbs, [("alice", 3), ("bob", 1)]);
    let companies: Vec<&str> = r["companies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(companies, ["nordwind.example"]);

    let golden = fixtures().join("report.golden.json");
    let text = serde_json::to_string_pretty(&r).unwrap() + "\n";
    if std::env::var_os("TEND_WRITE_GOLDEN").is_some() {
        std::fs::write(&golden, &text).unwrap();
    }
    let want = std::fs::read_to_string(&golden)
        .expect("report.golden.json (write it with TEND_WRITE_GOLDEN=1)");
    assert_eq!(text, want, "tend report --json moved from the golden file");

    // The terminal tables and the HTML page render the same report.
    let mut args = vec!["report"];
    args.extend(WINDOW);
    let table = ok(&setup, &args);
    eprintln!("{table}");
    assert!(table.contains("alice") && table.contains("bob"), "{table}");
    assert!(!table.contains('\u{1b}'), "no colour without a terminal");
    let page = setup.path("report.html");
    let mut args = vec!["report", "--html", page.to_str().unwrap()];
    args.extend(WINDOW);
    ok(&setup, &args);
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(html.matches("<figure class=\"chart\"").count(), 4);
    assert!(html.contains("Question about licences"));
}

#[test]
fn explain_tells_a_companys_and_a_persons_story_across_mailboxes() {
    let (_d, _llm, setup) = world();
    ok(&setup, &["sync"]);
    let company = ok(&setup, &["explain", "nordwind.example"]);
    eprintln!("{company}");
    assert!(company.contains("2 people"), "{company}");
    assert!(company.contains("3 deals"), "{company}");
    for needle in [
        "[bob]",
        "[alice]",
        "colleague",
        "sam@acme.test",
        "went dark",
    ] {
        assert!(company.contains(needle), "{needle}: {company}");
    }
    let person = ok(&setup, &["explain", "<pat@gmail.com>"]);
    assert!(person.contains("company none (free mail)"), "{person}");
    assert!(person.contains("needs our reply"), "{person}");
    assert!(person.contains("flagged:"), "{person}");
    let out = tend(&setup, &["explain", "nobody@nowhere.example"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no contact or company"));
}

#[test]
fn a_stage_set_by_command_moves_the_deal_and_survives_a_rebuild_of_the_store() {
    let (_d, _llm, setup) = world();
    ok(&setup, &["sync"]);
    ok(
        &setup,
        &[
            "stage",
            "d1c@nordwind.example",
            "negotiation",
            "--note",
            "asked for 4,000",
        ],
    );
    let r = report(&setup);
    let negotiation = stage(&r, "negotiation");
    assert_eq!(negotiation["entered"], 1, "{negotiation}");
    // Rebuild: the store goes, the mailbox is synced again, the correction stays.
    std::fs::remove_dir_all(setup.path("state/db")).unwrap();
    ok(&setup, &["sync"]);
    let again = report(&setup);
    assert_eq!(stage(&again, "negotiation")["entered"], 1);
    assert_eq!(again["response_latency"], r["response_latency"]);
    let company = ok(&setup, &["explain", "nordwind.example"]);
    assert!(
        company.contains("negotiation (your correction): \"asked for 4,000\""),
        "{company}"
    );
}

#[test]
fn while_tend_run_holds_the_store_the_report_reads_the_record_it_left() {
    let (_d, _llm, setup) = world();
    let mut run = Tend::start(&setup.config());
    let record = setup.path("state/record.json");
    run.wait("the record snapshot", 60, |_| record.exists());
    let r = report(&setup);
    assert_eq!(r["response_latency"]["ours"]["answered"], 4);
    let out = tend(&setup, &["report", "--json"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("tend run is active"));
    run.stop();
}
