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

# Address to listen on. Env: XT_ADDR. Flag: --addr.
addr = "127.0.0.1:8080"

# Load the built-in demo dataset on first start (later starts reuse the data).
# Env: XT_DEMO=1. Flag: --demo.
demo = false

# Mark session cookies Secure even when no proxy sends X-Forwarded-Proto: https (set this when
# the server is reached over TLS only). Env: XT_SECURE_COOKIES=1.
secure_cookies = false

# Log format: "pretty" or "json". Env: XT_LOG_FORMAT. Levels via RUST_LOG (default info).
log_format = "pretty"

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
    pub addr: Option<String>,
    pub demo: Option<bool>,
    pub secure_cookies: Option<bool>,
    pub log_format: Option<String>,
    pub embedding: Option<EmbeddingConfig>,
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
