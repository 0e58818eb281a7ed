//! What every subcommand shares: failures and exit codes, URLs and the http rule, bounded file reads,
//! secrets from flags, files or the environment, client authentication, and output.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use telnyx_oauth::error::TransportErrorKind;
use telnyx_oauth::token::SigningKey;
use telnyx_oauth::{
    ClientAuth, ClientSecret, Error, HttpClient, PrivateKeyBytes, SigningAlgorithm,
};

/// What a subcommand ends with.
pub type Outcome = Result<ExitCode, Failure>;

/// Exit status for a usage or configuration error.
pub const EXIT_USAGE: u8 = 2;
/// Exit status for a refused, invalid or unreachable result.
pub const EXIT_FAILED: u8 = 1;

/// Largest file read: key sets, keys and secrets are small; anything bigger is a mistake.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A failed command: one line for stderr and the exit status.
#[derive(Debug)]
pub struct Failure {
    exit: u8,
    message: String,
}

impl Failure {
    /// A usage or configuration error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            exit: EXIT_USAGE,
            message: message.into(),
        }
    }

    /// The operation failed (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            exit: EXIT_FAILED,
            message: message.into(),
        }
    }

    /// Prefixes the message with what was being done.
    pub fn context(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// Changes the exit status.
    pub fn exit_with(mut self, exit: u8) -> Self {
        self.exit = exit;
        self
    }

    /// Writes the one-line message to stderr and gives the exit status.
    pub fn report(self) -> ExitCode {
        // One line, whatever the message carries.
        let line: String = self
            .message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let _ = writeln!(io::stderr().lock(), "error: {line}");
        ExitCode::from(self.exit)
    }
}

impl From<Error> for Failure {
    /// The library's message (which never carries a secret) plus what to check.
    fn from(error: Error) -> Self {
        let hint = match &error {
            Error::Transport(t) => match t.kind {
                TransportErrorKind::Connect => {
                    " — check the URL and that the server is running and reachable"
                }
                TransportErrorKind::Tls => " — check the server's certificate and the URL's host",
                TransportErrorKind::Timeout => " — the server did not answer in time; try again",
                _ => " — the connection broke; try again",
            },
            Error::Api(_) if error.status().is_some_and(|s| s.as_u16() == 401) => {
                " — check TELNYX_API_KEY (or --api-key-file)"
            }
            Error::OAuth(_) if error.status().is_some_and(|s| s.as_u16() == 401) => {
                " — check --client-id and the client secret or key"
            }
            _ => "",
        };
        let exit = match error {
            Error::Config(_) => EXIT_USAGE,
            _ => EXIT_FAILED,
        };
        Self {
            exit,
            message: format!("{error}{hint}"),
        }
    }
}

/// Checks a URL given on the command line before anything is sent to it: it must parse, and plain
/// http needs `--allow-http` (and, even then, a loopback host — the library enforces that part).
pub fn check_url(url: &str, allow_http: bool, flag: &str) -> Result<(), Failure> {
    let parsed = url::Url::parse(url)
        .map_err(|e| Failure::usage(format!("{flag}: not a valid URL ({e})")))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if allow_http => Ok(()),
        "http" => Err(Failure::usage(format!(
            "{flag}: plain http is refused; pass --allow-http to use a local server on a loopback host"
        ))),
        other => Err(Failure::usage(format!(
            "{flag}: the scheme must be https, not `{other}`"
        ))),
    }
}

/// The HTTP client every subcommand uses: the library's bounded defaults, http to loopback only when
/// allowed.
pub fn http_client(allow_http: bool) -> Result<HttpClient, Failure> {
    Ok(HttpClient::new()?.allow_http_loopback(allow_http))
}

/// Reads a whole file of at most 1 MiB.
pub fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    let fail = |e: io::Error| {
        Failure::usage(format!(
            "cannot read the {what} file `{}`: {e}",
            path.display()
        ))
    };
    let file = std::fs::File::open(path).map_err(fail)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(fail)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Failure::usage(format!(
            "the {what} file `{}` is larger than 1 MiB",
            path.display()
        )));
    }
    Ok(bytes)
}

/// A secret from its flag, else its file, else its environment variable.
pub fn secret(
    flag: Option<&str>,
    file: Option<&Path>,
    env: &str,
    what: &str,
) -> Result<Option<String>, Failure> {
    if let Some(value) = flag {
        return Ok(Some(value.to_owned()));
    }
    if let Some(path) = file {
        return secret_file(path, what).map(Some);
    }
    Ok(std::env::var(env).ok().filter(|v| !v.is_empty()))
}

/// A secret kept in a file; the file's trailing newline is not part of it.
pub fn secret_file(path: &Path, what: &str) -> Result<String, Failure> {
    let bytes = read_file(path, what)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Failure::usage(format!("the {what} file `{}` is not UTF-8", path.display()))
    })?;
    let value = text.trim_end_matches(['\r', '\n']);
    if value.is_empty() {
        return Err(Failure::usage(format!(
            "the {what} file `{}` is empty",
            path.display()
        )));
    }
    Ok(value.to_owned())
}

/// One token: the argument, or the first line of stdin when there is none (`-` also means stdin).
pub fn token_argument(token: Option<String>) -> Result<String, Failure> {
    match token {
        Some(t) if t != "-" => Ok(t),
        _ => {
            let mut lines = BoundedLines::new(io::stdin().lock());
            match lines.next_line()? {
                Some(Line::Text(t)) if !t.trim().is_empty() => Ok(t.trim().to_owned()),
                Some(Line::TooLong) => Err(Failure::usage("the token on stdin is too long")),
                _ => Err(Failure::usage(
                    "no token: give it as an argument or on stdin",
                )),
            }
        }
    }
}

/// A line of input, or the fact that it was longer than the limit (its rest is skipped).
pub enum Line {
    /// The line, without its end.
    Text(String),
    /// Longer than the limit.
    TooLong,
}

/// Reads lines of at most 64 KiB each: a missing newline in a huge input never fills memory.
pub struct BoundedLines<R> {
    reader: R,
}

/// Longest line read from stdin; tokens are a few KiB.
const MAX_LINE_BYTES: usize = 64 * 1024;

impl<R: io::BufRead> BoundedLines<R> {
    /// Lines from `reader`.
    pub fn new(reader: R) -> Self {
        Self { reader }
    }

    /// The next line, or `None` at the end.
    pub fn next_line(&mut self) -> Result<Option<Line>, Failure> {
        let read_error = |e: io::Error| Failure::usage(format!("cannot read stdin: {e}"));
        let mut buf = Vec::new();
        let n = io::BufRead::read_until(
            &mut (&mut self.reader).take(MAX_LINE_BYTES as u64 + 1),
            b'\n',
            &mut buf,
        )
        .map_err(read_error)?;
        if n == 0 {
            return Ok(None);
        }
        if buf.last() != Some(&b'\n') && buf.len() > MAX_LINE_BYTES {
            // Skip the rest of the line, a bounded chunk at a time.
            loop {
                let chunk = self.reader.fill_buf().map_err(read_error)?;
                if chunk.is_empty() {
                    break;
                }
                match chunk.iter().position(|b| *b == b'\n') {
                    Some(i) => {
                        self.reader.consume(i + 1);
                        break;
                    }
                    None => {
                        let len = chunk.len();
                        self.reader.consume(len);
                    }
                }
            }
            return Ok(Some(Line::TooLong));
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        Ok(Some(Line::Text(String::from_utf8_lossy(&buf).into_owned())))
    }
}

/// Writes one line to stdout. A closed stdout (e.g. `| head`) ends the command quietly.
pub fn print_line(line: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::failed(format!("cannot write to stdout: {e}")))
}

/// Writes a JSON value to stdout, indented, members in their declared order.
pub fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::failed(format!("cannot format the output: {e}")))?;
    print_line(&text)
}

/// Writes a note for the person at the terminal to stderr (stdout stays machine-readable).
pub fn note(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// A JWS algorithm named by `--alg` (RFC 7518 names, case-sensitive).
pub fn algorithm(name: &str) -> Result<SigningAlgorithm, Failure> {
    SigningAlgorithm::parse(name)
        .ok_or_else(|| Failure::usage(format!("--alg: unknown algorithm `{name}`")))
}

/// How the client authenticates at the token and introspection endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuthMethod {
    /// client_secret_basic: the secret in the Authorization header.
    #[value(name = "basic", alias = "client_secret_basic")]
    Basic,
    /// client_secret_post: the secret in the form body.
    #[value(name = "post", alias = "client_secret_post")]
    Post,
    /// private_key_jwt: an assertion signed with --private-key.
    #[value(name = "private_key_jwt")]
    PrivateKeyJwt,
    /// client_secret_jwt: an HMAC assertion keyed with the secret.
    #[value(name = "client_secret_jwt")]
    ClientSecretJwt,
    /// none: a public client (only client_id is sent).
    #[value(name = "none")]
    None,
}

/// The client-authentication flags of `token`, `introspect` and `authorize`. Not `Debug`: it holds
/// the secret when it is given as a flag (as do the other argument structs their tokens).
#[derive(Args)]
pub struct ClientAuthArgs {
    /// The client id.
    #[arg(
        long,
        env = "TELNYX_CLIENT_ID",
        value_name = "ID",
        allow_hyphen_values = true
    )]
    pub client_id: Option<String>,
    /// The client secret (prefer --client-secret-file or TELNYX_CLIENT_SECRET: flags show in `ps`).
    #[arg(
        long,
        value_name = "SECRET",
        conflicts_with = "client_secret_file",
        allow_hyphen_values = true
    )]
    pub client_secret: Option<String>,
    /// A file holding the client secret (a trailing newline is ignored).
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// A private key (PEM: PKCS#8, PKCS#1 or SEC1; or a JWK) for private_key_jwt.
    #[arg(long, value_name = "FILE")]
    pub private_key: Option<PathBuf>,
    /// The `kid` to put in client assertions.
    #[arg(long, value_name = "KID", allow_hyphen_values = true)]
    pub key_id: Option<String>,
    /// The client-assertion algorithm (e.g. RS256, PS256, ES256, EdDSA; HS256 for client_secret_jwt).
    /// Default: from the key.
    #[arg(long = "alg", value_name = "ALG")]
    pub alg: Option<String>,
    /// How to authenticate. Default: private_key_jwt with --private-key, basic with a secret.
    #[arg(long, value_enum, value_name = "METHOD")]
    pub auth: Option<AuthMethod>,
}

impl ClientAuthArgs {
    /// The client authentication these flags describe.
    pub fn build(&self) -> Result<ClientAuth, Failure> {
        let client_id = self.client_id.clone().ok_or_else(|| {
            Failure::usage("no client id: give --client-id or set TELNYX_CLIENT_ID")
        })?;
        let secret = secret(
            self.client_secret.as_deref(),
            self.client_secret_file.as_deref(),
            "TELNYX_CLIENT_SECRET",
            "client secret",
        )?;
        let method = match (self.auth, &self.private_key, &secret) {
            (Some(m), _, _) => m,
            (None, Some(_), _) => AuthMethod::PrivateKeyJwt,
            (None, None, Some(_)) => AuthMethod::Basic,
            (None, None, None) => {
                return Err(Failure::usage(
                    "no client credentials: give --client-secret-file, TELNYX_CLIENT_SECRET, \
                     --client-secret or --private-key (or --auth none for a public client)",
                ));
            }
        };
        let need_secret = |method: &str| {
            secret.clone().map(ClientSecret::new).ok_or_else(|| {
                Failure::usage(format!(
                    "--auth {method} needs a client secret (--client-secret-file, \
                     TELNYX_CLIENT_SECRET or --client-secret)"
                ))
            })
        };
        let alg = self.alg.as_deref().map(algorithm).transpose()?;
        Ok(match method {
            AuthMethod::Basic => ClientAuth::basic(client_id, need_secret("basic")?),
            AuthMethod::Post => ClientAuth::post(client_id, need_secret("post")?),
            AuthMethod::ClientSecretJwt => {
                let secret = need_secret("client_secret_jwt")?;
                match alg {
                    Some(alg) => ClientAuth::client_secret_jwt_with(client_id, secret, alg)?,
                    None => ClientAuth::client_secret_jwt(client_id, secret),
                }
            }
            AuthMethod::PrivateKeyJwt => {
                let path = self.private_key.as_deref().ok_or_else(|| {
                    Failure::usage("--auth private_key_jwt needs --private-key FILE")
                })?;
                let mut key = signing_key(path, alg)?;
                if let Some(kid) = &self.key_id {
                    key = key.with_key_id(kid.clone());
                }
                ClientAuth::private_key_jwt(client_id, key)
            }
            AuthMethod::None => {
                if secret.is_some() || self.private_key.is_some() {
                    return Err(Failure::usage(
                        "--auth none sends no credentials; drop the secret or key",
                    ));
                }
                ClientAuth::none(client_id)
            }
        })
    }
}

/// A signing key from a PEM or JWK file; without `alg`, the key's own type decides.
fn signing_key(path: &Path, alg: Option<SigningAlgorithm>) -> Result<SigningKey, Failure> {
    let bytes = PrivateKeyBytes::new(read_file(path, "private key")?);
    let bad = |e: Error| {
        Failure::usage(format!(
            "the private key file `{}` is not usable: {e}",
            path.display()
        ))
    };
    if bytes.secret().trim_ascii_start().starts_with(b"{") {
        return SigningKey::from_jwk(&bytes, alg).map_err(bad);
    }
    if let Some(alg) = alg {
        return SigningKey::from_pem(&bytes, alg).map_err(bad);
    }
    // A PEM says what kind of key it holds, not which algorithm to use it with: take the usual one.
    let mut last = None;
    for alg in [
        SigningAlgorithm::RS256,
        SigningAlgorithm::ES256,
        SigningAlgorithm::ES384,
        SigningAlgorithm::EdDSA,
    ] {
        match SigningKey::from_pem(&bytes, alg) {
            Ok(key) => return Ok(key),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => bad(e),
        None => Failure::usage("no algorithm fits the private key"),
    })
}
