//! Organisations nobody represents: deals with them go to the operators and technology managers
//! of their region, who act for the owner (audited as such) while the asker sees who handles
//! it; a user claims such an organisation with its unified social credit code, the region
//! operator approves, and its listings and open deals pass to the claimant.

use crate::fixture::{self, Fixture, Who};
use serde_json::{Value, json};
use xietong_domain::Role;
use xietong_store::AuditFilter;

/// An organisation known only as the owner named by imported listings (no account, no record).
const NOBODY: &str = "丰台无账号精密制造有限公司";
/// Its code, on its enterprise listing.
const NOBODY_USCC: &str = "91110108551385082Q";

fn unrepresented_listings(fx: &Fixture) -> String {
    fx.store_listing(json!({
        "kind": "enterprise", "title": NOBODY, "summary": "精密零部件加工", "region_codes": ["110106"],
        "owner_org": NOBODY, "visibility": "public", "status": "published", "uscc": NOBODY_USCC,
    }));
    let listing = fx.store_listing(json!({
        "kind": "achievement", "title": "五轴联动数控加工工艺", "summary": "航空结构件高效加工", "trl": 7,
        "region_codes": ["110106"], "owner_org": NOBODY, "visibility": "public", "status": "published",
        "contact": {"name": "赵工", "phone": "13900139000"},
    }));
    fx.sync();
    listing.id.to_string()
}

fn handlers(deal: &Value) -> Vec<String> {
    deal["handled_by"].as_array().unwrap().iter().map(|h| h["username"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_deal_with_an_unrepresented_owner_is_handled_for_it_until_the_organisation_is_claimed() {
    let fx = Fixture::new();
    let listing = unrepresented_listings(&fx);

    let proposed =
        fx.call(Who::BMember, "POST", "/api/v1/deals", Some(json!({"listing_id": listing, "message": "想合作"}))).await;
    assert_eq!(proposed.status, 201, "{}", proposed.text);
    let deal = proposed.json();
    let id = deal["id"].as_i64().unwrap();
    // The operator of 110106 and the Beijing technology manager handle it; the asker sees them.
    assert_eq!(handlers(&deal), vec!["region_op".to_string(), "tm".to_string()]);
    let seen = fx.get(Who::BMember, &format!("/api/v1/deals/{id}")).await.json();
    assert_eq!(handlers(&seen), handlers(&deal));
    let page = fx.get(Who::BMember, &format!("/deals/{id}")).await;
    assert!(page.text.contains("deal-handled-by"), "the deal page names who handles it");

    // The handlers were told; a third organisation neither sees nor moves it; the handler sees
    // it in its list.
    for who in [Who::RegionOp, Who::Tm] {
        let inbox = fx.get(who, "/api/v1/inbox").await.json();
        assert!(
            inbox["items"].as_array().unwrap().iter().any(|i| i["event"] == "deal.proposed" && i["deal_id"] == id),
            "{who:?}: {inbox}"
        );
    }
    assert_eq!(
        fx.call(
            Who::CMember,
            "POST",
            &format!("/api/v1/deals/{id}/events"),
            Some(json!({"type": "accept", "version": 1}))
        )
        .await
        .status,
        404
    );
    let listed = fx.get(Who::Tm, "/api/v1/deals").await.json();
    assert!(listed.as_array().unwrap().iter().any(|d| d["id"] == id), "{listed}");

    // The technology manager accepts for the owner: audited as acting for it.
    let accepted = fx
        .call(Who::Tm, "POST", &format!("/api/v1/deals/{id}/events"), Some(json!({"type": "accept", "version": 1})))
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(accepted.json()["state"], "accepted");
    let (entries, _) = fx
        .app
        .accounts()
        .audit_entries(&AuditFilter { action_prefix: Some("deal.accept".into()), ..AuditFilter::default() }, 10, 0)
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor, "tm");
    assert_eq!(entries[0].detail["acting_for"]["org"], NOBODY, "{}", entries[0].detail);

    // A newcomer claims the organisation by the name its listings carry.
    let (_, newcomer) = fx.add_user("newcomer", Role::Member, None);
    let claims_url = format!("/api/v1/orgs/{}/claims", urlencode(NOBODY));
    let send = |token: &str, method: &str, uri: &str, body: Option<Value>| {
        let request = fixture::with_bearer(fixture::json_request(method, uri, body), Some(token));
        fx.send(request)
    };
    let bad = send(&newcomer, "POST", &claims_url, Some(json!({"uscc": "123"}))).await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    let wrong = send(&newcomer, "POST", &claims_url, Some(json!({"uscc": "91350100M000100Y44"}))).await;
    assert_eq!(wrong.status, 400, "a valid code that is not the organisation's: {}", wrong.text);
    assert!(wrong.text.contains("uscc"), "{}", wrong.text);
    let member = fx.call(Who::BMember, "POST", &claims_url, Some(json!({"uscc": NOBODY_USCC}))).await;
    assert_eq!(member.status, 409, "a member of another organisation cannot claim: {}", member.text);
    let created =
        send(&newcomer, "POST", &claims_url, Some(json!({"uscc": NOBODY_USCC, "note": "我是法人代表"}))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let claim = created.json();
    assert_eq!(claim["state"], "pending");
    let claim_id = claim["id"].as_i64().unwrap();
    let again = send(&newcomer, "POST", &claims_url, Some(json!({"uscc": NOBODY_USCC}))).await;
    assert_eq!(again.status, 409, "{}", again.text);

    // Who sees the claim, who decides it.
    let mine = send(&newcomer, "GET", "/api/v1/claims", None).await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let operators = fx.get(Who::RegionOp, "/api/v1/claims?state=pending").await.json();
    assert_eq!(operators.as_array().unwrap().len(), 1, "{operators}");
    assert!(fx.get(Who::BMember, "/api/v1/claims").await.json().as_array().unwrap().is_empty());
    let approve = format!("/api/v1/claims/{claim_id}/approve");
    assert_eq!(send(&newcomer, "POST", &approve, None).await.status, 403, "the claimant does not approve");
    assert_eq!(fx.call(Who::BMember, "POST", &approve, None).await.status, 404);
    let reject = fx
        .call(Who::RegionOp, "POST", &format!("/api/v1/claims/{claim_id}/reject"), Some(json!({"reason": " "})))
        .await;
    assert_eq!(reject.status, 400, "a rejection says why: {}", reject.text);

    let operator_inbox = fx.get(Who::RegionOp, "/api/v1/inbox").await.json();
    assert!(operator_inbox.to_string().contains("claim.submitted"), "the operator is told: {operator_inbox}");

    // Ten concurrent approvals: exactly one wins.
    let replies =
        crate::deals::join_all((0..10).map(|_| fx.call(Who::RegionOp, "POST", &approve, None)).collect()).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 409), "{statuses:?}");

    // The organisation and its open deal pass to the claimant; nobody handles it for it now.
    let told = send(&newcomer, "GET", "/api/v1/inbox", None).await.json();
    let approvals = told["items"].as_array().unwrap().iter().filter(|i| i["event"] == "claim.approved").count();
    assert_eq!(approvals, 1, "the claimant is told once: {told}");
    let me = send(&newcomer, "GET", "/api/v1/me", None).await.json();
    assert_eq!(me["org"], NOBODY, "{me}");
    let now = send(&newcomer, "GET", &format!("/api/v1/deals/{id}"), None).await;
    assert_eq!(now.status, 200, "{}", now.text);
    assert!(handlers(&now.json()).is_empty());
    let meeting = json!({"type": "meeting", "version": 2, "at": "2027-03-01T09:30:00+08:00", "place": "丰台科技园"});
    let moved = send(&newcomer, "POST", &format!("/api/v1/deals/{id}/events"), Some(meeting.clone())).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    let meeting = json!({"type": "close", "version": 3, "reason": "试探"});
    assert_eq!(
        fx.call(Who::Tm, "POST", &format!("/api/v1/deals/{id}/events"), Some(meeting)).await.status,
        404,
        "the handler's part ends"
    );
    let second = fx.add_user("latecomer", Role::Member, None).1;
    let late = send(&second, "POST", &claims_url, Some(json!({"uscc": NOBODY_USCC}))).await;
    assert_eq!(late.status, 409, "a represented organisation is not claimable: {}", late.text);
}

#[tokio::test]
async fn contact_requests_are_deals() {
    let fx = Fixture::new();
    let listing = fx.store_listing(json!({
        "kind": "achievement", "title": "固态电池电解质", "summary": "硫化物电解质", "trl": 5,
        "region_codes": ["110106"], "owner_org": fixture::ORG_A, "visibility": "public", "status": "published",
        "contact": {"name": "李工", "phone": "13700137000"},
    }));
    fx.sync();
    let asked = fx
        .call(
            Who::BMember,
            "POST",
            &format!("/api/v1/listings/{}/contact-requests", listing.id),
            Some(json!({"message": "请联系"})),
        )
        .await;
    assert_eq!(asked.status, 201, "{}", asked.text);
    let id = asked.json()["id"].as_i64().unwrap();
    let deal = fx.get(Who::BMember, &format!("/api/v1/deals/{id}")).await;
    assert_eq!(deal.status, 200, "the request is the deal: {}", deal.text);
    assert_eq!(deal.json()["state"], "proposed");
    let twice =
        fx.call(Who::BMember, "POST", "/api/v1/deals", Some(json!({"listing_id": listing.id.to_string()}))).await;
    assert_eq!(twice.status, 409, "one open deal per pair, whichever route asked");
    let accepted = fx.call(Who::AMember, "POST", &format!("/api/v1/contact-requests/{id}/accept"), None).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(accepted.json()["state"], "accepted");
    assert_eq!(fx.get(Who::BMember, &format!("/api/v1/deals/{id}")).await.json()["state"], "accepted");
    let shown = fx.get(Who::BMember, &format!("/api/v1/listings/{}", listing.id)).await.json();
    assert_eq!(shown["contact"]["phone"], "13700137000");
    assert_eq!(
        fx.call(Who::AMember, "POST", &format!("/api/v1/contact-requests/{id}/decline"), None).await.status,
        409
    );
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
