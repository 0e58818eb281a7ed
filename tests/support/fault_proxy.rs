//! A TCP proxy in front of a real server whose fault can be switched while a test runs: pass
//! through, hang (accept, read, never answer), refuse (no listener at all), or answer 503 with a
//! `Retry-After` an hour away. Switching closes every connection it holds, so a client's pooled
//! connection cannot carry on past a fault.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Pass,
    Hang,
    Refuse,
    Unavailable,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Fault>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, rx) = watch::channel(Fault::Pass);
        let task = tokio::spawn(serve(listener, addr, upstream, rx));
        FaultProxy { addr, mode, task }
    }

    pub fn set(&self, fault: Fault) {
        self.mode.send_replace(fault);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut mode: watch::Receiver<Fault>,
) {
    loop {
        if *mode.borrow_and_update() == Fault::Refuse {
            // No listener at all: connections are refused until the fault changes.
            drop(listener);
            while *mode.borrow_and_update() == Fault::Refuse {
                if mode.changed().await.is_err() {
                    return;
                }
            }
            listener = loop {
                match TcpListener::bind(addr).await {
                    Ok(l) => break l,
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            };
        }
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let fault = *mode.borrow();
                tokio::spawn(handle(stream, upstream, fault, mode.clone()));
            }
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

async fn handle(
    mut stream: TcpStream,
    upstream: SocketAddr,
    fault: Fault,
    mut mode: watch::Receiver<Fault>,
) {
    // Whatever the connection does, it ends when the fault changes (or after a minute at most).
    let work = async {
        match fault {
            Fault::Pass => {
                let Ok(mut up) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut stream, &mut up).await;
            }
            Fault::Hang | Fault::Refuse => {
                let mut buf = [0u8; 4096];
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            }
            Fault::Unavailable => {
                let mut buf = [0u8; 8192];
                let _ = stream.read(&mut buf).await;
                let body = "<html>unavailable</html>";
                let reply = format!(
                    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/html\r\nretry-after: 3600\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
            }
        }
    };
    tokio::select! {
        _ = work => {}
        _ = mode.changed() => {}
        _ = tokio::time::sleep(Duration::from_secs(60)) => {}
    }
}
