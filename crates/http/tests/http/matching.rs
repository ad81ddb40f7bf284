//! Matching that holds for listings users post (issue 13): on the demo catalogue, through the
//! API, a freshly posted achievement without discipline competes with the generated ones; working
//! patterns, preferred and required regions, TRL and budget count, and the fit score shows it.
//!
//! The demo is loaded once per test binary (about 20 s in a debug build) into a directory under
//! the target dir that the next run replaces.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use xietong_app::{App, DataDir};
use xietong_domain::Reference;
use xietong_http::AppState;

struct Demo {
    app: Arc<App>,
    /// API token of a member of an enterprise in 丰台区.
    token: String,
}

static DEMO: LazyLock<Demo> = LazyLock::new(|| {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("issue13-matching-demo");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let app = Arc::new(App::open(&DataDir::create(&dir).unwrap()).unwrap());
    app.load_demo(xietong_demo::DEFAULT_SEED).unwrap();
    let operator = xietong_app::Actor::operator();
    app.account().create_org(&operator, "匹配测试企业", "enterprise", "110106").unwrap();
    let account = xietong_app::account::NewAccount {
        username: "matcher".into(),
        password: "long-enough-password".into(),
        role: "member".into(),
        org: Some("匹配测试企业".into()),
        ..Default::default()
    };
    app.account().create_user(&operator, account).unwrap();
    let token = app.account().issue_token(&operator, Some("matcher"), "tests", None, None).unwrap().token;
    Demo { app, token }
});

fn router() -> Router {
    xietong_http::router(AppState::new(DEMO.app.clone()))
}

async fn send(method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {}", DEMO.token))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let response = router().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

/// Posts a listing and returns its id.
async fn post(body: Value) -> String {
    let (status, created) = send("POST", "/api/v1/listings", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().unwrap().to_string()
}

async fn match_text(body: Value) -> Vec<Value> {
    let (status, page) = send("POST", "/api/v1/match", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

async fn listing_matches(id: &str, query: &str) -> Vec<Value> {
    let (status, page) = send("GET", &format!("/api/v1/listings/{id}/matches?{query}"), None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

fn position(items: &[Value], id: &str) -> Option<usize> {
    items.iter().position(|item| item["id"] == id)
}

fn codes(item: &Value, list: &str) -> Vec<String> {
    item[list].as_array().unwrap().iter().map(|e| e["code"].as_str().unwrap().to_string()).collect()
}

fn titles(items: &[Value]) -> Vec<&str> {
    items.iter().take(12).map(|item| item["title"].as_str().unwrap()).collect()
}

/// The fit parts add up to the fit score, and the maxima to 100.
fn assert_fit_adds_up(item: &Value) {
    let parts = item["fit_parts"].as_array().unwrap();
    let points: u64 = parts.iter().map(|p| p["points"].as_u64().unwrap()).sum();
    let maxima: u64 = parts.iter().map(|p| p["max"].as_u64().unwrap()).sum();
    assert_eq!(points, item["fit"].as_u64().unwrap(), "{item}");
    assert_eq!(maxima, 100, "{item}");
    assert!(parts.iter().all(|p| !p["text"].as_str().unwrap().is_empty()), "every part is explained: {item}");
}

/// Whether a listing lies in `region` (its own regions or, for an enterprise, a site).
async fn lies_in(item: &Value, region: &str) -> bool {
    let reference = Reference::get();
    let within = |codes: &Value| {
        codes.as_array().is_some_and(|codes| codes.iter().any(|c| reference.region_within(c.as_str().unwrap(), region)))
    };
    if within(&item["region_codes"]) {
        return true;
    }
    let (_, listing) = send("GET", &format!("/api/v1/listings/{}", item["id"].as_str().unwrap()), None).await;
    listing["sites"]
        .as_array()
        .is_some_and(|sites| sites.iter().any(|s| reference.region_within(s["region_code"].as_str().unwrap(), region)))
}

/// The example of issue 13: an achievement posted as a new user would (no discipline, TRL 3,
/// Tianjin) fits the need better than almost anything in the catalogue.
#[tokio::test]
async fn a_posted_achievement_without_discipline_ranks_in_the_top_5_and_in_the_top_50_under_unmet_constraints() {
    let posted = post(json!({"kind":"achievement","title":"锂电池极片表面缺陷的机器视觉在线检测","summary":"基于深度学习的极片划痕、褶皱与漏箔识别，检出率99.5%","trl":3,"region_codes":["120116"]})).await;
    let need = "我司锂电池极片产线需要机器视觉缺陷检测方案，要求可直接上线";

    let items = match_text(json!({"text": need, "kind": "achievement", "limit": 200})).await;
    let rank = position(&items, &posted);
    assert!(rank.is_some_and(|r| r < 5), "ranked {rank:?} of {}: {:?}", items.len(), titles(&items));
    let inferred = codes(&items[rank.unwrap()], "reason_details");
    assert!(inferred.contains(&"inferred_discipline".to_string()), "the inferred field is explained: {inferred:?}");
    assert_fit_adds_up(&items[rank.unwrap()]);

    let constrained =
        json!({"text": need, "kind": "achievement", "limit": 200, "trl_min": 7, "region_codes": ["130000"]});
    let items = match_text(constrained).await;
    let rank = position(&items, &posted);
    assert!(rank.is_some_and(|r| r < 50), "ranked {rank:?} of {} under constraints", items.len());
    let hit = &items[rank.unwrap()];
    let mismatches = codes(hit, "mismatch_details");
    assert!(mismatches.contains(&"trl_below_required".to_string()), "{mismatches:?}");
    assert!(mismatches.contains(&"region_outside_preferred".to_string()), "{mismatches:?}");
    assert_fit_adds_up(hit);
    let unmet: Vec<&str> = hit["fit_parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["outcome"] == "unmet")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(unmet, vec!["region", "trl"], "the unmet conditions earn no points: {hit}");
}

/// A need that accepts only full-time talents does not offer a weekend-only engineer first, and
/// marks them when shown; the same need without the condition does offer them.
#[tokio::test]
async fn a_weekend_only_engineer_is_not_in_the_top_10_for_a_full_time_need_and_is_marked() {
    let talent = post(json!({"kind":"talent","title":"机器视觉缺陷检测工程师","summary":"十年机器视觉缺陷检测算法与产线部署经验，精通工业相机选型与深度学习缺陷识别","region_codes":["110106"],"expertise":["机器视觉","缺陷检测","深度学习"],"availability":["weekend_engineer"]})).await;
    let need = |modes: Value| json!({"kind":"demand","title":"产线机器视觉缺陷检测工程师","summary":"招聘机器视觉缺陷检测工程师，负责工业相机选型与深度学习缺陷识别算法的产线部署","region_codes":["110106"],"keywords":["机器视觉","缺陷检测"],"talent_modes": modes});
    let open_need = post(need(json!([]))).await;
    let full_time_need = post(need(json!(["full_time"]))).await;

    let items = listing_matches(&open_need, "kind=talent&limit=50").await;
    let rank = position(&items, &talent);
    assert!(rank.is_some_and(|r| r < 10), "without a condition the engineer fits: ranked {rank:?}");

    let items = listing_matches(&full_time_need, "kind=talent&limit=50").await;
    let rank = position(&items, &talent);
    assert!(rank.is_none_or(|r| r >= 10), "ranked {rank:?}: {:?}", titles(&items));
    assert!(items.len() >= 10, "other talents are offered first: {}", items.len());
    if let Some(rank) = rank {
        let hit = &items[rank];
        let mismatch = hit["mismatch_details"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["code"] == "talent_mode_mismatch")
            .unwrap_or_else(|| panic!("the engineer is marked: {hit}"));
        let text = mismatch["zh"].as_str().unwrap();
        assert!(text.contains("周末工程师") && text.contains("全职"), "{text}");
        assert_fit_adds_up(hit);
    }
    // Every talent offered before the engineer accepts full-time work or does not say.
    for item in items.iter().take(10) {
        assert!(!codes(item, "mismatch_details").contains(&"talent_mode_mismatch".to_string()), "{item}");
    }
}

/// `regions_required` returns nothing outside the regions, on `POST /api/v1/match` and on a
/// listing; without it, the same request reaches further.
#[tokio::test]
async fn regions_required_returns_nothing_outside_the_regions() {
    let text = "机器视觉缺陷检测与工业相机在线检测系统";
    let open = match_text(json!({"text": text, "limit": 100, "region_codes": ["130000"]})).await;
    let mut outside = 0;
    for item in &open {
        if !lies_in(item, "130000").await {
            outside += 1;
        }
    }
    assert!(outside > 0, "a preference alone keeps listings elsewhere");

    let required =
        match_text(json!({"text": text, "limit": 100, "region_codes": ["130000"], "regions_required": true})).await;
    assert!(!required.is_empty());
    for item in &required {
        assert!(lies_in(item, "130000").await, "outside Hebei: {item}");
    }

    let demand = post(json!({"kind":"demand","title":"工业相机在线检测系统","summary":"需要机器视觉缺陷检测与工业相机在线检测系统","region_codes":["110106"],"preferred_regions":["120000"],"regions_required":true})).await;
    let items = listing_matches(&demand, "limit=100").await;
    assert!(!items.is_empty());
    for item in &items {
        assert!(lies_in(item, "120000").await, "outside Tianjin: {item}");
    }
}

/// The issue's example: a demand with budget 300万, preferred region 北京市 and TRL 6. An
/// achievement in 丰台 at TRL 8 within budget fits on every point and ranks first, above an
/// otherwise equal one in 承德 at 430万 (which even repeats the key phrase once more).
#[tokio::test]
async fn the_achievement_that_fits_budget_region_and_trl_ranks_first() {
    let fengtai = post(json!({"kind":"achievement","title":"盐碱地微咸水滴灌水肥一体化装备","summary":"面向盐碱地的微咸水滴灌与水肥一体化智能装备，节水40%","region_codes":["110106"],"trl":8,"price_min":260,"price_max":300})).await;
    let chengde = post(json!({"kind":"achievement","title":"盐碱地微咸水滴灌水肥一体化装备","summary":"盐碱地微咸水滴灌水肥一体化：面向盐碱地的微咸水滴灌与水肥一体化智能装备，节水40%","region_codes":["130802"],"trl":7,"price_min":430,"price_max":500})).await;
    let demand = post(json!({"kind":"demand","title":"盐碱地微咸水滴灌水肥一体化","summary":"我方示范基地需要盐碱地微咸水滴灌水肥一体化装备","region_codes":["110106"],"desired_trl":6,"budget":300,"preferred_regions":["110000"]})).await;

    let items = listing_matches(&demand, "kind=achievement&limit=20").await;
    assert_eq!(items.first().map(|i| i["id"].as_str().unwrap()), Some(fengtai.as_str()), "{:?}", titles(&items));
    let chengde_rank = position(&items, &chengde).expect("the 承德 achievement is still a match");
    let (first, other) = (&items[0], &items[chengde_rank]);
    assert!(codes(first, "mismatch_details").is_empty(), "{first}");
    let mismatches = codes(other, "mismatch_details");
    assert!(mismatches.contains(&"price_above_budget".to_string()), "{mismatches:?}");
    assert!(mismatches.contains(&"region_outside_preferred".to_string()), "{mismatches:?}");
    assert_fit_adds_up(first);
    assert_fit_adds_up(other);
    // The unmet budget and region earn no points; the same parts of the first earn all of theirs.
    let part = |item: &Value, name: &str| -> (u64, u64) {
        let found = item["fit_parts"].as_array().unwrap().iter().find(|p| p["name"] == name).cloned();
        let found = found.unwrap_or_else(|| panic!("no fit part {name}: {item}"));
        (found["points"].as_u64().unwrap(), found["max"].as_u64().unwrap())
    };
    for name in ["budget", "region", "trl"] {
        let (points, max) = part(first, name);
        assert!(points == max && max > 0, "{name} of the first: {points}/{max}");
    }
    for name in ["budget", "region"] {
        assert_eq!(part(other, name).0, 0, "{name} of the 承德 achievement");
    }
    assert!(first["fit"].as_u64().unwrap() > other["fit"].as_u64().unwrap());
}
