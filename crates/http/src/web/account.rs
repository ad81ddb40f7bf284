//! Logging in and out, and the account page (`/account`): who the user is, contact requests
//! received (to accept or decline) and sent, claims on organisations (`web::claim`), API tokens,
//! the personal-data download, the organisation's own listings and, for region operators, what
//! waits for their review.

use std::fmt::Write;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use time::OffsetDateTime;
use xietong_app::AppError;
use xietong_app::auth::AuthError;
use xietong_app::demo_accounts::DEMO_PASSWORD;
use xietong_app::types::{ApiToken, Claim, ContactRequest, Deal, ListFilter, ListSort, RequestState};
use xietong_domain::{Listing, ListingId, Principal, Role};

use super::{PageCtx, esc, labels, see_other};
use crate::auth::{Caller, Credential, SESSION_COOKIE, behind_tls, clear_session_cookie, cookie_value, session_cookie};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Listings of the user's organisation shown on the account page.
const OWN_LISTINGS_SHOWN: u32 = 20;
/// Listings awaiting review shown on the account page.
const REVIEWS_SHOWN: usize = 200;

/// Query of `GET /login`.
#[derive(Debug, Default, Deserialize)]
pub struct LoginParams {
    /// Where to go after logging in (a path on this site).
    pub next: Option<String>,
}

/// Form of `POST /login`.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub next: String,
}

/// `next` if it is a path on this site, else `/`. Only `/…` qualifies, never `//…` or `/\…`,
/// which browsers read as another host, and never the login page itself.
pub fn safe_next(next: &str) -> &str {
    let next = next.trim();
    let same_site = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.starts_with("/login")
        && !next.chars().any(char::is_control);
    if same_site { next } else { "/" }
}

/// `GET /login`
pub async fn login_page(ctx: PageCtx, State(state): State<AppState>, Query(params): Query<LoginParams>) -> Response {
    let next = safe_next(params.next.as_deref().unwrap_or("/")).to_string();
    let demo = demo_accounts_exist(&state).await;
    let html = login_form(&ctx, &next, "", None, demo);
    ctx.render(StatusCode::OK, ctx.t("登录", "Log in"), &html)
}

/// `POST /login`: opens a session, sets the cookie and goes to `next`; a failure shows the form
/// again with the reason.
pub async fn login(
    ctx: PageCtx,
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(&form.next).to_string();
    let username = form.username.trim().to_string();
    let ip = ctx.caller.ip.clone();
    let attempt_username = username.clone();
    let attempt =
        state.blocking(move |app| Ok(app.account().login(&attempt_username, &form.password, ip.as_deref()))).await;
    let failure = match attempt {
        Ok(Ok(session)) => {
            let max_age_s = (session.expires_at - OffsetDateTime::now_utc()).whole_seconds();
            let cookie = session_cookie(&session.token, max_age_s, state.secure_cookies || behind_tls(&headers));
            tracing::info!(user.name = %session.principal.username, "logged in through the login page");
            return (StatusCode::SEE_OTHER, [(header::LOCATION, next), (header::SET_COOKIE, cookie)]).into_response();
        }
        Ok(Err(failure)) => failure,
        Err(err) => return ctx.error_page(err),
    };
    let (status, message, retry_after_s) = match failure {
        AppError::Auth(AuthError::BadCredentials) => (
            StatusCode::UNAUTHORIZED,
            ctx.t("用户名或密码错误，请重试。", "Wrong username or password; please try again.").to_string(),
            None,
        ),
        AppError::Auth(AuthError::Throttled { retry_after_s }) => (
            StatusCode::TOO_MANY_REQUESTS,
            match ctx.lang {
                super::Lang::Zh => format!("登录失败次数过多，请在 {retry_after_s} 秒后再试。"),
                super::Lang::En => format!("Too many failed attempts; try again in {retry_after_s} seconds."),
            },
            Some(retry_after_s),
        ),
        other => return ctx.error_page(ApiError::from(other)),
    };
    let demo = demo_accounts_exist(&state).await;
    let html = login_form(&ctx, &next, &username, Some(&message), demo);
    let mut response = ctx.render(status, ctx.t("登录", "Log in"), &html);
    if let Some(seconds) = retry_after_s {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

async fn demo_accounts_exist(state: &AppState) -> bool {
    let found = state.blocking(|app| Ok(xietong_app::demo_accounts::exist(app)?)).await;
    match found {
        Ok(exist) => exist,
        Err(error) => {
            tracing::error!(?error, "failed to read whether the demo accounts exist");
            false
        }
    }
}

fn login_form(ctx: &PageCtx, next: &str, username: &str, error: Option<&str>, demo: bool) -> String {
    let mut html = format!("<h1>{}</h1>", ctx.t("登录", "Log in"));
    if let Some(principal) = ctx.caller.principal() {
        let _ = write!(
            html,
            r#"<p class="notice info" id="already-logged-in">{} {} · <a href="/account">{}</a></p>"#,
            ctx.t("您已登录为", "You are logged in as"),
            esc(&principal.display_name),
            ctx.t("我的账户", "My account"),
        );
    }
    if let Some(error) = error {
        let _ = write!(html, r#"<p class="notice error" role="alert" id="login-error">{}</p>"#, esc(error));
    }
    let invalid = if error.is_some() { r#" aria-invalid="true" aria-describedby="login-error""# } else { "" };
    let _ = write!(
        html,
        r#"<form method="post" action="/login" class="login-form" id="login-form">
<input type="hidden" name="next" value="{next}">
<div class="field"><label for="login-username">{l_user}</label><input type="text" id="login-username" name="username" value="{username}" autocomplete="username" autocapitalize="none" spellcheck="false" required{invalid}></div>
<div class="field"><label for="login-password">{l_pass}</label><input type="password" id="login-password" name="password" autocomplete="current-password" required{invalid}></div>
<p><button type="submit" id="login-submit">{submit}</button></p>
</form>"#,
        next = esc(next),
        l_user = ctx.t("用户名", "Username"),
        username = esc(username),
        l_pass = ctx.t("密码", "Password"),
        submit = ctx.t("登录", "Log in"),
    );
    if demo {
        let _ = write!(
            html,
            r#"<p class="hint" id="demo-hint">{}</p>"#,
            match ctx.lang {
                super::Lang::Zh => format!(
                    "演示账户密码 {DEMO_PASSWORD}。用户名：admin（平台管理员）、fengtai_ops（丰台区运营）、ent_a、ent_a_admin、ent_b（企业）、uni_1（高校）、facility_1（设施）、tm_1（技术经理人）、talent_1（个人人才）。"
                ),
                super::Lang::En => format!(
                    "Demo accounts' password: {DEMO_PASSWORD}. Usernames: admin (platform admin), fengtai_ops (Fengtai operator), ent_a, ent_a_admin, ent_b (enterprises), uni_1 (university), facility_1 (facility), tm_1 (technology manager), talent_1 (individual talent)."
                ),
            }
        );
    }
    html
}

/// `POST /logout`: ends the session, removes the cookie and goes to the dashboard.
pub async fn logout(ctx: PageCtx, State(state): State<AppState>, headers: HeaderMap) -> Response {
    let cookie = match ctx.caller.credential {
        Credential::Session { .. } => cookie_value(&headers, SESSION_COOKIE),
        _ => None,
    };
    let actor = ctx.caller.actor();
    if let Err(err) = state.blocking(move |app| Ok(app.account().logout(&actor, cookie.as_deref())?)).await {
        return ctx.error_page(err);
    }
    (StatusCode::SEE_OTHER, [(header::LOCATION, "/".to_string()), (header::SET_COOKIE, clear_session_cookie())])
        .into_response()
}

/// A contact request with the title of its listing (when the user may still read it).
struct RequestRow {
    request: ContactRequest,
    title: Option<String>,
}

/// Everything the account page shows besides the principal.
struct AccountData {
    received: Vec<RequestRow>,
    sent: Vec<RequestRow>,
    tokens: Vec<ApiToken>,
    own_listings: Vec<Listing>,
    /// Listings awaiting the user's review; `None` unless they review.
    reviews: Option<Vec<Listing>>,
    /// Deals of the user's organisations and those they broker, with their listings' titles.
    deals: Vec<(Deal, Option<String>)>,
    /// The user's claims and, for region operators and the admin, those they decide.
    claims: Vec<Claim>,
    /// Applications of the user's organisations to challenges, and the challenges they review.
    applications: Vec<xietong_app::types::MyApplication>,
    challenge_reviews: Vec<(ListingId, String, xietong_domain::challenge::Phase)>,
    /// The user's bookings and the vouchers they see.
    bookings: super::booking::AccountBookings,
}

fn load_account(app: &xietong_app::App, caller: &Caller) -> ApiResult<AccountData> {
    let principal = caller.user()?;
    let actor = caller.actor();
    let orgs = principal.orgs();
    let requests = app.contact_requests(&actor)?;
    let ids: Vec<ListingId> = requests.iter().map(|r| r.listing_id).collect();
    let titles = app.titles(&actor, &ids)?;
    let mut received = Vec::new();
    let mut sent = Vec::new();
    for request in requests {
        let title = titles.get(&request.listing_id).cloned();
        if orgs.contains(&request.to_org) {
            received.push(RequestRow { request, title });
        } else {
            sent.push(RequestRow { request, title });
        }
    }
    let tokens = app.account().tokens(&actor, None)?;
    let mut own_listings = Vec::new();
    for org in &orgs {
        let filter =
            ListFilter { owner_org: Some(org.clone()), sort: ListSort::RecentlyUpdated, ..ListFilter::default() };
        own_listings.extend(app.list_listings(&actor, filter, OWN_LISTINGS_SHOWN, 0)?.items);
    }
    let reviews = match principal.role {
        Role::PlatformAdmin | Role::RegionOperator => {
            let mut queue = app.review_queue(&actor)?;
            queue.truncate(REVIEWS_SHOWN);
            Some(queue)
        }
        _ => None,
    };
    let deals = app.deals(&actor, None, None)?;
    let deal_ids: Vec<ListingId> = deals.iter().map(|d| d.listing_id).collect();
    let deal_titles = app.titles(&actor, &deal_ids)?;
    let deals = deals
        .into_iter()
        .map(|deal| {
            let title = deal_titles.get(&deal.listing_id).cloned();
            (deal, title)
        })
        .collect();
    let claims = app.claims(&actor, None)?;
    let applications = app.my_applications(&actor)?;
    let challenge_reviews = app.my_reviews(&actor)?;
    let bookings = super::booking::load_account(app, caller)?;
    Ok(AccountData {
        received,
        sent,
        tokens,
        own_listings,
        reviews,
        deals,
        claims,
        applications,
        challenge_reviews,
        bookings,
    })
}

/// `GET /account`
pub async fn page(ctx: PageCtx, State(state): State<AppState>) -> Response {
    let Some(principal) = ctx.caller.principal().cloned() else { return ctx.login_required() };
    let caller = ctx.caller.clone();
    match state.blocking(move |app| load_account(app, &caller)).await {
        Ok(data) => ctx.render(StatusCode::OK, ctx.t("我的账户", "My account"), &render(&ctx, &principal, &data, None)),
        Err(err) => ctx.error_page(err),
    }
}

/// A time in China Standard Time, to the minute.
pub(super) fn when(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    at.to_offset(time::macros::offset!(+8)).format(&format).unwrap_or_default()
}

fn request_state_label(ctx: &PageCtx, state: RequestState) -> &'static str {
    match state {
        RequestState::Pending => ctx.t("待处理", "Pending"),
        RequestState::Accepted => ctx.t("已同意", "Accepted"),
        RequestState::Declined => ctx.t("已拒绝", "Declined"),
    }
}

fn listing_link(id: ListingId, title: Option<&str>, ctx: &PageCtx) -> String {
    match title {
        Some(title) => format!(r#"<a href="/listings/{id}">{}</a>"#, esc(title)),
        None => {
            format!(r#"<span class="meta">{}</span>"#, ctx.t("（您已无权查看该资源）", "(no longer visible to you)"))
        }
    }
}

/// The account page; `review_error` is shown in the review section (a refused decision).
fn render(ctx: &PageCtx, principal: &Principal, data: &AccountData, review_error: Option<&str>) -> String {
    let lang = ctx.lang;
    let dash = "—";
    let mut html = format!("<h1>{}</h1>", ctx.t("我的账户", "My account"));
    let region = principal.region.as_deref().map(|code| labels::region_name(code, lang));
    let _ = write!(
        html,
        r#"<section class="panel" aria-labelledby="me-h"><h2 id="me-h">{h}</h2><dl class="account-facts" id="account-facts">
<dt>{l_name}</dt><dd>{name}</dd><dt>{l_user}</dt><dd>{username}</dd><dt>{l_role}</dt><dd id="account-role">{role}</dd>
<dt>{l_org}</dt><dd id="account-org">{org}</dd><dt>{l_region}</dt><dd>{region}</dd></dl>"#,
        h = ctx.t("账户信息", "Account"),
        l_name = ctx.t("姓名", "Name"),
        name = esc(&principal.display_name),
        l_user = ctx.t("用户名", "Username"),
        username = esc(&principal.username),
        l_role = ctx.t("角色", "Role"),
        role = ctx.t(principal.role.label_zh(), principal.role.label_en()),
        l_org = ctx.t("所属机构", "Organisation"),
        org = esc(principal.org.as_deref().unwrap_or(dash)),
        l_region = ctx.t("所在地区", "Region"),
        region = esc(region.as_deref().unwrap_or(dash)),
    );
    if !principal.acting_for.is_empty() {
        let _ =
            write!(html, "<p>{} {}</p>", ctx.t("受托代理机构：", "Acting for:"), esc(&principal.acting_for.join("、")));
    }
    let _ = write!(
        html,
        r#"<p><a class="button secondary" id="personal-data-link" href="/api/v1/me/export" download>{}</a> <span class="hint">{}</span></p></section>"#,
        ctx.t("下载我的个人数据（JSON）", "Download my personal data (JSON)"),
        ctx.t(
            "包括账户、发出的申请、API 令牌和您的操作记录。",
            "Your account, requests you sent, API tokens and the audit entries you caused."
        ),
    );

    html.push_str(&deals(ctx, &data.deals));
    html.push_str(&super::challenge::account_panel(ctx, &data.applications, &data.challenge_reviews));
    html.push_str(&super::booking::account_panels(ctx, principal, &data.bookings));
    html.push_str(&super::claim::account_panel(ctx, principal, &data.claims));
    html.push_str(&received_requests(ctx, &data.received));
    html.push_str(&sent_requests(ctx, &data.sent));
    if let Some(reviews) = &data.reviews {
        html.push_str(&pending_reviews(ctx, reviews, review_error));
    }
    html.push_str(&own_listings(ctx, &data.own_listings));
    html.push_str(&tokens(ctx, &data.tokens));
    html
}

/// The user's deals, grouped by state (open ones first).
fn deals(ctx: &PageCtx, deals: &[(Deal, Option<String>)]) -> String {
    use xietong_domain::deal::DealState;
    let heading = ctx.t("我的对接", "My deals");
    let empty = format!(
        "<p>{}</p>",
        ctx.t("暂无对接。在资源页或推荐对接中点击“发起对接”。", "None yet. Press 发起对接 on a listing or a match.")
    );
    if deals.is_empty() {
        return panel("deals", heading, "", &empty, None);
    }
    let order = [
        DealState::Proposed,
        DealState::Accepted,
        DealState::Meeting,
        DealState::Signed,
        DealState::Converted,
        DealState::Declined,
        DealState::Closed,
    ];
    let mut html = String::new();
    for state in order {
        let group: Vec<_> = deals.iter().filter(|(deal, _)| deal.state == state).collect();
        if group.is_empty() {
            continue;
        }
        let _ = write!(
            html,
            r#"<h3 data-state="{}">{} ({})</h3><ul class="deal-list">"#,
            state.as_str(),
            super::deal::state_label(state, ctx.lang),
            group.len()
        );
        for (deal, title) in group {
            let _ = write!(
                html,
                r#"<li><a href="/deals/{id}">#{id} {title}</a> <span class="hint">{asker} → {owner}</span></li>"#,
                id = deal.id,
                title = esc(title.as_deref().unwrap_or("—")),
                asker = esc(&deal.asker_org),
                owner = esc(&deal.owner_org),
            );
        }
        html.push_str("</ul>");
    }
    panel("deals", heading, "", &empty, Some(html))
}

fn received_requests(ctx: &PageCtx, rows: &[RequestRow]) -> String {
    let heading = ctx.t("收到的联系方式申请", "Contact requests received");
    let empty = format!("<p>{}</p>", ctx.t("暂无申请。", "None yet."));
    if rows.is_empty() {
        return panel("requests-received", heading, "", &empty, None);
    }
    let mut html = String::new();
    for row in rows {
        let request = &row.request;
        let decision = if request.state == RequestState::Pending {
            format!(
                r#"<form method="post" action="/account/requests/{id}" class="inline-form">{csrf}<input type="hidden" name="decision" value="accept"><button type="submit" id="accept-{id}">{accept}</button></form> <form method="post" action="/account/requests/{id}" class="inline-form">{csrf}<input type="hidden" name="decision" value="decline"><button type="submit" class="button secondary" id="decline-{id}">{decline}</button></form>"#,
                id = request.id,
                csrf = ctx.csrf_input(),
                accept = ctx.t("同意", "Accept"),
                decline = ctx.t("拒绝", "Decline"),
            )
        } else {
            request_state_label(ctx, request.state).to_string()
        };
        let _ = write!(
            html,
            r#"<tr data-request="{id}" data-state="{state}"><td>{listing}</td><td>{from}</td><td>{message}</td><td>{at}</td><td>{decision}</td></tr>"#,
            id = request.id,
            state = request.state.as_str(),
            listing = listing_link(request.listing_id, row.title.as_deref(), ctx),
            from = esc(&request.from_org),
            message = esc(&request.message),
            at = when(request.created_at),
        );
    }
    let headings = [
        ctx.t("资源", "Listing"),
        ctx.t("申请机构", "From"),
        ctx.t("留言", "Message"),
        ctx.t("时间", "When"),
        ctx.t("状态", "State"),
    ];
    panel("requests-received", heading, "", &empty, Some(data_table(&headings, &html)))
}

fn sent_requests(ctx: &PageCtx, rows: &[RequestRow]) -> String {
    let heading = ctx.t("发出的联系方式申请", "Contact requests sent");
    let empty = format!(
        "<p>{}</p>",
        ctx.t(
            "暂无。在资源页面点击“申请查看联系方式”即可发出申请。",
            "None yet. Use “Request contact details” on a listing's page."
        )
    );
    if rows.is_empty() {
        return panel("requests-sent", heading, "", &empty, None);
    }
    let mut html = String::new();
    for row in rows {
        let request = &row.request;
        let _ = write!(
            html,
            r#"<tr data-request="{id}" data-state="{state}"><td>{listing}</td><td>{to}</td><td>{at}</td><td>{label}</td></tr>"#,
            id = request.id,
            state = request.state.as_str(),
            listing = listing_link(request.listing_id, row.title.as_deref(), ctx),
            to = esc(&request.to_org),
            at = when(request.created_at),
            label = request_state_label(ctx, request.state),
        );
    }
    let headings =
        [ctx.t("资源", "Listing"), ctx.t("所属机构", "Owner"), ctx.t("时间", "When"), ctx.t("状态", "State")];
    panel("requests-sent", heading, "", &empty, Some(data_table(&headings, &html)))
}

/// A table of listings; with `review`, each row gets the form to approve or reject it.
fn listing_rows(ctx: &PageCtx, listings: &[Listing], review: bool) -> String {
    let lang = ctx.lang;
    let mut headings = vec![
        ctx.t("标题", "Title"),
        ctx.t("类型", "Kind"),
        ctx.t("地区", "Region"),
        ctx.t("状态", "Status"),
        ctx.t("更新时间", "Updated"),
    ];
    if review {
        headings.push(ctx.t("审核", "Review"));
    }
    let mut html = String::new();
    for listing in listings {
        let body = &listing.body;
        let region = body.region_codes.first().map(|c| labels::region_short(c, lang)).unwrap_or_default();
        let decision = if review { review_form(ctx, listing.id) } else { String::new() };
        let _ = write!(
            html,
            r#"<tr data-id="{id}"><td><a href="/listings/{id}">{title}</a></td><td>{kind}</td><td>{region}</td><td><span class="badge status-{s}">{status}</span></td><td>{at}</td>{decision}</tr>"#,
            id = listing.id,
            title = esc(&body.title),
            kind = labels::kind_label(listing.kind(), lang),
            region = esc(&region),
            s = body.status.as_str(),
            status = ctx.t(body.status.label_zh(), body.status.label_en()),
            at = when(listing.updated_at),
        );
    }
    data_table(&headings, &html)
}

/// The cell with the review form of a listing awaiting review: a reason, approve and reject.
fn review_form(ctx: &PageCtx, id: ListingId) -> String {
    format!(
        r#"<td><form method="post" action="/listings/{id}/review" class="inline-form review-form">{csrf}<label for="reason-{id}" class="visually-hidden">{l_reason}</label><input type="text" id="reason-{id}" name="reason" placeholder="{l_reason}" maxlength="500"> <button type="submit" name="decision" value="approve" id="approve-{id}">{approve}</button> <button type="submit" name="decision" value="reject" class="button secondary" id="reject-{id}">{reject}</button></form></td>"#,
        csrf = ctx.csrf_input(),
        l_reason = ctx.t("驳回理由", "Reason for rejecting"),
        approve = ctx.t("通过", "Approve"),
        reject = ctx.t("驳回", "Reject"),
    )
}

fn pending_reviews(ctx: &PageCtx, listings: &[Listing], error: Option<&str>) -> String {
    let mut hint = format!(
        r#"<p class="hint">{}</p>"#,
        ctx.t(
            "“通过”即发布该资源；“驳回”需填写理由，理由会告知发布方。",
            "Approve publishes the listing; Reject needs a reason, which the owner sees."
        )
    );
    if let Some(error) = error {
        let _ = write!(hint, r#"<p class="notice error" role="alert" id="review-error">{}</p>"#, esc(error));
    }
    let empty = format!("<p>{}</p>", ctx.t("暂无待审核的资源。", "Nothing awaits review."));
    let heading = ctx.t("待审核的资源", "Listings awaiting review");
    let body = if listings.is_empty() { empty } else { listing_rows(ctx, listings, true) };
    format!(
        r#"<section class="panel" aria-labelledby="pending-reviews-h" id="pending-reviews"><h2 id="pending-reviews-h">{heading}</h2>{hint}{body}</section>"#
    )
}

fn own_listings(ctx: &PageCtx, listings: &[Listing]) -> String {
    let empty = format!(
        r#"<p>{} <a href="/listings/new">{}</a></p>"#,
        ctx.t("暂无资源。", "None yet."),
        ctx.t("发布资源", "Publish a listing")
    );
    let heading = ctx.t("本机构的资源（最近更新）", "Your organisation's listings (recently updated)");
    listing_section(ctx, "own-listings", heading, "", &empty, listings)
}

/// A panel of the account page: heading, optional hint, then `content`, or `empty_html` when
/// there is none.
pub(super) fn panel(id: &str, heading: &str, hint_html: &str, empty_html: &str, content: Option<String>) -> String {
    let body = content.unwrap_or_else(|| empty_html.to_string());
    format!(
        r#"<section class="panel" aria-labelledby="{id}-h" id="{id}"><h2 id="{id}-h">{heading}</h2>{hint_html}{body}</section>"#
    )
}

/// A scrollable data table with the given column headings around `rows` (`<tr>` elements).
pub(super) fn data_table(headings: &[&str], rows: &str) -> String {
    let head: String = headings.iter().map(|h| format!(r#"<th scope="col">{h}</th>"#)).collect();
    format!(
        r#"<div class="table-scroll"><table class="data-table"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"#
    )
}

fn listing_section(
    ctx: &PageCtx,
    id: &str,
    heading: &str,
    hint_html: &str,
    empty_html: &str,
    listings: &[Listing],
) -> String {
    let content = (!listings.is_empty()).then(|| listing_rows(ctx, listings, false));
    panel(id, heading, hint_html, empty_html, content)
}

fn tokens(ctx: &PageCtx, tokens: &[ApiToken]) -> String {
    let heading = ctx.t("API 令牌", "API tokens");
    let hint = format!(
        r#"<p class="hint">{}</p>"#,
        ctx.t(
            "令牌用于程序访问（请求头 Authorization: Bearer 令牌）。创建和撤销令牌目前仅通过 API：POST /api/v1/tokens 创建，DELETE /api/v1/tokens/{id} 撤销。",
            "Tokens let programs call the API (header Authorization: Bearer TOKEN). Creating and revoking them is API-only for now: POST /api/v1/tokens creates one, DELETE /api/v1/tokens/{id} revokes it."
        )
    );
    let empty = format!("<p>{}</p>", ctx.t("暂无令牌。", "No tokens."));
    if tokens.is_empty() {
        return panel("api-tokens", heading, &hint, &empty, None);
    }
    let mut html = String::new();
    let now = OffsetDateTime::now_utc();
    for token in tokens {
        let scopes: Vec<&str> = token.scopes.iter().map(|s| s.as_str()).collect();
        let state = match (token.revoked_at, token.expires_at) {
            (Some(at), _) => format!("{} {}", ctx.t("已撤销于", "Revoked"), when(at)),
            (None, Some(at)) if at <= now => format!("{} {}", ctx.t("已过期于", "Expired"), when(at)),
            (None, Some(at)) => format!("{} {}", ctx.t("有效，到期", "Valid until"), when(at)),
            (None, None) => ctx.t("有效", "Valid").to_string(),
        };
        let _ = write!(
            html,
            r#"<tr data-token="{id}"><td>{name}</td><td>{scopes}</td><td>{created}</td><td>{used}</td><td>{state}</td></tr>"#,
            id = token.id,
            name = esc(&token.name),
            scopes = esc(&scopes.join(", ")),
            created = when(token.created_at),
            used = token.last_used_at.map(when).unwrap_or_else(|| ctx.t("从未", "Never").to_string()),
        );
    }
    let headings = [
        ctx.t("名称", "Name"),
        ctx.t("权限范围", "Scopes"),
        ctx.t("创建时间", "Created"),
        ctx.t("最近使用", "Last used"),
        ctx.t("状态", "State"),
    ];
    panel("api-tokens", heading, &hint, &empty, Some(data_table(&headings, &html)))
}

/// Form of `POST /account/requests/{id}`.
#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    /// `accept` or `decline`.
    #[serde(default)]
    pub decision: String,
}

/// `POST /account/requests/{id}`: the owner accepts or declines a contact request, then back to
/// the account page.
pub async fn decide_request(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let Ok(id) = raw_id.parse::<i64>() else {
        return ctx.not_found(&format!("{}{raw_id}", ctx.t("没有这条申请：", "No such request: ")));
    };
    let accepted = match form.decision.as_str() {
        "accept" => true,
        "decline" => false,
        other => {
            let message = format!("{}（{other:?}）", ctx.t("未知的处理结果", "Unknown decision"));
            return ctx.refused(StatusCode::BAD_REQUEST, &message, "/account");
        }
    };
    let actor = ctx.caller.actor();
    match state.blocking(move |app| Ok(app.decide_contact_request(&actor, id, accepted)?)).await {
        Ok(_) => see_other("/account"),
        Err(ApiError::Conflict(detail)) => {
            let message = format!("{}（{detail}）", ctx.t("这条申请已处理过", "This request was already decided"));
            ctx.refused(StatusCode::CONFLICT, &message, "/account")
        }
        Err(err) => ctx.error_page(err),
    }
}

/// Form of `POST /listings/{id}/review`.
#[derive(Debug, Deserialize)]
pub struct ReviewForm {
    /// `approve` or `reject`.
    #[serde(default)]
    pub decision: String,
    /// Required when rejecting.
    #[serde(default)]
    pub reason: String,
}

/// `POST /listings/{id}/review`: a region operator (or the platform admin) approves or rejects a
/// listing awaiting review, then back to the account page. A rejection without a reason shows
/// the account page again with the error in the review section.
pub async fn review_listing(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    Form(form): Form<ReviewForm>,
) -> Response {
    let Some(principal) = ctx.caller.principal().cloned() else { return ctx.login_required() };
    let Ok(id) = raw_id.parse::<ListingId>() else {
        return ctx.not_found(&format!("{}{raw_id}", ctx.t("没有这条资源：", "No such listing: ")));
    };
    let approve = match form.decision.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            let message = format!("{}（{other:?}）", ctx.t("未知的审核结果", "Unknown decision"));
            return ctx.refused(StatusCode::BAD_REQUEST, &message, "/account");
        }
    };
    let actor = ctx.caller.actor();
    let reason = form.reason;
    match state.blocking(move |app| Ok(app.review_listing(&actor, id, approve, &reason)?)).await {
        Ok(_) => see_other("/account"),
        Err(ApiError::BadRequest { .. }) => {
            let message = ctx.t(
                "驳回时请填写理由（会告知发布方），然后再点“驳回”。",
                "To reject, write a reason (the owner sees it), then press Reject again.",
            );
            let caller = ctx.caller.clone();
            match state.blocking(move |app| load_account(app, &caller)).await {
                Ok(data) => ctx.render(
                    StatusCode::BAD_REQUEST,
                    ctx.t("我的账户", "My account"),
                    &render(&ctx, &principal, &data, Some(message)),
                ),
                Err(err) => ctx.error_page(err),
            }
        }
        Err(ApiError::Conflict(detail)) => {
            let message =
                format!("{}（{detail}）", ctx.t("该资源已不在待审核状态", "This listing no longer awaits review"));
            ctx.refused(StatusCode::CONFLICT, &message, "/account")
        }
        Err(err) => ctx.error_page(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/search?q=a"), "/search?q=a");
        assert_eq!(safe_next("/listings/new?kind=demand"), "/listings/new?kind=demand");
        for hostile in
            ["//evil.example", "/\\evil.example", "https://evil.example/", "evil", "", "/login?next=/x", "/a\nb"]
        {
            assert_eq!(safe_next(hostile), "/", "{hostile:?}");
        }
    }
}
