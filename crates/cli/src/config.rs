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

# Log format: "pretty" or "json". Env: XT_LOG_FORMAT. Levels via RUST_LOG (default info).
log_format = "pretty"

# Connection hygiene and work caps (the defaults suit a small server).
# [limits]
# max_connections = 4096          # open connections; at the limit the idlest one is closed
# header_read_timeout_s = 10      # a request head must arrive within this time
# idle_timeout_s = 60             # keep-alive connections idle longer are closed
# max_expensive = 8               # matching/import/export requests at once (default 2 x cores, at least 4)
# max_expensive_per_client = 2    # the same, per client address

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
