//! Issue 18 through the API: the fixed routes and field names of credentials (issue → 201 with
//! the W3C credential, read, verify with `valid` / `reason` / `issuer` / `recognised_as`, the
//! signed status list, revoke), the talent card with its QR code, engagements with the
//! commitment rule's 409s, and the service catalogue's search.

use serde_json::{Value, json};

use crate::fixture::{Fixture, ORG_A, ORG_B, Who};

fn talent(fx: &Fixture) -> String {
    let listing = fx.store_listing(json!({
        "kind": "talent", "title": "孙工", "summary": "氢燃料电池", "region_codes": ["110106"],
        "owner_org": ORG_A, "visibility": "public", "status": "published",
    }));
    fx.sync();
    listing.id.to_string()
}

#[tokio::test]
async fn credentials_are_issued_verified_recognised_and_revoked_through_the_api() {
    let fx = Fixture::new();
    let id = talent(&fx);
    let body = json!({"talent": id, "level": "高级工程师", "field": "氢能", "valid_days": 365, "issuer": "110106"});
    let refused = fx.call(Who::BMember, "POST", "/api/v1/credentials", Some(body.clone())).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let issued = fx.call(Who::RegionOp, "POST", "/api/v1/credentials", Some(body)).await;
    assert_eq!(issued.status, 201, "{}", issued.text);
    let credential = issued.json();
    assert_eq!(credential["@context"][0], "https://www.w3.org/ns/credentials/v2");
    assert_eq!(credential["type"], json!(["VerifiableCredential", "TalentEvaluationCredential"]));
    assert_eq!(credential["issuer"]["id"], "urn:xietong:issuer:110106");
    assert_eq!(credential["credentialSubject"]["level"], "高级工程师");
    assert_eq!(credential["credentialStatus"]["type"], "BitstringStatusListEntry");
    assert_eq!(credential["proof"]["type"], "DataIntegrityProof");
    let credential_id = credential["id"].as_str().unwrap().to_string();

    let issuers = fx.get(Who::Anonymous, "/.well-known/xietong/issuers.json").await.json();
    assert_eq!(issuers["issuers"][0]["region_code"], "110106");
    assert!(issuers["issuers"][0]["verificationMethod"][0]["publicKeyMultibase"].as_str().unwrap().starts_with("z6Mk"));
    let read = fx.get(Who::Anonymous, &format!("/api/v1/credentials/{credential_id}")).await;
    assert_eq!(read.json(), credential);

    let rule = json!({"verifier_region": "133100", "issuer_region": "110106", "issuer_level": "高级工程师", "recognised_level": "高级工程师（雄安）"});
    let added = fx.call(Who::Admin, "POST", "/api/v1/recognition-rules", Some(rule.clone())).await;
    assert_eq!(added.status, 201, "{}", added.text);
    let twice = fx.call(Who::Admin, "POST", "/api/v1/recognition-rules", Some(rule)).await;
    assert_eq!(twice.status, 409, "{}", twice.text);

    let verified =
        fx.call(Who::Anonymous, "POST", "/api/v1/credentials/verify?region=133100", Some(credential.clone())).await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    let verified = verified.json();
    assert_eq!((verified["valid"].clone(), verified["reason"].clone()), (json!(true), json!("valid")));
    assert_eq!(verified["issuer"]["region_code"], "110106");
    assert_eq!(
        verified["recognised_as"],
        json!([{"region": "133100", "region_name": "雄安新区", "level": "高级工程师（雄安）"}])
    );

    let mut changed = credential.clone();
    changed["validUntil"] = json!("2099-01-01T00:00:00Z");
    let bad = fx
        .call(Who::Anonymous, "POST", "/api/v1/credentials/verify", Some(json!({"credential": changed})))
        .await
        .json();
    assert_eq!((bad["valid"].clone(), bad["reason"].clone()), (json!(false), json!("bad_signature")));

    let card = fx.get(Who::Anonymous, &format!("/api/v1/talents/{id}/card")).await;
    assert_eq!(card.status, 200, "{}", card.text);
    let card = card.json();
    assert_eq!(card["credentials"][0]["level"], "高级工程师");
    assert!(card["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(card["link"].as_str().unwrap().contains(&credential_id));

    let revoked = fx
        .call(
            Who::RegionOp,
            "POST",
            &format!("/api/v1/credentials/{credential_id}/revoke"),
            Some(json!({"reason": "复核未通过"})),
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    let again = fx
        .call(
            Who::RegionOp,
            "POST",
            &format!("/api/v1/credentials/{credential_id}/revoke"),
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text);
    let list = fx.get(Who::Anonymous, "/api/v1/credentials/status/110106").await.json();
    assert_eq!(list["type"][1], "BitstringStatusListCredential");
    assert_eq!(list["credentialSubject"]["statusPurpose"], "revocation");
    let index: usize = credential["credentialStatus"]["statusListIndex"].as_str().unwrap().parse().unwrap();
    let encoded = list["credentialSubject"]["encodedList"].as_str().unwrap();
    assert!(xietong_domain::credential::status_bit(encoded, index).unwrap());
    let after = fx.call(Who::Anonymous, "POST", "/api/v1/credentials/verify", Some(credential)).await.json();
    assert_eq!(after["reason"], "revoked");
    let card = fx.get(Who::Anonymous, &format!("/api/v1/talents/{id}/card")).await.json();
    assert_eq!(card["credentials"], json!([]), "a revoked credential leaves the card");
}

async fn propose(fx: &Fixture, talent: &str, extra: Value) -> crate::fixture::Reply {
    let mut body = json!({"talent": talent, "start": "2026-03-01", "end": "2026-12-31"});
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    fx.call(Who::BMember, "POST", "/api/v1/engagements", Some(body)).await
}

#[tokio::test]
async fn engagements_refuse_the_same_weekend_day_and_shares_above_100() {
    let fx = Fixture::new();
    let id = talent(&fx);
    let first = propose(&fx, &id, json!({"mode": "weekend_engineer", "weekdays": [6, 7]})).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let engagement = first.json();
    assert_eq!(engagement["organisation"], ORG_B);
    assert_eq!(engagement["state"], "proposed");
    assert_eq!(engagement["weekdays"], json!([6, 7]));
    let clash = propose(&fx, &id, json!({"mode": "weekend_engineer", "weekdays": [7]})).await;
    assert_eq!(clash.status, 409, "{}", clash.text);
    let sunday_later = propose(
        &fx,
        &id,
        json!({"mode": "weekend_engineer", "weekdays": [7], "start": "2027-01-01", "end": "2027-06-30"}),
    )
    .await;
    assert_eq!(sunday_later.status, 201, "{}", sunday_later.text);
    assert_eq!(propose(&fx, &id, json!({"mode": "dual_appointment", "share_percent": 60})).await.status, 201);
    let over = propose(&fx, &id, json!({"mode": "dual_appointment", "share_percent": 50})).await;
    assert_eq!(over.status, 409, "{}", over.text);
    let full = propose(&fx, &id, json!({"mode": "full_time"})).await;
    assert_eq!(full.status, 409, "{}", full.text);
    let bad = propose(&fx, &id, json!({"mode": "weekend_engineer"})).await;
    assert_eq!(bad.status, 400, "{}", bad.text);

    // The talent's organisation is told of the offer; the organisation of the answer.
    let inbox = fx.get(Who::AMember, "/api/v1/inbox").await.json();
    assert!(inbox["items"].as_array().unwrap().iter().any(|item| item["event"] == "engagement.proposed"), "{inbox}");
    let path = format!("/api/v1/engagements/{}/respond", engagement["id"]);
    let by_org = fx.call(Who::BMember, "POST", &path, Some(json!({"action": "accept"}))).await;
    assert_eq!(by_org.status, 403, "{}", by_org.text);
    let accepted = fx.call(Who::AMember, "POST", &path, Some(json!({"action": "accept", "version": 1}))).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(accepted.json()["state"], "accepted");
    let inbox = fx.get(Who::BMember, "/api/v1/inbox").await.json();
    assert!(inbox["items"].as_array().unwrap().iter().any(|item| item["event"] == "engagement.decided"), "{inbox}");
    let stale = fx.call(Who::AMember, "POST", &path, Some(json!({"action": "end", "version": 1}))).await;
    assert_eq!(stale.status, 409, "{}", stale.text);
    // The talent is in Fengtai (Beijing), OrgB in Hebei.
    let stats = fx.get(Who::Anonymous, "/api/v1/stats/engagements").await.json();
    assert_eq!(stats["beijing_talents_serving_tianjin_hebei"], 1);
    assert_eq!(stats["by_mode"]["weekend_engineer"], 1);
}

#[tokio::test]
async fn the_catalogue_is_searched_imported_and_exported() {
    let fx = Fixture::new();
    let csv = "code,name,area,regions,cross_region,documents,office,time_limit_days\n\
               T1,社会保险关系转移申请,社保,110106;133100,是,居民身份证,丰台区政务服务中心,10\n\
               T2,随迁子女入学申请,子女教育,133100,否,户口簿,雄安新区政务服务中心,15\n";
    let mut request = fx.request(Who::RegionOp, "POST", "/api/v1/services/import", None);
    *request.body_mut() = axum::body::Body::from(csv);
    let imported = fx.send(request).await;
    assert_eq!(imported.status, 200, "{}", imported.text);
    assert_eq!(imported.json()["imported"], 2);
    let found = fx.get(Who::Anonymous, "/api/v1/services?q=%E7%A4%BE%E4%BF%9D").await.json();
    assert_eq!(found["total"], 1, "{found}");
    let item = &found["items"][0];
    for field in ["code", "name", "area", "regions", "cross_region", "documents", "office", "time_limit_days"] {
        assert!(item.get(field).is_some(), "{field}");
    }
    assert_eq!(item["area"], "社保");
    let fengtai = fx.get(Who::Anonymous, "/api/v1/services?region=110106").await.json();
    assert_eq!(fengtai["total"], 1);
    let traditional = fx.get(Who::Anonymous, "/api/v1/services?q=%E9%9A%A8%E9%81%B7%E5%AD%90%E5%A5%B3").await.json();
    assert_eq!(traditional["total"], 1, "随遷子女 (traditional) finds 随迁子女: {traditional}");
    let exported = fx.get(Who::Anonymous, "/api/v1/services/export").await;
    assert!(exported.text.contains("T2,随迁子女入学申请,子女教育,133100,否"), "{}", exported.text);
    assert_eq!(fx.get(Who::Anonymous, "/api/v1/services?limit=500").await.status, 400);
}

#[tokio::test]
async fn the_talent_page_shows_the_card_and_the_catalogue_page_lists_areas() {
    let fx = Fixture::new();
    let id = talent(&fx);
    let body = json!({"talent": id, "level": "正高级工程师", "field": "氢能", "valid_days": 30, "issuer": "110106"});
    let issued = fx.call(Who::RegionOp, "POST", "/api/v1/credentials", Some(body)).await.json();
    let rule = json!({"verifier_region": "133100", "issuer_region": "110106", "issuer_level": "正高级工程师", "recognised_level": "正高级工程师"});
    assert_eq!(fx.call(Who::Admin, "POST", "/api/v1/recognition-rules", Some(rule)).await.status, 201);
    let page = fx.get(Who::Anonymous, &format!("/listings/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("京雄人才服务一卡通"), "{}", page.text);
    assert!(page.text.contains("<svg"), "the QR code");
    assert!(page.text.contains(r#"data-region="133100""#), "a badge for Xiong'an");
    let english = fx.get(Who::Anonymous, &format!("/listings/{id}?lang=en")).await;
    assert!(english.text.contains("Jing–Xiong talent service card"));
    let id_q = issued["id"].as_str().unwrap();
    let verify = fx.get(Who::Anonymous, &format!("/credentials/verify?id={id_q}")).await;
    assert!(verify.text.contains(r#"data-reason="valid""#), "{}", verify.text);
    let services = fx.get(Who::Anonymous, "/services").await;
    assert_eq!(services.status, 200);
    assert!(services.text.contains("跨省通办服务目录"));
}

#[tokio::test]
async fn the_talent_side_answers_an_offer_on_the_talent_page() {
    let fx = Fixture::new();
    let id = talent(&fx);
    let offer = propose(&fx, &id, json!({"mode": "remote_consulting"})).await.json();
    let hidden = fx.get(Who::BMember, &format!("/listings/{id}")).await;
    assert!(!hidden.text.contains("/respond"), "only the talent's side gets the forms");
    let session = fx.login("a_member", crate::fixture::PASSWORD).await;
    let page = fx
        .send(crate::fixture::with_cookie(
            crate::fixture::json_request("GET", &format!("/listings/{id}"), None),
            &session,
        ))
        .await;
    assert!(page.text.contains(&format!("/engagements/{}/respond", offer["id"])), "{}", page.text);
    let form = crate::fixture::form_request(
        "POST",
        &format!("/engagements/{}/respond", offer["id"]),
        &[("action", "accept"), ("version", "1"), ("_csrf", &session.csrf), ("back", &format!("/listings/{id}"))],
    );
    let answered = fx.send(crate::fixture::with_cookie(form, &session)).await;
    assert_eq!(answered.status, 303, "{}", answered.text);
    let read = fx.get(Who::AMember, &format!("/api/v1/engagements/{}", offer["id"])).await.json();
    assert_eq!(read["state"], "accepted");
}

async fn signed_deal(fx: &Fixture, talent: &str, asker: Who, sign: Value) -> (i64, crate::fixture::Reply) {
    let proposed = fx.call(asker, "POST", "/api/v1/deals", Some(json!({"listing_id": talent}))).await;
    assert_eq!(proposed.status, 201, "{}", proposed.text);
    let deal = proposed.json()["id"].as_i64().unwrap();
    let path = format!("/api/v1/deals/{deal}/events");
    let accepted = fx.call(Who::AMember, "POST", &path, Some(json!({"type": "accept", "version": 1}))).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    let mut body = json!({"type": "sign", "version": 2, "signed_on": "2027-03-01"});
    for (key, value) in sign.as_object().unwrap() {
        body[key] = value.clone();
    }
    (deal, fx.call(Who::AMember, "POST", &path, Some(body)).await)
}

#[tokio::test]
async fn signing_a_dual_appointment_deal_engages_the_talent_within_the_commitment_rule() {
    let fx = Fixture::new();
    let id = talent(&fx);
    let (_, signed) =
        signed_deal(&fx, &id, Who::BMember, json!({"agreement_type": "dual_appointment", "share_percent": 60})).await;
    assert_eq!(signed.status, 200, "{}", signed.text);
    let engagements = fx.get(Who::Anonymous, &format!("/api/v1/talents/{id}/engagements")).await.json();
    let items = engagements["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{engagements}");
    assert_eq!(items[0]["organisation"], ORG_B);
    assert_eq!(items[0]["mode"], "dual_appointment");
    assert_eq!(items[0]["share_percent"], 60);
    assert_eq!(items[0]["state"], "accepted", "the talent's side signed");
    assert_eq!((items[0]["start"].as_str(), items[0]["end"].as_str()), (Some("2027-03-01"), Some("2028-02-29")));

    // A second dual appointment over 100% of the talent's time is refused and the deal stays
    // where it was; a smaller share signs.
    let (deal, over) = signed_deal(
        &fx,
        &id,
        Who::CMember,
        json!({"agreement_type": "dual_appointment", "share_percent": 50, "until": "2027-12-31"}),
    )
    .await;
    assert_eq!(over.status, 409, "{}", over.text);
    assert!(over.text.contains("100"), "names the rule: {}", over.text);
    let unchanged = fx.get(Who::CMember, &format!("/api/v1/deals/{deal}")).await.json();
    assert_eq!((unchanged["state"].as_str(), unchanged["version"].as_i64()), (Some("accepted"), Some(2)));
    let path = format!("/api/v1/deals/{deal}/events");
    let body = json!({"type": "sign", "version": 2, "signed_on": "2027-03-01", "agreement_type": "dual_appointment",
        "share_percent": 40, "until": "2027-12-31"});
    let fits = fx.call(Who::AMember, "POST", &path, Some(body)).await;
    assert_eq!(fits.status, 200, "{}", fits.text);
    let items = fx.get(Who::Anonymous, &format!("/api/v1/talents/{id}/engagements")).await.json()["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 2, "{items}");
}
