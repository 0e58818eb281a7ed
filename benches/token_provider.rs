//! Warm `TokenProvider::token()` against the floor: a bare `ArcSwapOption::load_full()` of the same
//! kind of value, measured in the same run. Bar (DESIGN §6): ≤ 1.5 × the floor — for a provider with a
//! shared cache too, whose warm path must not touch the store.
//!
//! Also the cost of adopting a shared token: a cold provider's first `token()` that finds a fresh
//! value in the store (read, open, decode, publish), on an in-memory store and — with feature `redis`
//! — on a real `redis-server` on 127.0.0.1 (started by the bench, stopped at its end).
//!
//! Run: `cargo bench --bench token_provider --all-features`

use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use criterion::{Criterion, criterion_group, criterion_main};
use telnyx_oauth::provider::{BoxFuture, TokenSource};
use telnyx_oauth::shared::{MemoryStore, SealingKey, SharedCache, TokenStore};
use telnyx_oauth::{AccessToken, Error, Token, TokenProvider};

struct Static;

impl TokenSource for Static {
    fn fetch<'a>(&'a self, _: Option<&'a Token>) -> BoxFuture<'a, Result<Token, Error>> {
        Box::pin(async {
            Ok(Token::new(
                AccessToken::new("bench-token"),
                Duration::from_secs(3600),
                tokio::time::Instant::now(),
            ))
        })
    }
}

/// Polls the warm `token()` future once: on the warm path it is ready at once.
#[inline]
fn warm_token(provider: &TokenProvider, cx: &mut Context<'_>) -> Arc<telnyx_oauth::CachedToken> {
    match pin!(provider.token()).poll(cx) {
        Poll::Ready(Ok(t)) => t,
        _ => panic!("the warm path must be ready at once"),
    }
}

use std::future::Future;

fn contended(iters: u64, op: impl Fn() + Sync) -> Duration {
    let barrier = std::sync::Barrier::new(2);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        op();
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .max()
            .unwrap()
    })
}

#[cfg(feature = "redis")]
#[path = "../tests/support/redis.rs"]
#[allow(dead_code)]
mod redis_server;

fn shared(store: impl TokenStore) -> TokenProvider {
    let key = SealingKey::new("bench", [3; 32]).unwrap();
    TokenProvider::from_source(Static, None)
        .shared(SharedCache::new(store, key).subject("bench"))
        .build()
        .unwrap()
}

/// Medians of `rounds` alternating runs of `a` and `b`, `n` calls each: (a, b) in ns per call.
fn interleaved(rounds: usize, n: u32, mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..n {
            f();
        }
        start.elapsed().as_nanos() as f64 / f64::from(n)
    };
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ta.push(time(&mut a));
        tb.push(time(&mut b));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut ta), median(&mut tb))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let provider = TokenProvider::from_source(Static, None).build().unwrap();
    let warm = rt.block_on(provider.token()).unwrap();
    let floor = ArcSwapOption::new(Some(warm.clone()));
    let mut cx = Context::from_waker(Waker::noop());

    let mut g = c.benchmark_group("token_provider");
    g.bench_function("floor: ArcSwapOption::load_full", |b| {
        b.iter(|| black_box(floor.load_full()))
    });
    g.bench_function("warm token()", |b| {
        b.iter(|| black_box(warm_token(&provider, &mut cx)))
    });
    g.bench_function("floor, 2 threads", |b| {
        b.iter_custom(|iters| contended(iters, || drop(black_box(floor.load_full()))))
    });
    g.bench_function("warm token(), 2 threads", |b| {
        b.iter_custom(|iters| {
            contended(iters, || {
                let mut cx = Context::from_waker(Waker::noop());
                drop(black_box(warm_token(&provider, &mut cx)))
            })
        })
    });
    let store = Arc::new(MemoryStore::new());
    let with_store = shared(store.clone());
    rt.block_on(with_store.token()).unwrap();
    g.bench_function("warm token(), shared cache", |b| {
        b.iter(|| black_box(warm_token(&with_store, &mut cx)))
    });
    let (floor_ns, shared_ns) = interleaved(
        31,
        200_000,
        || drop(black_box(floor.load_full())),
        || drop(black_box(warm_token(&with_store, &mut cx))),
    );
    println!(
        "interleaved median: floor {floor_ns:.1} ns, warm token() with a shared cache {shared_ns:.1} ns, ratio {:.2}x",
        shared_ns / floor_ns
    );
    g.bench_function("adopt a shared token (in-memory store)", |b| {
        b.iter_batched(
            || {
                let _guard = rt.enter();
                shared(store.clone())
            },
            |p| {
                rt.block_on(p.token()).unwrap();
                assert_eq!(p.stats().adopted, 1);
                p
            },
            criterion::BatchSize::SmallInput,
        )
    });
    #[cfg(feature = "redis")]
    {
        let server = redis_server::RedisServer::start();
        // One connection per replica, connected before the measured call (as in a running service).
        let redis = || {
            let _guard = rt.enter();
            let store = telnyx_oauth::shared::RedisStore::open(&server.url()).unwrap();
            rt.block_on(store.read("bench:connect", 16)).unwrap();
            shared(store)
        };
        rt.block_on(redis().token()).unwrap();
        g.bench_function("adopt a shared token (redis-server on 127.0.0.1)", |b| {
            b.iter_batched(
                redis,
                |p| {
                    rt.block_on(p.token()).unwrap();
                    assert_eq!(p.stats().adopted, 1, "{:?}", p.stats());
                    p
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    g.finish();
    assert_eq!(
        provider.stats().fetches_ok,
        1,
        "the bench measured the warm path only"
    );
    drop(rt);
}

criterion_group!(benches, bench);
criterion_main!(benches);
