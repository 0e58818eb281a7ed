//! TokenProvider against real servers: oidc-provider (counts kept by the server itself) and, for
//! outages on cue, a switchable local token endpoint. Real time, short token lifetimes.

mod support;

use std::time::Duration;

use support::fake_as::{FakeTokenServer, Mode};
use support::{Peer, jwt_part, wall_clock_secs};
use telnyx_oauth::provider::RefreshPolicy;
use telnyx_oauth::{
    ClientAuth, ClientCredentials, ClientSecret, HttpClient, TokenEndpoint, TokenProvider,
};
use tokio::time::{Instant, sleep};

fn http() -> HttpClient {
    HttpClient::new().unwrap().allow_http_loopback(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_callers_at_cold_start_hit_the_real_server_once() {
    let peer = Peer::start();
    let endpoint = TokenEndpoint::new_with_http(
        http(),
        &peer.token_url(),
        ClientAuth::basic("basic-client", ClientSecret::new("basic-secret")),
    )
    .unwrap();
    let provider =
        TokenProvider::client_credentials(endpoint, ClientCredentials::new().scope("read"))
            .build()
            .unwrap();
    let handles: Vec<_> = (0..10_000)
        .map(|_| {
            let p = provider.clone();
            tokio::spawn(async move { p.token().await.map(|t| t.generation()) })
        })
        .collect();
    for h in handles {
        assert_eq!(h.await.unwrap().unwrap(), 2);
    }
    assert_eq!(peer.count("/oauth/token").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_second_tokens_are_refreshed_ahead_through_three_cycles_without_callers_waiting() {
    let peer = Peer::start_with(serde_json::json!({ "accessTokenTTL": 5 }));
    let endpoint = TokenEndpoint::new_with_http(
        http(),
        &peer.token_url(),
        ClientAuth::basic("basic-client", ClientSecret::new("basic-secret")),
    )
    .unwrap();
    let provider = TokenProvider::client_credentials(endpoint, ClientCredentials::new())
        .build()
        .unwrap();
    let first = provider.token().await.unwrap();
    assert_eq!(first.token().expires_in(), Duration::from_secs(5));
    let waited_at_warmup = provider.stats().waited;
    let started = Instant::now();
    let mut generations = std::collections::BTreeSet::new();
    // A steady stream of callers for 11 s: a 5 s token is refreshed every ~2.5 s.
    while started.elapsed() < Duration::from_secs(11) {
        let t = provider.token().await.unwrap();
        assert!(
            t.expires_at() > Instant::now(),
            "an expired token was served"
        );
        let exp = jwt_part(t.access_token().secret(), 1)["exp"]
            .as_u64()
            .unwrap();
        assert!(exp >= wall_clock_secs(), "the server's own exp has passed");
        generations.insert(t.generation());
        sleep(Duration::from_millis(20)).await;
    }
    assert!(
        generations.len() >= 4,
        "at least three refresh cycles: {generations:?}"
    );
    let stats = provider.stats();
    assert_eq!(
        stats.waited, waited_at_warmup,
        "no caller waited after warm-up"
    );
    assert_eq!(stats.fetches_failed, 0);
    assert_eq!(peer.count("/oauth/token").await, stats.fetches_ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_refresh_tokens_survive_a_hundred_cycles_and_bursts() {
    let peer = Peer::start_with(serde_json::json!({ "rotateRefreshToken": true }));
    let (endpoint, seed) = peer.refresh_grant().await;
    let policy = RefreshPolicy::default().with_min_fetch_interval(Duration::ZERO);
    let provider = TokenProvider::refresh_token(endpoint, seed)
        .unwrap()
        .policy(policy)
        .build()
        .unwrap();
    let mut last_refresh_token = String::new();
    for cycle in 0..100 {
        // A burst: readers and several concurrent forced refreshes; refreshes must still go one at a time.
        let mut tasks = Vec::new();
        for i in 0..12 {
            let p = provider.clone();
            tasks.push(tokio::spawn(async move {
                if i % 4 == 0 {
                    p.refresh().await
                } else {
                    p.token().await
                }
            }));
        }
        for t in tasks {
            let t = t
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
            assert_eq!(jwt_part(t.access_token().secret(), 1)["sub"], "test-user");
        }
        let current = provider
            .refresh()
            .await
            .unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
        let rt = current.token().refresh_token().unwrap().secret().to_owned();
        assert_ne!(
            rt, last_refresh_token,
            "the server rotated the refresh token"
        );
        last_refresh_token = rt;
    }
    let stats = provider.stats();
    assert!(stats.fetches_ok >= 100, "{stats:?}");
    assert_eq!(stats.fetches_failed, 0, "no invalid_grant: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_while_the_token_is_valid_fails_no_caller_and_recovers_on_the_first_good_attempt()
{
    let mut server = FakeTokenServer::start(10).await;
    let endpoint = TokenEndpoint::new_with_http(
        http().with_timeout(Duration::from_millis(300)),
        &server.url(),
        ClientAuth::basic("c", ClientSecret::new("s")),
    )
    .unwrap();
    let policy = RefreshPolicy::default()
        .with_backoff_base(Duration::from_millis(100))
        .with_backoff_cap(Duration::from_millis(400))
        .with_attempt_timeout(Duration::from_millis(500))
        .with_min_fetch_interval(Duration::from_millis(50));
    let provider = TokenProvider::client_credentials(endpoint, ClientCredentials::new())
        .policy(policy)
        .jitter(|| 1.0)
        .build()
        .unwrap();
    assert_eq!(provider.token().await.unwrap().generation(), 2);
    let start = Instant::now();
    // The 10 s token is refreshed in the background at 5 s; the endpoint is down from 0.2 s to 7.8 s:
    // first 503s, then refused connections, then hanging requests.
    let plan = [
        (0.2, Mode::Unavailable),
        (5.8, Mode::Refuse),
        (6.8, Mode::Hang),
        (7.8, Mode::Ok),
    ];
    let mut next = 0;
    let mut recovered_at = None;
    while start.elapsed() < Duration::from_millis(9_000) {
        let elapsed = start.elapsed().as_secs_f64();
        if next < plan.len() && elapsed >= plan[next].0 {
            server.set_mode(plan[next].1).await;
            next += 1;
        }
        let t = provider
            .token()
            .await
            .expect("no caller may fail while the token is valid");
        assert!(t.expires_at() > Instant::now());
        if t.generation() == 3 && recovered_at.is_none() {
            recovered_at = Some(elapsed);
        }
        sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(next, plan.len());
    assert!(server.hits(Mode::Unavailable) >= 2, "several 503s");
    assert!(server.hits(Mode::Hang) >= 1, "at least one hanging attempt");
    let stats = provider.stats();
    assert!(stats.fetches_failed >= 4, "{stats:?}");
    let recovered_at = recovered_at.expect("a new token after the endpoint came back");
    // Back at 7.8 s: the hanging attempt then in flight ends within its 0.5 s timeout and the next
    // starts within the 0.4 s backoff cap (sooner once the mandatory window opens at 8.55 s).
    assert!(
        recovered_at < 7.8 + 0.5 + 0.4,
        "recovered at {recovered_at}"
    );
    assert_eq!(
        server.hits(Mode::Ok),
        2,
        "the first attempt after recovery succeeded"
    );
}

/// 3 providers × 8 callers against oidc-provider (10 s tokens) through a proxy that, once every
/// provider holds its first token, hangs, refuses or answers 503 for the rest of that token's life:
/// no call fails while the provider holds a usable token, and none is handed a token past its `exp`.
async fn no_call_fails_while_a_usable_token_exists(fault: support::fault_proxy::Fault) {
    use support::fault_proxy::FaultProxy;
    let peer = Peer::start_with(serde_json::json!({ "accessTokenTTL": 10 }));
    let upstream: std::net::SocketAddr = url::Url::parse(&peer.url("/"))
        .unwrap()
        .socket_addrs(|| None)
        .unwrap()[0];
    let proxy = FaultProxy::start(upstream).await;
    let token_url = peer
        .token_url()
        .replace(&upstream.to_string(), &proxy.addr.to_string());
    let policy = RefreshPolicy::default();
    let mut providers = Vec::new();
    for _ in 0..3 {
        let endpoint = TokenEndpoint::new_with_http(
            http(),
            &token_url,
            ClientAuth::basic("basic-client", ClientSecret::new("basic-secret")),
        )
        .unwrap();
        let p = TokenProvider::client_credentials(endpoint, ClientCredentials::new())
            .build()
            .unwrap();
        let first = p.token().await.unwrap();
        assert_eq!(first.token().expires_in(), Duration::from_secs(10));
        // The first token is handed out until this instant (its skew and remaining-life margins).
        let usable_until =
            first.expires_at() - policy.min_remaining.min(Duration::from_millis(500));
        providers.push((p, usable_until));
    }
    proxy.set(fault);
    let until = providers.iter().map(|(_, u)| *u).max().unwrap() + Duration::from_secs(1);
    let mut callers = Vec::new();
    for (p, usable_until) in &providers {
        for _ in 0..8 {
            let (p, usable_until) = (p.clone(), *usable_until);
            callers.push(tokio::spawn(async move {
                let (mut ok, mut failed_while_usable, mut max_wait) = (0u32, 0u32, Duration::ZERO);
                while Instant::now() < until {
                    let asked = Instant::now();
                    match p.token().await {
                        Ok(t) => {
                            ok += 1;
                            let exp = jwt_part(t.access_token().secret(), 1)["exp"]
                                .as_u64()
                                .unwrap();
                            assert!(exp >= wall_clock_secs(), "a token past its exp was served");
                        }
                        Err(_) if asked < usable_until => failed_while_usable += 1,
                        Err(_) => {}
                    }
                    if asked < usable_until {
                        max_wait = max_wait.max(asked.elapsed());
                    }
                    sleep(Duration::from_millis(10)).await;
                }
                (ok, failed_while_usable, max_wait)
            }));
        }
    }
    let mut served = 0;
    for c in callers {
        let (ok, failed, max_wait) = c.await.unwrap();
        assert_eq!(
            failed, 0,
            "{fault:?}: calls failed while a usable token existed"
        );
        // The bounded wait (1 s) plus scheduling slack on a loaded 2-core machine.
        assert!(
            max_wait < policy.max_wait + Duration::from_millis(500),
            "{fault:?}: {max_wait:?}"
        );
        served += ok;
    }
    assert!(served > 24 * 100, "{fault:?}: only {served} calls served");
    // The endpoint was only reached for the first tokens: every refresh hit the fault.
    assert_eq!(peer.count("/oauth/token").await, 3, "{fault:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_endpoint_fails_no_call_while_a_usable_token_exists() {
    no_call_fails_while_a_usable_token_exists(support::fault_proxy::Fault::Hang).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_endpoint_fails_no_call_while_a_usable_token_exists() {
    no_call_fails_while_a_usable_token_exists(support::fault_proxy::Fault::Refuse).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_endpoint_fails_no_call_while_a_usable_token_exists() {
    no_call_fails_while_a_usable_token_exists(support::fault_proxy::Fault::Unavailable).await;
}
