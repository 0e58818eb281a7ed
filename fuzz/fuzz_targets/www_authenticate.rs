#![no_main]
//! See `telnyx_oauth::fuzzing::www_authenticate`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| telnyx_oauth::fuzzing::www_authenticate(data));
