//! Shared state of the handlers.

use std::sync::Arc;

use xietong_app::App;

use crate::metrics::Metrics;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub app: Arc<App>,
    pub metrics: Arc<Metrics>,
    /// Mark session cookies `Secure` even without an `X-Forwarded-Proto: https` header (set when
    /// the server is reached over TLS only).
    pub secure_cookies: bool,
}

impl AppState {
    pub fn new(app: Arc<App>) -> Self {
        AppState { app, metrics: Arc::new(Metrics::default()), secure_cookies: false }
    }

    /// Runs blocking store or index work off the async runtime.
    pub async fn blocking<T, F>(&self, work: F) -> Result<T, crate::error::ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&App) -> Result<T, crate::error::ApiError> + Send + 'static,
    {
        let app = self.app.clone();
        tokio::task::spawn_blocking(move || work(&app)).await?
    }
}
