//! Evaluation support for the matching eval sets (`/work/shared/eval`): file loaders, the
//! conversion of corpus documents and queries into listings and match requests, and the metrics
//! computed exactly as `score.py` does (nDCG@10 with linear gain, MRR@10, recall@50).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;
use xietong_domain::{
    AchievementDetails, Details, Kind, Listing, ListingBody, ListingId, MAX_DESCRIPTION_CHARS, MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS, Status, Visibility,
};

use crate::{MatchRequest, SearchError};

/// Region given to every eval document (海淀区); constant, so it does not affect ranking.
pub const EVAL_REGION: &str = "110108";
/// TRL given to every eval document; constant, so it does not affect ranking.
pub const EVAL_TRL: u8 = 4;

/// A corpus document: `{"id","kind","title","text","keywords","field","category"}`.
#[derive(Debug, Clone, Deserialize)]
pub struct CorpusDoc {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub category: String,
}

/// A query: `{"id","text","keywords"}`.
#[derive(Debug, Clone, Deserialize)]
pub struct EvalQuery {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub keywords: Vec<String>,
}

/// Graded judgements: query id → doc id → grade (≥ 1 only).
pub type Qrels = HashMap<String, HashMap<String, u32>>;

/// The three figures of `score.py`, averaged over the judged queries (not rounded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    pub ndcg_at_10: f64,
    pub mrr_at_10: f64,
    pub recall_at_50: f64,
    pub queries: usize,
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, SearchError> {
    let text = fs::read_to_string(path).map_err(|e| SearchError::io(path, e))?;
    let mut out = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item = serde_json::from_str(line)
            .map_err(|e| SearchError::Invalid(format!("{}: line {}: {e}", path.display(), number + 1)))?;
        out.push(item);
    }
    Ok(out)
}

/// Loads `corpus.jsonl`.
pub fn load_corpus(path: &Path) -> Result<Vec<CorpusDoc>, SearchError> {
    read_jsonl(path)
}

/// Loads `queries.jsonl`.
pub fn load_queries(path: &Path) -> Result<Vec<EvalQuery>, SearchError> {
    read_jsonl(path)
}

/// Loads `qrels.tsv` (`query_id<TAB>doc_id<TAB>grade`); a header and grades ≤ 0 are skipped.
pub fn load_qrels(path: &Path) -> Result<Qrels, SearchError> {
    let text = fs::read_to_string(path).map_err(|e| SearchError::io(path, e))?;
    parse_qrels(&text)
}

/// Parses qrels text (see [`load_qrels`]).
pub fn parse_qrels(text: &str) -> Result<Qrels, SearchError> {
    let mut qrels: Qrels = HashMap::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split('\t').collect();
        if parts.len() < 3 {
            return Err(SearchError::Invalid(format!("bad qrels line: {line:?}")));
        }
        let Ok(grade) = parts[2].trim().parse::<i64>() else { continue };
        if grade <= 0 {
            continue;
        }
        qrels.entry(parts[0].to_string()).or_default().insert(parts[1].to_string(), grade as u32);
    }
    Ok(qrels)
}

/// A stable listing id for an eval doc id (two FNV-1a hashes).
pub fn eval_listing_id(doc_id: &str) -> ListingId {
    let hash = |seed: u64| {
        let mut h = 0xcbf29ce484222325u64 ^ seed;
        for byte in doc_id.bytes() {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x100000001b3);
        }
        h
    };
    ListingId(Uuid::from_u64_pair(hash(0), hash(0x9e3779b97f4a7c15)))
}

/// A corpus document as a published achievement: title, the abstract as summary (text beyond
/// the summary limit goes to the description, which is indexed the same way), the CSL discipline
/// as its only discipline, keywords as given (empty in the eval sets), a fixed TRL and region.
/// The doc id is kept in `external_id`. Documents of any length are accepted: only text beyond
/// the description limit too (over 22,000 characters in all) is cut off.
pub fn doc_listing(doc: &CorpusDoc) -> Listing {
    let mut disciplines = Vec::new();
    if !doc.field.trim().is_empty() {
        disciplines.push(doc.field.trim().to_string());
    }
    let (title, title_rest) = split_at_limit(doc.title.trim(), MAX_TITLE_CHARS);
    let (summary, summary_rest) = split_at_limit(doc.text.trim(), MAX_SUMMARY_CHARS);
    let overflow = [title_rest, summary_rest].into_iter().filter(|t| !t.is_empty()).collect::<Vec<_>>().join("\n");
    let (description, _cut_off) = split_at_limit(&overflow, MAX_DESCRIPTION_CHARS);
    Listing {
        id: eval_listing_id(&doc.id),
        version: 1,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
        body: ListingBody {
            title: title.to_string(),
            summary: summary.to_string(),
            description: description.to_string(),
            keywords: doc.keywords.clone(),
            industry_codes: Vec::new(),
            disciplines,
            region_codes: vec![EVAL_REGION.to_string()],
            owner_org: None,
            contact: None,
            visibility: Visibility::Public,
            status: Status::Published,
            external_id: Some(doc.id.clone()),
            details: Details::Achievement(AchievementDetails { trl: Some(EVAL_TRL), ..Default::default() }),
        },
    }
}

/// Splits `text` into a head of at most `max_chars` characters and the rest. The head ends after
/// the last sentence end (。！？；.!?;) in its second half when there is one, else at the limit.
fn split_at_limit(text: &str, max_chars: usize) -> (&str, &str) {
    let Some((limit_byte, _)) = text.char_indices().nth(max_chars) else { return (text, "") };
    let head = &text[..limit_byte];
    let half_byte = head.char_indices().nth(max_chars / 2).map_or(0, |(byte, _)| byte);
    let sentence_end = head
        .char_indices()
        .filter(|(byte, c)| *byte >= half_byte && "。！？；.!?;".contains(*c))
        .map(|(byte, c)| byte + c.len_utf8())
        .next_back();
    let cut = sentence_end.unwrap_or(limit_byte);
    (text[..cut].trim_end(), text[cut..].trim_start())
}

/// Removes the optional labels (`field`, `category`) from `fraction` (0–1) of the documents,
/// chosen by a seeded shuffle, so the three corpus variants of issue 13 (labels as shipped,
/// removed from half, removed from all) can be reproduced. Returns how many were stripped.
pub fn strip_labels(corpus: &mut [CorpusDoc], fraction: f64, seed: u64) -> usize {
    let count = ((fraction.clamp(0.0, 1.0) * corpus.len() as f64).round() as usize).min(corpus.len());
    let mut order: Vec<usize> = (0..corpus.len()).collect();
    // Fisher–Yates with splitmix64: deterministic for a seed, no dependency.
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    };
    for i in (1..order.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    for &position in order.iter().take(count) {
        corpus[position].field.clear();
        corpus[position].category.clear();
    }
    count
}

/// A query as an ad-hoc demand for achievements.
pub fn query_request(query: &EvalQuery, limit: usize) -> MatchRequest {
    MatchRequest {
        text: query.text.clone(),
        keywords: query.keywords.clone(),
        kind: Some(Kind::Achievement),
        limit,
        ..Default::default()
    }
}

/// Scores runs (query id → ranking, best first) exactly like `score.py`: duplicates count once,
/// linear gain, ideal DCG from all qrels, queries missing from the run score 0.
pub fn score(qrels: &Qrels, runs: &HashMap<String, Vec<String>>) -> Metrics {
    let (mut ndcg, mut mrr, mut recall) = (0.0, 0.0, 0.0);
    let mut queries = 0usize;
    for (query_id, judged) in qrels {
        let relevant: HashMap<&str, u32> =
            judged.iter().filter(|(_, g)| **g >= 1).map(|(d, g)| (d.as_str(), *g)).collect();
        if relevant.is_empty() {
            continue;
        }
        queries += 1;
        let mut seen = HashSet::new();
        let ranking: Vec<&str> = runs
            .get(query_id)
            .map(|r| r.iter().map(String::as_str).filter(|d| seen.insert(*d)).collect())
            .unwrap_or_default();
        let dcg: f64 = ranking
            .iter()
            .take(10)
            .enumerate()
            .map(|(i, d)| f64::from(*relevant.get(d).unwrap_or(&0)) / ((i + 2) as f64).log2())
            .sum();
        let mut ideal: Vec<u32> = relevant.values().copied().collect();
        ideal.sort_unstable_by(|a, b| b.cmp(a));
        let idcg: f64 = ideal.iter().take(10).enumerate().map(|(i, g)| f64::from(*g) / ((i + 2) as f64).log2()).sum();
        if idcg > 0.0 {
            ndcg += dcg / idcg;
        }
        if let Some(rank) = ranking.iter().take(10).position(|d| relevant.contains_key(d)) {
            mrr += 1.0 / (rank + 1) as f64;
        }
        let found = ranking.iter().take(50).filter(|d| relevant.contains_key(*d)).count();
        recall += found as f64 / relevant.len() as f64;
    }
    let n = queries.max(1) as f64;
    Metrics { ndcg_at_10: ndcg / n, mrr_at_10: mrr / n, recall_at_50: recall / n, queries }
}

/// The `p`-th percentile (0–100, nearest rank) of `values`; 0 for an empty slice.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use xietong_domain::Reference;

    use super::*;

    /// The hand-computed example of `score.py --self-test`.
    #[test]
    fn metrics_match_the_hand_checked_example() {
        let qrels =
            parse_qrels("query\tdoc\tgrade\nq1\td1\t2\nq1\td2\t1\nq1\td3\t1\nq2\td9\t2\nq3\td7\t1\nq4\td8\t0\n")
                .unwrap();
        let runs: HashMap<String, Vec<String>> =
            [("q1", vec!["d4", "d1", "d5", "d2", "d1"]), ("q2", vec!["d9"]), ("qX", vec!["d1"])]
                .into_iter()
                .map(|(q, r)| (q.to_string(), r.into_iter().map(String::from).collect()))
                .collect();
        let metrics = score(&qrels, &runs);
        assert_eq!(metrics.queries, 3);
        assert!((metrics.ndcg_at_10 - 0.513529).abs() < 1e-5, "{metrics:?}");
        assert!((metrics.mrr_at_10 - 0.5).abs() < 1e-9);
        assert!((metrics.recall_at_50 - 0.555556).abs() < 1e-5);
    }

    #[test]
    fn long_documents_spill_into_the_description_and_validate() {
        let sentence = "锂电池极片表面缺陷的机器视觉在线检测方法研究。";
        let doc = CorpusDoc {
            id: "long".to_string(),
            title: "标题".repeat(150),
            text: sentence.repeat(200),
            keywords: Vec::new(),
            field: "机械工程".to_string(),
            category: String::new(),
        };
        let listing = doc_listing(&doc);
        let body = &listing.body;
        assert!(body.summary.chars().count() <= MAX_SUMMARY_CHARS);
        assert!(body.summary.ends_with('。'), "cut at a sentence end");
        assert!(body.title.chars().count() <= MAX_TITLE_CHARS);
        let visible = |text: &str| text.chars().filter(|c| !c.is_whitespace()).count();
        let total: usize = [&body.title, &body.summary, &body.description].iter().map(|t| visible(t)).sum();
        assert_eq!(total, visible(&doc.title) + visible(&doc.text), "no text is lost");
        xietong_domain::validate(body.clone(), Reference::get()).expect("a long document is valid");
    }

    #[test]
    fn strip_labels_is_seeded_and_exact() {
        let corpus: Vec<CorpusDoc> = (0..101)
            .map(|i| CorpusDoc {
                id: format!("d{i}"),
                title: "t".to_string(),
                text: "s".to_string(),
                keywords: Vec::new(),
                field: "f".to_string(),
                category: "c".to_string(),
            })
            .collect();
        let stripped = |fraction: f64, seed: u64| {
            let mut copy = corpus.clone();
            assert_eq!(strip_labels(&mut copy, fraction, seed), (fraction * 101.0).round() as usize);
            copy.iter()
                .filter(|d| d.field.is_empty() && d.category.is_empty())
                .map(|d| d.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(stripped(0.5, 11).len(), 51);
        assert_eq!(stripped(0.5, 11), stripped(0.5, 11));
        assert_ne!(stripped(0.5, 11), stripped(0.5, 12));
        assert_eq!(stripped(1.0, 3).len(), 101);
        assert!(stripped(0.0, 3).is_empty());
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), 50.0);
        assert_eq!(percentile(&values, 99.0), 99.0);
    }
}
