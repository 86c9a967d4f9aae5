use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use colloquy_core::Invalid;
use colloquy_store::StoreError;

/// The one error type of the web layer, mapped to HTTP here and only here.
/// API routes answer JSON `{"error": {"code", "message", "field"?}}`; pages answer HTML.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Invalid(#[from] Invalid),
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; try again in {0} seconds")]
    TooManyRequests(u64),
    /// A client address holds as many live event streams on this node as it may.
    #[error("this address already has {limit} live debate streams open, the most it may; close one (another tab or window on a debate) and try again")]
    TooManyStreams { limit: u32, retry_after: u64 },
    #[error("payload too large")]
    TooLarge,
    /// The confidentiality guard found identifying details the writer has not confirmed.
    #[error("the text may identify someone ({}); edit it, or confirm that it is safe to publish with \"confirm_sensitive\": true", describe(.0))]
    Sensitive(Vec<colloquy_core::confidentiality::Finding>),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

fn describe(f: &[colloquy_core::confidentiality::Finding]) -> String {
    let mut kinds: Vec<&str> = f.iter().map(|x| x.kind.describe()).collect();
    kinds.dedup();
    kinds.join(", ")
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => WebError::NotFound,
            StoreError::Conflict(m) => WebError::Conflict(m),
            other => WebError::Internal(other.into()),
        }
    }
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            WebError::Unauthorized => StatusCode::UNAUTHORIZED,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::TooManyRequests(_) | WebError::TooManyStreams { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            WebError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::Sensitive(_) => StatusCode::UNPROCESSABLE_ENTITY,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            WebError::BadRequest(_) => "bad_request",
            WebError::Invalid(_) => "invalid",
            WebError::Unauthorized => "unauthorized",
            WebError::Forbidden(_) => "forbidden",
            WebError::NotFound => "not_found",
            WebError::Conflict(_) => "conflict",
            WebError::TooManyRequests(_) => "rate_limited",
            WebError::TooManyStreams { .. } => "too_many_streams",
            WebError::TooLarge => "too_large",
            WebError::Sensitive(_) => "confidentiality",
            WebError::Internal(_) => "internal",
        }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            WebError::Invalid(i) => Some(i.field),
            _ => None,
        }
    }

    fn log(&self) {
        if let WebError::Internal(e) = self {
            tracing::error!(error = %e, "request failed");
        }
    }

    /// The JSON form, for the API.
    pub fn into_json(self) -> Response {
        self.log();
        let mut err = serde_json::json!({"code": self.code(), "message": self.to_string()});
        if let Some(f) = self.field() {
            err["field"] = f.into();
        }
        if let WebError::Sensitive(findings) = &self {
            err["findings"] = serde_json::to_value(findings).unwrap_or_default();
        }
        let mut res = (
            self.status(),
            axum::Json(serde_json::json!({ "error": err })),
        )
            .into_response();
        self.add_headers(&mut res);
        res
    }

    fn add_headers(&self, res: &mut Response) {
        if let WebError::TooManyRequests(secs)
        | WebError::TooManyStreams {
            retry_after: secs, ..
        } = self
        {
            res.headers_mut()
                .insert("retry-after", secs.to_string().parse().expect("digits"));
        }
        if let WebError::Unauthorized = self {
            res.headers_mut()
                .insert("www-authenticate", "Bearer".parse().expect("ascii"));
        }
    }
}

impl IntoResponse for WebError {
    /// The HTML form, for pages: a short page in the site's look with the reason.
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let title = match status {
            StatusCode::NOT_FOUND => "Page not found".to_string(),
            s => format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or("Error")),
        };
        let message = match &self {
            WebError::NotFound => {
                "Nothing lives at this address. Try the search box above, or the front page."
                    .to_string()
            }
            WebError::Internal(_) => {
                "Something went wrong on our side. It has been logged.".to_string()
            }
            e => e.to_string(),
        };
        let body = crate::render::error_page(&title, &message);
        let mut res = (status, axum::response::Html(body)).into_response();
        self.add_headers(&mut res);
        res
    }
}

/// Wraps an API handler's error so it answers JSON.
pub struct ApiError(pub WebError);

impl<E: Into<WebError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_json()
    }
}
