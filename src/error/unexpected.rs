//! A response that was neither what was asked for nor a recognizable error.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

/// Why a response could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnexpectedReason {
    /// A non-success status without an error body we recognize.
    ErrorStatus,
    /// The body was empty.
    EmptyBody,
    /// The `Content-Type` was not JSON.
    WrongContentType,
    /// The body was not valid JSON; `line`/`column` point at the problem.
    InvalidJson {
        /// 1-based line of the first error.
        line: usize,
        /// 1-based column of the first error.
        column: usize,
    },
    /// The body was larger than the limit, in bytes.
    TooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A JSON object in the body repeats a member name (refused at any depth: parsers disagree on
    /// which one wins).
    DuplicateMember,
    /// A required member was missing.
    MissingField(&'static str),
    /// A member had a value we cannot accept.
    InvalidField {
        /// The member's name.
        field: &'static str,
        /// What was wrong with it (never the value itself).
        problem: &'static str,
    },
}

impl fmt::Display for UnexpectedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ErrorStatus => f.write_str("error status without a recognizable error body"),
            Self::EmptyBody => f.write_str("empty body"),
            Self::WrongContentType => f.write_str("content type is not JSON"),
            Self::InvalidJson { line, column } => {
                write!(f, "invalid JSON at line {line}, column {column}")
            }
            Self::TooLarge { limit } => write!(f, "body larger than {limit} bytes"),
            Self::DuplicateMember => f.write_str("a JSON object repeats a member name"),
            Self::MissingField(name) => write!(f, "missing `{name}`"),
            Self::InvalidField { field, problem } => write!(f, "`{field}` {problem}"),
        }
    }
}

/// A response that was neither what we asked for nor a recognizable error.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UnexpectedResponse {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// What was wrong.
    pub reason: UnexpectedReason,
    /// The start of the body (at most 256 characters), with credential-bearing JSON members redacted.
    pub preview: String,
    /// `Retry-After`, when the server sent one.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for UnexpectedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unexpected response (HTTP {}, content type {}): {}",
            self.status.as_u16(),
            self.content_type.as_deref().unwrap_or("none"),
            self.reason
        )?;
        if !self.preview.is_empty() {
            write!(f, "; body starts {:?}", self.preview)?;
        }
        Ok(())
    }
}
