//! Per-request cost of `Bearer<S>` around a trivial inner service, against tower-http's static-header
//! `AddAuthorizationLayer::bearer` (the floor) and against no layer at all, in the same run.
//! Bar (DESIGN §6): the layer's added cost ≤ 1.5 × the floor's added cost.
//!
//! A retry after a 401 needs every request kept until its response is seen, so the default
//! (retrying) layer is also compared with what the same capability costs built from tower's own
//! parts: the static header inside `tower::retry::Retry` with a policy that copies each request and
//! retries one 401.
//!
//! Run: `cargo bench --bench bearer`

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response, Uri};
use http_body_util::Empty;
use telnyx_oauth::bearer::BearerLayer;
use telnyx_oauth::provider::{BoxFuture, TokenSource};
use telnyx_oauth::{AccessToken, Error, Token, TokenProvider};
use tower::retry::{Policy, Retry};
use tower::{Layer, Service, service_fn};
use tower_http::auth::AddAuthorizationLayer;

struct Static;

impl TokenSource for Static {
    fn fetch<'a>(&'a self, _: Option<&'a Token>) -> BoxFuture<'a, Result<Token, Error>> {
        Box::pin(async {
            Ok(Token::new(
                AccessToken::new("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2lnbmF0dXJl"),
                Duration::from_secs(3600),
                tokio::time::Instant::now(),
            ))
        })
    }
}

/// tower's retry, set up the way a user would for "send again once after a 401".
#[derive(Clone)]
struct RetryOnce401 {
    retried: bool,
}

impl<E> Policy<Request<Empty<Bytes>>, Response<()>, E> for RetryOnce401 {
    type Future = std::future::Ready<()>;

    fn retry(
        &mut self,
        _: &mut Request<Empty<Bytes>>,
        result: &mut Result<Response<()>, E>,
    ) -> Option<Self::Future> {
        match result {
            Ok(r) if r.status() == 401 && !self.retried => {
                self.retried = true;
                Some(std::future::ready(()))
            }
            _ => None,
        }
    }

    fn clone_request(&mut self, req: &Request<Empty<Bytes>>) -> Option<Request<Empty<Bytes>>> {
        let mut copy = Request::new(Empty::new());
        *copy.method_mut() = req.method().clone();
        *copy.uri_mut() = req.uri().clone();
        *copy.version_mut() = req.version();
        *copy.headers_mut() = req.headers().clone();
        *copy.extensions_mut() = req.extensions().clone();
        Some(copy)
    }
}

fn request() -> Request<Empty<Bytes>> {
    let mut req = Request::new(Empty::new());
    *req.uri_mut() = Uri::from_static("http://127.0.0.1/resource");
    req
}

/// One request through `svc`, polled by hand: every service here completes at once.
#[inline]
fn one<S>(svc: &mut S, cx: &mut Context<'_>) -> Response<()>
where
    S: Service<Request<Empty<Bytes>>, Response = Response<()>>,
    S::Error: std::fmt::Debug,
{
    let _ = svc.poll_ready(cx);
    match pin!(svc.call(request())).poll(cx) {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("not ready"),
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let provider = TokenProvider::from_source(Static, None).build().unwrap();
    let token = rt.block_on(provider.token()).unwrap();
    let inner = service_fn(|req: Request<Empty<Bytes>>| {
        black_box(&req);
        std::future::ready(Ok::<_, Infallible>(Response::new(())))
    });
    let mut cx = Context::from_waker(Waker::noop());

    let mut none = inner;
    let mut floor = AddAuthorizationLayer::bearer(token.access_token().secret()).layer(inner);
    let mut floor_retry = Retry::new(RetryOnce401 { retried: false }, floor.clone());
    let mut bearer = BearerLayer::new(provider.clone()).layer(inner);
    let mut bearer_no_retry = BearerLayer::new(provider.clone())
        .retry_on_401(false)
        .layer(inner);

    // This machine is shared and noisy: besides criterion's figures, measure the four cases in
    // alternation, round after round, and report the median of the per-round ratios of added cost.
    let mut ratios_on = Vec::new();
    let mut ratios_off = Vec::new();
    let mut ratios_on_vs_retry = Vec::new();
    for _ in 0..41 {
        let time = |svc: &mut dyn FnMut()| {
            let start = std::time::Instant::now();
            for _ in 0..20_000 {
                svc();
            }
            start.elapsed().as_secs_f64()
        };
        let t_none = time(&mut || drop(black_box(one(&mut none, &mut cx))));
        let t_floor = time(&mut || drop(black_box(one(&mut floor, &mut cx))));
        let t_on = time(&mut || drop(black_box(one(&mut bearer, &mut cx))));
        let t_off = time(&mut || drop(black_box(one(&mut bearer_no_retry, &mut cx))));
        let t_retry = time(&mut || drop(black_box(one(&mut floor_retry, &mut cx))));
        ratios_on.push((t_on - t_none) / (t_floor - t_none));
        ratios_on_vs_retry.push((t_on - t_none) / (t_retry - t_none));
        ratios_off.push((t_off - t_none) / (t_floor - t_none));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "interleaved median ratio of added cost to the floor: retry off {:.2}x, retry on {:.2}x",
        median(&mut ratios_off),
        median(&mut ratios_on)
    );
    println!(
        "interleaved median ratio, retry on, to the static header inside tower's Retry: {:.2}x",
        median(&mut ratios_on_vs_retry)
    );

    let mut g = c.benchmark_group("bearer");
    g.bench_function("no layer", |b| {
        b.iter(|| black_box(one(&mut none, &mut cx)))
    });
    g.bench_function("floor: AddAuthorization (static header)", |b| {
        b.iter(|| black_box(one(&mut floor, &mut cx)))
    });
    g.bench_function(
        "floor with retry: AddAuthorization inside tower Retry",
        |b| b.iter(|| black_box(one(&mut floor_retry, &mut cx))),
    );
    g.bench_function("Bearer (retry on 401)", |b| {
        b.iter(|| black_box(one(&mut bearer, &mut cx)))
    });
    g.bench_function("Bearer (retry off)", |b| {
        b.iter(|| black_box(one(&mut bearer_no_retry, &mut cx)))
    });
    g.finish();
    assert_eq!(provider.stats().fetches_ok, 1);
    drop(rt);
}

criterion_group!(benches, bench);
criterion_main!(benches);
