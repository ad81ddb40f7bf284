//! Claims in the pages: the listing page of an organisation nobody represents says who handles
//! deals for it and offers a member account of no organisation the claim form; the claimant
//! follows the claim on `/account`, where the region's operator approves or rejects it.

use crate::fixture::{Fixture, PASSWORD, Reply, Session, Who, form_request, json_request, with_cookie};
use serde_json::json;
use xietong_domain::Role;

/// An organisation known only as the owner named by imported listings (no account, no record).
const NOBODY: &str = "丰台无账号精密制造有限公司";
/// Its code, on its enterprise listing.
const NOBODY_USCC: &str = "91110108551385082Q";
const NOTE_ZH: &str = "该机构尚未入驻平台，对接由所在区域的运营方和技术经理人代为处理";

/// NOBODY's enterprise listing and a public achievement of it in 110106; the achievement's id.
fn unrepresented_listing(fx: &Fixture) -> String {
    fx.store_listing(json!({
        "kind": "enterprise", "title": NOBODY, "summary": "精密零部件加工", "region_codes": ["110106"],
        "owner_org": NOBODY, "visibility": "public", "status": "published", "uscc": NOBODY_USCC,
    }));
    let listing = fx.store_listing(json!({
        "kind": "achievement", "title": "五轴联动数控加工工艺", "summary": "航空结构件高效加工", "trl": 7,
        "region_codes": ["110106"], "owner_org": NOBODY, "visibility": "public", "status": "published",
    }));
    fx.sync();
    listing.id.to_string()
}

async fn get_as(fx: &Fixture, session: &Session, uri: &str) -> Reply {
    fx.send(with_cookie(json_request("GET", uri, None), session)).await
}

/// Posts a form with the session cookie and, as the pages' forms do, its CSRF token.
async fn post_as(fx: &Fixture, session: &Session, uri: &str, pairs: &[(&str, &str)]) -> Reply {
    let mut pairs = pairs.to_vec();
    pairs.push(("_csrf", &session.csrf));
    fx.send(with_cookie(form_request("POST", uri, &pairs), session)).await
}

#[tokio::test]
async fn an_unrepresented_organisation_is_claimed_from_its_listing_and_approved_on_the_account_page() {
    let fx = Fixture::new();
    let listing = unrepresented_listing(&fx);
    let page_uri = format!("/listings/{listing}");
    fx.add_user("claimant", Role::Member, None);
    let claimant = fx.login("claimant", PASSWORD).await;

    // Everyone reads the note; only the member account of no organisation gets the form.
    let anonymous = fx.get(Who::Anonymous, &page_uri).await;
    assert_eq!(anonymous.status, 200);
    assert!(anonymous.text.contains(NOTE_ZH), "{}", anonymous.text);
    assert!(!anonymous.text.contains(r#"id="claim-form""#), "no claim form for visitors");
    let english = fx.get(Who::Anonymous, &format!("{page_uri}?lang=en")).await;
    assert!(english.text.contains("has not joined the platform yet"), "{}", english.text);
    let member_of_another = fx.get(Who::BMember, &page_uri).await;
    assert!(member_of_another.text.contains(NOTE_ZH));
    assert!(!member_of_another.text.contains(r#"id="claim-form""#), "a member of OrgB cannot claim");
    let represented = fx.get(Who::CMember, &format!("/listings/{}", fx.listings[&crate::fixture::Vis::Public])).await;
    assert_eq!(represented.status, 200);
    assert!(!represented.text.contains(NOTE_ZH), "OrgA is represented");

    let page = get_as(&fx, &claimant, &page_uri).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains(r#"id="claim-form""#), "{}", page.text);
    assert!(page.text.contains(r#"action="/orgs/claims""#));
    assert!(page.text.contains(&format!(r#"name="org" value="{NOBODY}""#)));
    assert!(page.text.contains(&format!(r#"name="_csrf" value="{}""#, claimant.csrf)), "the form carries the token");

    // A wrong code is refused, clearly; a right one opens the claim.
    let refused =
        post_as(&fx, &claimant, "/orgs/claims", &[("org", NOBODY), ("uscc", "123"), ("listing", &listing)]).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.text.contains(r#"id="refused""#) && refused.text.contains("统一社会信用代码有误"),
        "{}",
        refused.text
    );
    assert!(refused.text.contains(&format!(r#"href="{page_uri}""#)), "leads back to the listing");
    let created = post_as(
        &fx,
        &claimant,
        "/orgs/claims",
        &[("org", NOBODY), ("uscc", NOBODY_USCC), ("note", "我是法人代表"), ("listing", &listing)],
    )
    .await;
    assert_eq!(created.status, 303, "{}", created.text);
    assert_eq!(created.header("location"), Some("/account#claims"));
    let claims = get_as(&fx, &claimant, "/api/v1/claims").await.json();
    let claims = claims.as_array().expect("claims");
    assert_eq!(claims.len(), 1, "{claims:?}");
    assert_eq!(claims[0]["state"], "pending");
    assert_eq!(claims[0]["org_name"], NOBODY);
    let id = claims[0]["id"].as_i64().expect("id");
    let twice = post_as(&fx, &claimant, "/orgs/claims", &[("org", NOBODY), ("uscc", NOBODY_USCC)]).await;
    assert_eq!(twice.status, 409, "{}", twice.text);

    // The claimant follows it on the account page and on the listing.
    let account = get_as(&fx, &claimant, "/account").await;
    assert_eq!(account.status, 200);
    assert!(account.text.contains(r#"id="claims""#) && account.text.contains("机构认领"));
    assert!(account.text.contains(NOBODY) && account.text.contains("待审核"), "{}", account.text);
    assert!(account.text.contains(&format!(r#"id="withdraw-claim-{id}""#)));
    assert!(!account.text.contains(&format!(r#"id="approve-claim-{id}""#)), "the claimant does not decide");
    let page = get_as(&fx, &claimant, &page_uri).await;
    assert!(page.text.contains(r#"id="claim-pending""#) && !page.text.contains(r#"id="claim-form""#));
    let own_approval = post_as(&fx, &claimant, &format!("/account/claims/{id}"), &[("decision", "approve")]).await;
    assert_eq!(own_approval.status, 403, "{}", own_approval.text);

    // The operator of 110106 sees it and decides: a rejection needs a reason.
    let operator = fx.login("region_op", PASSWORD).await;
    let desk = get_as(&fx, &operator, "/account").await;
    assert_eq!(desk.status, 200);
    assert!(desk.text.contains(&format!(r#"id="approve-claim-{id}""#)), "{}", desk.text);
    assert!(desk.text.contains(&format!(r#"id="reject-claim-{id}""#)));
    assert!(desk.text.contains("我是法人代表") && desk.text.contains("claimant"));
    let unreasoned =
        post_as(&fx, &operator, &format!("/account/claims/{id}"), &[("decision", "reject"), ("reason", " ")]).await;
    assert_eq!(unreasoned.status, 400, "{}", unreasoned.text);
    assert!(unreasoned.text.contains(r#"id="refused""#));
    let approved = post_as(&fx, &operator, &format!("/account/claims/{id}"), &[("decision", "approve")]).await;
    assert_eq!(approved.status, 303, "{}", approved.text);
    assert_eq!(approved.header("location"), Some("/account#claims"));
    let again = post_as(&fx, &operator, &format!("/account/claims/{id}"), &[("decision", "approve")]).await;
    assert_eq!(again.status, 409, "{}", again.text);

    // The claimant now represents the organisation; the note and the form are gone.
    let me = get_as(&fx, &claimant, "/api/v1/me").await.json();
    assert_eq!(me["org"], NOBODY, "{me}");
    let account = get_as(&fx, &claimant, "/account").await;
    assert!(account.text.contains("已通过"), "{}", account.text);
    let page = fx.get(Who::Anonymous, &page_uri).await;
    assert!(!page.text.contains(NOTE_ZH), "the organisation is represented now");
}

/// Opens a claim on NOBODY from its listing's page; the claim's id.
async fn open_claim(fx: &Fixture, claimant: &Session, listing: &str) -> i64 {
    let pairs = [("org", NOBODY), ("uscc", NOBODY_USCC), ("listing", listing)];
    let reply = post_as(fx, claimant, "/orgs/claims", &pairs).await;
    assert_eq!(reply.status, 303, "{}", reply.text);
    let claims = get_as(fx, claimant, "/api/v1/claims?state=pending").await.json();
    claims[0]["id"].as_i64().expect("id")
}

#[tokio::test]
async fn a_claimant_withdraws_and_a_rejection_shows_its_reason() {
    let fx = Fixture::new();
    let listing = unrepresented_listing(&fx);
    fx.add_user("claimant", Role::Member, None);
    let claimant = fx.login("claimant", PASSWORD).await;
    let first = open_claim(&fx, &claimant, &listing).await;
    let withdrawn = post_as(&fx, &claimant, &format!("/account/claims/{first}"), &[("decision", "withdraw")]).await;
    assert_eq!(withdrawn.status, 303, "{}", withdrawn.text);
    let account = get_as(&fx, &claimant, "/account").await;
    assert!(account.text.contains("已撤回"), "{}", account.text);

    let second = open_claim(&fx, &claimant, &listing).await;
    let operator = fx.login("region_op", PASSWORD).await;
    let rejected = post_as(
        &fx,
        &operator,
        &format!("/account/claims/{second}"),
        &[("decision", "reject"), ("reason", "代码与营业执照不符")],
    )
    .await;
    assert_eq!(rejected.status, 303, "{}", rejected.text);
    let account = get_as(&fx, &claimant, "/account").await;
    assert!(account.text.contains("未通过") && account.text.contains("代码与营业执照不符"), "{}", account.text);
    let unknown = post_as(&fx, &claimant, &format!("/account/claims/{second}"), &[("decision", "maybe")]).await;
    assert_eq!(unknown.status, 400);
}
