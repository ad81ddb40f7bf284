//! Bounded candidate sets for matching (issue 14).
//!
//! Matching scores a demand with many clauses: BM25 of every word and bigram of its text on four
//! fields, verbatim key phrases, the discipline voted by the best matches, expansion terms. Run
//! over the whole index, each clause walks its whole posting list, so the cost of a match grew
//! with the catalogue (about 0.5 s at 100,000 listings), and the discipline bonus touched every
//! listing of the voted field.
//!
//! Instead, when the readable index holds more than a few times [`MatchWeights::candidates`]
//! listings, matching first gathers that many **candidates**: the best listings of the target
//! kinds for a flat disjunction of the demand's words and bigrams (BM25, the same field boosts),
//! found with block-max WAND, which skips the posting blocks that cannot beat the current
//! `k`-th score, and filtered (kind, scope, required regions, the source itself) by a bit set
//! per segment. Every later clause is then restricted to the candidates leaf by leaf (a term
//! query intersected with the candidate list walks `min(postings, candidates)` entries through
//! the skip lists), so the rest of the ranking costs the same at any catalogue size, and its
//! scores are exactly those of the unrestricted query on the candidates (same statistics).
//!
//! In smaller indexes, where a full pass is cheap, nothing is restricted.
//!
//! [`MatchWeights::candidates`]: crate::MatchWeights::candidates

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use tantivy::index::SegmentId;
use tantivy::query::{
    BooleanQuery, BoostQuery, EmptyScorer, EnableScoring, Explanation, Occur, Query, Scorer, TermQuery, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, Term};

use crate::SearchError;
use crate::scope::Scoped;

/// The candidate documents of one match, by segment, in ascending order.
#[derive(Clone, Debug, Default)]
pub(crate) struct CandidateSet {
    by_segment: Arc<HashMap<SegmentId, Arc<[DocId]>>>,
}

impl CandidateSet {
    /// `query` restricted to the candidates; its score is unchanged.
    pub(crate) fn restrict(&self, query: Box<dyn Query>) -> Box<dyn Query> {
        Box::new(BooleanQuery::new(vec![(Occur::Must, query), (Occur::Must, Box::new(self.clone()))]))
    }
}

impl Query for CandidateSet {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for CandidateSet {
    fn scorer(&self, reader: &SegmentReader, _boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(match self.by_segment.get(&reader.segment_id()) {
            Some(docs) if !docs.is_empty() => Box::new(SortedDocs { docs: docs.clone(), cursor: 0 }),
            _ => Box::new(EmptyScorer),
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let found = self.by_segment.get(&reader.segment_id()).is_some_and(|docs| docs.binary_search(&doc).is_ok());
        if !found {
            return Err(tantivy::TantivyError::InvalidArgument(format!("document {doc} is not a candidate")));
        }
        Ok(Explanation::new("candidate", 0.0))
    }
}

/// A sorted list of documents scoring 0, with binary-search seeks.
struct SortedDocs {
    docs: Arc<[DocId]>,
    cursor: usize,
}

impl DocSet for SortedDocs {
    fn advance(&mut self) -> DocId {
        self.cursor = (self.cursor + 1).min(self.docs.len());
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        let rest = &self.docs[self.cursor..];
        self.cursor += rest.partition_point(|&doc| doc < target);
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.docs.get(self.cursor).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        (self.docs.len() - self.cursor) as u32
    }
}

impl Scorer for SortedDocs {
    fn score(&mut self) -> Score {
        0.0
    }
}

/// One weighted word of the demand on one analysed field.
pub(crate) struct WeightedTerm {
    pub field: Field,
    pub text: String,
    pub boost: f32,
}

/// The `k` best documents passing `filter` for the sum of BM25 scores of `terms` (statistics of
/// `scoped`), or `None` when no term matches a document that passes `filter` (the demand is all
/// boilerplate, say): then the ranking must not be restricted, since clauses other than the
/// words (requested labels, disciplines) may still find listings. `filter` must hold the scope.
pub(crate) fn gather(
    scoped: &Scoped<'_>,
    filter: &dyn Query,
    terms: &[WeightedTerm],
    k: usize,
) -> Result<Option<CandidateSet>, SearchError> {
    let searcher = scoped.searcher();
    let clauses: Vec<(Occur, Box<dyn Query>)> = terms
        .iter()
        .filter(|t| t.boost > 0.0)
        .map(|t| {
            let query = TermQuery::new(Term::from_field_text(t.field, &t.text), IndexRecordOption::WithFreqs);
            (Occur::Should, Box::new(BoostQuery::new(Box::new(query), t.boost)) as Box<dyn Query>)
        })
        .collect();
    if clauses.is_empty() || k == 0 {
        return Ok(None);
    }
    // A flat disjunction of term queries: tantivy runs it with block-max WAND.
    let text = scoped.weight(&BooleanQuery::new(clauses))?;
    let filter = filter.weight(EnableScoring::disabled_from_searcher(searcher))?;
    let mut best: BinaryHeap<Candidate> = BinaryHeap::with_capacity(k + 1);
    for (ord, reader) in searcher.segment_readers().iter().enumerate() {
        crate::budget::check()?;
        let mut allowed = vec![0u64; (reader.max_doc() as usize).div_ceil(64)];
        let mut any = false;
        let alive = reader.alive_bitset();
        filter.for_each_no_score(reader, &mut |docs: &[DocId]| {
            for &doc in docs {
                if alive.is_none_or(|alive| alive.is_alive(doc)) {
                    allowed[doc as usize / 64] |= 1 << (doc % 64);
                    any = true;
                }
            }
        })?;
        if !any {
            continue;
        }
        let allowed = |doc: DocId| allowed.get(doc as usize / 64).is_some_and(|word| word & (1 << (doc % 64)) != 0);
        let threshold = if best.len() >= k { best.peek().map_or(Score::MIN, |c| c.score) } else { Score::MIN };
        text.for_each_pruning(threshold, reader, &mut |doc, score| {
            if allowed(doc) {
                best.push(Candidate { score, segment: ord as u32, doc });
                if best.len() > k {
                    best.pop();
                }
            }
            if best.len() >= k { best.peek().map_or(Score::MIN, |c| c.score) } else { Score::MIN }
        })?;
    }
    if best.is_empty() {
        return Ok(None);
    }
    let mut by_ord: HashMap<u32, Vec<DocId>> = HashMap::new();
    for candidate in best {
        by_ord.entry(candidate.segment).or_default().push(candidate.doc);
    }
    let by_segment = by_ord
        .into_iter()
        .map(|(ord, mut docs)| {
            docs.sort_unstable();
            (searcher.segment_reader(ord).segment_id(), Arc::from(docs))
        })
        .collect();
    Ok(Some(CandidateSet { by_segment: Arc::new(by_segment) }))
}

/// A scored document; ordered so that the heap's top is the weakest (ties: the later document).
struct Candidate {
    score: Score,
    segment: u32,
    doc: DocId,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        other.score.total_cmp(&self.score).then_with(|| (self.segment, self.doc).cmp(&(other.segment, other.doc)))
    }
}
