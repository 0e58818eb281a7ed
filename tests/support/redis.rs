//! Runs a real `redis-server` on a free 127.0.0.1 port for one test, without persistence, and stops it
//! by its pid on drop. It can be killed and started again on the same port, to test an outage.
//!
//! A missing `redis-server` fails the test with a message saying how to install it: never a skip.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running redis-server. Dropping it kills the process and waits for it.
pub struct RedisServer {
    child: Option<Child>,
    /// The port it listens on (the same across restarts).
    pub port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

fn spawn(port: u16) -> Child {
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "the shared-store tests need `redis-server` on PATH ({e}); install it \
                 (Debian/Ubuntu: `apt-get update && apt-get install -y redis-server`; macOS: \
                 `brew install redis`) and run the tests again"
            )
        });
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("redis-server exited at start ({status}); is port {port} taken?");
        }
        if ping(port) {
            return child;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("redis-server did not answer PING on port {port} within {START_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One inline `PING`, bounded by a short timeout.
fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
    else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 16];
    s.write_all(b"PING\r\n").is_ok()
        && s.read(&mut buf)
            .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
}

impl RedisServer {
    /// Starts a server on a free port.
    pub fn start() -> RedisServer {
        let port = free_port();
        RedisServer {
            child: Some(spawn(port)),
            port,
        }
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to its clients) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty (it keeps nothing on disk).
    pub fn restart(&mut self) {
        self.kill();
        self.child = Some(spawn(self.port));
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
