#![no_main]
//! See `telnyx_oauth::fuzzing::secret_in_token_response`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| telnyx_oauth::fuzzing::secret_in_token_response(data));
