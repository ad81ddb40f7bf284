//! `Idempotency-Key` on POST routes: a retried request with the same key (from the same caller)
//! gets the first answer back instead of doing the work twice.
//!
//! The key is reserved in the store before the handler runs and the answer is recorded after a
//! success (2xx); a failed request releases the key so it can be retried. A retry while the first
//! request still runs, or after it was interrupted (a crash between its write and its answer),
//! is a 409: the work is never repeated under the same key. Keys are kept for 24 hours.

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use xietong_app::types::{IdempotencyBegin, StoredResponse};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on a replayed answer.
pub const REPLAYED: &str = "idempotent-replayed";
/// Largest answer kept for replay; larger ones release the key instead.
const MAX_STORED_BYTES: usize = 4 * 1024 * 1024;
/// Longest key accepted.
const MAX_KEY_CHARS: usize = 255;

/// The middleware (runs after the access rule, so the caller is known).
pub async fn idempotent(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(raw_key) = request.headers().get(IDEMPOTENCY_KEY) else {
        return next.run(request).await;
    };
    let key = match raw_key.to_str().map(str::trim) {
        Ok(key) if !key.is_empty() && key.len() <= MAX_KEY_CHARS && key.bytes().all(|b| b.is_ascii_graphic()) => {
            key.to_string()
        }
        _ => {
            return ApiError::bad_param(
                "Idempotency-Key",
                format!("the Idempotency-Key header must be 1 to {MAX_KEY_CHARS} visible ASCII characters"),
            )
            .into_response();
        }
    };
    let caller = request.extensions().get::<Caller>().cloned().unwrap_or_else(Caller::anonymous);
    let scope = match caller.principal() {
        Some(principal) => format!("user:{}", principal.user_id),
        None => {
            let ip = request.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|info| info.0.ip());
            format!("anon:{}", ip.map_or_else(|| "unknown".to_string(), |ip| ip.to_string()))
        }
    };
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, crate::api::transfer::IMPORT_LIMIT_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ApiError::PayloadTooLarge(format!(
                "the body is larger than the limit of {} bytes",
                crate::api::transfer::IMPORT_LIMIT_BYTES
            ))
            .into_response();
        }
    };
    let path = parts.uri.path_and_query().map_or_else(|| parts.uri.path().to_string(), |pq| pq.as_str().to_string());
    let fingerprint = xietong_app::request_fingerprint(parts.method.as_str(), &path, &bytes);
    let begun = {
        let (scope, key) = (scope.clone(), key.clone());
        state.blocking(move |app| Ok(app.idempotency_begin(&scope, &key, &fingerprint)?)).await
    };
    match begun {
        Err(error) => return error.into_response(),
        Ok(IdempotencyBegin::Replay(stored)) => return replay(stored),
        Ok(IdempotencyBegin::InProgress) => {
            return ApiError::Conflict(
                "a request with this Idempotency-Key is still running, or was interrupted before it answered; \
                 check whether its change was made before sending it again with a new key"
                    .into(),
            )
            .into_response();
        }
        Ok(IdempotencyBegin::Mismatch) => {
            return ApiError::Invalid(xietong_domain::ValidationErrors::single(
                "Idempotency-Key",
                "该幂等键已用于另一个请求",
                "this Idempotency-Key was used for a different request; use a new key for a new request",
            ))
            .into_response();
        }
        Ok(IdempotencyBegin::Started) => {}
    }
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let (response, stored) = if response.status().is_success() {
        let (parts, body) = response.into_parts();
        match axum::body::to_bytes(body, MAX_STORED_BYTES).await {
            Ok(bytes) => {
                let header_text = |name: header::HeaderName| {
                    parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
                };
                let stored = StoredResponse {
                    status: parts.status.as_u16(),
                    content_type: header_text(header::CONTENT_TYPE),
                    location: header_text(header::LOCATION),
                    body: bytes.to_vec(),
                };
                (Response::from_parts(parts, Body::from(bytes)), Some(stored))
            }
            Err(error) => {
                tracing::warn!(%error, "an answer too large to keep for Idempotency-Key replay");
                (ApiError::Internal(anyhow::anyhow!("failed to read the answer: {error}")).into_response(), None)
            }
        }
    } else {
        (response, None)
    };
    let finished = state.blocking(move |app| Ok(app.idempotency_finish(&scope, &key, stored.as_ref())?)).await;
    if let Err(error) = finished {
        tracing::error!(?error, "failed to record the answer of an Idempotency-Key");
    }
    response
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [(header::CONTENT_TYPE, stored.content_type), (header::LOCATION, stored.location)] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
