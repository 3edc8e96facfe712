//! Standard output for the commands, quiet when the reader goes away: `tend status | head`
//! must stop printing, not panic with "Broken pipe" (std's `println!` does, exit 101). The
//! commands keep their `println!`/`print!`: `cli` shadows both with macros that come here.
//!
//! It does not exit the process: a command whose reader left still finishes what it does
//! (a store flushed, a lock released) and exits as it would have, printing nothing more.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout cannot be written: nothing more is tried.
static GONE: AtomicBool = AtomicBool::new(false);
/// Set when stdout failed for another reason than a closed pipe (a full disk): an exit status.
static FAILED: AtomicBool = AtomicBool::new(false);

/// Writes `args` (and a newline) to stdout; on a closed pipe, stops printing for good.
pub fn print(args: std::fmt::Arguments<'_>, newline: bool) {
    if GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| {
        if newline {
            out.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(err) = written {
        GONE.store(true, Ordering::Relaxed);
        if err.kind() != std::io::ErrorKind::BrokenPipe {
            FAILED.store(true, Ordering::Relaxed);
            eprintln!("tend: cannot write the output: {err}");
        }
    }
}

/// Did writing stdout fail other than by its reader closing the pipe?
pub fn failed() -> bool {
    FAILED.load(Ordering::Relaxed)
}
