//! Who is calling, and may they call this route at all.
//!
//! One middleware runs after routing for every route: it resolves the caller from an
//! `Authorization: Bearer` API token or the `xt_session` cookie, checks the CSRF token of
//! cookie-authenticated unsafe requests, and looks the matched route up in the [`RouteRules`]
//! declared where the routes are added. A route without a rule is refused (fail closed), and
//! the authorisation matrix test enumerates the router against the rules. Object-level rules (visibility, ownership, review region) are
//! applied by the handlers through [`Caller`] and `xietong_domain::Viewer`.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use xietong_app::auth::constant_time_eq;
use xietong_domain::{Principal, Role, Scope, Viewer};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "xt_session";
/// Header carrying the CSRF token of cookie-authenticated API calls.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Form field (or, for multipart uploads, query parameter) carrying the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";
/// Largest urlencoded form body read for its CSRF token.
const FORM_LIMIT_BYTES: usize = 2 * 1024 * 1024;

/// Who may call a route at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Anyone; handlers still apply visibility to what they return.
    Public,
    /// Logged-in users; handlers check ownership.
    User,
    /// Region operators and the platform admin; handlers check the region.
    Operator,
    /// The platform admin only.
    Admin,
}

/// The access rule of every route (method, path template, rule), as declared where the routes
/// are added (`api_routes` and `web::routes`); built with the router.
#[derive(Debug, Clone, Default)]
pub struct RouteRules {
    rules: Vec<(String, String, Rule)>,
}

impl RouteRules {
    /// Adds a rule. Panics when the route already has one (a route is declared once).
    pub fn add(&mut self, method: &str, path: &str, rule: Rule) {
        assert!(self.rule_for(&method.parse().expect("method"), path).is_none(), "{method} {path} has two rules");
        self.rules.push((method.to_string(), path.to_string(), rule));
    }

    pub fn rule_for(&self, method: &Method, path: &str) -> Option<Rule> {
        let method = if method == Method::HEAD { &Method::GET } else { method };
        self.rules.iter().find(|(m, p, _)| m == method.as_str() && p == path).map(|(_, _, rule)| *rule)
    }

    /// The methods a path template has rules for (with HEAD where GET is allowed).
    pub fn methods_for(&self, path: &str) -> Vec<String> {
        let mut methods: Vec<String> =
            self.rules.iter().filter(|(_, p, _)| p == path).map(|(m, _, _)| m.clone()).collect();
        if methods.iter().any(|m| m == "GET") {
            methods.push("HEAD".to_string());
        }
        methods
    }

    /// Every (method, path, rule).
    pub fn iter(&self) -> impl Iterator<Item = &(String, String, Rule)> {
        self.rules.iter()
    }
}

/// Routes where an unsafe request need not carry a CSRF token: logging in creates the session
/// the token belongs to (SameSite=Lax cookies keep cross-site posts from carrying an old one).
const CSRF_EXEMPT: &[&str] = &["/login", "/api/v1/auth/login"];

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    None,
    /// A session cookie; the value is the session's CSRF token.
    Session {
        csrf_token: String,
    },
    /// An API token (its id).
    Token {
        id: i64,
    },
}

/// The caller of a request, as resolved by [`authorize`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub viewer: Viewer,
    pub credential: Credential,
    /// Client address, for the audit trail and the login throttle.
    pub ip: Option<String>,
}

impl Caller {
    pub fn anonymous() -> Caller {
        Caller { viewer: Viewer::Anonymous, credential: Credential::None, ip: None }
    }

    pub fn principal(&self) -> Option<&Principal> {
        self.viewer.principal()
    }

    /// The logged-in user, or 401.
    pub fn user(&self) -> ApiResult<&Principal> {
        self.principal().ok_or_else(|| ApiError::Unauthorized("log in first".into()))
    }

    /// The caller as the use cases' actor.
    pub fn actor(&self) -> xietong_app::Actor {
        xietong_app::Actor::new(self.viewer.clone(), self.ip.clone())
    }

    pub fn csrf_token(&self) -> Option<&str> {
        match &self.credential {
            Credential::Session { csrf_token } => Some(csrf_token),
            _ => None,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Caller>().cloned().unwrap_or_else(Caller::anonymous))
    }
}

fn is_web(path: &str) -> bool {
    !(path.starts_with("/api/") || path == "/healthz" || path == "/metrics")
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The middleware: authenticate, check CSRF, apply the route's rule.
pub async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let Some(path) = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()) else {
        return next.run(request).await;
    };
    let web = is_web(&path);
    let Some(rule) = state.rules.rule_for(&method, &path) else {
        let allow = state.rules.methods_for(&path);
        if !allow.is_empty() {
            // The path exists with other methods: the router answers these with 405 itself, but
            // this layer sees them first.
            return ApiError::MethodNotAllowed { allow }.into_response();
        }
        tracing::error!(%method, %path, "route has no access rule; refusing it");
        return ApiError::Forbidden(format!("{method} {path} has no access rule")).into_response();
    };
    if rule == Rule::Public && path.starts_with("/assets/") {
        // Static files are the same for everyone: no credential lookups for each of them.
        return next.run(request).await;
    }
    let ip = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip().to_string());
    let (viewer, credential) = match resolve(&state, request.headers()).await {
        Ok(found) => found,
        Err(error) => return error.into_response(),
    };
    let caller = Caller { viewer, credential, ip };
    let mut request = request;
    if !is_safe(&method)
        && !CSRF_EXEMPT.contains(&path.as_str())
        && let Credential::Session { csrf_token } = &caller.credential
    {
        match check_csrf(request, csrf_token).await {
            Ok(checked) => request = checked,
            Err(error) => return error.into_response(),
        }
    }
    if let Err(error) = check_rule(rule, &caller, &method) {
        if web && matches!(error, ApiError::Unauthorized(_)) && is_safe(&method) {
            let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str()).to_string();
            let next_param: String = url_encode(&target);
            return Redirect::to(&format!("/login?next={next_param}")).into_response();
        }
        return error.into_response();
    }
    if web && method == Method::GET && caller.principal().is_some() {
        // The header of every page shows the unread notices; a failure only hides the badge.
        let actor = caller.actor();
        if let Ok(count) = state.blocking(move |app| Ok(app.unread_count(&actor)?)).await {
            request.extensions_mut().insert(UnreadBadge(count));
        }
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Unread notices of the signed-in caller of a page, for the header's badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnreadBadge(pub u64);

/// The viewer behind the request's credentials. A bearer token that is unknown, expired or
/// revoked is an error (the client meant to authenticate); a stale session cookie is ignored.
async fn resolve(state: &AppState, headers: &HeaderMap) -> ApiResult<(Viewer, Credential)> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().unwrap_or("");
        let Some(token) = value.strip_prefix("Bearer ").map(str::trim) else {
            return Err(ApiError::Unauthorized("the Authorization header must be `Bearer TOKEN`".into()));
        };
        let token = token.to_string();
        let found = state.blocking(move |app| Ok(app.account().bearer(&token)?)).await?;
        return match found {
            Some((principal, api_token)) => Ok((Viewer::User(principal), Credential::Token { id: api_token.id })),
            None => Err(ApiError::Unauthorized("the API token is unknown, expired or revoked".into())),
        };
    }
    let Some(cookie) = cookie_value(headers, SESSION_COOKIE) else {
        return Ok((Viewer::Anonymous, Credential::None));
    };
    let found = state.blocking(move |app| Ok(app.account().session(&cookie)?)).await?;
    Ok(match found {
        Some((principal, session)) => (Viewer::User(principal), Credential::Session { csrf_token: session.csrf_token }),
        None => (Viewer::Anonymous, Credential::None),
    })
}

fn check_rule(rule: Rule, caller: &Caller, method: &Method) -> ApiResult<()> {
    if rule == Rule::Public && is_safe(method) {
        return Ok(());
    }
    let Some(principal) = caller.principal() else {
        return match rule {
            Rule::Public => Ok(()),
            _ => Err(ApiError::Unauthorized(
                "log in, or send an API token as `Authorization: Bearer TOKEN` (see `xietong token issue`)".into(),
            )),
        };
    };
    let needed = if is_safe(method) { Scope::Read } else { Scope::Write };
    if !principal.has_scope(needed) {
        return Err(ApiError::Forbidden(format!("the API token lacks the `{}` scope", needed.as_str())));
    }
    match rule {
        Rule::Public | Rule::User => Ok(()),
        Rule::Operator | Rule::Admin => {
            let allowed = match rule {
                Rule::Operator => matches!(principal.role, Role::PlatformAdmin | Role::RegionOperator),
                _ => principal.role == Role::PlatformAdmin,
            };
            if !allowed {
                return Err(ApiError::Forbidden(format!(
                    "this needs the role {}",
                    if rule == Rule::Operator { "region_operator or platform_admin" } else { "platform_admin" }
                )));
            }
            if !principal.has_scope(Scope::Admin) {
                return Err(ApiError::Forbidden("the API token lacks the `admin` scope".into()));
            }
            Ok(())
        }
    }
}

/// Accepts the request when it carries the session's CSRF token in the `X-CSRF-Token` header, in
/// the `_csrf` field of an urlencoded form, or (for multipart uploads) in the `_csrf` query
/// parameter; and, when the browser names an `Origin`, only if it is this host.
async fn check_csrf(request: Request, expected: &str) -> ApiResult<Request> {
    let forbidden = || ApiError::Forbidden("missing or wrong CSRF token; reload the page and try again".into());
    if let (Some(origin), Some(host)) = (request.headers().get(header::ORIGIN), request.headers().get(header::HOST)) {
        let origin = origin.to_str().unwrap_or("");
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        if origin != "null" && origin_host != host.to_str().unwrap_or("") {
            return Err(ApiError::Forbidden(format!("cross-site request from {origin} refused")));
        }
    }
    if let Some(value) = request.headers().get(CSRF_HEADER) {
        return if constant_time_eq(value.to_str().unwrap_or(""), expected) { Ok(request) } else { Err(forbidden()) };
    }
    let from_query = request.uri().query().and_then(|q| form_value(q.as_bytes(), CSRF_FIELD));
    if let Some(token) = from_query {
        return if constant_time_eq(&token, expected) { Ok(request) } else { Err(forbidden()) };
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(forbidden());
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge("the form is too large".into()))?;
    match form_value(&bytes, CSRF_FIELD) {
        Some(token) if constant_time_eq(&token, expected) => Ok(Request::from_parts(parts, Body::from(bytes))),
        _ => Err(forbidden()),
    }
}

fn form_value(encoded: &[u8], key: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(encoded)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// The value of a cookie.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// `Set-Cookie` value of a new session: HttpOnly, SameSite=Lax, and Secure behind TLS.
pub fn session_cookie(token: &str, max_age_s: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}")
}

/// `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// Whether the client reached us over TLS (directly or through a proxy that says so).
pub fn behind_tls(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn url_encode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)]).map(|s| s.trim_start_matches('=').to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_looked_up_by_method_and_template() {
        let rules = crate::route_rules();
        assert_eq!(rules.rule_for(&Method::HEAD, "/"), Some(Rule::Public));
        assert_eq!(rules.rule_for(&Method::DELETE, "/"), None);
        assert_eq!(rules.rule_for(&Method::POST, "/api/v1/orgs"), Some(Rule::Admin));
        assert_eq!(rules.rule_for(&Method::GET, "/api/v1/orgs"), Some(Rule::User));
        assert_eq!(rules.methods_for("/api/v1/orgs"), vec!["GET", "POST", "HEAD"]);
    }

    #[test]
    #[should_panic(expected = "has two rules")]
    fn a_route_has_one_rule() {
        let mut rules = RouteRules::default();
        rules.add("GET", "/x", Rule::Public);
        rules.add("GET", "/x", Rule::User);
    }

    #[test]
    fn reads_cookies_and_form_fields() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "lang=en; xt_session=abc".parse().unwrap());
        assert_eq!(cookie_value(&headers, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie_value(&headers, "other"), None);
        assert_eq!(form_value(b"a=1&_csrf=x%2By", CSRF_FIELD).as_deref(), Some("x+y"));
        assert_eq!(url_encode("/search?q=a b"), "%2Fsearch%3Fq%3Da+b");
    }
}
