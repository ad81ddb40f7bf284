//! Precise matching (精准对接): complementary listings with score parts, reasons and mismatches.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xietong_app::types::{Explanation, MatchHit, MatchRequest, Outcome};
use xietong_domain::Availability;
use xietong_domain::{Kind, ListingId, Reference};

use super::{page_limit, parse_param};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::ApiQuery;
use crate::state::AppState;

/// Query of `GET /api/v1/listings/{id}/matches`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct MatchParams {
    /// Only this complementary kind; by default a mix of all complementary kinds.
    pub kind: Option<String>,
    /// Number of matches, 1–200 (default 20).
    pub limit: Option<u32>,
    /// Language of `reasons` and `mismatches`: zh (default) or en.
    pub lang: Option<String>,
}

/// One explanation sentence in both languages.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplanationDto {
    /// Stable code, e.g. `shared_terms`, `trl_fit`, `region_corridor`, `trl_below`.
    pub code: String,
    pub zh: String,
    pub en: String,
}

/// One part of the fit score.
#[derive(Debug, Serialize, ToSchema)]
pub struct FitPartDto {
    /// `relevance`, or a condition: `trl`, `budget`, `region`, `talent_mode`, `willing_region`,
    /// `deadline`.
    pub name: String,
    /// Points earned; the parts add up to `fit`.
    pub points: u32,
    /// Points the part can earn; the maxima add up to 100.
    pub max: u32,
    /// For a condition: met, unknown (one side does not say; half the points) or unmet (none).
    pub outcome: Option<String>,
    /// The part explained, in the requested language.
    pub text: String,
    pub zh: String,
    pub en: String,
}

/// One matched listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchItem {
    #[schema(value_type = String)]
    pub id: ListingId,
    #[schema(value_type = String)]
    pub kind: Kind,
    pub title: String,
    pub summary: String,
    pub score: f64,
    /// Named components that add up to `score` (text, industry, region, trl, …).
    pub score_parts: BTreeMap<String, f64>,
    /// Fit score 0–100 for people: relevance plus the stated conditions (TRL, budget, region,
    /// working pattern, …); an unmet condition earns nothing. The points of `fit_parts` add up to
    /// it.
    pub fit: u32,
    /// Each part of `fit`, explained.
    pub fit_parts: Vec<FitPartDto>,
    /// What matches, as readable sentences in the requested language.
    pub reasons: Vec<String>,
    /// What does not match, as readable sentences in the requested language.
    pub mismatches: Vec<String>,
    /// Both languages with codes.
    pub reason_details: Vec<ExplanationDto>,
    pub mismatch_details: Vec<ExplanationDto>,
    pub region_codes: Vec<String>,
    pub trl: Option<u8>,
    /// Not updated for `stale_after_days` (config, default 180): its score was multiplied by
    /// 0.75 (score part `stale`) and a `stale` mismatch says so.
    pub stale: bool,
}

/// Matches, best first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchPage {
    pub items: Vec<MatchItem>,
}

fn is_english(lang: Option<&str>) -> bool {
    lang.is_some_and(|l| l.trim().eq_ignore_ascii_case("en"))
}

fn explanation_dto(e: Explanation) -> ExplanationDto {
    ExplanationDto { code: e.code, zh: e.zh, en: e.en }
}

/// Converts search hits to the wire shape.
pub fn to_page(hits: Vec<MatchHit>, english: bool) -> MatchPage {
    let pick = |e: &Explanation| if english { e.en.clone() } else { e.zh.clone() };
    let items = hits
        .into_iter()
        .map(|hit| MatchItem {
            stale: hit.mismatches.iter().any(|m| m.code == "stale"),
            id: hit.id,
            kind: hit.kind,
            title: hit.title,
            summary: hit.listing.body.summary.clone(),
            score: hit.score,
            score_parts: hit.score_parts,
            fit: hit.fit,
            fit_parts: hit
                .fit_parts
                .into_iter()
                .map(|part| FitPartDto {
                    text: if english { part.en.clone() } else { part.zh.clone() },
                    outcome: part.outcome.map(|o| {
                        match o {
                            Outcome::Met => "met",
                            Outcome::Unknown => "unknown",
                            Outcome::Unmet => "unmet",
                        }
                        .to_string()
                    }),
                    name: part.name,
                    points: part.points,
                    max: part.max,
                    zh: part.zh,
                    en: part.en,
                })
                .collect(),
            reasons: hit.reasons.iter().map(pick).collect(),
            mismatches: hit.mismatches.iter().map(pick).collect(),
            region_codes: hit.listing.body.region_codes.clone(),
            trl: hit.listing.body.trl(),
            reason_details: hit.reasons.into_iter().map(explanation_dto).collect(),
            mismatch_details: hit.mismatches.into_iter().map(explanation_dto).collect(),
        })
        .collect();
    MatchPage { items }
}

/// Complementary listings for a listing: a demand finds achievements, talents and facilities; an
/// achievement finds scenarios, demands, manufacturing enterprises and pilot bases; and so on.
#[utoipa::path(get, path = "/api/v1/listings/{id}/matches", tag = "matching",
    params(("id" = String, Path, description = "Listing id"), MatchParams),
    responses((status = 200, body = MatchPage), (status = 404, body = Problem)))]
pub async fn listing_matches(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<MatchParams>,
) -> ApiResult<Json<MatchPage>> {
    let id: ListingId = id.parse().map_err(|_| ApiError::bad_param("id", format!("{id:?} is not a listing id")))?;
    let kind = parse_param::<Kind>("kind", params.kind.as_deref())?;
    let limit = page_limit(params.limit)? as usize;
    let actor = caller.actor();
    // The source must be readable by the caller, and so must every candidate.
    let hits = state.read_work(move |app| Ok(app.match_listing(&actor, id, kind, limit)?)).await?;
    Ok(Json(to_page(hits, is_english(params.lang.as_deref()))))
}

/// Body of `POST /api/v1/match`: free text treated as an ad-hoc demand.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MatchBody {
    /// What is needed, in Chinese and/or English.
    pub text: String,
    /// Key phrases of the need; split out of `text` when absent.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Kind wanted; by default achievements, talents and facilities.
    pub kind: Option<String>,
    /// Minimum technology readiness level.
    pub trl_min: Option<u8>,
    /// Regions of the demand (GB/T 2260).
    #[serde(default)]
    pub region_codes: Vec<String>,
    /// Industries of the demand (GB/T 4754).
    #[serde(default)]
    pub industry_codes: Vec<String>,
    /// Disciplines (学科).
    #[serde(default)]
    pub disciplines: Vec<String>,
    /// Budget in 万元.
    pub budget: Option<f64>,
    /// Working patterns accepted from talents: any of full_time, dual_appointment,
    /// weekend_engineer, remote_consulting; empty means any. A talent offering none of them ranks
    /// after those who do and carries a mismatch.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub talent_modes: Vec<Availability>,
    /// `true` makes `region_codes` a requirement: nothing outside them is returned. Otherwise
    /// they are a preference that ranks listings inside them first among equals.
    #[serde(default)]
    pub regions_required: bool,
    /// Number of matches, 1–200 (default 20).
    pub limit: Option<u32>,
    /// zh (default) or en.
    pub lang: Option<String>,
}

/// Longest match text, in characters: a need is described in a few paragraphs. Longer text
/// would only cost time (every phrase of it is looked up) without sharpening the match.
pub const MAX_MATCH_TEXT_CHARS: usize = 2_000;
/// Most keywords, region codes, industry codes and disciplines in one match request.
pub const MAX_MATCH_LIST: usize = 20;
/// Longest keyword or discipline, in characters.
pub const MAX_MATCH_TERM_CHARS: usize = 50;

/// Refuses match bodies beyond the limits above, before any work starts.
fn check_bounds(body: &MatchBody) -> ApiResult<()> {
    super::text_param("text", Some(&body.text), MAX_MATCH_TEXT_CHARS)?;
    let lists: [(&str, &[String]); 4] = [
        ("keywords", &body.keywords),
        ("region_codes", &body.region_codes),
        ("industry_codes", &body.industry_codes),
        ("disciplines", &body.disciplines),
    ];
    for (field, values) in lists {
        if values.len() > MAX_MATCH_LIST {
            return Err(ApiError::bad_param(
                field,
                format!("{field} may hold at most {MAX_MATCH_LIST} entries (it has {})", values.len()),
            ));
        }
        for (index, value) in values.iter().enumerate() {
            super::text_param(&format!("{field}[{index}]"), Some(value), MAX_MATCH_TERM_CHARS)?;
        }
    }
    Ok(())
}

/// Turns a match body into a request, checking codes and ranges.
pub fn to_request(body: MatchBody) -> ApiResult<(MatchRequest, bool)> {
    check_bounds(&body)?;
    let mut errors = xietong_domain::ValidationErrors::default();
    if body.text.trim().is_empty() && body.keywords.is_empty() {
        errors.push("text", "请描述需求内容", "describe what is needed in `text`");
    }
    if let Some(level) = body.trl_min
        && !(1..=9).contains(&level)
    {
        errors.push("trl_min", "技术成熟度必须在 1 到 9 之间", "trl_min must be between 1 and 9");
    }
    let reference = Reference::get();
    for (index, code) in body.region_codes.iter().enumerate() {
        if reference.region(code.trim()).is_none() {
            errors.push(
                format!("region_codes[{index}]"),
                format!("未知的行政区划代码“{code}”"),
                format!("unknown region code {code:?}"),
            );
        }
    }
    for (index, code) in body.industry_codes.iter().enumerate() {
        if reference.industry(code.trim()).is_none() {
            errors.push(
                format!("industry_codes[{index}]"),
                format!("未知的行业代码“{code}”"),
                format!("unknown industry code {code:?}"),
            );
        }
    }
    if body.regions_required && body.region_codes.is_empty() {
        errors.push(
            "regions_required",
            "要求限定地区时，请至少填写一个地区代码（region_codes）",
            "regions_required needs at least one region in region_codes",
        );
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let mut talent_modes = body.talent_modes;
    talent_modes.dedup();
    let request = MatchRequest {
        text: body.text,
        keywords: body.keywords,
        kind: parse_param::<Kind>("kind", body.kind.as_deref())?,
        trl_min: body.trl_min,
        region_codes: body.region_codes,
        industry_codes: body.industry_codes,
        disciplines: body.disciplines,
        budget: body.budget,
        talent_modes,
        regions_required: body.regions_required,
        limit: page_limit(body.limit)? as usize,
        // Set by the handler from the caller; `None` would be unrestricted.
        scope: Some(xietong_domain::ReadScope::anonymous()),
    };
    Ok((request, is_english(body.lang.as_deref())))
}

/// Matches free text with optional constraints, as an ad-hoc demand.
#[utoipa::path(post, path = "/api/v1/match", tag = "matching", request_body = MatchBody,
    responses((status = 200, body = MatchPage), (status = 400, body = Problem), (status = 422, body = Problem)))]
pub async fn match_text(
    State(state): State<AppState>,
    caller: Caller,
    crate::json::ApiJson(body): crate::json::ApiJson<MatchBody>,
) -> ApiResult<Json<MatchPage>> {
    let (request, english) = to_request(body)?;
    let actor = caller.actor();
    let hits = state.read_work(move |app| Ok(app.match_request(&actor, request)?)).await?;
    Ok(Json(to_page(hits, english)))
}
