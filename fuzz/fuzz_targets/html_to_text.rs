//! Fuzz target `html_to_text`: the checks live in `tend_fuzz::html_to_text` (fuzz/src/lib.rs), shared with
//! tests/fuzz_regressions.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tend_fuzz::html_to_text(data));
