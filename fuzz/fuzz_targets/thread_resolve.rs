//! Fuzz target `thread_resolve`: the checks live in `tend_fuzz::thread_resolve` (fuzz/src/lib.rs), shared with
//! tests/fuzz_regressions.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tend_fuzz::thread_resolve(data));
