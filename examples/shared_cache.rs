//! Two token providers — two replicas of a service — sharing one token through Redis: the first
//! fetches it, the second adopts it from the store without a token request of its own.
//!
//! ```sh
//! redis-server --port 6379 --save "" &          # any Redis or Valkey you can reach
//! cargo run --example shared_cache --features redis,dev-server
//! ```
//!
//! `REDIS_URL` picks the server (default `redis://127.0.0.1:6379/`); `TELNYX_OAUTH_SEALING_KEY` the
//! 32-byte sealing key, base64 (a fixed demo key otherwise — never do that in production: every
//! replica needs the same secret key, from your secret store). It starts the embedded dev server as
//! the authorization server, so it needs no credentials.

use telnyx_oauth::dev_server::DevServer;
use telnyx_oauth::shared::{RedisStore, SealingKey, SharedCache};
use telnyx_oauth::{
    ClientAuth, ClientCredentials, ClientSecret, HttpClient, TokenEndpoint, TokenProvider,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());
    let key = match std::env::var("TELNYX_OAUTH_SEALING_KEY") {
        Ok(b64) => SealingKey::from_base64("from-env", &b64)?,
        Err(_) => SealingKey::new("demo", [7; 32])?,
    };
    let dev = DevServer::start().await?;
    let (id, secret) = dev.add_client("shared-cache", &["read"]);
    let http = HttpClient::new()?.allow_http_loopback(true);
    let endpoint = TokenEndpoint::discover(
        http,
        dev.issuer(),
        ClientAuth::basic(id, ClientSecret::new(secret)),
    )
    .await?;

    // Each replica has its own connection; the store key is derived from the client, its scopes and
    // the token endpoint, so both find the same entry.
    let replica = || -> Result<TokenProvider, BoxError> {
        let store = RedisStore::open(&redis_url)?;
        let cache = SharedCache::new(store, key.clone()).namespace("shared-cache-example");
        Ok(TokenProvider::client_credentials(
            endpoint.clone(),
            ClientCredentials::new().scope("read"),
        )
        .shared(cache)
        .build()?)
    };
    let (a, b) = (replica()?, replica()?);
    let first = a.token().await?;
    let second = b.token().await?;
    let same = first.access_token().secret() == second.access_token().secret();
    let (sa, sb) = (a.stats(), b.stats());
    println!(
        "replica a: fetched {}, shared {}",
        sa.fetches_ok - sa.adopted,
        sa.shared_writes
    );
    println!(
        "replica b: adopted {}, store failures {}",
        sb.adopted, sb.store_failures
    );
    println!(
        "same token: {same}; token requests: {}",
        dev.token_requests()
    );
    if sa.store_failures + sb.store_failures > 0 {
        println!("Redis at {redis_url} did not answer: each replica fetched its own token");
    }
    Ok(())
}
