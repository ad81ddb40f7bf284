//! The one error type of the use cases. Entry points map it once: the HTTP layer to problem
//! documents, the CLI to messages.

use xietong_domain::ValidationErrors;
use xietong_store::StoreError;

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
    /// One input is wrong: `field` names it.
    #[error("{field}: {message}")]
    BadInput { field: String, message: String },
    /// Fields failed validation.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// The store refused (not found, version conflict, duplicate) or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type AppResult<T> = Result<T, AppError>;
