//! Runs the matching eval: indexes a corpus into a temporary directory, answers every query with
//! `match_request`, writes the run file and prints one JSON line of figures.
//!
//! ```text
//! cargo run --release -p xietong-search --example eval -- \
//!     --corpus /work/shared/eval/dev/corpus.jsonl --queries /work/shared/eval/dev/queries.jsonl \
//!     --qrels /work/shared/eval/dev/qrels.tsv --run-out run.jsonl [--strip-labels 0.5 --seed 11]
//!     [--set prf_weight=0.3 ...]
//! ```

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use xietong_search::eval::{
    doc_listing, load_corpus, load_qrels, load_queries, percentile, query_request, score, strip_labels,
};
use xietong_search::{MatchWeights, SearchIndex};

/// Every ranking holds at least this many doc ids.
const RANKING_DEPTH: usize = 100;

fn main() -> anyhow::Result<()> {
    let mut corpus_path = None;
    let mut queries_path = None;
    let mut qrels_path = None;
    let mut run_out = None;
    let mut strip_fraction = 0.0;
    let mut seed = 11;
    let mut overrides = serde_json::to_value(MatchWeights::default())?;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--corpus" => corpus_path = Some(PathBuf::from(value()?)),
            "--queries" => queries_path = Some(PathBuf::from(value()?)),
            "--qrels" => qrels_path = Some(PathBuf::from(value()?)),
            "--run-out" => run_out = Some(PathBuf::from(value()?)),
            "--strip-labels" => strip_fraction = value()?.parse().context("--strip-labels needs a fraction")?,
            "--seed" => seed = value()?.parse().context("--seed needs an integer")?,
            "--set" => {
                let setting = value()?;
                let (key, number) = setting.split_once('=').context("--set needs key=value")?;
                let parsed: serde_json::Value = serde_json::from_str(number).context("--set value must be a number")?;
                overrides[key] = parsed;
            }
            other => bail!("unknown argument {other}"),
        }
    }
    let weights: MatchWeights = serde_json::from_value(overrides)?;
    let mut corpus = load_corpus(&corpus_path.context("--corpus is required")?)?;
    let stripped = strip_labels(&mut corpus, strip_fraction, seed);
    let queries = load_queries(&queries_path.context("--queries is required")?)?;

    let dir = tempfile::tempdir().context("failed to create a temporary index directory")?;
    let index = SearchIndex::open(dir.path())?;
    let listings: Vec<_> = corpus.iter().map(doc_listing).collect();
    let started = Instant::now();
    index.apply(&listings, &[], 1)?;
    let index_seconds = started.elapsed().as_secs_f64();

    let mut runs: HashMap<String, Vec<String>> = HashMap::new();
    let mut latencies_ms = Vec::with_capacity(queries.len());
    for query in &queries {
        let started = Instant::now();
        let hits = index.match_request_weighted(&query_request(query, RANKING_DEPTH), &weights)?;
        latencies_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let mut ranking: Vec<String> = hits.into_iter().filter_map(|h| h.listing.body.external_id).collect();
        // Pad to the required depth with the remaining documents in corpus order (score 0).
        let mut seen: HashSet<String> = ranking.iter().cloned().collect();
        for doc in &corpus {
            if ranking.len() >= RANKING_DEPTH {
                break;
            }
            if seen.insert(doc.id.clone()) {
                ranking.push(doc.id.clone());
            }
        }
        runs.insert(query.id.clone(), ranking);
    }

    if let Some(path) = &run_out {
        let mut file = std::fs::File::create(path).with_context(|| format!("failed to create {}", path.display()))?;
        for query in &queries {
            let line = serde_json::json!({"query_id": query.id, "ranking": runs[&query.id]});
            writeln!(file, "{line}")?;
        }
    }
    let mut report = serde_json::json!({
        "docs": corpus.len(),
        "labels_stripped": stripped,
        "queries": queries.len(),
        "index_s": round(index_seconds, 3),
        "query_p50_ms": round(percentile(&latencies_ms, 50.0), 2),
        "query_p99_ms": round(percentile(&latencies_ms, 99.0), 2),
    });
    if let Some(path) = qrels_path {
        let metrics = score(&load_qrels(&path)?, &runs);
        report["ndcg@10"] = round(metrics.ndcg_at_10, 4).into();
        report["mrr@10"] = round(metrics.mrr_at_10, 4).into();
        report["recall@50"] = round(metrics.recall_at_50, 4).into();
        report["judged_queries"] = metrics.queries.into();
    }
    println!("{report}");
    Ok(())
}

fn round(value: f64, digits: i32) -> f64 {
    let factor = 10f64.powi(digits);
    (value * factor).round() / factor
}
