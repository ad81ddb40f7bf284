//! Talent evaluation credentials (人才评价互认) through the API: the published issuers, issue,
//! read, revoke, the signed Bitstring Status Lists, verification with how the verifying region
//! recognises the credential, the recognition table, and the talent service card with its QR
//! code (SVG, `qrcode` crate).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use xietong_app::types::{CredentialInput, RecognitionInput, RecognitionRule, TalentCard, Verification};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::{ApiJson, ApiQuery};
use crate::state::AppState;

/// The issuers this node knows: `{"issuers": [{"id", "region_code", "name",
/// "verificationMethod": [{"id", "type": "Multikey", "controller", "publicKeyMultibase"}]}]}`.
/// Copy it to a node (or give it to `xietong credential verify --issuers`) to verify offline.
#[utoipa::path(get, path = "/.well-known/xietong/issuers.json", tag = "credentials",
    responses((status = 200, body = Object)))]
pub async fn issuers(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let file = state.blocking(|app| Ok(app.issuers()?)).await?;
    Ok(Json(serde_json::to_value(file).map_err(|err| ApiError::Internal(err.into()))?))
}

/// Body of `POST /api/v1/credentials`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueBody {
    /// The talent listing's id.
    pub talent: String,
    /// 正高级工程师, 高级工程师, a talent-programme tier …
    pub level: String,
    /// The field (专业领域).
    pub field: String,
    /// Days the credential is valid from now (1–3650).
    pub valid_days: u32,
    /// The issuing region's GB/T 2260 code; the operator's region when omitted.
    pub issuer: Option<String>,
}

/// Issues a talent evaluation credential (an operator of the issuing region, or the admin):
/// 201 with the signed W3C Verifiable Credential (Data Model 2.0; `DataIntegrityProof`,
/// cryptosuite `eddsa-jcs-2022`; `credentialStatus` a `BitstringStatusListEntry`).
#[utoipa::path(post, path = "/api/v1/credentials", tag = "credentials", request_body = IssueBody,
    responses((status = 201, body = Object), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn issue(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<IssueBody>,
) -> ApiResult<impl IntoResponse> {
    let actor = caller.actor();
    let issuer = body
        .issuer
        .or_else(|| actor.principal().and_then(|p| p.region.clone()))
        .ok_or_else(|| ApiError::bad_param("issuer", "name the issuing region"))?;
    let input = CredentialInput {
        talent: body.talent,
        level: body.level,
        field: body.field,
        valid_days: body.valid_days,
        issuer,
    };
    let stored = state.blocking(move |app| Ok(app.issue_credential(&actor, input)?)).await?;
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("/api/v1/credentials/{}", stored.id))], Json(stored.document)))
}

/// A credential (the signed document) by id. Its revocation is in its status list.
#[utoipa::path(get, path = "/api/v1/credentials/{id}", tag = "credentials",
    params(("id" = String, Path, description = "The credential's id (urn:uuid:…)")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(state.blocking(move |app| Ok(app.credential(&id)?.document)).await?))
}

/// Body of a revocation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    pub reason: String,
}

/// Revokes a credential (an operator of the issuing region, or the admin): its entry in the
/// region's status list is set. A second revocation is 409.
#[utoipa::path(post, path = "/api/v1/credentials/{id}/revoke", tag = "credentials",
    params(("id" = String, Path, description = "The credential's id")), request_body = RevokeBody,
    responses((status = 200, body = Object), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RevokeBody>,
) -> ApiResult<Json<Value>> {
    let actor = caller.actor();
    let stored = state.blocking(move |app| Ok(app.revoke_credential(&actor, &id, &body.reason)?)).await?;
    Ok(Json(serde_json::json!({
        "id": stored.id, "revoked": true, "reason": stored.revoke_reason,
        "status_list": format!("/api/v1/credentials/status/{}", stored.status_list),
        "status_index": stored.status_index,
    })))
}

/// The signed Bitstring Status List (`BitstringStatusListCredential`, purpose `revocation`) of
/// a region (`list` is the issuing region's code), signed with that region's key.
#[utoipa::path(get, path = "/api/v1/credentials/status/{list}", tag = "credentials",
    params(("list" = String, Path, description = "The status list (the issuing region's code)")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn status_list(State(state): State<AppState>, Path(list): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(state.blocking(move |app| Ok(app.status_list(&list)?)).await?))
}

/// Query of a verification.
#[derive(Debug, Deserialize, IntoParams)]
pub struct VerifyParams {
    /// The verifying region (GB/T 2260): `recognised_as` says how it recognises the credential.
    pub region: Option<String>,
}

/// Verifies a credential (the body is the credential, or `{"credential": …, "region": …}`):
/// `{"valid", "reason", "detail", "issuer", "recognised_as": [{"region", "region_name",
/// "level"}]}`. `reason` is `valid` or one of `bad_signature`, `unknown_issuer`, `expired`,
/// `not_yet_valid`, `revoked`, `malformed`, `status_unverifiable`. Always 200 for a JSON body.
#[utoipa::path(post, path = "/api/v1/credentials/verify", tag = "credentials", params(VerifyParams), request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = Problem)))]
pub async fn verify(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<VerifyParams>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Verification>> {
    let (credential, region) = match body.get("credential") {
        Some(inner) if body.get("proof").is_none() => {
            let region = body.get("region").and_then(Value::as_str).map(str::to_string);
            (inner.clone(), region.or(params.region))
        }
        _ => (body, params.region),
    };
    if let Some(code) = &region
        && xietong_domain::Reference::get().region(code).is_none()
    {
        return Err(ApiError::bad_param("region", format!("{code:?} is not a GB/T 2260 region code")));
    }
    Ok(Json(state.blocking(move |app| Ok(app.verify_credential(&credential, region.as_deref())?)).await?))
}

/// The mutual-recognition table (互认): which levels of which issuing region each verifying
/// region recognises, and as what.
#[utoipa::path(get, path = "/api/v1/recognition-rules", tag = "credentials",
    responses((status = 200, body = Object)))]
pub async fn recognition_rules(State(state): State<AppState>) -> ApiResult<Json<Vec<RecognitionRule>>> {
    Ok(Json(state.blocking(|app| Ok(app.recognition_rules()?)).await?))
}

/// Body of a recognition rule.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    pub verifier_region: String,
    pub issuer_region: String,
    pub issuer_level: String,
    pub recognised_level: String,
}

/// Adds a recognition rule (an operator of the verifying region, or the admin); 409 when the
/// verifying region has a rule for that issuer and level.
#[utoipa::path(post, path = "/api/v1/recognition-rules", tag = "credentials", request_body = RuleBody,
    responses((status = 201, body = Object), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn add_recognition_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<RuleBody>,
) -> ApiResult<impl IntoResponse> {
    let actor = caller.actor();
    let input = RecognitionInput {
        verifier_region: body.verifier_region,
        issuer_region: body.issuer_region,
        issuer_level: body.issuer_level,
        recognised_level: body.recognised_level,
    };
    let rule = state.blocking(move |app| Ok(app.add_recognition_rule(&actor, input)?)).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// Removes a recognition rule.
#[utoipa::path(delete, path = "/api/v1/recognition-rules/{id}", tag = "credentials",
    params(("id" = i64, Path, description = "Rule id")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn remove_recognition_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: i64 = id.parse().map_err(|_| ApiError::bad_param("id", "a rule id"))?;
    let actor = caller.actor();
    state.blocking(move |app| Ok(app.remove_recognition_rule(&actor, id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The QR code (SVG) of `text`.
pub fn qr_svg(text: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|err| ApiError::Internal(anyhow::anyhow!("{err}")))?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(180, 180).quiet_zone(true).build())
}

/// The address the QR code of a card carries: the verification page of the talent's newest
/// credential that verifies, or else the card itself; absolute when the request named its host.
pub fn card_link(card: &TalentCard, headers: &HeaderMap) -> String {
    let path = match card.credentials.first() {
        Some(credential) => format!("/credentials/verify?id={}", credential.id),
        None => format!("/talents/{}/card", card.talent_id),
    };
    match headers.get(header::HOST).and_then(|host| host.to_str().ok()) {
        Some(host) => format!("http://{host}{path}"),
        None => path,
    }
}

/// The talent service card (京雄人才服务一卡通): the talent's credentials that verify now with a
/// badge per recognising region, the services the holder can handle in Fengtai and Xiong'an
/// (with the cross-region ones), and `qr_svg`, a QR code carrying `link`.
#[utoipa::path(get, path = "/api/v1/talents/{id}/card", tag = "credentials",
    params(("id" = String, Path, description = "Talent listing id")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn talent_card(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = super::listings::parse_id(&id)?;
    let actor = caller.actor();
    let card = state.blocking(move |app| Ok(app.talent_card(&actor, id)?)).await?;
    let link = card_link(&card, &headers);
    let mut value = serde_json::to_value(&card).map_err(|err| ApiError::Internal(err.into()))?;
    value["link"] = Value::String(link.clone());
    value["qr_svg"] = Value::String(qr_svg(&link)?);
    Ok(Json(value))
}
