//! Static stability of the TokenProvider, one paused-clock test per fault mode of the token endpoint
//! (hang, refuse, 5xx with a Retry-After past expiry, a reply that takes 90 % of the lifetime, a reply
//! with `expires_in: 0`), for a short (5 s) and a long (1 h) token, with many callers spread over the
//! whole lifetime. Each asserts: 0 errors while a usable token existed; the longest wait then; no token
//! handed out past its real expiry (its request's send time + `expires_in`); every call after expiry
//! answered within one attempt timeout; and recovery within the backoff cap once the endpoint is back.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::scripted::{Scripted, Shared, Step};
use telnyx_oauth::provider::RefreshPolicy;
use telnyx_oauth::{ErrorClass, TokenProvider};
use tokio::time::Instant;

const CALLERS: usize = 8;

/// What one run saw.
#[derive(Default)]
struct Seen {
    calls: usize,
    errors_while_usable: usize,
    max_wait_while_usable: Duration,
    max_wait_after: Duration,
    expired_handed_out: usize,
    errors_after: usize,
    first_ok_after_recovery: Option<Instant>,
}

/// The fault, as the scripted endpoint's answer to every fetch after the first.
fn fault(kind: &str, lifetime: Duration) -> Step {
    match kind {
        // Accepts and never answers: only the provider's attempt timeout ends it.
        "hang" => Step::Ok {
            lifetime,
            latency: Duration::from_secs(100_000),
        },
        "refuse" => Step::transient(),
        "503-retry-after-past-expiry" => Step::Fail {
            class: ErrorClass::Transient,
            retry_after: Some(lifetime * 3),
            latency: Duration::ZERO,
        },
        // Answers, but only after 90 % of the lifetime: the token it brings is nearly spent.
        "slow-reply" => Step::Ok {
            lifetime,
            latency: lifetime.mul_f64(0.9),
        },
        "expires-in-zero" => Step::Ok {
            lifetime: Duration::ZERO,
            latency: Duration::ZERO,
        },
        other => panic!("unknown fault {other}"),
    }
}

async fn run(kind: &'static str, lifetime_s: u64) -> Seen {
    let lifetime = Duration::from_secs(lifetime_s);
    let script = Arc::new(Scripted::new([Step::ok(lifetime_s)], fault(kind, lifetime)));
    let policy = RefreshPolicy::default();
    let p = TokenProvider::from_source(Shared(script.clone()), None)
        .jitter(|| 0.5)
        .policy(policy.clone())
        .build()
        .unwrap();
    let t0 = Instant::now();
    p.token().await.unwrap();
    // The first token's real expiry and the instant until which the provider may hand it out.
    let real_expiry = t0 + lifetime;
    let usable_until = t0 + lifetime
        - policy.expiry_skew.min(lifetime / 20)
        - policy.min_remaining.min(lifetime / 20);
    // The endpoint stays broken for two lifetimes, then recovers.
    let recover_at = t0 + lifetime * 2;
    let end = recover_at + policy.backoff_cap + policy.attempt_timeout + Duration::from_secs(2);
    let step = (lifetime / 400).max(Duration::from_millis(10));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let recovered = {
        let script = script.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(recover_at).await;
            script.set_fallback(Step::ok(lifetime_s));
        })
    };
    let callers: Vec<_> = (0..CALLERS)
        .map(|i| {
            let (p, seen, script) = (p.clone(), seen.clone(), script.clone());
            tokio::spawn(async move {
                // Callers are spread: each starts at its own offset within a step.
                tokio::time::sleep(step.mul_f64(i as f64 / CALLERS as f64)).await;
                let mut rounds = 0u32;
                while Instant::now() < end {
                    rounds += 1;
                    assert!(rounds < 2_000_000, "bounded loop");
                    let asked = Instant::now();
                    let result = p.token().await;
                    let answered = Instant::now();
                    let waited = answered - asked;
                    {
                        let mut s = seen.lock().unwrap();
                        s.calls += 1;
                        let usable_existed = asked < usable_until;
                        if usable_existed {
                            s.max_wait_while_usable = s.max_wait_while_usable.max(waited);
                        } else {
                            s.max_wait_after = s.max_wait_after.max(waited);
                        }
                        match result {
                            Ok(t) => {
                                let n: usize =
                                    t.access_token().secret()["token-".len()..].parse().unwrap();
                                let sent = script.call_instant(n).unwrap();
                                let lifetime = t.token().expires_in();
                                if answered >= sent + lifetime {
                                    s.expired_handed_out += 1;
                                }
                                if n > 1
                                    && asked >= recover_at
                                    && s.first_ok_after_recovery.is_none()
                                {
                                    s.first_ok_after_recovery = Some(answered);
                                }
                            }
                            Err(_) if usable_existed => s.errors_while_usable += 1,
                            Err(e) => {
                                assert!(e.is_transient(), "{kind}: {e}");
                                s.errors_after += 1;
                            }
                        }
                    }
                    tokio::time::sleep(step).await;
                }
            })
        })
        .collect();
    for c in callers {
        c.await.unwrap();
    }
    recovered.await.unwrap();
    assert!(real_expiry > usable_until);
    let mut guard = seen.lock().unwrap();
    let s = std::mem::take(&mut *guard);
    let first = s.first_ok_after_recovery.expect("recovered");
    assert!(
        first - recover_at <= policy.backoff_cap + policy.attempt_timeout,
        "{kind}/{lifetime_s}: recovered after {:?}",
        first - recover_at
    );
    s
}

async fn check(kind: &'static str) {
    let policy = RefreshPolicy::default();
    for lifetime_s in [5, 3600] {
        let s = run(kind, lifetime_s).await;
        assert!(s.calls > 1000, "{kind}/{lifetime_s}: {} calls", s.calls);
        assert_eq!(s.errors_while_usable, 0, "{kind}/{lifetime_s}");
        assert_eq!(s.expired_handed_out, 0, "{kind}/{lifetime_s}");
        assert!(
            s.max_wait_while_usable <= policy.max_wait,
            "{kind}/{lifetime_s}: waited {:?} with a usable token",
            s.max_wait_while_usable
        );
        assert!(
            s.max_wait_after <= policy.attempt_timeout,
            "{kind}/{lifetime_s}: waited {:?} without a usable token",
            s.max_wait_after
        );
        // Without a usable token and with the endpoint down, calls fail (typed, transient). A slow
        // endpoint is not down: what it delivers may still be handed out while usable.
        if kind != "slow-reply" {
            assert!(s.errors_after > 0, "{kind}/{lifetime_s}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn hanging_endpoint_fails_no_call_while_a_usable_token_exists() {
    check("hang").await;
}

#[tokio::test(start_paused = true)]
async fn refusing_endpoint_fails_no_call_while_a_usable_token_exists() {
    check("refuse").await;
}

#[tokio::test(start_paused = true)]
async fn retry_after_past_expiry_fails_no_call_while_a_usable_token_exists() {
    check("503-retry-after-past-expiry").await;
}

#[tokio::test(start_paused = true)]
async fn a_reply_taking_most_of_the_lifetime_fails_no_call_while_a_usable_token_exists() {
    check("slow-reply").await;
}

#[tokio::test(start_paused = true)]
async fn expires_in_zero_fails_no_call_while_a_usable_token_exists() {
    check("expires-in-zero").await;
}

#[tokio::test(start_paused = true)]
async fn a_cold_provider_told_to_retry_in_2099_fetches_again_within_the_backoff_cap() {
    let script = Arc::new(Scripted::new(
        [Step::Fail {
            class: ErrorClass::Transient,
            retry_after: Some(Duration::from_secs(2_300_000_000)),
            latency: Duration::ZERO,
        }],
        Step::ok(3600),
    ));
    let p = TokenProvider::from_source(Shared(script.clone()), None)
        .jitter(|| 1.0)
        .build()
        .unwrap();
    assert!(p.token().await.is_err());
    let t0 = Instant::now();
    let cap = p.policy().backoff_cap;
    let mut got = None;
    for _ in 0..200 {
        tokio::time::advance(Duration::from_secs(1)).await;
        if let Ok(t) = p.token().await {
            got = Some(t);
            break;
        }
    }
    let t = got.expect("fetched again");
    assert_eq!(t.access_token().secret(), "token-2");
    assert!(Instant::now() - t0 <= cap + Duration::from_secs(1));
    assert_eq!(script.calls(), 2);
}
