//! `reindex`, `eval` and `bench`: maintenance and measurement commands.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use xietong_app::types::{WriteOp, eval};
use xietong_app::{App, DataDir};
use xietong_domain::{Reference, validate};
use xietong_http::api::matching::{MatchBody, to_request};

use crate::DataArgs;

/// Rebuild the search index from the store.
#[derive(Debug, clap::Args)]
pub struct ReindexArgs {
    #[command(flatten)]
    pub data: DataArgs,
}

/// Evaluate matching on a corpus, queries and graded relevance judgements.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Corpus JSONL: {"id","title","text","keywords","field",...} per line.
    #[arg(long)]
    pub corpus: PathBuf,
    /// Queries JSONL: {"id","text","keywords"} per line.
    #[arg(long)]
    pub queries: PathBuf,
    /// Judgements TSV: query_id, doc_id, grade.
    #[arg(long)]
    pub qrels: PathBuf,
    /// Write the run (one {"query_id","ranking"} line per query) here.
    #[arg(long)]
    pub run_out: Option<PathBuf>,
    /// Doc ids per ranking.
    #[arg(long, default_value_t = 100)]
    pub depth: usize,
    /// Remove the optional labels (`field`, `category`) from this fraction (0–1) of the corpus
    /// documents before indexing, to measure matching on listings without them.
    #[arg(long, default_value_t = 0.0)]
    pub strip_labels: f64,
    /// Seed of the random choice of documents for `--strip-labels`.
    #[arg(long, default_value_t = 11)]
    pub seed: u64,
}

fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

pub fn reindex(args: ReindexArgs) -> anyhow::Result<()> {
    let data_dir = args.data.data_dir()?;
    let app =
        App::open(&data_dir).context("failed to open the data directory (is a server running on it? stop it first)")?;
    let started = Instant::now();
    let bar = progress_bar(0, "reindexing");
    let done = app.reindex(|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    println!(
        "{}",
        serde_json::json!({"reindexed": done, "indexed_docs": app.indexed_listings(), "seconds": started.elapsed().as_secs_f64()})
    );
    Ok(())
}

/// Loads the corpus into a temporary data directory through the store, indexes it from the store,
/// and runs every query through the same code path as `POST /api/v1/match`.
pub fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let mut corpus =
        eval::load_corpus(&args.corpus).with_context(|| format!("failed to read corpus {}", args.corpus.display()))?;
    anyhow::ensure!((0.0..=1.0).contains(&args.strip_labels), "--strip-labels must be between 0 and 1");
    let stripped = eval::strip_labels(&mut corpus, args.strip_labels, args.seed);
    let queries = eval::load_queries(&args.queries)
        .with_context(|| format!("failed to read queries {}", args.queries.display()))?;
    let qrels =
        eval::load_qrels(&args.qrels).with_context(|| format!("failed to read qrels {}", args.qrels.display()))?;
    let temp = tempfile::tempdir().context("failed to create a temporary data directory")?;
    let data_dir = DataDir::create(temp.path())?;
    let app = App::open(&data_dir)?;
    let operator = xietong_app::Actor::operator();

    let index_started = Instant::now();
    let reference = Reference::get();
    let mut ops = Vec::with_capacity(corpus.len());
    for doc in &corpus {
        let body = validate(eval::doc_listing(doc).body, reference)
            .map_err(|e| anyhow::anyhow!("corpus doc {} is invalid: {e}", doc.id))?;
        ops.push(WriteOp::Create(body));
    }
    app.bulk_load(ops)?;
    app.sync_index()?;
    let index_s = index_started.elapsed().as_secs_f64();

    let bar = progress_bar(queries.len() as u64, "querying");
    let mut runs: HashMap<String, Vec<String>> = HashMap::new();
    let mut latencies_ms = Vec::with_capacity(queries.len());
    for query in &queries {
        let body = MatchBody {
            text: query.text.clone(),
            keywords: query.keywords.clone(),
            kind: Some("achievement".to_string()),
            trl_min: None,
            region_codes: Vec::new(),
            industry_codes: Vec::new(),
            disciplines: Vec::new(),
            budget: None,
            talent_modes: Vec::new(),
            regions_required: false,
            limit: Some(args.depth as u32),
            lang: None,
        };
        let started = Instant::now();
        // The operator reads everything, like the example eval.
        let (request, _) = to_request(body).map_err(|e| anyhow::anyhow!("query {} is invalid: {e:?}", query.id))?;
        let hits = app.match_request(&operator, request)?;
        latencies_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let mut ranking: Vec<String> = hits.into_iter().filter_map(|h| h.listing.body.external_id).collect();
        // Fewer hits than the depth: pad with the remaining documents so every run is complete.
        if ranking.len() < args.depth {
            let mut seen: std::collections::HashSet<String> = ranking.iter().cloned().collect();
            for doc in &corpus {
                if ranking.len() >= args.depth {
                    break;
                }
                if seen.insert(doc.id.clone()) {
                    ranking.push(doc.id.clone());
                }
            }
        }
        runs.insert(query.id.clone(), ranking);
        bar.inc(1);
    }
    bar.finish_and_clear();
    if let Some(path) = &args.run_out {
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("failed to create {}", path.display()))?,
        );
        for query in &queries {
            writeln!(file, "{}", serde_json::json!({"query_id": query.id, "ranking": runs[&query.id]}))?;
        }
        file.flush()?;
    }
    let metrics = eval::score(&qrels, &runs);
    println!(
        "{}",
        serde_json::json!({
            "ndcg@10": round4(metrics.ndcg_at_10),
            "mrr@10": round4(metrics.mrr_at_10),
            "recall@50": round4(metrics.recall_at_50),
            "docs": corpus.len(),
            "labels_stripped": stripped,
            "seed": args.seed,
            "queries": metrics.queries,
            "index_s": round4(index_s),
            "query_p50_ms": round4(eval::percentile(&latencies_ms, 50.0)),
            "query_p99_ms": round4(eval::percentile(&latencies_ms, 99.0)),
        })
    );
    Ok(())
}

fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

/// Move an embedded data directory's database (listings, accounts, audit trail, deals,
/// everything) to PostgreSQL.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The data directory whose `xietong.db` is copied (it is only read).
    #[arg(long)]
    pub from: std::path::PathBuf,
    /// The PostgreSQL database to copy into, e.g. postgres://xietong@127.0.0.1:5432/xietong.
    #[arg(long)]
    pub to: String,
}

/// Copies every table, then prints per table the rows and checksums on both sides and, last,
/// one JSON line; fails when a table differs. Running it again copies nothing.
pub fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let data_dir = DataDir::create(&args.from)?;
    let source = data_dir.store_path();
    anyhow::ensure!(source.exists(), "{} has no database ({} is missing)", args.from.display(), source.display());
    anyhow::ensure!(
        args.to.starts_with("postgres://") || args.to.starts_with("postgresql://"),
        "--to must be a postgres:// URL"
    );
    let tables = xietong_app::types::copy::TABLES.len() as u64;
    let bar = progress_bar(tables, "migrating");
    let report = xietong_app::types::copy::copy_sqlite_to_postgres(&source, &args.to, |table| {
        bar.inc(1);
        println!(
            "{}",
            format_args!(
                "{:<20} {:>9} → {:>9} rows  copied {:>9}  {} {} {}",
                table.table,
                table.source_rows,
                table.target_rows,
                table.copied,
                table.source_checksum,
                if table.matches() { "=" } else { "≠" },
                table.target_checksum
            )
        );
    })
    .context("migration failed")?;
    bar.finish_and_clear();
    let differing: Vec<&str> = report.iter().filter(|t| !t.matches()).map(|t| t.table.as_str()).collect();
    let summary = serde_json::json!({
        "tables": report.len(),
        "rows": report.iter().map(|t| t.source_rows).sum::<u64>(),
        "copied": report.iter().map(|t| t.copied).sum::<u64>(),
        "identical": differing.is_empty(),
        "differing": differing,
    });
    println!("{summary}");
    anyhow::ensure!(differing.is_empty(), "the copies of {} differ from the source", differing.join(", "));
    Ok(())
}
