//! The one error type of the use cases. Entry points map it once: the HTTP layer to problem
//! documents, the CLI to messages.

use xietong_domain::ValidationErrors;
use xietong_search::SearchError;
use xietong_store::StoreError;

use crate::auth::AuthError;

/// Why a use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No such object, or one the actor may not see (existence does not leak).
    #[error("{0}")]
    NotFound(String),
    /// Not logged in.
    #[error("{0}")]
    Unauthorized(String),
    /// Logged in, but the rules do not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// The object is not in a state that allows this (already decided, already asked, …).
    #[error("{0}")]
    Conflict(String),
    /// One input is wrong: `field` names it.
    #[error("{field}: {message}")]
    BadInput { field: String, message: String },
    /// Fields failed validation.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// Login refused, throttled, or a password too weak.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The store refused (not found, version conflict, duplicate) or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The index refused (window too deep) or failed, or the work was cancelled.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// Anything else that failed (logged, never shown in detail).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// A wrong input named by its field.
    pub fn bad_input(field: &str, message: impl Into<String>) -> AppError {
        AppError::BadInput { field: field.to_string(), message: message.into() }
    }
}

pub type AppResult<T> = Result<T, AppError>;
