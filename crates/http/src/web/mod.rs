//! Server-rendered web pages (Chinese first, English with `?lang=en`), with light progressive
//! JavaScript and one stylesheet, all embedded in the binary.
//!
//! Pages: `/` dashboard, `/search`, `/listings/{id}`, `/listings/new?kind=…`,
//! `/listings/{id}/edit`. Every text that is not already escaped HTML goes through [`esc`].

mod charts;
mod dashboard;
mod detail;
mod form;
mod labels;
mod search;
mod transfer;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;

/// Routes of the web pages and their assets.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard::page))
        .route("/search", get(search::page))
        .route("/listings/new", get(form::new_page).post(form::create))
        .route("/listings/{id}", get(detail::page))
        .route("/listings/{id}/edit", get(form::edit_page).post(form::update))
        .route("/transfer", get(transfer::page))
        .route("/transfer/import", axum::routing::post(transfer::import))
        .route(
            "/assets/web/app.css",
            get(|| asset("text/css; charset=utf-8", include_str!("../../assets/web/app.css"))),
        )
        .route(
            "/assets/web/app.js",
            get(|| asset("text/javascript; charset=utf-8", include_str!("../../assets/web/app.js"))),
        )
        .route("/assets/web/logo.svg", get(|| asset("image/svg+xml", include_str!("../../assets/web/logo.svg"))))
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
/// else Chinese), whether to remember it in the cookie, and the address for the language switch.
#[derive(Debug, Clone)]
pub struct PageCtx {
    pub lang: Lang,
    remember: bool,
    path: String,
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
            remember: from_query.is_some(),
            path: parts.uri.path().to_string(),
            query_without_lang: pairs.into_iter().filter(|(k, _)| k != "lang").collect(),
        })
    }
}

impl PageCtx {
    /// Shorthand for `self.lang.t`.
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        self.lang.t(zh, en)
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

    /// A page for a failure the user cannot fix; the cause is logged.
    pub fn error_page(&self, err: crate::error::ApiError) -> Response {
        if let crate::error::ApiError::NotFound(detail) = &err {
            return self.not_found(detail);
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

fn layout(ctx: &PageCtx, title: &str, body: &str) -> String {
    let nav_item = |href: &str, zh: &str, en: &str| {
        let current = if ctx.path == href { r#" aria-current="page""# } else { "" };
        format!(r#"<li><a href="{href}"{current}>{}</a></li>"#, ctx.t(zh, en))
    };
    let publish_items =
        nav_item("/listings/new", "发布", "Publish") + &nav_item("/transfer", "导入导出", "Import/export");
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
<nav aria-label="{nav_label}"><ul class="nav">{dash}{search}{publish}<li><a href="/api/docs">API</a></li></ul></nav>
<a class="lang-switch" id="lang-switch" href="{switch}" lang="{switch_lang}">{switch_text}</a>
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
        publish = publish_items,
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
