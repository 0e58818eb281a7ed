#![no_main]
//! See `telnyx_oauth::fuzzing::token_response`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| telnyx_oauth::fuzzing::token_response(data));
