//! Fuzz target `model_answer`: the checks live in `tend_fuzz::model_answer` (fuzz/src/lib.rs), shared with
//! tests/fuzz_regressions.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tend_fuzz::model_answer(data));
