//! The planner's view over HTTP (issue 19): the chain view's shape, the gap rules taken from the
//! query, the attraction list as a spreadsheet, a stale chain edit refused with 409.

use axum::http::StatusCode;
use serde_json::json;

use crate::fixture::{Fixture, Who};

fn enterprise(fx: &Fixture, title: &str, region: &str) {
    fx.store_listing(json!({"kind": "enterprise", "title": title, "summary": "工业级无人机整机制造",
        "region_codes": [region], "industry_codes": ["3963"], "owner_org": title}));
}

#[tokio::test]
async fn chain_view_counts_labels_and_exports_the_attraction_list() {
    let fx = Fixture::new();
    for index in 0..5 {
        enterprise(&fx, &format!("北京无人机{index}号企业"), "110108");
    }
    enterprise(&fx, "天津无人机企业", "120116");
    fx.sync();
    let reply = fx.get(Who::Anonymous, "/api/v1/chains/safety?district=110108").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let view = reply.json();
    assert_eq!(view["regions"], json!(["110000", "120000", "130000", "110108"]));
    let uav = view["segments"].as_array().unwrap().iter().find(|s| s["id"] == "safety-uav").unwrap();
    let supply: Vec<u64> = uav["cells"].as_array().unwrap().iter().map(|c| c["supply"].as_u64().unwrap()).collect();
    assert_eq!(supply, [5, 1, 0, 5]);
    let gaps: Vec<&str> = uav["cells"].as_array().unwrap().iter().map(|c| c["gap"].as_str().unwrap()).collect();
    assert_eq!(gaps, ["strong", "weak", "missing", "strong"]);
    assert!(uav["cells"][2]["reason_zh"].as_str().unwrap().contains("建链"));
    let strict = fx.get(Who::Anonymous, "/api/v1/chains/safety?strong_min_supply=6").await.json();
    let strict_uav = strict["segments"].as_array().unwrap().iter().find(|s| s["id"] == "safety-uav").unwrap();
    assert_eq!(strict_uav["cells"][0]["gap"], "weak", "5 < 6");
    let bad = fx.get(Who::Anonymous, "/api/v1/chains/safety?strong_min_supply=0").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(fx.get(Who::Anonymous, "/api/v1/chains/nope").await.status, StatusCode::NOT_FOUND);
    assert_eq!(fx.get(Who::Anonymous, "/api/v1/chains").await.json().as_array().unwrap().len(), 5);

    let list = fx.get(Who::Anonymous, "/api/v1/chains/safety/segments/safety-uav/attraction?region=130000").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let candidates = list.json()["candidates"].as_array().unwrap().clone();
    assert_eq!(candidates.len(), 5, "the Beijing firms; Tianjin is weak");
    let csv =
        fx.get(Who::Anonymous, "/api/v1/chains/safety/segments/safety-uav/attraction?region=130000&format=csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-disposition").unwrap().contains("attraction-safety-uav-130000.csv"));
    assert!(
        csv.text.contains("排名") && csv.text.contains("北京无人机0号企业") && !csv.text.contains("天津无人机企业")
    );
    let xlsx =
        fx.get(Who::Anonymous, "/api/v1/chains/safety/segments/safety-uav/attraction?region=130000&format=xlsx").await;
    assert_eq!(xlsx.status, StatusCode::OK);
    assert!(xlsx.header("content-type").unwrap().contains("spreadsheetml"));
}

#[tokio::test]
async fn a_stale_chain_edit_is_refused() {
    let fx = Fixture::new();
    let chain = fx.get(Who::Anonymous, "/api/v1/chains/ai").await.json();
    let record = fx.app.chain("ai").unwrap();
    assert_eq!(chain["version"], 0);
    let body = json!({"version": 0, "chain": record.chain});
    assert_eq!(fx.call(Who::Admin, "PUT", "/api/v1/chains/ai", Some(body.clone())).await.status, StatusCode::OK);
    let again = fx.call(Who::Admin, "PUT", "/api/v1/chains/ai", Some(body)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert_eq!(fx.get(Who::Anonymous, "/api/v1/chains/ai").await.json()["version"], 1);
}

#[tokio::test]
async fn the_chain_pages_draw_the_map_the_gap_report_and_the_enclave_flows() {
    let fx = Fixture::new();
    for index in 0..5 {
        enterprise(&fx, &format!("北京无人机{index}号企业"), "110108");
    }
    fx.sync();
    let map = fx.get(Who::Anonymous, "/chains/safety?region=130000").await;
    assert_eq!(map.status, StatusCode::OK);
    assert!(map.text.contains(r#"id="chain-map""#) && map.text.contains("<svg"));
    assert!(map.text.contains(r#"data-segment="safety-uav" data-gap="missing""#), "Hebei has no drone maker");
    assert!(map.text.contains("/chains/safety/attraction?segment=safety-uav&amp;region=130000"));
    let en = fx.get(Who::Anonymous, "/chains/safety?lang=en").await;
    assert!(en.text.contains("Gap report") && en.text.contains(r#"data-segment="safety-uav" data-gap="strong""#));
    let list = fx.get(Who::Anonymous, "/chains/safety/attraction?segment=safety-uav&region=130000").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text.contains("北京无人机0号企业") && list.text.contains("format=xlsx"));
    let index = fx.get(Who::Anonymous, "/chains").await;
    assert!(index.text.contains(r#"href="/chains/aerospace""#));
    let flows = fx.get(Who::Anonymous, "/enclaves").await;
    assert_eq!(flows.status, StatusCode::OK);
    assert!(flows.text.contains(r#"id="enclave-flows""#));
}

#[tokio::test]
async fn the_achievement_page_proposes_bundles() {
    let fx = Fixture::new();
    let achievement = fx
        .store_listing(json!({"kind": "achievement", "title": "无人机集群成果", "summary": "无人机集群控制",
        "region_codes": ["110108"], "industry_codes": ["3963"], "owner_org": "某研究院", "trl": 6}));
    fx.store_listing(
        json!({"kind": "facility", "title": "无人机中试线", "summary": "整机中试", "region_codes": ["120116"],
        "industry_codes": ["3963"], "owner_org": "中试平台", "facility_type": "pilot_line"}),
    );
    fx.store_listing(json!({"kind": "enterprise", "title": "保定无人机制造企业", "summary": "整机制造",
        "region_codes": ["130602"], "industry_codes": ["3963"], "owner_org": "保定无人机制造企业",
        "sites": [{"region_code": "130602", "role": "manufacturing"}]}));
    fx.sync();
    let page = fx.get(Who::Anonymous, &format!("/listings/{}", achievement.id)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains(r#"id="bundles""#));
    assert!(page.text.contains(r#"data-segment="safety-uav" data-inferred="true""#));
    assert!(page.text.contains("行业代码 3963 属于该环节"));
    assert!(page.text.contains("无人机中试线") && page.text.contains("保定无人机制造企业"), "{}", page.text);
    let api = fx.get(Who::Anonymous, &format!("/api/v1/listings/{}/bundles", achievement.id)).await.json();
    assert_eq!(api[0]["pilot"]["title"], "无人机中试线");
    assert_eq!(api[0]["manufacturer"]["title"], "保定无人机制造企业");
    assert!(api[0]["missing_zh"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_admin_edits_a_chain_on_its_page() {
    use crate::fixture::{PASSWORD, form_request, json_request, with_cookie};
    let fx = Fixture::new();
    let admin = fx.login("admin", PASSWORD).await;
    let page = fx.send(with_cookie(json_request("GET", "/chains/ai", None), &admin)).await;
    assert!(page.text.contains(r#"id="chain-edit""#), "the admin sees the edit form");
    let visitor = fx.get(Who::Anonymous, "/chains/ai").await;
    assert!(!visitor.text.contains(r#"id="chain-edit""#));
    let mut chain = fx.app.chain("ai").unwrap().chain;
    chain.segments[0].name_zh = "智能芯片（已编辑）".into();
    let json = serde_json::to_string(&chain).unwrap();
    let post = |version: &'static str| {
        let pairs = [("version", version), ("chain", json.as_str()), ("_csrf", admin.csrf.as_str())];
        with_cookie(form_request("POST", "/chains/ai", &pairs), &admin)
    };
    let saved = fx.send(post("0")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(saved.header("location"), Some("/chains/ai?saved=1"));
    let shown = fx.send(with_cookie(json_request("GET", "/chains/ai?saved=1", None), &admin)).await;
    assert!(shown.text.contains(r#"id="chain-saved""#) && shown.text.contains("智能芯片（已编辑）"));
    let stale = fx.send(post("0")).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.text);
    let broken = [("version", "1"), ("chain", "{"), ("_csrf", admin.csrf.as_str())];
    let refused = fx.send(with_cookie(form_request("POST", "/chains/ai", &broken), &admin)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
}
