//! `xietong serve`: the API and web pages on the embedded store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use xietong_app::{App, DataDir};
use xietong_http::AppState;

use crate::config::{self, FileConfig};

/// Serve the API and web pages.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Load the built-in demo dataset on first start (env XT_DEMO=1).
    #[arg(long, env = "XT_DEMO")]
    pub demo: bool,
    /// Data directory [default: ./xietong-data] (env XT_DATA).
    #[arg(long, env = "XT_DATA")]
    pub data: Option<PathBuf>,
    /// Database server (postgres://USER@HOST:PORT/DB) shared by several nodes, instead of the
    /// data directory's SQLite file (env XT_DATABASE_URL); each node keeps its own index in its
    /// data directory.
    #[arg(long, env = "XT_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address to listen on [default: 127.0.0.1:8080] (env XT_ADDR).
    #[arg(long, env = "XT_ADDR")]
    pub addr: Option<String>,
    /// Config file (TOML) [default: ./xietong.toml if present]; see `xietong default-config`.
    #[arg(long, env = "XT_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Starts the server and runs until SIGTERM or Ctrl-C.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let file = config::load_file(args.config.as_deref())?;
    crate::init_logging(file.log_format.as_deref());
    let data = args.data.or(file.data.clone()).unwrap_or_else(|| PathBuf::from("./xietong-data"));
    let addr = config::parse_addr(args.addr.as_deref().or(file.addr.as_deref()).unwrap_or("127.0.0.1:8080"))?;
    let demo = args.demo || file.demo.unwrap_or(false);
    let secure_cookies = std::env::var("XT_SECURE_COOKIES").map(|v| v == "1" || v == "true").unwrap_or(false)
        || file.secure_cookies.unwrap_or(false);

    let started = Instant::now();
    let data_dir = DataDir::create(&data)?.with_database_url(args.database_url.or(file.database_url.clone()));
    tracing::info!(database = %data_dir.database_label(), "opening the database");
    let mut app = App::open(&data_dir)?;
    app.set_stale_after_days(stale_after_days(&file)?);
    configure_embedder(&app, &file)?;
    app.set_notify_settings(config::notify_settings(&file)?);
    if demo {
        let loaded = app.load_demo(xietong_demo::DEFAULT_SEED)?;
        if loaded > 0 {
            tracing::info!(
                listings = loaded,
                duration_ms = started.elapsed().as_millis() as u64,
                "demo dataset loaded"
            );
        }
    }
    tracing::info!(data = %data.display(), duration_ms = started.elapsed().as_millis() as u64, indexed_docs = app.indexed_listings(), "ready");
    let demo_accounts = if demo { app.demo_accounts()? } else { Vec::new() };
    let app = Arc::new(app);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("failed to listen on {addr}"))?;
        let local = listener.local_addr()?;
        println!("xietong is serving {} on http://{local}/  (API docs: http://{local}/api/docs)", data.display());
        if !demo_accounts.is_empty() {
            println!(
                "Demo accounts (password {:?}), log in at http://{local}/login:",
                xietong_app::demo_accounts::DEMO_PASSWORD
            );
            for account in &demo_accounts {
                println!(
                    "  {:<12} {:<16} {}",
                    account.username,
                    account.role.as_str(),
                    account.org.as_deref().unwrap_or("")
                );
            }
            println!("API token for scripts: xietong token issue --data {} --user admin", data.display());
        }
        // Writes from other processes, and writes whose index step failed, reach the index.
        App::spawn_follower(&app);
        // Webhook and e-mail deliveries waiting in the outbox (also those from before a restart).
        App::spawn_outbox_worker(&app);
        let limits = file.limits.clone().unwrap_or_default();
        let mut state = AppState::with_limits(app, limits.work());
        state.secure_cookies = secure_cookies;
        xietong_http::serve(listener, state, limits.connections(), shutdown_signal()).await.context("server failed")?;
        tracing::info!("shut down cleanly");
        Ok(())
    })
}

/// `stale_after_days`: `XT_STALE_AFTER_DAYS`, else the config file, else 180.
fn stale_after_days(file: &FileConfig) -> anyhow::Result<u32> {
    match std::env::var("XT_STALE_AFTER_DAYS") {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|days| *days > 0)
            .with_context(|| format!("XT_STALE_AFTER_DAYS must be a positive number of days, not {text:?}")),
        _ => Ok(file.stale_after_days.unwrap_or(xietong_app::feedback::DEFAULT_STALE_AFTER_DAYS)),
    }
}

fn configure_embedder(app: &App, file: &FileConfig) -> anyhow::Result<()> {
    let Some(embedding) = &file.embedding else { return Ok(()) };
    let embedder: Arc<dyn xietong_app::types::Embedder> = if let Some(dir) = &embedding.model_dir {
        Arc::new(
            xietong_app::types::LocalModelEmbedder::load(dir)
                .with_context(|| format!("failed to load model from {}", dir.display()))?,
        )
    } else if let Some(url) = &embedding.url {
        let key = embedding.api_key_env.as_deref().and_then(|name| std::env::var(name).ok());
        Arc::new(xietong_app::types::HttpEmbedder::new(
            url,
            embedding.model.as_deref().unwrap_or("default"),
            key,
            embedding.dim.unwrap_or(0),
        ))
    } else {
        anyhow::bail!("[embedding] needs either url or model_dir");
    };
    app.set_embedder(Some(embedder));
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
