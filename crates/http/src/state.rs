//! Shared state of the handlers.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use xietong_app::App;
use xietong_app::types::Budget;

use crate::error::ApiError;
use crate::limits::WorkLimits;
use crate::metrics::Metrics;

/// How long blocking work of one request may run before it is cancelled (the request itself
/// times out at [`crate::REQUEST_TIMEOUT`]).
const WORK_BUDGET: Duration = Duration::from_secs(25);

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub app: Arc<App>,
    pub metrics: Arc<Metrics>,
    /// Mark session cookies `Secure` even without an `X-Forwarded-Proto: https` header (set when
    /// the server is reached over TLS only).
    pub secure_cookies: bool,
    /// Caps on concurrent expensive requests (matching, import, export), per server and client.
    pub limits: Arc<WorkLimits>,
    /// Search and matching run at most cores − 1 at once (at least 1), so that writes (which
    /// skip this queue) keep a core under a read flood.
    read_permits: Arc<Semaphore>,
    /// The access rule of every route (set when the router is built).
    pub rules: Arc<crate::auth::RouteRules>,
}

impl AppState {
    pub fn new(app: Arc<App>) -> Self {
        Self::with_limits(app, WorkLimits::default())
    }

    pub fn with_limits(app: Arc<App>, limits: WorkLimits) -> Self {
        // One core stays free for writes (index commits are single-threaded).
        let readers = std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1)).max(1);
        AppState {
            app,
            metrics: Arc::new(Metrics::default()),
            secure_cookies: false,
            limits: Arc::new(limits),
            read_permits: Arc::new(Semaphore::new(readers)),
            rules: Arc::default(),
        }
    }

    /// Runs blocking store or index work off the async runtime. When the request is dropped
    /// (client gone, timeout), the work is cancelled at its next check (see
    /// [`xietong_app::types::budget`]); it is also cancelled after [`WORK_BUDGET`].
    pub async fn blocking<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&App) -> Result<T, ApiError> + Send + 'static,
    {
        let app = self.app.clone();
        let budget = Budget::with_timeout(WORK_BUDGET);
        let cancel_on_drop = CancelOnDrop(Some(budget.clone()));
        let result =
            tokio::task::spawn_blocking(move || xietong_app::types::budget::run_within(&budget, || work(&app))).await;
        cancel_on_drop.disarm();
        result?
    }

    /// [`AppState::blocking`] for CPU-heavy reads (search, matching, dashboards, exports): they
    /// queue for one of a few permits, writes do not.
    pub async fn read_work<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&App) -> Result<T, ApiError> + Send + 'static,
    {
        let _permit = self.read_permits.clone().acquire_owned().await.map_err(anyhow::Error::new)?;
        self.blocking(work).await
    }
}

/// Cancels a budget when dropped, unless disarmed first.
struct CancelOnDrop(Option<Budget>);

impl CancelOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(budget) = &self.0 {
            budget.cancel();
        }
    }
}
