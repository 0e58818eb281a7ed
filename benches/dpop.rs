//! DPoP (RFC 9449) per request, each as a ratio to one signature operation of the same algorithm
//! measured in the same run, interleaved (DESIGN §6: ≤ 1.3×):
//! - **proof generation**: `CachedToken::dpop_proof` (what `BearerLayer` adds to each request) against
//!   one aws-lc-rs signature of a message as long as the proof's signing input, the key parsed once;
//! - **proof verification**: `Verifier::verify_dpop` of an HS256 token (a cache hit after the first
//!   time, so what remains is the proof) against one aws-lc-rs check of the proof's signature.
//!
//! Run: `cargo bench --bench dpop`

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};
use telnyx_oauth::dpop::DpopKey;
use telnyx_oauth::provider::{BoxFuture, TokenSource};
use telnyx_oauth::verify::{DpopPolicy, Verifier};
use telnyx_oauth::{AccessToken, ClientSecret, SigningAlgorithm, Token, TokenProvider};

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "https://api.test";
const HMAC_SECRET: &str = "a-benchmark-hmac-secret-of-32-bytes!";

/// One bound token, as a custom source would hand it out.
struct Bound(String);

impl TokenSource for Bound {
    fn fetch<'a>(
        &'a self,
        _: Option<&'a Token>,
    ) -> BoxFuture<'a, Result<Token, telnyx_oauth::Error>> {
        Box::pin(async move {
            Ok(Token::new(
                AccessToken::new(self.0.clone()),
                Duration::from_secs(3600),
                tokio::time::Instant::now(),
            )
            .with_token_type("DPoP"))
        })
    }
}

/// An HS256 access token bound to `jkt`, minted by jsonwebtoken (an independent JWT implementation).
fn bound_token(jkt: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "bench", "iat": now, "exp": now + 3600,
        "cnf": { "jkt": jkt },
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(HMAC_SECRET.as_bytes()),
    )
    .unwrap()
}

/// The floor's signer: one aws-lc-rs key pair of the algorithm, made once.
enum FloorKey {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

impl FloorKey {
    fn new(alg: SigningAlgorithm) -> Self {
        match alg {
            SigningAlgorithm::ES256 => {
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &SystemRandom::new(),
                )
                .unwrap();
                FloorKey::Es256(
                    EcdsaKeyPair::from_pkcs8(
                        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                        pkcs8.as_ref(),
                    )
                    .unwrap(),
                )
            }
            _ => FloorKey::EdDsa(Ed25519KeyPair::generate().unwrap()),
        }
    }

    fn sign(&self, rng: &SystemRandom, message: &[u8]) -> Vec<u8> {
        match self {
            FloorKey::Es256(k) => k.sign(rng, message).unwrap().as_ref().to_vec(),
            FloorKey::EdDsa(k) => k.sign(message).as_ref().to_vec(),
        }
    }

    fn public(&self) -> UnparsedPublicKey<Vec<u8>> {
        match self {
            FloorKey::Es256(k) => UnparsedPublicKey::new(
                &signature::ECDSA_P256_SHA256_FIXED,
                k.public_key().as_ref().to_vec(),
            ),
            FloorKey::EdDsa(k) => {
                UnparsedPublicKey::new(&signature::ED25519, k.public_key().as_ref().to_vec())
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = url::Url::parse("https://api.test/v2/calls?page=2").unwrap();
    let rng = SystemRandom::new();
    let mut g = c.benchmark_group("dpop");
    for alg in [SigningAlgorithm::ES256, SigningAlgorithm::EdDSA] {
        let key = DpopKey::generate(alg).unwrap();
        let access_token = bound_token(key.thumbprint());
        let provider = TokenProvider::from_source(Bound(access_token.clone()), None)
            .dpop_key(key)
            .build()
            .unwrap();
        let _guard = rt.enter();
        let cached = rt.block_on(provider.token()).unwrap();
        let sample = cached.dpop_proof(&Method::POST, &url).unwrap().unwrap();
        let sample = sample.to_str().unwrap().to_owned();
        let (input, _) = sample.rsplit_once('.').unwrap();
        let message = vec![b'x'; input.len()];
        let floor = FloorKey::new(alg);

        // Generation: interleaved, one of each per round.
        g.bench_function(format!("{alg} floor: one signature"), |b| {
            b.iter(|| floor.sign(&rng, black_box(&message)))
        });
        g.bench_function(
            format!("{alg} proof generation (CachedToken::dpop_proof)"),
            |b| {
                b.iter(|| {
                    cached
                        .dpop_proof(black_box(&Method::POST), black_box(&url))
                        .unwrap()
                })
            },
        );

        // Verification: every proof fresh (the replay cache refuses a repeat), made outside the timing.
        let verifier = rt
            .block_on(
                Verifier::builder()
                    .issuer_with_hmac(
                        ISSUER,
                        ClientSecret::new(HMAC_SECRET),
                        SigningAlgorithm::HS256,
                    )
                    .audience(AUDIENCE)
                    .dpop(DpopPolicy::default().with_replay_capacity(20_000_000))
                    .build(),
            )
            .unwrap();
        let public = floor.public();
        let floor_sig = floor.sign(&rng, &message);
        g.bench_function(format!("{alg} floor: one signature check"), |b| {
            b.iter(|| {
                public
                    .verify(black_box(&message), black_box(&floor_sig))
                    .unwrap()
            })
        });
        let proof_headers = || {
            let proof = cached.dpop_proof(&Method::POST, &url).unwrap().unwrap();
            let mut headers = HeaderMap::new();
            headers.insert("dpop", proof);
            headers
        };
        g.bench_function(
            format!("{alg} proof verification (Verifier::verify_dpop)"),
            |b| {
                b.iter_batched(
                    proof_headers,
                    |headers| {
                        rt.block_on(verifier.verify_dpop::<serde_json::Value>(
                            &access_token,
                            &Method::POST,
                            &url,
                            &headers,
                        ))
                        .unwrap()
                    },
                    BatchSize::SmallInput,
                )
            },
        );
        interleaved(
            &rt,
            alg,
            &floor,
            &rng,
            &message,
            &cached,
            &url,
            &verifier,
            &access_token,
        );
    }
    g.finish();
}

/// The ratios measured interleaved in one loop (the machine is noisy): rounds alternate the floor and
/// our call, and the medians of per-round times are compared.
#[allow(clippy::too_many_arguments)]
fn interleaved(
    rt: &tokio::runtime::Runtime,
    alg: SigningAlgorithm,
    floor: &FloorKey,
    rng: &SystemRandom,
    message: &[u8],
    cached: &telnyx_oauth::CachedToken,
    url: &url::Url,
    verifier: &Verifier,
    access_token: &str,
) {
    const ROUNDS: usize = 2_000;
    let public = floor.public();
    let floor_sig = floor.sign(rng, message);
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (mut sign, mut proof, mut check, mut verify) = (vec![], vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        black_box(floor.sign(rng, black_box(message)));
        sign.push(t.elapsed());
        let t = Instant::now();
        let made: HeaderValue = cached.dpop_proof(&Method::POST, url).unwrap().unwrap();
        proof.push(t.elapsed());
        let t = Instant::now();
        public
            .verify(black_box(message), black_box(&floor_sig))
            .unwrap();
        check.push(t.elapsed());
        let mut headers = HeaderMap::new();
        headers.insert("dpop", made);
        let t = Instant::now();
        rt.block_on(verifier.verify_dpop::<serde_json::Value>(
            access_token,
            &Method::POST,
            url,
            &headers,
        ))
        .unwrap();
        verify.push(t.elapsed());
    }
    let (sign, proof, check, verify) = (median(sign), median(proof), median(check), median(verify));
    println!(
        "dpop/{alg} interleaved medians: generation {proof:?} / signature {sign:?} = {:.3}x; \
         verification {verify:?} / signature check {check:?} = {:.3}x",
        proof.as_secs_f64() / sign.as_secs_f64(),
        verify.as_secs_f64() / check.as_secs_f64()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
