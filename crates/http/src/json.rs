//! A JSON body extractor whose failures are problem+json responses naming the offending field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::Json`, but every rejection is an [`ApiError`].
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type =
            request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        if !content_type.starts_with("application/json") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "send the body as JSON with `Content-Type: application/json` (got {content_type:?})"
            )));
        }
        let too_large = || {
            ApiError::PayloadTooLarge(format!("the body is larger than the limit of {} bytes", crate::BODY_LIMIT_BYTES))
        };
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|length| length > crate::BODY_LIMIT_BYTES) {
            return Err(too_large());
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::BadRequest { detail: format!("failed to read the body: {rejection}"), field: None }
            }
        })?;
        if bytes.len() > crate::BODY_LIMIT_BYTES {
            return Err(too_large());
        }
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON, reporting the path of the first field that does not fit.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let field = (path != "." && !path.is_empty()).then_some(path);
        let detail = match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                format!("the body is not valid JSON: {inner}")
            }
            _ => match &field {
                Some(field) => format!("field `{field}`: {inner}"),
                None => format!("the body does not have the expected shape: {inner}"),
            },
        };
        ApiError::BadRequest { detail, field }
    })
}

/// Core fields of a listing, used only to locate a type error that the flattened listing body
/// cannot name.
#[derive(serde::Deserialize)]
#[serde(default)]
#[derive(Default)]
struct CoreProbe {
    title: String,
    summary: String,
    description: String,
    keywords: Vec<String>,
    industry_codes: Vec<String>,
    disciplines: Vec<String>,
    region_codes: Vec<String>,
    owner_org: Option<String>,
    contact: Option<xietong_domain::Contact>,
    visibility: xietong_domain::Visibility,
    status: xietong_domain::Status,
    external_id: Option<String>,
}

fn probe<T: DeserializeOwned>(value: &serde_json::Value) -> Option<ApiError> {
    serde_path_to_error::deserialize::<_, T>(value).err().map(|err| {
        let field = err.path().to_string();
        ApiError::BadRequest { detail: format!("field `{field}`: {}", err.into_inner()), field: Some(field) }
    })
}

/// Turns a listing body, already parsed as JSON (the API's and the web form's), into its typed
/// form, without another round through text. Serde cannot name the field of a type error inside
/// the flattened, kind-tagged body, so on failure the core and the kind's fields are checked one
/// by one.
pub fn parse_listing_value(value: serde_json::Value) -> Result<xietong_domain::ListingBody, ApiError> {
    use xietong_domain::*;
    if !value.is_object() {
        return Err(ApiError::BadRequest { detail: "the body must be a JSON object".into(), field: None });
    }
    let kind = match value.get("kind") {
        None => {
            return Err(ApiError::bad_param(
                "kind",
                "`kind` is required: talent, achievement, scenario, facility, enterprise, demand or challenge",
            ));
        }
        Some(serde_json::Value::String(text)) => {
            text.parse::<Kind>().map_err(|err| ApiError::bad_param("kind", err))?
        }
        Some(_) => return Err(ApiError::bad_param("kind", "`kind` must be a string")),
    };
    let err = match <ListingBody as serde::Deserialize>::deserialize(&value) {
        Ok(body) => return Ok(body),
        Err(err) => err,
    };
    let located = probe::<CoreProbe>(&value).or_else(|| match kind {
        Kind::Talent => probe::<TalentDetails>(&value),
        Kind::Achievement => probe::<AchievementDetails>(&value),
        Kind::Scenario => probe::<ScenarioDetails>(&value),
        Kind::Facility => probe::<FacilityDetails>(&value),
        Kind::Enterprise => probe::<EnterpriseDetails>(&value),
        Kind::Demand => probe::<DemandDetails>(&value),
        Kind::Challenge => probe::<ChallengeDetails>(&value),
    });
    Err(located.unwrap_or(ApiError::BadRequest {
        detail: format!("the body does not have the expected shape: {err}"),
        field: None,
    }))
}

/// Like `axum::extract::Query`, but a parameter that does not parse (e.g. `limit=-1`) is a
/// problem+json 400 naming the parameter, not a plain-text rejection.
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

/// Parses a query string, naming the parameter that does not fit.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let pairs = form_urlencoded::parse(query.as_bytes());
    let deserializer = serde_urlencoded::Deserializer::new(pairs);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match (path != "." && !path.is_empty()).then_some(path) {
            Some(field) => ApiError::bad_param(&field, format!("query parameter `{field}` is invalid: {inner}")),
            None => ApiError::BadRequest { detail: format!("the query string is invalid: {inner}"), field: None },
        }
    })
}
