//! Caps on concurrent expensive requests (matching, spreadsheet import and export), for the
//! whole server and per client address, so that a few clients cannot take every core.
//!
//! A request over its client's cap is a 429; one that finds the server full waits briefly for a
//! place and is then a 503. Both carry `Retry-After`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::state::AppState;

/// Routes whose work grows with the catalogue or the upload: (method, path template).
pub const EXPENSIVE: &[(&str, &str)] = &[
    ("POST", "/api/v1/match"),
    ("GET", "/api/v1/listings/{id}/matches"),
    ("POST", "/api/v1/imports/{kind}"),
    ("GET", "/api/v1/exports"),
    ("GET", "/listings/{id}"),
    ("POST", "/transfer/import"),
];

/// How long a request waits for a place when the server is full.
const QUEUE_WAIT: Duration = Duration::from_secs(2);

/// The caps and their current holders.
pub struct WorkLimits {
    per_client: usize,
    server: Arc<Semaphore>,
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Default for WorkLimits {
    /// Twice the cores for the server (at least 4), 2 per client address.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        WorkLimits::new((2 * cores).max(4), 2)
    }
}

impl WorkLimits {
    pub fn new(per_server: usize, per_client: usize) -> WorkLimits {
        WorkLimits {
            per_client: per_client.max(1),
            server: Arc::new(Semaphore::new(per_server.max(1))),
            clients: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A place for one expensive request of `client`, held until dropped.
    pub async fn enter(&self, client: IpAddr) -> Result<Slot, ApiError> {
        {
            let mut clients = self.clients.lock();
            let held = clients.entry(client).or_default();
            if *held >= self.per_client {
                return Err(ApiError::TooManyRequests {
                    detail: format!(
                        "at most {} matching, import or export requests per client run at once; wait for one to finish",
                        self.per_client
                    ),
                    retry_after_s: 2,
                });
            }
            *held += 1;
        }
        let client_slot = ClientSlot { clients: self.clients.clone(), client };
        match tokio::time::timeout(QUEUE_WAIT, self.server.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Slot { _permit: permit, _client: client_slot }),
            _ => Err(ApiError::Unavailable {
                detail: "the server is busy with other matching, import or export requests; try again shortly".into(),
                retry_after_s: 5,
            }),
        }
    }
}

/// A held place; dropping it frees the place.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    _client: ClientSlot,
}

struct ClientSlot {
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
    client: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut clients = self.clients.lock();
        if let Some(held) = clients.get_mut(&self.client) {
            *held -= 1;
            if *held == 0 {
                clients.remove(&self.client);
            }
        }
    }
}

/// The middleware: expensive routes wait for a place, others pass.
pub async fn limit_expensive(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let expensive = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|path| EXPENSIVE.iter().any(|(m, p)| *m == request.method().as_str() && *p == path.as_str()));
    if !expensive {
        return next.run(request).await;
    }
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
    match state.limits.enter(client).await {
        Ok(slot) => {
            let response = next.run(request).await;
            drop(slot);
            response
        }
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
    }

    #[tokio::test]
    async fn a_client_over_its_cap_gets_429_and_a_full_server_503() {
        let limits = WorkLimits::new(2, 1);
        let first = limits.enter(client(1)).await.expect("a first place");
        match limits.enter(client(1)).await {
            Err(ApiError::TooManyRequests { retry_after_s, .. }) => assert!(retry_after_s > 0),
            other => panic!("expected 429, got {:?}", other.map(|_| ())),
        }
        let second = limits.enter(client(2)).await.expect("another client gets the second place");
        match limits.enter(client(3)).await {
            Err(error @ ApiError::Unavailable { .. }) => assert_eq!(error.status().as_u16(), 503),
            other => panic!("expected 503, got {:?}", other.map(|_| ())),
        }
        // Places come back when the requests end.
        drop(first);
        drop(second);
        let _again = limits.enter(client(1)).await.expect("the client's place was freed");
        assert!(limits.clients.lock().get(&client(2)).is_none(), "a client with nothing running is forgotten");
    }
}
