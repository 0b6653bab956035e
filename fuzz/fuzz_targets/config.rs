#![no_main]
//! See `res_sticky::fuzzing::config` for what is fed and what is checked.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| res_sticky::fuzzing::config(data));
