#![no_main]
//! See `telnyx_oauth::fuzzing::verify`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| telnyx_oauth::fuzzing::verify(data));
