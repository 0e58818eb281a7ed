//! API error responses: the `{"errors":[…]}` body of the Telnyx API, as the `api` module reads it.

use std::fmt;
use std::time::Duration;

use http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

/// One entry of a Telnyx `{"errors":[…]}` body.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[non_exhaustive]
pub struct ApiErrorDetail {
    /// Telnyx error code, e.g. `10009`.
    #[serde(default, deserialize_with = "string_or_number")]
    pub code: Option<String>,
    /// Short title, e.g. `Authentication failed`.
    #[serde(default)]
    pub title: Option<String>,
    /// Longer explanation.
    #[serde(default)]
    pub detail: Option<String>,
    /// Where in the request the problem is (`pointer`, `parameter`).
    #[serde(default)]
    pub source: Option<Value>,
    /// Extra data, e.g. `{"url": "https://developers.telnyx.com/..."}`.
    #[serde(default)]
    pub meta: Option<Value>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// A Telnyx API error response (`{"errors":[{code,title,detail,source,meta}]}`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The errors as sent, in order.
    pub errors: Vec<ApiErrorDetail>,
    /// `Retry-After`, when the server sent one.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Telnyx API error (HTTP {})", self.status.as_u16())?;
        for e in self.errors.iter().take(3) {
            f.write_str(": ")?;
            if let Some(code) = &e.code {
                write!(f, "[{code}] ")?;
            }
            let text = e.title.as_deref().or(e.detail.as_deref()).unwrap_or("");
            f.write_str(text)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_codes_may_be_numbers() {
        let d: ApiErrorDetail =
            serde_json::from_str(r#"{"code":10009,"title":"Authentication failed"}"#).unwrap();
        assert_eq!(d.code.as_deref(), Some("10009"));
    }
}
