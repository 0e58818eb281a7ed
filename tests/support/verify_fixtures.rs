//! The verifier's fixtures (`tests/fixtures/verify`): catalogues of tokens minted by an independent
//! JOSE implementation (`tests/interop/mint-hostile.mjs`), each case with the outcome it must get,
//! and the key sets that verify them.

use serde_json::Value;
use telnyx_oauth::verify::Verifier;

/// A fixture file, parsed.
pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/verify/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The token of the case called `name` in a catalogue (`tokens` is a parsed catalogue file).
pub fn case<'a>(tokens: &'a Value, name: &str) -> &'a str {
    tokens["tokens"]
        .as_array()
        .expect("a catalogue has tokens")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name}"))["token"]
        .as_str()
        .expect("a case has a token")
}

/// A verifier for `tokens.json`: its issuer, audience and key set, its clock at the catalogue's `now`.
pub async fn fixture_verifier() -> Verifier {
    let tokens = fixture("tokens.json");
    let now = tokens["now"].as_f64().expect("now");
    Verifier::builder()
        .issuer_with_jwks(
            tokens["issuer"].as_str().expect("issuer"),
            fixture("jwks.json"),
        )
        .audience(tokens["audience"].as_str().expect("audience"))
        .clock(move || now)
        .build()
        .await
        .expect("the fixture verifier")
}
