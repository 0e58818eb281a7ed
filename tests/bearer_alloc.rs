//! The warm path of `Bearer` allocates no more per request than tower-http's static-header
//! `AddAuthorization` around the same inner service (with the 401 retry off; the retry's request copy
//! is counted separately). One test in this binary: the counting allocator
//! counts per thread, and the futures are polled by hand on this thread.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::Empty;
use support::scripted::{Scripted, Shared, Step};
use telnyx_oauth::TokenProvider;
use telnyx_oauth::bearer::BearerLayer;
use tower::{Layer, Service, service_fn};
use tower_http::auth::AddAuthorizationLayer;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: defers every operation to the system allocator; only counts calls on the current thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const REQUESTS: usize = 1000;

fn request(with_headers: bool) -> Request<Empty<Bytes>> {
    let mut req = Request::new(Empty::new());
    *req.uri_mut() = Uri::from_static("http://127.0.0.1/resource");
    if with_headers {
        req.headers_mut()
            .insert("accept", http::HeaderValue::from_static("application/json"));
        req.headers_mut()
            .insert("x-request-id", http::HeaderValue::from_static("abc"));
    }
    req
}

/// Allocations per request made by `svc.call(req)` and polling its future to completion.
fn allocations_per_request<S>(mut svc: S, with_headers: bool) -> f64
where
    S: Service<Request<Empty<Bytes>>, Response = Response<()>>,
    S::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    let mut total = 0;
    for _ in 0..REQUESTS {
        let req = request(with_headers);
        assert!(svc.poll_ready(&mut cx).is_ready());
        let before = ALLOCATIONS.with(Cell::get);
        let response = match pin!(svc.call(req)).poll(&mut cx) {
            Poll::Ready(r) => r.unwrap(),
            Poll::Pending => panic!("the warm path must complete at once"),
        };
        total += ALLOCATIONS.with(Cell::get) - before;
        drop(response);
    }
    total as f64 / REQUESTS as f64
}

#[test]
fn the_warm_path_allocates_no_more_than_a_static_header() {
    let inner = service_fn(|_req: Request<Empty<Bytes>>| {
        std::future::ready(Ok::<_, Infallible>(Response::new(())))
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let script = Arc::new(Scripted::new([], Step::ok(3600)));
    let provider = TokenProvider::from_source(Shared(script.clone()), None)
        .build()
        .unwrap();
    let token = rt.block_on(provider.token()).unwrap();
    let static_value = token.access_token().secret().to_owned();

    for with_headers in [false, true] {
        let floor = allocations_per_request(
            AddAuthorizationLayer::bearer(&static_value).layer(inner),
            with_headers,
        );
        let no_retry = allocations_per_request(
            BearerLayer::new(provider.clone())
                .retry_on_401(false)
                .layer(inner),
            with_headers,
        );
        assert!(
            no_retry <= floor,
            "retry off, headers {with_headers}: {no_retry} > {floor}"
        );
        // Keeping a replayable copy of the request for the one retry after a 401 costs one box, plus a
        // clone of the header map when it has entries (three allocations for this one). This is the
        // price of the retry; `retry_on_401(false)` does not pay it.
        let with_retry = allocations_per_request(
            BearerLayer::new(provider.clone()).layer(inner),
            with_headers,
        );
        let replay_cost = if with_headers { 4.0 } else { 1.0 };
        assert!(
            with_retry <= floor + replay_cost,
            "retry on, headers {with_headers}: {with_retry} vs {floor}"
        );
        println!(
            "headers={with_headers}: floor {floor}, bearer {no_retry} (retry off), {with_retry} (retry on)"
        );
    }
    assert_eq!(script.calls(), 1, "every request used the warm token");
}
