//! The Telnyx API's own error formats: the `{"errors":[…]}` body and the `retry-after-ms` header of
//! its SDKs. The generic core reads OAuth error bodies and `Retry-After`; the API client, and a
//! [`TokenEndpoint::telnyx`](crate::TokenEndpoint::telnyx), read these on top.

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{ApiError, ApiErrorDetail, Error};
use crate::http::{MAX_RETRY_AFTER, Response, retry_after as standard_retry_after};

/// `retry-after-ms` first (bounded like every server-supplied delay), then `Retry-After`.
pub(crate) fn retry_after(resp: &Response) -> Option<Duration> {
    retry_after_ms(resp).or_else(|| standard_retry_after(&resp.headers, SystemTime::now()))
}

fn retry_after_ms(resp: &Response) -> Option<Duration> {
    let ms = resp
        .headers
        .get("retry-after-ms")?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|ms| ms.is_finite() && *ms >= 0.0)?;
    Some(Duration::from_secs_f64(
        (ms / 1000.0).min(MAX_RETRY_AFTER.as_secs_f64()),
    ))
}

/// A failed API response as an error: a Telnyx `errors[]` body, else whatever the core makes of it
/// (an OAuth error body or an unexpected response), with the API's retry hint.
pub(crate) fn api_error(resp: &Response) -> Error {
    if let Ok(Value::Object(map)) = crate::json::parse(&resp.body)
        && let Some(Value::Array(items)) = map.get("errors")
    {
        let errors = items
            .iter()
            .filter_map(|v| ApiErrorDetail::deserialize(v).ok())
            .collect();
        return Error::Api(Box::new(ApiError {
            status: resp.status,
            errors,
            retry_after: retry_after(resp),
        }));
    }
    let err = resp.error();
    match retry_after_ms(resp) {
        Some(after) => err.with_retry_after(after),
        None => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, StatusCode, header};

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Response {
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn retry_after_ms_wins_over_retry_after_and_is_bounded() {
        let r = response(429, &[("retry-after-ms", "1500"), ("retry-after", "7")], "");
        assert_eq!(retry_after(&r), Some(Duration::from_millis(1500)));
        let r = response(429, &[("retry-after", "7")], "");
        assert_eq!(retry_after(&r), Some(Duration::from_secs(7)));
        let r = response(429, &[("retry-after-ms", "1e300")], "");
        assert_eq!(retry_after(&r), Some(MAX_RETRY_AFTER));
        let r = response(
            429,
            &[
                ("retry-after-ms", "-5"),
                (header::RETRY_AFTER.as_str(), "3"),
            ],
            "",
        );
        assert_eq!(retry_after(&r), Some(Duration::from_secs(3)));
    }

    #[test]
    fn an_errors_body_is_an_api_error_and_anything_else_is_left_to_the_core() {
        let r = response(
            429,
            &[
                ("content-type", "application/json"),
                ("retry-after-ms", "250"),
            ],
            r#"{"errors":[{"code":"10011","title":"Too many requests"}]}"#,
        );
        let Error::Api(e) = api_error(&r) else {
            panic!("not an API error")
        };
        assert_eq!(e.errors[0].code.as_deref(), Some("10011"));
        assert_eq!(e.retry_after, Some(Duration::from_millis(250)));
        let r = response(
            400,
            &[
                ("content-type", "application/json"),
                ("retry-after-ms", "250"),
            ],
            r#"{"error":"invalid_client"}"#,
        );
        let err = api_error(&r);
        assert!(matches!(err, Error::OAuth(_)), "{err:?}");
        assert_eq!(err.retry_after(), Some(Duration::from_millis(250)));
        // The generic core no longer reads Telnyx bodies.
        assert!(matches!(r.error(), Error::OAuth(_)));
        let telnyx = response(
            503,
            &[("content-type", "application/json")],
            r#"{"errors":[{"code":"10011"}]}"#,
        );
        assert!(matches!(telnyx.error(), Error::UnexpectedResponse(_)));
    }

    #[test]
    fn telnyx_error_body_is_parsed() {
        let r = response(
            401,
            &[("content-type", "application/json")],
            r#"{"errors":[{"code":"10009","title":"Authentication failed","detail":"x","meta":{"url":"u"}}]}"#,
        );
        let Error::Api(e) = api_error(&r) else {
            panic!("not api")
        };
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert_eq!(e.errors[0].code.as_deref(), Some("10009"));
        assert_eq!(e.errors[0].title.as_deref(), Some("Authentication failed"));
    }
}
