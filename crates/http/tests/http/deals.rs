//! Deals (对接) through the API: the fixed names, who may move a deal, versions, contacts revealed
//! from acceptance on, and one winner among concurrent events.

use crate::fixture::{Fixture, ORG_A, Who};
use serde_json::{Value, json};

fn achievement_with_contact(fx: &Fixture) -> String {
    let listing = fx.store_listing(json!({
        "kind": "achievement", "title": "质子交换膜电解槽膜电极", "summary": "高电流密度膜电极",
        "trl": 6, "region_codes": ["110106"], "owner_org": ORG_A, "visibility": "public", "status": "published",
        "contact": {"name": "王工", "phone": "13800138000", "email": "wang@example.com"},
    }));
    fx.sync();
    listing.id.to_string()
}

async fn event(fx: &Fixture, who: Who, deal: i64, body: Value) -> crate::fixture::Reply {
    fx.call(who, "POST", &format!("/api/v1/deals/{deal}/events"), Some(body)).await
}

#[tokio::test]
async fn a_deal_moves_from_proposal_to_conversion_and_reveals_contacts_on_acceptance() {
    let fx = Fixture::new();
    let listing = achievement_with_contact(&fx);
    let contact =
        |reply: crate::fixture::Reply| reply.json()["contact"]["phone"].as_str().unwrap_or_default().to_string();
    assert_ne!(contact(fx.get(Who::BMember, &format!("/api/v1/listings/{listing}")).await), "13800138000");
    let before = fx.get(Who::BMember, &format!("/listings/{listing}")).await;
    assert_eq!(before.status, 200);
    assert!(!before.text.contains("13800138000"), "the listing page masks the contact before acceptance");

    let proposed =
        fx.call(Who::BMember, "POST", "/api/v1/deals", Some(json!({"listing_id": listing, "message": "想合作"}))).await;
    assert_eq!(proposed.status, 201, "{}", proposed.text);
    let deal = proposed.json();
    assert_eq!((deal["state"].as_str(), deal["version"].as_i64()), (Some("proposed"), Some(1)));
    let id = deal["id"].as_i64().unwrap();
    let again = fx.call(Who::BMember, "POST", "/api/v1/deals", Some(json!({"listing_id": listing}))).await;
    assert_eq!(again.status, 409, "one open deal per pair: {}", again.text);
    let own = fx.call(Who::AMember, "POST", "/api/v1/deals", Some(json!({"listing_id": listing}))).await;
    assert_eq!(own.status, 409, "not on one's own listing: {}", own.text);

    // The asker cannot accept; a meeting before acceptance is refused naming state and event.
    assert_eq!(event(&fx, Who::BMember, id, json!({"type": "accept", "version": 1})).await.status, 403);
    let early = event(
        &fx,
        Who::BMember,
        id,
        json!({"type": "meeting", "version": 1, "at": "2027-03-01T09:30:00+08:00", "place": "丰台"}),
    )
    .await;
    assert_eq!(early.status, 409);
    assert!(early.text.contains("proposed") && early.text.contains("meeting"), "{}", early.text);
    assert_eq!(
        event(&fx, Who::CMember, id, json!({"type": "accept", "version": 1})).await.status,
        404,
        "a third organisation"
    );

    let accepted = event(&fx, Who::AMember, id, json!({"type": "accept", "version": 1})).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(accepted.json()["state"], "accepted");
    let stale = event(&fx, Who::AMember, id, json!({"type": "close", "version": 1, "reason": "x"})).await;
    assert_eq!(stale.status, 409, "a stale version: {}", stale.text);
    assert_eq!(contact(fx.get(Who::BMember, &format!("/api/v1/listings/{listing}")).await), "13800138000");
    let page = fx.get(Who::BMember, &format!("/listings/{listing}")).await;
    assert!(page.text.contains("13800138000"), "the listing page shows the contact after acceptance");

    let steps = [
        json!({"type": "meeting", "version": 2, "at": "2027-03-01T09:30:00+08:00", "place": "雄安新区"}),
        json!({"type": "sign", "version": 3, "agreement_type": "licence", "value": 120, "signed_on": "2027-04-01"}),
        json!({"type": "outcome", "version": 4, "stage": "pilot_run"}),
    ];
    for (step, who) in steps.into_iter().zip([Who::BMember, Who::AMember, Who::BMember]) {
        let moved = event(&fx, who, id, step.clone()).await;
        assert_eq!(moved.status, 200, "{step}: {}", moved.text);
    }
    let read = fx.get(Who::BMember, &format!("/api/v1/deals/{id}")).await.json();
    assert_eq!(read["state"], "converted");
    let timeline: Vec<&str> =
        read["timeline"].as_array().unwrap().iter().map(|s| s["state"].as_str().unwrap()).collect();
    assert_eq!(timeline, ["accepted", "meeting", "signed", "converted"]);
    assert_eq!(fx.get(Who::CMember, &format!("/api/v1/deals/{id}")).await.status, 404);
    let mine = fx.get(Who::AMember, "/api/v1/deals?side=owner&state=converted").await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(fx.get(Who::AMember, "/api/v1/deals?side=asker").await.json().as_array().unwrap().len(), 0);
    assert_eq!(fx.get(Who::AMember, "/api/v1/deals?state=won").await.status, 400);
}

#[tokio::test]
async fn declines_carry_a_fixed_reason_and_twenty_concurrent_accepts_have_one_winner() {
    let fx = Fixture::new();
    let listing = achievement_with_contact(&fx);
    let id = fx.call(Who::BMember, "POST", "/api/v1/deals", Some(json!({"listing_id": listing}))).await.json()["id"]
        .as_i64()
        .unwrap();
    let unknown =
        event(&fx, Who::AMember, id, json!({"type": "decline", "version": 1, "reason": "too_expensive"})).await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    assert!(unknown.text.contains("trl_too_low"), "the problem lists the reasons: {}", unknown.text);
    let replies = futures_join(&fx, id).await;
    assert_eq!(replies.iter().filter(|s| **s == 200).count(), 1, "{replies:?}");
    assert!(replies.iter().all(|s| *s == 200 || *s == 409), "{replies:?}");
    let deal = fx.get(Who::AMember, &format!("/api/v1/deals/{id}")).await.json();
    assert_eq!((deal["state"].as_str(), deal["version"].as_i64()), (Some("accepted"), Some(2)));

    let second = fx.store_listing(json!({
        "kind": "achievement", "title": "另一项成果", "summary": "膜材料", "trl": 3,
        "region_codes": ["110106"], "owner_org": ORG_A, "visibility": "public", "status": "published",
    }));
    let declined_id =
        fx.call(Who::BMember, "POST", "/api/v1/deals", Some(json!({"listing_id": second.id}))).await.json()["id"]
            .as_i64()
            .unwrap();
    let declined = event(
        &fx,
        Who::AMember,
        declined_id,
        json!({"type": "decline", "version": 1, "reason": "trl_too_low", "note": "需要 TRL 6"}),
    )
    .await;
    assert_eq!(declined.status, 200, "{}", declined.text);
    let deal = declined.json();
    assert_eq!(deal["state"], "declined");
    assert_eq!(deal["timeline"][0]["event"]["reason"], "trl_too_low");
    // A declined deal frees the pair.
    let reopened = fx.call(Who::BMember, "POST", "/api/v1/deals", Some(json!({"listing_id": second.id}))).await;
    assert_eq!(reopened.status, 201, "{}", reopened.text);
}

/// Twenty accepts of one deal at version 1, sent at once.
async fn futures_join(fx: &Fixture, id: i64) -> Vec<u16> {
    let calls = (0..20).map(|_| event(fx, Who::AMember, id, json!({"type": "accept", "version": 1})));
    let mut statuses = Vec::new();
    let handles: Vec<_> = calls.collect();
    for reply in join_all(handles).await {
        statuses.push(reply.status.as_u16());
    }
    statuses
}

pub(crate) async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (index, future) in pinned.iter_mut().enumerate() {
            if outputs[index].is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => outputs[index] = Some(output),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("every future finished")).collect()
}

#[tokio::test]
async fn the_listing_page_proposes_a_deal_from_the_viewers_own_listing() {
    let fx = Fixture::new();
    let listing = achievement_with_contact(&fx);
    let own = fx.store_listing(json!({
        "kind": "demand", "title": "膜电极采购需求", "summary": "需要膜电极", "region_codes": ["130602"],
        "owner_org": crate::fixture::ORG_B, "visibility": "public", "status": "published",
    }));
    let session = fx.login(Who::BMember.username().unwrap(), crate::fixture::PASSWORD).await;
    let form = crate::fixture::form_request(
        "POST",
        &format!("/listings/{listing}/deal"),
        &[("_csrf", session.csrf.as_str()), ("from_listing_id", &own.id.to_string()), ("message", "发起对接")],
    );
    let reply = fx.send(crate::fixture::with_cookie(form, &session)).await;
    assert_eq!(reply.status, 303, "{}", reply.text);
    assert_eq!(reply.header("location"), Some(format!("/listings/{listing}?proposed=1").as_str()));
    let deals = fx.get(Who::BMember, "/api/v1/deals?side=asker").await.json();
    assert_eq!(deals[0]["from_listing_id"], own.id.to_string());
    assert_eq!(deals[0]["state"], "proposed");
    let page = fx
        .send(crate::fixture::with_cookie(
            crate::fixture::json_request("GET", &format!("/listings/{listing}?proposed=1"), None),
            &session,
        ))
        .await;
    assert!(page.text.contains("deal-proposed"), "the page confirms the proposal");
}

#[tokio::test]
async fn the_deal_page_offers_exactly_the_events_the_viewer_may_send() {
    let fx = Fixture::new();
    let listing = achievement_with_contact(&fx);
    let id = fx.call(Who::BMember, "POST", "/api/v1/deals", Some(json!({"listing_id": listing}))).await.json()["id"]
        .as_i64()
        .unwrap();
    let owner = fx.login(Who::AMember.username().unwrap(), crate::fixture::PASSWORD).await;
    let asker = fx.login(Who::BMember.username().unwrap(), crate::fixture::PASSWORD).await;
    let page = |session: &crate::fixture::Session| {
        fx.send(crate::fixture::with_cookie(
            crate::fixture::json_request("GET", &format!("/deals/{id}"), None),
            session,
        ))
    };
    let events = |html: &str| -> Vec<String> {
        html.split("data-event=\"").skip(1).map(|rest| rest.split('"').next().unwrap().to_string()).collect()
    };
    let owner_view = page(&owner).await;
    assert_eq!(owner_view.status, 200);
    assert!(owner_view.text.contains("待回应"), "the state is shown");
    assert_eq!(events(&owner_view.text), ["accept", "decline", "close", "appoint_broker"]);
    let asker_view = page(&asker).await;
    assert_eq!(events(&asker_view.text), ["close", "appoint_broker"], "the asker cannot accept or decline");
    assert_eq!(fx.get(Who::CMember, &format!("/deals/{id}")).await.status, 404);

    let form = crate::fixture::form_request(
        "POST",
        &format!("/deals/{id}/events"),
        &[("_csrf", owner.csrf.as_str()), ("type", "accept"), ("version", "1")],
    );
    let moved = fx.send(crate::fixture::with_cookie(form, &owner)).await;
    assert_eq!(moved.status, 303, "{}", moved.text);
    let after = page(&asker).await.text;
    assert!(after.contains("已接受"), "accepted");
    // The timeline shows the acceptance; the asker may now record a meeting or an agreement.
    let timeline = after.split("deal-timeline").nth(1).unwrap();
    assert!(timeline.contains("data-event=\"accept\""));
    let actions = after.split("id=\"deal-actions\"").nth(1).unwrap();
    assert_eq!(events(actions), ["meeting", "sign", "close", "appoint_broker"]);
    let meeting = crate::fixture::form_request(
        "POST",
        &format!("/deals/{id}/events"),
        &[
            ("_csrf", asker.csrf.as_str()),
            ("type", "meeting"),
            ("version", "2"),
            ("at", "2027-03-01T09:30"),
            ("place", "雄安新区"),
        ],
    );
    assert_eq!(fx.send(crate::fixture::with_cookie(meeting, &asker)).await.status, 303);
    let deal = fx.get(Who::BMember, &format!("/api/v1/deals/{id}")).await.json();
    assert_eq!(deal["state"], "meeting");
    assert_eq!(deal["timeline"][1]["event"]["at"], "2027-03-01T09:30:00+08:00");
    let account =
        fx.send(crate::fixture::with_cookie(crate::fixture::json_request("GET", "/account", None), &asker)).await.text;
    let section = account.split("id=\"deals\"").nth(1).expect("the account page has a deals section");
    assert!(
        section.contains("data-state=\"meeting\"") && section.contains(&format!("/deals/{id}")),
        "grouped by state"
    );
}
