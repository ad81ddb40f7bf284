//! The accept loop: connection hygiene that `axum::serve` does not offer.
//!
//! * a connection that sends no complete request head within `header_read_timeout` is closed,
//!   and so is one idle between requests for longer than `idle_timeout`;
//! * at most `max_connections` are open at once; at the limit, the connection idle the longest
//!   is closed to make room, and only when none is idle is the new one refused (a 503 with
//!   `Retry-After`), so `/healthz` keeps answering under a flood of idle sockets;
//! * a failed `accept` (e.g. out of file descriptors) pauses the loop briefly instead of
//!   spinning, and is logged once per kind until it recovers;
//! * on shutdown, connections finish their request in flight and close.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

/// Limits of the accept loop; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
}

/// File descriptors kept free for the database, the index and logs.
const RESERVED_FDS: u64 = 128;

impl Default for ConnectionLimits {
    /// At most 4,096 connections, and fewer when the process may open fewer files, so the cap is
    /// reached (and the idlest connection closed) before `accept` runs out of descriptors.
    fn default() -> Self {
        let by_fds = open_files_limit().map_or(4_096, |limit| limit.saturating_sub(RESERVED_FDS).max(16));
        ConnectionLimits {
            max_connections: by_fds.min(4_096) as usize,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// The soft limit on open files of this process (Linux: `/proc/self/limits`).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files").split_whitespace().next()?.parse().ok()
}

/// State of one open connection, as the accept loop sees it.
struct Entry {
    /// `None` while a request is in flight.
    idle_since: Option<Instant>,
    close: Arc<Notify>,
}

#[derive(Default)]
struct Registry {
    connections: Mutex<HashMap<u64, Entry>>,
    /// Signalled whenever a connection closes (for shutdown).
    closed: Notify,
}

impl Registry {
    fn len(&self) -> usize {
        self.connections.lock().len()
    }

    /// Asks the connection idle the longest to close; false when none is idle. The chosen one no
    /// longer counts as idle, so a burst of evictions closes as many different connections.
    fn evict_idlest(&self) -> bool {
        let mut connections = self.connections.lock();
        let idlest =
            connections.values_mut().filter(|entry| entry.idle_since.is_some()).min_by_key(|entry| entry.idle_since);
        match idlest {
            Some(entry) => {
                entry.idle_since = None;
                entry.close.notify_one();
                true
            }
            None => false,
        }
    }

    fn set_busy(&self, id: u64, busy: bool) {
        if let Some(entry) = self.connections.lock().get_mut(&id) {
            entry.idle_since = if busy { None } else { Some(Instant::now()) };
        }
    }

    fn idle_for(&self, id: u64) -> Option<Duration> {
        self.connections.lock().get(&id).and_then(|entry| entry.idle_since).map(|since| since.elapsed())
    }

    fn remove(&self, id: u64) {
        self.connections.lock().remove(&id);
        self.closed.notify_waiters();
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections finish
/// their request in flight (waiting at most 30 s).
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let registry = Arc::new(Registry::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut next_id = 0u64;
    let mut last_accept_error: Option<std::io::ErrorKind> = None;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, remote) = match accepted {
            Ok(pair) => {
                if let Some(kind) = last_accept_error.take() {
                    tracing::info!(error.kind = ?kind, "accepting connections again");
                }
                pair
            }
            Err(error) => {
                if last_accept_error != Some(error.kind()) {
                    tracing::warn!(%error, open = registry.len(), "failed to accept a connection; pausing briefly");
                    last_accept_error = Some(error.kind());
                }
                // Out of file descriptors: make room by closing the idlest connection.
                registry.evict_idlest();
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        if registry.len() >= limits.max_connections && !registry.evict_idlest() {
            tokio::spawn(refuse(stream));
            continue;
        }
        next_id += 1;
        let id = next_id;
        let close = Arc::new(Notify::new());
        registry.connections.lock().insert(id, Entry { idle_since: Some(Instant::now()), close: close.clone() });
        tokio::spawn(serve_one(stream, remote, router.clone(), registry.clone(), id, close, limits, stop_rx.clone()));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let deadline = Instant::now() + Duration::from_secs(30);
    while registry.len() > 0 && Instant::now() < deadline {
        let closed = registry.closed.notified();
        let _ = tokio::time::timeout(Duration::from_millis(200), closed).await;
    }
    Ok(())
}

/// Tells a client the server is full, then closes.
async fn refuse(stream: TcpStream) {
    let response = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 37\r\n\r\ntoo many open connections; try again\n";
    // One non-blocking write: the answer fits a socket buffer, and a client that reads nothing
    // gets no more of our time.
    if tokio::time::timeout(Duration::from_secs(1), stream.writable()).await.is_ok() {
        let _ = stream.try_write(response);
    }
}

#[allow(clippy::too_many_arguments)]
async fn serve_one(
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    registry: Arc<Registry>,
    id: u64,
    close: Arc<Notify>,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let served = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let service = {
        let registry = registry.clone();
        let served = served.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            let router = router.clone();
            let registry = registry.clone();
            served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            registry.set_busy(id, true);
            async move {
                let response = router.oneshot(request).await;
                registry.set_busy(id, false);
                response
            }
        })
    };
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let tick = (limits.header_read_timeout.min(limits.idle_timeout) / 4).max(Duration::from_millis(50));
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, %remote, "connection ended with an error");
                }
                break;
            }
            () = close.notified(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = stop.changed(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep(tick), if !closing => {
                // Before the first request only the header timeout applies.
                let limit = if served.load(std::sync::atomic::Ordering::Relaxed) == 0 {
                    limits.header_read_timeout
                } else {
                    limits.idle_timeout
                };
                if registry.idle_for(id).is_some_and(|idle| idle > limit) {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
    registry.remove(id);
}
