//! Web pages in process (no browser): status codes, the language cookie, form errors, the
//! publish round trip, logging in and out, CSRF, and what each viewer may see, on a small store
//! with the demo accounts (password `xietong-demo`).

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

/// A logged-in browser: the session cookie (`xt_session=…`) and its CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

const DEMO_PASSWORD: &str = "xietong-demo";
/// Title of `talent_1`'s demo profile (visible to registered users).
const TALENT_TITLE: &str = "王晓明 — 机器视觉算法工程师";
/// Title of `ent_a`'s draft demand.
const DRAFT_TITLE: &str = "视觉检测产线升级需求（草稿）";
/// The Fengtai enterprise (it becomes `ent_a`'s organisation) and its contact phone.
const FENGTAI_FIRM: &str = "丰台精密制造有限公司";
const FENGTAI_PHONE: &str = "13800138000";

struct Page {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    html: String,
}

impl TestSite {
    fn new() -> TestSite {
        let dir = tempfile::tempdir().unwrap();
        let app = std::sync::Arc::new(App::open(&DataDir::create(dir.path()).unwrap()).unwrap());
        let mut bodies = Vec::new();
        for body in [
            json!({"kind": "achievement", "title": "机器视觉缺陷检测系统", "summary": "基于深度学习的机器视觉表面缺陷检测", "region_codes": ["110106"], "industry_codes": ["C"], "trl": 6}),
            json!({"kind": "demand", "title": "产线视觉检测需求", "summary": "需要机器视觉检测零件表面缺陷", "region_codes": ["130100"], "desired_trl": 5}),
            json!({"kind": "scenario", "title": "智能工厂应用场景", "summary": "开放装配线用于机器视觉试点", "region_codes": ["120116"]}),
            json!({"kind": "enterprise", "title": FENGTAI_FIRM, "summary": "精密零部件制造", "region_codes": ["110106"],
                   "owner_org": FENGTAI_FIRM, "contact": {"name": "李工", "phone": FENGTAI_PHONE},
                   "sites": [{"region_code": "110106", "role": "hq"}, {"region_code": "130600", "role": "manufacturing"}]}),
            json!({"kind": "enterprise", "title": "保定智造科技有限公司", "summary": "智能装备", "region_codes": ["130600"],
                   "owner_org": "保定智造科技有限公司",
                   "sites": [{"region_code": "130600", "role": "hq"}, {"region_code": "110106", "role": "r_and_d"}]}),
        ] {
            let body: ListingBody = serde_json::from_value(body).unwrap();
            bodies.push(body.clone());
            app.store().create(validate(body, Reference::get()).unwrap()).unwrap();
        }
        app.sync_index().unwrap();
        // The demo accounts, owning the enterprises above, plus their showcase listings.
        xietong_app::demo_accounts::ensure(&app, &bodies).unwrap();
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

    /// Logs in through the API and returns the session cookie and CSRF token.
    async fn login(&self, username: &str) -> Session {
        let request = Request::post("/api/v1/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"username": username, "password": DEMO_PASSWORD}).to_string()))
            .unwrap();
        let page = self.send(request).await;
        assert_eq!(page.status, StatusCode::OK, "login of {username}: {}", page.html);
        let set_cookie = page.headers[header::SET_COOKIE].to_str().unwrap();
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        let me: serde_json::Value = serde_json::from_str(&page.html).unwrap();
        Session { cookie, csrf: me["csrf_token"].as_str().unwrap().to_string() }
    }

    async fn get_as(&self, uri: &str, session: &Session) -> Page {
        self.get_with_cookie(uri, &session.cookie).await
    }

    /// Posts a form with the session cookie and, as every page's form does, its CSRF token.
    async fn post_form_as(&self, uri: &str, session: &Session, pairs: &[(&str, &str)]) -> Page {
        let mut pairs = pairs.to_vec();
        pairs.push(("_csrf", &session.csrf));
        self.post_form_with_cookie(uri, &session.cookie, &pairs).await
    }

    async fn post_form_with_cookie(&self, uri: &str, cookie: &str, pairs: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(pairs).unwrap();
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie)
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    /// The id of the listing with this title, whatever its status or visibility.
    fn id_of(&self, title: &str) -> String {
        let page = self.app.store().list(&xietong_store::ListFilter::default(), 200, 0).unwrap();
        page.items
            .iter()
            .find(|l| l.body.title == title)
            .unwrap_or_else(|| panic!("no listing {title:?}"))
            .id
            .to_string()
    }

    fn count(&self, kind: Kind) -> u64 {
        self.app.store().counts().unwrap().iter().filter(|c| c.kind == kind).map(|c| c.count).sum()
    }

    fn first_id(&self, kind: Kind) -> String {
        let filter = xietong_store::ListFilter { kind: Some(kind), ..Default::default() };
        self.app.store().list(&filter, 1, 0).unwrap().items[0].id.to_string()
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
    // Each match shows its fit score (0–100) with explained parts, and a way to get in touch.
    let matches = page.html.matches(r#"<li class="match""#).count();
    assert!(matches >= 1);
    assert_eq!(page.html.matches(r#"<tr data-part="relevance">"#).count(), matches, "a relevance part per match");
    assert_eq!(page.html.matches("登录后发起对接").count(), matches, "a visitor is asked to log in first");
    // The "更多" link of a kind shows more of that kind; it is only offered when there are more.
    let more = site.get(&format!("/listings/{id}?more=demand#m-demand")).await;
    assert_eq!(more.status, StatusCode::OK);
    assert!(more.html.matches(r#"<li class="match""#).count() >= matches);
}

#[tokio::test]
async fn invalid_uscc_rerenders_the_form_with_the_error_next_to_the_field() {
    let site = TestSite::new();
    let ent_a = site.login("ent_a").await;
    let before = site.count(Kind::Enterprise);
    let page = site
        .post_form_as(
            "/listings/new",
            &ent_a,
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
        .post_form_as(
            "/listings/new?lang=en",
            &ent_a,
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
    let ent_a = site.login("ent_a").await;
    let before = site.count(Kind::Demand);
    let page = site
        .post_form_as(
            "/listings/new",
            &ent_a,
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
    assert!(!detail.html.contains(r#"id="edit-link""#), "visitors get no edit link");
    assert!(site.get_as(&location, &ent_a).await.html.contains(r#"id="edit-link""#));
    let stored = site.app.store().get(location.trim_start_matches("/listings/").parse().unwrap()).unwrap();
    assert_eq!(stored.body.owner_org.as_deref(), Some(FENGTAI_FIRM), "owned by ent_a's organisation");

    let edit = site.get_as(&format!("{location}/edit"), &ent_a).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.html.contains(r#"name="version" value="1""#));
    assert!(edit.html.contains(r#"<option value="130600" selected>"#));
    assert!(edit.html.contains(&format!(r#"name="_csrf" value="{}""#, ent_a.csrf)), "the form carries the CSRF token");
    assert!(edit.html.contains(r#"value="丰台精密制造有限公司" readonly"#), "the owner is shown read-only");
    let stale = site
        .post_form_as(
            &format!("{location}/edit"),
            &ent_a,
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
        .post_form_as(
            &format!("{location}/edit"),
            &ent_a,
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
    let ent_a = site.login("ent_a").await;
    for kind in Kind::ALL {
        let page = site.get_as(&format!("/listings/new?kind={}", kind.as_str()), &ent_a).await;
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
    let anonymous = site.get("/transfer").await;
    assert_eq!(anonymous.status, StatusCode::OK);
    assert!(anonymous.html.contains("/api/v1/templates/achievement?format=xlsx"));
    assert!(anonymous.html.contains(r#"id="import-login""#), "visitors are asked to log in");
    assert!(!anonymous.html.contains(r#"enctype="multipart/form-data""#));
    let ent_a = site.login("ent_a").await;
    let page = site.get_as("/transfer", &ent_a).await;
    assert!(page.html.contains(r#"enctype="multipart/form-data""#));
    let action = format!("/transfer/import?_csrf={}", ent_a.csrf);
    assert!(page.html.contains(&format!(r#"action="{action}""#)), "the upload carries the CSRF token in its address");
    let before =
        site.app.store().counts().unwrap().iter().filter(|c| c.kind == Kind::Talent).map(|c| c.count).sum::<u64>();
    let csv = "title,summary,region_codes\n周末工程师王某,擅长伺服控制调试,110106\n,缺少标题的一行,110106\n";
    let boundary = "XTBOUNDARY";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\ntalent\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"talents.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    let request = Request::post(action.as_str())
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .header(header::COOKIE, &ent_a.cookie)
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
        site.app.store().counts().unwrap().iter().filter(|c| c.kind == Kind::Talent).map(|c| c.count).sum::<u64>();
    assert_eq!(after, before + 1);
    let search = site.get("/search?q=%E4%BC%BA%E6%9C%8D&kind=talent").await;
    assert!(search.html.contains("周末工程师王某"));
    assert!(search.html.contains("id=\"export-csv\""), "a search with a kind offers an export");
}

fn set_cookies(page: &Page) -> Vec<String> {
    page.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

/// The number on the dashboard's card of one kind.
fn card_count(html: &str, kind: &str) -> u64 {
    let marker = format!(r#"data-kind="{kind}">"#);
    let start = html.find(&format!(r#"class="card-count" {marker}"#)).expect("card of the kind")
        + r#"class="card-count" "#.len()
        + marker.len();
    html[start..].split('<').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn login_page_renders_with_the_demo_hint() {
    let site = TestSite::new();
    let page = site.get("/login?next=%2Faccount").await;
    assert_eq!(page.status, StatusCode::OK);
    for id in ["login-username", "login-password"] {
        assert!(page.html.contains(&format!(r#"<label for="{id}">"#)), "labelled {id}");
    }
    assert!(page.html.contains(r#"name="next" value="/account""#), "{}", page.html);
    assert!(page.html.contains("演示账户密码 xietong-demo"));
    let english = site.get("/login?lang=en").await;
    assert!(english.html.contains(">Log in</button>") && english.html.contains("Password"));
    // Every page offers the login, coming back to where the visitor was.
    let search = site.get("/search?q=a").await;
    assert!(search.html.contains(r#"href="/login?next=%2Fsearch%3Fq%3Da""#), "login link with next");
}

#[tokio::test]
async fn wrong_password_shows_the_error_and_sets_no_cookie() {
    let site = TestSite::new();
    let page = site.post_form("/login", &[("username", "ent_a"), ("password", "wrong"), ("next", "/account")]).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.html.contains(r#"id="login-error""#) && page.html.contains("用户名或密码错误"), "{}", page.html);
    assert!(page.html.contains(r#"name="username" value="ent_a""#), "the username is kept");
    assert!(set_cookies(&page).iter().all(|c| !c.starts_with("xt_session=")), "{:?}", set_cookies(&page));
}

#[tokio::test]
async fn login_sets_a_session_cookie_and_goes_to_next() {
    let site = TestSite::new();
    let page = site
        .post_form(
            "/login",
            &[("username", "ent_a"), ("password", DEMO_PASSWORD), ("next", "/listings/new?kind=demand")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(page.headers[header::LOCATION], "/listings/new?kind=demand");
    let cookie = set_cookies(&page).into_iter().find(|c| c.starts_with("xt_session=")).expect("session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
    let session_cookie = cookie.split(';').next().unwrap().to_string();

    let account = site.get_with_cookie("/account", &session_cookie).await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.html.contains("企业A成员") && account.html.contains("机构成员"), "name and role in the header");
    assert!(account.html.contains(FENGTAI_FIRM), "the organisation");
    assert!(account.html.contains(r#"href="/api/v1/me/export""#));
    assert!(account.html.contains("/api/v1/tokens"), "says how tokens are made");
    assert!(account.html.contains(DRAFT_TITLE), "the organisation's own listings, drafts included");
    assert!(account.html.contains(r#"action="/logout""#) && account.html.contains(r#"name="_csrf""#));

    for hostile in ["//evil.example", "https://evil.example/x", "/\\evil.example"] {
        let page =
            site.post_form("/login", &[("username", "ent_b"), ("password", DEMO_PASSWORD), ("next", hostile)]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.headers[header::LOCATION], "/", "{hostile} must not be followed");
    }
}

#[tokio::test]
async fn logout_ends_the_session() {
    let site = TestSite::new();
    let ent_a = site.login("ent_a").await;
    let page = site.post_form_as("/logout", &ent_a, &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers[header::LOCATION], "/");
    assert!(set_cookies(&page).iter().any(|c| c.starts_with("xt_session=;") && c.contains("Max-Age=0")));
    let account = site.get_as("/account", &ent_a).await;
    assert!(account.status.is_redirection(), "the old cookie no longer logs in");
    assert!(account.headers[header::LOCATION].to_str().unwrap().starts_with("/login?next="));
}

#[tokio::test]
async fn form_posts_need_the_csrf_token() {
    let site = TestSite::new();
    let ent_a = site.login("ent_a").await;
    let before = site.count(Kind::Demand);
    let fields =
        [("kind", "demand"), ("title", "跨站请求伪造测试"), ("summary", "不应被保存"), ("region_codes", "110106")];
    let missing = site.post_form_with_cookie("/listings/new", &ent_a.cookie, &fields).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN, "{}", missing.html);
    let mut wrong = fields.to_vec();
    wrong.push(("_csrf", "0000"));
    let wrong = site.post_form_with_cookie("/listings/new", &ent_a.cookie, &wrong).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(site.count(Kind::Demand), before, "nothing stored");
    // Visitors cannot post at all.
    let anonymous = site.post_form("/listings/new", &fields).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(site.count(Kind::Demand), before);
    let created = site.post_form_as("/listings/new", &ent_a, &fields).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.html);
    assert_eq!(site.count(Kind::Demand), before + 1);
}

#[tokio::test]
async fn contacts_are_masked_until_the_owner_agrees() {
    let site = TestSite::new();
    // A public enterprise: visitors see the phone masked, its own organisation in full.
    let firm = format!("/listings/{}", site.id_of(FENGTAI_FIRM));
    let anonymous = site.get(&firm).await;
    assert_eq!(anonymous.status, StatusCode::OK);
    assert!(anonymous.html.contains("138****8000") && !anonymous.html.contains(FENGTAI_PHONE));
    assert!(anonymous.html.contains(r#"data-state="anonymous""#));
    let ent_a = site.login("ent_a").await;
    assert!(site.get_as(&firm, &ent_a).await.html.contains(FENGTAI_PHONE));

    // The talent profile is for registered users: visitors get the 404 page.
    let talent = format!("/listings/{}", site.id_of(TALENT_TITLE));
    assert_eq!(site.get(&talent).await.status, StatusCode::NOT_FOUND);
    let ent_b = site.login("ent_b").await;
    let masked = site.get_as(&talent, &ent_b).await;
    assert_eq!(masked.status, StatusCode::OK);
    assert!(masked.html.contains("139****5678") && !masked.html.contains("13912345678"), "{}", masked.html);
    assert!(masked.html.contains(r#"id="contact-request-form""#) && masked.html.contains("申请查看联系方式"));
    assert!(!masked.html.contains(r#"id="edit-link""#));
    let talent_1 = site.login("talent_1").await;
    let own = site.get_as(&talent, &talent_1).await;
    assert!(own.html.contains("13912345678") && own.html.contains(r#"id="edit-link""#));

    // ent_b asks; talent_1 accepts on the account page; ent_b now sees the phone.
    let asked = site
        .post_form_as(&format!("{talent}/contact-request"), &ent_b, &[("message", "想请您到保定工厂做视觉检测")])
        .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.html);
    assert_eq!(asked.headers[header::LOCATION].to_str().unwrap(), format!("{talent}?requested=1"));
    let waiting = site.get_as(&format!("{talent}?requested=1"), &ent_b).await;
    assert!(waiting.html.contains(r#"id="request-sent""#) && waiting.html.contains(r#"data-state="pending""#));
    assert!(!waiting.html.contains(r#"id="contact-request-form""#), "no second request while one is pending");
    let account = site.get_as("/account", &talent_1).await;
    assert!(account.html.contains("想请您到保定工厂做视觉检测"), "{}", account.html);
    let request_id =
        account.html.split(r#"id="accept-"#).nth(1).and_then(|rest| rest.split('"').next()).expect("an accept button");
    let accepted =
        site.post_form_as(&format!("/account/requests/{request_id}"), &talent_1, &[("decision", "accept")]).await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{}", accepted.html);
    assert_eq!(accepted.headers[header::LOCATION], "/account");
    let granted = site.get_as(&talent, &ent_b).await;
    assert!(granted.html.contains("13912345678") && granted.html.contains(r#"data-state="granted""#));
    let sent = site.get_as("/account", &ent_b).await;
    assert!(sent.html.contains(TALENT_TITLE) && sent.html.contains("已同意"), "the sent request and its state");
}

#[tokio::test]
async fn drafts_are_invisible_outside_their_organisation() {
    let site = TestSite::new();
    let draft = format!("/listings/{}", site.id_of(DRAFT_TITLE));
    let ent_b = site.login("ent_b").await;
    let ent_a = site.login("ent_a").await;
    for uri in [draft.clone(), format!("{draft}/edit")] {
        let page = site.get_as(&uri, &ent_b).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(page.html.contains("未找到页面"));
        assert_eq!(site.get_as(&uri, &ent_a).await.status, StatusCode::OK, "{uri}");
    }
    assert_eq!(site.get(&draft).await.status, StatusCode::NOT_FOUND);
    let own = site.get_as(&draft, &ent_a).await;
    assert!(own.html.contains(r#"id="listing-status""#) && own.html.contains("草稿"), "the status is shown");
    assert!(own.html.contains("公开"), "and the visibility");
    // Visitors asking for an edit page are sent to the login first.
    let anonymous_edit = site.get(&format!("{draft}/edit")).await;
    assert!(anonymous_edit.status.is_redirection());
    assert!(anonymous_edit.headers[header::LOCATION].to_str().unwrap().starts_with("/login?next="));
    // ent_b may read ent_a's public enterprise but not change it.
    let firm = format!("/listings/{}/edit", site.id_of(FENGTAI_FIRM));
    let refused = site.get_as(&firm, &ent_b).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    let attempt = site
        .post_form_as(
            &firm,
            &ent_b,
            &[
                ("kind", "enterprise"),
                ("version", "1"),
                ("title", "改名"),
                ("summary", "s"),
                ("region_codes", "110106"),
            ],
        )
        .await;
    assert_eq!(attempt.status, StatusCode::FORBIDDEN);
    assert!(site.get(&firm.replace("/edit", "")).await.html.contains(FENGTAI_FIRM), "unchanged");
}

#[tokio::test]
async fn dashboard_counts_only_what_the_viewer_may_read() {
    let site = TestSite::new();
    // Published demands: the public fixture for everyone; ent_a also reads its region-only and
    // organisation-only showcase demands (its draft is not published).
    let anonymous = site.get("/").await;
    assert_eq!(card_count(&anonymous.html, "demand"), 1, "{}", anonymous.html);
    assert!(!anonymous.html.contains("内部立项"), "no organisation-only demand among the latest");
    let ent_a = site.login("ent_a").await;
    let own = site.get_as("/", &ent_a).await;
    assert_eq!(card_count(&own.html, "demand"), 3);
    assert!(own.html.contains("内部立项：下一代视觉检测平台"));
    assert_eq!(card_count(&site.get("/").await.html, "demand"), 1, "cached per viewer");

    let overview = site.get("/api/v1/stats/overview").await;
    let overview: serde_json::Value = serde_json::from_str(&overview.html).unwrap();
    let demands = |o: &serde_json::Value| {
        o["kinds"].as_array().unwrap().iter().find(|k| k["kind"] == "demand").unwrap()["count"].clone()
    };
    assert_eq!(demands(&overview), 1);
    let as_ent_a = site.get_as("/api/v1/stats/overview", &ent_a).await;
    let as_ent_a: serde_json::Value = serde_json::from_str(&as_ent_a.html).unwrap();
    assert_eq!(demands(&as_ent_a), 3);
    // Every enterprise is public, so the flows equal those of every published enterprise.
    let (flows, fengtai) = xietong_app::stats::flows(&site.app.store().site_links().unwrap());
    assert_eq!(overview["flows"], serde_json::to_value(&flows).unwrap());
    assert_eq!(overview["fengtai"], serde_json::to_value(&fengtai).unwrap());
    assert_eq!(overview["fengtai"]["fengtai_firms_with_jinji_branches"], 1);
    assert_eq!(overview["fengtai"]["jinji_firms_with_fengtai_sites"], 1);
}

/// Stores a listing awaiting review in Fengtai and returns its id.
fn pending_fengtai(site: &TestSite, title: &str) -> String {
    let body: ListingBody = serde_json::from_value(json!({
        "kind": "demand", "title": title, "summary": "等待区域运营审核", "region_codes": ["110106"],
        "owner_org": FENGTAI_FIRM, "status": "pending",
    }))
    .unwrap();
    let listing = site.app.store().create(validate(body, Reference::get()).unwrap()).unwrap();
    site.app.sync_index().unwrap();
    listing.id.to_string()
}

fn status_of(site: &TestSite, id: &str) -> xietong_domain::Status {
    site.app.store().get(id.parse().unwrap()).unwrap().body.status
}

#[tokio::test]
async fn operators_review_on_the_account_page_and_read_the_audit_trail() {
    let site = TestSite::new();
    let rejected = pending_fengtai(&site, "待审核的检测需求一");
    let approved = pending_fengtai(&site, "待审核的检测需求二");
    let ops = site.login("fengtai_ops").await;

    let account = site.get_as("/account", &ops).await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.html.contains("待审核的检测需求一"), "{}", account.html);
    assert!(account.html.contains(&format!(r#"action="/listings/{rejected}/review""#)));
    assert!(account.html.contains(&format!(r#"id="reject-{rejected}""#)) && account.html.contains("驳回"));
    assert!(!account.html.contains("POST /api/v1/listings/{id}/review"), "no API-only hint any more");
    assert!(account.html.contains(r#"href="/audit""#), "the header links the audit trail for operators");

    // Rejecting without a reason: the account page again, with what to do; nothing changes.
    let review = format!("/listings/{rejected}/review");
    let refused = site.post_form_as(&review, &ops, &[("decision", "reject"), ("reason", "  ")]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(refused.html.contains(r#"id="review-error""#) && refused.html.contains("请填写理由"), "{}", refused.html);
    assert_eq!(status_of(&site, &rejected), xietong_domain::Status::Pending);

    let done = site.post_form_as(&review, &ops, &[("decision", "reject"), ("reason", "联系方式不完整")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(done.headers[header::LOCATION], "/account");
    assert_eq!(status_of(&site, &rejected), xietong_domain::Status::Rejected);
    let again = site.post_form_as(&review, &ops, &[("decision", "approve")]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "decided once only");

    let published = site
        .post_form_as(&format!("/listings/{approved}/review"), &ops, &[("decision", "approve"), ("reason", "")])
        .await;
    assert_eq!(published.status, StatusCode::SEE_OTHER, "{}", published.html);
    assert_eq!(status_of(&site, &approved), xietong_domain::Status::Published);

    let filter = xietong_store::AuditFilter { action_prefix: Some("review.reject".into()), ..Default::default() };
    let (entries, _) = site.app.accounts().audit_entries(&filter, 10, 0).unwrap();
    assert!(entries.iter().any(|e| e.target == rejected && e.actor == "fengtai_ops"), "{entries:?}");

    // A Hebei listing created by ent_b: in the admin's trail, not in Fengtai's.
    let ent_b = site.login("ent_b").await;
    let created = site
        .post_form_as(
            "/listings/new",
            &ent_b,
            &[("kind", "demand"), ("title", "保定产线改造需求"), ("summary", "河北的需求"), ("region_codes", "130600")],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.html);
    let hebei = created.headers[header::LOCATION].to_str().unwrap().trim_start_matches("/listings/").to_string();
    let hebei = hebei.split('?').next().unwrap().to_string();

    let audit = site.get_as("/audit", &ops).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.html);
    assert!(audit.html.contains("review.reject") && audit.html.contains(&format!(r#"href="/listings/{rejected}""#)));
    assert!(!audit.html.contains(&hebei), "Fengtai's operator sees no Hebei entry: {}", audit.html);
    assert!(audit.html.contains(r#"href="/api/v1/audit?format=csv""#), "the CSV export link");
    let filtered = site.get_as("/audit?action=review.&actor=fengtai_ops", &ops).await;
    assert!(filtered.html.contains("review.approve") && !filtered.html.contains("login."), "{}", filtered.html);
    assert!(filtered.html.contains("/api/v1/audit?format=csv&amp;action=review.&amp;actor=fengtai_ops"));
    let none = site.get_as("/audit?actor=nobody", &ops).await;
    assert!(none.html.contains(r#"id="audit-empty""#));
    let english = site.get_as("/audit?lang=en", &ops).await;
    assert!(english.html.contains("Audit trail") && english.html.contains("Export CSV"));

    let admin = site.login("admin").await;
    assert!(site.get_as("/audit?action=listing.create", &admin).await.html.contains(&hebei));

    let ent_a = site.login("ent_a").await;
    assert_eq!(site.get_as("/audit", &ent_a).await.status, StatusCode::FORBIDDEN);
    assert!(!site.get_as("/account", &ent_a).await.html.contains(r#"href="/audit""#), "no nav link for members");
}
