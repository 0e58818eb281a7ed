//! Shared test harness: the real authorization server peer and helpers around it.
#![allow(dead_code, unused_imports)]

pub mod dpop;
pub mod fake_as;
pub mod fault_proxy;
pub mod peer;
pub mod redis;
pub mod resource;
pub mod scripted;
pub mod verify_fixtures;

pub use peer::Peer;

/// Seconds since the Unix epoch, to compare with a token's own `exp`.
pub fn wall_clock_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Decodes the (unverified) JSON payload of a compact JWS, for asserting on claims in tests.
pub fn jwt_part(jwt: &str, index: usize) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').nth(index).expect("a JWS has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// Reads a key fixture from tests/interop/keys.
pub fn key_fixture(name: &str) -> telnyx_oauth::PrivateKeyBytes {
    let path = format!("{}/tests/interop/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    telnyx_oauth::PrivateKeyBytes::new(
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")),
    )
}

/// Forces a refresh on every provider at once (each on its own task) and returns each outcome, in order.
pub async fn refresh_all(
    providers: &[telnyx_oauth::TokenProvider],
) -> Vec<Result<std::sync::Arc<telnyx_oauth::CachedToken>, telnyx_oauth::Error>> {
    let tasks: Vec<_> = providers
        .iter()
        .map(|p| {
            let p = p.clone();
            tokio::spawn(async move { p.refresh().await })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await.expect("a refresh task does not panic"));
    }
    outcomes
}
