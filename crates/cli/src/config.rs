//! Layered settings of `xietong serve`: defaults, then the TOML config file, then `XT_*`
//! environment variables, then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// The default configuration, printed by `xietong default-config`.
pub const DEFAULT_CONFIG: &str = r#"# xietong configuration (TOML). Every key is optional.
# Precedence: built-in defaults < this file < XT_* environment variables < command-line flags.

# Data directory: the SQLite database (xietong.db) and the search index (index/).
# Env: XT_DATA. Flag: --data.
data = "./xietong-data"

# Database server shared by several nodes instead of the data directory's SQLite file, e.g.
# "postgres://xietong@127.0.0.1:5432/xietong". Env: XT_DATABASE_URL. Flag: --database-url.
# database_url = "postgres://xietong@127.0.0.1:5432/xietong"

# Address to listen on. Env: XT_ADDR. Flag: --addr.
addr = "127.0.0.1:8080"

# Load the built-in demo dataset on first start (later starts reuse the data).
# Env: XT_DEMO=1. Flag: --demo.
demo = false

# Mark session cookies Secure even when no proxy sends X-Forwarded-Proto: https (set this when
# the server is reached over TLS only). Env: XT_SECURE_COOKIES=1.
secure_cookies = false

# Listings not updated for this many days are stale: flagged `stale: true` in the API and on
# their page, ranked lower in matching, and their owners are reminded once per period.
# Env: XT_STALE_AFTER_DAYS.
stale_after_days = 180

# Talent credentials: each region's issuing key is stored sealed under the key derived from the
# environment variable XT_CREDENTIAL_KEY (environment only, so the secret stays out of files; the
# same value on every node of one database). Unset, the embedded demo's fixed key
# "xietong-demo-credential-key" is used and a warning logged: set it for anything but a demo.

# Log format: "pretty" or "json". Env: XT_LOG_FORMAT. Levels via RUST_LOG (default info).
log_format = "pretty"

# Connection hygiene and work caps (the defaults suit a small server).
# [limits]
# max_connections = 4096          # open connections; at the limit the idlest one is closed
# header_read_timeout_s = 10      # a request head must arrive within this time
# idle_timeout_s = 60             # keep-alive connections idle longer are closed
# max_expensive = 8               # matching/import/export requests at once (default 2 x cores, at least 4)
# max_expensive_per_client = 2    # the same, per client address

# Webhooks of organisations (POST /api/v1/webhooks) and the outbox worker that delivers them.
# [webhooks]
# allow_private = false           # accept URLs on loopback/private/link-local addresses (closed networks, tests); env XT_WEBHOOK_ALLOW_PRIVATE=1
# poll_interval_ms = 1000         # how often the worker looks for due deliveries
# backoff_base_ms = 2000          # first retry after this; each further one waits twice as long
# backoff_cap_s = 3600            # no retry waits longer
# max_attempts = 8                # then the delivery is marked failed
# timeout_s = 10                  # one webhook call

# E-mail notices (to users who set an address with PUT /api/v1/me/email). Without [smtp] no
# e-mail is sent.
# [smtp]
# host = "smtp.example.com"
# port = 587
# from = "协同平台 <noreply@example.com>"
# username = "noreply@example.com"
# password_env = "XT_SMTP_PASSWORD"   # name of the env var holding the password
# tls = "starttls"                    # starttls, tls (port 465) or none (local relay only)

# Optional embeddings, fused with text relevance when set. The default needs none.
# [embedding]
# OpenAI-compatible endpoint (POST {url}/v1/embeddings):
# url = "http://127.0.0.1:8000"
# model = "bge-small-zh"
# dim = 512
# api_key_env = "XT_EMBEDDING_KEY"   # name of the env var holding the key
# Or a local model directory with vectors.txt (word2vec text format):
# model_dir = "/opt/models/zh-vectors"
"#;

/// What the config file may contain.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data: Option<PathBuf>,
    pub database_url: Option<String>,
    pub addr: Option<String>,
    pub demo: Option<bool>,
    pub secure_cookies: Option<bool>,
    pub log_format: Option<String>,
    pub stale_after_days: Option<u32>,
    pub embedding: Option<EmbeddingConfig>,
    pub limits: Option<LimitsConfig>,
    pub webhooks: Option<WebhooksConfig>,
    pub smtp: Option<SmtpConfig>,
}

/// Webhook delivery settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    pub allow_private: Option<bool>,
    pub poll_interval_ms: Option<u64>,
    pub backoff_base_ms: Option<u64>,
    pub backoff_cap_s: Option<u64>,
    pub max_attempts: Option<u32>,
    pub timeout_s: Option<u64>,
}

/// The SMTP server for e-mail notices.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: Option<u16>,
    pub from: String,
    pub username: Option<String>,
    /// Prefer `password_env`; a password here is read as given.
    pub password: Option<String>,
    pub password_env: Option<String>,
    pub tls: Option<String>,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_env", &self.password_env)
            .field("tls", &self.tls)
            .finish()
    }
}

/// The notification settings from the file and the environment (`XT_WEBHOOK_ALLOW_PRIVATE=1`).
pub fn notify_settings(file: &FileConfig) -> anyhow::Result<xietong_app::notify::NotifySettings> {
    use std::time::Duration;
    let mut settings = xietong_app::notify::NotifySettings::default();
    let hooks = file.webhooks.clone().unwrap_or_default();
    let env_private = std::env::var("XT_WEBHOOK_ALLOW_PRIVATE").map(|v| v == "1" || v == "true").unwrap_or(false);
    settings.allow_private = env_private || hooks.allow_private.unwrap_or(false);
    if let Some(ms) = hooks.poll_interval_ms {
        settings.poll_interval = Duration::from_millis(ms.max(10));
    }
    if let Some(ms) = hooks.backoff_base_ms {
        settings.backoff_base = Duration::from_millis(ms.max(1));
    }
    if let Some(s) = hooks.backoff_cap_s {
        settings.backoff_cap = Duration::from_secs(s.max(1));
    }
    if let Some(n) = hooks.max_attempts {
        settings.max_attempts = n.max(1);
    }
    if let Some(s) = hooks.timeout_s {
        settings.request_timeout = Duration::from_secs(s.max(1));
    }
    if let Some(smtp) = &file.smtp {
        let tls: xietong_app::notify::SmtpTls =
            smtp.tls.as_deref().unwrap_or("starttls").parse().map_err(|e: String| anyhow::anyhow!(e))?;
        let password = match &smtp.password_env {
            Some(name) => {
                Some(std::env::var(name).with_context(|| format!("smtp.password_env names {name}, which is not set"))?)
            }
            None => smtp.password.clone(),
        };
        let default_port = match tls {
            xietong_app::notify::SmtpTls::Tls => 465,
            xietong_app::notify::SmtpTls::StartTls => 587,
            xietong_app::notify::SmtpTls::None => 25,
        };
        settings.smtp = Some(xietong_app::notify::SmtpSettings {
            host: smtp.host.clone(),
            port: smtp.port.unwrap_or(default_port),
            from: smtp.from.clone(),
            username: smtp.username.clone(),
            password,
            tls,
        });
    }
    Ok(settings)
}

/// Connection and work caps of `xietong serve`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_connections: Option<usize>,
    pub header_read_timeout_s: Option<u64>,
    pub idle_timeout_s: Option<u64>,
    pub max_expensive: Option<usize>,
    pub max_expensive_per_client: Option<usize>,
}

impl LimitsConfig {
    /// The connection limits, defaults filled in.
    pub fn connections(&self) -> xietong_http::ConnectionLimits {
        let defaults = xietong_http::ConnectionLimits::default();
        xietong_http::ConnectionLimits {
            max_connections: self.max_connections.unwrap_or(defaults.max_connections).max(1),
            header_read_timeout: self
                .header_read_timeout_s
                .map_or(defaults.header_read_timeout, std::time::Duration::from_secs),
            idle_timeout: self.idle_timeout_s.map_or(defaults.idle_timeout, std::time::Duration::from_secs),
        }
    }

    /// The caps on expensive work, defaults filled in.
    pub fn work(&self) -> xietong_http::WorkLimits {
        match (self.max_expensive, self.max_expensive_per_client) {
            (None, None) => xietong_http::WorkLimits::default(),
            (server, client) => {
                let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
                xietong_http::WorkLimits::new(server.unwrap_or((2 * cores).max(4)), client.unwrap_or(2))
            }
        }
    }
}

/// Optional embedding provider.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingConfig {
    pub url: Option<String>,
    pub model: Option<String>,
    pub dim: Option<usize>,
    pub api_key_env: Option<String>,
    pub model_dir: Option<PathBuf>,
}

/// Reads a config file; a missing default file is fine, a missing explicit one is an error.
pub fn load_file(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let (path, explicit) = match path {
        Some(path) => (path.to_path_buf(), true),
        None => (PathBuf::from("xietong.toml"), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("failed to parse config file {}", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(FileConfig::default()),
        Err(err) => Err(err).with_context(|| format!("failed to read config file {}", path.display())),
    }
}

/// Parses a listen address, with a message that says what is expected.
pub fn parse_addr(text: &str) -> anyhow::Result<SocketAddr> {
    text.parse().with_context(|| format!("invalid address {text:?}: use HOST:PORT, e.g. 127.0.0.1:8080"))
}
