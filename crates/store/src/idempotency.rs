//! Idempotency keys: the first answer to a POST, kept so that a retry with the same key gets it
//! again instead of repeating the work.

use crate::StoreError;

/// The answer kept for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// What [`Idempotency::idempotency_begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is new and now reserved: do the work, then call `idempotency_finish`.
    Started,
    /// The key was used for the same request, which succeeded: answer this.
    Replay(StoredResponse),
    /// The key is reserved by a request that is running, or that was interrupted before it
    /// answered (whether its work happened is unknown).
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

/// Storage of idempotency keys, per scope (the caller).
pub trait Idempotency: Send + Sync {
    /// Reserves `key` for a request with `fingerprint`, unless it is known. Keys older than
    /// `keep_s` seconds (at `now`, unix seconds) are forgotten first.
    fn idempotency_begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
        keep_s: i64,
    ) -> Result<IdempotencyBegin, StoreError>;
    /// Records the answer of a reserved key, or, with `None`, releases the reservation (the
    /// request failed and may be retried).
    fn idempotency_finish(&self, scope: &str, key: &str, response: Option<&StoredResponse>) -> Result<(), StoreError>;
}
