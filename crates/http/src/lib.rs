//! HTTP layer of xietong: the JSON API under `/api/v1`, its OpenAPI document, health and metrics
//! endpoints. Only this crate knows HTTP; handlers convert to and from domain types at the edge.

pub mod api;
pub mod auth;
pub mod connections;
pub mod error;
pub mod guard;
pub mod idempotency;
pub mod json;
pub mod limits;
pub mod metrics;
pub mod state;
pub mod web;

use std::future::Future;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use connections::ConnectionLimits;
pub use limits::WorkLimits;
pub use state::AppState;

use crate::error::ApiError;

/// A request that takes longer is answered 408 and its blocking work is cancelled.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest JSON request body accepted (1 MiB); larger bodies get a 413 problem.
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "xietong API", description = "京津冀创新资源共享与精准对接平台 — Beijing–Tianjin–Hebei innovation-resource sharing and matching.\n\nEvery POST accepts an `Idempotency-Key` header (1–255 visible ASCII characters): a retry with the same key and body gets the first successful answer again (marked `Idempotent-Replayed: true`) instead of repeating the work; a retry while the first request runs is 409, the same key with another body 422. Keys are kept 24 hours.\n\nLimits: `offset` ≤ 10000 (narrow with filters or use the export), `limit` ≤ 200, search text ≤ 500 characters, match text ≤ 2000 characters. Matching, import and export run a few at a time per server and per client: over the cap the answer is 429 or 503 with `Retry-After`."),
    tags(
        (name = "listings", description = "Resource libraries: talents, achievements, scenarios, facilities, enterprises, demands, challenges"),
        (name = "search", description = "Full-text search with facets"),
        (name = "matching", description = "Precise matching (精准对接) with explanations"),
        (name = "reference", description = "Regions, industries, TRL"),
        (name = "stats", description = "Dashboard figures"),
        (name = "transfer", description = "Spreadsheet templates, import and export"),
        (name = "accounts", description = "Login, API tokens, organisations, users, personal data"),
        (name = "collaboration", description = "Contact requests: consent before contact details are shown"),
        (name = "review", description = "Review before publication and the audit trail"),
        (name = "ops", description = "Health and metrics"),
    )
)]
struct ApiDoc;

/// Builds the router and the OpenAPI document from the same route table, so every route is in
/// the document.
pub fn router_with_openapi(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (api_router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::listings::create_listing, api::listings::list_listings))
        .routes(routes!(api::listings::get_listing, api::listings::update_listing))
        .routes(routes!(api::listings::archive_listing))
        .routes(routes!(api::matching::listing_matches))
        .routes(routes!(api::matching::match_text))
        .routes(routes!(api::search::search))
        .routes(routes!(api::reference::regions))
        .routes(routes!(api::reference::industries))
        .routes(routes!(api::reference::trl))
        .routes(routes!(api::stats::overview))
        .routes(routes!(api::transfer::template))
        .routes(routes!(api::transfer::import))
        .routes(routes!(api::transfer::export))
        .routes(routes!(api::account::login))
        .routes(routes!(api::account::logout))
        .routes(routes!(api::account::me, api::account::erase_me))
        .routes(routes!(api::account::export_me))
        .routes(routes!(api::account::list_tokens, api::account::create_token))
        .routes(routes!(api::account::revoke_token))
        .routes(routes!(api::account::list_orgs, api::account::create_org))
        .routes(routes!(api::account::list_users, api::account::create_user))
        .routes(routes!(api::collab::request_contact))
        .routes(routes!(api::collab::list_contact_requests))
        .routes(routes!(api::collab::accept_contact_request))
        .routes(routes!(api::collab::decline_contact_request))
        .routes(routes!(api::collab::pending_reviews))
        .routes(routes!(api::collab::review_listing))
        .routes(routes!(api::collab::review_regions))
        .routes(routes!(api::collab::set_review_region))
        .routes(routes!(api::collab::audit_trail))
        .routes(routes!(healthz))
        .routes(routes!(metrics_text))
        .split_for_parts();
    let spec = openapi.clone();
    let router = api_router
        .route("/api/openapi.json", get(move || async move { Json(spec.clone()) }))
        .route("/api/docs", get(docs_page))
        .merge(web::routes().router)
        // After every route is added. Layers run outside in: the access rule, then the caps on
        // expensive work (so refused callers take no place), then Idempotency-Key replay.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::idempotent))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), limits::limit_expensive))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::authorize))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        // Spreadsheet imports may be large; JSON bodies are held to BODY_LIMIT_BYTES by `ApiJson`.
        .layer(DefaultBodyLimit::max(api::transfer::IMPORT_LIMIT_BYTES))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(TraceLayer::new_for_http())
        .with_state(state);
    (router, openapi)
}

/// Routes added outside the OpenAPI route table and outside the web pages.
const DOC_ROUTES: &[(&str, &str)] = &[("GET", "/api/openapi.json"), ("GET", "/api/docs")];

/// Every route of the router as (METHOD, path template): the operations of the OpenAPI document
/// (built by [`router_with_openapi`] from the same table as the router), the web pages as
/// recorded by [`web::routes`] while it builds their router, and the two documentation routes.
pub fn route_inventory(openapi: &utoipa::openapi::OpenApi) -> Vec<(String, String)> {
    let mut routes: Vec<(String, String)> = Vec::new();
    for (path, item) in &openapi.paths.paths {
        let operations = [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
            ("OPTIONS", &item.options),
            ("HEAD", &item.head),
            ("PATCH", &item.patch),
            ("TRACE", &item.trace),
        ];
        for (method, operation) in operations {
            if operation.is_some() {
                routes.push((method.to_string(), path.clone()));
            }
        }
    }
    let web = web::routes().routes;
    routes.extend(DOC_ROUTES.iter().chain(&web).map(|(m, p)| (m.to_string(), p.to_string())));
    routes.sort();
    routes.dedup();
    routes
}

/// The router alone.
pub fn router(state: AppState) -> Router {
    router_with_openapi(state).0
}

/// Serves until `shutdown` resolves, then finishes in-flight requests (and their writes).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    connections::serve_connections(listener, router(state), limits, shutdown).await
}

/// Liveness and readiness: 200 `ok` when the store answers and the index is in step; 503
/// `degraded` (for load balancers) while the index has lagged behind the store for more than a
/// few seconds, with the lag and the last indexing error.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses(
    (status = 200, description = "Healthy"),
    (status = 503, description = "Degraded: the search index lags behind the store")))]
async fn healthz(State(state): State<AppState>) -> Result<axum::response::Response, ApiError> {
    // No document counts here: they would count listings the caller may not see.
    let health = state.blocking(|app| Ok(app.index_health()?)).await?;
    let body = serde_json::json!({
        "status": if health.degraded { "degraded" } else { "ok" },
        "store_seq": health.store_seq,
        "index_seq": health.index_seq,
        "lag": health.store_seq.saturating_sub(health.index_seq),
        "lag_ms": health.lag_ms,
        "last_error": health.last_error,
    });
    let status = if health.degraded { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    Ok((status, Json(body)).into_response())
}

/// Prometheus text metrics. Listing counts are of published listings visible to everyone, so
/// the unauthenticated endpoint reveals nothing the public search does not.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics_text(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let facets = state
        .blocking(|app| {
            let query = xietong_app::types::SearchQuery { limit: 1, ..Default::default() };
            // As the anonymous public sees them.
            Ok(app.search(&xietong_app::Actor::new(xietong_domain::Viewer::Anonymous, None), query)?.facets.kind)
        })
        .await?;
    let counts: Vec<(String, String, u64)> = facets
        .into_iter()
        .map(|c| (c.value, xietong_domain::Status::Published.as_str().to_string(), c.count))
        .collect();
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render(&counts)))
}

async fn docs_page() -> Html<&'static str> {
    Html(include_str!("../assets/api-docs.html"))
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route; see /api/docs for the API".to_string())
}
