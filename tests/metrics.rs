//! The `metrics` facade (feature `metrics`) receives counters per rejection reason, JWKS fetch outcomes
//! and latencies, and token fetch outcomes. One test: it installs the process-wide recorder.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use support::verify_fixtures::{case, fixture};
use tower::{Layer, ServiceExt};

#[derive(Default)]
struct Cell(AtomicU64);

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::SeqCst);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::SeqCst);
    }
}

impl HistogramFn for Cell {
    fn record(&self, _value: f64) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Default, Clone)]
struct Counting(Arc<Mutex<BTreeMap<String, Arc<Cell>>>>);

impl Counting {
    fn cell(&self, key: &Key) -> Arc<Cell> {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = if labels.is_empty() {
            key.name().to_owned()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        self.0.lock().unwrap().entry(name).or_default().clone()
    }
    fn get(&self, name: &str) -> u64 {
        self.0
            .lock()
            .unwrap()
            .get(name)
            .map_or(0, |c| c.0.load(Ordering::SeqCst))
    }
}

impl Recorder for Counting {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.cell(key))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.cell(key))
    }
}

#[tokio::test]
async fn counters_reach_the_metrics_facade() {
    let recorder = Counting::default();
    metrics::set_global_recorder(recorder.clone()).unwrap();

    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/jwks"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_raw(fixture("jwks.json").to_string(), "application/json"),
        )
        .mount(&server)
        .await;
    let tokens = fixture("tokens.json");
    let now = tokens["now"].as_f64().unwrap();
    let verifier = telnyx_oauth::verify::Verifier::builder()
        .issuer_with_jwks_uri("https://issuer.test", format!("{}/jwks", server.uri()))
        .audience("https://api.test")
        .http(
            telnyx_oauth::HttpClient::new()
                .unwrap()
                .allow_http_loopback(true),
        )
        .clock(move || now)
        .build()
        .await
        .unwrap();
    let by_name = |n: &str| case(&tokens, n).to_owned();
    let svc = telnyx_oauth::verify::VerifyLayer::new(verifier).layer(tower::service_fn(
        |_req: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        },
    ));
    let send = |auth: Option<String>| {
        let svc = svc.clone();
        async move {
            let mut req = http::Request::new(());
            if let Some(a) = auth {
                req.headers_mut()
                    .insert("authorization", a.parse().unwrap());
            }
            svc.oneshot(req).await.unwrap().status().as_u16()
        }
    };
    assert_eq!(
        send(Some(format!("Bearer {}", by_name("valid RS256")))).await,
        200
    );
    assert_eq!(
        send(Some(format!("Bearer {}", by_name("exp past the leeway")))).await,
        401
    );
    assert_eq!(
        send(Some(format!("Bearer {}", by_name("exp negative")))).await,
        401
    );
    assert_eq!(send(None).await, 401);
    // An unknown kid triggers one refetch (counted as a JWKS fetch).
    assert_eq!(
        send(Some(format!("Bearer {}", by_name("unknown kid")))).await,
        401
    );

    assert_eq!(recorder.get("telnyx_oauth_verify_accepted_total"), 1);
    assert_eq!(
        recorder.get("telnyx_oauth_verify_rejections_total{reason=expired}"),
        1
    );
    assert_eq!(
        recorder.get("telnyx_oauth_verify_rejections_total{reason=invalid_numeric_date}"),
        1
    );
    assert_eq!(
        recorder.get("telnyx_oauth_verify_rejections_total{reason=missing_credentials}"),
        1
    );
    assert_eq!(
        recorder.get("telnyx_oauth_verify_rejections_total{reason=unknown_key}"),
        1
    );
    assert_eq!(
        recorder.get("telnyx_oauth_jwks_fetches_total{outcome=ok}"),
        2,
        "the first fetch and the kid-miss refetch"
    );
    assert_eq!(recorder.get("telnyx_oauth_jwks_fetch_seconds"), 2);
}
