//! Server-rendered web pages (Chinese first, English with `?lang=en`), with light progressive
//! JavaScript and one stylesheet, all embedded in the binary.
//!
//! Pages: `/` dashboard, `/search`, `/chains`, `/chains/{id}`, `/chains/{id}/attraction`,
//! `/enclaves` (the planner's view), `/listings/{id}`, `/listings/new?kind=…`,
//! `/listings/{id}/edit`, `/challenges/{id}` (a challenge's run by phase, with the organiser's
//! control panel), `/transfer`, `/login`, `/account`, `/inbox`, `/bookings/queue` (the approval
//! queue of the facilities one operates), `/vouchers/{id}` (a voucher's ledger), `/talents/{id}/card` (the talent service card),
//! `/credentials/verify?id=` (a credential's verification), `/services` (跨省通办) and (for
//! operators) `/audit`; forms post to `/orgs/claims` (claim the organisation a listing names),
//! `/account/claims/{id}` (decide or withdraw a claim), `/listings/{id}/bookings|calendar|clearances`
//! (book a facility; its operator's settings), `/bookings/{id}/events`, `/vouchers` and
//! `/engagements/{id}/respond` (the talent's side answers an offer). Every
//! text that is not already
//! escaped HTML goes through [`esc`]. Every page knows its caller (resolved by
//! [`crate::auth::authorize`]); every form that changes something carries the session's CSRF
//! token ([`PageCtx::csrf_input`]).

mod account;
mod audit;
mod booking;
mod chain;
mod challenge;
mod charts;
mod claim;
mod dashboard;
mod deal;
mod detail;
mod form;
mod inbox;
mod labels;
mod search;
mod talent;
mod transfer;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::auth::{CSRF_FIELD, Caller, Rule, UnreadBadge};
use crate::error::ApiError;
use crate::state::AppState;

/// Routes of the web pages and their assets.
pub fn routes() -> Recorded {
    use Rule::{Operator, Public, User};
    Recorded::default()
        .get("/", Public, dashboard::page)
        .get("/search", Public, search::page)
        .get("/chains", Public, chain::index)
        .get("/chains/{id}", Public, chain::page)
        .post("/chains/{id}", User, chain::edit)
        .get("/chains/{id}/attraction", Public, chain::attraction)
        .get("/enclaves", Public, chain::enclaves)
        .get("/listings/new", User, form::new_page)
        .post("/listings/new", User, form::create)
        .get("/listings/{id}", Public, detail::page)
        .get("/listings/{id}/edit", User, form::edit_page)
        .post("/listings/{id}/edit", User, form::update)
        .post("/listings/{id}/contact-request", User, detail::request_contact)
        .post("/listings/{id}/deal", User, detail::propose_deal)
        .post("/listings/{id}/bookings", User, booking::request_booking)
        .post("/listings/{id}/calendar", User, booking::set_calendar)
        .post("/listings/{id}/clearances", User, booking::grant_clearance)
        .get("/bookings/queue", User, booking::queue)
        .post("/bookings/{id}/events", User, booking::event)
        .post("/vouchers", Operator, booking::issue_voucher)
        .get("/vouchers/{id}", User, booking::ledger)
        .get("/talents/{id}/card", Public, talent::card_page)
        .get("/credentials/verify", Public, talent::verify_page)
        .get("/services", Public, talent::services_page)
        .post("/engagements/{id}/respond", User, talent::respond)
        .get("/deals/{id}", User, deal::page)
        .post("/deals/{id}/events", User, deal::event)
        .get("/challenges/{id}", Public, challenge::page)
        .post("/challenges/{id}/apply", User, challenge::apply)
        .post("/challenges/{id}/manage", User, challenge::manage)
        .post("/applications/{id}/act", User, challenge::act)
        .post("/reports/{id}/decision", User, challenge::decide)
        .get("/transfer", Public, transfer::page)
        .post("/transfer/import", User, transfer::import)
        .get("/login", Public, account::login_page)
        .post("/login", Public, account::login)
        .post("/logout", User, account::logout)
        .get("/account", User, account::page)
        .post("/account/requests/{id}", User, account::decide_request)
        .post("/account/claims/{id}", User, claim::decide)
        .post("/orgs/claims", User, claim::create)
        .post("/listings/{id}/review", Operator, account::review_listing)
        .get("/audit", Operator, audit::page)
        .get("/inbox", User, inbox::page)
        .post("/inbox/{id}/read", User, inbox::read_one)
        .post("/inbox/read-all", User, inbox::read_all)
        .get("/assets/web/app.css", Public, || {
            asset("text/css; charset=utf-8", include_str!("../../assets/web/app.css"))
        })
        .get("/assets/web/app.js", Public, || {
            asset("text/javascript; charset=utf-8", include_str!("../../assets/web/app.js"))
        })
        .get("/assets/web/logo.svg", Public, || asset("image/svg+xml", include_str!("../../assets/web/logo.svg")))
}

/// A router that records each (method, path) it is given with its access rule, so the route
/// inventory the authorisation matrix test enumerates, and the rules the access check applies,
/// are the router's own, not lists kept beside it.
#[derive(Default)]
pub struct Recorded {
    pub router: Router<AppState>,
    pub rules: Vec<(&'static str, &'static str, Rule)>,
}

impl Recorded {
    pub fn get<H, T>(self, path: &'static str, rule: Rule, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        self.add("GET", path, rule, get(handler))
    }

    pub fn post<H, T>(self, path: &'static str, rule: Rule, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        self.add("POST", path, rule, post(handler))
    }

    fn add(
        mut self,
        method: &'static str,
        path: &'static str,
        rule: Rule,
        route: axum::routing::MethodRouter<AppState>,
    ) -> Self {
        self.rules.push((method, path, rule));
        self.router = self.router.route(path, route);
        self
    }
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// Language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// Picks the text in this language.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    fn html_lang(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    fn parse(text: &str) -> Option<Lang> {
        match text.trim() {
            "en" | "EN" | "en-US" | "en-GB" => Some(Lang::En),
            "zh" | "ZH" | "zh-CN" | "cn" => Some(Lang::Zh),
            _ => None,
        }
    }
}

/// What every page needs from the request: the language (from `?lang=`, else the `lang` cookie,
/// else Chinese), whether to remember it in the cookie, the address for the language switch, and
/// the caller.
#[derive(Debug, Clone)]
pub struct PageCtx {
    pub lang: Lang,
    /// Who is asking; anonymous unless the session cookie (or a token) named a user.
    pub caller: Caller,
    /// Unread notices of the signed-in caller (for the header's badge).
    unread: Option<u64>,
    remember: bool,
    path: String,
    /// Path and query of the request, for the `next` of the login link.
    path_and_query: String,
    query_without_lang: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequestParts<S> for PageCtx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = form_urlencoded_pairs(query);
        let from_query = pairs.iter().find(|(k, _)| k == "lang").and_then(|(_, v)| Lang::parse(v));
        let from_cookie = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().strip_prefix("lang="))
            .find_map(Lang::parse);
        Ok(PageCtx {
            lang: from_query.or(from_cookie).unwrap_or(Lang::Zh),
            caller: parts.extensions.get::<Caller>().cloned().unwrap_or_else(Caller::anonymous),
            unread: parts.extensions.get::<UnreadBadge>().map(|badge| badge.0),
            remember: from_query.is_some(),
            path: parts.uri.path().to_string(),
            path_and_query: parts.uri.path_and_query().map_or("/", |pq| pq.as_str()).to_string(),
            query_without_lang: pairs.into_iter().filter(|(k, _)| k != "lang").collect(),
        })
    }
}

impl PageCtx {
    /// Shorthand for `self.lang.t`.
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        self.lang.t(zh, en)
    }

    /// The hidden form field carrying the session's CSRF token; every form that changes something
    /// includes it. Empty for visitors without a session (their posts are refused anyway).
    pub fn csrf_input(&self) -> String {
        match self.caller.csrf_token() {
            Some(token) => format!(r#"<input type="hidden" name="{CSRF_FIELD}" value="{}">"#, esc(token)),
            None => String::new(),
        }
    }

    /// The session's CSRF token as a query string (`?_csrf=…`), for multipart forms whose body
    /// the CSRF check does not read.
    pub fn csrf_query(&self) -> String {
        match self.caller.csrf_token() {
            Some(token) => format!("?{CSRF_FIELD}={}", encode_component(token)),
            None => String::new(),
        }
    }

    /// Address of the login page that comes back here afterwards.
    pub fn login_href(&self) -> String {
        login_href_for(&self.path_and_query)
    }

    /// The current address in the other language.
    fn switch_href(&self) -> String {
        let other = match self.lang {
            Lang::Zh => "en",
            Lang::En => "zh",
        };
        let mut pairs = self.query_without_lang.clone();
        pairs.push(("lang".to_string(), other.to_string()));
        format!("{}?{}", self.path, encode_query(&pairs))
    }

    /// Wraps a page body in the layout and makes the response.
    pub fn render(&self, status: StatusCode, title: &str, body: &str) -> Response {
        let html = layout(self, title, body);
        let mut response = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
        if self.remember {
            let cookie = format!("lang={}; Path=/; Max-Age=31536000; SameSite=Lax", self.lang.code());
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
        }
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// The 404 page.
    pub fn not_found(&self, what: &str) -> Response {
        let body = format!(
            r#"<h1>{h}</h1><p>{what}</p><p><a href="/">{home}</a> · <a href="/search">{search}</a></p>"#,
            h = self.t("未找到页面", "Page not found"),
            what = esc(what),
            home = self.t("返回总览", "Back to the dashboard"),
            search = self.t("去检索", "Go to search"),
        );
        self.render(StatusCode::NOT_FOUND, self.t("未找到", "Not found"), &body)
    }

    /// The page for a request the rules refuse (403).
    pub fn forbidden(&self, detail: &str) -> Response {
        let body = format!(
            r#"<h1>{h}</h1><p class="notice error" role="alert" id="forbidden">{p}</p><p class="hint">{detail}</p><p><a href="/">{home}</a></p>"#,
            h = self.t("无权访问", "Not allowed"),
            p = self.t(
                "您的账户不能执行此操作：只有资源所属机构的成员可以修改它。",
                "Your account may not do this: only members of the owning organisation may change it."
            ),
            detail = esc(detail),
            home = self.t("返回总览", "Back to the dashboard"),
        );
        self.render(StatusCode::FORBIDDEN, self.t("无权访问", "Not allowed"), &body)
    }

    /// A page for a request that needs a login first (401), with the login link.
    pub fn login_required(&self) -> Response {
        let body = format!(
            r#"<h1>{h}</h1><p><a class="button" href="{href}">{login}</a></p>"#,
            h = self.t("请先登录", "Please log in first"),
            href = esc(&self.login_href()),
            login = self.t("登录", "Log in"),
        );
        self.render(StatusCode::UNAUTHORIZED, self.t("请先登录", "Log in"), &body)
    }

    /// A page for a request that cannot be carried out as asked (400 or 409), with the reason.
    pub fn refused(&self, status: StatusCode, detail: &str, back: &str) -> Response {
        let body = format!(
            r#"<h1>{h}</h1><p class="notice error" role="alert" id="refused">{detail}</p><p><a href="{back}">{back_label}</a></p>"#,
            h = self.t("无法完成操作", "That did not work"),
            detail = esc(detail),
            back = esc(back),
            back_label = self.t("返回", "Go back"),
        );
        self.render(status, self.t("无法完成操作", "Not done"), &body)
    }

    /// A page for a failure: missing or invisible things are the 404 page, refusals the 403 page;
    /// anything else is logged and shown as a generic error.
    pub fn error_page(&self, err: ApiError) -> Response {
        match &err {
            ApiError::NotFound(detail) => return self.not_found(detail),
            ApiError::Forbidden(detail) => return self.forbidden(detail),
            ApiError::Unauthorized(_) => return self.login_required(),
            ApiError::BadRequest { detail, .. } => {
                let body = format!(
                    r#"<h1>{}</h1><p class="notice error" role="alert">{}</p>"#,
                    self.t("请求无效", "Invalid request"),
                    esc(detail)
                );
                return self.render(StatusCode::BAD_REQUEST, self.t("请求无效", "Invalid request"), &body);
            }
            ApiError::TooManyRequests { retry_after_s, .. } | ApiError::Unavailable { retry_after_s, .. } => {
                let body = format!(
                    r#"<h1>{}</h1><p class="notice error" role="alert">{}</p>"#,
                    self.t("服务器繁忙", "The server is busy"),
                    self.t(
                        &format!("请 {retry_after_s} 秒后再试。"),
                        &format!("Please try again in {retry_after_s} seconds.")
                    )
                );
                let mut response = self.render(err.status(), self.t("服务器繁忙", "The server is busy"), &body);
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
                return response;
            }
            _ => {}
        }
        tracing::error!(error = ?err, "page failed");
        let body = format!(
            "<h1>{}</h1><p>{}</p>",
            self.t("出错了", "Something went wrong"),
            self.t(
                "服务器处理请求时出错，已记录日志。请稍后再试。",
                "The server failed to handle the request; it has been logged. Please try again."
            )
        );
        self.render(StatusCode::INTERNAL_SERVER_ERROR, self.t("出错了", "Error"), &body)
    }
}

/// A 303 to `location` (after a successful form post).
pub fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location.to_string())]).into_response()
}

/// Address of the login page that leads to `next` afterwards.
pub fn login_href_for(next: &str) -> String {
    if next == "/" || next.starts_with("/login") {
        return "/login".to_string();
    }
    format!("/login?next={}", encode_component(next))
}

/// The header's account area: a login link for visitors; name, role, account link and logout
/// button for users.
fn account_area(ctx: &PageCtx) -> String {
    let Some(principal) = ctx.caller.principal() else {
        let current = if ctx.path == "/login" { r#" aria-current="page""# } else { "" };
        return format!(
            r#"<a class="account-link" id="login-link" href="{}"{current}>{}</a>"#,
            esc(&ctx.login_href()),
            ctx.t("登录", "Log in")
        );
    };
    let role = ctx.t(principal.role.label_zh(), principal.role.label_en());
    let logout = match ctx.caller.csrf_token() {
        Some(_) => format!(
            r#"<form method="post" action="/logout" class="logout-form">{}<button type="submit" class="link-button" id="logout-button">{}</button></form>"#,
            ctx.csrf_input(),
            ctx.t("退出", "Log out")
        ),
        None => String::new(),
    };
    let badge = match ctx.unread {
        Some(count) if count > 0 => format!(
            r#" <span class="badge" id="unread-badge" title="{title}">{count}</span>"#,
            title = ctx.t("未读消息", "Unread notices")
        ),
        _ => String::new(),
    };
    let current = if ctx.path == "/inbox" { r#" aria-current="page""# } else { "" };
    format!(
        r#"<div class="account-area"><span class="user-name" id="user-name">{name} <span class="user-role">{role}</span></span> <a class="account-link" id="inbox-link" href="/inbox"{current}>{inbox}{badge}</a> <a class="account-link" id="account-link" href="/account">{account}</a>{logout}</div>"#,
        name = esc(&principal.display_name),
        inbox = ctx.t("消息", "Inbox"),
        account = ctx.t("我的账户", "My account"),
    )
}

fn layout(ctx: &PageCtx, title: &str, body: &str) -> String {
    let nav_item = |href: &str, zh: &str, en: &str| {
        let current = if ctx.path == href { r#" aria-current="page""# } else { "" };
        format!(r#"<li><a href="{href}"{current}>{}</a></li>"#, ctx.t(zh, en))
    };
    let mut publish_items =
        nav_item("/listings/new", "发布", "Publish") + &nav_item("/transfer", "导入导出", "Import/export");
    let operator = ctx
        .caller
        .principal()
        .is_some_and(|p| matches!(p.role, xietong_domain::Role::PlatformAdmin | xietong_domain::Role::RegionOperator));
    if operator {
        publish_items.push_str(&nav_item("/audit", "审计日志", "Audit trail"));
    }
    format!(
        r##"<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {site}</title>
<link rel="icon" href="/assets/web/logo.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/web/app.css">
<script src="/assets/web/app.js" defer></script>
</head>
<body>
<a class="skip-link" href="#main">{skip}</a>
<header class="site-header">
<div class="wrap header-row">
<a class="brand" href="/"><img src="/assets/web/logo.svg" alt="" width="28" height="28"><span>{site}</span></a>
<nav aria-label="{nav_label}"><ul class="nav">{dash}{search}{chains}{publish}<li><a href="/api/docs">API</a></li></ul></nav>
<div class="header-tools">{account}<a class="lang-switch" id="lang-switch" href="{switch}" lang="{switch_lang}">{switch_text}</a></div>
</div>
</header>
<main id="main" class="wrap" tabindex="-1">
{body}
</main>
<footer class="site-footer"><div class="wrap">{footer}</div></footer>
</body>
</html>"##,
        lang = ctx.lang.html_lang(),
        title = esc(title),
        site = ctx.t("京津冀创新资源共享与精准对接平台", "Beijing–Tianjin–Hebei Innovation Resource Platform"),
        skip = ctx.t("跳到正文", "Skip to content"),
        nav_label = ctx.t("主导航", "Main"),
        dash = nav_item("/", "总览", "Dashboard"),
        search = nav_item("/search", "检索", "Search"),
        chains = nav_item("/chains", "产业链", "Chains"),
        publish = publish_items,
        account = account_area(ctx),
        switch = esc(&ctx.switch_href()),
        switch_lang = ctx.t("en", "zh-CN"),
        switch_text = ctx.t("English", "中文"),
        footer = ctx.t(
            "京津冀协同创新 · 资源共享与精准对接 · 数据为演示数据",
            "Beijing–Tianjin–Hebei coordinated innovation · resource sharing and matching · demo data"
        ),
    )
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes one query component.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Builds a query string from pairs.
pub fn encode_query(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v))).collect::<Vec<_>>().join("&")
}

fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

/// Formats a score or weight compactly.
pub fn fmt_num(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 { format!("{}", value.round() as i64) } else { format!("{value:.2}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(esc(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn encodes_query_components() {
        assert_eq!(encode_query(&[("q".into(), "机器 视觉&x".into())]), "q=%E6%9C%BA%E5%99%A8+%E8%A7%86%E8%A7%89%26x");
    }
}
