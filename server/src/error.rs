//! The one error type of the HTTP API and its one rendering: OpenAI-shaped JSON
//! `{"error": {"message", "type", "code"}}` with the matching status.
//!
//! Internal causes are logged with their chain and answered as an opaque 500: a database
//! message, a path or a secret never reaches a response.

use app::api::{ErrorBody, ErrorDetail};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub type Result<T, E = AppError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed or a field is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// Field `param` of the request is invalid: a 400 that names the field, so a form can
    /// show the message beside it.
    #[error("{message}")]
    Invalid {
        param: &'static str,
        message: String,
    },
    /// Credentials are missing or wrong.
    #[error("{message}")]
    Unauthorized { message: String, code: &'static str },
    /// Credentials are valid but not enough.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A provider refused the key it was given (the LLM auth probe); nothing was saved.
    #[error("{message}")]
    ProviderRejectedKey {
        message: String,
        upstream_status: u16,
    },
    /// No LLM by the `model` a client asked for (or none it may see).
    #[error("{0}")]
    ModelNotFound(String),
    /// The provider is rate limiting; its `Retry-After` is passed on.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Option<HeaderValue>,
    },
    /// Hearth refuses to try now (failed sign-ins from this client, or too many sign-ins at
    /// once); `Retry-After` says when.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// The provider refused the request itself (a 4xx other than auth or rate limiting): the
    /// client's to fix, so its status is kept.
    #[error("{message}")]
    UpstreamRefused { status: StatusCode, message: String },
    /// An upstream could not be reached or answered badly.
    #[error("{0}")]
    BadGateway(String),
    /// The database cannot be reached (PostgreSQL down or restarting): try again shortly.
    #[error("Hearth cannot reach its database at the moment; try again shortly")]
    DatabaseUnavailable,
    #[error("{0}")]
    GatewayTimeout(String),
    /// Something went wrong on our side; the cause is logged, never returned.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    /// Field `param` is invalid, for `message`.
    pub fn invalid(param: &'static str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            param,
            message: message.into(),
        }
    }

    pub fn invalid_api_key() -> Self {
        AppError::Unauthorized {
            message: "Invalid API Key".into(),
            code: "invalid_api_key",
        }
    }

    pub fn missing_credentials() -> Self {
        AppError::Unauthorized {
            message: "Authentication required: send `Authorization: Bearer <key>`, \
                      `X-Api-Key: <key>`, or sign in"
                .into(),
            code: "missing_credentials",
        }
    }

    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        AppError::Internal(cause.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) | AppError::Invalid { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::ProviderRejectedKey { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::ModelNotFound(_) => StatusCode::NOT_FOUND,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::UpstreamRefused { status, .. } => *status,
            AppError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            AppError::DatabaseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::GatewayTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn kind_and_code(&self) -> (&'static str, &'static str) {
        match self {
            AppError::BadRequest(_) | AppError::Invalid { .. } => {
                ("invalid_request_error", "bad_request")
            }
            AppError::Unauthorized { code, .. } => ("authentication_error", code),
            AppError::Forbidden(_) => ("permission_error", "forbidden"),
            AppError::NotFound(_) => ("invalid_request_error", "not_found"),
            AppError::MethodNotAllowed(_) => ("invalid_request_error", "method_not_allowed"),
            AppError::Conflict(_) => ("invalid_request_error", "conflict"),
            AppError::UnsupportedMediaType(_) => {
                ("invalid_request_error", "unsupported_media_type")
            }
            AppError::PayloadTooLarge(_) => ("invalid_request_error", "payload_too_large"),
            AppError::ProviderRejectedKey { .. } => {
                ("invalid_request_error", "provider_auth_failed")
            }
            AppError::ModelNotFound(_) => ("invalid_request_error", "model_not_found"),
            AppError::RateLimited { .. } => ("rate_limit_error", "rate_limit_exceeded"),
            AppError::TooManyRequests { .. } => ("rate_limit_error", "too_many_attempts"),
            AppError::UpstreamRefused { .. } => ("invalid_request_error", "upstream_refused"),
            AppError::BadGateway(_) => ("upstream_error", "bad_gateway"),
            AppError::DatabaseUnavailable => ("server_error", "database_unavailable"),
            AppError::GatewayTimeout(_) => ("upstream_error", "gateway_timeout"),
            AppError::Internal(_) => ("server_error", "internal_error"),
        }
    }

    pub fn body(&self) -> ErrorBody {
        let (kind, code) = self.kind_and_code();
        ErrorBody {
            error: ErrorDetail {
                message: self.to_string(),
                kind: kind.into(),
                code: code.into(),
                param: match self {
                    AppError::Invalid { param, .. } => Some((*param).to_owned()),
                    AppError::ProviderRejectedKey { .. } => Some("api_key".to_owned()),
                    _ => None,
                },
            },
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if crate::db::is_unavailable(&e) {
            tracing::warn!(error = %ErrorChain(&e), "the database cannot be reached");
            return AppError::DatabaseUnavailable;
        }
        AppError::internal(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(cause) = &self {
            tracing::error!(error = %ErrorChain(cause.as_ref()), "request failed");
        }
        let mut response = match &self {
            // `{"error": {...}, "status": <the provider's status>}`.
            AppError::ProviderRejectedKey {
                upstream_status, ..
            } => {
                let body =
                    serde_json::json!({ "error": self.body().error, "status": upstream_status });
                (self.status(), axum::Json(body)).into_response()
            }
            _ => (self.status(), axum::Json(self.body())).into_response(),
        };
        match &self {
            AppError::RateLimited {
                retry_after: Some(value),
                ..
            } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, value.clone());
            }
            AppError::TooManyRequests {
                retry_after_secs, ..
            } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        if matches!(self, AppError::Unauthorized { .. }) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A value the caller sent, quoted for an error message and cut to its first 64 characters:
/// an answer never echoes a megabyte back.
pub struct Echo<'a>(pub &'a str);

impl std::fmt::Display for Echo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 64;
        match self.0.char_indices().nth(SHOWN) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => write!(
                f,
                "{:?}… ({} characters)",
                &self.0[..cut],
                self.0.chars().count()
            ),
        }
    }
}

/// Formats an error with all its sources, `outer: inner: innermost`.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Echo;

    #[test]
    fn an_echoed_value_is_quoted_whole_when_short_and_cut_at_a_character_when_long() {
        assert_eq!(Echo("gpt-4").to_string(), r#""gpt-4""#);
        let long = "é".repeat(100);
        let shown = Echo(&long).to_string();
        assert!(
            shown.starts_with(&format!("\"{}\"", "é".repeat(64))),
            "{shown}"
        );
        assert!(shown.ends_with("… (100 characters)"), "{shown}");
    }
}
