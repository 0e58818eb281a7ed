//! An in-memory token source whose answers, latencies and call times are scripted, for provider tests
//! that run on tokio's paused clock (no sockets, so time can be paused).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use telnyx_oauth::provider::{BoxFuture, TokenSource};
use telnyx_oauth::{AccessToken, Error, ErrorClass, Token};
use tokio::time::Instant;

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Step {
    /// A token living this long, after `latency`.
    Ok {
        lifetime: Duration,
        latency: Duration,
    },
    /// A failure of this class after `latency`, with an optional Retry-After.
    Fail {
        class: ErrorClass,
        retry_after: Option<Duration>,
        latency: Duration,
    },
}

impl Step {
    pub fn ok(lifetime_s: u64) -> Step {
        Step::Ok {
            lifetime: Duration::from_secs(lifetime_s),
            latency: Duration::ZERO,
        }
    }
    pub fn ok_after(lifetime_s: u64, latency: Duration) -> Step {
        Step::Ok {
            lifetime: Duration::from_secs(lifetime_s),
            latency,
        }
    }
    pub fn transient() -> Step {
        Step::Fail {
            class: ErrorClass::Transient,
            retry_after: None,
            latency: Duration::ZERO,
        }
    }
    pub fn permanent() -> Step {
        Step::Fail {
            class: ErrorClass::Permanent,
            retry_after: None,
            latency: Duration::ZERO,
        }
    }
}

/// Answers calls from a queue of steps; when the queue is empty, repeats `fallback`.
pub struct Scripted {
    steps: Mutex<VecDeque<Step>>,
    fallback: Mutex<Step>,
    calls: AtomicUsize,
    times: Mutex<Vec<Instant>>,
    start: Instant,
}

impl Scripted {
    pub fn new(steps: impl IntoIterator<Item = Step>, fallback: Step) -> Self {
        Scripted {
            steps: Mutex::new(steps.into_iter().collect()),
            fallback: Mutex::new(fallback),
            calls: AtomicUsize::new(0),
            times: Mutex::new(Vec::new()),
            start: Instant::now(),
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Seconds since creation at which each call started, to the millisecond.
    pub fn call_times(&self) -> Vec<f64> {
        self.times
            .lock()
            .unwrap()
            .iter()
            .map(|t| (*t - self.start).as_millis() as f64 / 1000.0)
            .collect()
    }

    pub fn push(&self, step: Step) {
        self.steps.lock().unwrap().push_back(step);
    }

    /// What every call answers once the queued steps are used up.
    pub fn set_fallback(&self, step: Step) {
        *self.fallback.lock().unwrap() = step;
    }

    /// When call number `n` (1-based) started, as an instant.
    pub fn call_instant(&self, n: usize) -> Option<Instant> {
        self.times.lock().unwrap().get(n.checked_sub(1)?).copied()
    }
}

/// Lets tests keep a handle on the script while the provider owns the source.
pub struct Shared(pub std::sync::Arc<Scripted>);

impl TokenSource for Shared {
    fn fetch<'a>(&'a self, _current: Option<&'a Token>) -> BoxFuture<'a, Result<Token, Error>> {
        let script = &self.0;
        let n = script.calls.fetch_add(1, Ordering::SeqCst) + 1;
        // As a real token endpoint does: the lifetime counts from when the request was sent.
        let sent_at = Instant::now();
        script.times.lock().unwrap().push(sent_at);
        let step = script
            .steps
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| script.fallback.lock().unwrap().clone());
        Box::pin(async move {
            match step {
                Step::Ok { lifetime, latency } => {
                    tokio::time::sleep(latency).await;
                    Ok(Token::new(
                        AccessToken::new(format!("token-{n}")),
                        lifetime,
                        sent_at,
                    ))
                }
                Step::Fail {
                    class,
                    retry_after,
                    latency,
                } => {
                    tokio::time::sleep(latency).await;
                    let err = Error::custom(class, format!("scripted failure {n}"));
                    Err(match retry_after {
                        Some(ra) => err.with_retry_after(ra),
                        None => err,
                    })
                }
            }
        })
    }
}
