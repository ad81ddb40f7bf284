//! API round trips and error paths, in process against a real SQLite store and tantivy index.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use xietong_app::{App, DataDir};
use xietong_domain::{OrgKind, Role, Scope};
use xietong_http::AppState;
use xietong_store::{NewOrg, NewUser};

struct TestApp {
    router: Router,
    app: std::sync::Arc<App>,
    /// API token of a member of the enterprise 测试企业 (丰台区); sent with every request.
    token: String,
    _dir: tempfile::TempDir,
}

impl TestApp {
    fn new() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let app = std::sync::Arc::new(App::open(&DataDir::create(dir.path()).unwrap()).unwrap());
        let org = app
            .accounts()
            .create_org(
                NewOrg { name: "测试企业".into(), kind: OrgKind::Enterprise, region_code: "110106".into() },
                &|_| Default::default(),
            )
            .unwrap();
        let user = app
            .accounts()
            .create_user(
                NewUser {
                    username: "member".into(),
                    display_name: "成员".into(),
                    role: Role::Member,
                    org_id: Some(org.id),
                    region_code: None,
                    password_hash: "unused".into(),
                },
                &[],
                &|_| Default::default(),
            )
            .unwrap();
        let (_, token) = app
            .account()
            .auth()
            .issue_token(&user, "tests", Scope::ALL.to_vec(), None, &|_| Default::default())
            .unwrap();
        let router = xietong_http::router(AppState::new(app.clone()));
        TestApp { router, app, token, _dir: dir }
    }

    async fn send(&self, mut request: Request<Body>) -> (StatusCode, Option<String>, Value) {
        let bearer = format!("Bearer {}", self.token).parse().unwrap();
        request.headers_mut().entry(header::AUTHORIZATION).or_insert(bearer);
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, content_type, body)
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        let (status, _, body) = self.send(Request::get(uri).body(Body::empty()).unwrap()).await;
        (status, body)
    }

    async fn json(&self, method: &str, uri: &str, body: Value) -> (StatusCode, Option<String>, Value) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    async fn listing_total(&self) -> u64 {
        self.get("/api/v1/listings?limit=1").await.1["total"].as_u64().unwrap()
    }
}

fn achievement(title: &str, summary: &str, region: &str) -> Value {
    json!({"kind": "achievement", "title": title, "summary": summary, "region_codes": [region], "trl": 6})
}

fn assert_problem(
    status: StatusCode,
    content_type: &Option<String>,
    body: &Value,
    expected: StatusCode,
    field: Option<&str>,
) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert_eq!(body["status"], expected.as_u16());
    assert!(!body["detail"].as_str().unwrap().is_empty());
    if let Some(field) = field {
        let fields: Vec<&str> =
            body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&field), "expected an error on {field}, got {fields:?}");
    }
}

#[tokio::test]
async fn create_read_update_round_trip() {
    let test = TestApp::new();
    let (status, _, mut created) =
        test.json("POST", "/api/v1/listings", achievement("激光雷达点云处理", "面向无人机的点云处理", "110106")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // The write's answer says whether the index took it in; the stored listing is the rest.
    assert_eq!(created.as_object_mut().unwrap().remove("searchable"), Some(json!(true)));
    assert_eq!(created["version"], 1);
    assert_eq!(created["status"], "published");
    let id = created["id"].as_str().unwrap().to_string();
    let (status, mut read) = test.get(&format!("/api/v1/listings/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    // Reads also say whether the listing is stale (not updated for `stale_after_days`).
    assert_eq!(read.as_object_mut().unwrap().remove("stale"), Some(json!(false)));
    assert_eq!(read, created);

    let mut changed = read.clone();
    changed["title"] = json!("激光雷达点云实时处理");
    let (status, _, updated) = test.json("PUT", &format!("/api/v1/listings/{id}"), changed.clone()).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["title"], "激光雷达点云实时处理");

    // The same stale version again: 409, and nothing is written.
    changed["title"] = json!("被覆盖的标题");
    let (status, content_type, problem) = test.json("PUT", &format!("/api/v1/listings/{id}"), changed).await;
    assert_problem(status, &content_type, &problem, StatusCode::CONFLICT, None);
    assert_eq!(test.get(&format!("/api/v1/listings/{id}")).await.1["title"], "激光雷达点云实时处理");

    let (status, _, archived) =
        test.json("POST", &format!("/api/v1/listings/{id}/archive"), json!({"version": 2})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(archived["status"], "archived");
    let (_, hits) = test.get("/api/v1/search?q=激光雷达").await;
    assert_eq!(hits["total"], 0, "archived listings leave search");
}

#[tokio::test]
async fn bad_input_is_a_problem_and_writes_nothing() {
    let test = TestApp::new();
    let cases: Vec<(Value, StatusCode, Option<&str>)> = vec![
        (
            json!({"kind": "enterprise", "title": "某公司", "summary": "s", "region_codes": ["110106"], "uscc": "91350100M000100Y44"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("uscc"),
        ),
        (achievement("t", "s", "999999"), StatusCode::UNPROCESSABLE_ENTITY, Some("region_codes[0]")),
        (
            json!({"kind": "achievement", "title": "t", "summary": "s", "region_codes": ["110106"], "trl": 10}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("trl"),
        ),
        (
            json!({"kind": "achievement", "summary": "s", "region_codes": ["110106"], "trl": 5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("title"),
        ),
        (
            json!({"kind": "achievement", "title": "t", "summary": "s", "region_codes": ["110106"], "trl": "high"}),
            StatusCode::BAD_REQUEST,
            Some("trl"),
        ),
        (
            json!({"kind": "robot", "title": "t", "summary": "s", "region_codes": ["110106"]}),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            json!({"kind": "achievement", "title": "t", "summary": "s", "region_codes": ["110106"], "industry_codes": ["Z99"], "trl": 5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("industry_codes[0]"),
        ),
    ];
    for (body, expected, field) in cases {
        let (status, content_type, problem) = test.json("POST", "/api/v1/listings", body).await;
        assert_problem(status, &content_type, &problem, expected, field);
    }
    // Invalid JSON.
    let request = Request::post("/api/v1/listings")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"kind\": "))
        .unwrap();
    let (status, content_type, problem) = test.send(request).await;
    assert_problem(status, &content_type, &problem, StatusCode::BAD_REQUEST, None);
    // A 10 MB body.
    let huge = format!("{{\"kind\":\"achievement\",\"title\":\"{}\"}}", "x".repeat(10 * 1024 * 1024));
    let request = Request::post("/api/v1/listings")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(huge))
        .unwrap();
    let (status, content_type, problem) = test.send(request).await;
    assert_problem(status, &content_type, &problem, StatusCode::PAYLOAD_TOO_LARGE, None);
    // Not JSON at all.
    let request =
        Request::post("/api/v1/listings").header(header::CONTENT_TYPE, "text/plain").body(Body::from("hello")).unwrap();
    let (status, content_type, problem) = test.send(request).await;
    assert_problem(status, &content_type, &problem, StatusCode::UNSUPPORTED_MEDIA_TYPE, None);
    // PUT without a version.
    let (_, _, created) = test.json("POST", "/api/v1/listings", achievement("t", "s", "110106")).await;
    let (status, content_type, problem) = test
        .json("PUT", &format!("/api/v1/listings/{}", created["id"].as_str().unwrap()), achievement("t2", "s", "110106"))
        .await;
    assert_problem(status, &content_type, &problem, StatusCode::BAD_REQUEST, Some("version"));
    assert_eq!(test.listing_total().await, 1, "only the one valid listing was written");
    // Unknown ids and bad parameters.
    let (status, content_type, problem) = test
        .send(
            Request::get(format!("/api/v1/listings/{}", xietong_domain::ListingId::new())).body(Body::empty()).unwrap(),
        )
        .await;
    assert_problem(status, &content_type, &problem, StatusCode::NOT_FOUND, None);
    let (status, content_type, problem) =
        test.send(Request::get("/api/v1/listings?region=999999").body(Body::empty()).unwrap()).await;
    assert_problem(status, &content_type, &problem, StatusCode::BAD_REQUEST, Some("region"));
    let (status, content_type, problem) =
        test.send(Request::get("/api/v1/listings?limit=100000").body(Body::empty()).unwrap()).await;
    assert_problem(status, &content_type, &problem, StatusCode::BAD_REQUEST, Some("limit"));
}

#[tokio::test]
async fn list_filters_include_sub_regions_and_paginate() {
    let test = TestApp::new();
    for (title, region) in
        [("雄县成果", "130638"), ("丰台成果", "110106"), ("保定成果", "130600"), ("天津成果", "120116")]
    {
        let (status, _, _) = test.json("POST", "/api/v1/listings", achievement(title, "摘要", region)).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, hebei) = test.get("/api/v1/listings?region=130000").await;
    assert_eq!(hebei["total"], 2);
    let (_, xiongan) = test.get("/api/v1/listings?region=133100&kind=achievement&status=published").await;
    assert_eq!(xiongan["total"], 1);
    assert_eq!(xiongan["items"][0]["title"], "雄县成果");
    let (_, first) = test.get("/api/v1/listings?limit=2&offset=0").await;
    let (_, second) = test.get("/api/v1/listings?limit=2&offset=2").await;
    let mut ids: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
}

#[tokio::test]
async fn writes_are_searchable_at_once_and_match_with_reasons() {
    let test = TestApp::new();
    test.json(
        "POST",
        "/api/v1/listings",
        achievement("在建工程安全监测系统", "基于机器视觉的在建工程安全监测", "110106"),
    )
    .await;
    test.json("POST", "/api/v1/listings", achievement("测试工具箱", "嵌入式软件测试工具箱", "120116")).await;
    let (_, demand) = test
        .json(
            "POST",
            "/api/v1/listings",
            json!({"kind": "demand", "title": "需要机器视觉安全监测", "summary": "为在建工程引入机器视觉安全监测", "region_codes": ["130638"], "desired_trl": 7, "preferred_regions": ["130000"]}),
        )
        .await
        .2
        .as_object()
        .map(|o| ((), Value::Object(o.clone())))
        .unwrap();
    for (query, expected) in
        [("工程", "在建工程安全监测系统"), ("工具", "测试工具箱"), ("機器視覺", "在建工程安全监测系统")]
    {
        let (status, hits) = test.get(&format!("/api/v1/search?q={}", urlencode(query))).await;
        assert_eq!(status, StatusCode::OK);
        let titles: Vec<&str> =
            hits["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect();
        assert!(titles.contains(&expected), "{query} should find {expected}: {titles:?}");
        assert!(hits["facets"].is_object());
        assert!(hits["items"][0]["score"].is_number());
    }
    let (status, matches) =
        test.get(&format!("/api/v1/listings/{}/matches?kind=achievement", demand["id"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK, "{matches}");
    let top = &matches["items"][0];
    assert_eq!(top["title"], "在建工程安全监测系统");
    assert!(top["score_parts"].as_object().unwrap().contains_key("text"));
    assert!(!top["reasons"].as_array().unwrap().is_empty());
    let mismatches: Vec<&str> = top["mismatches"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert!(
        mismatches.iter().any(|m| m.contains('6') && m.contains('7')),
        "TRL 6 below the desired 7 is a mismatch: {mismatches:?}"
    );
    let (status, _, adhoc) = test
        .json("POST", "/api/v1/match", json!({"text": "机器视觉 安全监测", "kind": "achievement", "trl_min": 6, "region_codes": ["130000"], "limit": 20}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(adhoc["items"][0]["title"], "在建工程安全监测系统");
    let (status, _, problem) = test.json("POST", "/api/v1/match", json!({"text": "x", "trl_min": 12})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(test.app.index().doc_count() >= 3);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[tokio::test]
async fn openapi_lists_every_route_and_ops_endpoints_answer() {
    let test = TestApp::new();
    let (status, spec) = test.get("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let paths: Vec<&String> = spec["paths"].as_object().unwrap().keys().collect();
    for expected in [
        "/api/v1/listings",
        "/api/v1/listings/{id}",
        "/api/v1/listings/{id}/archive",
        "/api/v1/listings/{id}/matches",
        "/api/v1/match",
        "/api/v1/search",
        "/api/v1/reference/regions",
        "/api/v1/reference/industries",
        "/api/v1/reference/trl",
        "/api/v1/stats/overview",
        "/api/v1/stats/funnel",
        "/api/v1/listings/{id}/feedback",
        "/api/v1/templates/{kind}",
        "/api/v1/imports/{kind}",
        "/api/v1/exports",
        "/healthz",
        "/metrics",
    ] {
        assert!(paths.iter().any(|p| p.as_str() == expected), "{expected} missing from {paths:?}");
    }
    assert!(spec["paths"]["/api/v1/listings"]["post"]["responses"]["201"].is_object());
    let (status, health) = test.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    let (status, docs) = test.get("/api/docs").await;
    assert_eq!(status, StatusCode::OK);
    assert!(docs.as_str().unwrap().contains("/api/openapi.json"));
    test.json("POST", "/api/v1/listings", achievement("t", "s", "110106")).await;
    let (status, metrics) = test.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let text = metrics.as_str().unwrap();
    assert!(
        text.contains("xietong_http_requests_total{method=\"POST\",route=\"/api/v1/listings\",status=\"201\"} 1"),
        "{text}"
    );
    assert!(text.contains("xietong_http_request_duration_seconds_bucket"));
    assert!(text.contains("xietong_listings{kind=\"achievement\",status=\"published\"} 1"));
}

#[tokio::test]
async fn spreadsheets_round_trip_through_the_api() {
    let test = TestApp::new();
    let response = test
        .router
        .clone()
        .oneshot(Request::get("/api/v1/templates/achievement?format=csv").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let template = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(template.contains("标题") && template.contains("技术成熟度"), "{template}");

    let csv = "external_id,title,summary,region_codes,trl\n\
               a-1,高精度机器视觉检测成果,用于焊缝检测,110106,6\n\
               a-2,无人机巡检成果,电力巡检,雄安新区,7\n\
               a-3,坏行,缺少地区,999999,12\n";
    let request = Request::post("/api/v1/imports/achievement?file_name=rows.csv").body(Body::from(csv)).unwrap();
    let (status, _, report) = test.send(request).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["accepted"].as_u64(), report["rejected"].as_u64()), (Some(2), Some(1)), "{report}");
    let columns: Vec<&str> =
        report["problems"].as_array().unwrap().iter().map(|p| p["column"].as_str().unwrap()).collect();
    assert!(columns.contains(&"region_codes") && columns.contains(&"trl"), "{columns:?}");
    assert!(report["problems"].as_array().unwrap().iter().all(|p| p["row"] == 3));
    let (_, hits) = test.get(&format!("/api/v1/search?q={}", urlencode("无人机巡检"))).await;
    assert_eq!(hits["items"][0]["title"], "无人机巡检成果", "imported rows are searchable at once");

    let request = Request::post("/api/v1/imports/achievement?file_name=rows.csv").body(Body::from(csv)).unwrap();
    let (_, _, again) = test.send(request).await;
    assert_eq!((again["accepted"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(2)), "{again}");
    assert_eq!(test.listing_total().await, 2);

    let response = test
        .router
        .clone()
        .oneshot(Request::get("/api/v1/exports?kind=achievement&format=csv").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let exported = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(exported.contains("高精度机器视觉检测成果") && exported.contains("无人机巡检成果"));
    let response = test
        .router
        .clone()
        .oneshot(
            Request::get(format!("/api/v1/exports?kind=achievement&q={}", urlencode("无人机")))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let searched = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(searched.contains("无人机巡检成果") && !searched.contains("高精度机器视觉检测成果"), "{searched}");
    let (status, _, problem) = test.send(Request::get("/api/v1/exports?kind=robot").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
}

/// Issue 13 item 5: `GET /api/v1/search?sort=` orders by relevance, newest, TRL or price.
#[tokio::test]
async fn search_sorts_by_the_sort_parameter() {
    let test = TestApp::new();
    for (title, trl, price) in [("氢能电堆甲", 4, 300.0), ("氢能电堆乙", 8, 50.0), ("氢能电堆丙", 6, 120.0)]
    {
        let body = json!({"kind": "achievement", "title": title, "summary": "氢能电堆", "region_codes": ["110106"],
            "trl": trl, "price_min": price});
        let (status, _, created) = test.json("POST", "/api/v1/listings", body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }
    let order = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap().to_string()).collect()
    };
    let (status, by_trl) = test.get("/api/v1/search?q=氢能电堆&sort=trl").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order(&by_trl), vec!["氢能电堆乙", "氢能电堆丙", "氢能电堆甲"]);
    let (_, by_price) = test.get("/api/v1/search?q=氢能电堆&sort=price").await;
    assert_eq!(order(&by_price), vec!["氢能电堆乙", "氢能电堆丙", "氢能电堆甲"]);
    let (_, newest) = test.get("/api/v1/search?q=氢能电堆&sort=newest").await;
    assert_eq!(newest["total"], 3);
    let (status, problem) = test.get("/api/v1/search?q=氢能电堆&sort=cheapest").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
}
