//! The examples run for real: `manage_clients` against a local fake of the Telnyx API.

use std::process::Command;

use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn example(name: &str) -> std::path::PathBuf {
    // target/debug/deps/examples-… → target/debug/examples/<name>
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

/// The standard output of an example run that must have succeeded (else both outputs, in the panic).
fn succeeded(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn client(id: &str, name: &str) -> serde_json::Value {
    json!({"record_type": "oauth_client", "client_id": id, "name": name, "org_id": "o", "user_id": "u",
        "client_type": "confidential", "require_pkce": false, "created_at": "2025-09-10T12:00:00Z", "updated_at": "2025-09-10T12:00:00Z"})
}

#[tokio::test]
async fn manage_clients_lists_creates_updates_and_deletes() {
    let server = MockServer::start().await;
    let ok = |v: serde_json::Value| {
        ResponseTemplate::new(200).set_body_raw(v.to_string(), "application/json")
    };
    Mock::given(method("GET")).and(path("/v2/oauth_clients")).and(header("authorization", "Bearer test-key"))
        .respond_with(ok(json!({"data": [client("c1", "first"), client("c2", "second")], "meta": {"page_number": 1, "total_pages": 1}})))
        .expect(1).mount(&server).await;
    let mut created = client("new-1", "telnyx-oauth example");
    created["client_secret"] = json!("0123456789abcdef");
    Mock::given(method("POST"))
        .and(path("/v2/oauth_clients"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_raw(json!({"data": created}).to_string(), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/oauth_clients/new-1"))
        .respond_with(ok(
            json!({"data": client("new-1", "telnyx-oauth example (renamed)")}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v2/oauth_clients/new-1"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let out = tokio::task::spawn_blocking({
        let base = format!("{}/v2", server.uri());
        move || {
            Command::new(example("manage_clients"))
                .env("TELNYX_API_KEY", "test-key")
                .env("TELNYX_BASE_URL", base)
                .output()
                .expect("run the example (cargo test builds examples)")
        }
    })
    .await
    .unwrap();
    let stdout = succeeded(&out);
    assert!(
        stdout.contains("c1") && stdout.contains("(2 in all)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("created new-1 (secret shown once: 16 characters)"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("0123456789abcdef"),
        "the secret is never printed"
    );
    assert!(
        stdout.contains("renamed to \"telnyx-oauth example (renamed)\""),
        "{stdout}"
    );
    assert!(stdout.contains("deleted new-1"), "{stdout}");
}

#[test]
fn manage_clients_without_an_api_key_uses_the_dev_server_or_says_what_it_needs() {
    let out = Command::new(example("manage_clients"))
        .env_remove("TELNYX_API_KEY")
        .env_remove("TELNYX_BASE_URL")
        .output()
        .unwrap();
    if cfg!(feature = "dev-server") {
        let stdout = succeeded(&out);
        assert!(stdout.contains("using the embedded dev server"), "{stdout}");
        assert!(
            stdout.contains("(1 in all)") && stdout.contains("deleted "),
            "{stdout}"
        );
    } else {
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("TELNYX_API_KEY"));
    }
}

/// `shared_cache` against a real redis-server: the second replica adopts the first one's token.
#[cfg(all(feature = "redis", feature = "dev-server"))]
#[test]
fn shared_cache_shares_one_token_between_two_replicas_through_redis() {
    #[path = "support/redis.rs"]
    #[allow(dead_code)]
    mod redis_server;
    let redis = redis_server::RedisServer::start();
    let out = Command::new(example("shared_cache"))
        .env("REDIS_URL", redis.url())
        .output()
        .expect("run the example (cargo test builds examples)");
    let stdout = succeeded(&out);
    assert!(
        stdout.contains("replica a: fetched 1, shared 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("replica b: adopted 1, store failures 0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("same token: true; token requests: 1"),
        "{stdout}"
    );
}
