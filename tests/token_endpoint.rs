//! The token endpoint's request shape and its handling of faults a real server will not produce:
//! 5xx, 429 + Retry-After, garbage, HTML, slowness, oversized bodies, missing members, dead ports.

use std::time::Duration;

use base64::Engine;
use telnyx_oauth::error::{OAuthErrorCode, TransportErrorKind, UnexpectedReason};
use telnyx_oauth::{
    AuthorizationServerMetadata, ClientAuth, ClientCredentials, ClientSecret, Error, HttpClient,
    PkceVerifier, RefreshToken, TokenEndpoint,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const OK_BODY: &str =
    r#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"scope":"read"}"#;

fn http() -> HttpClient {
    HttpClient::new().unwrap().allow_http_loopback(true)
}

fn basic() -> ClientAuth {
    ClientAuth::basic("client", ClientSecret::new("secret"))
}

async fn endpoint_with(server: &MockServer, auth: ClientAuth, http: HttpClient) -> TokenEndpoint {
    TokenEndpoint::new_with_http(http, &format!("{}/oauth/token", server.uri()), auth).unwrap()
}

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(OK_BODY, "application/json")
}

fn form(req: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect()
}

/// A client_credentials request against `server` with the default client, expected to fail.
async fn client_credentials_error(server: &MockServer) -> Error {
    endpoint_with(server, basic(), http())
        .await
        .client_credentials(&ClientCredentials::new())
        .await
        .unwrap_err()
}

async fn one_request(server: &MockServer) -> Request {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    requests.remove(0)
}

#[tokio::test]
async fn client_credentials_request_shape_with_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ok())
        .mount(&server)
        .await;
    let ep = endpoint_with(
        &server,
        ClientAuth::basic("my client", ClientSecret::new("p@ss:w/rd+%&= x")),
        http(),
    )
    .await;
    let request = ClientCredentials::new()
        .scope("read")
        .scope("write")
        .resource("https://a.example/")
        .resource("https://b.example/")
        .audience("aud-1")
        .param("organization", "acme");
    let token = ep.client_credentials(&request).await.unwrap();
    assert_eq!(token.access_token().secret(), "at-1");

    let req = one_request(&server).await;
    assert_eq!(
        req.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(req.headers["accept"], "application/json");
    assert!(
        req.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("telnyx-oauth-rust/")
    );
    let basic = req.headers["authorization"]
        .to_str()
        .unwrap()
        .strip_prefix("Basic ")
        .unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic)
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        "my+client:p%40ss%3Aw%2Frd%2B%25%26%3D+x"
    );
    assert_eq!(
        form(&req),
        [
            ("grant_type", "client_credentials"),
            ("scope", "read write"),
            ("resource", "https://a.example/"),
            ("resource", "https://b.example/"),
            ("audience", "aud-1"),
            ("organization", "acme"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
}

#[tokio::test]
async fn post_auth_sends_no_authorization_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok())
        .mount(&server)
        .await;
    let ep = endpoint_with(
        &server,
        ClientAuth::post("c", ClientSecret::new("s")),
        http(),
    )
    .await;
    ep.client_credentials(&ClientCredentials::new())
        .await
        .unwrap();
    let req = one_request(&server).await;
    assert!(!req.headers.contains_key("authorization"));
    assert_eq!(
        form(&req),
        [
            ("grant_type", "client_credentials"),
            ("client_id", "c"),
            ("client_secret", "s")
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
}

#[tokio::test]
async fn refresh_and_code_exchange_request_shapes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string(
            "grant_type=refresh_token&refresh_token=rt-1&scope=read&client_id=pub",
        ))
        .respond_with(ok())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string(
            "grant_type=authorization_code&code=c-1&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&code_verifier=v-1&client_id=pub",
        ))
        .respond_with(ok())
        .expect(1)
        .mount(&server)
        .await;
    let ep = endpoint_with(&server, ClientAuth::none("pub"), http()).await;
    ep.refresh(&RefreshToken::new("rt-1"), &["read"])
        .await
        .unwrap();
    ep.exchange_code(
        &"c-1".into(),
        "http://127.0.0.1/cb",
        Some(&PkceVerifier::new("v-1")),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn extra_parameters_cannot_override_library_parameters() {
    let server = MockServer::start().await;
    let ep = endpoint_with(&server, basic(), http()).await;
    for name in ["grant_type", "client_secret", "client_id", "scope"] {
        let err = ep
            .client_credentials(&ClientCredentials::new().param(name, "x"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{name}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn server_errors_are_transient() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_raw("<html>Service Unavailable</html>", "text/html"),
        )
        .mount(&server)
        .await;
    let err = client_credentials_error(&server).await;
    let Error::UnexpectedResponse(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.status.as_u16(), 503);
    assert_eq!(e.reason, UnexpectedReason::ErrorStatus);
    assert_eq!(e.content_type.as_deref(), Some("text/html"));
    assert!(e.preview.contains("Service Unavailable"));
    assert!(err.is_transient());
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "17")
                .set_body_raw(r#"{"error":"slow_down"}"#, "application/json"),
        )
        .mount(&server)
        .await;
    let err = client_credentials_error(&server).await;
    assert_eq!(err.retry_after(), Some(Duration::from_secs(17)));
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::Other("slow_down".into()))
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn permanent_oauth_errors_are_permanent() {
    for code in [
        "invalid_client",
        "unauthorized_client",
        "invalid_grant",
        "invalid_scope",
        "unsupported_grant_type",
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_raw(
                format!(
                    r#"{{"error":"{code}","error_description":"nope","error_uri":"https://e/x"}}"#
                ),
                "application/json",
            ))
            .mount(&server)
            .await;
        let err = endpoint_with(&server, basic(), http())
            .await
            .client_credentials(&ClientCredentials::new())
            .await
            .unwrap_err();
        let Error::OAuth(e) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(e.code.as_str(), code);
        assert_eq!(e.description.as_deref(), Some("nope"));
        assert_eq!(e.uri.as_deref(), Some("https://e/x"));
        assert!(err.is_permanent(), "{code}");
    }
}

#[tokio::test]
async fn telnyx_error_bodies_are_typed_by_the_telnyx_token_endpoint_and_unexpected_elsewhere() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(
            r#"{"errors":[{"code":"10009","title":"Authentication failed","detail":"Could not understand the provided credentials.","meta":{"url":"https://developers.telnyx.com/docs/overview/errors/10009"}}]}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let telnyx = telnyx_oauth::api::Telnyx::builder()
        .base_url(format!("{}/v2", server.uri()))
        .http(http())
        .client_auth(basic())
        .build()
        .unwrap();
    let err = telnyx
        .token_endpoint()
        .unwrap()
        .client_credentials(&ClientCredentials::new())
        .await
        .unwrap_err();
    let Error::Api(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.errors[0].code.as_deref(), Some("10009"));
    assert!(err.to_string().contains("Authentication failed"));
    assert!(err.is_permanent());
    // A generic endpoint speaks OAuth: the same body is an unexpected response, still permanent.
    let err = client_credentials_error(&server).await;
    let Error::UnexpectedResponse(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.reason, UnexpectedReason::ErrorStatus);
    assert!(err.is_permanent());
}

#[tokio::test]
async fn garbage_bodies_become_typed_errors() {
    type Check = fn(&UnexpectedReason) -> bool;
    let cases: [(&str, &str, Check); 6] = [
        ("", "application/json", |r| {
            *r == UnexpectedReason::EmptyBody
        }),
        ("{\"access_token\":\"at\",\"tok", "application/json", |r| {
            matches!(r, UnexpectedReason::InvalidJson { .. })
        }),
        ("<html>hello</html>", "text/html", |r| {
            *r == UnexpectedReason::WrongContentType
        }),
        (OK_BODY, "text/plain", |r| {
            *r == UnexpectedReason::WrongContentType
        }),
        (
            r#"{"token_type":"Bearer","expires_in":60}"#,
            "application/json",
            |r| *r == UnexpectedReason::MissingField("access_token"),
        ),
        (
            r#"{"access_token":"SECRET","token_type":"Bearer","expires_in":-5}"#,
            "application/json",
            |r| {
                matches!(
                    r,
                    UnexpectedReason::InvalidField {
                        field: "expires_in",
                        ..
                    }
                )
            },
        ),
    ];
    for (body, content_type, check) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, content_type))
            .mount(&server)
            .await;
        let err = endpoint_with(&server, basic(), http())
            .await
            .client_credentials(&ClientCredentials::new())
            .await
            .unwrap_err();
        let Error::UnexpectedResponse(e) = &err else {
            panic!("{body}: {err:?}")
        };
        assert!(check(&e.reason), "{body}: {:?}", e.reason);
        assert!(
            !err.to_string().contains("SECRET") && !e.preview.contains("at\""),
            "{err}"
        );
    }
}

#[tokio::test]
async fn missing_expires_in_defaults_to_five_minutes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"access_token":"a","token_type":"bearer"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let token = endpoint_with(&server, basic(), http())
        .await
        .client_credentials(&ClientCredentials::new())
        .await
        .unwrap();
    assert_eq!(token.expires_in(), Duration::from_secs(300));
    assert!(token.expires_in_defaulted());
}

#[tokio::test]
async fn oversized_body_is_refused_by_content_length() {
    let server = MockServer::start().await;
    let huge = format!(
        r#"{{"access_token":"{}","token_type":"Bearer"}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(huge, "application/json"))
        .mount(&server)
        .await;
    let err = client_credentials_error(&server).await;
    let Error::UnexpectedResponse(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.reason, UnexpectedReason::TooLarge { limit: 1024 * 1024 });
}

/// A server that streams a chunked body without `Content-Length`, forever unless the client stops reading.
async fn endless_chunked_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf).await;
        let _ = sock
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await;
        let chunk = format!("{:x}\r\n{}\r\n", 8192, "a".repeat(8192));
        // Bounded: at most 64 MiB, far past any limit; the client hangs up long before.
        for _ in 0..8192 {
            if sock.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    (format!("http://{addr}/token"), task)
}

#[tokio::test]
async fn oversized_streamed_body_is_cut_off_at_the_limit() {
    let (url, task) = endless_chunked_server().await;
    let ep = TokenEndpoint::new_with_http(http().with_max_body(64 * 1024), &url, basic()).unwrap();
    let err = ep
        .client_credentials(&ClientCredentials::new())
        .await
        .unwrap_err();
    let Error::UnexpectedResponse(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.reason, UnexpectedReason::TooLarge { limit: 64 * 1024 });
    drop(ep);
    task.await.unwrap();
}

#[tokio::test]
async fn slow_server_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok().set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let ep = endpoint_with(
        &server,
        basic(),
        http().with_timeout(Duration::from_millis(300)),
    )
    .await;
    let err = ep
        .client_credentials(&ClientCredentials::new())
        .await
        .unwrap_err();
    let Error::Transport(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.kind, TransportErrorKind::Timeout);
    assert_eq!(e.timeout, Some(Duration::from_millis(300)));
    assert!(err.is_transient());
}

#[tokio::test]
async fn connection_refused_is_a_transient_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    drop(listener);
    let ep = TokenEndpoint::new_with_http(http(), &url, basic()).unwrap();
    let err = ep
        .client_credentials(&ClientCredentials::new())
        .await
        .unwrap_err();
    let Error::Transport(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.kind, TransportErrorKind::Connect);
    assert!(err.is_transient());
    assert!(!err.to_string().contains("secret"));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/elsewhere"))
        .mount(&server)
        .await;
    Mock::given(path("/elsewhere"))
        .respond_with(ok())
        .expect(0)
        .mount(&server)
        .await;
    let err = client_credentials_error(&server).await;
    assert_eq!(err.status().map(|s| s.as_u16()), Some(307));
}

#[tokio::test]
async fn discovery_falls_back_to_openid_configuration() {
    let server = MockServer::start().await;
    let issuer = format!("{}/tenant", server.uri());
    Mock::given(path("/.well-known/oauth-authorization-server/tenant"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/tenant/.well-known/openid-configuration"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!(r#"{{"issuer":"{issuer}","token_endpoint":"{issuer}/token"}}"#),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let m = AuthorizationServerMetadata::discover(&http(), &issuer)
        .await
        .unwrap();
    assert_eq!(m.token_endpoint.unwrap(), format!("{issuer}/token"));
}

#[tokio::test]
async fn discovery_does_not_fall_back_on_a_server_error() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    Mock::given(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let err = AuthorizationServerMetadata::discover(&http(), &server.uri())
        .await
        .unwrap_err();
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_failed_tls_handshake_is_a_permanent_tls_error() {
    // A plain-text server where TLS was expected: the handshake fails inside rustls.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = sock.read(&mut buf).await;
        let _ = sock
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await;
    });
    let ep =
        TokenEndpoint::new_with_http(http(), &format!("https://{addr}/token"), basic()).unwrap();
    let err = ep
        .client_credentials(&ClientCredentials::new())
        .await
        .unwrap_err();
    let Error::Transport(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.kind, TransportErrorKind::Tls, "{err}");
    assert!(err.is_permanent());
    task.await.unwrap();
}

#[tokio::test]
async fn expiry_is_counted_from_when_the_request_was_sent_not_when_a_slow_reply_arrived() {
    let server = MockServer::start().await;
    let delay = Duration::from_millis(400);
    Mock::given(method("POST"))
        .respond_with(ok().set_delay(delay))
        .mount(&server)
        .await;
    let ep = endpoint_with(&server, basic(), http()).await;
    let before = tokio::time::Instant::now();
    let token = ep
        .client_credentials(&ClientCredentials::new())
        .await
        .unwrap();
    let after = tokio::time::Instant::now();
    assert!(after - before >= delay, "the reply was not delayed");
    // Stamped before the request went out: at most the (sub-delay) connect time after `before`.
    assert!(token.obtained_at() >= before);
    assert!(
        token.obtained_at() - before < delay,
        "stamped {:?} after the call began, i.e. when the reply arrived",
        token.obtained_at() - before
    );
    assert!(token.expires_at() < before + Duration::from_secs(3600) + delay);
}

#[tokio::test]
async fn a_token_response_repeating_a_member_is_refused_and_its_tokens_stay_out_of_the_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"access_token":"at-SECRET-1","token_type":"Bearer","expires_in":3600,"access_token":"at-SECRET-2"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let err = client_credentials_error(&server).await;
    let Error::UnexpectedResponse(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.reason, UnexpectedReason::DuplicateMember);
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("SECRET"), "{text}");
    }
}

#[tokio::test]
async fn a_truncated_token_response_with_an_escaped_member_name_leaks_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            // No credential member name appears verbatim: a substring check would let this through.
            r#"{"\u0061ccess_\u0074oken":"at-SECRET","expi"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let err = client_credentials_error(&server).await;
    assert!(matches!(err, Error::UnexpectedResponse(_)), "{err:?}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("SECRET"), "{text}");
    }
}
