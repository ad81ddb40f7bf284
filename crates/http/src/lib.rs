//! HTTP layer of xietong: the JSON API under `/api/v1`, its OpenAPI document, health and metrics
//! endpoints. Only this crate knows HTTP; handlers convert to and from domain types at the edge.

pub mod api;
pub mod auth;
pub mod connections;
pub mod error;
pub mod figures;
pub mod idempotency;
pub mod json;
pub mod limits;
pub mod metrics;
pub mod params;
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
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

pub use connections::ConnectionLimits;
pub use limits::WorkLimits;
pub use state::AppState;

use crate::auth::{RouteRules, Rule};
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
        (name = "deals", description = "Deals (对接): from a match to a signed and converted collaboration"),
        (name = "challenges", description = "Challenges that run (揭榜挂帅, 赛马制): applications, reviewers with conflicts of interest, scores, the race through milestone gates, the award and the public board"),
        (name = "bookings", description = "Bookable pilot bases and instruments: calendars, availability, bookings (requested, approved, declined, cancelled, waitlisted, completed, no_show), clearances, innovation vouchers (创新券) and their ledger, iCalendar feeds"),
        (name = "notifications", description = "Inbox, webhooks (signed with HMAC-SHA256, retried with back-off) and e-mail for every event that concerns the caller; see POST /api/v1/webhooks for the event names"),
        (name = "chains", description = "The planner's view: industry chains of the five priority sectors, per-segment and per-region supply and demand, gap labels (强链/补链/建链) and the joint-attraction list (联合招商)"),
        (name = "credentials", description = "Talent evaluation credentials (人才评价互认): W3C Verifiable Credentials with Ed25519 Data Integrity proofs over JCS, published issuers, signed Bitstring Status Lists, verification, the mutual-recognition table and the talent service card (京雄人才服务一卡通)"),
        (name = "engagements", description = "Flexible engagements of talents (双聘, 周末工程师, remote consulting, full time) under the commitment rule"),
        (name = "services", description = "The cross-region service catalogue (跨省通办)"),
        (name = "ops", description = "Health and metrics"),
    )
)]
struct ApiDoc;

/// The API's routes, each added with its access rule per method, so the rule is declared
/// beside the route and the rule table is the router's own.
struct ApiRoutes {
    router: OpenApiRouter<AppState>,
    rules: RouteRules,
}

impl ApiRoutes {
    /// Adds the handlers of one path with the rule of each of its methods. Panics (when the
    /// router is built, i.e. in every test) when the methods and the rules differ.
    fn add(mut self, rules: &[(&'static str, Rule)], routes: UtoipaMethodRouter<AppState>) -> Self {
        for (path, item) in &routes.1.paths {
            let mut methods: Vec<&str> = [
                ("GET", item.get.is_some()),
                ("PUT", item.put.is_some()),
                ("POST", item.post.is_some()),
                ("DELETE", item.delete.is_some()),
            ]
            .into_iter()
            .filter_map(|(method, present)| present.then_some(method))
            .collect();
            let mut ruled: Vec<&str> = rules.iter().map(|(method, _)| *method).collect();
            methods.sort_unstable();
            ruled.sort_unstable();
            assert_eq!(methods, ruled, "the access rules of {path} must name exactly its methods");
            for (method, rule) in rules {
                self.rules.add(method, path, *rule);
            }
        }
        self.router = self.router.routes(routes);
        self
    }
}

/// Every route of the API with its access rule, in one table read top to bottom.
fn api_routes() -> ApiRoutes {
    use Rule::{Admin, Operator, Public, User};
    ApiRoutes { router: OpenApiRouter::with_openapi(ApiDoc::openapi()), rules: RouteRules::default() }
        .add(&[("POST", User), ("GET", Public)], routes!(api::listings::create_listing, api::listings::list_listings))
        .add(&[("GET", Public), ("PUT", User)], routes!(api::listings::get_listing, api::listings::update_listing))
        .add(&[("POST", User)], routes!(api::listings::archive_listing))
        .add(&[("GET", Public)], routes!(api::matching::listing_matches))
        .add(&[("POST", Public)], routes!(api::matching::match_text))
        .add(&[("GET", Public)], routes!(api::search::search))
        .add(&[("GET", Public)], routes!(api::reference::regions))
        .add(&[("GET", Public)], routes!(api::reference::industries))
        .add(&[("GET", Public)], routes!(api::reference::trl))
        .add(&[("GET", Public)], routes!(api::stats::overview))
        .add(&[("GET", Public)], routes!(api::stats::funnel))
        .add(&[("GET", Public)], routes!(api::chain::list))
        .add(&[("GET", Public), ("PUT", Admin)], routes!(api::chain::get, api::chain::edit))
        .add(&[("GET", Public)], routes!(api::chain::attraction))
        .add(&[("GET", Public)], routes!(api::chain::enclave_stats))
        .add(&[("POST", Operator)], routes!(api::chain::create_enclave))
        .add(&[("GET", Public)], routes!(api::chain::bundles))
        .add(&[("GET", Public)], routes!(api::chain::listing_segments))
        .add(&[("GET", User)], routes!(api::feedback::listing_feedback))
        .add(&[("GET", Public)], routes!(api::transfer::template))
        .add(&[("POST", User)], routes!(api::transfer::import))
        .add(&[("GET", Public)], routes!(api::transfer::export))
        .add(&[("POST", Public)], routes!(api::account::login))
        .add(&[("POST", User)], routes!(api::account::logout))
        .add(&[("GET", User), ("DELETE", User)], routes!(api::account::me, api::account::erase_me))
        .add(&[("GET", User)], routes!(api::account::export_me))
        .add(&[("GET", User), ("POST", User)], routes!(api::account::list_tokens, api::account::create_token))
        .add(&[("DELETE", User)], routes!(api::account::revoke_token))
        .add(&[("GET", User), ("POST", Admin)], routes!(api::account::list_orgs, api::account::create_org))
        .add(&[("GET", Admin), ("POST", User)], routes!(api::account::list_users, api::account::create_user))
        .add(&[("POST", User)], routes!(api::collab::request_contact))
        .add(&[("GET", User)], routes!(api::collab::list_contact_requests))
        .add(&[("POST", User)], routes!(api::collab::accept_contact_request))
        .add(&[("POST", User)], routes!(api::collab::decline_contact_request))
        .add(&[("GET", Operator)], routes!(api::collab::pending_reviews))
        .add(&[("POST", Operator)], routes!(api::collab::review_listing))
        .add(&[("GET", Public)], routes!(api::collab::review_regions))
        .add(&[("PUT", Operator)], routes!(api::collab::set_review_region))
        .add(&[("GET", Operator)], routes!(api::collab::audit_trail))
        .add(&[("POST", User), ("GET", User)], routes!(api::deal::propose, api::deal::list))
        .add(&[("POST", User)], routes!(api::deal::event))
        .add(&[("GET", User)], routes!(api::deal::get))
        .add(&[("GET", Public)], routes!(api::challenge::get))
        .add(&[("POST", User)], routes!(api::challenge::apply))
        .add(&[("POST", User)], routes!(api::challenge::withdraw))
        .add(&[("POST", User)], routes!(api::challenge::close_applications))
        .add(&[("POST", User)], routes!(api::challenge::appoint_reviewer))
        .add(&[("POST", User)], routes!(api::challenge::score))
        .add(&[("POST", User)], routes!(api::challenge::race))
        .add(&[("POST", User)], routes!(api::challenge::add_milestone))
        .add(&[("POST", User)], routes!(api::challenge::file_report))
        .add(&[("POST", User)], routes!(api::challenge::decide))
        .add(&[("POST", User)], routes!(api::challenge::award))
        .add(&[("POST", User)], routes!(api::challenge::close))
        .add(&[("GET", Public)], routes!(api::challenge::board))
        .add(&[("GET", User)], routes!(api::challenge::suggestions))
        .add(&[("POST", User)], routes!(api::challenge::invite))
        .add(&[("GET", User)], routes!(api::challenge::mine))
        .add(&[("GET", Public), ("PUT", User)], routes!(api::booking::get_calendar, api::booking::set_calendar))
        .add(&[("GET", Public)], routes!(api::booking::calendar_ics))
        .add(&[("GET", Public)], routes!(api::booking::availability))
        .add(&[("POST", User), ("GET", User)], routes!(api::booking::request_booking, api::booking::facility_bookings))
        .add(&[("POST", User), ("GET", User)], routes!(api::booking::grant_clearance, api::booking::clearances))
        .add(&[("GET", User)], routes!(api::booking::my_bookings))
        .add(&[("GET", User)], routes!(api::booking::queue))
        .add(&[("GET", User)], routes!(api::booking::get_booking))
        .add(&[("POST", User)], routes!(api::booking::booking_event))
        .add(&[("POST", Operator), ("GET", User)], routes!(api::booking::issue_voucher, api::booking::vouchers))
        .add(&[("GET", User)], routes!(api::booking::voucher_ledger))
        .add(&[("GET", Public)], routes!(api::booking::utilisation))
        .add(&[("GET", Public)], routes!(api::credential::issuers))
        .add(&[("POST", Operator)], routes!(api::credential::issue))
        .add(&[("GET", Public)], routes!(api::credential::get))
        .add(&[("POST", Operator)], routes!(api::credential::revoke))
        .add(&[("GET", Public)], routes!(api::credential::status_list))
        .add(&[("POST", Public)], routes!(api::credential::verify))
        .add(
            &[("GET", Public), ("POST", Operator)],
            routes!(api::credential::recognition_rules, api::credential::add_recognition_rule),
        )
        .add(&[("DELETE", Operator)], routes!(api::credential::remove_recognition_rule))
        .add(&[("GET", Public)], routes!(api::credential::talent_card))
        .add(&[("POST", User)], routes!(api::engagement::propose))
        .add(&[("GET", User)], routes!(api::engagement::get))
        .add(&[("GET", Public)], routes!(api::engagement::of_talent))
        .add(&[("POST", User)], routes!(api::engagement::respond))
        .add(&[("GET", Public)], routes!(api::engagement::stats))
        .add(&[("GET", Public)], routes!(api::service_catalog::search))
        .add(&[("GET", Public)], routes!(api::service_catalog::export))
        .add(&[("POST", Operator)], routes!(api::service_catalog::import))
        .add(&[("POST", User)], routes!(api::claim::create))
        .add(&[("GET", User)], routes!(api::claim::list))
        .add(&[("POST", User)], routes!(api::claim::approve))
        .add(&[("POST", User)], routes!(api::claim::reject))
        .add(&[("POST", User)], routes!(api::claim::withdraw))
        .add(&[("GET", User)], routes!(api::notify::inbox))
        .add(&[("POST", User)], routes!(api::notify::read_one))
        .add(&[("POST", User)], routes!(api::notify::read_all))
        .add(&[("POST", User), ("GET", User)], routes!(api::notify::create_webhook, api::notify::list_webhooks))
        .add(&[("DELETE", User)], routes!(api::notify::delete_webhook))
        .add(&[("GET", User)], routes!(api::notify::deliveries))
        .add(&[("PUT", User)], routes!(api::notify::set_email))
        .add(&[("GET", Public)], routes!(healthz))
        .add(&[("GET", Public)], routes!(metrics_text))
}

/// Routes added outside the OpenAPI route table and outside the web pages, with their rules.
const DOC_ROUTES: &[(&str, &str, Rule)] =
    &[("GET", "/api/openapi.json", Rule::Public), ("GET", "/api/docs", Rule::Public)];

/// The access rule of every route of the router, as declared where each route is added.
pub fn route_rules() -> RouteRules {
    let mut rules = api_routes().rules;
    for (method, path, rule) in DOC_ROUTES {
        rules.add(method, path, *rule);
    }
    for (method, path, rule) in web::routes().rules {
        rules.add(method, path, rule);
    }
    rules
}

/// Builds the router and the OpenAPI document from the same route table, so every route is in
/// the document and has its access rule.
pub fn router_with_openapi(mut state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    state.rules = std::sync::Arc::new(route_rules());
    let (api_router, openapi) = api_routes().router.split_for_parts();
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
    let web = web::routes().rules;
    routes.extend(DOC_ROUTES.iter().chain(&web).map(|(m, p, _)| (m.to_string(), p.to_string())));
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
