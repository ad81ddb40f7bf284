//! Helpers of the browser tests: the demo server in-process and a chromedriver-driven Chromium.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use xietong_app::{App, DataDir};
use xietong_domain::Kind;
use xietong_http::AppState;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The app with the demo data, served on a free port by a runtime the test drives.
pub struct DemoServer {
    pub runtime: tokio::runtime::Runtime,
    pub base_url: String,
    pub app: Arc<App>,
    _dir: tempfile::TempDir,
}

impl DemoServer {
    pub fn start() -> DemoServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let app = Arc::new(App::open(&DataDir::create(dir.path()).expect("data dir")).expect("open app"));
        let loading = Instant::now();
        let loaded = app.load_demo(xietong_demo::DEFAULT_SEED).expect("load demo data");
        eprintln!("browser: loaded {loaded} demo listings in {:.1}s", loading.elapsed().as_secs_f64());
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let address = listener.local_addr().expect("address");
        let state = AppState::new(app.clone());
        runtime.spawn(async move {
            xietong_http::serve(listener, state, xietong_http::ConnectionLimits::default(), std::future::pending())
                .await
                .expect("serve");
        });
        DemoServer { runtime, base_url: format!("http://{address}"), app, _dir: dir }
    }

    /// Enterprises in the store, whatever their status.
    pub fn enterprise_count(&self) -> u64 {
        self.app
            .store()
            .counts()
            .expect("counts")
            .iter()
            .filter(|c| c.kind == Kind::Enterprise)
            .map(|c| c.count)
            .sum::<u64>()
    }
}

/// A chromedriver process on a free port; killed on drop.
pub struct Browser {
    driver: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver. Fails (never skips) when Chromium or chromedriver is missing.
    pub fn start() -> Browser {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: the browser tests need Debian's Chromium; run `apt-get install -y chromium chromium-driver`"
            );
        }
        let port = StdListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("failed to start chromedriver; run `apt-get install -y chromium chromium-driver`");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on port {port} within 20 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Browser { driver, port, profile: tempfile::tempdir().expect("profile dir") }
    }

    /// Opens a headless Chromium session.
    pub async fn connect(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_string(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--hide-scrollbars", "--window-size=1280,1800",
                    format!("--user-data-dir={}", self.profile.path().display()),
                ],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("failed to open a Chromium session through chromedriver")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where screenshots go: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|p| p.join("screenshots"))
        .unwrap_or_else(|| PathBuf::from("screenshots"));
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// Saves a PNG of the viewport; with `XT_UPDATE_DOC_SCREENSHOTS=1`, the dashboard and listing
/// shots are also copied to `docs/screenshots/`.
pub async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    let path = screenshot_dir().join(format!("{name}.png"));
    std::fs::write(&path, &png).expect("write screenshot");
    eprintln!("browser: screenshot {}", path.display());
    if std::env::var("XT_UPDATE_DOC_SCREENSHOTS").is_ok_and(|v| v == "1") && (name == "dashboard" || name == "listing")
    {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&docs).expect("docs/screenshots");
        std::fs::write(docs.join(format!("{name}.png")), &png).expect("write doc screenshot");
    }
}
