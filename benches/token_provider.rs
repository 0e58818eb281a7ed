//! Warm `TokenProvider::token()` against the floor: a bare `ArcSwapOption::load_full()` of the same
//! kind of value, measured in the same run. Bar (DESIGN §6): ≤ 1.5 × the floor.
//!
//! Run: `cargo bench --bench token_provider`

use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use criterion::{Criterion, criterion_group, criterion_main};
use telnyx_oauth::provider::{BoxFuture, TokenSource};
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
