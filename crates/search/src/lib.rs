//! xietong-search: the full-text index, ranking, matching (精准对接) and explanations.
//!
//! No HTTP and no SQL here: callers hand in [`xietong_domain::Listing`]s and get ranked hits
//! back. See `crates/search/README.md` for the ranking design and the eval figures.

mod analysis;
pub mod budget;
mod candidates;
mod chains;
pub mod embed;
pub mod eval;
pub mod fault;
mod fit;
mod highlight;
mod index;
mod infer;
mod matching;
mod scope;
mod search;

use std::path::Path;

pub use analysis::{
    BIGRAM_ANALYZER, BigramTokenizer, DEMAND_STOPWORDS, JIEBA_ANALYZER, JiebaTokenizer, analyze, bigram_analyzer,
    jieba_analyzer, normalize, phrase_parts, split_phrases,
};
pub use budget::Budget;
pub use chains::{Placed, SegmentProbe};
pub use embed::{Embedder, HttpEmbedder, LocalModelEmbedder};
pub use fit::{FitPart, Outcome};
pub use highlight::highlight;
pub use index::SearchIndex;
pub use matching::{Explanation, MatchHit, MatchRequest, MatchWeights, complementary_kinds};
pub use search::{FacetCount, Facets, SearchHit, SearchQuery, SearchResults, SearchSort};

/// Errors of the search crate.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The tantivy index failed.
    #[error("index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// A file of the index directory could not be read or written.
    #[error("failed to access {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The index directory cannot be written (read-only mount, permissions, full disk).
    #[error("the search index directory {path} is not writable: {source}")]
    NotWritable { path: String, source: std::io::Error },
    /// A stored document or a vector file could not be (de)serialized.
    #[error("failed to (de)serialize: {0}")]
    Json(#[from] serde_json::Error),
    /// The embedding service or model failed.
    #[error("embedding failed: {0}")]
    Embedding(String),
    /// Invalid input, e.g. a malformed eval file.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A lock was poisoned by a panic in another thread.
    #[error("index writer lock poisoned")]
    Poisoned,
    /// The caller gave up (see [`budget`]): the client left or the request timed out.
    #[error("the work was cancelled: the request timed out or its client left")]
    Cancelled,
    /// A page beyond the deepest the index serves.
    #[error("results from {offset} on are beyond the deepest page served ({max})")]
    TooDeep { offset: usize, max: usize },
}

impl SearchError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> SearchError {
        SearchError::Io { path: path.display().to_string(), source }
    }
}

impl From<tantivy::directory::error::OpenDirectoryError> for SearchError {
    fn from(error: tantivy::directory::error::OpenDirectoryError) -> Self {
        SearchError::Index(error.into())
    }
}
