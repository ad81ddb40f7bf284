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
    /// The threads that run them, at a lower CPU priority than everything else.
    read_pool: Arc<ReadPool>,
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
            read_pool: Arc::new(ReadPool::new(readers)),
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
    /// queue for one of a few permits, writes do not, and they run on the read pool's threads,
    /// whose CPU priority is lower: under a flood of searches a write still gets the CPU it
    /// needs at once (its index commit takes a few milliseconds), and the searches use what is
    /// left.
    pub async fn read_work<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&App) -> Result<T, ApiError> + Send + 'static,
    {
        let _permit = self.read_permits.clone().acquire_owned().await.map_err(anyhow::Error::new)?;
        let app = self.app.clone();
        let budget = Budget::with_timeout(WORK_BUDGET);
        let cancel_on_drop = CancelOnDrop(Some(budget.clone()));
        let (done, result) = tokio::sync::oneshot::channel();
        self.read_pool.run(Box::new(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                xietong_app::types::budget::run_within(&budget, || work(&app))
            }));
            // The request may be gone; then nobody waits for the answer.
            let _ = done.send(outcome);
        }))?;
        let outcome = result.await.map_err(anyhow::Error::new)?;
        cancel_on_drop.disarm();
        outcome.map_err(|_| ApiError::Internal(anyhow::anyhow!("a search or matching task panicked")))?
    }
}

type ReadJob = Box<dyn FnOnce() + Send>;

/// A fixed set of threads for CPU-heavy reads, each at nice 10 (Linux; elsewhere at the normal
/// priority). They take jobs from one queue, in order.
struct ReadPool {
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<ReadJob>>,
}

/// How much nicer than the process the read pool's threads are (nice values run from -20 to
/// 19; each step is about 10 % less CPU when threads compete).
const READ_NICE_STEP: i32 = 10;

impl ReadPool {
    fn new(threads: usize) -> Self {
        let (jobs, queue) = std::sync::mpsc::channel::<ReadJob>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for n in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("read-{n}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // the pool is gone
                        }
                    }
                })
                .expect("failed to start a read thread");
        }
        ReadPool { jobs: std::sync::Mutex::new(jobs) }
    }

    fn run(&self, job: ReadJob) -> Result<(), ApiError> {
        let jobs = self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        jobs.send(job).map_err(|_| ApiError::Internal(anyhow::anyhow!("the read threads are gone")))
    }
}

/// Lowers the calling thread's CPU priority by [`READ_NICE_STEP`]. On Linux a thread has a
/// nice value of its own (`setpriority(PRIO_PROCESS, tid)`); elsewhere, or when refused, the
/// thread keeps the process's priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let thread = Some(rustix::thread::gettid());
        let lowered = rustix::process::getpriority_process(thread)
            .and_then(|nice| rustix::process::setpriority_process(thread, (nice + READ_NICE_STEP).min(19)));
        if let Err(error) = lowered {
            tracing::debug!(%error, "read threads keep the normal priority");
        }
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
