//! A small resource server (axum on 127.0.0.1) for outbound-layer tests: it records the
//! `Authorization` header of every request and rejects tokens the test has revoked.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

#[derive(Default)]
pub struct RsState {
    /// Rejections of a revoked token are held until this many have arrived (0: answer at once).
    gate: std::sync::atomic::AtomicUsize,
    rejected: std::sync::atomic::AtomicUsize,
    gate_open: tokio::sync::Notify,
    revoked: Mutex<HashSet<String>>,
    hits: Mutex<HashMap<String, u64>>,
    seen: Mutex<Vec<(String, String)>>,
}

pub struct ResourceServer {
    pub addr: SocketAddr,
    state: Arc<RsState>,
    task: tokio::task::JoinHandle<()>,
}

impl ResourceServer {
    pub async fn start() -> ResourceServer {
        let state = Arc::new(RsState::default());
        let app = Router::new()
            .route("/echo", any(echo))
            .route("/protected", any(protected))
            .route("/forbidden", any(forbidden))
            .route("/basic", any(basic))
            .route("/always401", any(always_401))
            .route("/no-challenge", any(no_challenge))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        ResourceServer { addr, state, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Makes the server answer 401 `invalid_token` to this bearer token from now on.
    pub fn revoke(&self, token: &str) {
        self.state.revoked.lock().unwrap().insert(token.to_owned());
    }

    /// Holds every 401 for a revoked token until `n` of them are waiting, so that `n` concurrent
    /// requests are all rejected with the same token before any of them is answered (bounded: 10 s).
    pub fn gate_rejections(&self, n: usize) {
        self.state
            .gate
            .store(n, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn hits(&self, path: &str) -> u64 {
        self.state
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// (path, Authorization header or "-") of every request so far, in order.
    pub fn seen(&self) -> Vec<(String, String)> {
        self.state.seen.lock().unwrap().clone()
    }
}

impl Drop for ResourceServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn record(state: &RsState, uri: &Uri, headers: &HeaderMap) -> Option<String> {
    let path = uri.path().to_owned();
    *state.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    state
        .seen
        .lock()
        .unwrap()
        .push((path, auth.clone().unwrap_or_else(|| "-".into())));
    auth
}

fn challenge(status: StatusCode, value: &'static str) -> Response {
    (status, [("www-authenticate", value)], "").into_response()
}

async fn echo(State(s): State<Arc<RsState>>, uri: Uri, headers: HeaderMap) -> String {
    record(&s, &uri, &headers).unwrap_or_else(|| "none".into())
}

async fn protected(
    State(s): State<Arc<RsState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(auth) = record(&s, &uri, &headers) else {
        return challenge(StatusCode::UNAUTHORIZED, r#"Bearer realm="test""#);
    };
    let token = auth.strip_prefix("Bearer ").unwrap_or("");
    if s.revoked.lock().unwrap().contains(token) {
        let gate = s.gate.load(std::sync::atomic::Ordering::SeqCst);
        if gate > 0 {
            let opened = s.gate_open.notified();
            let arrived = s.rejected.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            if arrived >= gate {
                s.gate_open.notify_waiters();
            } else {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(10), opened).await;
            }
        }
        return challenge(
            StatusCode::UNAUTHORIZED,
            r#"Bearer realm="test", error="invalid_token", error_description="revoked""#,
        );
    }
    format!("ok:{}", String::from_utf8_lossy(&body)).into_response()
}

async fn forbidden(State(s): State<Arc<RsState>>, uri: Uri, headers: HeaderMap) -> Response {
    record(&s, &uri, &headers);
    challenge(
        StatusCode::FORBIDDEN,
        r#"Bearer realm="test", error="insufficient_scope", scope="admin""#,
    )
}

async fn basic(State(s): State<Arc<RsState>>, uri: Uri, headers: HeaderMap) -> Response {
    record(&s, &uri, &headers);
    challenge(StatusCode::UNAUTHORIZED, r#"Basic realm="test""#)
}

async fn always_401(State(s): State<Arc<RsState>>, uri: Uri, headers: HeaderMap) -> Response {
    record(&s, &uri, &headers);
    challenge(StatusCode::UNAUTHORIZED, r#"Bearer error="invalid_token""#)
}

async fn no_challenge(State(s): State<Arc<RsState>>, uri: Uri, headers: HeaderMap) -> Response {
    let n = s
        .hits
        .lock()
        .unwrap()
        .get("/no-challenge")
        .copied()
        .unwrap_or(0);
    record(&s, &uri, &headers);
    if n == 0 {
        StatusCode::UNAUTHORIZED.into_response()
    } else {
        "ok".into_response()
    }
}
