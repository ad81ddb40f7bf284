//! Server-rendered web pages (Chinese first, English with `?lang=en`).

use axum::Router;

use crate::state::AppState;

/// Routes of the web pages.
pub fn routes() -> Router<AppState> {
    Router::new()
}
