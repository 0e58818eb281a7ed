//! The shared token cache's protocol on tokio's paused clock: several providers over one in-memory
//! store and one scripted (or rotating) token source, counted. The same protocol against a real
//! `redis-server` and oidc-provider is in tests/shared_redis.rs.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::scripted::{Scripted, Shared, Step};
use telnyx_oauth::provider::{BoxFuture, RefreshPolicy, TokenSource};
use telnyx_oauth::shared::{
    MemoryStore, SealingKey, SharedCache, StoreError, Stored, TokenStore, WriteIf,
};
use telnyx_oauth::{AccessToken, Error, ErrorClass, RefreshToken, Token, TokenProvider};
use tokio::time::Instant;

const S: fn(u64) -> Duration = Duration::from_secs;

fn key() -> SealingKey {
    SealingKey::new("test-key", [42; 32]).unwrap()
}

fn cache(store: impl TokenStore) -> SharedCache {
    SharedCache::new(store, key()).subject("scripted")
}

fn replica(script: &Arc<Scripted>, store: impl TokenStore) -> TokenProvider {
    TokenProvider::from_source(Shared(script.clone()), None)
        .shared(cache(store))
        .build()
        .unwrap()
}

/// Callers on `providers` call `token()` every `every` until `until`; every answer must be a token
/// with life left. Returns the number of calls.
async fn call_until(
    providers: &[TokenProvider],
    callers: usize,
    every: Duration,
    until: Instant,
) -> u64 {
    let calls = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for p in providers {
        for _ in 0..callers {
            let (p, calls) = (p.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < until {
                    let t = p
                        .token()
                        .await
                        .expect("no call fails while a token can be had");
                    assert!(
                        !t.token().is_expired_at(Instant::now()),
                        "an expired token was handed out"
                    );
                    calls.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(every).await;
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    calls.load(Ordering::Relaxed)
}

/// The bar is "a fleet costs what one replica costs": the refresh policy refreshes a token at half its
/// lifetime (less jitter), so one replica alone fetches about twice per lifetime; eight sharing one
/// store must not fetch more than that one replica, plus one, in the same run.
#[tokio::test(start_paused = true)]
async fn eight_replicas_on_one_store_cost_what_one_replica_alone_costs() {
    let script = Arc::new(Scripted::new(
        [],
        Step::ok_after(60, Duration::from_millis(300)),
    ));
    let store = Arc::new(MemoryStore::new());
    let mut providers: Vec<_> = (0..8).map(|_| replica(&script, store.clone())).collect();
    let alone_script = Arc::new(Scripted::new(
        [],
        Step::ok_after(60, Duration::from_millis(300)),
    ));
    let alone = replica(&alone_script, Arc::new(MemoryStore::new()));
    providers.push(alone.clone());
    let lifetimes = 4;
    let calls = call_until(&providers, 100, S(1), Instant::now() + S(60 * lifetimes)).await;
    assert!(calls > 9 * 100 * 200, "{calls} calls");
    let (fleet, one) = (script.calls() as u64, alone_script.calls() as u64);
    assert!(
        one <= 2 * lifetimes + 1,
        "one replica: {one} requests for {lifetimes} lifetimes"
    );
    assert!(
        fleet <= one + 1,
        "{fleet} token requests from eight replicas, {one} from one alone, at {:?}",
        script.call_times()
    );
    providers.pop();
    let adopted: u64 = providers.iter().map(|p| p.stats().adopted).sum();
    let written: u64 = providers.iter().map(|p| p.stats().shared_writes).sum();
    assert_eq!(written, fleet, "every fetched token was shared");
    assert!(
        adopted >= 7 * written - 7,
        "{adopted} adoptions for {written} fetches"
    );
}

#[tokio::test(start_paused = true)]
async fn a_replica_that_finds_the_lease_taken_waits_and_adopts_the_holders_token() {
    let script = Arc::new(Scripted::new([], Step::ok_after(60, S(2))));
    let store = Arc::new(MemoryStore::new());
    let a = replica(&script, store.clone());
    let b = replica(&script, store.clone());
    let start = Instant::now();
    let (ta, tb) = tokio::join!(a.token(), b.token());
    let (ta, tb) = (ta.unwrap(), tb.unwrap());
    assert_eq!(script.calls(), 1);
    assert_eq!(ta.access_token().secret(), tb.access_token().secret());
    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!(sa.adopted + sb.adopted, 1);
    assert_eq!(sa.lease_waits + sb.lease_waits, 1);
    // The waiter saw the value within one poll interval of its write.
    assert!(Instant::now() - start <= S(2) + Duration::from_millis(50));
}

#[tokio::test(start_paused = true)]
async fn a_crashed_lease_holder_costs_at_most_one_lease_time_and_callers_keep_a_usable_token() {
    let script = Arc::new(Scripted::new([], Step::ok(60)));
    let store = Arc::new(MemoryStore::new());
    let first = replica(&script, store.clone());
    first.token().await.unwrap();
    drop(first);
    let token_key = store
        .keys()
        .into_iter()
        .find(|k| k.ends_with(":token"))
        .unwrap();
    let lease_key = token_key.replace(":token", ":lease");
    // Past the token's refresh point, a replica takes the lease and dies without giving it back.
    tokio::time::advance(S(40)).await;
    assert!(store.try_lease(&lease_key, "crashed", S(5)).await.unwrap());
    let second = replica(&script, store.clone());
    let start = Instant::now();
    let held = second.token().await.unwrap();
    assert_eq!(
        Instant::now(),
        start,
        "a usable shared token is served at once"
    );
    assert_eq!(held.access_token().secret(), "token-1");
    // Its refresh waits for the dead lease, then goes ahead.
    let mut replaced = None;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t = second.token().await.unwrap();
        if t.access_token().secret() != "token-1" {
            replaced = Some(Instant::now() - start);
            break;
        }
    }
    let after = replaced.expect("the refresh never happened");
    assert!(
        after >= Duration::from_millis(4900) && after <= S(5) + Duration::from_millis(200),
        "{after:?}"
    );
    assert_eq!(script.calls(), 2);
}

/// A store that can be switched to fail fast or to hang.
struct Flaky {
    inner: Arc<MemoryStore>,
    mode: Arc<Mutex<&'static str>>,
}

impl Flaky {
    fn gate<'a, T: Send + 'a>(
        &'a self,
        f: BoxFuture<'a, Result<T, StoreError>>,
    ) -> BoxFuture<'a, Result<T, StoreError>> {
        let mode = *self.mode.lock().unwrap();
        Box::pin(async move {
            match mode {
                "down" => Err(StoreError::new("connection refused")),
                "hang" => std::future::pending().await,
                _ => f.await,
            }
        })
    }
}

impl TokenStore for Flaky {
    fn read<'a>(
        &'a self,
        key: &'a str,
        max_len: usize,
    ) -> BoxFuture<'a, Result<Stored, StoreError>> {
        self.gate(self.inner.read(key, max_len))
    }
    fn try_lease<'a>(
        &'a self,
        k: &'a str,
        o: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.gate(self.inner.try_lease(k, o, ttl))
    }
    fn release<'a>(&'a self, k: &'a str, o: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.gate(self.inner.release(k, o))
    }
    fn write<'a>(&'a self, w: WriteIf<'a>) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.gate(self.inner.write(w))
    }
}

#[tokio::test(start_paused = true)]
async fn a_store_that_refuses_or_hangs_is_not_an_outage_and_sharing_resumes() {
    let script = Arc::new(Scripted::new([], Step::ok(60)));
    let store = Arc::new(MemoryStore::new());
    let mode = Arc::new(Mutex::new("hang"));
    let flaky = |m: &Arc<Mutex<&'static str>>| Flaky {
        inner: store.clone(),
        mode: m.clone(),
    };
    let a = replica(&script, flaky(&mode));
    let b = replica(&script, flaky(&mode));
    // Hanging store: each call gives up after the store timeout, then the fetch is local.
    let start = Instant::now();
    a.token().await.unwrap();
    assert!(
        Instant::now() - start <= Duration::from_millis(200),
        "one timed-out read, then local"
    );
    *mode.lock().unwrap() = "down";
    b.token().await.unwrap();
    assert_eq!(
        script.calls(),
        2,
        "no store: each replica fetched for itself"
    );
    assert!(a.stats().store_failures >= 1 && b.stats().store_failures >= 1);
    // Callers never notice the store while the tokens last.
    let calls = call_until(&[a.clone(), b.clone()], 10, S(1), Instant::now() + S(20)).await;
    assert!(calls >= 2 * 10 * 19);
    // The store is back: the next refresh is shared again. (A sleep, not `advance`, so that the
    // background refresh timers run when they are due, as they would on a real clock.)
    *mode.lock().unwrap() = "up";
    let calls_before = script.calls();
    // Past both replicas' refresh points (27–30 s), before the next ones.
    tokio::time::sleep(S(20)).await;
    let c = replica(&script, flaky(&mode));
    let (ta, tb, tc) = tokio::join!(a.token(), b.token(), c.token());
    let (ta, tb, tc) = (ta.unwrap(), tb.unwrap(), tc.unwrap());
    assert_eq!(
        script.calls(),
        calls_before + 1,
        "one fetch for the three, at {:?}",
        script.call_times()
    );
    assert_eq!(ta.access_token().secret(), tb.access_token().secret());
    assert_eq!(tb.access_token().secret(), tc.access_token().secret());
    let (sa, sb, sc) = (a.stats(), b.stats(), c.stats());
    assert_eq!(sa.shared_writes + sb.shared_writes, 1, "{sa:?} {sb:?}");
    assert_eq!(
        sa.adopted + sb.adopted + sc.adopted,
        2,
        "{sa:?} {sb:?} {sc:?}"
    );
}

/// A token endpoint that rotates refresh tokens and accepts only the newest one.
struct Rotating {
    latest: Mutex<u64>,
    rotations: AtomicU64,
    superseded: AtomicU64,
    slow: AtomicBool,
}

impl TokenSource for Rotating {
    fn fetch<'a>(&'a self, current: Option<&'a Token>) -> BoxFuture<'a, Result<Token, Error>> {
        Box::pin(async move {
            if self.slow.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            let presented = current
                .and_then(Token::refresh_token)
                .map(|r| r.secret().to_owned());
            let mut latest = self.latest.lock().unwrap();
            if presented != Some(format!("rt-{latest}")) {
                self.superseded.fetch_add(1, Ordering::Relaxed);
                return Err(Error::custom(
                    ErrorClass::Permanent,
                    "invalid_grant: superseded refresh token",
                ));
            }
            *latest += 1;
            self.rotations.fetch_add(1, Ordering::Relaxed);
            Ok(Token::new(
                AccessToken::new(format!("at-{latest}")),
                S(300),
                Instant::now(),
            )
            .with_refresh_token(RefreshToken::new(format!("rt-{latest}"))))
        })
    }
}

#[tokio::test(start_paused = true)]
async fn four_replicas_sharing_one_rotating_grant_never_send_a_superseded_refresh_token() {
    let server = Arc::new(Rotating {
        latest: Mutex::new(0),
        rotations: AtomicU64::new(0),
        superseded: AtomicU64::new(0),
        slow: AtomicBool::new(true),
    });
    struct Via(Arc<Rotating>);
    impl TokenSource for Via {
        fn fetch<'a>(&'a self, current: Option<&'a Token>) -> BoxFuture<'a, Result<Token, Error>> {
            self.0.fetch(current)
        }
    }
    let store = Arc::new(MemoryStore::new());
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let seed = Token::new(AccessToken::new("at-0"), S(300), Instant::now())
        .with_refresh_token(RefreshToken::new("rt-0"));
    let providers: Vec<_> = (0..4)
        .map(|_| {
            let seen = seen.clone();
            TokenProvider::from_source(Via(server.clone()), Some(seed.clone()))
                .policy(RefreshPolicy::default().with_min_fetch_interval(Duration::from_millis(10)))
                .on_new_token(move |t| {
                    seen.lock()
                        .unwrap()
                        .push(t.refresh_token().unwrap().secret().to_owned());
                    Box::pin(async { Ok(()) })
                })
                .shared(SharedCache::new(store.clone(), key()).subject("user-1"))
                .build()
                .unwrap()
        })
        .collect();
    // Concurrent callers all along, and forced refreshes from every replica at once.
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = Vec::new();
    for p in &providers {
        for _ in 0..5 {
            let (p, stop) = (p.clone(), stop.clone());
            callers.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    p.token().await.expect("callers always get a token");
                    tokio::time::sleep(Duration::from_millis(7)).await;
                }
            }));
        }
    }
    let mut rounds = 0;
    while server.rotations.load(Ordering::Relaxed) < 200 && rounds < 2000 {
        rounds += 1;
        for outcome in support::refresh_all(&providers).await {
            outcome.expect("a forced refresh succeeds (fetched or adopted)");
        }
    }
    stop.store(true, Ordering::Relaxed);
    for c in callers {
        c.await.unwrap();
    }
    assert!(
        server.rotations.load(Ordering::Relaxed) >= 200,
        "{rounds} rounds"
    );
    assert_eq!(
        server.superseded.load(Ordering::Relaxed),
        0,
        "a superseded refresh token was sent"
    );
    // The persistence hooks, fleet-wide, saw every new refresh token once, in order.
    let seen = seen.lock().unwrap().clone();
    let expected: Vec<String> = (1..=server.rotations.load(Ordering::Relaxed))
        .map(|n| format!("rt-{n}"))
        .collect();
    assert_eq!(seen, expected);
}

#[tokio::test(start_paused = true)]
async fn garbage_truncated_wrong_key_and_oversized_values_are_ignored_and_replaced() {
    let script = Arc::new(Scripted::new([], Step::ok(60)));
    let store = Arc::new(MemoryStore::new());
    replica(&script, store.clone()).token().await.unwrap();
    let token_key = store
        .keys()
        .into_iter()
        .find(|k| k.ends_with(":token"))
        .unwrap();
    let Stored::Value {
        bytes: good,
        generation,
        ..
    } = store.read(&token_key, 1 << 20).await.unwrap()
    else {
        panic!("no value written");
    };
    assert_eq!(generation, 1);
    let other_key = {
        let other = Arc::new(MemoryStore::new());
        TokenProvider::from_source(Shared(script.clone()), None)
            .shared(
                SharedCache::new(other.clone(), SealingKey::new("test-key", [7; 32]).unwrap())
                    .subject("scripted"),
            )
            .build()
            .unwrap()
            .token()
            .await
            .unwrap();
        match other.read(&token_key, 1 << 20).await.unwrap() {
            Stored::Value { bytes, .. } => bytes,
            other => panic!("{other:?}"),
        }
    };
    type Plant<'a> = Box<dyn Fn() + 'a>;
    let plants: Vec<(&str, Plant)> = vec![
        (
            "garbage",
            Box::new(|| store.plant(&token_key, 5, b"not sealed at all".to_vec(), S(60))),
        ),
        (
            "truncated",
            Box::new(|| store.plant(&token_key, 1, good[..good.len() / 2].to_vec(), S(60))),
        ),
        (
            "wrong key",
            Box::new(|| store.plant(&token_key, 1, other_key.clone(), S(60))),
        ),
        (
            "wrong generation",
            Box::new(|| store.plant(&token_key, 9, good.clone(), S(60))),
        ),
        (
            "oversized",
            Box::new(|| store.plant(&token_key, 1, vec![b'x'; 70 * 1024], S(60))),
        ),
        ("foreign", Box::new(|| store.plant_foreign(&token_key))),
    ];
    for (what, plant) in plants {
        plant();
        let calls = script.calls();
        let victim = replica(&script, store.clone());
        let token = victim
            .token()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            script.calls(),
            calls + 1,
            "{what}: the bad value was not used"
        );
        assert!(victim.stats().unusable_values >= 1, "{what}: counted");
        // Replaced: the next replica adopts the victim's token.
        let next = replica(&script, store.clone());
        assert_eq!(
            next.token().await.unwrap().access_token().secret(),
            token.access_token().secret(),
            "{what}: replaced by a good value"
        );
        assert_eq!(next.stats().adopted, 1, "{what}");
    }
}
