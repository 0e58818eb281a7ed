#![no_main]
//! See `telnyx_oauth::fuzzing::documents`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| telnyx_oauth::fuzzing::documents(data));
