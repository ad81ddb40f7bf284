//! Browser tests in real Chromium (Debian's `chromium` and `chromium-driver`), driven over
//! WebDriver with fantoccini. One test runs every scenario in sequence, so the demo data (about
//! 10,000 listings) is loaded once. Screenshots go to `target/screenshots/`; set
//! `XT_UPDATE_DOC_SCREENSHOTS=1` to also copy the dashboard and a listing to `docs/screenshots/`.

use std::time::{Duration, Instant};

use crate::support::{Browser, DemoServer};
use fantoccini::{Client, Locator};

/// Password of the demo accounts.
const DEMO_PASSWORD: &str = "xietong-demo";

#[test]
fn web_pages_work_in_chromium() {
    let started = Instant::now();
    let browser = Browser::start();
    let server = DemoServer::start();
    eprintln!("browser: demo server and chromedriver up in {:.1}s", started.elapsed().as_secs_f64());
    server.runtime.block_on(async {
        let client = browser.connect().await;
        let result = run_scenarios(&client, &server).await;
        let _ = client.close().await;
        result
    });
    eprintln!("browser: all scenarios passed in {:.1}s", started.elapsed().as_secs_f64());
}

async fn run_scenarios(client: &Client, server: &DemoServer) {
    let base = server.base_url.clone();
    let step = Instant::now();
    dashboard_shows_map_and_flows(client, &base).await;
    eprintln!("browser: dashboard ok ({} ms)", step.elapsed().as_millis());
    let step = Instant::now();
    let listing_url = search_narrows_by_region(client, &base).await;
    eprintln!("browser: search ok ({} ms)", step.elapsed().as_millis());
    let step = Instant::now();
    listing_shows_explained_matches(client, &listing_url).await;
    eprintln!("browser: listing ok ({} ms)", step.elapsed().as_millis());
    let step = Instant::now();
    publishing_asks_for_a_login_first(client, &base).await;
    eprintln!("browser: login ok ({} ms)", step.elapsed().as_millis());
    let step = Instant::now();
    invalid_uscc_is_shown_next_to_the_field(client, server).await;
    eprintln!("browser: form ok ({} ms)", step.elapsed().as_millis());
    let step = Instant::now();
    booking_from_the_facility_page_shows_on_the_account_page(client, server).await;
    eprintln!("browser: booking ok ({} ms)", step.elapsed().as_millis());
    let step = Instant::now();
    language_switch_changes_and_persists(client, &base).await;
    eprintln!("browser: language ok ({} ms)", step.elapsed().as_millis());
    let step = Instant::now();
    phone_width_has_no_horizontal_scroll(client, &base).await;
    eprintln!("browser: phone width ok ({} ms)", step.elapsed().as_millis());
    let step = Instant::now();
    challenge_pages_show_results_and_the_control_panel(client, server).await;
    eprintln!("browser: challenges ok ({} ms)", step.elapsed().as_millis());
    let step = Instant::now();
    logging_out_ends_the_session(client, &base).await;
    eprintln!("browser: logout ok ({} ms)", step.elapsed().as_millis());
}

async fn count(client: &Client, css: &str) -> usize {
    client.find_all(Locator::Css(css)).await.map(|v| v.len()).unwrap_or(0)
}

async fn text_of(client: &Client, css: &str) -> String {
    let element = client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no element {css}: {e}"));
    element.text().await.unwrap()
}

async fn attr_of(client: &Client, css: &str, name: &str) -> Option<String> {
    let element = client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no element {css}: {e}"));
    element.attr(name).await.unwrap()
}

async fn wait_for(client: &Client, css: &str) {
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear: {e}"));
}

/// Waits until the address's query contains `needle`.
async fn wait_for_query(client: &Client, needle: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let url = client.current_url().await.unwrap();
        if url.query().unwrap_or("").contains(needle) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the address {url} never got {needle}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn dashboard_shows_map_and_flows(client: &Client, base: &str) {
    client.set_window_size(1280, 2300).await.unwrap();
    client.goto(&format!("{base}/?lang=zh")).await.unwrap();
    wait_for(client, "#region-map").await;
    let regions = count(client, "#region-map path.region").await;
    assert!(regions >= 13, "the map should draw Beijing, Tianjin and 11 Hebei prefectures, got {regions} paths");
    let bands = count(client, "#flow-chart path.band").await;
    assert!(bands >= 3, "the flow chart should have bands, got {bands}");
    let figures = text_of(client, "#fengtai-figures").await;
    for figure in ["455", "387", "415"] {
        assert!(figures.contains(figure), "Fengtai figure {figure} missing from {figures:?}");
    }
    let shaded: Vec<String> = {
        let mut fills = Vec::new();
        for path in client.find_all(Locator::Css("#region-map path.region")).await.unwrap() {
            fills.push(path.attr("fill").await.unwrap().unwrap_or_default());
        }
        fills
    };
    let distinct: std::collections::HashSet<&String> = shaded.iter().collect();
    assert!(distinct.len() >= 2, "regions should be shaded by density, got fills {shaded:?}");
    assert!(count(client, "#sector-chart rect.bar").await == 5, "five sectors expected");
    crate::support::screenshot(client, "dashboard").await;
}

async fn search_total(client: &Client) -> u64 {
    attr_of(client, "#result-total", "data-total").await.and_then(|t| t.parse().ok()).expect("a result total")
}

/// Returns the address of the first hit, for the listing scenario.
async fn search_narrows_by_region(client: &Client, base: &str) -> String {
    client.set_window_size(1280, 1600).await.unwrap();
    client.goto(&format!("{base}/search")).await.unwrap();
    let query = client.find(Locator::Css("#q")).await.unwrap();
    query.send_keys("机器视觉").await.unwrap();
    client.find(Locator::Css("#search-submit")).await.unwrap().click().await.unwrap();
    wait_for(client, "#hits .hit").await;
    let everywhere = search_total(client).await;
    assert!(everywhere > 0, "机器视觉 should find listings");
    let marks = count(client, "#hits mark").await;
    assert!(marks > 0, "snippets should highlight the query");
    let first_hit = attr_of(client, "#hits .hit-title a", "href").await.expect("hit link");
    crate::support::screenshot(client, "search").await;

    // Choosing a region submits the form (progressive JS); the filter lands in the URL.
    let region = client.find(Locator::Css("#region")).await.unwrap();
    region.select_by_value("130000").await.unwrap();
    wait_for_query(client, "region=130000").await;
    wait_for(client, "#result-total").await;
    let in_hebei = search_total(client).await;
    assert!(
        in_hebei > 0 && in_hebei < everywhere,
        "filtering by 河北省 should narrow {everywhere} results, got {in_hebei}"
    );
    let url = client.current_url().await.unwrap();
    assert!(
        url.as_str().contains("q=%E6%9C%BA%E5%99%A8%E8%A7%86%E8%A7%89") || url.as_str().contains("q=机器视觉"),
        "query kept in {url}"
    );
    for hit in client.find_all(Locator::Css("#hits .hit")).await.unwrap() {
        let regions = hit.attr("data-regions").await.unwrap().unwrap_or_default();
        assert!(regions.split(' ').any(|code| code.starts_with("13")), "hit outside Hebei: {regions}");
    }
    format!("{base}{first_hit}")
}

async fn listing_shows_explained_matches(client: &Client, url: &str) {
    client.set_window_size(1280, 2600).await.unwrap();
    client.goto(url).await.unwrap();
    wait_for(client, "#matches").await;
    let panels = count(client, "#matches .match-panel").await;
    assert!(panels >= 1, "a panel per complementary kind expected");
    let matches = count(client, "#matches li.match").await;
    assert!(matches >= 1, "matches expected on {url}");
    let reasons = text_of(client, "#matches li.match .reasons").await;
    assert!(!reasons.trim().is_empty(), "the best match should say why");
    let score = text_of(client, "#matches li.match .score").await;
    assert!(score.trim().parse::<f64>().is_ok(), "score shown, got {score:?}");
    assert!(count(client, "#matches li.match .score-parts tr").await >= 1, "score parts expected");
    crate::support::screenshot(client, "listing").await;
}

/// Opening the publish form as a visitor leads to the login page; logging in there as `ent_a`
/// comes back to the form.
async fn publishing_asks_for_a_login_first(client: &Client, base: &str) {
    client.set_window_size(1280, 1200).await.unwrap();
    client.goto(&format!("{base}/listings/new?kind=enterprise")).await.unwrap();
    wait_for(client, "#login-form").await;
    let url = client.current_url().await.unwrap();
    assert_eq!(url.path(), "/login", "visitors are sent to the login page, got {url}");
    let hint = text_of(client, "#demo-hint").await;
    assert!(hint.contains("xietong-demo"), "the demo password is shown, got {hint:?}");
    client.find(Locator::Css("#login-username")).await.unwrap().send_keys("ent_a").await.unwrap();
    client.find(Locator::Css("#login-password")).await.unwrap().send_keys("wrong-password").await.unwrap();
    client.find(Locator::Css("#login-submit")).await.unwrap().click().await.unwrap();
    wait_for(client, "#login-error").await;
    let error = text_of(client, "#login-error").await;
    assert!(error.contains("用户名或密码错误"), "a wrong password is explained, got {error:?}");
    client.find(Locator::Css("#login-password")).await.unwrap().send_keys(DEMO_PASSWORD).await.unwrap();
    client.find(Locator::Css("#login-submit")).await.unwrap().click().await.unwrap();
    wait_for(client, "#f-uscc").await;
    let url = client.current_url().await.unwrap();
    assert_eq!(url.path(), "/listings/new", "back to the form after logging in, got {url}");
    let user = text_of(client, "#user-name").await;
    assert!(user.contains("企业A成员"), "the header names the user, got {user:?}");
    crate::support::screenshot(client, "login-form").await;
}

/// The demo's awarded challenge shows its results with the winner (also at phone width); the
/// open one shows `ent_a` (logged in, the organiser) the control panel, whose reviewer form
/// appoints `uni_1`.
async fn challenge_pages_show_results_and_the_control_panel(client: &Client, server: &DemoServer) {
    use xietong_domain::challenge::Phase;
    let base = &server.base_url;
    let ent_a = server.app.accounts().user_by_name("ent_a").expect("users").expect("ent_a");
    let organiser = server.app.accounts().org(ent_a.org_id.expect("an organisation")).expect("orgs").expect("its org");
    let filter = xietong_app::types::ListFilter {
        kind: Some(xietong_domain::Kind::Challenge),
        owner_org: Some(organiser.name),
        ..Default::default()
    };
    let operator = xietong_app::Actor::operator();
    let demo = server.app.list_listings(&operator, filter, 200, 0).expect("challenges").items;
    let phases = server.app.challenge_phases(&demo).expect("phases");
    let of = |phase: Phase| phases.iter().find(|(_, p)| **p == phase).map(|(id, _)| *id).expect("a demo challenge");
    client.set_window_size(1280, 1800).await.unwrap();
    client.goto(&format!("{base}/challenges/{}", of(Phase::Awarded))).await.unwrap();
    wait_for(client, "#board").await;
    assert_eq!(attr_of(client, "#challenge-phase", "data-phase").await.as_deref(), Some("awarded"));
    assert_eq!(count(client, "#board tr.winner").await, 1, "one winner");
    let totals = count(client, "#board td.total").await;
    assert!(totals >= 3, "totals of every team, got {totals}");
    crate::support::screenshot(client, "challenge-results").await;
    client.set_window_size(375, 800).await.unwrap();
    let overflow = client
        .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![])
        .await
        .unwrap()
        .as_i64()
        .unwrap_or(0);
    assert!(overflow <= 1, "the results scroll sideways by {overflow}px at 375px");
    client.set_window_size(1280, 2400).await.unwrap();
    client.goto(&format!("{base}/challenges/{}", of(Phase::Open))).await.unwrap();
    wait_for(client, "#control-panel").await;
    assert_eq!(attr_of(client, "#challenge-standing", "data-standing").await.as_deref(), Some("organiser"));
    let form = client.find(Locator::Css(r#"form[data-action="appoint_reviewer"]"#)).await.unwrap();
    form.find(Locator::Css(r#"input[name="username"]"#)).await.unwrap().send_keys("uni_1").await.unwrap();
    form.find(Locator::Css("button")).await.unwrap().click().await.unwrap();
    wait_for(client, "#challenge-done").await;
    let reviewers = text_of(client, "#reviewers").await;
    assert!(reviewers.contains("uni_1"), "the new reviewer is listed, got {reviewers:?}");
    crate::support::screenshot(client, "challenge-control-panel").await;
}

async fn logging_out_ends_the_session(client: &Client, base: &str) {
    client.set_window_size(1280, 1000).await.unwrap();
    client.goto(&format!("{base}/account")).await.unwrap();
    wait_for(client, "#account-facts").await;
    client.find(Locator::Css("#logout-button")).await.unwrap().click().await.unwrap();
    wait_for(client, "#login-link").await;
    client.goto(&format!("{base}/account")).await.unwrap();
    wait_for(client, "#login-form").await;
}

async fn invalid_uscc_is_shown_next_to_the_field(client: &Client, server: &DemoServer) {
    client.set_window_size(1280, 1800).await.unwrap();
    let before = server.enterprise_count();
    client.goto(&format!("{}/listings/new?kind=enterprise", server.base_url)).await.unwrap();
    wait_for(client, "#f-uscc").await;
    client.find(Locator::Css("#f-title")).await.unwrap().send_keys("浏览器测试企业").await.unwrap();
    client.find(Locator::Css("#f-summary")).await.unwrap().send_keys("用于检查统一社会信用代码校验").await.unwrap();
    client
        .execute(r#"document.querySelector('#f-region-codes option[value="110106"]').selected = true;"#, vec![])
        .await
        .unwrap();
    client.find(Locator::Css("#f-uscc")).await.unwrap().send_keys("91350100M000100Y44").await.unwrap();
    client.find(Locator::Css("#form-submit")).await.unwrap().click().await.unwrap();
    wait_for(client, "#f-uscc-error").await;
    let message = text_of(client, "#f-uscc-error").await;
    assert!(message.contains("统一社会信用代码"), "USCC message expected, got {message:?}");
    let described_by = attr_of(client, "#f-uscc", "aria-describedby").await.unwrap_or_default();
    assert!(
        described_by.split(' ').any(|id| id == "f-uscc-error"),
        "the USCC input should point at its error, got {described_by:?}"
    );
    let next_to_field: bool = client
        .execute("return document.getElementById('f-uscc').parentElement === document.getElementById('f-uscc-error').parentElement;", vec![])
        .await
        .unwrap()
        .as_bool()
        .unwrap_or(false);
    assert!(next_to_field, "the error should sit in the USCC field's box");
    let kept = attr_of(client, "#f-uscc", "value").await.unwrap_or_default();
    assert_eq!(kept, "91350100M000100Y44", "the user's input is kept");
    let title_kept = attr_of(client, "#f-title", "value").await.unwrap_or_default();
    assert_eq!(title_kept, "浏览器测试企业");
    assert_eq!(server.enterprise_count(), before, "nothing may be created");
    crate::support::screenshot(client, "form-error").await;
}

async fn language_switch_changes_and_persists(client: &Client, base: &str) {
    client.set_window_size(1280, 1000).await.unwrap();
    client.goto(&format!("{base}/?lang=zh")).await.unwrap();
    let nav = text_of(client, "header nav").await;
    assert!(nav.contains("检索"), "Chinese nav expected, got {nav:?}");
    client.find(Locator::Css("#lang-switch")).await.unwrap().click().await.unwrap();
    wait_for_query(client, "lang=en").await;
    let nav = text_of(client, "header nav").await;
    assert!(nav.contains("Search") && !nav.contains("检索"), "English nav expected, got {nav:?}");
    // The next page, opened without ?lang=, stays English (cookie).
    client.goto(&format!("{base}/search?q=%E6%97%A0%E4%BA%BA%E6%9C%BA")).await.unwrap();
    let heading = text_of(client, "main h1").await;
    assert_eq!(heading, "Search");
    let nav = text_of(client, "header nav").await;
    assert!(nav.contains("Search"), "the language should persist, got {nav:?}");
    let lang = attr_of(client, "html", "lang").await.unwrap_or_default();
    assert_eq!(lang, "en");
    crate::support::screenshot(client, "search-en").await;
    // Back to Chinese for anything that follows.
    client.goto(&format!("{base}/?lang=zh")).await.unwrap();
}

async fn phone_width_has_no_horizontal_scroll(client: &Client, base: &str) {
    client.set_window_size(375, 800).await.unwrap();
    for path in ["/", "/search?q=%E6%9C%BA%E5%99%A8%E8%A7%86%E8%A7%89", "/listings/new?kind=enterprise"] {
        client.goto(&format!("{base}{path}")).await.unwrap();
        let overflow = client
            .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![])
            .await
            .unwrap()
            .as_i64()
            .unwrap_or(0);
        assert!(overflow <= 1, "{path} scrolls sideways by {overflow}px at 375px");
    }
    client.goto(&format!("{base}/")).await.unwrap();
    crate::support::screenshot(client, "dashboard-phone").await;
}

/// Logged in as `ent_a`: a demo pilot base booked by the day (no clearance needed) shows its
/// week of free capacity; the booking form sends a request for one day three weeks ahead, the
/// page confirms it and `/account` lists it as requested.
async fn booking_from_the_facility_page_shows_on_the_account_page(client: &Client, server: &DemoServer) {
    use xietong_domain::booking::Unit;
    client.set_window_size(1280, 1800).await.unwrap();
    let admin = xietong_app::Actor::operator();
    let facility = server
        .app
        .operated_facilities(&admin)
        .unwrap()
        .into_iter()
        .find(|facility| {
            let calendar = server.app.facility_calendar(&admin, facility.id).unwrap().expect("a calendar").calendar;
            calendar.unit != Unit::Hour && !calendar.requires_clearance && calendar.opening_hours.len() >= 5
        })
        .expect("the demo has a pilot base booked by the day without clearance");
    let mut day = time::OffsetDateTime::now_utc().date() + time::Duration::days(21);
    while day.weekday() != time::Weekday::Tuesday {
        day = day.next_day().unwrap();
    }
    client.goto(&format!("{}/listings/{}?week={day}#booking", server.base_url, facility.id)).await.unwrap();
    wait_for(client, "#week-view").await;
    let cell = format!(r#"#week-view td[data-start="{day}T00:00:00+08:00"]"#);
    let free: u32 = attr_of(client, &cell, "data-free").await.unwrap_or_default().parse().unwrap_or(0);
    assert!(free >= 1, "the Tuesday three weeks ahead has free capacity");
    client
        .execute(
            "document.querySelector('#booking-start').value = arguments[0]; document.querySelector('#booking-end').value = arguments[0];",
            vec![serde_json::json!(day.to_string())],
        )
        .await
        .unwrap();
    client.find(Locator::Css("#booking-purpose")).await.unwrap().send_keys("浏览器预约测试").await.unwrap();
    client.find(Locator::Css("#booking-submit")).await.unwrap().click().await.unwrap();
    wait_for(client, "#booking-sent").await;
    wait_for_query(client, &format!("week={}", day - time::Duration::days(1))).await;
    assert_eq!(attr_of(client, "#booking-sent", "data-state").await.as_deref(), Some("requested"));
    let after: u32 = attr_of(client, &cell, "data-free").await.unwrap_or_default().parse().unwrap_or(99);
    assert_eq!(after, free - 1, "the week view counts the new booking");
    crate::support::screenshot(client, "facility-booking").await;
    client.goto(&format!("{}/account", server.base_url)).await.unwrap();
    wait_for(client, "#bookings").await;
    let mut requested = Vec::new();
    for row in client.find_all(Locator::Css(r#"#bookings tr[data-state="requested"]"#)).await.unwrap() {
        requested.push(row.text().await.unwrap());
    }
    assert!(
        requested
            .iter()
            .any(|row| row.contains(&facility.body.title) && row.contains(&day.to_string()) && row.contains("待审批")),
        "the booking is on /account as requested: {requested:?}"
    );
}
