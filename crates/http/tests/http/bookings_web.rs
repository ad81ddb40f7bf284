//! Bookable facilities on the pages: the week view's free capacity, a booking posted through
//! the facility page's form, the refusal naming the first full slot, the operator's queue page
//! approving it, the booker's /account, vouchers issued from the account page and their ledger;
//! and matching's `free_window` reason and `fully_booked` mismatch on pilot-base matches.

use serde_json::{Value, json};

use crate::fixture::{Fixture, ORG_A, ORG_B, PASSWORD, Reply, Session, Who, form_request, with_cookie};

/// A Monday two years ahead.
fn monday() -> time::Date {
    let mut day = time::OffsetDateTime::now_utc().date() + time::Duration::days(730);
    while day.weekday() != time::Weekday::Monday {
        day = day.next_day().expect("a next day");
    }
    day
}

async fn session(fx: &Fixture, who: Who) -> Session {
    fx.login(who.username().expect("a user"), PASSWORD).await
}

async fn page(fx: &Fixture, session: &Session, uri: &str) -> Reply {
    fx.send(with_cookie(form_request("GET", uri, &[]), session)).await
}

/// Posts a form as a page does: with the session cookie and its CSRF token.
async fn post(fx: &Fixture, session: &Session, uri: &str, pairs: &[(&str, &str)]) -> Reply {
    let mut pairs = pairs.to_vec();
    pairs.push(("_csrf", &session.csrf));
    fx.send(with_cookie(form_request("POST", uri, &pairs), session)).await
}

/// The week view's cell of the slot starting `start` (RFC 3339, Beijing time).
fn cell<'a>(html: &'a str, start: &str) -> &'a str {
    let marker = format!(r#"data-start="{start}""#);
    let at = html.find(&marker).unwrap_or_else(|| panic!("no cell for {start}"));
    let open = html[..at].rfind("<td").expect("the cell's start");
    let close = at + html[at..].find("</td>").expect("the cell's end");
    &html[open..close]
}

/// A public OrgA pilot base in Fengtai.
fn pilot_base(fx: &Fixture, title: &str) -> String {
    let listing = fx.store_listing(json!({
        "kind": "facility", "title": title, "summary": "氢能电解槽膜电极中试放大，三台反应釜",
        "keywords": ["电解槽", "膜电极", "中试"], "region_codes": ["110106"], "owner_org": ORG_A,
        "facility_type": "pilot_base", "visibility": "public", "status": "published",
    }));
    listing.id.to_string()
}

#[tokio::test]
async fn a_booking_from_the_facility_page_is_approved_from_the_queue_page() {
    let fx = Fixture::new();
    let id = pilot_base(&fx, "氢能中试基地");
    fx.sync();
    let operator = session(&fx, Who::AMember).await;
    let booker = session(&fx, Who::BMember).await;
    let day = monday();

    // Before a calendar: the operator sees the settings form, others no booking section.
    let before = page(&fx, &operator, &format!("/listings/{id}")).await;
    assert!(before.text.contains(r#"id="no-calendar""#), "{}", before.text);
    let visitor = fx.get(Who::Anonymous, &format!("/listings/{id}")).await;
    assert!(!visitor.text.contains(r#"id="booking""#));

    // The operator sets the calendar through the page's form; only the operator may.
    let mut fields: Vec<(String, &str)> = [
        ("unit", "hour"),
        ("capacity", "2"),
        ("price_per_unit", "850"),
        ("min_length", "1"),
        ("max_length", "8"),
        ("lead_time_hours", "24"),
        ("free_cancellation_hours", "24"),
    ]
    .map(|(name, value)| (name.to_string(), value))
    .to_vec();
    for weekday in ["mon", "tue", "wed", "thu", "fri"] {
        fields.push((format!("open_{weekday}"), "08:00"));
        fields.push((format!("close_{weekday}"), "18:00"));
    }
    let calendar: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (name.as_str(), *value)).collect();
    let refused = post(&fx, &booker, &format!("/listings/{id}/calendar"), &calendar).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let set = post(&fx, &operator, &format!("/listings/{id}/calendar"), &calendar).await;
    assert_eq!(set.status, 303, "{}", set.text);
    let stored = fx.get(Who::Anonymous, &format!("/api/v1/facilities/{id}/calendar")).await.json();
    assert_eq!((stored["unit"].as_str(), stored["capacity"].as_u64()), (Some("hour"), Some(2)));
    assert_eq!(stored["opening_hours"].as_array().map(Vec::len), Some(5));

    // The week view: days across, open hours down, free capacity in each cell.
    let week = fx.get(Who::Anonymous, &format!("/listings/{id}?week={day}")).await;
    assert_eq!(week.status, 200);
    assert!(week.text.contains(&format!(r#"data-week="{day}""#)), "the week starts on the Monday");
    let nine = format!("{day}T09:00:00+08:00");
    assert!(cell(&week.text, &nine).contains(r#"data-free="2""#), "{}", cell(&week.text, &nine));
    assert!(!week.text.contains(&format!(r#"data-start="{day}T07:00:00+08:00""#)), "07:00 is closed");
    assert!(week.text.contains("¥850"), "the price per unit");
    assert!(week.text.contains(r#"id="booking-login""#), "visitors are asked to log in to book");
    let english = fx.get(Who::Anonymous, &format!("/listings/{id}?week={day}&lang=en")).await;
    assert!(english.text.contains("Free capacity this week"));

    // A booking through the form takes both units 09:00–11:00.
    let start = format!("{day}T09:00");
    let end = format!("{day}T11:00");
    let booked = post(
        &fx,
        &booker,
        &format!("/listings/{id}/bookings"),
        &[("start", &start), ("end", &end), ("quantity", "2"), ("purpose", "膜电极放大"), ("voucher_id", "")],
    )
    .await;
    assert_eq!(booked.status, 303, "{}", booked.text);
    let location = booked.header("location").expect("a redirect").to_string();
    assert!(location.contains("booked=requested"), "{location}");
    assert!(!location.contains("week="), "the form was posted without a week: {location}");
    let outcome = page(&fx, &booker, &location).await;
    assert!(outcome.text.contains(r#"id="booking-sent" data-state="requested""#), "{}", outcome.text);
    let after = fx.get(Who::Anonymous, &format!("/listings/{id}?week={day}")).await;
    assert!(cell(&after.text, &nine).contains("slot full"), "{}", cell(&after.text, &nine));
    let ten = format!("{day}T10:00:00+08:00");
    assert!(cell(&after.text, &ten).contains(r#"data-free="0""#));

    // Over capacity: the page names the first full slot; a closed hour is refused too.
    let full = post(
        &fx,
        &session(&fx, Who::CMember).await,
        &format!("/listings/{id}/bookings"),
        &[("start", &format!("{day}T10:00")), ("end", &format!("{day}T12:00")), ("quantity", "1")],
    )
    .await;
    assert_eq!(full.status, 409, "{}", full.text);
    assert!(full.text.contains(r#"id="refused""#) && full.text.contains(&ten), "{}", full.text);
    let night = post(
        &fx,
        &booker,
        &format!("/listings/{id}/bookings"),
        &[("start", &format!("{day}T19:00")), ("end", &format!("{day}T20:00"))],
    )
    .await;
    assert_eq!(night.status, 409);
    assert!(night.text.contains("not open"), "{}", night.text);
    let garbled = post(&fx, &booker, &format!("/listings/{id}/bookings"), &[("start", "soon"), ("end", "later")]).await;
    assert_eq!(garbled.status, 400);

    // The queue page of the operator: who, organisation, time, quantity, and the buttons.
    let mine = fx.get(Who::BMember, "/api/v1/bookings").await.json();
    let booking = mine.as_array().and_then(|b| b.first()).cloned().expect("b_member's booking");
    let booking_id = booking["id"].as_i64().expect("an id");
    let queue = page(&fx, &operator, "/bookings/queue").await;
    assert_eq!(queue.status, 200);
    let row = row_of(&queue.text, booking_id);
    for expected in [
        "b_member",
        ORG_B,
        "氢能中试基地",
        &format!("{day} 09:00"),
        r#"data-event="approve""#,
        r#"data-event="decline""#,
    ] {
        assert!(row.contains(expected), "{expected} in the queue row: {row}");
    }
    assert!(!row.contains(r#"data-event="complete""#), "a requested booking is not completed yet");
    let others = page(&fx, &booker, "/bookings/queue").await;
    assert!(!others.text.contains(&format!(r#"data-booking="{booking_id}""#)), "the booker operates nothing");

    // The booker may not approve from a forged form; the operator approves from the page.
    let forged =
        post(&fx, &booker, &format!("/bookings/{booking_id}/events"), &[("type", "approve"), ("version", "1")]).await;
    assert_eq!(forged.status, 403, "{}", forged.text);
    let approved = post(
        &fx,
        &operator,
        &format!("/bookings/{booking_id}/events"),
        &[("type", "approve"), ("version", "1"), ("back", "/bookings/queue")],
    )
    .await;
    assert_eq!(approved.status, 303, "{}", approved.text);
    assert_eq!(approved.header("location"), Some("/bookings/queue"));
    let read = fx.get(Who::BMember, &format!("/api/v1/bookings/{booking_id}")).await.json();
    assert_eq!(read["state"], "approved");
    let queue = page(&fx, &operator, "/bookings/queue").await;
    let row = row_of(&queue.text, booking_id);
    assert!(row.contains(r#"data-state="approved""#) && row.contains(r#"data-event="complete""#), "{row}");
    assert!(row.contains(r#"data-event="no_show""#), "{row}");
    let stale =
        post(&fx, &operator, &format!("/bookings/{booking_id}/events"), &[("type", "approve"), ("version", "1")]).await;
    assert_eq!(stale.status, 409, "approved already: {}", stale.text);

    // The booker's account page: the booking, its state and the cancel button.
    let account = page(&fx, &booker, "/account").await;
    let row = row_of(&account.text, booking_id);
    assert!(row.contains(r#"data-state="approved""#) && row.contains(r#"data-event="cancel""#), "{row}");
    assert!(!row.contains(r#"data-event="approve""#), "{row}");
}

/// The `<tr>` of a booking on a page.
fn row_of(html: &str, booking: i64) -> &str {
    let marker = format!(r#"<tr data-booking="{booking}""#);
    let at = html.find(&marker).unwrap_or_else(|| panic!("booking {booking} is listed: {html}"));
    let end = at + html[at..].find("</tr>").expect("the row's end");
    &html[at..end]
}

#[tokio::test]
async fn vouchers_are_issued_from_the_account_page_and_offered_in_the_booking_form() {
    let fx = Fixture::new();
    let id = pilot_base(&fx, "膜电极中试线");
    fx.sync();
    let calendar = json!({"unit": "day", "capacity": 2, "price_per_unit": 9000, "lead_time_hours": 0});
    assert_eq!(
        fx.call(Who::AMember, "PUT", &format!("/api/v1/facilities/{id}/calendar"), Some(calendar)).await.status,
        200
    );
    let operator = session(&fx, Who::RegionOp).await;
    let member = session(&fx, Who::AMember).await;

    // The issuing form is the operators'; a member neither sees nor may post it.
    let account = page(&fx, &operator, "/account").await;
    assert!(account.text.contains(r#"id="voucher-form""#));
    assert!(!page(&fx, &member, "/account").await.text.contains(r#"id="voucher-form""#));
    let until = (time::OffsetDateTime::now_utc().date() + time::Duration::days(200)).to_string();
    let voucher = [
        ("organisation", ORG_A),
        ("amount", "5"),
        ("issuing_region", "110106"),
        ("accepted_regions", "110000，130000"),
        ("valid_until", until.as_str()),
    ];
    assert_eq!(post(&fx, &member, "/vouchers", &voucher).await.status, 403);
    let issued = post(&fx, &operator, "/vouchers", &voucher).await;
    assert_eq!(issued.status, 303, "{}", issued.text);
    let ledger_path = issued.header("location").expect("the ledger").to_string();
    let ledger = page(&fx, &member, &ledger_path).await;
    assert_eq!(ledger.status, 200, "{}", ledger.text);
    assert!(ledger.text.contains(r#"<tr data-kind="issue">"#) && ledger.text.contains("5 万元"), "{}", ledger.text);
    assert_eq!(page(&fx, &session(&fx, Who::BMember).await, &ledger_path).await.status, 404, "not OrgB's");
    let wrong = post(
        &fx,
        &operator,
        "/vouchers",
        &[
            ("organisation", ORG_A),
            ("amount", "5"),
            ("issuing_region", "110106"),
            ("accepted_regions", "999999"),
            ("valid_until", until.as_str()),
        ],
    )
    .await;
    assert_eq!(wrong.status, 400, "{}", wrong.text);

    // OrgA's account lists it; the booking form offers it; booking with it reserves its share.
    let voucher_id = ledger_path.trim_start_matches("/vouchers/").to_string();
    let account = page(&fx, &member, "/account").await;
    assert!(
        account.text.contains(&format!(r#"<tr data-voucher="{voucher_id}" data-issuing="110106">"#)),
        "{}",
        account.text
    );
    let facility = page(&fx, &member, &format!("/listings/{id}")).await;
    assert!(facility.text.contains(&format!(r#"<option value="{voucher_id}">"#)), "the form offers the voucher");
    let day = monday() + time::Duration::days(1);
    let booked = post(
        &fx,
        &member,
        &format!("/listings/{id}/bookings"),
        &[("start", &day.to_string()), ("end", &day.to_string()), ("quantity", "1"), ("voucher_id", &voucher_id)],
    )
    .await;
    assert_eq!(booked.status, 303, "{}", booked.text);
    let mine = fx.get(Who::AMember, "/api/v1/bookings").await.json();
    assert_eq!(mine[0]["voucher_amount"], 9000.0, "one day at 9000 元, covered by the voucher: {mine}");
    assert_eq!(mine[0]["end"], format!("{}T00:00:00+08:00", day + time::Duration::days(1)), "the last day is included");
    let ledger = page(&fx, &member, &ledger_path).await;
    assert!(ledger.text.contains(r#"<tr data-kind="reserve">"#), "{}", ledger.text);
}

fn codes(hit: &Value, list: &str) -> Vec<String> {
    hit[list]
        .as_array()
        .map_or_else(Vec::new, |items| items.iter().filter_map(|e| e["code"].as_str().map(str::to_string)).collect())
}

#[tokio::test]
async fn pilot_base_matches_carry_the_free_window_or_fully_booked() {
    let fx = Fixture::new();
    let achievement = fx.store_listing(json!({
        "kind": "achievement", "title": "氢能电解槽膜电极制备技术", "summary": "电解槽膜电极，需要中试放大",
        "keywords": ["电解槽", "膜电极", "中试"], "region_codes": ["110106"], "owner_org": ORG_B, "trl": 6,
    }));
    let free = pilot_base(&fx, "电解槽膜电极中试基地（有空闲）");
    let booked_out = pilot_base(&fx, "电解槽膜电极中试基地（已约满）");
    let without_calendar = pilot_base(&fx, "电解槽膜电极中试基地（未开放预约）");
    fx.sync();
    for id in [&free, &booked_out] {
        let calendar = json!({"unit": "day", "capacity": 1, "price_per_unit": 12000, "max_length": 200});
        let set = fx.call(Who::AMember, "PUT", &format!("/api/v1/facilities/{id}/calendar"), Some(calendar)).await;
        assert_eq!(set.status, 200, "{}", set.text);
    }
    // The second one is taken from today for 100 days (written straight to the store: the
    // capacity rule is the only check there).
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let today = xietong_domain::booking::beijing_midnight(now);
    let day_ms = xietong_domain::booking::DAY_MS;
    let whole = xietong_store::NewBooking {
        facility_id: booked_out.parse().expect("an id"),
        booker_id: fx.user(Who::BMember).id,
        booker: "b_member".into(),
        booker_org: Some(ORG_B.into()),
        request: xietong_domain::booking::Request { start: today, end: today + 100 * day_ms, quantity: 1 },
        units: 100,
        purpose: "全部占用".into(),
        charge_fen: 0,
        voucher_id: None,
        waitlist: false,
    };
    fx.app.booking_store().create_booking(whole, &|_| Default::default()).expect("the long booking");

    let matches = fx.get(Who::BMember, &format!("/api/v1/listings/{}/matches?kind=facility", achievement.id)).await;
    assert_eq!(matches.status, 200, "{}", matches.text);
    let items = matches.json()["items"].as_array().cloned().expect("items");
    let hit =
        |id: &str| items.iter().find(|h| h["id"] == id).cloned().unwrap_or_else(|| panic!("{id} matched: {items:?}"));
    let (free_hit, full_hit, plain_hit) = (hit(&free), hit(&booked_out), hit(&without_calendar));
    assert!(codes(&free_hit, "reason_details").contains(&"free_window".to_string()), "{free_hit}");
    assert!(!codes(&free_hit, "mismatch_details").contains(&"fully_booked".to_string()), "{free_hit}");
    let window =
        free_hit["reason_details"].as_array().unwrap().iter().find(|r| r["code"] == "free_window").unwrap().clone();
    assert!(window["zh"].as_str().is_some_and(|zh| zh.contains("最早可约") && zh.contains("12000")), "{window}");
    assert!(codes(&full_hit, "mismatch_details").contains(&"fully_booked".to_string()), "{full_hit}");
    assert!(!codes(&full_hit, "reason_details").contains(&"free_window".to_string()), "{full_hit}");
    for code in ["free_window", "fully_booked"] {
        assert!(
            !codes(&plain_hit, "reason_details").contains(&code.to_string()),
            "no calendar, no window: {plain_hit}"
        );
        assert!(!codes(&plain_hit, "mismatch_details").contains(&code.to_string()), "{plain_hit}");
    }
    // The facility page shows the same on the achievement's matches.
    let page = fx.get(Who::BMember, &format!("/listings/{}", achievement.id)).await;
    assert!(page.text.contains(r#"<li data-code="fully_booked">"#), "the listing page explains it");
}
