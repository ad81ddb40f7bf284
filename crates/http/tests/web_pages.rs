//! Web pages in process (no browser): status codes, the language cookie, form errors and the
//! publish round trip, on a small store.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;
use xietong_app::{App, DataDir};
use xietong_domain::{Kind, ListingBody, Reference, validate};
use xietong_http::AppState;

struct TestSite {
    router: Router,
    app: std::sync::Arc<App>,
    _dir: tempfile::TempDir,
}

struct Page {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    html: String,
}

impl TestSite {
    fn new() -> TestSite {
        let dir = tempfile::tempdir().unwrap();
        let app = std::sync::Arc::new(App::open(&DataDir::create(dir.path()).unwrap()).unwrap());
        for body in [
            json!({"kind": "achievement", "title": "机器视觉缺陷检测系统", "summary": "基于深度学习的机器视觉表面缺陷检测", "region_codes": ["110106"], "industry_codes": ["C"], "trl": 6}),
            json!({"kind": "demand", "title": "产线视觉检测需求", "summary": "需要机器视觉检测零件表面缺陷", "region_codes": ["130100"], "desired_trl": 5}),
            json!({"kind": "scenario", "title": "智能工厂应用场景", "summary": "开放装配线用于机器视觉试点", "region_codes": ["120116"]}),
            json!({"kind": "enterprise", "title": "丰台精密制造有限公司", "summary": "精密零部件制造", "region_codes": ["110106"],
                   "sites": [{"region_code": "130600", "role": "manufacturing"}]}),
        ] {
            let body: ListingBody = serde_json::from_value(body).unwrap();
            app.store.create(validate(body, Reference::get()).unwrap()).unwrap();
        }
        app.sync_index().unwrap();
        let router = xietong_http::router(AppState::new(app.clone()));
        TestSite { router, app, _dir: dir }
    }

    async fn send(&self, request: Request<Body>) -> Page {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Page { status, headers, html: String::from_utf8_lossy(&bytes).into_owned() }
    }

    async fn get(&self, uri: &str) -> Page {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    async fn get_with_cookie(&self, uri: &str, cookie: &str) -> Page {
        self.send(Request::get(uri).header(header::COOKIE, cookie).body(Body::empty()).unwrap()).await
    }

    async fn post_form(&self, uri: &str, pairs: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(pairs).unwrap();
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    fn count(&self, kind: Kind) -> u64 {
        self.app.store.counts().unwrap().iter().filter(|c| c.kind == kind).map(|c| c.count).sum()
    }

    fn first_id(&self, kind: Kind) -> String {
        let filter = xietong_store::ListFilter { kind: Some(kind), ..Default::default() };
        self.app.store.list(&filter, 1, 0).unwrap().items[0].id.to_string()
    }
}

#[tokio::test]
async fn dashboard_renders_map_flow_and_counts() {
    let site = TestSite::new();
    let page = site.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(page.html.contains(r#"<html lang="zh-CN">"#));
    assert!(page.html.contains(r#"id="region-map""#) && page.html.contains(r#"id="flow-chart""#));
    assert!(page.html.matches(r#"class="region""#).count() >= 13);
    assert!(page.html.contains("<main") && page.html.contains("<h1>") && page.html.contains("<footer"));
    assert!(page.html.contains("检索"));
}

#[tokio::test]
async fn unknown_listing_is_a_404_page() {
    let site = TestSite::new();
    for uri in ["/listings/0190d7d4-0000-7000-8000-000000000000", "/listings/not-an-id"] {
        let page = site.get(uri).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(page.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
        assert!(page.html.contains("未找到页面"), "{}", page.html);
    }
}

#[tokio::test]
async fn lang_query_sets_cookie_and_cookie_is_honoured() {
    let site = TestSite::new();
    let page = site.get("/search?lang=en").await;
    let cookie = page.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("lang=en;") && cookie.contains("Path=/"), "{cookie}");
    assert!(page.html.contains(r#"<html lang="en">"#) && page.html.contains(">Search</a>"));
    let next = site.get_with_cookie("/", "lang=en").await;
    assert!(next.headers.get(header::SET_COOKIE).is_none());
    assert!(next.html.contains("Dashboard") && !next.html.contains(">检索</a>"));
    let switch_back = site.get_with_cookie("/?lang=zh", "lang=en").await;
    assert!(switch_back.html.contains(">检索</a>"));
}

#[tokio::test]
async fn search_highlights_filters_and_has_an_empty_state() {
    let site = TestSite::new();
    let page = site.get("/search?q=%E6%9C%BA%E5%99%A8%E8%A7%86%E8%A7%89").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("<mark>"), "highlighted snippets expected");
    assert!(page.html.contains(r#"data-total="3""#), "three listings mention 机器视觉");
    let hebei = site.get("/search?q=%E6%9C%BA%E5%99%A8%E8%A7%86%E8%A7%89&region=130000").await;
    assert!(hebei.html.contains(r#"data-total="1""#));
    let none = site.get("/search?q=zzzqqqxxyy").await;
    assert!(none.html.contains("没有找到") && none.html.contains(r#"id="empty-state""#));
    let bad = site.get("/search?trl_min=12").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.html.contains("筛选条件无效"));
}

#[tokio::test]
async fn user_text_is_escaped() {
    let site = TestSite::new();
    let page = site.get("/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert!(!page.html.contains("<script>alert(1)"));
    assert!(page.html.contains("&lt;script&gt;alert(1)"));
}

#[tokio::test]
async fn listing_page_shows_fields_and_explained_matches() {
    let site = TestSite::new();
    let id = site.first_id(Kind::Achievement);
    let page = site.get(&format!("/listings/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("北京市 · 丰台区"), "region names, not codes");
    assert!(page.html.contains("TRL 6"));
    assert!(page.html.contains("推荐对接"));
    assert!(page.html.contains(r#"class="reasons""#), "explained matches expected:\n{}", page.html);
}

#[tokio::test]
async fn invalid_uscc_rerenders_the_form_with_the_error_next_to_the_field() {
    let site = TestSite::new();
    let before = site.count(Kind::Enterprise);
    let page = site
        .post_form(
            "/listings/new",
            &[
                ("kind", "enterprise"),
                ("title", "测试企业"),
                ("summary", "做传感器"),
                ("region_codes", "110106"),
                ("uscc", "91350100M000100Y44"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.html.contains(r#"aria-describedby="f-uscc-hint f-uscc-error""#), "{}", page.html);
    assert!(page.html.contains(r#"<p class="field-error" id="f-uscc-error">统一社会信用代码无效"#));
    assert!(page.html.contains(r#"value="91350100M000100Y44""#), "input kept");
    assert_eq!(site.count(Kind::Enterprise), before, "nothing created");

    let english = site
        .post_form(
            "/listings/new?lang=en",
            &[
                ("kind", "enterprise"),
                ("title", "x"),
                ("summary", "y"),
                ("region_codes", "110106"),
                ("uscc", "91350100M000100Y44"),
            ],
        )
        .await;
    assert!(english.html.contains("invalid unified social credit code"));
}

#[tokio::test]
async fn publishing_redirects_to_the_new_listing_and_edit_checks_the_version() {
    let site = TestSite::new();
    let before = site.count(Kind::Demand);
    let page = site
        .post_form(
            "/listings/new",
            &[
                ("kind", "demand"),
                ("title", "无人机巡检算法需求"),
                ("summary", "寻找输电线路无人机巡检图像识别算法"),
                ("region_codes", "130600"),
                ("region_codes", "110106"),
                ("keywords", "无人机；巡检\n图像识别"),
                ("desired_trl", "6"),
                ("budget", "80"),
                ("deadline", "2026-12-31"),
                ("status", "published"),
                ("visibility", "public"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let location = page.headers[header::LOCATION].to_str().unwrap().to_string();
    assert_eq!(site.count(Kind::Demand), before + 1);
    let detail = site.get(&location).await;
    assert!(detail.html.contains("无人机巡检算法需求") && detail.html.contains("图像识别"));

    let edit = site.get(&format!("{location}/edit")).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.html.contains(r#"name="version" value="1""#));
    assert!(edit.html.contains(r#"<option value="130600" selected>"#));
    let stale = site
        .post_form(
            &format!("{location}/edit"),
            &[
                ("kind", "demand"),
                ("version", "0"),
                ("title", "改过的标题"),
                ("summary", "s"),
                ("region_codes", "130600"),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.html.contains("版本冲突") && stale.html.contains("改过的标题"));
    let saved = site
        .post_form(
            &format!("{location}/edit"),
            &[
                ("kind", "demand"),
                ("version", "1"),
                ("title", "改过的标题"),
                ("summary", "s"),
                ("region_codes", "130600"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    assert!(site.get(&location).await.html.contains("改过的标题"));
}

#[tokio::test]
async fn forms_exist_for_every_kind_with_labelled_controls() {
    let site = TestSite::new();
    for kind in Kind::ALL {
        let page = site.get(&format!("/listings/new?kind={}", kind.as_str())).await;
        assert_eq!(page.status, StatusCode::OK, "{kind}");
        for id in ["f-title", "f-summary", "f-region-codes"] {
            assert!(page.html.contains(&format!(r#"<label for="{id}">"#)), "{kind}: label for {id}");
        }
    }
}

#[tokio::test]
async fn assets_are_served_from_the_binary() {
    let site = TestSite::new();
    for (uri, content_type) in [
        ("/assets/web/app.css", "text/css"),
        ("/assets/web/app.js", "text/javascript"),
        ("/assets/web/logo.svg", "image/svg+xml"),
    ] {
        let page = site.get(uri).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}");
        assert!(page.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with(content_type));
    }
}

#[tokio::test]
async fn transfer_page_imports_an_upload_and_reports_rejected_rows() {
    let site = TestSite::new();
    let page = site.get("/transfer").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("/api/v1/templates/achievement?format=xlsx"));
    assert!(page.html.contains(r#"enctype="multipart/form-data""#));
    let before =
        site.app.store.counts().unwrap().iter().filter(|c| c.kind == Kind::Talent).map(|c| c.count).sum::<u64>();
    let csv = "title,summary,region_codes\n周末工程师王某,擅长伺服控制调试,110106\n,缺少标题的一行,110106\n";
    let boundary = "XTBOUNDARY";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\ntalent\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"talents.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    let request = Request::post("/transfer/import")
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .unwrap();
    let page = site.send(request).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("id=\"import-summary\""));
    assert!(page.html.contains("<strong>1</strong> 条已导入"), "{}", page.html);
    assert!(
        page.html.contains("<td>2</td><td>title</td>"),
        "row 2 is reported against the title column: {}",
        page.html
    );
    let after =
        site.app.store.counts().unwrap().iter().filter(|c| c.kind == Kind::Talent).map(|c| c.count).sum::<u64>();
    assert_eq!(after, before + 1);
    let search = site.get("/search?q=%E4%BC%BA%E6%9C%8D&kind=talent").await;
    assert!(search.html.contains("周末工程师王某"));
    assert!(search.html.contains("id=\"export-csv\""), "a search with a kind offers an export");
}
