//! Free-text search with filters, facets, highlighting and stable pagination.

use std::collections::BTreeSet;
use std::ops::Bound;

use serde::Serialize;
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{DocAddress, DocId, Score, SegmentReader, TantivyDocument, Term};
use xietong_domain::{Availability, FacilityType, Kind, Listing, ListingId, ReadScope, Reference, RegionLevel};

use crate::SearchError;
use crate::analysis::{analyze, bigram_analyzer, is_cjk, jieba_analyzer, normalize, query_words, split_phrases};
use crate::highlight::highlight;
use crate::index::{Fields, SearchIndex};
use crate::matching::phrase_query;
use crate::scope::Scoped;

/// Summary snippets are cut to this many characters around the first match.
const SNIPPET_CHARS: usize = 160;

/// A search request. Empty or missing `text` is browse mode: newest first.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SearchQuery {
    /// Free text; analysed like the documents.
    pub text: Option<String>,
    /// Only listings of this kind.
    pub kind: Option<Kind>,
    /// A GB/T 2260 code; listings in the region or any region inside it match.
    pub region: Option<String>,
    /// A GB/T 4754 code at any level; listings with that code or a code below it match.
    pub industry: Option<String>,
    /// Inclusive TRL bounds (achievements' TRL, demands' desired TRL).
    pub trl_min: Option<u8>,
    pub trl_max: Option<u8>,
    /// Only talents offering this availability.
    pub availability: Option<Availability>,
    /// Only facilities of this type.
    pub facility_type: Option<FacilityType>,
    /// The read rules of the viewer; `None` means unrestricted and is meant for operator tools
    /// and the eval only. Every caller acting for a viewer must set it (`viewer.read_scope()`):
    /// hits, `total` and facets then count only the listings the viewer may read, and BM25
    /// statistics come from those listings alone.
    pub scope: Option<ReadScope>,
    /// Order of the hits; relevance by default (newest first when there is no text).
    pub sort: SearchSort,
    /// Page size; 0 means the default of 20.
    pub limit: usize,
    /// Hits to skip.
    pub offset: usize,
}

/// Orders of search results. Every order breaks ties by ascending id, so pages are stable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchSort {
    /// Best match first (newest first when there is no text).
    #[default]
    Relevance,
    /// Most recently updated first.
    Newest,
    /// Highest TRL (achievements' TRL, demands' desired TRL) first; listings without one last.
    Trl,
    /// Lowest price first: an achievement's asking price (`price_min`), a demand's or scenario's
    /// budget, a challenge's prize, all in 万元; listings without one (and facilities, priced per
    /// unit in yuan) last.
    Price,
}

impl SearchSort {
    /// Every order, in the order of the API documentation.
    pub const ALL: [SearchSort; 4] = [SearchSort::Relevance, SearchSort::Newest, SearchSort::Trl, SearchSort::Price];

    /// The API name: `relevance`, `newest`, `trl` or `price`.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchSort::Relevance => "relevance",
            SearchSort::Newest => "newest",
            SearchSort::Trl => "trl",
            SearchSort::Price => "price",
        }
    }
}

impl std::str::FromStr for SearchSort {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        SearchSort::ALL
            .into_iter()
            .find(|sort| sort.as_str() == text.trim())
            .ok_or_else(|| format!("unknown sort {text:?}; expected relevance, newest, trl or price"))
    }
}

/// One search hit.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub id: ListingId,
    pub kind: Kind,
    pub title: String,
    pub score: f32,
    /// Title, HTML-escaped, with `<mark>` around matched terms.
    pub title_html: String,
    /// Summary snippet, HTML-escaped, with `<mark>` around matched terms.
    pub summary_html: String,
    /// The full listing as indexed.
    pub listing: Listing,
}

/// Count of hits for one facet value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FacetCount {
    /// Kind name, region code, industry section letter or TRL level.
    pub value: String,
    /// Human label (Chinese) where one exists.
    pub label: String,
    pub count: u64,
}

/// Facet counts over all hits (not just the page).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Facets {
    pub kind: Vec<FacetCount>,
    /// Province-level regions (北京市, 天津市, 河北省).
    pub region_province: Vec<FacetCount>,
    /// Regions one level below a province (prefectures, or districts of a municipality).
    pub region_prefecture: Vec<FacetCount>,
    pub industry_section: Vec<FacetCount>,
    pub trl: Vec<FacetCount>,
}

/// A page of search results.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// Number of listings that match, over all pages.
    pub total: u64,
    pub facets: Facets,
}

/// Deepest result (offset + limit) a search collects; the API allows far less, exports page up to
/// this.
pub const MAX_WINDOW: usize = 200_000;

impl SearchIndex {
    /// Runs a search. Ties are broken by ascending id, so pages are stable.
    pub fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        let limit = if query.limit == 0 { 20 } else { query.limit };
        if query.offset.saturating_add(limit) > MAX_WINDOW {
            // The collector allocates the whole window: refuse instead of aborting on allocation.
            return Err(SearchError::TooDeep { offset: query.offset, max: MAX_WINDOW });
        }
        crate::budget::check()?;
        let text = query.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
        let searcher = self.reader.searcher();
        let scoped = Scoped::cached(&searcher, &self.fields, query.scope.as_ref(), &self.scope_cache)?;
        let highlight_terms = text.map(highlight_terms).unwrap_or_default();
        // Whole words first: a listing must contain the words of the text (see
        // `required_words_query`). When nothing does, the plain disjunction of the text's terms
        // is the fallback tier, so a search never comes back empty only for a stray word.
        let full_query = self.full_query(query, text, &scoped, true);
        let total_required = match text {
            Some(_) => scoped.search(&full_query, &Count)?,
            None => 1,
        };
        let full_query = if total_required == 0 { self.full_query(query, text, &scoped, false) } else { full_query };
        let mut facet_collector = FacetCollector::for_field("facets");
        for root in ["/kind", "/trl", "/section", "/region"] {
            facet_collector.add_facet(root);
        }
        let reference = Reference::get();
        let provinces: Vec<&str> =
            reference.regions().iter().filter(|r| r.level == RegionLevel::Province).map(|r| r.code.as_str()).collect();
        // A facet collector refuses a facet below one it already counts, so prefectures get
        // their own collector.
        let mut prefecture_collector = FacetCollector::for_field("facets");
        for province in &provinces {
            prefecture_collector.add_facet(format!("/region/{province}").as_str());
        }
        let window = TopDocs::with_limit(limit).and_offset(query.offset);
        let by_relevance = text.is_some() && query.sort == SearchSort::Relevance;
        let (scored, total, facet_counts, prefecture_counts): (Vec<(f32, DocAddress)>, usize, _, _) = if by_relevance {
            let top = window.tweak_score(move |segment: &SegmentReader| {
                let ranks =
                    segment.fast_fields().u64("id_rank").expect("id_rank is a fast field").first_or_default_col(0);
                move |doc: DocId, score: Score| (score, ranks.get_val(doc))
            });
            let (top, total, facets, prefectures) =
                scoped.search(&full_query, &(top, Count, facet_collector, prefecture_collector))?;
            (top.into_iter().map(|((score, _), address)| (score, address)).collect(), total, facets, prefectures)
        } else {
            let sort = query.sort;
            let top = window.custom_score(move |segment: &SegmentReader| {
                let fast = segment.fast_fields();
                let ranks = fast.u64("id_rank").expect("id_rank is a fast field").first_or_default_col(0);
                let updated = fast.i64("updated_at").expect("updated_at is a fast field").first_or_default_col(0);
                let trl = fast.u64("trl").expect("trl is a fast field");
                let price = fast.f64("price").expect("price is a fast field");
                move |doc: DocId| {
                    // The primary key, larger first; 0 for a listing without the value.
                    let primary: u64 = match sort {
                        SearchSort::Relevance | SearchSort::Newest => 0,
                        SearchSort::Trl => trl.first(doc).unwrap_or(0),
                        // Cheaper first: cents of 万元 mapped so that a lower price is larger.
                        SearchSort::Price => price
                            .first(doc)
                            .map_or(0, |value| u64::MAX - (value.max(0.0) * 100.0).round().min(1e18) as u64),
                    };
                    (primary, updated.get_val(doc), ranks.get_val(doc))
                }
            });
            let (top, total, facets, prefectures) =
                scoped.search(&full_query, &(top, Count, facet_collector, prefecture_collector))?;
            (top.into_iter().map(|(_, address)| (0.0, address)).collect(), total, facets, prefectures)
        };
        let mut hits = Vec::with_capacity(scored.len());
        for (score, address) in scored {
            let listing = load_listing(&searcher, &self.fields, address)?;
            hits.push(SearchHit {
                id: listing.id,
                kind: listing.kind(),
                title: listing.body.title.clone(),
                score,
                title_html: highlight(&listing.body.title, &highlight_terms, None),
                summary_html: highlight(&listing.body.summary, &highlight_terms, Some(SNIPPET_CHARS)),
                listing,
            });
        }
        let mut facets = Facets::default();
        for (facet, count) in facet_counts.get("/kind") {
            let value = last_segment(facet);
            let label = value.parse::<Kind>().map(|k| k.label_zh().to_string()).unwrap_or_default();
            facets.kind.push(FacetCount { value, label, count });
        }
        for (facet, count) in facet_counts.get("/trl") {
            let value = last_segment(facet);
            facets.trl.push(FacetCount { label: format!("TRL {value}"), value, count });
        }
        for (facet, count) in facet_counts.get("/section") {
            let value = last_segment(facet);
            let label = reference.industry(&value).map(|i| i.name_zh.clone()).unwrap_or_default();
            facets.industry_section.push(FacetCount { value, label, count });
        }
        for (facet, count) in facet_counts.get("/region") {
            let value = last_segment(facet);
            let label = reference.region(&value).map(|r| r.name.clone()).unwrap_or_default();
            facets.region_province.push(FacetCount { value, label, count });
        }
        for province in &provinces {
            for (facet, count) in prefecture_counts.get(format!("/region/{province}").as_str()) {
                let value = last_segment(facet);
                let label = reference.region(&value).map(|r| r.name.clone()).unwrap_or_default();
                facets.region_prefecture.push(FacetCount { value, label, count });
            }
        }
        for list in [
            &mut facets.kind,
            &mut facets.trl,
            &mut facets.industry_section,
            &mut facets.region_province,
            &mut facets.region_prefecture,
        ] {
            list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        }
        Ok(SearchResults { hits, total: total as u64, facets })
    }
}

impl SearchIndex {
    /// The filters, the scope and the text of `query`; with `whole_words`, listings must
    /// contain the words of the text.
    fn full_query(
        &self,
        query: &SearchQuery,
        text: Option<&str>,
        scoped: &Scoped<'_>,
        whole_words: bool,
    ) -> BooleanQuery {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = filter_clauses(&self.fields, query);
        // One Must clause: totals and facets are computed over the readable listings only.
        clauses.extend(scoped.clause());
        if let Some(text) = text {
            clauses.push((Occur::Must, text_query(&self.fields, text, &TextWeights::default())));
            if whole_words {
                if let Some(required) = required_words_query(&self.fields, text) {
                    clauses.push((Occur::Must, required));
                }
                clauses.extend(phrase_boosts(&self.fields, text));
            }
        }
        if clauses.is_empty() {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        BooleanQuery::new(clauses)
    }
}

/// The words of `text` a listing must contain (issue 13: a search for 机器视觉 used to return
/// most of the catalogue through the bigram 视觉 alone). A word is found when it occurs verbatim
/// (a phrase on the bigram fields, so 工程 finds 在建工程) or when all of its jieba sub-words
/// occur (机器 and 视觉 for 机器视觉; a stemmed Latin word). Up to three words are all required;
/// from four on, three quarters of them. The clause adds nothing to the score.
pub(crate) fn required_words_query(fields: &Fields, text: &str) -> Option<Box<dyn Query>> {
    let words = query_words(text);
    if words.is_empty() {
        return None;
    }
    let analyzer = jieba_analyzer();
    let mut per_word: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(words.len());
    for word in &words {
        let mut alternatives: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for field in [fields.title_b, fields.body_b] {
            if let Some(phrase) = phrase_query(field, word) {
                alternatives.push((Occur::Should, phrase));
            }
        }
        let tokens = analyze(&analyzer, word);
        let length = word.chars().count();
        // Search mode yields the word itself besides its parts; the parts are what may stand apart.
        let parts: Vec<&String> = if tokens.len() > 1 {
            tokens.iter().filter(|t| t.chars().count() < length).collect()
        } else {
            tokens.iter().collect()
        };
        if !parts.is_empty() {
            let every_part: Vec<(Occur, Box<dyn Query>)> = parts
                .iter()
                .map(|part| {
                    let anywhere = BooleanQuery::new(vec![
                        (Occur::Should, term_clause(fields.title_j, part)),
                        (Occur::Should, term_clause(fields.body_j, part)),
                    ]);
                    (Occur::Must, Box::new(anywhere) as Box<dyn Query>)
                })
                .collect();
            alternatives.push((Occur::Should, Box::new(BooleanQuery::new(every_part))));
        }
        if !alternatives.is_empty() {
            per_word.push((Occur::Should, Box::new(BooleanQuery::new(alternatives))));
        }
    }
    if per_word.is_empty() {
        return None;
    }
    let count = per_word.len();
    let required = if count <= 3 { count } else { (count * 3).div_ceil(4) };
    let query = BooleanQuery::with_minimum_required_clauses(per_word, required);
    Some(Box::new(ConstScoreQuery::new(Box::new(query), 0.0)))
}

/// Constant scores for the pieces of `text` (between spaces and punctuation) and its words found
/// verbatim: a piece 20 in the title and 10 in the body, a word 4 and 2. These exceed what BM25
/// gives a short query, so they make tiers: listings holding the whole phrase 机器视觉 come before
/// those holding 机器 and 视觉 apart, whatever the term statistics.
fn phrase_boosts(fields: &Fields, text: &str) -> Vec<(Occur, Box<dyn Query>)> {
    let mut phrases: Vec<(String, f32)> = Vec::new();
    for piece in split_phrases(text) {
        if piece.chars().count() >= 2 && !phrases.iter().any(|(p, _)| *p == piece) {
            phrases.push((piece, 5.0));
        }
    }
    for word in query_words(text) {
        if word.chars().count() >= 2 && !phrases.iter().any(|(p, _)| *p == word) {
            phrases.push((word, 1.0));
        }
    }
    let mut boosts: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (phrase, weight) in &phrases {
        for (field, boost) in [(fields.title_b, 4.0), (fields.body_b, 2.0)] {
            if let Some(query) = phrase_query(field, phrase) {
                boosts.push((Occur::Should, Box::new(ConstScoreQuery::new(query, boost * weight))));
            }
        }
    }
    boosts
}

fn last_segment(facet: &tantivy::schema::Facet) -> String {
    facet.to_path().last().map(|s| s.to_string()).unwrap_or_default()
}

/// Reads and parses the stored listing of a document.
pub(crate) fn load_listing(
    searcher: &tantivy::Searcher,
    fields: &Fields,
    address: DocAddress,
) -> Result<Listing, SearchError> {
    let doc: TantivyDocument = searcher.doc(address)?;
    let json = doc
        .get_first(fields.json)
        .and_then(|v| v.as_str())
        .ok_or_else(|| SearchError::Invalid("indexed document has no stored listing".to_string()))?;
    Ok(serde_json::from_str(json)?)
}

/// Weights of the plain text query: BM25 on the title and body, jieba and bigram fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextWeights {
    pub title_jieba: f32,
    pub body_jieba: f32,
    pub title_bigram: f32,
    pub body_bigram: f32,
    /// How much of the weaker of a term's title and body scores counts besides the stronger
    /// (a disjunction-max tie-breaker): 1 adds both, 0 keeps only the stronger.
    pub field_tie: f32,
}

impl Default for TextWeights {
    fn default() -> Self {
        TextWeights { title_jieba: 2.0, body_jieba: 1.0, title_bigram: 1.0, body_bigram: 0.5, field_tie: 1.0 }
    }
}

/// A disjunction of the text's terms over the four analysed fields, each BM25-scored and boosted.
pub(crate) fn text_query(fields: &Fields, text: &str, weights: &TextWeights) -> Box<dyn Query> {
    text_query_without(fields, text, weights, &[])
}

/// Like [`text_query`], dropping `stopwords` (compared with the normalized jieba token).
pub(crate) fn text_query_without(
    fields: &Fields,
    text: &str,
    weights: &TextWeights,
    stopwords: &[&str],
) -> Box<dyn Query> {
    text_query_restricted(fields, text, weights, stopwords, &|query| query)
}

/// The jieba and bigram terms of `text` (without `stopwords`) on the four analysed fields, each
/// with its field boost, in the order of [`text_query_restricted`]'s clauses.
pub(crate) fn text_terms(
    fields: &Fields,
    text: &str,
    weights: &TextWeights,
    stopwords: &[&str],
) -> Vec<(crate::candidates::WeightedTerm, crate::candidates::WeightedTerm)> {
    let jieba_terms: BTreeSet<String> =
        analyze(&jieba_analyzer(), text).into_iter().filter(|t| !stopwords.contains(&t.as_str())).collect();
    let mut cleaned = normalize(text);
    for stop in stopwords.iter().filter(|s| s.chars().count() >= 2) {
        cleaned = cleaned.replace(stop, " ");
    }
    let bigram_terms: BTreeSet<String> = analyze(&bigram_analyzer(), &cleaned).into_iter().collect();
    let pair = |title: (Field, f32), body: (Field, f32), term: &String| {
        use crate::candidates::WeightedTerm;
        (
            WeightedTerm { field: title.0, text: term.clone(), boost: title.1 },
            WeightedTerm { field: body.0, text: term.clone(), boost: body.1 },
        )
    };
    let mut terms: Vec<_> = jieba_terms
        .iter()
        .map(|term| pair((fields.title_j, weights.title_jieba), (fields.body_j, weights.body_jieba), term))
        .collect();
    terms.extend(
        bigram_terms
            .iter()
            .map(|term| pair((fields.title_b, weights.title_bigram), (fields.body_b, weights.body_bigram), term)),
    );
    terms
}

/// [`text_query_without`] with every term clause passed through `restrict` (matching restricts
/// them to its candidates, see `candidates`).
pub(crate) fn text_query_restricted(
    fields: &Fields,
    text: &str,
    weights: &TextWeights,
    stopwords: &[&str],
    restrict: &dyn Fn(Box<dyn Query>) -> Box<dyn Query>,
) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    // Per term, its title and body clauses; with a tie-breaker below 1 they are a disjunction
    // max, so a term found in both fields is not counted twice in full.
    for (title, body) in text_terms(fields, text, weights, stopwords) {
        let mut per_field: Vec<Box<dyn Query>> = Vec::new();
        for term in [title, body] {
            if term.boost <= 0.0 {
                continue;
            }
            let query = TermQuery::new(Term::from_field_text(term.field, &term.text), IndexRecordOption::WithFreqs);
            per_field.push(restrict(Box::new(BoostQuery::new(Box::new(query), term.boost))));
        }
        if weights.field_tie >= 1.0 {
            clauses.extend(per_field.into_iter().map(|q| (Occur::Should, q)));
        } else if !per_field.is_empty() {
            let max = tantivy::query::DisjunctionMaxQuery::with_tie_breaker(per_field, weights.field_tie);
            clauses.push((Occur::Should, Box::new(max)));
        }
    }
    Box::new(BooleanQuery::new(clauses))
}

/// Normalized terms to mark in titles and snippets: jieba words of two or more characters,
/// Latin words, and the whole text pieces between punctuation.
pub(crate) fn highlight_terms(text: &str) -> Vec<String> {
    let normalized = normalize(text);
    let mut terms: Vec<String> = crate::analysis::jieba_tokens(&normalized)
        .into_iter()
        .map(|t| t.text)
        .filter(|t| t.chars().count() >= 2 || !t.chars().any(is_cjk))
        .filter(|t| !crate::analysis::DEMAND_STOPWORDS.contains(&t.as_str()))
        .collect();
    terms.sort_by_key(|t| std::cmp::Reverse(t.len()));
    terms.dedup();
    terms
}

fn term_clause(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
}

/// Filter clauses (all `Must`) of a search query.
pub(crate) fn filter_clauses(fields: &Fields, query: &SearchQuery) -> Vec<(Occur, Box<dyn Query>)> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if let Some(kind) = query.kind {
        clauses.push((Occur::Must, term_clause(fields.kind, kind.as_str())));
    }
    if let Some(region) = query.region.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        clauses.push((Occur::Must, term_clause(fields.region, region)));
    }
    if let Some(industry) = query.industry.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        let code = Reference::get().resolve_industry(industry).map(|i| i.code.clone()).unwrap_or(industry.to_string());
        clauses.push((Occur::Must, term_clause(fields.industry, &code)));
    }
    if query.trl_min.is_some() || query.trl_max.is_some() {
        let lower =
            query.trl_min.map_or(Bound::Unbounded, |v| Bound::Included(Term::from_field_u64(fields.trl, u64::from(v))));
        let upper =
            query.trl_max.map_or(Bound::Unbounded, |v| Bound::Included(Term::from_field_u64(fields.trl, u64::from(v))));
        clauses.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
    }
    if let Some(availability) = query.availability {
        clauses.push((Occur::Must, term_clause(fields.availability, availability.as_str())));
    }
    if let Some(facility_type) = query.facility_type {
        clauses.push((Occur::Must, term_clause(fields.facility_type, facility_type.as_str())));
    }
    clauses
}
