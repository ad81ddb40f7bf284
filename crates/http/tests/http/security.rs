//! Login throttling, CSRF, API tokens, sessions, contact masking and consent, review before
//! publication, personal data, and the audit trail, through the router.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use crate::fixture::{
    Fixture, ORG_A, PASSWORD, Reply, Session, Who, form_request, json_request, with_bearer, with_cookie,
};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, header};
use serde_json::{Value, json};
use xietong_app::auth::ThrottleLimits;
use xietong_domain::{Role, Scope};

fn from_address(mut request: Request<Body>, address: &str) -> Request<Body> {
    let address: SocketAddr = address.parse().expect("socket address");
    request.extensions_mut().insert(ConnectInfo(address));
    request
}

fn login_request(username: &str, password: &str) -> Request<Body> {
    json_request("POST", "/api/v1/auth/login", Some(json!({"username": username, "password": password})))
}

fn demand(title: &str, region: &str) -> Value {
    json!({"kind": "demand", "title": title, "summary": "we need a partner", "region_codes": [region]})
}

/// A request with the session cookie and, when given, the CSRF header.
fn session_request(
    session: &Session,
    method: &str,
    uri: &str,
    body: Option<Value>,
    csrf: Option<&str>,
) -> Request<Body> {
    let mut request = with_cookie(json_request(method, uri, body), session);
    if let Some(csrf) = csrf {
        request.headers_mut().insert("x-csrf-token", csrf.parse().expect("header"));
    }
    request
}

/// Actions of the audit trail as the platform admin sees it.
async fn audit_actions(fx: &Fixture, query: &str) -> Vec<(String, String, Option<String>)> {
    let reply = fx.get(Who::Admin, &format!("/api/v1/audit?limit=200{query}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_string(),
                e["actor"].as_str().unwrap_or_default().to_string(),
                e["region_code"].as_str().map(str::to_string),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Login throttling.

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_for_a_while() {
    let fx = Fixture::new();
    for attempt in 0..5 {
        let reply = fx.send(from_address(login_request("a_member", "wrong password"), "10.0.0.1:5000")).await;
        assert_eq!(reply.status, 401, "attempt {attempt}: {}", reply.text);
    }
    let locked = fx.send(from_address(login_request("a_member", PASSWORD), "10.0.0.1:5000")).await;
    assert_eq!(locked.status, 429, "{}", locked.text);
    let retry_after: u64 = locked.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    // Also from another address: the lock is on the account.
    let elsewhere = fx.send(from_address(login_request("a_member", PASSWORD), "10.0.0.2:5000")).await;
    assert_eq!(elsewhere.status, 429);
    // The web login page says so too.
    let page = fx
        .send(from_address(
            form_request("POST", "/login", &[("username", "a_member"), ("password", PASSWORD), ("next", "/")]),
            "10.0.0.1:5000",
        ))
        .await;
    assert_eq!(page.status, 429);
    assert!(page.header("retry-after").is_some());
    // Other accounts are not affected.
    let other = fx.send(from_address(login_request("b_member", PASSWORD), "10.0.0.1:5000")).await;
    assert_eq!(other.status, 200, "{}", other.text);

    let actions = audit_actions(&fx, "&action=login.").await;
    let count = |action: &str| actions.iter().filter(|(a, _, _)| a == action).count();
    assert_eq!(count("login.failure"), 5);
    assert!(count("login.throttled") >= 3);
    assert_eq!(count("login.success"), 1);
    // A failure for an existing account belongs to its region (OrgA: 110106).
    assert!(
        actions.iter().any(|(a, actor, region)| a == "login.failure"
            && actor == "a_member"
            && region.as_deref() == Some("110106"))
    );
}

#[tokio::test]
async fn many_failures_from_one_address_block_that_address_only() {
    let fx = Fixture::with(|app| {
        app.auth_mut().limits = ThrottleLimits { per_account: 3, per_address: 5, window: Duration::from_secs(600) };
    });
    for (i, username) in ["a_member", "b_member", "c_member", "nobody", "tm"].iter().enumerate() {
        let reply = fx.send(from_address(login_request(username, "wrong password"), "10.0.0.9:1234")).await;
        assert_eq!(reply.status, 401, "failure {i}");
    }
    // No account reached its limit of 3, but the address reached 5.
    let blocked = fx.send(from_address(login_request("a_admin", PASSWORD), "10.0.0.9:1234")).await;
    assert_eq!(blocked.status, 429, "{}", blocked.text);
    assert!(blocked.header("retry-after").is_some());
    let elsewhere = fx.send(from_address(login_request("a_admin", PASSWORD), "10.0.0.10:1234")).await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.text);
    // The per-account limit is the lower one here.
    for _ in 0..3 {
        let reply = fx.send(from_address(login_request("talent", "wrong password"), "10.0.0.11:1")).await;
        assert_eq!(reply.status, 401);
    }
    let locked = fx.send(from_address(login_request("talent", PASSWORD), "10.0.0.12:1")).await;
    assert_eq!(locked.status, 429);
}

// ---------------------------------------------------------------------------------------------
// CSRF.

#[tokio::test]
async fn cookie_sessions_need_the_csrf_token_for_writes() {
    let fx = Fixture::new();
    let session = fx.login("a_member", PASSWORD).await;
    let count = || fx.app.store().counts().expect("counts").iter().map(|c| c.count).sum::<u64>();
    let before = count();

    let missing =
        fx.send(session_request(&session, "POST", "/api/v1/listings", Some(demand("no token", "110106")), None)).await;
    assert_eq!(missing.status, 403, "{}", missing.text);
    let wrong = fx
        .send(session_request(&session, "POST", "/api/v1/listings", Some(demand("wrong", "110106")), Some("nope")))
        .await;
    assert_eq!(wrong.status, 403);
    let mut cross_site =
        session_request(&session, "POST", "/api/v1/listings", Some(demand("cross", "110106")), Some(&session.csrf));
    cross_site.headers_mut().insert(header::HOST, "xietong.example".parse().unwrap());
    cross_site.headers_mut().insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    let cross_site = fx.send(cross_site).await;
    assert_eq!(cross_site.status, 403, "{}", cross_site.text);
    assert_eq!(count(), before, "nothing stored by refused requests");

    let mut same_site =
        session_request(&session, "POST", "/api/v1/listings", Some(demand("same site", "110106")), Some(&session.csrf));
    same_site.headers_mut().insert(header::HOST, "xietong.example".parse().unwrap());
    same_site.headers_mut().insert(header::ORIGIN, "https://xietong.example".parse().unwrap());
    assert_eq!(fx.send(same_site).await.status, 201);
    let right = fx
        .send(session_request(
            &session,
            "POST",
            "/api/v1/listings",
            Some(demand("right", "110106")),
            Some(&session.csrf),
        ))
        .await;
    assert_eq!(right.status, 201, "{}", right.text);
    assert_eq!(right.json()["owner_org"], ORG_A);
    // Reads need no token; the CSRF token is also in GET /api/v1/me.
    let me = fx.send(session_request(&session, "GET", "/api/v1/me", None, None)).await;
    assert_eq!(me.json()["csrf_token"], session.csrf.as_str());

    // Forms carry it in the `_csrf` field.
    let id = right.json()["id"].as_str().unwrap().to_string();
    let form = |csrf: Option<&str>| {
        let mut pairs = vec![("message", "hello")];
        if let Some(csrf) = csrf {
            pairs.push(("_csrf", csrf));
        }
        with_cookie(form_request("POST", "/logout", &pairs), &session)
    };
    assert_eq!(fx.send(form(None)).await.status, 403, "logout form without the token");
    assert_eq!(fx.send(form(Some("nope"))).await.status, 403);

    // Bearer tokens are not sent by browsers on their own, so they need no CSRF token.
    let bearer = fx.call(Who::AMember, "POST", "/api/v1/listings", Some(demand("bearer", "110106"))).await;
    assert_eq!(bearer.status, 201);
    let archived = fx.call(Who::AMember, "POST", &format!("/api/v1/listings/{id}/archive"), Some(json!({}))).await;
    assert_eq!(archived.status, 200);
    assert_eq!(count(), before + 3);

    // The logout form with the token ends the session.
    assert_eq!(fx.send(form(Some(&session.csrf))).await.status, 303);
    assert_eq!(fx.send(session_request(&session, "GET", "/api/v1/me", None, None)).await.status, 401);
}

// ---------------------------------------------------------------------------------------------
// API tokens.

#[tokio::test]
async fn tokens_are_shown_once_scoped_and_revocable() {
    let fx = Fixture::new();
    let issued = fx
        .call(Who::AMember, "POST", "/api/v1/tokens", Some(json!({"name": "nightly export", "scopes": ["read"]})))
        .await;
    assert_eq!(issued.status, 201, "{}", issued.text);
    let issued = issued.json();
    let token = issued["token"].as_str().expect("token shown once").to_string();
    assert!(token.starts_with("xt_"));
    let token_id = issued["id"].as_i64().unwrap();

    let list = fx.get(Who::AMember, "/api/v1/tokens").await;
    assert_eq!(list.status, 200);
    assert!(list.text.contains("nightly export"));
    assert!(!list.text.contains(&token), "the list never shows token values");
    assert!(!list.text.contains(fx.token(Who::AMember).unwrap()));
    assert!(!list.text.contains("token_hash"));

    // The read token reads, and may not write.
    let read = |uri: &str| with_bearer(json_request("GET", uri, None), Some(&token));
    assert_eq!(fx.send(read("/api/v1/me")).await.status, 200);
    let write = with_bearer(json_request("POST", "/api/v1/listings", Some(demand("x", "110106"))), Some(&token));
    assert_eq!(fx.send(write).await.status, 403);

    // Others can't revoke it; its holder can, and then it is refused at once.
    assert_eq!(fx.call(Who::BMember, "DELETE", &format!("/api/v1/tokens/{token_id}"), None).await.status, 404);
    assert_eq!(fx.send(read("/api/v1/me")).await.status, 200);
    assert_eq!(fx.call(Who::AMember, "DELETE", &format!("/api/v1/tokens/{token_id}"), None).await.status, 204);
    let refused = fx.send(read("/api/v1/me")).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
    // A revoked token does not fall back to anonymous on public routes either.
    assert_eq!(fx.send(read("/api/v1/search?q=x")).await.status, 401);
    let listed = fx.get(Who::AMember, "/api/v1/tokens").await.json();
    let revoked = listed.as_array().unwrap().iter().find(|t| t["id"] == token_id).expect("still listed");
    assert!(revoked["revoked_at"].is_string());

    // `xietong token issue` goes through Auth::issue_token: same rules.
    let user = fx.user(Who::AAdmin).clone();
    let (stored, cli_token) = fx
        .app
        .account()
        .auth()
        .issue_token(&user, "cli", vec![Scope::Read, Scope::Write], None, &|_| Default::default())
        .expect("issue");
    let mine = with_bearer(json_request("GET", "/api/v1/me", None), Some(&cli_token));
    let me = fx.send(mine).await.json();
    assert_eq!(me["scopes"], json!(["read", "write"]));
    assert!(me["csrf_token"].is_null());
    // Scopes can't exceed the holder's.
    let exceed = with_bearer(
        json_request("POST", "/api/v1/tokens", Some(json!({"name": "more", "scopes": ["admin"]}))),
        Some(&cli_token),
    );
    assert_eq!(fx.send(exceed).await.status, 403);
    let default = with_bearer(json_request("POST", "/api/v1/tokens", Some(json!({"name": "same"}))), Some(&cli_token));
    let default = fx.send(default).await;
    assert_eq!(default.status, 201);
    assert_eq!(default.json()["scopes"], json!(["read", "write"]), "a new token inherits the holder's scopes");
    let unknown = fx.call(Who::AMember, "POST", "/api/v1/tokens", Some(json!({"name": "x", "scopes": ["root"]}))).await;
    assert_eq!(unknown.status, 400);
    // The platform admin revokes anyone's token.
    assert_eq!(fx.call(Who::Admin, "DELETE", &format!("/api/v1/tokens/{}", stored.id), None).await.status, 204);
    assert_eq!(fx.send(with_bearer(json_request("GET", "/api/v1/me", None), Some(&cli_token))).await.status, 401);
    // Malformed credentials are refused, not ignored.
    let mut basic = json_request("GET", "/api/v1/me", None);
    basic.headers_mut().insert(header::AUTHORIZATION, "Basic YTpi".parse().unwrap());
    assert_eq!(fx.send(basic).await.status, 401);
    let made_up = with_bearer(json_request("GET", "/api/v1/search", None), Some("xt_0000"));
    assert_eq!(fx.send(made_up).await.status, 401);

    let actions = audit_actions(&fx, "&action=token.").await;
    assert!(actions.iter().any(|(a, actor, _)| a == "token.issue" && actor == "a_member"));
    assert!(actions.iter().any(|(a, actor, _)| a == "token.revoke" && actor == "a_member"));
    assert!(actions.iter().any(|(a, actor, _)| a == "token.revoke" && actor == "admin"));
}

// ---------------------------------------------------------------------------------------------
// Sessions.

#[tokio::test]
async fn sessions_end_at_logout_and_cookies_are_locked_down() {
    let fx = Fixture::new();
    let session = fx.login("c_member", PASSWORD).await;
    let cookie = &session.set_cookie;
    assert!(cookie.starts_with("xt_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag: {cookie}");
    let mut tls = login_request("c_member", PASSWORD);
    tls.headers_mut().insert("x-forwarded-proto", "https".parse().unwrap());
    let tls = fx.send(tls).await;
    assert!(tls.header("set-cookie").unwrap().contains("; Secure"), "behind TLS");

    let me = fx.send(session_request(&session, "GET", "/api/v1/me", None, None)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["username"], "c_member");
    let page = fx.send(with_cookie(json_request("GET", "/account", None), &session)).await;
    assert_eq!(page.status, 200);

    let logout = fx.send(session_request(&session, "POST", "/api/v1/auth/logout", None, Some(&session.csrf))).await;
    assert_eq!(logout.status, 204);
    assert!(logout.header("set-cookie").unwrap().contains("Max-Age=0"), "the cookie is removed");
    assert_eq!(fx.send(session_request(&session, "GET", "/api/v1/me", None, None)).await.status, 401);
    // A stale cookie is just a visitor: public pages work, private ones ask to log in.
    assert_eq!(fx.send(with_cookie(json_request("GET", "/", None), &session)).await.status, 200);
    let account = fx.send(with_cookie(json_request("GET", "/account", None), &session)).await;
    assert_eq!(account.status, 303);
    // The other session of the same user is still alive.
    let other = crate::fixture::session_of(&tls);
    assert_eq!(fx.send(session_request(&other, "GET", "/api/v1/me", None, None)).await.status, 200);

    let actions = audit_actions(&fx, "&actor=c_member").await;
    assert!(actions.iter().any(|(a, _, _)| a == "login.success"));
    assert!(actions.iter().any(|(a, _, _)| a == "logout"));
}

#[tokio::test]
async fn expired_sessions_do_not_authenticate() {
    let fx = Fixture::with(|app| app.auth_mut().session_ttl = time::Duration::seconds(-1));
    let session = fx.login("a_member", PASSWORD).await;
    let me = fx.send(session_request(&session, "GET", "/api/v1/me", None, None)).await;
    assert_eq!(me.status, 401, "{}", me.text);
    let write = fx
        .send(session_request(
            &session,
            "POST",
            "/api/v1/listings",
            Some(demand("late", "110106")),
            Some(&session.csrf),
        ))
        .await;
    assert_eq!(write.status, 401);
}

// ---------------------------------------------------------------------------------------------
// Contact details: masked until the owner consents.

const NAME: &str = "张三丰";
const PHONE: &str = "13812345678";
const EMAIL: &str = "zhang@example.com";

fn assert_masked(who: Who, text: &str) {
    assert!(
        !text.contains(PHONE) && !text.contains(EMAIL) && !text.contains(NAME),
        "{who:?} sees the contact: {text:.600}"
    );
    assert!(
        text.contains("138****5678") && text.contains("z***@example.com") && text.contains("张**"),
        "{who:?}: {text:.600}"
    );
}

fn assert_full(who: Who, text: &str) {
    assert!(
        text.contains(PHONE) && text.contains(EMAIL) && text.contains(NAME),
        "{who:?} should see the contact: {text:.600}"
    );
}

#[tokio::test]
async fn contacts_are_masked_until_the_owner_accepts_a_request() {
    let fx = Fixture::new();
    let mut body = demand("氢能 contact demand", "110106");
    body["contact"] = json!({"name": NAME, "phone": PHONE, "email": EMAIL});
    let created = fx.call(Who::AMember, "POST", "/api/v1/listings", Some(body)).await;
    assert_eq!(created.status, 201);
    assert_full(Who::AMember, &created.text);
    let id = created.json()["id"].as_str().unwrap().to_string();
    let by_id = format!("/api/v1/listings/{id}");

    for who in [Who::Anonymous, Who::BMember, Who::CMember, Who::RegionOp] {
        assert_masked(who, &fx.get(who, &by_id).await.text);
        assert_masked(who, &fx.get(who, "/api/v1/listings?kind=demand&limit=200").await.text);
        assert_masked(who, &fx.get(who, "/api/v1/exports?kind=demand").await.text);
        let page = fx.get(who, &format!("/listings/{id}")).await;
        assert_eq!(page.status, 200);
        assert!(!page.text.contains(PHONE) && !page.text.contains(EMAIL), "{who:?}'s page shows the contact");
    }
    for who in [Who::AMember, Who::AAdmin, Who::Tm] {
        assert_full(who, &fx.get(who, &by_id).await.text);
        assert_full(who, &fx.get(who, "/api/v1/listings?kind=demand&limit=200").await.text);
        assert_full(who, &fx.get(who, "/api/v1/exports?kind=demand").await.text);
    }

    // OrgB asks; OrgA sees the request and accepts.
    let asked =
        fx.call(Who::BMember, "POST", &format!("{by_id}/contact-requests"), Some(json!({"message": "合作"}))).await;
    assert_eq!(asked.status, 201, "{}", asked.text);
    let request_id = asked.json()["id"].as_i64().unwrap();
    let again = fx.call(Who::BMember, "POST", &format!("{by_id}/contact-requests"), Some(json!({}))).await;
    assert_eq!(again.status, 409, "one open request per organisation");
    assert_masked(Who::BMember, &fx.get(Who::BMember, &by_id).await.text);
    let inbox = fx.get(Who::AMember, "/api/v1/contact-requests").await.json();
    assert!(inbox.as_array().unwrap().iter().any(|r| r["id"] == request_id && r["state"] == "pending"));
    assert!(!fx.get(Who::CMember, "/api/v1/contact-requests").await.text.contains("合作"));
    let own = fx.call(Who::BMember, "POST", &format!("/api/v1/contact-requests/{request_id}/accept"), None).await;
    assert_eq!(own.status, 403, "the asker can't accept its own request");
    assert_eq!(
        fx.call(Who::CMember, "POST", &format!("/api/v1/contact-requests/{request_id}/accept"), None).await.status,
        404
    );
    let accepted = fx.call(Who::AMember, "POST", &format!("/api/v1/contact-requests/{request_id}/accept"), None).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(accepted.json()["state"], "accepted");
    assert_eq!(
        fx.call(Who::AMember, "POST", &format!("/api/v1/contact-requests/{request_id}/decline"), None).await.status,
        409,
        "decided once"
    );

    // Now OrgB sees it in full on the listing, and each view is audited.
    assert_full(Who::BMember, &fx.get(Who::BMember, &by_id).await.text);
    let reveals: Vec<_> = audit_actions(&fx, "&action=contact.reveal").await;
    assert!(
        reveals.iter().any(|(_, actor, region)| actor == "b_member" && region.as_deref() == Some("110106")),
        "{reveals:?}"
    );
    // Others still see it masked.
    assert_masked(Who::CMember, &fx.get(Who::CMember, &by_id).await.text);
    assert_masked(Who::Anonymous, &fx.get(Who::Anonymous, &by_id).await.text);

    // Declining grants nothing.
    let asked = fx.call(Who::CMember, "POST", &format!("{by_id}/contact-requests"), Some(json!({}))).await;
    assert_eq!(asked.status, 201);
    let request_id = asked.json()["id"].as_i64().unwrap();
    let declined = fx.call(Who::AAdmin, "POST", &format!("/api/v1/contact-requests/{request_id}/decline"), None).await;
    assert_eq!(declined.status, 200);
    assert_eq!(declined.json()["state"], "declined");
    assert_masked(Who::CMember, &fx.get(Who::CMember, &by_id).await.text);
    // Its own listing can't be asked for.
    assert_eq!(fx.call(Who::Tm, "POST", &format!("{by_id}/contact-requests"), Some(json!({}))).await.status, 409);

    // Contact requests are deals: audited as the deal's steps.
    let actions: BTreeSet<String> = audit_actions(&fx, "&action=deal.").await.into_iter().map(|a| a.0).collect();
    assert_eq!(actions, ["deal.accept", "deal.decline", "deal.propose"].map(String::from).into());
}

// ---------------------------------------------------------------------------------------------
// Review before publication.

#[tokio::test]
async fn review_before_publication_in_a_region_that_asks_for_it() {
    let fx = Fixture::new();
    assert_eq!(
        fx.call(Who::RegionOp, "PUT", "/api/v1/review-regions/130000", Some(json!({"required": true}))).await.status,
        403,
        "not the operator's region"
    );
    assert_eq!(
        fx.call(Who::AMember, "PUT", "/api/v1/review-regions/110106", Some(json!({"required": true}))).await.status,
        403
    );
    let set = fx.call(Who::RegionOp, "PUT", "/api/v1/review-regions/110106", Some(json!({"required": true}))).await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.json(), json!(["110106"]));
    assert_eq!(fx.get(Who::Anonymous, "/api/v1/review-regions").await.json(), json!(["110106"]));

    let created =
        fx.call(Who::AMember, "POST", "/api/v1/listings", Some(demand("MKREVIEWED 储能需求", "110106"))).await;
    assert_eq!(created.status, 201);
    let listing = created.json();
    assert_eq!(listing["status"], "pending", "publication waits for review");
    let id = listing["id"].as_str().unwrap().to_string();
    let search = "/api/v1/search?q=MKREVIEWED";
    assert_eq!(fx.get(Who::Anonymous, search).await.json()["total"], 0);
    assert_eq!(fx.get(Who::Anonymous, &format!("/api/v1/listings/{id}")).await.status, 404);
    assert_eq!(fx.get(Who::CMember, &format!("/api/v1/listings/{id}")).await.status, 404);
    assert_eq!(fx.get(Who::RegionOp, &format!("/api/v1/listings/{id}")).await.status, 200, "the reviewer reads it");
    // Elsewhere, publication is immediate.
    let hebei = fx.call(Who::BMember, "POST", "/api/v1/listings", Some(demand("河北需求", "130602"))).await;
    assert_eq!(hebei.json()["status"], "published");

    let reviews = fx.get(Who::RegionOp, "/api/v1/reviews").await;
    assert_eq!(reviews.status, 200);
    assert!(reviews.text.contains("MKREVIEWED"));
    assert_eq!(fx.get(Who::AMember, "/api/v1/reviews").await.status, 403);

    let review = format!("/api/v1/listings/{id}/review");
    let no_reason = fx.call(Who::RegionOp, "POST", &review, Some(json!({"approve": false}))).await;
    assert_eq!(no_reason.status, 400, "{}", no_reason.text);
    assert_eq!(
        fx.call(Who::AMember, "POST", &review, Some(json!({"approve": true}))).await.status,
        403,
        "owners don't review"
    );
    let rejected =
        fx.call(Who::RegionOp, "POST", &review, Some(json!({"approve": false, "reason": "请补充预算"}))).await;
    assert_eq!(rejected.status, 200, "{}", rejected.text);
    assert_eq!(rejected.json()["listing"]["status"], "rejected");
    assert_eq!(rejected.json()["review"]["reason"], "请补充预算");
    assert_eq!(
        fx.call(Who::RegionOp, "POST", &review, Some(json!({"approve": true}))).await.status,
        409,
        "not pending"
    );
    assert_eq!(
        fx.get(Who::RegionOp, &format!("/api/v1/listings/{id}")).await.status,
        404,
        "rejected: the owner's only"
    );

    // The owner resubmits: back to review, whatever status it asks for.
    let mut resubmitted = fx.get(Who::AMember, &format!("/api/v1/listings/{id}")).await.json();
    resubmitted["summary"] = json!("budget: 50 万元");
    resubmitted["status"] = json!("published");
    let resubmitted = fx.call(Who::AMember, "PUT", &format!("/api/v1/listings/{id}"), Some(resubmitted)).await;
    assert_eq!(resubmitted.status, 200, "{}", resubmitted.text);
    assert_eq!(resubmitted.json()["status"], "pending");
    let approved = fx.call(Who::RegionOp, "POST", &review, Some(json!({"approve": true}))).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    assert_eq!(approved.json()["listing"]["status"], "published");
    let found = fx.get(Who::Anonymous, search).await.json();
    assert_eq!(found["total"], 1, "published and searchable: {found}");
    assert_eq!(fx.get(Who::Anonymous, &format!("/api/v1/listings/{id}")).await.status, 200);

    let actions: Vec<String> = audit_actions(&fx, "&action=review").await.into_iter().map(|a| a.0).collect();
    for action in ["review.reject", "review.approve", "review_region.set"] {
        assert!(actions.iter().any(|a| a == action), "{action} audited: {actions:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Personal data.

#[tokio::test]
async fn talents_export_and_erase_their_personal_data() {
    let fx = Fixture::new();
    let mut body = json!({
        "kind": "talent", "title": "MKTALENTSELF 氢能专家", "summary": "电解槽研究", "region_codes": ["120101"],
    });
    body["contact"] = json!({"name": NAME, "phone": PHONE, "email": EMAIL});
    let created = fx.call(Who::Talent, "POST", "/api/v1/listings", Some(body)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json()["id"].as_str().unwrap().to_string();
    assert_eq!(fx.get(Who::Anonymous, "/api/v1/search?q=MKTALENTSELF").await.json()["total"], 1);

    let export = fx.get(Who::Talent, "/api/v1/me/export").await;
    assert_eq!(export.status, 200);
    assert!(export.header("content-disposition").unwrap().contains("attachment"));
    let document = export.json();
    assert_eq!(document["account"]["username"], "talent");
    assert!(!export.text.contains("password") && !export.text.contains("$argon2"), "no password hash");
    let listings = document["listings"].as_array().expect("listings");
    assert_eq!(listings.len(), 1);
    assert_eq!(listings[0]["id"], id.as_str());
    assert_eq!(listings[0]["contact"]["phone"], PHONE, "the contact in full");
    let audit = document["audit_entries"].as_array().expect("audit entries");
    assert!(audit.iter().any(|e| e["action"] == "listing.create" && e["target"] == id.as_str()), "{audit:?}");

    // Only individual talents erase themselves.
    assert_eq!(fx.call(Who::AMember, "DELETE", "/api/v1/me", None).await.status, 403);
    let erased = fx.call(Who::Talent, "DELETE", "/api/v1/me", None).await;
    assert_eq!(erased.status, 200, "{}", erased.text);
    assert_eq!(erased.json(), json!({"listings_deleted": 1, "account_disabled": true}));
    assert_eq!(fx.get(Who::Admin, &format!("/api/v1/listings/{id}")).await.status, 404, "deleted for good");
    assert_eq!(fx.get(Who::Admin, "/api/v1/search?q=MKTALENTSELF").await.json()["total"], 0, "gone from the index");
    assert_eq!(fx.get(Who::Talent, "/api/v1/me").await.status, 401, "the token stops working");
    let login = fx.send(login_request("talent", PASSWORD)).await;
    assert_eq!(login.status, 401, "the account is disabled");

    let actions: Vec<String> = audit_actions(&fx, "&action=personal_data.").await.into_iter().map(|a| a.0).collect();
    assert!(
        actions.contains(&"personal_data.export".to_string()) && actions.contains(&"personal_data.erase".to_string())
    );
}

// ---------------------------------------------------------------------------------------------
// Audit trail.

#[tokio::test]
async fn every_event_is_audited_and_operators_see_their_region() {
    let fx = Fixture::new();
    // Listings: create, update, archive in 110106; a create in Hebei.
    let created = fx.call(Who::AMember, "POST", "/api/v1/listings", Some(demand("audited", "110106"))).await;
    let mut listing = created.json();
    let id = listing["id"].as_str().unwrap().to_string();
    listing["title"] = json!("audited, changed");
    assert_eq!(fx.call(Who::AMember, "PUT", &format!("/api/v1/listings/{id}"), Some(listing)).await.status, 200);
    assert_eq!(
        fx.call(Who::AMember, "POST", &format!("/api/v1/listings/{id}/archive"), Some(json!({}))).await.status,
        200
    );
    let hebei = fx.call(Who::BMember, "POST", "/api/v1/listings", Some(demand("MKHEBEI", "130602"))).await;
    let hebei_id = hebei.json()["id"].as_str().unwrap().to_string();
    // Logins.
    assert_eq!(fx.send(login_request("a_member", "wrong password")).await.status, 401);
    fx.login("a_member", PASSWORD).await;
    // Import.
    let import = Request::builder()
        .method("POST")
        .uri("/api/v1/imports/demand?file_name=audit.csv")
        .body(Body::from("title,summary,region_codes\n导入需求,导入的需求,110106\n"))
        .unwrap();
    let import = fx.send(with_bearer(import, fx.token(Who::AMember))).await;
    assert_eq!(import.status, 200, "{}", import.text);
    assert_eq!(import.json()["accepted"], 1);
    // Contact request, reveal, review, tokens, personal data.
    let mut with_contact = demand("contact", "110106");
    with_contact["contact"] = json!({"phone": PHONE});
    let contact = fx.call(Who::AMember, "POST", "/api/v1/listings", Some(with_contact)).await.json();
    let contact_id = contact["id"].as_str().unwrap();
    let asked = fx
        .call(Who::BMember, "POST", &format!("/api/v1/listings/{contact_id}/contact-requests"), Some(json!({})))
        .await;
    let request_id = asked.json()["id"].as_i64().unwrap();
    fx.call(Who::AMember, "POST", &format!("/api/v1/contact-requests/{request_id}/accept"), None).await;
    assert_full_phone(&fx.get(Who::BMember, &format!("/api/v1/listings/{contact_id}")).await);
    fx.call(Who::RegionOp, "PUT", "/api/v1/review-regions/110106", Some(json!({"required": true}))).await;
    let pending = fx.call(Who::AMember, "POST", "/api/v1/listings", Some(demand("pending", "110106"))).await.json();
    let pending_id = pending["id"].as_str().unwrap();
    let reviewed = fx
        .call(Who::RegionOp, "POST", &format!("/api/v1/listings/{pending_id}/review"), Some(json!({"approve": true})))
        .await;
    assert_eq!(reviewed.status, 200);
    let token = fx.call(Who::CMember, "POST", "/api/v1/tokens", Some(json!({"name": "t"}))).await.json();
    fx.call(Who::CMember, "DELETE", &format!("/api/v1/tokens/{}", token["id"]), None).await;
    assert_eq!(fx.get(Who::Talent, "/api/v1/me/export").await.status, 200);
    let (_, spare) = fx.add_user("talent_two", Role::Talent, Some(crate::fixture::TALENT_ORG));
    let erase = fx.send(with_bearer(json_request("DELETE", "/api/v1/me", None), Some(&spare))).await;
    assert_eq!(erase.status, 200);

    let all = audit_actions(&fx, "").await;
    let actions: BTreeSet<&str> = all.iter().map(|(a, _, _)| a.as_str()).collect();
    for action in [
        "listing.create",
        "listing.update",
        "listing.archive",
        "login.success",
        "login.failure",
        "import",
        "deal.propose",
        "deal.accept",
        "contact.reveal",
        "review_region.set",
        "review.approve",
        "token.issue",
        "token.revoke",
        "personal_data.export",
        "personal_data.erase",
    ] {
        assert!(actions.contains(action), "{action} is not audited: {actions:?}");
    }

    // The region operator sees the entries inside 110106 only; the admin sees all.
    let operator = fx.get(Who::RegionOp, "/api/v1/audit?limit=200").await;
    assert_eq!(operator.status, 200);
    let entries = operator.json()["items"].as_array().unwrap().clone();
    assert!(!entries.is_empty());
    for entry in &entries {
        let region = entry["region_code"].as_str().unwrap_or("");
        assert!(region.starts_with("1101"), "region operator of 110106 sees {entry}");
    }
    assert!(entries.iter().any(|e| e["action"] == "listing.create" && e["target"] == id.as_str()));
    assert!(!entries.iter().any(|e| e["target"] == hebei_id.as_str()), "the Hebei listing's entries stay hidden");
    assert!(
        all.iter().any(|(a, actor, region)| a == "listing.create"
            && actor == "b_member"
            && region.as_deref() == Some("130602"))
    );
    assert_eq!(fx.get(Who::AMember, "/api/v1/audit").await.status, 403);
    let filtered = fx.get(Who::Admin, "/api/v1/audit?action=login.&actor=a_member").await.json();
    let items = filtered["items"].as_array().unwrap();
    assert!(
        items.len() >= 2
            && items.iter().all(|e| e["actor"] == "a_member" && e["action"].as_str().unwrap().starts_with("login."))
    );

    let csv = fx.get(Who::RegionOp, "/api/v1/audit?format=csv").await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let first_line = csv.text.trim_start_matches('\u{feff}').lines().next().unwrap_or_default().to_string();
    assert_eq!(first_line, "seq,at,actor,action,target,region_code,ip,detail");
    assert!(csv.text.contains("listing.create") && !csv.text.contains(&hebei_id));
    assert_eq!(fx.get(Who::Admin, "/api/v1/audit?format=xml").await.status, 400);
}

fn assert_full_phone(reply: &Reply) {
    assert!(reply.text.contains(PHONE), "{}", reply.text);
}

/// Login and the public form work without any credential, and a wrong password is a 401.
#[tokio::test]
async fn login_form_sets_the_session_cookie() {
    let fx = Fixture::new();
    let wrong =
        fx.send(form_request("POST", "/login", &[("username", "a_member"), ("password", "nope"), ("next", "/")])).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("set-cookie").is_none_or(|c| !c.contains("xt_session")));
    let page = fx
        .send(form_request("POST", "/login", &[("username", "a_member"), ("password", PASSWORD), ("next", "/account")]))
        .await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), Some("/account"));
    let cookie = page.header("set-cookie").unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    // An offsite `next` is not followed.
    let offsite = fx
        .send(form_request(
            "POST",
            "/login",
            &[("username", "a_member"), ("password", PASSWORD), ("next", "https://evil.example/")],
        ))
        .await;
    assert_eq!(offsite.header("location"), Some("/"));
}
