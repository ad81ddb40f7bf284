//! One error type for every handler, rendered as RFC 9457 problem+json with per-field messages.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use xietong_app::AppError;
use xietong_app::transfer::ImportError;
use xietong_app::types::{SearchError, StoreError};
use xietong_domain::ValidationErrors;
use xietong_transfer::TransferError;

/// A problem detail (RFC 9457). `errors` lists each invalid field.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    /// What went wrong and what to do about it.
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

/// One invalid field.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// JSON path of the field, e.g. `region_codes[0]`.
    pub field: String,
    /// English message.
    pub message: String,
    /// Chinese message.
    pub message_zh: String,
}

/// Every way a request can fail.
#[derive(Debug)]
pub enum ApiError {
    /// The body or query failed validation.
    Invalid(ValidationErrors),
    /// The request is malformed (bad JSON, wrong content type, bad parameter).
    BadRequest {
        detail: String,
        field: Option<String>,
    },
    /// No valid credentials; log in or send `Authorization: Bearer TOKEN`.
    Unauthorized(String),
    /// Authenticated, but the rules do not allow this (wrong role, scope, owner or CSRF token).
    Forbidden(String),
    /// Too many failed logins.
    TooManyRequests {
        detail: String,
        retry_after_s: u64,
    },
    NotFound(String),
    /// The method is not allowed on an existing path; `allow` lists the ones that are.
    MethodNotAllowed {
        allow: Vec<String>,
    },
    Conflict(String),
    PayloadTooLarge(String),
    UnsupportedMediaType(String),
    /// The server is at its limit for this kind of work (or the request ran out of time); try
    /// again after `retry_after_s` seconds.
    Unavailable {
        detail: String,
        retry_after_s: u64,
    },
    /// Anything else: logged, and the client gets a generic message.
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn bad_param(field: &str, detail: impl Into<String>) -> Self {
        ApiError::BadRequest { detail: detail.into(), field: Some(field.to_string()) }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn problem(&self) -> Problem {
        let status = self.status();
        let (slug, title, detail, errors) = match self {
            ApiError::Invalid(validation) => (
                "validation",
                "Invalid listing",
                format!("{} field(s) need fixing: {validation}", validation.errors.len()),
                validation
                    .errors
                    .iter()
                    .map(|e| ProblemField {
                        field: e.field.clone(),
                        message: e.message_en.clone(),
                        message_zh: e.message_zh.clone(),
                    })
                    .collect(),
            ),
            ApiError::BadRequest { detail, field } => (
                "bad-request",
                "Bad request",
                detail.clone(),
                field
                    .iter()
                    .map(|f| ProblemField {
                        field: f.clone(),
                        message: detail.clone(),
                        message_zh: format!("参数 {f} 无效：{detail}"),
                    })
                    .collect(),
            ),
            ApiError::Unauthorized(detail) => ("unauthorized", "Login required", detail.clone(), Vec::new()),
            ApiError::Forbidden(detail) => ("forbidden", "Forbidden", detail.clone(), Vec::new()),
            ApiError::TooManyRequests { detail, .. } => {
                ("too-many-requests", "Too many requests", detail.clone(), Vec::new())
            }
            ApiError::NotFound(detail) => ("not-found", "Not found", detail.clone(), Vec::new()),
            ApiError::MethodNotAllowed { allow } => (
                "method-not-allowed",
                "Method not allowed",
                format!("this path accepts {}", allow.join(", ")),
                Vec::new(),
            ),
            ApiError::Unavailable { detail, .. } => ("unavailable", "Service unavailable", detail.clone(), Vec::new()),
            ApiError::Conflict(detail) => ("conflict", "Conflict", detail.clone(), Vec::new()),
            ApiError::PayloadTooLarge(detail) => ("payload-too-large", "Payload too large", detail.clone(), Vec::new()),
            ApiError::UnsupportedMediaType(detail) => {
                ("unsupported-media-type", "Unsupported media type", detail.clone(), Vec::new())
            }
            ApiError::Internal(_) => (
                "internal",
                "Internal server error",
                "the server failed to handle the request; it has been logged".to_string(),
                Vec::new(),
            ),
        };
        Problem {
            problem_type: format!("/problems/{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError::Invalid(errors)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(id) => ApiError::NotFound(format!("listing {id} does not exist")),
            StoreError::Conflict { .. } => ApiError::Conflict(err.to_string()),
            StoreError::Duplicate { field, existing } => ApiError::Conflict(format!(
                "a listing with the same {field} already exists ({existing}); update that one instead"
            )),
            StoreError::Backend { .. } => ApiError::Internal(anyhow::Error::new(err)),
            StoreError::Taken { .. } | StoreError::WrongState(_) | StoreError::Stale { .. } => {
                ApiError::Conflict(err.to_string())
            }
        }
    }
}

impl From<xietong_app::auth::AuthError> for ApiError {
    fn from(err: xietong_app::auth::AuthError) -> Self {
        use xietong_app::auth::AuthError;
        match err {
            AuthError::BadCredentials => ApiError::Unauthorized(err.to_string()),
            AuthError::Throttled { retry_after_s } => {
                ApiError::TooManyRequests { detail: err.to_string(), retry_after_s }
            }
            AuthError::WeakPassword => ApiError::bad_param("password", err.to_string()),
            AuthError::Store(store) => store.into(),
            AuthError::Hash(_) => ApiError::Internal(anyhow::Error::new(err)),
        }
    }
}

impl From<SearchError> for ApiError {
    fn from(err: SearchError) -> Self {
        match err {
            SearchError::Cancelled => ApiError::Unavailable {
                detail: "the request ran out of time; try again, or narrow it".into(),
                retry_after_s: 5,
            },
            SearchError::TooDeep { .. } => ApiError::bad_param("offset", err.to_string()),
            other => ApiError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<TransferError> for ApiError {
    fn from(err: TransferError) -> Self {
        match err {
            TransferError::Store(store) => store.into(),
            TransferError::Xlsx(_) => ApiError::Internal(anyhow::Error::new(err)),
            other => ApiError::BadRequest { detail: other.to_string(), field: Some("file".to_string()) },
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(err: ImportError) -> Self {
        match err {
            ImportError::Refused(refused) => refused.into(),
            ImportError::File(file) => file.into(),
        }
    }
}

/// The one mapping of the use cases' errors to problems.
impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        match err {
            AppError::NotFound(detail) => ApiError::NotFound(detail),
            AppError::Unauthorized(detail) => ApiError::Unauthorized(detail),
            AppError::Forbidden(detail) => ApiError::Forbidden(detail),
            AppError::Conflict(detail) => ApiError::Conflict(detail),
            AppError::BadInput { field, message } => ApiError::bad_param(&field, message),
            AppError::Invalid(errors) => ApiError::Invalid(errors),
            AppError::Auth(auth) => auth.into(),
            AppError::Store(store) => store.into(),
            AppError::Search(search) => search.into(),
            AppError::Internal(error) => ApiError::Internal(error),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        ApiError::Internal(err)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(err: tokio::task::JoinError) -> Self {
        ApiError::Internal(anyhow::Error::new(err))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(err) = &self {
            tracing::error!(error = format!("{err:#}"), "request failed");
        }
        let problem = self.problem();
        let mut response = (self.status(), axum::Json(problem)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        match &self {
            ApiError::Unauthorized(_) => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::TooManyRequests { retry_after_s, .. } | ApiError::Unavailable { retry_after_s, .. } => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
            }
            ApiError::MethodNotAllowed { allow } => {
                if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
            }
            _ => {}
        }
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
