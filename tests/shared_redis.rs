//! The shared token cache against real parts: a `redis-server` and oidc-provider started by each test
//! on 127.0.0.1, token requests counted by the server itself, real time and 5 s tokens.
//!
//! This binary has its own `main` (`harness = false`): besides running its tests one after another,
//! it is also the child replica the multi-process test spawns (the environment variable
//! [`CHILD_ENV`] selects that role), so the replicas are separate OS processes with their own
//! connections and their own clocks.

mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::AsyncCommands;
use serde_json::json;
use support::fault_proxy::{Fault, FaultProxy};
use support::redis::RedisServer;
use support::{Peer, jwt_part, wall_clock_secs};
use telnyx_oauth::provider::{ProviderStats, RefreshPolicy};
use telnyx_oauth::shared::{RedisStore, SealingKey, SharedCache};
use telnyx_oauth::{
    ClientAuth, ClientCredentials, ClientSecret, HttpClient, TokenEndpoint, TokenProvider,
};
use tokio::time::{Instant, sleep};

/// Set in a child replica's environment: JSON with `redis`, `token_url`, `seconds`, `callers`.
const CHILD_ENV: &str = "TELNYX_OAUTH_SHARED_REPLICA";
const LIFETIME: u64 = 5;
const NAMESPACE: &str = "it";

fn http() -> HttpClient {
    HttpClient::new().unwrap().allow_http_loopback(true)
}

fn key() -> SealingKey {
    SealingKey::new("it-key", [9; 32]).unwrap()
}

fn endpoint(token_url: &str) -> TokenEndpoint {
    TokenEndpoint::new_with_http(
        http(),
        token_url,
        ClientAuth::basic("basic-client", ClientSecret::new("basic-secret")),
    )
    .unwrap()
}

/// A client_credentials provider at `token_url`, sharing through its own connection to `redis`.
fn replica(token_url: &str, redis: Option<&str>, key: SealingKey) -> TokenProvider {
    let mut builder =
        TokenProvider::client_credentials(endpoint(token_url), ClientCredentials::new());
    if let Some(url) = redis {
        let store = RedisStore::open(url).unwrap();
        builder = builder.shared(SharedCache::new(store, key).namespace(NAMESPACE));
    }
    builder.build().unwrap()
}

/// What the callers of one replica saw.
#[derive(Default, serde::Serialize, serde::Deserialize, Debug)]
struct Seen {
    calls: u64,
    failed: u64,
    expired: u64,
}

/// `callers` tasks call `token()` every 20 ms for `seconds`; every answer must have life left, by the
/// provider's clock and by the server's own `exp`.
async fn call_for(provider: &TokenProvider, callers: usize, seconds: f64) -> Seen {
    let (calls, failed, expired) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (p, calls, failed, expired) = (
                provider.clone(),
                calls.clone(),
                failed.clone(),
                expired.clone(),
            );
            tokio::spawn(async move {
                while Instant::now() < until {
                    match p.token().await {
                        Ok(t) => {
                            let exp = jwt_part(t.access_token().secret(), 1)["exp"].as_u64();
                            if t.token().is_expired_at(Instant::now())
                                || exp.is_none_or(|e| e < wall_clock_secs())
                            {
                                expired.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    calls.fetch_add(1, Ordering::Relaxed);
                    sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    Seen {
        calls: calls.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        expired: expired.load(Ordering::Relaxed),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A plain connection for planting and inspecting keys with raw commands.
async fn raw_connection(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// The child replica: one provider, its callers, then one JSON line on stdout.
fn child(spec: &str) {
    let spec: serde_json::Value = serde_json::from_str(spec).expect("child spec");
    runtime().block_on(async {
        let provider = replica(
            spec["token_url"].as_str().unwrap(),
            Some(spec["redis"].as_str().unwrap()),
            key(),
        );
        let seen = call_for(
            &provider,
            spec["callers"].as_u64().unwrap() as usize,
            spec["seconds"].as_f64().unwrap(),
        )
        .await;
        let stats = provider.stats();
        println!(
            "{}",
            json!({ "seen": seen, "fetches": stats.fetches_ok, "adopted": stats.adopted,
                    "writes": stats.shared_writes, "store_failures": stats.store_failures })
        );
    });
}

/// 8 replicas as separate processes, each with its own Redis connection, × 100 callers, for four
/// 5 s lifetimes, against oidc-provider. The bar: the fleet costs what one replica alone costs (the
/// refresh policy refreshes at half the lifetime, so one replica fetches about twice per lifetime),
/// plus one — measured in the same run against a second oidc-provider.
fn eight_processes_share_one_token_and_cost_what_one_replica_costs() {
    let redis = RedisServer::start();
    let rt = runtime();
    let (peer, alone_peer) = (
        Peer::start_with(json!({ "accessTokenTTL": LIFETIME })),
        Peer::start_with(json!({ "accessTokenTTL": LIFETIME })),
    );
    let seconds = (4 * LIFETIME) as f64 + 1.0;
    let spec = json!({ "redis": redis.url(), "token_url": peer.token_url(), "seconds": seconds, "callers": 100 });
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(&exe)
                .env(CHILD_ENV, spec.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn a child replica")
        })
        .collect();
    let alone = rt.block_on(async {
        let p = replica(&alone_peer.token_url(), None, key());
        call_for(&p, 100, seconds).await
    });
    let mut fleet_adopted = 0;
    let mut fleet_writes = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a child replica failed: {}",
            out.status
        );
        let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("child output {e}: {}", String::from_utf8_lossy(&out.stdout))
        });
        let seen: Seen = serde_json::from_value(line["seen"].clone()).unwrap();
        assert!(seen.calls > 100 * 500, "{seen:?}");
        assert_eq!(seen.failed, 0, "failed calls: {line}");
        assert_eq!(seen.expired, 0, "expired tokens handed out: {line}");
        assert_eq!(line["store_failures"], 0, "{line}");
        fleet_adopted += line["adopted"].as_u64().unwrap();
        fleet_writes += line["writes"].as_u64().unwrap();
    }
    assert_eq!((alone.failed, alone.expired), (0, 0), "{alone:?}");
    let (fleet, one) = rt.block_on(async {
        (
            peer.count("/oauth/token").await,
            alone_peer.count("/oauth/token").await,
        )
    });
    println!(
        "    8 processes: {fleet} token requests; one replica alone: {one}; {fleet_writes} shared writes, {fleet_adopted} adoptions"
    );
    assert!(
        one <= 2 * 4 + 2,
        "one replica alone: {one} requests in {seconds} s"
    );
    assert!(
        fleet <= one + 1,
        "eight replicas: {fleet} token requests; one alone: {one}"
    );
    assert_eq!(fleet_writes, fleet, "every token fetched was shared");
    assert!(
        fleet_adopted >= 7 * fleet - 7,
        "{fleet_adopted} adoptions for {fleet} fetches"
    );
}

fn sum(providers: &[TokenProvider], f: impl Fn(&ProviderStats) -> u64) -> u64 {
    providers.iter().map(|p| f(&p.stats())).sum()
}

/// Redis killed mid-run and started again: no call fails, each replica fetches for itself while it is
/// down, and they share again once it is back.
fn redis_killed_and_restarted_costs_no_call_and_sharing_resumes() {
    let mut redis = RedisServer::start();
    let rt = runtime();
    let peer = Peer::start_with(json!({ "accessTokenTTL": LIFETIME }));
    rt.block_on(async {
        let providers: Vec<_> = (0..4)
            .map(|_| replica(&peer.token_url(), Some(&redis.url()), key()))
            .collect();
        let callers: Vec<_> = providers
            .iter()
            .map(|p| {
                let p = p.clone();
                tokio::spawn(async move { call_for(&p, 20, 24.0).await })
            })
            .collect();
        sleep(Duration::from_secs(7)).await;
        let (writes_up, adopted_up) = (
            sum(&providers, |s| s.shared_writes),
            sum(&providers, |s| s.adopted),
        );
        assert!(
            writes_up >= 2 && adopted_up >= 3 * writes_up - 3,
            "shared before the outage: {writes_up} writes, {adopted_up} adoptions"
        );
        let fetched = |ps: &[TokenProvider]| sum(ps, |s| s.fetches_ok - s.adopted);
        let fetched_up = fetched(&providers);
        redis.kill();
        sleep(Duration::from_secs(7)).await;
        let fetched_down = fetched(&providers) - fetched_up;
        for p in &providers {
            assert!(p.stats().store_failures >= 1, "{:?}", p.stats());
        }
        assert!(
            fetched_down >= 4,
            "each replica fetched for itself while Redis was down: {fetched_down}"
        );
        let (writes_down, adopted_down) = (
            sum(&providers, |s| s.shared_writes),
            sum(&providers, |s| s.adopted),
        );
        redis.restart();
        let seen: Vec<Seen> = {
            let mut seen = Vec::new();
            for c in callers {
                seen.push(c.await.unwrap());
            }
            seen
        };
        for s in &seen {
            assert!(s.calls > 20 * 500, "{s:?}");
            assert_eq!((s.failed, s.expired), (0, 0), "{s:?}");
        }
        let (writes, adopted) = (
            sum(&providers, |s| s.shared_writes),
            sum(&providers, |s| s.adopted),
        );
        assert!(
            writes > writes_down,
            "sharing resumed: writes {writes_down} -> {writes}"
        );
        assert!(
            adopted > adopted_down,
            "sharing resumed: adoptions {adopted_down} -> {adopted}"
        );
    });
}

/// 4 replicas sharing one refresh-token grant of a server that rotates the refresh token on every
/// refresh: 200 refresh cycles, forced from all four at once, with callers throughout. A superseded
/// refresh token would be answered `invalid_grant` (and oidc-provider then revokes the grant).
fn four_replicas_rotate_one_refresh_token_two_hundred_times_without_invalid_grant() {
    let redis = RedisServer::start();
    let rt = runtime();
    let peer = Peer::start_with(json!({ "rotateRefreshToken": true }));
    rt.block_on(async {
        let (endpoint, seed) = peer.refresh_grant().await;
        let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let providers: Vec<_> = (0..4)
            .map(|_| {
                let seen = seen.clone();
                TokenProvider::refresh_token(endpoint.clone(), seed.clone())
                    .unwrap()
                    .policy(RefreshPolicy::default().with_min_fetch_interval(Duration::ZERO))
                    .on_new_token(move |t| {
                        seen.lock()
                            .unwrap()
                            .push(t.refresh_token().unwrap().secret().to_owned());
                        Box::pin(async { Ok(()) })
                    })
                    .shared(
                        SharedCache::new(RedisStore::open(&redis.url()).unwrap(), key())
                            .namespace(NAMESPACE)
                            .subject("user-1"),
                    )
                    .build()
                    .unwrap()
            })
            .collect();
        let callers: Vec<_> = providers
            .iter()
            .map(|p| {
                let p = p.clone();
                tokio::spawn(async move {
                    for _ in 0..400 {
                        p.token().await.expect("callers always get a token");
                        sleep(Duration::from_millis(10)).await;
                    }
                })
            })
            .collect();
        let mut failures = Vec::new();
        let mut rounds = 0;
        while peer.count("/oauth/token").await < 201 && rounds < 1000 {
            rounds += 1;
            for outcome in support::refresh_all(&providers).await {
                if let Err(e) = outcome {
                    failures.push(e.to_string());
                }
            }
        }
        for c in callers {
            c.await.unwrap();
        }
        let rotations = peer.count("/oauth/token").await - 1;
        assert!(rotations >= 200, "{rotations} rotations in {rounds} rounds");
        assert!(
            failures.is_empty(),
            "{} failed refreshes: {:?}",
            failures.len(),
            &failures[..failures.len().min(3)]
        );
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen.len() as u64,
            rotations,
            "the hooks saw each new refresh token once"
        );
        let distinct: std::collections::HashSet<_> = seen.iter().collect();
        assert_eq!(distinct.len(), seen.len(), "no refresh token twice");
        // Every replica ends on the newest set, and it still works at the server.
        let last = seen.last().unwrap();
        for p in &providers {
            let t = p.token().await.unwrap();
            assert_eq!(t.token().refresh_token().unwrap().secret(), last);
        }
        providers[0]
            .refresh()
            .await
            .expect("the newest refresh token is still accepted");
        assert_eq!(
            sum(&providers, |s| s.shared_writes),
            rotations + 1,
            "every rotation (and the last check) was fetched under the lease and shared"
        );
    });
}

/// A replica that took the lease and died in the middle of its token request: the next replica waits
/// for the lease to run out (one lease time), then fetches; nobody fails.
fn a_lease_holder_killed_mid_fetch_costs_one_lease_time() {
    let redis = RedisServer::start();
    let rt = runtime();
    let peer = Peer::start();
    let upstream: std::net::SocketAddr = peer.issuer.trim_start_matches("http://").parse().unwrap();
    let proxy = rt.block_on(FaultProxy::start(upstream));
    let token_url = format!("http://{}/oauth/token", proxy.addr);
    let lease = Duration::from_secs(2);
    let shared = |redis: &str| {
        SharedCache::new(RedisStore::open(redis).unwrap(), key())
            .namespace(NAMESPACE)
            .lease_ttl(lease)
    };
    proxy.set(Fault::Hang);
    // The doomed replica runs on its own runtime, which is shut down while its request hangs.
    let doomed_rt = runtime();
    let started = std::time::Instant::now();
    doomed_rt.block_on(async {
        let doomed =
            TokenProvider::client_credentials(endpoint(&token_url), ClientCredentials::new())
                .shared(shared(&redis.url()))
                .build()
                .unwrap();
        let fetch = tokio::spawn(async move { doomed.token().await.map(|_| ()) });
        sleep(Duration::from_millis(300)).await;
        assert!(!fetch.is_finished(), "the request hangs at the proxy");
    });
    doomed_rt.shutdown_background();
    proxy.set(Fault::Pass);
    rt.block_on(async {
        let mut conn = raw_connection(&redis).await;
        let leases: Vec<String> = conn.keys(format!("{NAMESPACE}:*:lease")).await.unwrap();
        assert_eq!(leases.len(), 1, "the dead replica's lease is left behind");
        let survivor =
            TokenProvider::client_credentials(endpoint(&token_url), ClientCredentials::new())
                .shared(shared(&redis.url()))
                .build()
                .unwrap();
        survivor.token().await.expect("the survivor gets a token");
        let after = started.elapsed();
        assert!(
            after >= lease - Duration::from_millis(400)
                && after <= lease + Duration::from_millis(800),
            "took over after {after:?} (lease {lease:?})"
        );
        assert_eq!(survivor.stats().lease_waits, 1);
        assert_eq!(survivor.stats().shared_writes, 1);
        assert_eq!(
            peer.count("/oauth/token").await,
            1,
            "the hung request never reached the server"
        );
    });
}

/// Values that are not ours, or no longer open, planted with raw Redis commands: each is ignored and
/// replaced, and the replica after it adopts the replacement.
fn garbage_truncated_wrong_key_oversized_and_foreign_values_are_ignored_and_replaced() {
    let redis = RedisServer::start();
    let rt = runtime();
    let peer = Peer::start();
    rt.block_on(async {
        let mut conn = raw_connection(&redis).await;
        replica(&peer.token_url(), Some(&redis.url()), key())
            .token()
            .await
            .unwrap();
        let keys: Vec<String> = conn.keys(format!("{NAMESPACE}:*:token")).await.unwrap();
        let [token_key] = <[String; 1]>::try_from(keys).unwrap();
        assert!(
            !token_key.contains("basic-client"),
            "no client id in a key: {token_key}"
        );
        let good: Vec<u8> = conn.get(&token_key).await.unwrap();
        assert!(good.starts_with(b"1 "), "generation prefix");
        assert!(
            !String::from_utf8_lossy(&good).contains("eyJ"),
            "the token is sealed at rest"
        );
        // A value sealed under another key with the same id.
        let _: () = conn.del(&token_key).await.unwrap();
        replica(
            &peer.token_url(),
            Some(&redis.url()),
            SealingKey::new("it-key", [1; 32]).unwrap(),
        )
        .token()
        .await
        .unwrap();
        let wrong_key: Vec<u8> = conn.get(&token_key).await.unwrap();
        let ttl = 60_000u64;
        let mut oversized = b"3 ".to_vec();
        oversized.resize(70 * 1024, b'x');
        let mut wrong_generation = b"9 ".to_vec();
        wrong_generation.extend_from_slice(&good[2..]);
        let plants: Vec<(&str, Vec<Vec<u8>>)> = vec![
            (
                "garbage",
                vec![b"SET".to_vec(), b"5 not sealed at all".to_vec()],
            ),
            ("no generation", vec![b"SET".to_vec(), b"hello".to_vec()]),
            (
                "truncated",
                vec![b"SET".to_vec(), good[..good.len() / 2].to_vec()],
            ),
            ("wrong key", vec![b"SET".to_vec(), wrong_key]),
            ("wrong generation", vec![b"SET".to_vec(), wrong_generation]),
            ("oversized", vec![b"SET".to_vec(), oversized]),
            ("no expiry", vec![b"SET-PERSIST".to_vec(), good.clone()]),
            ("a hash", vec![b"HSET".to_vec()]),
        ];
        for (what, plant) in plants {
            let _: () = conn.del(&token_key).await.unwrap();
            match plant[0].as_slice() {
                b"SET" => {
                    let _: () = redis::cmd("SET")
                        .arg(&token_key)
                        .arg(&plant[1])
                        .arg("PX")
                        .arg(ttl)
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                }
                b"SET-PERSIST" => {
                    let _: () = conn.set(&token_key, &plant[1]).await.unwrap();
                }
                _ => {
                    let _: () = conn.hset(&token_key, "field", "value").await.unwrap();
                }
            }
            let requests = peer.count("/oauth/token").await;
            let victim = replica(&peer.token_url(), Some(&redis.url()), key());
            let token = victim
                .token()
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(
                peer.count("/oauth/token").await,
                requests + 1,
                "{what}: the bad value was not used"
            );
            assert!(
                victim.stats().unusable_values >= 1,
                "{what}: {:?}",
                victim.stats()
            );
            assert_eq!(victim.stats().shared_writes, 1, "{what}: replaced");
            let next = replica(&peer.token_url(), Some(&redis.url()), key());
            assert_eq!(
                next.token().await.unwrap().access_token().secret(),
                token.access_token().secret(),
                "{what}: the replacement is adopted"
            );
            assert_eq!(next.stats().adopted, 1, "{what}");
        }
    });
}

const TESTS: &[(&str, fn())] = &[
    (
        "eight_processes_share_one_token_and_cost_what_one_replica_costs",
        eight_processes_share_one_token_and_cost_what_one_replica_costs,
    ),
    (
        "redis_killed_and_restarted_costs_no_call_and_sharing_resumes",
        redis_killed_and_restarted_costs_no_call_and_sharing_resumes,
    ),
    (
        "four_replicas_rotate_one_refresh_token_two_hundred_times_without_invalid_grant",
        four_replicas_rotate_one_refresh_token_two_hundred_times_without_invalid_grant,
    ),
    (
        "a_lease_holder_killed_mid_fetch_costs_one_lease_time",
        a_lease_holder_killed_mid_fetch_costs_one_lease_time,
    ),
    (
        "garbage_truncated_wrong_key_oversized_and_foreign_values_are_ignored_and_replaced",
        garbage_truncated_wrong_key_oversized_and_foreign_values_are_ignored_and_replaced,
    ),
    (
        "the_dpop_replay_cache_is_shared_through_redis_and_survives_its_outage",
        the_dpop_replay_cache_is_shared_through_redis_and_survives_its_outage,
    ),
];

/// Two replicas' verifiers share their DPoP replay cache through redis-server: a proof accepted by one
/// is refused by the other; the record expires with the proof's window and names no `jti`. Redis
/// down: proofs are still checked (locally), no request fails because of the store.
fn the_dpop_replay_cache_is_shared_through_redis_and_survives_its_outage() {
    use telnyx_oauth::dpop::DpopKey;
    use telnyx_oauth::verify::{DpopPolicy, DpopReason, VerifyError};
    runtime().block_on(async {
        let mut redis = RedisServer::start();
        let replica = || async {
            let cache = SharedCache::new(RedisStore::open(&redis.url()).unwrap(), key())
                .namespace(NAMESPACE);
            support::dpop::verifier(DpopPolicy::default().with_shared_replay(&cache)).await
        };
        let (a, b) = (replica().await, replica().await);
        let key = DpopKey::generate(telnyx_oauth::SigningAlgorithm::ES256).unwrap();
        let token = support::dpop::bound_token(&key);
        let url = url::Url::parse("https://api.test/v1/things").unwrap();
        let get = http::Method::GET;
        let headers = support::dpop::proof_headers(&key, &get, &url, &token);
        a.verify_dpop::<serde_json::Value>(&token, &get, &url, &headers)
            .await
            .unwrap();
        assert_eq!(
            b.verify_dpop::<serde_json::Value>(&token, &get, &url, &headers)
                .await
                .unwrap_err(),
            VerifyError::Dpop(DpopReason::Replayed)
        );
        let mut conn = raw_connection(&redis).await;
        let keys: Vec<String> = conn.keys(format!("{NAMESPACE}:dpop-jti:*")).await.unwrap();
        assert_eq!(keys.len(), 1, "{keys:?}");
        let proof = headers["dpop"].to_str().unwrap();
        let jti = jwt_part(proof, 1)["jti"].as_str().unwrap().to_owned();
        assert!(!keys[0].contains(&jti));
        let pttl: i64 = conn.pttl(&keys[0]).await.unwrap();
        let lifetime = support::dpop::replay_lifetime().as_millis() as i64;
        assert!(pttl > lifetime - 5_000 && pttl <= lifetime, "{pttl} ms");

        // The store down: fresh proofs still pass, a replay to the same replica is still caught.
        redis.kill();
        let fresh = support::dpop::proof_headers(&key, &get, &url, &token);
        b.verify_dpop::<serde_json::Value>(&token, &get, &url, &fresh)
            .await
            .unwrap();
        assert_eq!(
            b.verify_dpop::<serde_json::Value>(&token, &get, &url, &fresh)
                .await
                .unwrap_err(),
            VerifyError::Dpop(DpopReason::Replayed)
        );
        // Back up: shared again.
        redis.restart();
        let deadline = Instant::now() + Duration::from_secs(10);
        let later = loop {
            let later = support::dpop::proof_headers(&key, &get, &url, &token);
            a.verify_dpop::<serde_json::Value>(&token, &get, &url, &later)
                .await
                .unwrap();
            let mut conn = raw_connection(&redis).await;
            let keys: Vec<String> = conn.keys(format!("{NAMESPACE}:dpop-jti:*")).await.unwrap();
            if !keys.is_empty() {
                break later;
            }
            assert!(Instant::now() < deadline, "sharing never resumed");
            sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(
            b.verify_dpop::<serde_json::Value>(&token, &get, &url, &later)
                .await
                .unwrap_err(),
            VerifyError::Dpop(DpopReason::Replayed)
        );
    });
}

/// Runs the tests whose names contain any filter argument (all without one), one after another: they
/// use real time and several servers each, so they would only slow each other down in parallel.
fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        return child(&spec);
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if std::env::args().any(|a| a == "--list") {
        for (name, _) in TESTS {
            println!("{name}: test");
        }
        return;
    }
    let chosen: Vec<_> = TESTS
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} tests", chosen.len());
    let mut failed = Vec::new();
    for (name, test) in &chosen {
        let started = std::time::Instant::now();
        let outcome = std::panic::catch_unwind(test);
        println!(
            "test {name} ... {} ({:.1} s)",
            if outcome.is_ok() { "ok" } else { "FAILED" },
            started.elapsed().as_secs_f64()
        );
        if outcome.is_err() {
            failed.push(*name);
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        chosen.len() - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        println!("failures: {failed:?}");
        std::process::exit(101);
    }
}
