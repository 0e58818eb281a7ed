//! DPoP end to end: oidc-provider issues bound tokens to our `TokenProvider`, `BearerLayer` (over
//! reqwest, hyper-util and reqwest-middleware) sends them with a fresh proof per request, and our
//! `VerifyLayer` checks them — server nonces, the `use_dpop_nonce` retry and the rolling of nonces
//! included. A fake resource server supplies what a real one is not made to do: demand a new nonce
//! every time.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::any;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use support::{Peer, jwt_part};
use telnyx_oauth::bearer::{BearerError, BearerLayer, BearerMiddleware};
use telnyx_oauth::dpop::DpopKey;
use telnyx_oauth::verify::{DpopMode, DpopNonces, DpopPolicy, Verified, Verifier, VerifyLayer};
use telnyx_oauth::{
    ClientAuth, ClientCredentials, ClientSecret, HttpClient, SigningAlgorithm, TokenEndpoint,
    TokenProvider,
};
use tower::{Service, ServiceBuilder, ServiceExt};

const RESOURCE: &str = "https://rs.test/rs256";
/// The resource server's nonce period.
const PERIOD: u64 = 10;

fn http() -> HttpClient {
    HttpClient::new().unwrap().allow_http_loopback(true)
}

fn provider(peer: &Peer, key: DpopKey) -> TokenProvider {
    let endpoint = TokenEndpoint::new_with_http(
        http(),
        &peer.token_url(),
        ClientAuth::basic("basic-client", ClientSecret::new("basic-secret")),
    )
    .unwrap()
    .with_dpop(key);
    TokenProvider::client_credentials(
        endpoint,
        ClientCredentials::new().scope("read").resource(RESOURCE),
    )
    .build()
    .unwrap()
}

/// Our resource server on 127.0.0.1: `VerifyLayer` requiring DPoP with server nonces, on a clock the
/// test moves ahead of the real one (`skew` seconds), and a count of every request that reached it.
struct Api {
    url: String,
    hits: Arc<AtomicU64>,
    skew: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Api {
    async fn start(peer: &Peer) -> Api {
        let skew = Arc::new(AtomicU64::new(0));
        let clock_skew = skew.clone();
        let nonces = DpopNonces::new(Duration::from_secs(PERIOD)).unwrap();
        let verifier = Verifier::builder()
            .issuer(peer.issuer.clone())
            .audience(RESOURCE)
            .http(http())
            .dpop(
                DpopPolicy::default()
                    .with_mode(DpopMode::Required)
                    .with_nonces(nonces),
            )
            .clock(move || {
                support::wall_clock_secs() as f64 + clock_skew.load(Ordering::SeqCst) as f64
            })
            .build()
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicU64::new(0));
        let counted = hits.clone();
        let app = Router::new()
            .route(
                "/v1/things",
                any(|verified: axum::Extension<Verified>| async move {
                    verified.claims()["cnf"]["jkt"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned()
                }),
            )
            .layer(VerifyLayer::new(verifier).external_url(url::Url::parse(&url).unwrap()))
            .layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    next.run(req)
                },
            ));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Api {
            url,
            hits,
            skew,
            task,
        }
    }

    fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }

    fn skew(&self, secs: u64) {
        self.skew.fetch_add(secs, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn bound_tokens_go_out_with_proofs_and_the_servers_nonce_costs_one_retry_then_rolls() {
    let peer = Peer::start_with(serde_json::json!({ "dpopNonce": true }));
    let key = DpopKey::generate(SigningAlgorithm::ES256).unwrap();
    let jkt = key.thumbprint().to_owned();
    let provider = provider(&peer, key);
    let api = Api::start(&peer).await;
    let things = format!("{}/v1/things?page=2#top", api.url);
    let mut client = ServiceBuilder::new()
        .layer(BearerLayer::new(provider.clone()))
        .service(reqwest::Client::new());
    let mut send = async |method: reqwest::Method, body: &'static str| {
        let request = reqwest::Client::new()
            .request(method, &things)
            .body(body)
            .build()
            .unwrap();
        let response = client.ready().await.unwrap().call(request).await.unwrap();
        (response.status(), response.text().await.unwrap())
    };

    // The first request has no nonce yet: one `use_dpop_nonce` answer, one retry with its nonce.
    assert_eq!(
        send(reqwest::Method::GET, "").await,
        (http::StatusCode::OK, jkt.clone())
    );
    assert_eq!(api.hits(), 2);
    let token = provider.token().await.unwrap();
    assert!(token.is_dpop_bound());
    assert_eq!(
        jwt_part(token.access_token().secret(), 1)["cnf"]["jkt"],
        jkt.as_str()
    );
    assert!(token.header().to_str().unwrap().starts_with("DPoP "));
    // The token endpoint also asked for its nonce once; one token served everything.
    assert_eq!(peer.count("/oauth/token").await, 2);
    assert_eq!(provider.stats().fetches_ok, 1);

    // From now on the nonce is known: one request each, a fresh proof each (no replay refusal),
    // bodies replayed intact.
    for _ in 0..3 {
        assert_eq!(
            send(reqwest::Method::POST, "payload").await,
            (http::StatusCode::OK, jkt.clone())
        );
    }
    assert_eq!(api.hits(), 5);

    // One period later the nonce is still accepted, and every response names the new one ...
    api.skew(PERIOD);
    assert_eq!(send(reqwest::Method::GET, "").await.0, 200);
    assert_eq!(api.hits(), 6);
    // ... which the client took up: another period on, no challenge either.
    api.skew(PERIOD);
    assert_eq!(send(reqwest::Method::GET, "").await.0, 200);
    assert_eq!(api.hits(), 7);
    // Two periods without a request: the nonce is too old; one challenge and one retry again.
    api.skew(2 * PERIOD);
    assert_eq!(send(reqwest::Method::GET, "").await.0, 200);
    assert_eq!(api.hits(), 9);
    assert_eq!(provider.stats().fetches_ok, 1);

    // The bound token stolen and sent as a bearer token, or with a proof from another key: refused.
    let at = token.access_token().secret();
    let plain = reqwest::Client::new();
    let stolen = plain.get(&things).bearer_auth(at).send().await.unwrap();
    assert_eq!(stolen.status(), 401);
    let thief = DpopKey::generate(SigningAlgorithm::ES256).unwrap();
    let url = url::Url::parse(&things).unwrap();
    let proof = thief
        .proof(&http::Method::GET, &url, Some(token.access_token()), None)
        .unwrap();
    let forged = plain
        .get(&things)
        .header("authorization", format!("DPoP {at}"))
        .header("dpop", proof)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let challenge = forged.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(
        challenge.contains("error=\"invalid_dpop_proof\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn hyper_util_and_reqwest_middleware_send_the_same_proofs() {
    let peer = Peer::start();
    let key = DpopKey::generate(SigningAlgorithm::EdDSA).unwrap();
    let jkt = key.thumbprint().to_owned();
    let provider = provider(&peer, key);
    let api = Api::start(&peer).await;
    let things = format!("{}/v1/things", api.url);

    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut client = ServiceBuilder::new()
        .layer(BearerLayer::new(provider.clone()))
        .service(hyper);
    for expected_hits in [2, 3] {
        let request = http::Request::post(&things)
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap();
        let response = client.ready().await.unwrap().call(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, jkt.as_bytes());
        assert_eq!(api.hits(), expected_hits, "the nonce challenge only once");
    }
    // A request naming only a path cannot carry a proof: refused before it is sent.
    let relative = http::Request::get("/v1/things")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let err = client
        .ready()
        .await
        .unwrap()
        .call(relative)
        .await
        .unwrap_err();
    assert!(matches!(err, BearerError::Dpop(_)), "{err}");
    assert_eq!(api.hits(), 3);

    // reqwest-middleware, with its own nonce cache per origin shared through the provider's key.
    let middleware = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerMiddleware::new(provider.clone()))
        .build();
    let response = middleware.get(&things).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), jkt);
    assert_eq!(
        api.hits(),
        4,
        "the nonce learned through hyper-util is used here too"
    );
    assert_eq!(provider.stats().fetches_ok, 1);
}

/// A resource server that demands a new nonce on every request cannot make the client loop: one
/// retry, then its answer.
#[tokio::test]
async fn a_server_demanding_a_new_nonce_every_time_gets_one_retry_per_request() {
    let peer = Peer::start();
    let provider = provider(&peer, DpopKey::generate(SigningAlgorithm::ES256).unwrap());
    let hits = Arc::new(AtomicU64::new(0));
    let counted = hits.clone();
    let app = Router::new().route(
        "/greedy",
        any(move |headers: http::HeaderMap| {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                assert!(headers.contains_key("dpop"));
                let nonce = format!("nonce-{n}");
                (
                    http::StatusCode::UNAUTHORIZED,
                    [
                        (
                            "www-authenticate",
                            r#"DPoP error="use_dpop_nonce", algs="ES256""#.to_owned(),
                        ),
                        ("dpop-nonce", nonce),
                    ],
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/greedy", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut client = ServiceBuilder::new()
        .layer(BearerLayer::new(provider.clone()))
        .service(reqwest::Client::new());
    for round in 1..=3 {
        let request = reqwest::Client::new().get(&url).build().unwrap();
        let response = client.ready().await.unwrap().call(request).await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(hits.load(Ordering::SeqCst), 2 * round);
    }
    // The nonce challenge is no reason to drop the token.
    assert_eq!(provider.stats().invalidations, 0);
    assert_eq!(provider.stats().fetches_ok, 1);
    // With retries off the answer comes back as is.
    let mut once = ServiceBuilder::new()
        .layer(BearerLayer::new(provider.clone()).retry_on_401(false))
        .service(reqwest::Client::new());
    let request = reqwest::Client::new().get(&url).build().unwrap();
    let response = once.ready().await.unwrap().call(request).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(hits.load(Ordering::SeqCst), 7);
    server.abort();
}

/// A resource server that rejects the DPoP token itself (`DPoP error="invalid_token"`) gets one retry
/// with a fresh token, as with Bearer.
#[tokio::test]
async fn a_dpop_invalid_token_challenge_fetches_a_fresh_bound_token_once() {
    let peer = Peer::start();
    let key = DpopKey::generate(SigningAlgorithm::ES256).unwrap();
    let jkt = key.thumbprint().to_owned();
    let provider = provider(&peer, key);
    let first = provider.token().await.unwrap();
    let rejected = first.access_token().secret().to_owned();
    let seen: Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let log = seen.clone();
    let app = Router::new().route(
        "/api",
        any(move |headers: http::HeaderMap| {
            let auth = headers["authorization"].to_str().unwrap().to_owned();
            log.lock().unwrap().push(auth.clone());
            let refuse = auth == format!("DPoP {rejected}");
            async move {
                if refuse {
                    (
                        http::StatusCode::UNAUTHORIZED,
                        [(
                            "www-authenticate",
                            r#"DPoP error="invalid_token", algs="ES256""#,
                        )],
                    )
                } else {
                    (http::StatusCode::OK, [("x-ok", "1")])
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut client = ServiceBuilder::new()
        .layer(BearerLayer::new(provider.clone()))
        .service(reqwest::Client::new());
    let request = reqwest::Client::new().get(&url).build().unwrap();
    let response = client.ready().await.unwrap().call(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_ne!(seen[0], seen[1], "the retry carried a new token");
    assert!(seen.iter().all(|a| a.starts_with("DPoP ")));
    assert_eq!(provider.stats().invalidations, 1);
    assert_eq!(provider.stats().fetches_ok, 2);
    let fresh = provider.token().await.unwrap();
    assert_eq!(seen[1], format!("DPoP {}", fresh.access_token().secret()));
    assert_eq!(
        jwt_part(fresh.access_token().secret(), 1)["cnf"]["jkt"],
        jkt.as_str()
    );
    server.abort();
}

/// A custom token source whose tokens are DPoP-bound: the provider sends them with proofs from the key
/// it is given, refuses them without one, and refuses a second key on top of an endpoint's.
#[tokio::test]
async fn a_custom_sources_bound_tokens_need_the_key_they_are_bound_to() {
    use telnyx_oauth::provider::{BoxFuture, TokenSource};
    use telnyx_oauth::{AccessToken, Token};
    struct Bound;
    impl TokenSource for Bound {
        fn fetch<'a>(
            &'a self,
            _: Option<&'a Token>,
        ) -> BoxFuture<'a, Result<Token, telnyx_oauth::Error>> {
            Box::pin(async {
                Ok(Token::new(
                    AccessToken::new("bound-token"),
                    Duration::from_secs(3600),
                    tokio::time::Instant::now(),
                )
                .with_token_type("DPoP"))
            })
        }
    }
    let key = DpopKey::generate(SigningAlgorithm::ES256).unwrap();
    let jwk = Value::Object(key.public_jwk().clone());
    let with_key = TokenProvider::from_source(Bound, None)
        .dpop_key(key)
        .build()
        .unwrap();
    let service = ServiceBuilder::new()
        .layer(BearerLayer::new(with_key))
        .service(tower::service_fn(|req: http::Request<()>| async move {
            assert!(req.headers()["dpop"].is_sensitive());
            let proof = req.headers()["dpop"].to_str().unwrap().to_owned();
            let auth = req.headers()["authorization"].clone();
            assert!(auth.is_sensitive());
            Ok::<_, std::convert::Infallible>(http::Response::new((auth, proof)))
        }));
    let response = service
        .oneshot(
            http::Request::get("https://api.example/v1?q=1")
                .body(())
                .unwrap(),
        )
        .await
        .unwrap();
    let (auth, proof) = response.into_body();
    assert_eq!(auth, "DPoP bound-token");
    let header = jwt_part(&proof, 0);
    let claims = jwt_part(&proof, 1);
    assert_eq!(header["typ"], "dpop+jwt");
    assert_eq!(header["jwk"], jwk);
    assert_eq!(claims["htm"], "GET");
    assert_eq!(claims["htu"], "https://api.example/v1");
    assert!(claims["ath"].as_str().is_some_and(|a| a.len() == 43));

    let without_key = TokenProvider::from_source(Bound, None).build().unwrap();
    let err = without_key.token().await.unwrap_err();
    assert!(err.to_string().contains("DPoP-bound"), "{err}");

    let peer_less = TokenEndpoint::new_with_http(
        http(),
        "http://127.0.0.1:9/token",
        ClientAuth::basic("c", ClientSecret::new("s")),
    )
    .unwrap()
    .with_dpop(DpopKey::generate(SigningAlgorithm::ES256).unwrap());
    let err = TokenProvider::client_credentials(peer_less, ClientCredentials::new())
        .dpop_key(DpopKey::generate(SigningAlgorithm::ES256).unwrap())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("already has a DPoP key"), "{err}");
}

/// Replicas sharing a store share the replay cache: a proof one accepted, every other refuses; one
/// accepted nowhere is accepted once, wherever it lands first.
#[tokio::test]
async fn a_proof_accepted_by_one_replica_is_refused_by_every_other() {
    use telnyx_oauth::shared::{MemoryStore, SealingKey, SharedCache};
    use telnyx_oauth::verify::{DpopReason, VerifyError};
    let store = Arc::new(MemoryStore::new());
    let cache = || SharedCache::new(store.clone(), SealingKey::new("k", [3; 32]).unwrap());
    let policy = || DpopPolicy::default().with_shared_replay(&cache());
    let replicas = [
        support::dpop::verifier(policy()).await,
        support::dpop::verifier(policy()).await,
        support::dpop::verifier(policy()).await,
    ];
    let alone = support::dpop::verifier(DpopPolicy::default()).await;
    let key = DpopKey::generate(SigningAlgorithm::ES256).unwrap();
    let token = support::dpop::bound_token(&key);
    let url = url::Url::parse("https://api.test/v1/things").unwrap();
    for first in 0..replicas.len() {
        let headers = support::dpop::proof_headers(&key, &http::Method::GET, &url, &token);
        let verify = async |v: &Verifier| {
            v.verify_dpop::<Value>(&token, &http::Method::GET, &url, &headers)
                .await
        };
        verify(&replicas[first]).await.unwrap();
        for (i, other) in replicas.iter().enumerate() {
            assert_eq!(
                verify(other).await.unwrap_err(),
                VerifyError::Dpop(DpopReason::Replayed),
                "accepted by {first}, replayed to {i}"
            );
        }
        // A verifier outside the fleet keeps its own cache.
        verify(&alone).await.unwrap();
    }
}

/// One verifier, a DPoP rule per route: `Required` refuses bearer tokens there, `Refused` refuses
/// `Authorization: DPoP` there, and each refusal says why in its challenge.
#[tokio::test]
async fn each_route_can_require_or_refuse_dpop_on_top_of_the_verifier() {
    use telnyx_oauth::verify::Rejection;
    let verifier = support::dpop::verifier(DpopPolicy::default()).await;
    let key = DpopKey::generate(SigningAlgorithm::ES256).unwrap();
    let bound = support::dpop::bound_token(&key);
    let bearer = support::dpop::bearer_token();
    let reasons: Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let route = |mode: Option<DpopMode>| {
        let log = reasons.clone();
        let mut layer = VerifyLayer::new(verifier.clone())
            .external_url(url::Url::parse("https://api.test").unwrap())
            .on_reject(move |r: &Rejection| {
                log.lock().unwrap().push(r.reason().to_owned());
                None
            });
        if let Some(mode) = mode {
            layer = layer.dpop_mode(mode);
        }
        tower::Layer::layer(
            &layer,
            tower::service_fn(|_req: http::Request<()>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
            }),
        )
    };
    type Route = tower::util::BoxCloneService<
        http::Request<()>,
        http::Response<String>,
        std::convert::Infallible,
    >;
    let send = async |service: &Route, dpop: bool| {
        let url = url::Url::parse("https://api.test/pay").unwrap();
        let mut request = http::Request::post("/pay").header("host", "internal");
        request = if dpop {
            let headers = support::dpop::proof_headers(&key, &http::Method::POST, &url, &bound);
            request
                .header("authorization", format!("DPoP {bound}"))
                .header("dpop", headers["dpop"].clone())
        } else {
            request.header("authorization", format!("Bearer {bearer}"))
        };
        let response = service
            .clone()
            .oneshot(request.body(()).unwrap())
            .await
            .unwrap();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status().as_u16(), challenge)
    };
    let boxed = |mode| Route::new(route(mode));
    let (open, required, refused) = (
        boxed(None),
        boxed(Some(DpopMode::Required)),
        boxed(Some(DpopMode::Refused)),
    );
    assert_eq!(send(&open, false).await.0, 200);
    assert_eq!(send(&open, true).await.0, 200);
    assert_eq!(send(&required, true).await.0, 200);
    let (status, challenge) = send(&required, false).await;
    assert_eq!(status, 401);
    assert!(challenge.unwrap().contains("DPoP "), "DPoP offered");
    assert_eq!(send(&refused, false).await.0, 200);
    let (status, challenge) = send(&refused, true).await;
    assert_eq!(status, 401);
    assert!(
        challenge.unwrap().starts_with("DPoP "),
        "answered under DPoP"
    );
    assert_eq!(
        *reasons.lock().unwrap(),
        ["dpop_required", "dpop_not_accepted"]
    );
    // The same rule for a whole verifier.
    let refusing =
        support::dpop::verifier(DpopPolicy::default().with_mode(DpopMode::Refused)).await;
    let url = url::Url::parse("https://api.test/pay").unwrap();
    let headers = support::dpop::proof_headers(&key, &http::Method::POST, &url, &bound);
    assert_eq!(
        refusing
            .verify_dpop::<Value>(&bound, &http::Method::POST, &url, &headers)
            .await
            .unwrap_err(),
        telnyx_oauth::verify::VerifyError::Dpop(telnyx_oauth::verify::DpopReason::NotAccepted)
    );
    refusing.verify::<Value>(&bearer).await.unwrap();
}
