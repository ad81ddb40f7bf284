//! `xietong bench`: loads N realistic listings (the demo generator, all seven kinds in demo
//! proportions) through the store, builds the index, and measures search and matching in
//! process (1, 2 and 8 threads) and over HTTP. Prints one JSON object as its last line.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use xietong_app::types::{ListFilter, SearchQuery, WriteOp, eval};
use xietong_app::{Actor, App, DataDir};
use xietong_domain::{Details, Kind, Listing, Reference, validate};

/// Benchmark the platform at scale.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Listings to generate and load.
    #[arg(long, default_value_t = 1_000_000)]
    pub listings: usize,
    /// Queries per measured operation and concurrency level.
    #[arg(long, default_value_t = 200)]
    pub iterations: usize,
    /// Data directory for the run [default: a temporary directory, removed afterwards]. When it
    /// already holds an index of at least `--listings` listings (an earlier run's), loading and
    /// indexing are skipped and only the queries are measured.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Run on this PostgreSQL database (it should be empty) instead of a SQLite file.
    #[arg(long, env = "XT_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Skip the HTTP measurements.
    #[arg(long)]
    pub no_http: bool,
}

/// Listings written per store transaction while loading.
const LOAD_BATCH: usize = 10_000;

const SEARCH_TEXTS: [&str; 8] = [
    "机器视觉",
    "无人机 应急救援",
    "大模型",
    "创新药 临床",
    "工业机器人 焊接",
    "卫星 遥感",
    "LiDAR SLAM",
    "锂电池 缺陷检测",
];

fn bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.listings > 0, "--listings must be at least 1");
    anyhow::ensure!(args.iterations > 0, "--iterations must be at least 1");
    let temp = tempfile::tempdir().context("failed to create a temporary directory")?;
    let root = args.data.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let backend = if args.database_url.is_some() { "postgres" } else { "sqlite" };
    let data_dir = DataDir::create(&root)?.with_database_url(args.database_url.clone());
    let app = App::open(&data_dir).context("failed to open the benchmark's data directory")?;

    let reused = args.data.is_some() && app.indexed_listings() >= args.listings as u64;
    let (loaded, ingest_s, generate_s, index_build_s) = if reused {
        eprintln!("reusing the {} listings indexed in {}", app.indexed_listings(), root.display());
        (app.indexed_listings() as usize, f64::NAN, f64::NAN, f64::NAN)
    } else {
        let (loaded, ingest_s, generate_s) = load(&app, args.listings)?;
        let index_started = Instant::now();
        let progress = bar(loaded as u64, "indexing");
        app.reindex(|done, total| {
            progress.set_length(total);
            progress.set_position(done);
        })?;
        progress.finish_and_clear();
        (loaded, ingest_s, generate_s, index_started.elapsed().as_secs_f64())
    };
    let index_bytes = dir_bytes(&data_dir.index_path());

    let app = Arc::new(app);
    let operator = Actor::operator();
    let sources =
        app.list_listings(&operator, ListFilter { kind: Some(Kind::Demand), ..ListFilter::default() }, 200, 0)?.items;
    anyhow::ensure!(!sources.is_empty(), "no demands were loaded to match from");
    let mut figures = serde_json::Map::new();
    for threads in [1usize, 2, 8] {
        let (search, matching) = measure(&app, &sources, args.iterations, threads)?;
        let suffix = if threads == 1 { String::new() } else { format!("_c{threads}") };
        figures.insert(format!("search_p50_ms{suffix}"), round(eval::percentile(&search, 50.0)).into());
        figures.insert(format!("search_p99_ms{suffix}"), round(eval::percentile(&search, 99.0)).into());
        figures.insert(format!("match_p50_ms{suffix}"), round(eval::percentile(&matching, 50.0)).into());
        figures.insert(format!("match_p99_ms{suffix}"), round(eval::percentile(&matching, 99.0)).into());
    }
    // The planner's view of one sector (issue 19): counts and gap labels per segment and region.
    let chain_ms = measure_chain_view(&app, args.iterations)?;
    figures.insert("chain_view_p50_ms".into(), round(eval::percentile(&chain_ms, 50.0)).into());
    figures.insert("chain_view_p99_ms".into(), round(eval::percentile(&chain_ms, 99.0)).into());
    if !args.no_http {
        let (search, matching) = measure_http(app.clone(), &sources, args.iterations)?;
        figures.insert("http_search_p99_ms".into(), round(eval::percentile(&search, 99.0)).into());
        figures.insert("http_match_p99_ms".into(), round(eval::percentile(&matching, 99.0)).into());
    }
    let mut summary = serde_json::json!({
        "listings": loaded,
        "backend": backend,
        "ingest_per_s": (loaded as f64 / ingest_s).round(),
        "ingest_s": round(ingest_s),
        "generate_s": round(generate_s),
        "index_build_s": round(index_build_s),
        "index_bytes": index_bytes,
        "peak_rss_mb": peak_rss_mb(),
    });
    summary.as_object_mut().expect("an object").extend(figures);
    println!("{summary}");
    Ok(())
}

/// Generates and stores `count` listings, a demo dataset (one seed) at a time, and returns how
/// many were stored, the seconds the store took to take them (the ingest figure) and the seconds
/// spent generating and validating them (reported apart: a real import arrives generated). Enterprises of later seeds
/// that repeat a USCC lose it and external ids get the set's number, so the store's uniqueness holds.
fn load(app: &App, count: usize) -> anyhow::Result<(usize, f64, f64)> {
    let reference = Reference::get();
    let progress = bar(count as u64, "loading");
    let started = Instant::now();
    let mut storing = Duration::ZERO;
    let mut store = |ops: Vec<WriteOp>| -> anyhow::Result<usize> {
        let started = Instant::now();
        let stored = app.bulk_load(ops)?;
        storing += started.elapsed();
        Ok(stored)
    };
    let mut usccs = std::collections::HashSet::new();
    let mut loaded = 0;
    let mut seed = xietong_demo::DEFAULT_SEED;
    while loaded < count {
        let demo = xietong_demo::generate(seed);
        let mut ops = Vec::with_capacity(LOAD_BATCH);
        let copy = seed - xietong_demo::DEFAULT_SEED;
        for mut body in demo.listings.into_iter().take(count - loaded) {
            if copy > 0
                && let Some(external_id) = &mut body.external_id
            {
                // Each generated set keeps its own external ids.
                external_id.push_str(&format!("-{copy}"));
            }
            if let Details::Enterprise(enterprise) = &mut body.details
                && let Some(uscc) = &enterprise.uscc
                && !usccs.insert(uscc.clone())
            {
                enterprise.uscc = None;
            }
            let body = validate(body, reference).map_err(|e| anyhow::anyhow!("generated listing is invalid: {e}"))?;
            ops.push(WriteOp::Create(body));
            if ops.len() == LOAD_BATCH {
                loaded += store(std::mem::take(&mut ops))?;
                progress.set_position(loaded as u64);
            }
        }
        if !ops.is_empty() {
            loaded += store(ops)?;
            progress.set_position(loaded as u64);
        }
        seed += 1;
    }
    progress.finish_and_clear();
    let store_s = storing.as_secs_f64();
    Ok((loaded, store_s, started.elapsed().as_secs_f64() - store_s))
}

/// Latencies (ms) of one sector's chain view (Beijing, Tianjin, Hebei and Fengtai), for an
/// anonymous reader and for the operator in turn, each sector in turn.
fn measure_chain_view(app: &App, iterations: usize) -> anyhow::Result<Vec<f64>> {
    let records = app.chains()?;
    let regions = app.chain_regions(Some("110106"))?;
    let readers = [Actor::new(xietong_domain::Viewer::Anonymous, None), Actor::operator()];
    let mut times = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let record = std::slice::from_ref(&records[i % records.len()]);
        let started = Instant::now();
        app.chain_views(&readers[i % 2], record, &regions, xietong_domain::chain::GapRules::default())?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(times)
}

/// Search and match latencies (ms) with `threads` threads each running `iterations` queries.
fn measure(
    app: &Arc<App>,
    sources: &[Listing],
    iterations: usize,
    threads: usize,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let progress = bar((iterations * threads * 2) as u64, &format!("queries ×{threads}"));
    let results: Vec<anyhow::Result<(Vec<f64>, Vec<f64>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let app = app.clone();
                let progress = progress.clone();
                scope.spawn(move || -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
                    let operator = Actor::operator();
                    let mut search = Vec::with_capacity(iterations);
                    let mut matching = Vec::with_capacity(iterations);
                    for i in 0..iterations {
                        let text = SEARCH_TEXTS[(i + thread) % SEARCH_TEXTS.len()];
                        let query = SearchQuery { text: Some(text.to_string()), limit: 20, ..SearchQuery::default() };
                        let t = Instant::now();
                        app.search(&operator, query)?;
                        search.push(t.elapsed().as_secs_f64() * 1000.0);
                        progress.inc(1);
                        let source = &sources[(i * threads + thread) % sources.len()];
                        let t = Instant::now();
                        app.match_source(&operator, source, None, 20)?;
                        matching.push(t.elapsed().as_secs_f64() * 1000.0);
                        progress.inc(1);
                    }
                    Ok((search, matching))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a query thread panicked"))))
            .collect()
    });
    progress.finish_and_clear();
    let (mut search, mut matching) = (Vec::new(), Vec::new());
    for result in results {
        let (s, m) = result?;
        search.extend(s);
        matching.extend(m);
    }
    Ok((search, matching))
}

/// The same queries through the HTTP API of an in-process server, one client at a time.
fn measure_http(app: Arc<App>, sources: &[Listing], iterations: usize) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = xietong_http::AppState::new(app);
    let server =
        runtime.spawn(xietong_http::serve(listener, state, xietong_http::ConnectionLimits::default(), async {
            let _ = stopped.await;
        }));
    // The HTTP client is anonymous: it matches from the listings everyone may read.
    let sources: Vec<&Listing> =
        sources.iter().filter(|l| xietong_domain::Viewer::Anonymous.can_read(&l.body)).collect();
    anyhow::ensure!(!sources.is_empty(), "no public demand to match from over HTTP");
    let progress = bar((iterations * 2) as u64, "http");
    let mut search = Vec::with_capacity(iterations);
    let mut matching = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let text = SEARCH_TEXTS[i % SEARCH_TEXTS.len()];
        let path = format!("/api/v1/search?q={}&limit=20", url_encode(text));
        let t = Instant::now();
        http(addr, "GET", &path, None)?;
        search.push(t.elapsed().as_secs_f64() * 1000.0);
        progress.inc(1);
        let path = format!("/api/v1/listings/{}/matches?limit=20", sources[i % sources.len()].id);
        let t = Instant::now();
        http(addr, "GET", &path, None)?;
        matching.push(t.elapsed().as_secs_f64() * 1000.0);
        progress.inc(1);
    }
    progress.finish_and_clear();
    let _ = stop.send(());
    runtime.block_on(server).context("the benchmark server failed")??;
    Ok((search, matching))
}

/// One HTTP/1.1 request; fails unless the answer is 200.
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let head = String::from_utf8_lossy(&answer[..answer.len().min(64)]).to_string();
    anyhow::ensure!(head.starts_with("HTTP/1.1 200"), "{method} {path} answered {head:?}");
    Ok(())
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The process's peak resident memory, from /proc (Linux); 0 where it is not available.
fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

fn round(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}
