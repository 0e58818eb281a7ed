//! The `telnyx-oauth` binary, run as a user runs it, against the real authorization server
//! (oidc-provider), the crate's dev server (started through the binary's own `dev-server`), and the
//! independently minted hostile-token catalogue.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::verify_fixtures::fixture;
use support::{Peer, jwt_part};
use telnyx_oauth::verify::VerifyError;

const BIN: &str = env!("CARGO_BIN_EXE_telnyx-oauth");
/// No command here should take long; one that does is killed and fails its test.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// What a finished command left.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    fn lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// Exit `code` and one error line, the last on stderr, containing `needle` (notes for the person
    /// at the terminal may come before it).
    fn fails(&self, code: i32, needle: &str) {
        assert_eq!(
            self.code, code,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        let last = self.stderr.trim_end().lines().last().unwrap_or("");
        assert!(
            last.starts_with("error: ") && last.contains(needle),
            "stderr: {}",
            self.stderr
        );
        assert_eq!(
            self.stderr
                .lines()
                .filter(|l| l.starts_with("error"))
                .count(),
            1,
            "{}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
    }
}

/// A command with no TELNYX_* variables from the machine running the tests.
fn command(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    for var in [
        "TELNYX_API_KEY",
        "TELNYX_BASE_URL",
        "TELNYX_CLIENT_ID",
        "TELNYX_CLIENT_SECRET",
    ] {
        c.env_remove(var);
    }
    c
}

/// Runs the binary to completion (within the timeout) with `stdin` and extra environment.
fn run_with(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    let mut c = command(args);
    c.envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("run the telnyx-oauth binary");
    let mut input = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let output = wait_output(child);
    let _ = writer.join();
    output
}

fn run(args: &[&str]) -> Run {
    run_with(args, "", &[])
}

/// Waits for the child within the timeout (kills it after), collecting its output.
fn wait_output(mut child: Child) -> Run {
    let mut out_pipe = child.stdout.take().expect("stdout is piped");
    let mut err_pipe = child.stderr.take().expect("stderr is piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out_pipe, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err_pipe, &mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the binary") {
            break status;
        }
        if started.elapsed() > COMMAND_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("telnyx-oauth did not finish within {COMMAND_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

fn key_path(name: &str) -> String {
    format!("{}/tests/interop/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A file in a fresh temporary folder, removed with the folder when the guard drops.
struct TempFile {
    dir: PathBuf,
    path: PathBuf,
}

impl TempFile {
    fn new(name: &str, contents: &str) -> TempFile {
        let dir = std::env::temp_dir().join(format!(
            "telnyx-oauth-cli-{}-{}",
            std::process::id(),
            telnyx_oauth::PkcePair::generate()
                .expect("random")
                .challenge()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(12)
                .collect::<String>()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, contents).expect("temp file");
        TempFile { dir, path }
    }

    fn path(&self) -> &str {
        self.path.to_str().expect("UTF-8 temp path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `telnyx-oauth dev-server --json`, running until dropped.
struct DevServer {
    child: Child,
    info: Value,
}

impl DevServer {
    fn start(extra: &[&str]) -> DevServer {
        let mut args = vec!["dev-server", "--json"];
        args.extend_from_slice(extra);
        let mut child = command(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start telnyx-oauth dev-server");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(COMMAND_TIMEOUT).unwrap_or_default();
        let Ok(info) = serde_json::from_str::<Value>(&line) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dev-server printed no startup line: {line:?}");
        };
        DevServer { child, info }
    }

    fn get(&self, name: &str) -> String {
        self.info[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {}", self.info))
            .to_owned()
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks the token-command output and returns the access token when it was shown.
fn token_output(run: &Run, shown: bool) -> Option<String> {
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let out = run.json();
    assert_eq!(
        out["token_type"]
            .as_str()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("bearer")
    );
    assert!(out["expires_in"].as_u64().is_some_and(|s| s > 0), "{out}");
    let token = out["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    if shown {
        Some(token)
    } else {
        assert!(
            token.starts_with("[redacted: ") && token.ends_with(" characters]"),
            "{token}"
        );
        None
    }
}

/// An access token for oidc-provider's `basic-client` (shown), with extra `token` flags.
fn basic_client_token(issuer: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "token",
        "--allow-http",
        "--issuer",
        issuer,
        "--client-id",
        "basic-client",
        "--client-secret",
        "basic-secret",
        "--show-token",
    ];
    args.extend(extra);
    token_output(&run(&args), true).expect("shown")
}

#[test]
fn token_with_every_client_authentication_method_against_oidc_provider() {
    let peer = Peer::start();
    let issuer = peer.issuer.as_str();
    let token_url = peer.token_url();
    let secret_file = TempFile::new("secret.txt", "basic-secret\n");

    // basic, from a file (the trailing newline is not part of the secret), through discovery.
    let basic = run(&[
        "token",
        "--allow-http",
        "--issuer",
        issuer,
        "--client-id",
        "basic-client",
        "--client-secret-file",
        secret_file.path(),
        "--scope",
        "read",
        "--show-token",
    ]);
    let token = token_output(&basic, true).expect("shown");
    assert_eq!(jwt_part(&token, 1)["client_id"], "basic-client");
    assert_eq!(basic.json()["scope"], "read");

    // post, from the environment, redacted by default.
    let post = run_with(
        &[
            "token",
            "--allow-http",
            "--token-url",
            &token_url,
            "--client-id",
            "post-client",
            "--auth",
            "post",
        ],
        "",
        &[("TELNYX_CLIENT_SECRET", "post-secret")],
    );
    token_output(&post, false);
    assert!(!post.stdout.contains("eyJ"), "{}", post.stdout);

    // client_secret_jwt from the flag; the secret appears nowhere in the output.
    let hs_secret = "a-client-secret-long-enough-for-hs256-0123456789";
    let jwt = run(&[
        "token",
        "--allow-http",
        "--token-url",
        &token_url,
        "--client-id",
        "secret-jwt-client",
        "--client-secret",
        hs_secret,
        "--auth",
        "client_secret_jwt",
    ]);
    token_output(&jwt, false);
    assert!(!jwt.stdout.contains(hs_secret) && !jwt.stderr.contains(hs_secret));

    // private_key_jwt: PEM keys (algorithm from the key, or --alg), and a JWK carrying its kid.
    for (file, kid, alg) in [
        ("client-rs256.pem", "client-rs256", None),
        ("client-es256.pem", "client-es256", None),
        ("client-eddsa.pem", "client-eddsa", None),
        ("client-ps256.pem", "client-ps256", Some("PS256")),
        ("client-es256.private.jwk.json", "client-es256", None),
    ] {
        let key = key_path(file);
        let mut args = vec![
            "token",
            "--allow-http",
            "--issuer",
            issuer,
            "--client-id",
            "private-key-jwt-client",
            "--private-key",
            &key,
            "--key-id",
            kid,
            "--scope",
            "read",
            "--show-token",
        ];
        if let Some(alg) = alg {
            args.extend(["--alg", alg]);
        }
        let run = run(&args);
        let token = token_output(&run, true).unwrap_or_else(|| panic!("{file}"));
        assert_eq!(
            jwt_part(&token, 1)["client_id"],
            "private-key-jwt-client",
            "{file}"
        );
    }

    // A resource indicator picks the token's audience and signing algorithm.
    let token = basic_client_token(issuer, &["--resource", "https://rs.test/es256"]);
    assert_eq!(jwt_part(&token, 0)["alg"], "ES256");
    assert_eq!(jwt_part(&token, 1)["aud"], "https://rs.test/es256");

    // none: a public client cannot use client_credentials; the server's refusal is reported.
    run(&[
        "token",
        "--allow-http",
        "--token-url",
        &token_url,
        "--client-id",
        "public-client",
        "--auth",
        "none",
    ])
    .fails(1, "requested grant type is not allowed");
}

#[test]
fn token_errors_say_what_failed_with_the_right_exit_code() {
    let peer = Peer::start();
    let token_url = peer.token_url();
    let wrong = run(&[
        "token",
        "--allow-http",
        "--token-url",
        &token_url,
        "--client-id",
        "basic-client",
        "--client-secret",
        "not-the-secret",
    ]);
    wrong.fails(
        1,
        "invalid_client: the server rejected the client credentials",
    );
    assert!(wrong.stderr.contains("(HTTP 401)") && wrong.stderr.contains("check --client-id"));
    assert!(!wrong.stderr.contains("not-the-secret"));

    let not_a_key = TempFile::new(
        "key.pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    let rsa_key = key_path("client-rs256.pem");
    let t = token_url.as_str();
    // (flags after `token`, exit status, what the error line says)
    #[rustfmt::skip]
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        // Plain http needs the flag; even with it, only to loopback hosts.
        (vec!["--token-url", t, "--client-id", "c", "--client-secret", "s"], 2, "pass --allow-http"),
        (vec!["--allow-http", "--token-url", "http://example.com/token", "--client-id", "c", "--client-secret", "s"], 2, "must use https"),
        (vec!["--token-url", "not a url", "--client-id", "c", "--client-secret", "s"], 2, "--token-url: not a valid URL"),
        // Nothing listens on port 1.
        (vec!["--allow-http", "--token-url", "http://127.0.0.1:1/token", "--client-id", "c", "--client-secret", "s"], 1, "could not connect to http://127.0.0.1:1/token — check the URL"),
        // Server-made ids and secrets may start with '-': they are values, not flags.
        (vec!["--allow-http", "--token-url", "http://127.0.0.1:1/token", "--client-id", "-id", "--client-secret", "-Bsecret"], 1, "could not connect"),
        (vec!["--allow-http", "--token-url", t, "--client-secret", "s"], 2, "no client id"),
        (vec!["--allow-http", "--token-url", t, "--client-id", "c"], 2, "no client credentials"),
        (vec!["--allow-http", "--token-url", t, "--client-id", "c", "--auth", "post"], 2, "--auth post needs a client secret"),
        (vec!["--allow-http", "--token-url", t, "--client-id", "c", "--client-secret-file", "/nonexistent/secret"], 2, "cannot read the client secret file `/nonexistent/secret`"),
        (vec!["--allow-http", "--token-url", t, "--client-id", "c", "--private-key", not_a_key.path()], 2, "is not usable"),
        (vec!["--allow-http", "--token-url", t, "--client-id", "c", "--private-key", &rsa_key, "--alg", "RS999"], 2, "--alg: unknown algorithm `RS999`"),
        (vec!["--allow-http", "--token-url", t, "--client-id", "c", "--client-secret", "s", "--refresh-token", "r", "--resource", "https://rs.test/rs256"], 2, "--resource and --audience apply to client_credentials"),
    ];
    for (flags, code, needle) in cases {
        let mut args = vec!["token"];
        args.extend(flags);
        run(&args).fails(code, needle);
    }
    // Usage errors come from the argument parser, with exit 2 too.
    let usage = run(&["token", "--no-such-flag"]);
    assert_eq!(usage.code, 2);
    assert!(usage.stderr.contains("--no-such-flag"), "{}", usage.stderr);
}

/// The exact line `verify` must print for a valid token, built from its independently decoded claims.
fn expected_valid_line(token: &str) -> String {
    let header = jwt_part(token, 0);
    let claims = jwt_part(token, 1);
    let scope = claims["scope"].as_str().map(str::to_owned).or_else(|| {
        claims["scp"].as_array().map(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
    });
    format!(
        r#"{{"valid":true,"iss":{},"sub":{},"aud":{},"scope":{},"exp":{},"kid":{},"alg":{}}}"#,
        claims["iss"],
        claims["sub"],
        claims["aud"],
        serde_json::to_string(&scope).expect("scope"),
        claims["exp"],
        header["kid"],
        header["alg"],
    )
}

/// The hostile-token catalogue, its key set in a file, and `verify` set up to judge it.
struct Catalogue {
    fixture: Value,
    jwks: TempFile,
}

impl Catalogue {
    fn load() -> Catalogue {
        Catalogue {
            fixture: fixture("tokens.json"),
            jwks: TempFile::new("jwks.json", &fixture("jwks.json").to_string()),
        }
    }

    fn cases(&self) -> &[Value] {
        self.fixture["tokens"].as_array().expect("cases")
    }

    fn tokens_expecting(&self, outcome: &str) -> Vec<&str> {
        self.cases()
            .iter()
            .filter(|c| c["expect"] == outcome)
            .map(|c| c["token"].as_str().expect("token"))
            .collect()
    }

    /// `verify` with the catalogue's issuer, audience and keys — at its pinned clock unless
    /// `real_clock` — over `tokens` (as arguments) and `stdin`.
    fn verify(&self, real_clock: bool, tokens: &[&str], stdin: &str) -> Run {
        let now = self.fixture["now"].as_f64().expect("now").to_string();
        let mut args = vec![
            "verify",
            "--issuer",
            self.fixture["issuer"].as_str().expect("issuer"),
            "--audience",
            self.fixture["audience"].as_str().expect("audience"),
            "--jwks-file",
            self.jwks.path(),
        ];
        if !real_clock {
            args.extend(["--now", &now]);
        }
        args.extend(tokens);
        run_with(&args, stdin, &[])
    }
}

#[test]
fn verify_prints_one_exact_line_per_token_of_the_hostile_catalogue() {
    let catalogue = Catalogue::load();
    // A line of stdin cannot carry a token whose own bytes include line ends or edge whitespace
    // (those cases are hostile precisely for that): they are given as arguments below.
    let carries_whitespace = |c: &&Value| {
        c["token"]
            .as_str()
            .is_some_and(|t| t.trim() != t || t.contains('\n'))
    };
    let cases: Vec<&Value> = catalogue
        .cases()
        .iter()
        .filter(|c| !carries_whitespace(c))
        .collect();
    let odd: Vec<&Value> = catalogue
        .cases()
        .iter()
        .filter(carries_whitespace)
        .collect();
    let stdin: String = cases
        .iter()
        .map(|c| format!("{}\n", c["token"].as_str().expect("token")))
        .collect();
    let batch = catalogue.verify(false, &[], &stdin);
    // The same verifier in process, for the exact descriptions the lines must carry.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let now = catalogue.fixture["now"].as_f64().expect("now");
    let library = rt
        .block_on(
            telnyx_oauth::verify::Verifier::builder()
                .issuer_with_jwks(
                    catalogue.fixture["issuer"].as_str().expect("issuer"),
                    fixture("jwks.json"),
                )
                .audience(catalogue.fixture["audience"].as_str().expect("audience"))
                .clock(move || now)
                .build(),
        )
        .expect("in-process verifier");
    assert_eq!(
        batch.code, 1,
        "a batch with invalid tokens exits 1; stderr: {}",
        batch.stderr
    );
    let lines: Vec<&str> = batch.stdout.lines().collect();
    assert_eq!(lines.len(), cases.len(), "one line per token");
    for (case, line) in cases.iter().zip(&lines) {
        let (name, token, expect) = (
            case["name"].as_str().expect("name"),
            case["token"].as_str().expect("token"),
            case["expect"].as_str().expect("expect"),
        );
        // Never the token, nor its signature.
        let signature = token.rsplit('.').next().unwrap_or(token);
        assert!(
            !line.contains(token) && (signature.len() < 16 || !line.contains(signature)),
            "{name}: {line}"
        );
        if expect == "ok" {
            assert_eq!(*line, expected_valid_line(token), "{name}");
        } else {
            // The description is the library's own sentence for this token, word for word.
            let description = rt
                .block_on(library.verify::<Value>(token))
                .expect_err(name)
                .to_string();
            let expected = format!(
                r#"{{"valid":false,"error":{},"description":{}}}"#,
                Value::from(expect),
                Value::from(description)
            );
            assert_eq!(*line, expected, "{name}");
        }
    }
    assert!(
        catalogue.tokens_expecting("ok").len() >= 3,
        "valid tokens in several algorithms"
    );

    assert!(!odd.is_empty());
    let odd_tokens: Vec<&str> = odd
        .iter()
        .map(|c| c["token"].as_str().expect("token"))
        .collect();
    let odd_lines = catalogue.verify(false, &odd_tokens, "").lines();
    assert_eq!(odd_lines.len(), odd.len());
    for (case, line) in odd.iter().zip(&odd_lines) {
        let got = line["error"].as_str().unwrap_or("ok");
        assert_eq!(
            got,
            case["expect"].as_str().expect("expect"),
            "{}",
            case["name"]
        );
    }

    // The descriptions are the library's own, word for word.
    let expired = cases
        .iter()
        .position(|c| c["expect"] == "expired")
        .expect("an expired case");
    assert_eq!(
        lines[expired],
        format!(
            r#"{{"valid":false,"error":"expired","description":"{}"}}"#,
            VerifyError::Expired
        )
    );

    // Only valid tokens: exit 0. Tokens from arguments work the same as stdin.
    let valid_tokens = catalogue.tokens_expecting("ok");
    let all_valid = catalogue.verify(false, &valid_tokens, "");
    assert_eq!(all_valid.code, 0, "{}", all_valid.stderr);
    assert_eq!(all_valid.lines().len(), valid_tokens.len());
    assert!(all_valid.lines().iter().all(|l| l["valid"] == true));

    // Without --now the real clock judges: the catalogue's clock is pinned far from today.
    let late = catalogue.verify(true, &valid_tokens[..1], "");
    assert_eq!(late.code, 1);
    let error = late.lines()[0]["error"].clone();
    assert!(
        ["expired", "issued_in_future", "not_yet_valid"].contains(&error.as_str().unwrap_or("")),
        "{error}"
    );
}

#[test]
fn verify_tokens_of_the_real_server_through_discovery_and_jwks_uri() {
    let peer = Peer::start();
    let issuer = peer.issuer.as_str();
    let get =
        |resource: &str| basic_client_token(issuer, &["--resource", resource, "--scope", "read"]);
    let rs = get("https://rs.test/rs256");
    let ed = get("https://rs.test/eddsa");

    // Discovery from the issuer; two audiences accepted.
    let both = run(&[
        "verify",
        "--allow-http",
        "--issuer",
        issuer,
        "--audience",
        "https://rs.test/rs256",
        "--audience",
        "https://rs.test/eddsa",
        &rs,
        &ed,
    ]);
    assert_eq!(both.code, 0, "{}", both.stderr);
    assert_eq!(
        both.stdout.lines().collect::<Vec<_>>(),
        vec![expected_valid_line(&rs), expected_valid_line(&ed)]
    );

    // The key set URL directly; a mixed batch: valid, wrong audience, tampered signature, garbage.
    // One character inside the signature (not the last, whose spare bits would make the base64
    // non-canonical rather than the signature wrong).
    let at = rs.len() - 10;
    let swapped = if &rs[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{swapped}{}", &rs[..at], &rs[at + 1..]);
    let jwks_uri = peer.url("/oauth/jwks");
    let mixed = run_with(
        &[
            "verify",
            "--allow-http",
            "--issuer",
            issuer,
            "--jwks-uri",
            &jwks_uri,
            "--audience",
            "https://rs.test/rs256",
        ],
        &format!("{rs}\n\n{ed}\n{tampered}\nnot-a-token\n"),
        &[],
    );
    assert_eq!(mixed.code, 1, "{}", mixed.stderr);
    let codes: Vec<Value> = mixed.lines().iter().map(|l| l["error"].clone()).collect();
    assert_eq!(
        codes,
        vec![
            Value::Null,
            "audience_mismatch".into(),
            "bad_signature".into(),
            "malformed_segments".into()
        ]
    );
    assert_eq!(mixed.lines()[0]["valid"], true);

    // Only the allowed algorithms.
    let only_es = run(&[
        "verify",
        "--allow-http",
        "--issuer",
        issuer,
        "--audience",
        "https://rs.test/rs256",
        "--alg",
        "ES256",
        &rs,
    ]);
    assert_eq!(only_es.code, 1);
    assert_eq!(only_es.lines()[0]["error"], "alg_not_allowed");
    // RFC 9068 strictly: oidc-provider's tokens are at+jwt with every required claim.
    let strict = run(&[
        "verify",
        "--allow-http",
        "--issuer",
        issuer,
        "--audience",
        "https://rs.test/rs256",
        "--typ",
        "strict",
        &rs,
    ]);
    assert_eq!(strict.code, 0, "{}", strict.stdout);
}

#[test]
fn verify_configuration_errors_exit_2() {
    let bad = TempFile::new("jwks.json", "{not json");
    let empty = TempFile::new("jwks.json", r#"{"keys":[{"kty":"RSA","n":"AQAB"}]}"#);
    let (as_example, unreachable) = ("https://as.example", "http://127.0.0.1:1");
    // (flags after `verify --audience api`, what the error line says); every one exits 2.
    #[rustfmt::skip]
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--issuer", as_example, "--jwks-file", "/nonexistent/jwks.json"], "cannot read the JWKS file `/nonexistent/jwks.json`"),
        (vec!["--issuer", as_example, "--jwks-file", bad.path()], "is not JSON"),
        (vec!["--issuer", as_example, "--jwks-file", empty.path()], "cannot load the keys"),
        (vec!["--allow-http", "--issuer", unreachable], "cannot load the keys"),
        (vec!["--issuer", unreachable], "pass --allow-http"),
        (vec!["--issuer", as_example, "--jwks-file", empty.path(), "--alg", "XX1"], "--alg: unknown algorithm `XX1`"),
    ];
    for (flags, needle) in cases {
        let mut args = vec!["verify", "--audience", "api"];
        args.extend(flags);
        args.push("t");
        run(&args).fails(2, needle);
    }
    let missing = run(&["verify", "--issuer", "https://as.example", "t"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("--audience"), "{}", missing.stderr);
}

#[test]
fn an_oversized_line_on_stdin_is_one_too_large_answer_and_the_next_line_still_counts() {
    let catalogue = Catalogue::load();
    let valid = catalogue.tokens_expecting("ok")[0];
    let huge = "a".repeat(200 * 1024);
    let run = catalogue.verify(false, &[], &format!("{huge}\n{valid}\n"));
    assert_eq!(run.code, 1);
    let lines = run.lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["error"], "too_large");
    assert_eq!(lines[1]["valid"], true);
}

#[test]
fn decode_shows_header_and_claims_marked_unverified() {
    let catalogue = Catalogue::load();
    let token = catalogue.tokens_expecting("ok")[0];
    let out = run(&["decode", token]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .trim_start()
            .starts_with("{\n  \"verified\": false,"),
        "{}",
        out.stdout
    );
    let json = out.json();
    assert_eq!(json["header"], jwt_part(token, 0));
    assert_eq!(json["claims"], jwt_part(token, 1));
    // From stdin too.
    let piped = run_with(&["decode"], &format!("{token}\n"), &[]);
    assert_eq!(piped.json(), json);

    run(&["decode", "abc"]).fails(1, "not a JWT: expected three dot-separated parts, found 1");
    run(&["decode", "a.b.c.d.e"]).fails(1, "encrypted token (JWE)");
    run(&["decode", "!!.e30.sig"]).fails(1, "the header is not base64url");
    run(&["decode", "e30.bm90IGpzb24.sig"]).fails(1, "the payload is not a JSON object");
    run_with(&["decode"], "", &[]).fails(2, "no token");
}

#[test]
fn discover_prints_checked_metadata() {
    let peer = Peer::start();
    let out = run(&["discover", "--allow-http", &peer.issuer]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json = out.json();
    assert_eq!(json["issuer"], peer.issuer.as_str());
    assert_eq!(json["token_endpoint"], peer.token_url().as_str());
    assert_eq!(json["jwks_uri"], peer.url("/oauth/jwks").as_str());

    // The issuer must match exactly: a trailing slash is another issuer.
    run(&["discover", "--allow-http", &format!("{}/", peer.issuer)]).fails(1, "issuer");
    run(&["discover", &peer.issuer]).fails(2, "pass --allow-http");
    run(&["discover", "--allow-http", "http://127.0.0.1:1"]).fails(1, "could not connect");
}

#[test]
fn introspect_reports_active_and_inactive_tokens() {
    let peer = Peer::start();
    let issuer = peer.issuer.as_str();
    let token = basic_client_token(issuer, &["--resource", "https://rs.test/opaque"]);
    let auth = [
        "--client-id",
        "post-client",
        "--client-secret",
        "post-secret",
        "--auth",
        "post",
    ];

    let mut args = vec!["introspect", "--allow-http", "--issuer", issuer];
    args.extend(auth);
    args.push(&token);
    let active = run(&args);
    assert_eq!(active.code, 0, "{}", active.stderr);
    assert_eq!(active.json()["active"], true);
    assert_eq!(active.json()["client_id"], "basic-client");

    // From stdin, at an explicit URL; an unknown token is inactive: exit 1, answer still printed.
    let url = peer.url("/oauth/introspect");
    let mut args = vec!["introspect", "--allow-http", "--introspection-url", &url];
    args.extend(auth);
    let inactive = run_with(&args, "not-a-token-the-server-issued\n", &[]);
    assert_eq!(inactive.code, 1);
    assert_eq!(inactive.json()["active"], false);

    let mut args = vec![
        "introspect",
        "--allow-http",
        "--introspection-url",
        &url,
        "--client-id",
        "post-client",
        "--client-secret",
        "wrong",
    ];
    args.push(&token);
    run(&args).fails(1, "invalid_client");
}

#[test]
fn clients_and_grants_against_the_dev_server() {
    let dev = DevServer::start(&[]);
    let base = dev.get("api_base");
    let key = dev.get("api_key");
    let env = [("TELNYX_API_KEY", key.as_str())];
    let api = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--allow-http", "--base-url", &base]);
        run_with(&all, "", &env)
    };

    let created = api(&[
        "clients",
        "create",
        "--name",
        "billing",
        "--type",
        "confidential",
        "--grant",
        "client_credentials",
        "--scope",
        "read",
        "--scope",
        "write",
        "--json",
    ]);
    assert_eq!(created.code, 0, "{}", created.stderr);
    let client = created.json();
    let id = client["client_id"].as_str().expect("client_id").to_owned();
    let secret = client["client_secret"]
        .as_str()
        .expect("the secret, once")
        .to_owned();
    assert!(created.stderr.contains("not shown again"));
    assert_eq!(
        client["allowed_scopes"],
        serde_json::json!(["read", "write"])
    );

    // The new client works at the token endpoint.
    let token = run(&[
        "token",
        "--allow-http",
        "--issuer",
        &dev.get("issuer"),
        "--client-id",
        &id,
        "--client-secret",
        &secret,
        "--scope",
        "read",
    ]);
    token_output(&token, false);

    // Listed (all pages, page size 1), as JSON and as a table; the secret never again.
    let listed = api(&["clients", "list", "--page-size", "1", "--json"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let listed_json = listed.json();
    let ids: Vec<&str> = listed_json
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["client_id"].as_str())
        .collect();
    assert!(
        ids.contains(&id.as_str()) && ids.contains(&dev.get("client_id").as_str()),
        "{ids:?}"
    );
    assert!(!listed.stdout.contains(&secret));
    let table = api(&["clients", "list"]);
    assert!(table.stdout.starts_with("CLIENT ID"), "{}", table.stdout);
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("billing"))
    );

    let got = api(&["clients", "get", &id, "--json"]);
    assert_eq!(got.json()["name"], "billing");
    assert!(got.json().get("client_secret").is_none());
    let updated = api(&[
        "clients",
        "update",
        &id,
        "--name",
        "billing-2",
        "--scope",
        "read",
        "--json",
    ]);
    assert_eq!(updated.code, 0, "{}", updated.stderr);
    assert_eq!(updated.json()["name"], "billing-2");
    assert_eq!(
        updated.json()["allowed_scopes"],
        serde_json::json!(["read"])
    );
    let deleted = api(&["clients", "delete", &id, "--json"]);
    assert_eq!(deleted.json()["deleted"], id.as_str());
    api(&["clients", "get", &id]).fails(1, "HTTP 404");

    let grants = api(&["grants", "list", "--json"]);
    assert_eq!(grants.code, 0, "{}", grants.stderr);
    assert!(grants.json().is_array());
    api(&["grants", "revoke", "no-such-grant"]).fails(1, "HTTP 404");

    // Credentials: missing is a usage error, wrong is refused.
    let mut no_key = vec!["clients", "list", "--allow-http", "--base-url", &base];
    run(&no_key).fails(2, "no API key");
    let wrong_key = TempFile::new("key.txt", "not-the-key\n");
    no_key.extend(["--api-key-file", wrong_key.path()]);
    run(&no_key).fails(1, "check TELNYX_API_KEY");
}

#[test]
fn authorize_runs_the_code_flow_through_its_redirect_listener_then_the_refresh_token_works() {
    // The client is registered with the loopback redirect on port 8976; `authorize` listens on any
    // free port (port 0) and the server accepts it there (RFC 8252 §7.3): no port to race for.
    let dev = DevServer::start(&[
        "--redirect-uri",
        "http://127.0.0.1:8976/callback",
        "--alg",
        "ES256",
    ]);
    let redirect = "http://127.0.0.1:0/callback";
    let issuer = dev.get("issuer");
    let client_id = dev.get("client_id");
    let secret = dev.get("client_secret");

    let mut child = command(&[
        "authorize",
        "--allow-http",
        "--issuer",
        &issuer,
        "--client-id",
        &client_id,
        "--client-secret",
        &secret,
        "--redirect-uri",
        redirect,
        "--scope",
        "read",
        "--show-token",
        "--timeout",
        "30",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start authorize");
    // The URL to open is printed on stderr.
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
    let mut url = None;
    let mut seen = String::new();
    for _ in 0..10 {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if line.starts_with("http") {
            url = Some(line.trim().to_owned());
            break;
        }
        seen.push_str(&line);
    }
    let Some(url) = url else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("authorize printed no URL; its stderr:\n{seen}");
    };
    // The redirect URI sent names the port actually listened on.
    assert!(
        !url.contains("127.0.0.1%3A0%2F") && url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"),
        "{url}"
    );
    assert!(
        url.contains("code_challenge=") && url.contains("state="),
        "{url}"
    );

    // The "browser": the dev server approves and redirects to the listener, which answers.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let page = rt.block_on(async {
        let browser = reqwest::Client::builder().build().expect("client");
        let resp = browser
            .get(&url)
            .send()
            .await
            .expect("follow the redirect to the listener");
        (resp.status(), resp.text().await.unwrap_or_default())
    });
    assert_eq!(page.0, 200, "{}", page.1);
    assert!(page.1.contains("Authorization complete"));

    child.stderr = Some(stderr.into_inner());
    let done = wait_output(child);
    assert_eq!(done.code, 0, "{}", done.stderr);
    let out = done.json();
    let access = out["access_token"].as_str().expect("access token");
    assert_eq!(jwt_part(access, 0)["alg"], "ES256");
    assert_eq!(out["scope"], "read");
    let refresh = out["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();

    // The refresh token, from a file, gets a new access token.
    let refresh_from = |file: &TempFile| {
        run_with(
            &[
                "token",
                "--allow-http",
                "--issuer",
                &issuer,
                "--client-id",
                &client_id,
                "--refresh-token-file",
                file.path(),
                "--show-token",
            ],
            "",
            &[("TELNYX_CLIENT_SECRET", &secret)],
        )
    };
    let file = TempFile::new("refresh.txt", &format!("{refresh}\n"));
    let refreshed = refresh_from(&file);
    let new_access = token_output(&refreshed, true).expect("shown");
    assert_ne!(new_access, access);
    // The server rotates refresh tokens: the next one, never used yet, is what revocation must stop.
    let rotated = refreshed.json()["refresh_token"]
        .as_str()
        .expect("a rotated refresh token")
        .to_owned();
    assert_ne!(rotated, refresh);
    let rotated_file = TempFile::new("refresh2.txt", &rotated);

    // The grant the user made shows in grants list; revoked, its refresh token stops working.
    let api_base = dev.get("api_base");
    let api_key = dev.get("api_key");
    let grants = |args: &[&str]| {
        let mut all = vec!["grants"];
        all.extend(args);
        all.extend(["--json", "--allow-http", "--base-url", &api_base]);
        run_with(&all, "", &[("TELNYX_API_KEY", &api_key)])
    };
    let listed = grants(&["list"]).json();
    let grant = listed
        .as_array()
        .and_then(|g| g.iter().find(|g| g["client_id"] == client_id.as_str()))
        .unwrap_or_else(|| panic!("no grant for the client in {listed}"));
    let grant_id = grant["id"].as_str().expect("grant id").to_owned();
    assert_eq!(grants(&["get", &grant_id]).json()["id"], grant_id.as_str());
    let revoked = grants(&["revoke", &grant_id]);
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    assert_eq!(revoked.json()["id"], grant_id.as_str());
    refresh_from(&rotated_file).fails(1, "invalid_grant");
}

#[test]
fn authorize_refuses_a_redirect_it_cannot_listen_on_and_gives_up_after_its_timeout() {
    run(&[
        "authorize",
        "--client-id",
        "c",
        "--redirect-uri",
        "https://app.example/cb",
    ])
    .fails(2, "--redirect-uri must be http on a loopback host");
    let redirect = "http://127.0.0.1:0/callback";
    run(&[
        "authorize",
        "--allow-http",
        "--authorize-url",
        "http://127.0.0.1:1/authorize",
        "--token-url",
        "http://127.0.0.1:1/token",
        "--client-id",
        "c",
        "--redirect-uri",
        redirect,
        "--timeout",
        "1",
    ])
    .fails(1, "no redirect within 1 s");
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for sub in [
        vec!["token"],
        vec!["verify"],
        vec!["decode"],
        vec!["discover"],
        vec!["introspect"],
        vec!["clients", "list"],
        vec!["clients", "create"],
        vec!["grants", "revoke"],
        vec!["dev-server"],
        vec!["authorize"],
    ] {
        let mut args = sub.clone();
        args.push("--help");
        let help = run(&args);
        assert_eq!(help.code, 0, "{sub:?}");
        assert!(help.stdout.contains("Example"), "{sub:?}: {}", help.stdout);
        if sub.len() == 1 && sub[0] != "decode" && sub[0] != "dev-server" {
            assert!(help.stdout.contains("--allow-http"), "{sub:?}");
        }
    }
    let top = run(&["--help"]);
    assert!(top.stdout.contains("Exit status"));
}
