//! Runs `oidc-provider` (tests/interop/server.mjs) on 127.0.0.1 for one test and stops it on drop.
//!
//! The npm packages are installed on first use with `npm ci`, under an exclusive file lock so that test
//! binaries running at once install them once. A missing `node` or `npm` fails the test with a message
//! saying what to install: these tests never skip silently.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use telnyx_oauth::{
    AuthorizationCode, ClientAuth, ClientSecret, HttpClient, PkcePair, Token, TokenEndpoint,
};

/// How long the peer may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The redirect URI every code-flow client of the peer has registered.
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// Installs tests/interop's npm packages once per machine (and once per process).
fn ensure_node_modules() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let dir = interop_dir();
        let node = Command::new("node").arg("--version").output();
        assert!(
            node.as_ref().is_ok_and(|o| o.status.success()),
            "the interop tests need Node.js (v20 or later) on PATH to run the oidc-provider peer; \
             install it (e.g. `apt-get install nodejs npm`) and run the tests again"
        );
        let lock_path = dir.join(".npm-ci.lock");
        let lock = File::create(&lock_path).expect("create the npm lock file");
        lock.lock().expect("lock the npm lock file");
        let lockfile = fs::read(dir.join("package-lock.json")).expect("read package-lock.json");
        let stamp = dir.join("node_modules/.telnyx-oauth-stamp");
        if fs::read(&stamp).ok().as_deref() != Some(&lockfile[..]) {
            let out = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .output()
                .expect("the interop tests need npm on PATH to install oidc-provider");
            assert!(
                out.status.success(),
                "npm ci in tests/interop failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            fs::write(&stamp, &lockfile).expect("write the npm stamp");
        }
        lock.unlock().expect("unlock the npm lock file");
    });
}

/// A running oidc-provider. Dropping it kills the process and waits for it.
pub struct Peer {
    child: Child,
    /// `http://127.0.0.1:PORT`, exactly as the server writes it into tokens and metadata.
    pub issuer: String,
    stderr: Arc<Mutex<String>>,
}

impl Peer {
    /// A peer with default options (5 min tokens, no refresh-token rotation).
    pub fn start() -> Peer {
        Self::start_with(serde_json::json!({}))
    }

    /// A peer with options: `accessTokenTTL` (seconds), `rotateRefreshToken` (bool), `dpopNonce`
    /// (bool: DPoP proofs must carry the server's nonce).
    pub fn start_with(options: serde_json::Value) -> Peer {
        ensure_node_modules();
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(interop_dir())
            .env("OIDC_PEER_OPTIONS", options.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start node server.mjs");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr is piped");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut s = sink.lock().expect("stderr lock");
                if s.len() < 64 * 1024 {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(issuer) = line.strip_prefix("listening ") {
                    let _ = tx.send(issuer.to_owned());
                }
            }
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(issuer) => Peer {
                child,
                issuer,
                stderr,
            },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "oidc-provider did not start within {START_TIMEOUT:?}; its stderr:\n{}",
                    stderr.lock().expect("stderr lock")
                );
            }
        }
    }

    /// `issuer` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The token endpoint URL.
    pub fn token_url(&self) -> String {
        self.url("/oauth/token")
    }

    /// How many requests the server has received for `path` so far.
    pub async fn count(&self, path: &str) -> u64 {
        let counts: serde_json::Value = reqwest::get(self.url("/__test/counts"))
            .await
            .expect("counts request")
            .json()
            .await
            .expect("counts JSON");
        counts[path].as_u64().unwrap_or(0)
    }

    /// What the server wrote on stderr so far (for assertion messages).
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// Runs the authorization-code flow the way a browser would, with the peer's scripted login and
    /// consent, and returns the code delivered to [`REDIRECT_URI`].
    pub async fn authorize(
        &self,
        client_id: &str,
        scope: &str,
        resource: Option<&str>,
        pkce: Option<&PkcePair>,
    ) -> AuthorizationCode {
        let state = "xyz-state";
        let mut url = url::Url::parse(&self.url("/oauth/authorize")).expect("authorize URL");
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", REDIRECT_URI)
                .append_pair("scope", scope)
                .append_pair("state", state);
            if let Some(r) = resource {
                q.append_pair("resource", r);
            }
            if let Some(p) = pkce {
                q.append_pair("code_challenge", p.challenge())
                    .append_pair("code_challenge_method", p.method());
            }
        }
        let next = follow_authorization(&url).await;
        let params: std::collections::HashMap<_, _> = next.query_pairs().into_owned().collect();
        assert_eq!(
            params.get("state").map(String::as_str),
            Some(state),
            "{next}"
        );
        let code = params
            .get("code")
            .unwrap_or_else(|| panic!("no code in the redirect: {next}"));
        AuthorizationCode::new(code.clone())
    }
}

impl Peer {
    /// A user's refresh-token grant for the confidential `code-client` (scopes `openid read write`,
    /// resource `https://rs.test/rs256`): the code flow run through, the code exchanged. Returns the
    /// client's token endpoint and the first token set.
    pub async fn refresh_grant(&self) -> (TokenEndpoint, Token) {
        self.refresh_grant_with(|e| e).await
    }

    /// [`refresh_grant`](Self::refresh_grant) through an endpoint `configure` adjusts (e.g. DPoP).
    pub async fn refresh_grant_with(
        &self,
        configure: impl FnOnce(TokenEndpoint) -> TokenEndpoint,
    ) -> (TokenEndpoint, Token) {
        let code = self
            .authorize(
                "code-client",
                "openid read write",
                Some("https://rs.test/rs256"),
                None,
            )
            .await;
        let endpoint = configure(
            TokenEndpoint::new_with_http(
                HttpClient::new().unwrap().allow_http_loopback(true),
                &self.token_url(),
                ClientAuth::basic("code-client", ClientSecret::new("code-secret")),
            )
            .unwrap(),
        );
        let seed = endpoint
            .exchange_code(&code, REDIRECT_URI, None)
            .await
            .unwrap();
        (endpoint, seed)
    }
}

/// Follows the redirects from an authorization URL the way a browser would (cookies kept), through the
/// peer's scripted login and consent, and returns the final redirect to [`REDIRECT_URI`].
pub async fn follow_authorization(start: &url::Url) -> url::Url {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("browser client");
    let mut url = start.clone();
    for _ in 0..10 {
        let resp = browser
            .get(url.clone())
            .send()
            .await
            .expect("authorize hop");
        let location = resp
            .headers()
            .get("location")
            .unwrap_or_else(|| panic!("no redirect from {url} (status {})", resp.status()))
            .to_str()
            .expect("location is text")
            .to_owned();
        let next = url.join(&location).expect("location URL");
        if next.as_str().starts_with(REDIRECT_URI) {
            return next;
        }
        url = next;
    }
    panic!("the authorization flow did not reach the redirect URI in 10 hops");
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
