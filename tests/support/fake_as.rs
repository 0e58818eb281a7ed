//! A token endpoint whose failure mode can be switched while a test runs: answering, 503, refusing
//! connections (no listener at all), or hanging. For the faults a real server will not produce on cue.
//! Every response closes its connection, so a mode change applies to the very next request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 200 with a token living `ttl` seconds.
    Ok,
    /// 503 with an HTML body.
    Unavailable,
    /// No listener: connections are refused.
    Refuse,
    /// Reads the request and never answers (until the mode changes).
    Hang,
}

const MODES: [Mode; 4] = [Mode::Ok, Mode::Unavailable, Mode::Refuse, Mode::Hang];

pub struct FakeTokenServer {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: Option<JoinHandle<()>>,
}

struct State {
    mode: AtomicUsize,
    ttl: u64,
    /// Requests received, per mode.
    hits: [AtomicU64; 4],
}

impl FakeTokenServer {
    pub async fn start(ttl: u64) -> FakeTokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            mode: AtomicUsize::new(0),
            ttl,
            hits: Default::default(),
        });
        let task = Some(tokio::spawn(serve(listener, state.clone())));
        FakeTokenServer { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/oauth/token", self.addr)
    }

    pub fn hits(&self, mode: Mode) -> u64 {
        self.state.hits[MODES.iter().position(|m| *m == mode).unwrap()].load(Ordering::SeqCst)
    }

    pub async fn set_mode(&mut self, mode: Mode) {
        self.state.mode.store(
            MODES.iter().position(|m| *m == mode).unwrap(),
            Ordering::SeqCst,
        );
        if mode == Mode::Refuse {
            if let Some(task) = self.task.take() {
                task.abort();
                let _ = task.await;
            }
        } else if self.task.is_none() {
            let listener = TcpListener::bind(self.addr)
                .await
                .expect("rebind the same port");
            self.task = Some(tokio::spawn(serve(listener, self.state.clone())));
        }
    }
}

impl Drop for FakeTokenServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn serve(listener: TcpListener, state: Arc<State>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            return;
        };
        connections.spawn(answer(sock, state.clone()));
        while connections.try_join_next().is_some() {}
    }
}

async fn answer(mut sock: TcpStream, state: Arc<State>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read the head, then the body per Content-Length (bounded: requests here are small).
    let body_start = loop {
        let Ok(n) = sock.read(&mut chunk).await else {
            return;
        };
        if n == 0 || buf.len() > 64 * 1024 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..body_start]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < body_start + len.min(64 * 1024) {
        let Ok(n) = sock.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mode = state.mode.load(Ordering::SeqCst);
    state.hits[mode].fetch_add(1, Ordering::SeqCst);
    let response = match MODES[mode] {
        Mode::Ok => {
            let n = state.hits[0].load(Ordering::SeqCst);
            let body = format!(
                r#"{{"access_token":"fake-{n}","token_type":"Bearer","expires_in":{}}}"#,
                state.ttl
            );
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        Mode::Unavailable => {
            let body = "<html>down for maintenance</html>";
            format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        Mode::Hang | Mode::Refuse => {
            // Bounded: hold the connection at most 60 s.
            tokio::time::sleep(Duration::from_secs(60)).await;
            return;
        }
    };
    let _ = sock.write_all(response.as_bytes()).await;
    let _ = sock.shutdown().await;
}
