//! A viewer's [`ReadScope`] applied to index queries.
//!
//! Two things keep invisible listings out of a viewer's results:
//!
//! * the **filter**: one `Must` clause (scoring nothing) that admits a document when its
//!   visibility is `public`, `registered` (for logged-in viewers), `region` inside one of the
//!   viewer's provinces, or when its owner organisation is one of the viewer's;
//! * the **statistics**: BM25 idf and average field lengths, the document count and document
//!   frequencies used for phrase and expansion weights are computed over the readable documents
//!   only. Otherwise a listing the viewer may not see would still shift the scores (and so the
//!   order) of the ones it may.
//!
//! No scope (`None`) and [`ReadScope::All`] run the queries unchanged, with the whole index's
//! statistics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::collector::Collector;
use tantivy::query::{Bm25StatisticsProvider, BooleanQuery, ConstScoreQuery, EnableScoring, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, Searcher, TERMINATED, Term};
use xietong_domain::{ReadScope, Visibility};

use crate::SearchError;
use crate::index::Fields;

/// The filter of `scope`: `None` when everything is readable.
///
/// `Limited` gives a disjunction of: visibility `public`; visibility `registered` when the
/// viewer is logged in; for every province, visibility `region` and a region inside the province
/// (the region field holds every ancestor of a listing's regions); owner organisation among the
/// viewer's. The index holds published listings only, so no status clause is needed.
pub(crate) fn scope_filter(fields: &Fields, scope: &ReadScope) -> Option<Box<dyn Query>> {
    let ReadScope::Limited { registered, provinces, orgs } = scope else { return None };
    let term = |field: Field, value: &str| -> Box<dyn Query> {
        Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
    };
    let mut allowed: Vec<(Occur, Box<dyn Query>)> =
        vec![(Occur::Should, term(fields.visibility, Visibility::Public.as_str()))];
    if *registered {
        allowed.push((Occur::Should, term(fields.visibility, Visibility::Registered.as_str())));
    }
    for province in provinces.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let in_province = BooleanQuery::new(vec![
            (Occur::Must, term(fields.visibility, Visibility::Region.as_str())),
            (Occur::Must, term(fields.region, province)),
        ]);
        allowed.push((Occur::Should, Box::new(in_province)));
    }
    for org in orgs.iter().filter(|o| !o.is_empty()) {
        allowed.push((Occur::Should, term(fields.owner_org, org)));
    }
    Some(Box::new(BooleanQuery::new(allowed)))
}

/// Queries of one request run under one read scope, on one searcher.
pub(crate) struct Scoped<'s> {
    searcher: &'s Searcher,
    /// The scope filter; `None` for an unrestricted request.
    filter: Option<Box<dyn Query>>,
    /// Statistics over the readable documents; present exactly when `filter` is.
    stats: Option<ScopedStats<'s>>,
}

impl<'s> Scoped<'s> {
    /// Prepares `scope` (`None` = unrestricted) on `searcher`: builds the filter and, for a
    /// limited scope, marks the readable documents of every segment.
    pub(crate) fn new(
        searcher: &'s Searcher,
        fields: &Fields,
        scope: Option<&ReadScope>,
    ) -> Result<Scoped<'s>, SearchError> {
        let filter = scope.and_then(|scope| scope_filter(fields, scope));
        let stats = match &filter {
            Some(filter) => Some(ScopedStats { searcher, data: Arc::new(ScopeData::new(searcher, filter.as_ref())?) }),
            None => None,
        };
        Ok(Scoped { searcher, filter, stats })
    }

    /// [`Scoped::new`], with the readable documents and the statistics gathered so far kept in
    /// `cache` for later requests of the same scope on the same searcher generation (the index
    /// unchanged): counting a scope's documents and document frequencies is a pass over the
    /// postings, which grows with the catalogue.
    pub(crate) fn cached(
        searcher: &'s Searcher,
        fields: &Fields,
        scope: Option<&ReadScope>,
        cache: &ScopeCache,
    ) -> Result<Scoped<'s>, SearchError> {
        let filter = scope.and_then(|scope| scope_filter(fields, scope));
        let (Some(filter_query), Some(scope)) = (&filter, scope) else { return Scoped::new(searcher, fields, scope) };
        let generation = searcher.generation().generation_id();
        let key = format!("{scope:?}");
        let known = {
            let entries = cache.entries.lock().map_err(|_| SearchError::Poisoned)?;
            if entries.0 == generation { entries.1.get(&key).cloned() } else { None }
        };
        let data = match known {
            Some(data) => data,
            None => {
                let data = Arc::new(ScopeData::new(searcher, filter_query.as_ref())?);
                let mut entries = cache.entries.lock().map_err(|_| SearchError::Poisoned)?;
                if entries.0 != generation || entries.1.len() >= ScopeCache::MAX_SCOPES {
                    *entries = (generation, HashMap::new());
                }
                entries.1.insert(key, data.clone());
                data
            }
        };
        Ok(Scoped { searcher, filter, stats: Some(ScopedStats { searcher, data }) })
    }

    pub(crate) fn searcher(&self) -> &'s Searcher {
        self.searcher
    }

    /// The scope as a `Must` clause that adds nothing to the score, to put into a boolean query.
    pub(crate) fn clause(&self) -> Option<(Occur, Box<dyn Query>)> {
        self.filter.as_ref().map(|filter| (Occur::Must, Box::new(ConstScoreQuery::new(filter.box_clone(), 0.0)) as _))
    }

    /// `query` restricted to the scope.
    pub(crate) fn restrict(&self, query: Box<dyn Query>) -> Box<dyn Query> {
        match self.clause() {
            Some(clause) => Box::new(BooleanQuery::new(vec![(Occur::Must, query), clause])),
            None => query,
        }
    }

    /// Runs `query`, scoring with the statistics of the readable documents. The query must
    /// already hold the scope (see [`Scoped::clause`] and [`Scoped::restrict`]).
    pub(crate) fn search<C: Collector>(&self, query: &dyn Query, collector: &C) -> tantivy::Result<C::Fruit> {
        match &self.stats {
            Some(stats) => self.searcher.search_with_statistics_provider(query, collector, stats),
            None => self.searcher.search(query, collector),
        }
    }

    /// The scoring weight of `query` with the statistics of the readable documents.
    pub(crate) fn weight(&self, query: &dyn Query) -> tantivy::Result<Box<dyn tantivy::query::Weight>> {
        match &self.stats {
            Some(stats) => query.weight(EnableScoring::enabled_from_statistics_provider(stats, self.searcher)),
            None => query.weight(EnableScoring::enabled_from_searcher(self.searcher)),
        }
    }

    /// Number of readable (alive) documents.
    pub(crate) fn num_docs(&self) -> u64 {
        match &self.stats {
            Some(stats) => stats.data.num_docs,
            None => self.searcher.num_docs(),
        }
    }

    /// Number of readable documents containing `term`.
    pub(crate) fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        match &self.stats {
            Some(stats) => stats.doc_freq(term),
            None => self.searcher.doc_freq(term),
        }
    }
}

/// A plain bit set over the documents of one segment.
struct DocBits {
    words: Vec<u64>,
}

impl DocBits {
    fn new(max_doc: DocId) -> DocBits {
        DocBits { words: vec![0; (max_doc as usize).div_ceil(64)] }
    }

    fn insert(&mut self, doc: DocId) {
        self.words[doc as usize / 64] |= 1 << (doc % 64);
    }

    fn contains(&self, doc: DocId) -> bool {
        self.words.get(doc as usize / 64).is_some_and(|word| word & (1 << (doc % 64)) != 0)
    }

    fn len(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    fn iter(&self) -> impl Iterator<Item = DocId> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &word)| {
            (0..64u32).filter(move |bit| word & (1 << bit) != 0).map(move |bit| i as DocId * 64 + bit)
        })
    }
}

/// Read scopes' documents and statistics of one searcher generation (see [`Scoped::cached`]).
#[derive(Default)]
pub(crate) struct ScopeCache {
    /// The searcher generation the entries belong to, and the entries by scope.
    entries: Mutex<(u64, HashMap<String, Arc<ScopeData>>)>,
}

impl ScopeCache {
    /// Scopes kept per generation (every organisation's members have a scope of their own).
    const MAX_SCOPES: usize = 64;
    /// Document frequencies kept per scope.
    const MAX_TERMS: usize = 100_000;
}

/// BM25 statistics over the readable documents, computed lazily.
struct ScopedStats<'s> {
    searcher: &'s Searcher,
    data: Arc<ScopeData>,
}

/// The readable documents of a scope on one searcher generation, and the statistics computed
/// over them so far.
struct ScopeData {
    /// Readable alive documents, by segment ordinal.
    docs: Vec<DocBits>,
    num_docs: u64,
    tokens: Mutex<HashMap<Field, u64>>,
    doc_freqs: Mutex<HashMap<Term, u64>>,
}

impl ScopeData {
    fn new(searcher: &Searcher, filter: &dyn Query) -> tantivy::Result<ScopeData> {
        let weight = filter.weight(EnableScoring::disabled_from_searcher(searcher))?;
        let mut docs = Vec::with_capacity(searcher.segment_readers().len());
        for reader in searcher.segment_readers() {
            let mut bits = DocBits::new(reader.max_doc());
            let alive = reader.alive_bitset();
            weight.for_each_no_score(reader, &mut |batch: &[DocId]| {
                for &doc in batch {
                    if alive.is_none_or(|alive| alive.is_alive(doc)) {
                        bits.insert(doc);
                    }
                }
            })?;
            docs.push(bits);
        }
        let num_docs = docs.iter().map(DocBits::len).sum();
        Ok(ScopeData { docs, num_docs, tokens: Mutex::new(HashMap::new()), doc_freqs: Mutex::new(HashMap::new()) })
    }
}

fn poisoned<T>(_: T) -> tantivy::TantivyError {
    tantivy::TantivyError::SystemError("scope statistics lock poisoned".to_string())
}

impl Bm25StatisticsProvider for ScopedStats<'_> {
    /// Sum of the (fieldnorm-coded) lengths of the field over the readable documents.
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        if let Some(total) = self.data.tokens.lock().map_err(poisoned)?.get(&field) {
            return Ok(*total);
        }
        let mut total = 0u64;
        for (reader, bits) in self.searcher.segment_readers().iter().zip(&self.data.docs) {
            match reader.get_fieldnorms_reader(field) {
                Ok(norms) => total += bits.iter().map(|doc| u64::from(norms.fieldnorm(doc))).sum::<u64>(),
                // A field without norms: one token per document.
                Err(_) => total += bits.len(),
            }
        }
        self.data.tokens.lock().map_err(poisoned)?.insert(field, total);
        Ok(total)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.data.num_docs)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        if let Some(count) = self.data.doc_freqs.lock().map_err(poisoned)?.get(term) {
            return Ok(*count);
        }
        let mut count = 0u64;
        for (reader, bits) in self.searcher.segment_readers().iter().zip(&self.data.docs) {
            let inverted = reader.inverted_index(term.field())?;
            let Some(mut postings) = inverted.read_postings(term, IndexRecordOption::Basic)? else { continue };
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if bits.contains(doc) {
                    count += 1;
                }
                doc = postings.advance();
            }
        }
        let mut doc_freqs = self.data.doc_freqs.lock().map_err(poisoned)?;
        if doc_freqs.len() >= ScopeCache::MAX_TERMS {
            doc_freqs.clear();
        }
        doc_freqs.insert(term.clone(), count);
        Ok(count)
    }
}
