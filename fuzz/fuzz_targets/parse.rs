//! Fuzz target `parse`: the checks live in `tend_fuzz::parse` (fuzz/src/lib.rs), shared with
//! tests/fuzz_regressions.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tend_fuzz::parse(data));
