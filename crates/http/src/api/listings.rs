//! Create, read, update, archive and list listings.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xietong_app::types::{ListFilter, ListSort};
use xietong_domain::{Kind, Listing, ListingId, Reference, Status, validate};

use super::schema::ListingDoc;
use super::{industry_param, page_limit, page_offset, parse_param, region_param};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::ApiQuery;
use crate::json::{ApiJson, parse_listing_value};
use crate::state::AppState;

/// Query of `GET /api/v1/listings`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListParams {
    /// Only this kind (talent, achievement, scenario, facility, enterprise, demand, challenge).
    pub kind: Option<String>,
    /// GB/T 2260 code or name; sub-regions are included (130000 finds Xiong'an's counties).
    pub region: Option<String>,
    /// GB/T 4754 code at any level; codes below it are included (37 finds 3741).
    pub industry: Option<String>,
    /// draft, pending, rejected, published or archived.
    pub status: Option<String>,
    /// Owning organisation.
    pub owner_org: Option<String>,
    /// newest (default), oldest, updated or title.
    pub sort: Option<String>,
    /// Page size, 1–200 (default 20).
    pub limit: Option<u32>,
    /// Listings to skip.
    pub offset: Option<u64>,
}

/// A page of listings.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingPage {
    #[schema(value_type = Vec<ListingDoc>)]
    pub items: Vec<ListingView>,
    /// All listings matching the filters.
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

pub(crate) fn parse_id(raw: &str) -> ApiResult<ListingId> {
    raw.parse().map_err(|_| ApiError::bad_param("id", format!("{raw:?} is not a listing id (a UUID)")))
}

/// Publishes a listing (or saves a draft). Only `kind`, `title`, `summary` and `region_codes`
/// (plus `trl` for an achievement) are required; the listing is published unless `status` says
/// otherwise.
#[utoipa::path(post, path = "/api/v1/listings", tag = "listings",
    request_body(content = ListingDoc, description = "The listing's fields with its `kind`"),
    responses(
        (status = 201, description = "Stored", body = ListingDoc),
        (status = 400, description = "Malformed JSON or wrong type", body = Problem),
        (status = 401, description = "Not logged in", body = Problem),
        (status = 403, description = "Owner is not your organisation, or CSRF token missing", body = Problem),
        (status = 409, description = "Same USCC or external id exists", body = Problem),
        (status = 413, description = "Body too large", body = Problem),
        (status = 422, description = "Invalid fields", body = Problem),
    ))]
pub async fn create_listing(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(raw): ApiJson<serde_json::Value>,
) -> ApiResult<impl IntoResponse> {
    let body = parse_listing_value(raw)?;
    let body = validate(body, Reference::get())?;
    let written = state.blocking(move |app| Ok(app.create_listing(&caller.actor(), body)?)).await?;
    tracing::info!(listing.id = %written.listing.id, listing.kind = %written.listing.kind(), "listing created");
    let location = format!("/api/v1/listings/{}", written.listing.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], written_response(written)))
}

/// A stored listing with `searchable` added: `false` when the index has not taken it in yet (the
/// write is safe; it becomes searchable within seconds), with a `Retry-After` hint.
#[derive(Debug, Serialize)]
struct WrittenListing {
    #[serde(flatten)]
    listing: Listing,
    searchable: bool,
}

fn written_response(written: xietong_app::Written) -> axum::response::Response {
    let searchable = written.searchable;
    let mut response = Json(WrittenListing { listing: written.listing, searchable }).into_response();
    if !searchable {
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
    }
    response
}

/// Reads one listing. Listings the caller may not see are 404, like missing ones. Contact
/// details are masked unless the caller's organisation owns the listing or holds an accepted
/// contact request for it.
#[utoipa::path(get, path = "/api/v1/listings/{id}", tag = "listings",
    params(("id" = String, Path, description = "Listing id")),
    responses((status = 200, body = ListingDoc), (status = 404, body = Problem)))]
pub async fn get_listing(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ListingView>> {
    let id = parse_id(&id)?;
    let listing = state
        .blocking(move |app| {
            let listing = app.read_listing(&caller.actor(), id)?;
            Ok(ListingView { stale: app.is_stale(&listing), listing })
        })
        .await?;
    Ok(Json(listing))
}

/// Replaces a listing. The body carries every field plus the `version` it was read at; a stale
/// version is a 409 and nothing is written.
#[utoipa::path(put, path = "/api/v1/listings/{id}", tag = "listings",
    params(("id" = String, Path, description = "Listing id")),
    request_body(content = ListingDoc, description = "All fields, `kind` and the `version` read"),
    responses(
        (status = 200, body = ListingDoc),
        (status = 401, body = Problem),
        (status = 403, description = "Not your organisation's listing", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "Stale version", body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn update_listing(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(mut raw): ApiJson<serde_json::Value>,
) -> ApiResult<axum::response::Response> {
    let id = parse_id(&id)?;
    let Some(object) = raw.as_object_mut() else {
        return Err(ApiError::BadRequest { detail: "the body must be a JSON object".into(), field: None });
    };
    let version = match object.remove("version") {
        Some(serde_json::Value::Number(n)) if n.as_i64().is_some() => n.as_i64().unwrap_or_default(),
        Some(_) => return Err(ApiError::bad_param("version", "version must be an integer")),
        None => {
            return Err(ApiError::bad_param(
                "version",
                "send the `version` you read, so a concurrent change is not overwritten",
            ));
        }
    };
    for derived in ["id", "created_at", "updated_at", "stale"] {
        object.remove(derived);
    }
    let body = parse_listing_value(raw)?;
    let body = validate(body, Reference::get())?;
    let written = state.blocking(move |app| Ok(app.update_listing(&caller.actor(), id, version, body)?)).await?;
    Ok(written_response(written))
}

/// A listing as the API shows it: every field, and whether it is stale.
#[derive(Debug, Serialize)]
pub struct ListingView {
    #[serde(flatten)]
    pub listing: Listing,
    /// Not updated for `stale_after_days` (config, default 180): ranks lower in matching.
    pub stale: bool,
}

/// Body of `POST /api/v1/listings/{id}/archive`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ArchiveRequest {
    /// The version read; checked when given.
    pub version: Option<i64>,
}

/// Archives a listing: it stays readable by id but leaves search and matching.
#[utoipa::path(post, path = "/api/v1/listings/{id}/archive", tag = "listings",
    params(("id" = String, Path, description = "Listing id")),
    request_body(content = ArchiveRequest, description = "Optional version check"),
    responses((status = 200, body = ListingDoc), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn archive_listing(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ArchiveRequest>,
) -> ApiResult<Json<Listing>> {
    let id = parse_id(&id)?;
    let listing =
        state.blocking(move |app| Ok(app.archive_listing(&caller.actor(), id, request.version)?.listing)).await?;
    Ok(Json(listing))
}

/// Lists the listings the caller may see, with filters and stable pagination (newest first by
/// default). Contacts are masked except the caller's own organisation's.
#[utoipa::path(get, path = "/api/v1/listings", tag = "listings", params(ListParams),
    responses((status = 200, body = ListingPage), (status = 400, body = Problem)))]
pub async fn list_listings(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<ListingPage>> {
    let sort = match params.sort.as_deref().map(str::trim) {
        None | Some("") | Some("newest") => ListSort::Newest,
        Some("oldest") => ListSort::Oldest,
        Some("updated") => ListSort::RecentlyUpdated,
        Some("title") => ListSort::Title,
        Some(other) => {
            return Err(ApiError::bad_param(
                "sort",
                format!("unknown sort {other:?}; use newest, oldest, updated or title"),
            ));
        }
    };
    let filter = ListFilter {
        kind: parse_param::<Kind>("kind", params.kind.as_deref())?,
        region: region_param(params.region.as_deref())?,
        industry: industry_param(params.industry.as_deref())?,
        status: parse_param::<Status>("status", params.status.as_deref())?,
        owner_org: params.owner_org.clone().filter(|o| !o.trim().is_empty()),
        scope: Some(caller.viewer.read_scope()),
        sort,
    };
    let limit = page_limit(params.limit)?;
    let offset = page_offset(params.offset)?;
    let actor = caller.actor();
    let (items, total) = state
        .blocking(move |app| {
            let page = app.list_listings(&actor, filter, limit, offset)?;
            let items: Vec<ListingView> =
                page.items.into_iter().map(|listing| ListingView { stale: app.is_stale(&listing), listing }).collect();
            Ok((items, page.total))
        })
        .await?;
    Ok(Json(ListingPage { items, total, limit, offset }))
}
