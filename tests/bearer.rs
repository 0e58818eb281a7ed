//! BearerLayer over real clients (hyper-util, reqwest, reqwest-middleware) against a local axum
//! resource server, with tokens from the real authorization server.

mod support;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use support::resource::ResourceServer;
use support::{Peer, jwt_part};
use telnyx_oauth::bearer::{BearerError, BearerLayer, ByHost};
use telnyx_oauth::{
    ClientAuth, ClientCredentials, ClientSecret, HttpClient, TokenEndpoint, TokenProvider,
};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

fn provider_for(peer: &Peer, client: &str, secret: &str) -> TokenProvider {
    let http = HttpClient::new().unwrap().allow_http_loopback(true);
    let endpoint = TokenEndpoint::new_with_http(
        http,
        &peer.token_url(),
        ClientAuth::basic(client, ClientSecret::new(secret)),
    )
    .unwrap();
    TokenProvider::client_credentials(endpoint, ClientCredentials::new().scope("read"))
        .build()
        .unwrap()
}

fn provider(peer: &Peer) -> TokenProvider {
    provider_for(peer, "basic-client", "basic-secret")
}

fn hyper_client<B>() -> Client<HttpConnector, B>
where
    B: http_body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Client::builder(TokioExecutor::new()).build_http()
}

async fn text<B: http_body::Body>(response: Response<B>) -> String
where
    B::Error: std::fmt::Debug,
{
    String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap()
}

fn get(url: &str) -> Request<Empty<Bytes>> {
    Request::get(url).body(Empty::new()).unwrap()
}

#[tokio::test]
async fn hyper_util_client_sends_the_real_servers_token() {
    let peer = Peer::start();
    let rs = ResourceServer::start().await;
    let client = ServiceBuilder::new()
        .layer(BearerLayer::new(provider(&peer)))
        .service(hyper_client::<Empty<Bytes>>());
    let response = client.oneshot(get(&rs.url("/echo"))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let auth = text(response).await;
    let jwt = auth.strip_prefix("Bearer ").expect("a bearer header");
    let claims = jwt_part(jwt, 1);
    assert_eq!(claims["client_id"], "basic-client");
    assert_eq!(claims["iss"], peer.issuer.as_str());
}

#[tokio::test]
async fn reqwest_client_as_a_tower_service_gets_the_header() {
    let peer = Peer::start();
    let rs = ResourceServer::start().await;
    let mut client = ServiceBuilder::new()
        .layer(BearerLayer::new(provider(&peer)))
        .service(reqwest::Client::new());
    for _ in 0..3 {
        let req = reqwest::Request::new(reqwest::Method::GET, rs.url("/echo").parse().unwrap());
        let response = client.ready().await.unwrap().call(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let auth = response.text().await.unwrap();
        assert_eq!(
            jwt_part(auth.strip_prefix("Bearer ").unwrap(), 1)["client_id"],
            "basic-client"
        );
    }
    assert_eq!(
        peer.count("/oauth/token").await,
        1,
        "one token for all three requests"
    );
}

#[tokio::test]
async fn an_existing_authorization_header_is_kept_unless_replacing_is_configured() {
    let peer = Peer::start();
    let rs = ResourceServer::start().await;
    let p = provider(&peer);
    let mut req = get(&rs.url("/echo"));
    req.headers_mut()
        .insert("authorization", "Basic dXNlcjpwdw==".parse().unwrap());
    let kept = BearerLayer::new(p.clone())
        .layer(hyper_client::<Empty<Bytes>>())
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(text(kept).await, "Basic dXNlcjpwdw==");
    assert_eq!(peer.count("/oauth/token").await, 0, "no token was needed");

    let mut req = get(&rs.url("/echo"));
    req.headers_mut()
        .insert("authorization", "Basic dXNlcjpwdw==".parse().unwrap());
    let replaced = BearerLayer::new(p)
        .replace_existing(true)
        .layer(hyper_client::<Empty<Bytes>>())
        .oneshot(req)
        .await
        .unwrap();
    assert!(text(replaced).await.starts_with("Bearer ey"));
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_once_and_the_request_retried_once() {
    let peer = Peer::start();
    let rs = ResourceServer::start().await;
    let p = provider(&peer);
    let first = p.token().await.unwrap();
    rs.revoke(first.access_token().secret());
    let body = Full::new(Bytes::from_static(b"payload-123"));
    let req = Request::post(rs.url("/protected")).body(body).unwrap();
    let response = BearerLayer::new(p.clone())
        .layer(hyper_client::<Full<Bytes>>())
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        text(response).await,
        "ok:payload-123",
        "the body was replayed as it was"
    );
    assert_eq!(peer.count("/oauth/token").await, 2);
    let seen = rs.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].1,
        format!("Bearer {}", first.access_token().secret())
    );
    assert_ne!(seen[1].1, seen[0].1, "the retry carried the new token");
    assert_eq!(p.stats().invalidations, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_401s_for_one_token_cause_one_refresh_and_a_hundred_retries() {
    let peer = Peer::start();
    let rs = ResourceServer::start().await;
    let p = provider(&peer);
    let first = p.token().await.unwrap();
    rs.revoke(first.access_token().secret());
    rs.gate_rejections(100);
    let client = BearerLayer::new(p.clone()).layer(hyper_client::<Empty<Bytes>>());
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            let url = rs.url("/protected");
            tokio::spawn(async move { client.oneshot(get(&url)).await.unwrap().status() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(
        peer.count("/oauth/token").await,
        2,
        "one initial token, exactly one refresh"
    );
    assert_eq!(rs.hits("/protected"), 200, "100 rejected, 100 retried");
    assert_eq!(p.stats().invalidations, 1);
}

#[tokio::test]
async fn a_streaming_body_is_not_retried_but_the_token_is_still_invalidated() {
    let peer = Peer::start();
    let rs = ResourceServer::start().await;
    let p = provider(&peer);
    let first = p.token().await.unwrap();
    rs.revoke(first.access_token().secret());
    let chunks = futures_stream(vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]);
    let body: BoxBody<Bytes, Infallible> = BoxBody::new(StreamBody::new(chunks));
    let req = Request::post(rs.url("/protected")).body(body).unwrap();
    let response = BearerLayer::new(p.clone())
        .layer(hyper_client::<BoxBody<Bytes, Infallible>>())
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(rs.hits("/protected"), 1);
    assert!(
        first.is_invalidated(),
        "the next request will get a fresh token"
    );
    assert_ne!(p.token().await.unwrap().generation(), first.generation());
}

fn futures_stream(
    items: Vec<Bytes>,
) -> impl futures_core::Stream<Item = Result<http_body::Frame<Bytes>, Infallible>> + Send + Sync + Unpin
{
    struct Iter(std::vec::IntoIter<Bytes>);
    impl futures_core::Stream for Iter {
        type Item = Result<http_body::Frame<Bytes>, Infallible>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.0.next().map(|b| Ok(http_body::Frame::data(b))))
        }
    }
    Iter(items.into_iter())
}

#[tokio::test]
async fn forbidden_basic_challenges_and_second_401s_are_returned_as_is() {
    let peer = Peer::start();
    let rs = ResourceServer::start().await;
    let p = provider(&peer);
    let client = BearerLayer::new(p.clone()).layer(hyper_client::<Empty<Bytes>>());
    let forbidden = client
        .clone()
        .oneshot(get(&rs.url("/forbidden")))
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        rs.hits("/forbidden"),
        1,
        "403 insufficient_scope is never retried"
    );
    let basic = client
        .clone()
        .oneshot(get(&rs.url("/basic")))
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        rs.hits("/basic"),
        1,
        "a 401 for another scheme is never retried"
    );
    assert_eq!(p.stats().invalidations, 0);
    let again = client
        .clone()
        .oneshot(get(&rs.url("/always401")))
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        rs.hits("/always401"),
        2,
        "one retry, then the second 401 is returned"
    );
    assert_eq!(peer.count("/oauth/token").await, 2);
}

#[tokio::test]
async fn a_401_without_a_challenge_is_retried() {
    let peer = Peer::start();
    let rs = ResourceServer::start().await;
    let client = BearerLayer::new(provider(&peer)).layer(hyper_client::<Empty<Bytes>>());
    let response = client.oneshot(get(&rs.url("/no-challenge"))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(rs.hits("/no-challenge"), 2);
}

#[tokio::test]
async fn retrying_can_be_switched_off() {
    let peer = Peer::start();
    let rs = ResourceServer::start().await;
    let client = BearerLayer::new(provider(&peer))
        .retry_on_401(false)
        .layer(hyper_client::<Empty<Bytes>>());
    let response = client.oneshot(get(&rs.url("/always401"))).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(rs.hits("/always401"), 1);
}

#[tokio::test]
async fn no_token_means_no_request_and_a_typed_error() {
    let peer = Peer::start();
    let rs = ResourceServer::start().await;
    let bad = provider_for(&peer, "basic-client", "wrong-secret");
    let err = BearerLayer::new(bad)
        .layer(hyper_client::<Empty<Bytes>>())
        .oneshot(get(&rs.url("/echo")))
        .await
        .unwrap_err();
    let BearerError::Token(inner) = &err else {
        panic!("{err:?}")
    };
    assert!(inner.is_permanent());
    assert!(err.to_string().contains("request not sent"));
    assert!(!err.to_string().contains("wrong-secret"));
    assert_eq!(rs.hits("/echo"), 0, "nothing reached the server");
}

#[tokio::test]
async fn the_inner_services_errors_stay_distinguishable() {
    let peer = Peer::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/echo", closed.local_addr().unwrap());
    drop(closed);
    let err = BearerLayer::new(provider(&peer))
        .layer(hyper_client::<Empty<Bytes>>())
        .oneshot(get(&url))
        .await
        .unwrap_err();
    let inner = err.into_inner().expect("the inner client's error");
    assert!(inner.is_connect());
}

#[tokio::test]
async fn providers_are_chosen_per_host_and_unknown_hosts_are_refused() {
    let peer = Peer::start();
    let rs = ResourceServer::start().await;
    let a = provider_for(&peer, "basic-client", "basic-secret");
    let b = provider_for(&peer, "post-client", "post-secret");
    let client =
        BearerLayer::from_selector(ByHost::new().host("127.0.0.1", a).host("LOCALHOST", b))
            .layer(hyper_client::<Empty<Bytes>>());
    let via_ip = text(client.clone().oneshot(get(&rs.url("/echo"))).await.unwrap()).await;
    assert_eq!(
        jwt_part(via_ip.strip_prefix("Bearer ").unwrap(), 1)["client_id"],
        "basic-client"
    );
    let by_name = format!("http://localhost:{}/echo", rs.addr.port());
    let via_name = text(client.clone().oneshot(get(&by_name)).await.unwrap()).await;
    assert_eq!(
        jwt_part(via_name.strip_prefix("Bearer ").unwrap(), 1)["client_id"],
        "post-client"
    );
    let unknown = format!("http://127.0.0.2:{}/echo", rs.addr.port());
    let err = client.oneshot(get(&unknown)).await.unwrap_err();
    assert!(
        matches!(err, BearerError::NoProvider { host: Some(ref h) } if h == "127.0.0.2"),
        "{err:?}"
    );
    assert_eq!(rs.hits("/echo"), 2);
}

/// An inner service that is not ready until told: the layer's readiness must be the inner one's.
#[derive(Clone)]
struct Gate(Arc<AtomicBool>);

impl Service<Request<Empty<Bytes>>> for Gate {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<String>, Infallible>>;
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        if self.0.load(Ordering::SeqCst) {
            Poll::Ready(Ok(()))
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    fn call(&mut self, req: Request<Empty<Bytes>>) -> Self::Future {
        let auth = req.headers()["authorization"].to_str().unwrap().to_owned();
        std::future::ready(Ok(Response::new(auth)))
    }
}

#[tokio::test]
async fn readiness_is_the_inner_services() {
    let peer = Peer::start();
    let open = Arc::new(AtomicBool::new(false));
    let mut svc = BearerLayer::new(provider(&peer)).layer(Gate(open.clone()));
    let mut cx = Context::from_waker(std::task::Waker::noop());
    assert!(svc.poll_ready(&mut cx).is_pending());
    assert_eq!(
        peer.count("/oauth/token").await,
        0,
        "readiness never fetches a token"
    );
    open.store(true, Ordering::SeqCst);
    let response = svc
        .ready()
        .await
        .unwrap()
        .call(Request::new(Empty::new()))
        .await
        .unwrap();
    assert!(response.body().starts_with("Bearer "));
}

#[cfg(feature = "reqwest-middleware")]
#[tokio::test]
async fn reqwest_middleware_sends_the_token_and_retries_after_a_revocation() {
    use telnyx_oauth::bearer::BearerMiddleware;
    let peer = Peer::start();
    let rs = ResourceServer::start().await;
    let p = provider(&peer);
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerMiddleware::new(p.clone()))
        .build();
    let auth = client
        .get(rs.url("/echo"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        jwt_part(auth.strip_prefix("Bearer ").unwrap(), 1)["client_id"],
        "basic-client"
    );
    rs.revoke(p.token().await.unwrap().access_token().secret());
    let response = client
        .post(rs.url("/protected"))
        .body("xyz")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok:xyz");
    assert_eq!(peer.count("/oauth/token").await, 2);
    let forbidden = client.get(rs.url("/forbidden")).send().await.unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(rs.hits("/forbidden"), 1);
}

#[cfg(feature = "tonic")]
#[tokio::test]
async fn tonic_channels_get_the_header_too() {
    let peer = Peer::start();
    let rs = ResourceServer::start().await;
    let channel = tonic::transport::Channel::from_shared(rs.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = BearerLayer::new(provider(&peer)).layer(channel);
    let req = Request::post(rs.url("/echo"))
        .body(tonic::body::Body::empty())
        .unwrap();
    let response = client.oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let auth = text(response).await;
    assert_eq!(
        jwt_part(auth.strip_prefix("Bearer ").unwrap(), 1)["client_id"],
        "basic-client"
    );
}

/// A service that is called again and again keeps the token it sent last while it stays current:
/// it must still follow every refresh, expiry and invalidation of the provider.
#[tokio::test(start_paused = true)]
async fn a_reused_service_follows_refreshes_and_invalidations() {
    use std::sync::Mutex;
    use std::time::Duration;
    use support::scripted::{Scripted, Shared, Step};

    for retry in [true, false] {
        let script = Arc::new(Scripted::new([], Step::ok(60)));
        let provider = TokenProvider::from_source(Shared(script.clone()), None)
            .build()
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let inner = tower::service_fn({
            let seen = seen.clone();
            move |req: Request<Empty<Bytes>>| {
                let auth = req.headers()["authorization"].to_str().unwrap().to_owned();
                seen.lock().unwrap().push(auth);
                std::future::ready(Ok::<_, Infallible>(Response::new(())))
            }
        });
        let mut svc = BearerLayer::new(provider.clone())
            .retry_on_401(retry)
            .layer(inner);
        let mut send = async || {
            svc.ready()
                .await
                .unwrap()
                .call(get("http://127.0.0.1/"))
                .await
                .unwrap();
        };
        // What the service sent last, and what the provider holds as current right after.
        let last_sent = || seen.lock().unwrap().last().cloned().unwrap();
        let current = || {
            let token = provider.cached().unwrap();
            token.header().to_str().unwrap().to_owned()
        };
        send().await;
        send().await;
        assert_eq!(last_sent(), "Bearer token-1", "retry {retry}");
        // Most of the 60 s lifetime later: a new token, whether refreshed ahead or fetched on use.
        tokio::time::sleep(Duration::from_secs(55)).await;
        send().await;
        assert_ne!(last_sent(), "Bearer token-1", "retry {retry}");
        assert_eq!(last_sent(), current(), "retry {retry}");
        // The server rejected it: the next request must not send it again.
        let rejected = last_sent();
        provider.invalidate(&provider.cached().unwrap());
        send().await;
        assert_ne!(last_sent(), rejected, "retry {retry}");
        assert_eq!(last_sent(), current(), "retry {retry}");
        // Long past the expiry of that token, with no request in between.
        let before = last_sent();
        tokio::time::sleep(Duration::from_secs(120)).await;
        send().await;
        assert_ne!(last_sent(), before, "retry {retry}");
        assert_eq!(last_sent(), current(), "retry {retry}");
    }
}
