//! Bookable facilities through the API: the fixed names of the calendar, the booking states and
//! events, capacity under 200 simultaneous requests, waitlist promotion, clearances, vouchers
//! and their ledger, the iCalendar feed (parsed with a real iCalendar parser) and utilisation
//! (equal to a direct count).

use serde_json::{Value, json};

use crate::fixture::{Fixture, ORG_A, ORG_B, Who};

/// A Monday two years ahead, 00:00 Beijing time.
fn monday() -> time::Date {
    let mut day = time::OffsetDateTime::now_utc().date() + time::Duration::days(730);
    while day.weekday() != time::Weekday::Monday {
        day = day.next_day().expect("a next day");
    }
    day
}

/// `day` at `hour`:00 Beijing time, RFC 3339.
fn at(day: time::Date, hour: u8) -> String {
    format!("{day}T{hour:02}:00:00+08:00")
}

/// A public OrgA pilot base in Fengtai with a calendar: mon–fri 08:00–18:00, a closure Monday
/// 12:00–13:00, capacity `capacity`, 850 元 per hour.
async fn facility(fx: &Fixture, capacity: u32, clearance: bool) -> String {
    let listing = fx.store_listing(json!({
        "kind": "facility", "title": "氢能中试基地", "summary": "三台反应釜", "region_codes": ["110106"],
        "owner_org": ORG_A, "facility_type": "pilot_base", "visibility": "public", "status": "published",
    }));
    fx.sync();
    let id = listing.id.to_string();
    let day = monday();
    let hours: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|weekday| json!({"weekday": weekday, "open": "08:00", "close": "18:00"}))
        .collect();
    let calendar = json!({
        "unit": "hour", "capacity": capacity, "opening_hours": hours,
        "closures": [{"start": at(day, 12), "end": at(day, 13), "reason": "设备检修"}],
        "min_length": 1, "max_length": 8, "lead_time_hours": 24, "requires_clearance": clearance,
        "price_per_unit": 850, "free_cancellation_hours": 24,
    });
    let set = fx.call(Who::AMember, "PUT", &format!("/api/v1/facilities/{id}/calendar"), Some(calendar.clone())).await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.json()["capacity"], capacity);
    id
}

async fn book(fx: &Fixture, who: Who, id: &str, body: Value) -> crate::fixture::Reply {
    fx.call(who, "POST", &format!("/api/v1/facilities/{id}/bookings"), Some(body)).await
}

async fn event(fx: &Fixture, who: Who, booking: i64, body: Value) -> crate::fixture::Reply {
    fx.call(who, "POST", &format!("/api/v1/bookings/{booking}/events"), Some(body)).await
}

#[tokio::test]
async fn the_calendar_refuses_closed_slots_and_bookings_move_through_their_states() {
    let fx = Fixture::new();
    let id = facility(&fx, 1, false).await;
    let day = monday();
    // Only the operator sets the calendar; the fixed fields come back.
    let foreign = fx
        .call(
            Who::BMember,
            "PUT",
            &format!("/api/v1/facilities/{id}/calendar"),
            Some(json!({"unit": "hour", "capacity": 9, "price_per_unit": 1})),
        )
        .await;
    assert_eq!(foreign.status, 403, "{}", foreign.text);
    let bad = fx
        .call(
            Who::AMember,
            "PUT",
            &format!("/api/v1/facilities/{id}/calendar"),
            Some(json!({"unit": "week", "capacity": 1, "price_per_unit": 1})),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    let calendar = fx.get(Who::Anonymous, &format!("/api/v1/facilities/{id}/calendar")).await.json();
    for field in ["unit", "capacity", "opening_hours", "closures", "requires_clearance", "price_per_unit"] {
        assert!(calendar.get(field).is_some(), "{field}: {calendar}");
    }
    assert_eq!(calendar["opening_hours"][0], json!({"weekday": "mon", "open": "08:00", "close": "18:00"}));

    // Availability: open hours only, the closure left out.
    let availability =
        fx.get(Who::Anonymous, &format!("/api/v1/facilities/{id}/availability?from={day}&to={day}")).await;
    assert_eq!(availability.status, 200, "{}", availability.text);
    let slots = availability.json()["slots"].as_array().unwrap().clone();
    assert_eq!(slots.len(), 9, "08:00–18:00 less the 12:00 closure");
    assert!(slots.iter().all(|s| s["free"] == 1 && s["capacity"] == 1));
    assert_eq!(
        fx.get(Who::Anonymous, &format!("/api/v1/facilities/{id}/availability?from={day}&to=2000-01-01")).await.status,
        400
    );

    // Outside opening hours, inside a closure, off the grid.
    let night = book(&fx, Who::BMember, &id, json!({"start": at(day, 18), "end": at(day, 19), "quantity": 1})).await;
    assert_eq!(night.status, 409, "{}", night.text);
    assert!(night.text.contains("not open"), "{}", night.text);
    let closed = book(&fx, Who::BMember, &id, json!({"start": at(day, 12), "end": at(day, 13)})).await;
    assert_eq!(closed.status, 409);
    assert!(closed.text.contains("设备检修"), "{}", closed.text);
    let off_grid =
        book(&fx, Who::BMember, &id, json!({"start": format!("{day}T09:30:00+08:00"), "end": at(day, 11)})).await;
    assert_eq!(off_grid.status, 400, "{}", off_grid.text);

    // A booking: 201 with id and state; the next one over capacity is a 409 naming the slot.
    let first = book(
        &fx,
        Who::BMember,
        &id,
        json!({"start": at(day, 9), "end": at(day, 11), "quantity": 1, "purpose": "膜电极放大"}),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let first = first.json();
    assert_eq!(first["state"], "requested");
    assert_eq!(first["charge"], 1700.0);
    let first_id = first["id"].as_i64().unwrap();
    let full = book(&fx, Who::CMember, &id, json!({"start": at(day, 10), "end": at(day, 11)})).await;
    assert_eq!(full.status, 409, "{}", full.text);
    assert!(full.text.contains(&at(day, 10)), "names the first full slot: {}", full.text);
    let waiting =
        book(&fx, Who::CMember, &id, json!({"start": at(day, 10), "end": at(day, 11), "waitlist": true})).await;
    assert_eq!(waiting.status, 201);
    assert_eq!(waiting.json()["state"], "waitlisted");
    let waiting_id = waiting.json()["id"].as_i64().unwrap();
    let slots = fx
        .get(Who::Anonymous, &format!("/api/v1/facilities/{id}/availability?from={day}&to={day}"))
        .await
        .json()["slots"]
        .clone();
    let nine = slots.as_array().unwrap().iter().find(|s| s["start"] == at(day, 9)).unwrap().clone();
    assert_eq!((nine["booked"].as_u64(), nine["free"].as_u64()), (Some(1), Some(0)));

    // Who may send which event.
    assert_eq!(
        event(&fx, Who::BMember, first_id, json!({"type": "approve"})).await.status,
        403,
        "the booker does not approve"
    );
    assert_eq!(
        event(&fx, Who::CMember, first_id, json!({"type": "approve"})).await.status,
        404,
        "others do not see it"
    );
    assert_eq!(event(&fx, Who::AMember, first_id, json!({"type": "decline", "reason": " "})).await.status, 400);
    assert_eq!(event(&fx, Who::AMember, first_id, json!({"type": "promote"})).await.status, 400);
    let approved = event(&fx, Who::AMember, first_id, json!({"type": "approve", "version": 1})).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    assert_eq!(approved.json()["state"], "approved");
    assert_eq!(approved.json()["allowed_events"], json!(["reschedule", "complete", "no_show"]));
    let stale = event(&fx, Who::AMember, first_id, json!({"type": "complete", "version": 1})).await;
    assert_eq!(stale.status, 409, "a stale version: {}", stale.text);
    assert_eq!(event(&fx, Who::AMember, first_id, json!({"type": "approve"})).await.status, 409, "approved already");
    let read = fx.get(Who::BMember, &format!("/api/v1/bookings/{first_id}")).await.json();
    assert_eq!(read["allowed_events"], json!(["cancel", "reschedule"]));

    // Cancelling (early: free) frees the slot; the waitlisted booking moves up.
    let cancelled = event(&fx, Who::BMember, first_id, json!({"type": "cancel", "reason": "计划调整"})).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    assert_eq!(
        (cancelled.json()["state"].as_str(), cancelled.json()["charged"].as_bool()),
        (Some("cancelled"), Some(false))
    );
    let promoted = fx.get(Who::CMember, &format!("/api/v1/bookings/{waiting_id}")).await.json();
    assert_eq!(promoted["state"], "requested");
    let events: Vec<&str> =
        promoted["timeline"].as_array().unwrap().iter().map(|s| s["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["waitlist", "promote"]);
    let queue = fx.get(Who::AMember, "/api/v1/bookings/queue").await.json();
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert_eq!(queue[0]["allowed_events"], json!(["approve", "decline", "reschedule"]));

    // Reschedule into a free hour of the same length, then complete; a no-show of another.
    let moved =
        event(&fx, Who::CMember, waiting_id, json!({"type": "reschedule", "start": at(day, 14), "end": at(day, 15)}))
            .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    let longer =
        event(&fx, Who::CMember, waiting_id, json!({"type": "reschedule", "start": at(day, 14), "end": at(day, 16)}))
            .await;
    assert_eq!(longer.status, 400, "{}", longer.text);
    event(&fx, Who::AMember, waiting_id, json!({"type": "approve"})).await;
    let done = event(&fx, Who::AMember, waiting_id, json!({"type": "complete"})).await;
    assert_eq!(done.json()["state"], "completed");
    let other = book(&fx, Who::BMember, &id, json!({"start": at(day, 16), "end": at(day, 17)})).await.json()["id"]
        .as_i64()
        .unwrap();
    let declined = event(&fx, Who::RegionOp, other, json!({"type": "decline", "reason": "与检修冲突"})).await;
    assert_eq!(declined.json()["state"], "declined", "the region's operator operates the facility");
    let third = book(&fx, Who::BMember, &id, json!({"start": at(day, 16), "end": at(day, 17)})).await.json()["id"]
        .as_i64()
        .unwrap();
    event(&fx, Who::AMember, third, json!({"type": "approve"})).await;
    assert_eq!(event(&fx, Who::AMember, third, json!({"type": "no_show"})).await.json()["state"], "no_show");
    let mine = fx.get(Who::BMember, "/api/v1/bookings").await.json();
    let states: Vec<&str> = mine.as_array().unwrap().iter().map(|b| b["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["cancelled", "declined", "no_show"]);
}

#[tokio::test]
async fn two_hundred_simultaneous_requests_never_overbook_a_capacity_of_three() {
    let fx = std::sync::Arc::new(Fixture::new());
    let id = facility(&fx, 3, false).await;
    let day = monday();
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let (fx, id) = (fx.clone(), id.clone());
        let who = [Who::BMember, Who::CMember, Who::Talent, Who::AMember][i as usize % 4];
        let start = 8 + (i * 7 % 6) as u8;
        let hours = 1 + (i % 3) as u8;
        let quantity = 1 + i % 2;
        tasks.push(tokio::spawn(async move {
            let body = json!({"start": at(day, start), "end": at(day, start + hours), "quantity": quantity});
            book(&fx, who, &id, body).await.status.as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    assert!(statuses.contains(&201) && statuses.contains(&409));
    let slots =
        fx.get(Who::Anonymous, &format!("/api/v1/facilities/{id}/availability?from={day}&to={day}")).await.json();
    let slots = slots["slots"].as_array().unwrap();
    assert!(slots.iter().all(|s| s["booked"].as_u64().unwrap() <= 3), "{slots:?}");
    // The availability's count agrees with the bookings themselves.
    let bookings = fx.get(Who::AMember, &format!("/api/v1/facilities/{id}/bookings?from={day}&to={day}")).await.json();
    let created = statuses.iter().filter(|s| **s == 201).count();
    assert_eq!(bookings.as_array().unwrap().len(), created);
}

#[tokio::test]
async fn clearances_gate_bookings_and_vouchers_pay_across_regions() {
    let fx = Fixture::new();
    let id = facility(&fx, 5, true).await;
    let day = monday();
    let hour = json!({"start": at(day, 9), "end": at(day, 10), "quantity": 1});
    let refused = book(&fx, Who::BMember, &id, hour.clone()).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(refused.text.contains("clearance"), "{}", refused.text);
    assert_eq!(
        fx.call(
            Who::BMember,
            "POST",
            &format!("/api/v1/facilities/{id}/clearances"),
            Some(json!({"username": "b_member", "valid_until": "2099-01-01T00:00:00Z"}))
        )
        .await
        .status,
        403
    );
    let granted = fx
        .call(
            Who::AAdmin,
            "POST",
            &format!("/api/v1/facilities/{id}/clearances"),
            Some(json!({"username": "b_member", "valid_until": "2099-01-01T00:00:00+08:00"})),
        )
        .await;
    assert_eq!(granted.status, 201, "{}", granted.text);

    // OrgB is in Hebei (130602): a Hebei voucher accepted in Beijing, one accepted only in
    // Tianjin, and one already expired.
    let issue = |who: Who, body: Value| fx.call(who, "POST", "/api/v1/vouchers", Some(body));
    let voucher = issue(
        Who::Admin,
        json!({"organisation": ORG_B, "amount": 0.2, "issuing_region": "130000", "accepted_regions": ["110000"], "valid_until": "2099-12-31"}),
    )
    .await;
    assert_eq!(voucher.status, 201, "{}", voucher.text);
    let voucher = voucher.json();
    assert_eq!((voucher["amount"].as_f64(), voucher["balance"].as_f64()), (Some(0.2), Some(0.2)));
    let voucher_id = voucher["id"].as_i64().unwrap();
    let tianjin = issue(
        Who::Admin,
        json!({"organisation": fx.orgs[ORG_B].id, "amount": 1, "issuing_region": "130000", "accepted_regions": ["120000"], "valid_until": "2099-12-31"}),
    )
    .await
    .json()["id"]
        .as_i64()
        .unwrap();
    let not_theirs = issue(
        Who::RegionOp,
        json!({"organisation": ORG_B, "amount": 1, "issuing_region": "110106", "accepted_regions": ["110000"], "valid_until": "2099-12-31"}),
    )
    .await;
    assert_eq!(not_theirs.status, 403, "a Fengtai operator issues to Fengtai enterprises: {}", not_theirs.text);
    assert_eq!(issue(Who::AMember, json!({"organisation": ORG_A, "amount": 1, "issuing_region": "110106", "accepted_regions": ["110000"], "valid_until": "2099-12-31"})).await.status, 403);
    assert_eq!(issue(Who::Admin, json!({"organisation": "nobody", "amount": 1, "issuing_region": "110106", "accepted_regions": ["110000"], "valid_until": "2099-12-31"})).await.status, 400);

    let wrong_region =
        book(&fx, Who::BMember, &id, json!({"start": at(day, 9), "end": at(day, 10), "voucher_id": tianjin})).await;
    assert_eq!(wrong_region.status, 409, "{}", wrong_region.text);
    assert!(wrong_region.text.contains("120000"), "{}", wrong_region.text);
    let foreign =
        book(&fx, Who::CMember, &id, json!({"start": at(day, 9), "end": at(day, 10), "voucher_id": voucher_id})).await;
    assert_ne!(foreign.status, 201, "another organisation's voucher: {}", foreign.text);

    // 850 元 per hour; the voucher holds 2000 元: two full hours, then 300 元, then nothing.
    let mut covered = Vec::new();
    for hour in [9u8, 10, 11] {
        let paid = book(
            &fx,
            Who::BMember,
            &id,
            json!({"start": at(day, hour), "end": at(day, hour + 1), "voucher_id": voucher_id}),
        )
        .await;
        assert_eq!(paid.status, 201, "{}", paid.text);
        covered.push((paid.json()["id"].as_i64().unwrap(), paid.json()["voucher_amount"].as_f64().unwrap()));
    }
    assert_eq!(covered.iter().map(|c| c.1).collect::<Vec<_>>(), [850.0, 850.0, 300.0]);
    let empty =
        book(&fx, Who::BMember, &id, json!({"start": at(day, 14), "end": at(day, 15), "voucher_id": voucher_id})).await;
    assert_eq!(empty.status, 409, "{}", empty.text);
    // Declining releases the share; completing spends it.
    event(&fx, Who::AMember, covered[0].0, json!({"type": "decline", "reason": "设备故障"})).await;
    event(&fx, Who::AMember, covered[1].0, json!({"type": "approve"})).await;
    event(&fx, Who::AMember, covered[1].0, json!({"type": "complete"})).await;
    let ledger = fx.get(Who::BMember, &format!("/api/v1/vouchers/{voucher_id}/ledger")).await;
    assert_eq!(ledger.status, 200, "{}", ledger.text);
    let ledger = ledger.json();
    let kinds: Vec<&str> = ledger["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["issue", "reserve", "reserve", "reserve", "release", "spend"]);
    let sum: f64 = ledger["entries"].as_array().unwrap().iter().map(|e| e["amount"].as_f64().unwrap()).sum();
    let balance = ledger["voucher"]["balance"].as_f64().unwrap();
    assert!((sum - balance).abs() < 1e-9 && (balance - 0.085).abs() < 1e-9, "sum {sum}, balance {balance}");
    assert!((ledger["voucher"]["spent"].as_f64().unwrap() - 0.085).abs() < 1e-9);
    assert_eq!(fx.get(Who::CMember, &format!("/api/v1/vouchers/{voucher_id}/ledger")).await.status, 404);
    let mine = fx.get(Who::BMember, "/api/v1/vouchers").await.json();
    assert_eq!(mine.as_array().unwrap().len(), 2);

    // Utilisation: voucher spending from Hebei at a Beijing facility.
    let stats = fx.get(Who::Admin, &format!("/api/v1/stats/utilisation?by=region&from={day}&to={day}")).await.json();
    let spending = &stats["voucher_spending"][0];
    assert_eq!(
        (spending["issuing_region"].as_str(), spending["spending_region"].as_str()),
        (Some("130000"), Some("110000"))
    );
    assert!((spending["spent"].as_f64().unwrap() - 0.085).abs() < 1e-9);
}

#[tokio::test]
async fn the_ics_feed_parses_and_utilisation_equals_a_direct_count() {
    let fx = Fixture::new();
    let id = facility(&fx, 3, false).await;
    let day = monday();
    let mut ids = Vec::new();
    for (who, start, hours, quantity) in
        [(Who::BMember, 9u8, 2u8, 1u32), (Who::CMember, 9, 1, 2), (Who::BMember, 14, 3, 3), (Who::CMember, 10, 1, 1)]
    {
        let reply = book(&fx, who, &id, json!({"start": at(day, start), "end": at(day, start + hours), "quantity": quantity, "purpose": "测试, 分号; 换行"})).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        ids.push(reply.json()["id"].as_i64().unwrap());
    }
    for booking in &ids[..3] {
        event(&fx, Who::AMember, *booking, json!({"type": "approve"})).await;
    }
    event(&fx, Who::AMember, ids[2], json!({"type": "complete"})).await;

    // The feed: approved bookings only (two; the third was completed), parsed by `icalendar`.
    let public = fx.get(Who::Anonymous, &format!("/api/v1/facilities/{id}/calendar.ics")).await;
    assert_eq!(public.status, 200);
    assert!(public.header("content-type").unwrap().starts_with("text/calendar"));
    let parsed: icalendar::Calendar = public.text.parse().expect("the feed parses as iCalendar");
    let events: Vec<&icalendar::Event> = parsed.components.iter().filter_map(|c| c.as_event()).collect();
    assert_eq!(events.len(), 2, "{}", public.text);
    use icalendar::Component;
    assert!(
        events
            .iter()
            .all(|e| e.get_summary() == Some("已预约 Booked ×1") || e.get_summary() == Some("已预约 Booked ×2"))
    );
    assert!(!public.text.contains("b_member"), "anonymous callers do not see who booked");
    let operator = fx.get(Who::AMember, &format!("/api/v1/facilities/{id}/calendar.ics")).await;
    let parsed: icalendar::Calendar = operator.text.parse().expect("the operator's feed parses");
    let summaries: Vec<String> = parsed
        .components
        .iter()
        .filter_map(|c| c.as_event())
        .filter_map(|e| e.get_summary().map(str::to_string))
        .collect();
    assert!(summaries.iter().any(|s| s.contains("b_member")), "{summaries:?}");
    let descriptions: Vec<String> = parsed
        .components
        .iter()
        .filter_map(|c| c.as_event())
        .filter_map(|e| e.get_description().map(str::to_string))
        .collect();
    assert!(descriptions.iter().all(|d| d == "测试, 分号; 换行"), "escaped text round-trips: {descriptions:?}");
    assert!(operator.text.lines().all(|line| line.len() <= 76), "lines are folded");

    // Utilisation by facility for that day, against a count by hand: 9 open hours × 3 (the
    // 12:00 closure left out); booked = approved + completed + no-show units per hour.
    let stats = fx.get(Who::Anonymous, &format!("/api/v1/stats/utilisation?by=facility&from={day}&to={day}")).await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    let row = stats.json()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == id.as_str())
        .cloned()
        .expect("the facility's row");
    // (hours × units): 2 × 1, 1 × 2, 3 × 3.
    let booked = 2 + 2 + 9;
    assert_eq!(row["open_units"].as_u64(), Some(9 * 3));
    assert_eq!(row["booked_units"].as_u64(), Some(booked));
    assert_eq!(row["used_units"].as_u64(), Some(9));
    let by_month =
        fx.get(Who::Anonymous, &format!("/api/v1/stats/utilisation?by=month&from={day}&to={day}")).await.json();
    assert_eq!(by_month["rows"][0]["booked_units"].as_u64(), Some(booked));
    assert_eq!(fx.get(Who::Anonymous, "/api/v1/stats/utilisation?by=week").await.status, 400);
}
