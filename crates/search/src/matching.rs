//! Matching (精准对接): complementary listings for a listing or an ad-hoc demand, with scores
//! broken into parts and truthful explanations.
//!
//! Ranking, in order:
//! 1. **Candidates** from tantivy: BM25 of the demand text (boilerplate words dropped) over the
//!    jieba and bigram fields of title and body, plus, for every key phrase (the keywords, split at
//!    brackets so `二氧化钛(TiO2)` counts as two phrases), a constant bonus of `idf(phrase)` when the
//!    phrase occurs verbatim (a bigram phrase query) in the body, and another when it occurs in
//!    the title. Requested disciplines, industries and regions add constant bonuses.
//! 2. **Discipline feedback**: the top candidates vote for their discipline (weighted by score);
//!    every candidate gains `prf_weight × share` of its best voted discipline (the best, not the
//!    sum, so that a listing naming three fields has no edge over one naming one). A demand
//!    rarely names its field, but its best matches reveal it, and matches from the same field
//!    are the useful ones. A listing without a discipline gains with the two inferred for it at
//!    index time (`infer`); only explicit labels vote.
//! 3. **Structured fit** on the loaded listings: TRL, region relation, preferred regions,
//!    budget, working patterns and willing regions of talents, industry, freshness and
//!    completeness, each a named part of the score. Required regions are a filter of stage 1.
//! 4. **Relevance floor**: a candidate sharing only a generic word of the need is dropped.
//! 5. **Fit score** (0–100) for people, from relevance and the conditions checked (`fit`).
//!
//! With a viewer's [`ReadScope`], every query of these stages (phrase document frequencies,
//! candidates, the feedback voters, the boosted second pass, expansion terms) holds the scope and
//! scores with statistics of the readable listings only, so a listing the viewer may not read is
//! never returned and cannot move the others.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use serde::Serialize;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    BooleanQuery, ConstScoreQuery, DisjunctionMaxQuery, Occur, PhraseQuery, Query, QueryClone, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, Term};
use time::OffsetDateTime;
use xietong_domain::{
    Availability, Details, FacilityType, IndustryLevel, Kind, Listing, ListingId, ReadScope, Reference, SiteRole,
};

use crate::SearchError;
use crate::analysis::{
    DEMAND_STOPWORDS, analyze, bigram_analyzer, jieba, normalize, phrase_parts, query_words, split_phrases,
};
use crate::candidates::{CandidateSet, WeightedTerm};
use crate::fit::{Check, FitPart, NeedWords, Outcome, fit};
use crate::index::{SearchIndex, embedding_text, listing_regions};
use crate::infer::{INFERRED_WEIGHT, LabelColumns};
use crate::scope::Scoped;
use crate::search::{TextWeights, load_listing, text_query_restricted, text_terms};

/// An ad-hoc demand to match against the index.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MatchRequest {
    /// Free text of the demand.
    pub text: String,
    /// Key phrases; when empty, phrases are split out of `text`.
    pub keywords: Vec<String>,
    /// Kind wanted; `None` means the kinds complementary to a demand.
    pub kind: Option<Kind>,
    /// Minimum TRL the demand needs.
    pub trl_min: Option<u8>,
    /// Regions of the demand (GB/T 2260).
    pub region_codes: Vec<String>,
    /// Industries of the demand (GB/T 4754).
    pub industry_codes: Vec<String>,
    /// Disciplines (学科) of the demand.
    pub disciplines: Vec<String>,
    /// Budget in 万元.
    pub budget: Option<f64>,
    /// Working patterns accepted from talents; empty means any. A talent offering none of them
    /// ranks after those who do and carries a mismatch.
    pub talent_modes: Vec<Availability>,
    /// `region_codes` are a requirement: nothing outside them is returned.
    pub regions_required: bool,
    /// Number of hits; 0 means 20.
    pub limit: usize,
    /// The read rules of the viewer; `None` means unrestricted and is meant for operator tools
    /// and the eval only. Every caller acting for a viewer must set it (`viewer.read_scope()`).
    pub scope: Option<ReadScope>,
}

/// One explanation sentence, in Chinese and English, with a stable code for clients.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub code: String,
    pub zh: String,
    pub en: String,
}

/// A matched listing.
#[derive(Debug, Clone, Serialize)]
pub struct MatchHit {
    pub id: ListingId,
    pub kind: Kind,
    pub title: String,
    pub score: f64,
    /// Named parts that add up to `score`: text, discipline, industry, region, trl,
    /// availability, freshness, completeness, (embedding).
    pub score_parts: BTreeMap<String, f64>,
    /// Fit score 0–100 for people: the points of `fit_parts` add up to it.
    pub fit: u32,
    /// Relevance and each checked condition, with the points earned and explained.
    pub fit_parts: Vec<FitPart>,
    pub reasons: Vec<Explanation>,
    pub mismatches: Vec<Explanation>,
    /// The matched listing.
    pub listing: Listing,
}

/// Ranking weights of matching. The defaults were tuned on the dev eval split (see README).
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct MatchWeights {
    /// BM25 boosts of the demand text on the four analysed fields.
    pub title_jieba: f32,
    pub body_jieba: f32,
    pub title_bigram: f32,
    pub body_bigram: f32,
    /// Share of the weaker of a term's title and body scores added to the stronger (1: both
    /// count in full).
    pub field_tie: f32,
    /// Bonus per key phrase found verbatim in the body, times the phrase's idf.
    pub phrase_body: f32,
    /// Extra bonus per key phrase found verbatim in the title, times the phrase's idf.
    pub phrase_title: f32,
    /// Bonus for a requested discipline / industry / region (constant).
    pub requested_discipline: f32,
    pub requested_industry: f32,
    pub requested_region: f32,
    /// Weight of the discipline vote of the top candidates (relative to a top text score of 1).
    pub prf_weight: f64,
    /// How many top candidates vote.
    pub prf_depth: usize,
    /// Exponent on the normalized score of a voter.
    pub prf_power: f64,
    /// Weights of the structured parts (relative to a top text score of 1).
    pub trl: f64,
    pub region: f64,
    pub industry: f64,
    pub availability: f64,
    pub freshness: f64,
    pub completeness: f64,
    /// Bonus for a match inside the preferred regions, and the same as a cost outside them.
    pub preferred_region: f64,
    /// Cost of an asking price above the budget: this much, plus as much again times the
    /// overshoot as a share of the budget (capped at 1).
    pub budget: f64,
    /// Cost of a talent offering none of the accepted working patterns: as much as the best
    /// text score, so that such a talent is not offered first.
    pub talent_mode: f64,
    /// Cost of a talent not willing to work in the need's region.
    pub willing_region: f64,
    /// Cost of a passed deadline or window.
    pub deadline: f64,
    /// Least summed specificity of the need's words a match must share (see `fit`); 0 turns the
    /// floor off.
    pub relevance_floor: f64,
    /// A candidate whose discipline part is at least this share of `prf_weight` (the field of
    /// the best matches) passes the floor; 0 means words alone decide.
    pub floor_field_share: f64,
    /// A candidate whose text part is at least this share of the best passes the floor (its
    /// words match in pieces, e.g. inside compounds); above 1 means words alone decide.
    pub floor_text_share: f64,
    /// Weight of the share of the need's weighted words found in the title and keywords.
    pub title_coverage: f64,
    /// Weight of the share of the need's weighted words found anywhere in the listing.
    pub coverage: f64,
    /// Weight of the cosine similarity when an embedder is configured.
    pub embedding: f64,
    /// Query expansion: this many terms taken from the best `expansion_depth` matches
    /// (jieba words, tf × idf, weighted like the discipline votes) are added as BM25 clauses on
    /// the body with boost `expansion_weight`. 0 turns expansion off.
    pub expansion_terms: usize,
    pub expansion_depth: usize,
    pub expansion_weight: f32,
    /// Candidates gathered before the full ranking in a large index (at least 4 × the number
    /// of matches asked for); the index is restricted to them once it holds more than 4 × as
    /// many readable listings. 0 ranks the whole index.
    pub candidates: usize,
}

impl Default for MatchWeights {
    /// Tuned with a handful of runs on the dev split (nDCG@10 0.899 there); see the README for
    /// the reason behind each value.
    fn default() -> Self {
        MatchWeights {
            // Title words count no more than body words: demand phrases are matched against the
            // whole record, and a doubled title weight over-ranked documents that share one
            // generic title word.
            title_jieba: 1.0,
            body_jieba: 1.0,
            title_bigram: 1.0,
            body_bigram: 0.5,
            // A term in title and body counts once in full and a fifth for the other field
            // (a disjunction max, as in BM25F): a listing repeating the need's words in both
            // fields no longer outweighs one naming them once (dev +0.003 nDCG@10 on each
            // corpus; 0 and 0.1 gave about the same, 0.5 half the gain).
            field_tie: 0.2,
            // A key phrase found verbatim is the strongest lexical evidence; it outweighs
            // scattered BM25 matches of its pieces. A title hit means the phrase is the topic.
            phrase_body: 2.0,
            phrase_title: 3.0,
            requested_discipline: 2.0,
            requested_industry: 2.0,
            requested_region: 1.0,
            // The field of the best matches is the field of the demand; a match from the same
            // field is worth as much as the whole text score of the best match.
            prf_weight: 1.0,
            prf_depth: 10,
            // Cubing the normalized score lets the clear winners vote, not the long tail.
            prf_power: 3.0,
            trl: 0.1,
            region: 0.1,
            industry: 0.1,
            availability: 0.05,
            freshness: 0.02,
            completeness: 0.02,
            // Between two equally relevant listings the one in the preferred region comes first,
            // and a clearly better text still wins over a region (issue 13 item 3).
            preferred_region: 0.1,
            budget: 0.1,
            talent_mode: 1.0,
            willing_region: 0.15,
            deadline: 0.1,
            relevance_floor: 0.4,
            floor_field_share: 0.1,
            floor_text_share: 0.15,
            title_coverage: 0.0,
            coverage: 0.0,
            embedding: 0.3,
            expansion_terms: 0,
            expansion_depth: 3,
            expansion_weight: 0.3,
            // See `candidates`: 1,000 keeps a match's cost flat from 4,000 listings on.
            candidates: 1_000,
        }
    }
}

/// The kinds that complement `kind` in matching (精准对接), every direction: a need finds what
/// can meet it, a supply finds the needs and the partners that can take it further.
pub fn complementary_kinds(kind: Kind) -> Vec<Kind> {
    match kind {
        Kind::Demand => vec![Kind::Achievement, Kind::Talent, Kind::Facility],
        Kind::Achievement => vec![Kind::Scenario, Kind::Demand, Kind::Enterprise, Kind::Facility],
        Kind::Scenario => vec![Kind::Achievement, Kind::Talent, Kind::Enterprise],
        Kind::Challenge => vec![Kind::Talent, Kind::Enterprise, Kind::Achievement],
        Kind::Facility => vec![Kind::Demand, Kind::Achievement],
        Kind::Talent => vec![Kind::Demand, Kind::Challenge, Kind::Scenario, Kind::Enterprise],
        Kind::Enterprise => vec![Kind::Achievement, Kind::Talent, Kind::Challenge, Kind::Facility],
    }
}

/// What is matched: a listing or a request, reduced to the signals ranking uses.
#[derive(Clone)]
struct Profile {
    text: String,
    phrases: Vec<String>,
    target_kinds: Vec<Kind>,
    trl_min: Option<u8>,
    /// Achievements matched for a facility should be at TRL 4–7 (pilot stage).
    trl_window: Option<(u8, u8)>,
    region_codes: Vec<String>,
    preferred_regions: Vec<String>,
    industry_codes: Vec<String>,
    disciplines: Vec<String>,
    budget: Option<f64>,
    /// Working patterns accepted from talents; empty means any.
    talent_modes: Vec<Availability>,
    /// Nothing outside `preferred_regions` is a match.
    regions_required: bool,
    exclude: Option<ListingId>,
    /// Facilities are restricted to pilot lines and bases (an achievement looking for where to
    /// scale up, when no kind was asked for explicitly).
    pilot_facilities_only: bool,
}

/// Most characters of a source's text that matching reads: the opening of a long text carries
/// its topic, and every further phrase costs a lookup.
const MAX_PROFILE_TEXT_CHARS: usize = 4_000;
/// Most key phrases of a source that matching looks up.
const MAX_PROFILE_PHRASES: usize = 40;

/// The first `max` characters of `text`.
fn clip(text: &str, max: usize) -> &str {
    text.char_indices().nth(max).map_or(text, |(end, _)| &text[..end])
}

impl Profile {
    /// Caps the text and phrases read, so the cost of one match is bounded whatever the input.
    fn bounded(mut self) -> Profile {
        if self.text.chars().count() > MAX_PROFILE_TEXT_CHARS {
            self.text = clip(&self.text, MAX_PROFILE_TEXT_CHARS).to_string();
        }
        self.phrases.truncate(MAX_PROFILE_PHRASES);
        self
    }

    fn from_request(request: &MatchRequest) -> Profile {
        let phrases = if request.keywords.is_empty() { split_phrases(&request.text) } else { request.keywords.clone() };
        Profile {
            text: request.text.clone(),
            phrases,
            target_kinds: request.kind.map_or_else(|| complementary_kinds(Kind::Demand), |k| vec![k]),
            trl_min: request.trl_min,
            trl_window: None,
            region_codes: request.region_codes.clone(),
            // An ad-hoc demand states its regions as a preference: hits elsewhere get a mismatch.
            preferred_regions: request.region_codes.clone(),
            industry_codes: request.industry_codes.clone(),
            disciplines: request.disciplines.clone(),
            budget: request.budget,
            talent_modes: request.talent_modes.clone(),
            regions_required: request.regions_required && !request.region_codes.is_empty(),
            exclude: None,
            pilot_facilities_only: false,
        }
    }

    fn from_listing(source: &Listing, target_kind: Option<Kind>) -> Profile {
        let body = &source.body;
        let mut phrases = body.keywords.clone();
        let mut budget = None;
        let terms = body.partner_terms();
        let preferred_regions = terms.preferred_regions.to_vec();
        let mut trl_window = None;
        match &body.details {
            Details::Talent(t) => phrases.extend(t.expertise.iter().cloned()),
            Details::Scenario(s) => {
                phrases.extend(s.wanted_technology.iter().cloned());
                budget = s.budget;
            }
            Details::Facility(f) => {
                phrases.extend(f.capabilities.iter().cloned());
                trl_window = Some((4, 7));
            }
            Details::Demand(d) => budget = d.budget,
            Details::Challenge(c) => budget = c.prize,
            Details::Achievement(_) | Details::Enterprise(_) => {}
        }
        if phrases.is_empty() {
            phrases = split_phrases(&body.title);
        }
        Profile {
            text: format!("{}\n{}", body.title, body.searchable_text()),
            phrases,
            target_kinds: target_kind.map_or_else(|| complementary_kinds(source.kind()), |k| vec![k]),
            trl_min: match &body.details {
                Details::Demand(d) => d.desired_trl,
                _ => None,
            },
            trl_window,
            region_codes: listing_regions(source),
            preferred_regions,
            industry_codes: body.industry_codes.clone(),
            disciplines: body.disciplines.clone(),
            budget,
            talent_modes: terms.talent_modes.to_vec(),
            regions_required: terms.regions_required && !terms.preferred_regions.is_empty(),
            exclude: Some(source.id),
            pilot_facilities_only: source.kind() == Kind::Achievement && target_kind.is_none(),
        }
    }
}

impl SearchIndex {
    /// Listings complementary to `source` (of `target_kind`, or a mix of all complementary kinds)
    /// that `scope` may read (pass the viewer's `read_scope()`; [`ReadScope::All`] for operators).
    pub fn match_listing(
        &self,
        source: &Listing,
        target_kind: Option<Kind>,
        limit: usize,
        scope: &ReadScope,
    ) -> Result<Vec<MatchHit>, SearchError> {
        let profile = Profile::from_listing(source, target_kind).bounded();
        self.match_profile(&profile, limit, &MatchWeights::default(), Some(scope))
    }

    /// Listings matching an ad-hoc demand, within `request.scope`.
    pub fn match_request(&self, request: &MatchRequest) -> Result<Vec<MatchHit>, SearchError> {
        self.match_request_weighted(request, &MatchWeights::default())
    }

    /// [`SearchIndex::match_request`] with explicit weights (for tuning and evaluation).
    pub fn match_request_weighted(
        &self,
        request: &MatchRequest,
        weights: &MatchWeights,
    ) -> Result<Vec<MatchHit>, SearchError> {
        let profile = Profile::from_request(request).bounded();
        self.match_profile(&profile, request.limit, weights, request.scope.as_ref())
    }

    /// Several target kinds are ranked one by one and interleaved (round by round, best score
    /// first within a round), so one abundant kind cannot crowd out the others.
    fn match_profile(
        &self,
        profile: &Profile,
        limit: usize,
        weights: &MatchWeights,
        scope: Option<&ReadScope>,
    ) -> Result<Vec<MatchHit>, SearchError> {
        let limit = if limit == 0 { 20 } else { limit };
        crate::budget::check()?;
        let searcher = self.reader.searcher();
        let scoped = Scoped::cached(&searcher, &self.fields, scope, &self.scope_cache)?;
        if profile.target_kinds.len() <= 1 {
            return self.match_kind(&scoped, profile, limit, weights);
        }
        let mut per_kind: Vec<std::vec::IntoIter<MatchHit>> = Vec::new();
        for kind in &profile.target_kinds {
            crate::budget::check()?;
            let single = Profile { target_kinds: vec![*kind], ..profile.clone() };
            per_kind.push(self.match_kind(&scoped, &single, limit, weights)?.into_iter());
        }
        let mut mixed = Vec::with_capacity(limit);
        loop {
            let mut round: Vec<MatchHit> = per_kind.iter_mut().filter_map(Iterator::next).collect();
            if round.is_empty() || mixed.len() >= limit {
                break;
            }
            round.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
            mixed.extend(round);
        }
        mixed.truncate(limit);
        Ok(mixed)
    }

    /// Ranks one target kind. Every index query goes through `scoped`: it holds the scope filter
    /// and scores with the readable listings' statistics.
    fn match_kind(
        &self,
        scoped: &Scoped<'_>,
        profile: &Profile,
        limit: usize,
        weights: &MatchWeights,
    ) -> Result<Vec<MatchHit>, SearchError> {
        let searcher = scoped.searcher();
        let fields = &self.fields;
        let num_docs = scoped.num_docs().max(1) as f32;

        let mut scoring: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let text_weights = TextWeights {
            title_jieba: weights.title_jieba,
            body_jieba: weights.body_jieba,
            title_bigram: weights.title_bigram,
            body_bigram: weights.body_bigram,
            field_tie: weights.field_tie,
        };
        // Bounded candidates in a large index (see `candidates`): every scoring clause below is
        // restricted to them leaf by leaf.
        let filters = self.filter_clauses(scoped, profile);
        let candidates = self.candidates(scoped, profile, &text_weights, &filters, weights, limit)?;
        let restrict = |query: Box<dyn Query>| -> Box<dyn Query> {
            match &candidates {
                Some(set) => set.restrict(query),
                None => query,
            }
        };
        scoring.push((
            Occur::Should,
            text_query_restricted(fields, &profile.text, &text_weights, DEMAND_STOPWORDS, &restrict),
        ));
        let mut phrase_keys: Vec<String> = Vec::new();
        for phrase in &profile.phrases {
            for part in phrase_parts(phrase) {
                if phrase_keys.contains(&part) {
                    continue;
                }
                let (Some(in_title), Some(in_body)) =
                    (phrase_query(fields.title_b, &part), phrase_query(fields.body_b, &part))
                else {
                    continue;
                };
                let anywhere = BooleanQuery::new(vec![
                    (Occur::Should, in_title.box_clone()),
                    (Occur::Should, in_body.box_clone()),
                ]);
                let doc_freq = scoped.search(scoped.restrict(Box::new(anywhere)).as_ref(), &Count)? as f32;
                if doc_freq == 0.0 {
                    continue;
                }
                let idf = (1.0 + (num_docs - doc_freq + 0.5) / (doc_freq + 0.5)).ln();
                phrase_keys.push(part);
                scoring.push((
                    Occur::Should,
                    Box::new(ConstScoreQuery::new(restrict(in_body), weights.phrase_body * idf)),
                ));
                scoring.push((
                    Occur::Should,
                    Box::new(ConstScoreQuery::new(restrict(in_title), weights.phrase_title * idf)),
                ));
            }
        }
        for discipline in &profile.disciplines {
            let query = term_query(fields.discipline, discipline.trim());
            scoring
                .push((Occur::Should, Box::new(ConstScoreQuery::new(restrict(query), weights.requested_discipline))));
        }
        for code in &profile.industry_codes {
            let query = term_query(fields.industry, code);
            scoring.push((Occur::Should, Box::new(ConstScoreQuery::new(restrict(query), weights.requested_industry))));
        }
        for code in &profile.region_codes {
            let query = term_query(fields.region, code);
            scoring.push((Occur::Should, Box::new(ConstScoreQuery::new(restrict(query), weights.requested_region))));
        }
        // The filters (with the scope) restrict the candidates, hence also the voters below and
        // the second pass, which requires this query.
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(BooleanQuery::new(scoring)))];
        clauses.extend(filters);
        if let Some(set) = &candidates {
            clauses.push((Occur::Must, Box::new(set.clone())));
        }
        let query = BooleanQuery::new(clauses);
        crate::budget::check()?;
        // Discipline feedback: the best candidates vote for their discipline (by normalized
        // score), and a second pass adds `prf_weight × share × top score` to every document of a
        // voted discipline, over the whole index rather than a fixed candidate pool.
        let voters = scoped.search(&query, &TopDocs::with_limit(weights.prf_depth.max(1)))?;
        let Some((top_score, _)) = voters.first() else { return Ok(Vec::new()) };
        let max_score = f64::from(top_score.max(f32::EPSILON));
        let mut columns = LabelColumns::default();
        let mut votes: BTreeMap<String, f64> = BTreeMap::new();
        let mut vote_total = 0.0;
        for (score, address) in &voters {
            let weight = (f64::from(*score) / max_score).powf(weights.prf_power);
            vote_total += weight;
            // Only explicit labels vote: an inferred one is a guess from the same text that made
            // the voter a voter (dev, labels removed from half: 0.8345 when inferred ones voted
            // too, 0.8545 when not). An unlabeled voter still counts in the total, so a demand
            // whose best matches are unlabeled gets smaller shares.
            let doc_disciplines = columns.explicit(searcher, *address);
            for discipline in &doc_disciplines {
                *votes.entry(discipline.clone()).or_default() += weight / doc_disciplines.len() as f64;
            }
        }
        let shares: BTreeMap<String, f64> =
            votes.into_iter().map(|(d, v)| (d, v / vote_total.max(f64::EPSILON))).collect();
        let mut boosted: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, query.box_clone())];
        if weights.prf_weight > 0.0 && !shares.is_empty() {
            // A listing earns the share of its best voted discipline, not the sum over all its
            // disciplines: a listing labelled with three related fields would otherwise outrank
            // one labelled with one, and every listing whose discipline is inferred (one field)
            // would lose to the labelled ones (issue 13: equal terms).
            let mut per_discipline: Vec<Box<dyn Query>> = Vec::new();
            for (discipline, share) in &shares {
                let bonus = (weights.prf_weight * share * max_score) as f32;
                per_discipline
                    .push(Box::new(ConstScoreQuery::new(restrict(term_query(fields.discipline, discipline)), bonus)));
                // A listing without an explicit discipline competes with its inferred one.
                let inferred_bonus = bonus * INFERRED_WEIGHT as f32;
                per_discipline.push(Box::new(ConstScoreQuery::new(
                    restrict(term_query(fields.discipline_inferred, discipline)),
                    inferred_bonus,
                )));
            }
            boosted.push((Occur::Should, Box::new(DisjunctionMaxQuery::new(per_discipline))));
        }
        if weights.expansion_terms > 0 {
            for (term, weight) in self.expansion_terms(scoped, &voters, max_score, profile, weights)? {
                let query = TermQuery::new(Term::from_field_text(fields.body_j, &term), IndexRecordOption::WithFreqs);
                boosted.push((
                    Occur::Should,
                    Box::new(tantivy::query::BoostQuery::new(restrict(Box::new(query)), weight)),
                ));
            }
        }
        // A margin beyond `limit` lets the structured parts reorder the head of the ranking.
        let head = limit + limit / 2 + 10;
        let top = scoped.search(&BooleanQuery::new(boosted), &TopDocs::with_limit(head))?;
        crate::budget::check()?;
        let mut ranked: Vec<(f64, f64, Vec<String>, DocAddress)> = Vec::with_capacity(top.len());
        for (score, address) in top {
            let (doc_disciplines, label_weight, inferred) = columns.weighted(searcher, address);
            let mut discipline_part = 0.0;
            let mut inferred_voted = Vec::new();
            if weights.prf_weight > 0.0 {
                for discipline in &doc_disciplines {
                    let Some(share) = shares.get(discipline) else { continue };
                    // The same f32 bonus as in the query (the best of the listing's voted
                    // disciplines), so that `text` is what remains.
                    let bonus = f64::from((weights.prf_weight * share * max_score) as f32 * label_weight as f32);
                    discipline_part = f64::max(discipline_part, bonus / max_score);
                    if inferred {
                        inferred_voted.push(discipline.clone());
                    }
                }
            }
            ranked.push((f64::from(score) / max_score - discipline_part, discipline_part, inferred_voted, address));
        }

        // Structured fit on the loaded listings of the head of the ranking.
        let query_vector = self.query_vector(&profile.text)?;
        let vectors = self.vectors.read().expect("vectors lock");
        let now = OffsetDateTime::now_utc();
        let source_terms = SourceTerms::new(profile, phrase_keys);
        let need_words = self.need_words(scoped, profile)?;
        let mut hits = Vec::with_capacity(ranked.len());
        // Per hit: text + discipline, the share of the need's words it holds, its checks.
        let mut fit_inputs: HashMap<ListingId, (f64, f64, Vec<Check>)> = HashMap::new();
        // Whether the best candidate shares enough words of the need (set by the first one).
        let mut top_passes_words: Option<bool> = None;
        for (text_part, discipline_part, inferred_voted, address) in &ranked {
            let listing = load_listing(searcher, fields, *address)?;
            // The relevance floor: a candidate must share more than one generic word of the need
            // (issue 13 item 4), unless it belongs to the field the best matches share (on dev,
            // many relevant documents share few words with the demand but its field: a floor on
            // words alone lost 0.02–0.1 of recall@50).
            let (_, shared_mass, coverage) = need_words.shared(&listing_text(&listing));
            let in_field =
                weights.floor_field_share > 0.0 && *discipline_part >= weights.floor_field_share * weights.prf_weight;
            let passes_words = shared_mass >= weights.relevance_floor;
            // Relative text strength only counts when the best candidate passes on its words:
            // otherwise every candidate is weak and the best of them proves nothing.
            let best_passes_words = *top_passes_words.get_or_insert(passes_words);
            let strong_text = *text_part >= weights.floor_text_share && best_passes_words;
            if need_words.floor_applies() && !passes_words && !in_field && !strong_text {
                continue;
            }
            // How much of the need's weighted words the title (with keywords) and the whole text
            // hold: a title naming every specific word of the need is about it.
            let title_coverage = if weights.title_coverage > 0.0 {
                let title = normalize(&format!("{}\n{}", listing.body.title, listing.body.keywords.join("\n")));
                need_words.shared(&title).2
            } else {
                0.0
            };
            let (mut hit, checks) = explain(profile, listing, weights, now);
            if weights.title_coverage > 0.0 {
                hit.score_parts.insert("title_coverage".to_string(), weights.title_coverage * title_coverage);
            }
            if weights.coverage > 0.0 {
                hit.score_parts.insert("coverage".to_string(), weights.coverage * coverage);
            }
            fit_inputs.insert(hit.id, (text_part + discipline_part, coverage, checks));
            if !inferred_voted.is_empty() {
                let names = inferred_voted.join("、");
                hit.reasons.push(explanation(
                    "inferred_discipline",
                    format!("推断学科：{names}（据相近的已标注条目推断，与最佳匹配同属该领域）"),
                    format!(
                        "Inferred field: {} (from similar labelled listings; the field of the best matches)",
                        inferred_voted.join(", ")
                    ),
                ));
            }
            hit.score_parts.insert("text".to_string(), *text_part);
            hit.score_parts.insert("discipline".to_string(), *discipline_part);
            if let (Some(query_vector), Some(vector)) = (&query_vector, vectors.get(&hit.id)) {
                hit.score_parts.insert("embedding".to_string(), weights.embedding * cosine(query_vector, vector));
            }
            hit.score = hit.score_parts.values().sum();
            hits.push(hit);
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        hits.truncate(limit);
        // The fit score compares each hit's relevance with the best one returned.
        let best_relevance = fit_inputs.values().map(|(relevance, _, _)| *relevance).fold(f64::EPSILON, f64::max);
        // Shared key terms (whole phrases and words of both texts) lead the reasons; they take
        // text segmentation, so only the hits returned get them.
        for hit in &mut hits {
            if let Some((relevance, coverage, checks)) = fit_inputs.remove(&hit.id) {
                (hit.fit, hit.fit_parts) = fit(relevance / best_relevance, coverage, &checks);
            }
            let shared = source_terms.shared_with(&listing_text(&hit.listing));
            if !shared.is_empty() {
                let list = shared.join("、");
                let reason = explanation(
                    "shared_terms",
                    format!("共同关键词：{list}"),
                    format!("Shared key terms: {}", shared.join(", ")),
                );
                hit.reasons.insert(0, reason);
            }
        }
        Ok(hits)
    }

    /// The content words of the need (whole words, demand boilerplate dropped) weighted by their
    /// specificity among the readable listings, for the relevance floor and the fit score.
    fn need_words(&self, scoped: &Scoped<'_>, profile: &Profile) -> Result<NeedWords, SearchError> {
        /// Most words looked up; the opening of a long text carries its topic.
        const MAX_NEED_WORDS: usize = 60;
        let mut words: Vec<String> = query_words(&format!("{}\n{}", profile.text, profile.phrases.join("、")))
            .into_iter()
            .filter(|w| w.chars().count() >= 2)
            .collect();
        words.truncate(MAX_NEED_WORDS);
        let mut frequencies = Vec::with_capacity(words.len());
        for word in &words {
            let tokens = analyze(&crate::analysis::jieba_analyzer(), word);
            // A word the index splits (or normalizes differently) is looked up as its rarest part.
            let mut rarest: Option<u64> = None;
            for token in tokens {
                let df = scoped
                    .doc_freq(&Term::from_field_text(self.fields.body_j, &token))?
                    .max(scoped.doc_freq(&Term::from_field_text(self.fields.title_j, &token))?);
                rarest = Some(rarest.map_or(df, |r| r.min(df)));
            }
            frequencies.push(rarest);
        }
        let by_word: HashMap<&str, Option<u64>> =
            words.iter().map(String::as_str).zip(frequencies.iter().copied()).collect();
        let num_docs = scoped.num_docs();
        Ok(NeedWords::new(words.clone(), num_docs, |w| by_word.get(w).copied().flatten()))
    }

    /// Terms of the best matches that the demand does not contain, best first, with boosts
    /// (document frequencies over the readable listings).
    fn expansion_terms(
        &self,
        scoped: &Scoped<'_>,
        voters: &[(f32, DocAddress)],
        max_score: f64,
        profile: &Profile,
        weights: &MatchWeights,
    ) -> Result<Vec<(String, f32)>, SearchError> {
        let analyzer = crate::analysis::jieba_analyzer();
        let query_terms: std::collections::HashSet<String> = analyze(&analyzer, &profile.text).into_iter().collect();
        let searcher = scoped.searcher();
        let num_docs = scoped.num_docs().max(1) as f64;
        let mut weights_by_term: HashMap<String, f64> = HashMap::new();
        for (score, address) in voters.iter().take(weights.expansion_depth) {
            let voter_weight = (f64::from(*score) / max_score).powf(weights.prf_power);
            let listing = load_listing(searcher, &self.fields, *address)?;
            let text = format!("{}\n{}", listing.body.title, listing.body.summary);
            let tokens: Vec<String> = analyze(&analyzer, &text)
                .into_iter()
                .filter(|t| t.chars().count() >= 2 && !DEMAND_STOPWORDS.contains(&t.as_str()))
                .collect();
            let length = tokens.len().max(1) as f64;
            let mut counts: HashMap<String, f64> = HashMap::new();
            for token in tokens {
                *counts.entry(token).or_default() += 1.0;
            }
            for (token, count) in counts {
                if query_terms.contains(&token) {
                    continue;
                }
                let doc_freq = scoped.doc_freq(&Term::from_field_text(self.fields.body_j, &token))? as f64;
                if doc_freq < 2.0 {
                    continue; // a word only this document has cannot find another one
                }
                let idf = (1.0 + (num_docs - doc_freq + 0.5) / (doc_freq + 0.5)).ln();
                *weights_by_term.entry(token).or_default() += voter_weight * count / length * idf;
            }
        }
        let mut ranked: Vec<(String, f64)> = weights_by_term.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        ranked.truncate(weights.expansion_terms);
        let best = ranked.first().map_or(1.0, |(_, w)| *w).max(f64::EPSILON);
        Ok(ranked.into_iter().map(|(t, w)| (t, weights.expansion_weight * (w / best) as f32)).collect())
    }

    /// The filter clauses (all scoring nothing) of a match: target kinds, required regions, the
    /// source itself excluded, the viewer's scope.
    fn filter_clauses(&self, scoped: &Scoped<'_>, profile: &Profile) -> Vec<(Occur, Box<dyn Query>)> {
        let fields = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, self.kinds_filter(profile))];
        if profile.regions_required {
            // The region field holds every ancestor of a listing's regions, so a province code
            // covers its counties. A filter: it adds nothing to the score.
            let within: Vec<(Occur, Box<dyn Query>)> =
                profile.preferred_regions.iter().map(|code| (Occur::Should, term_query(fields.region, code))).collect();
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(Box::new(BooleanQuery::new(within)), 0.0))));
        }
        if let Some(exclude) = profile.exclude {
            clauses.push((Occur::MustNot, term_query(fields.id, &exclude.to_string())));
        }
        clauses.extend(scoped.clause());
        clauses
    }

    /// The bounded candidate set of a match, or `None` when the readable index is small enough
    /// for a full pass (see `candidates`) or the demand's words match nothing it could take.
    fn candidates(
        &self,
        scoped: &Scoped<'_>,
        profile: &Profile,
        text_weights: &TextWeights,
        filters: &[(Occur, Box<dyn Query>)],
        weights: &MatchWeights,
        limit: usize,
    ) -> Result<Option<CandidateSet>, SearchError> {
        // At least a few times the head the ranking reorders.
        let k = weights.candidates.max(4 * limit);
        if weights.candidates == 0 || scoped.num_docs() <= (4 * k) as u64 {
            return Ok(None);
        }
        // Listings of the kinds looked for (whatever their visibility: a cheap upper bound of
        // the readable ones): a catalogue large in other kinds needs no restriction either.
        let searcher = scoped.searcher();
        let mut of_kinds = 0u64;
        for kind in &profile.target_kinds {
            of_kinds += searcher.doc_freq(&Term::from_field_text(self.fields.kind, kind.as_str()))?;
        }
        if of_kinds <= (4 * k) as u64 {
            return Ok(None);
        }
        let terms: Vec<WeightedTerm> = text_terms(&self.fields, &profile.text, text_weights, DEMAND_STOPWORDS)
            .into_iter()
            .flat_map(|(title, body)| [title, body])
            .collect();
        let filter = BooleanQuery::new(filters.iter().map(|(occur, query)| (*occur, query.box_clone())).collect());
        crate::candidates::gather(scoped, &filter, &terms, k)
    }

    fn kinds_filter(&self, profile: &Profile) -> Box<dyn Query> {
        let fields = &self.fields;
        let mut per_kind: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for kind in &profile.target_kinds {
            let mut parts: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, term_query(fields.kind, kind.as_str()))];
            if *kind == Kind::Facility && profile.pilot_facilities_only {
                // An achievement looks for pilot capacity, not for any instrument.
                let pilot = BooleanQuery::new(vec![
                    (Occur::Should, term_query(fields.facility_type, FacilityType::PilotLine.as_str())),
                    (Occur::Should, term_query(fields.facility_type, FacilityType::PilotBase.as_str())),
                ]);
                parts.push((Occur::Must, Box::new(pilot)));
            }
            if *kind == Kind::Achievement
                && let Some((low, high)) = profile.trl_window
            {
                let range = RangeQuery::new(
                    Bound::Included(Term::from_field_u64(fields.trl, u64::from(low))),
                    Bound::Included(Term::from_field_u64(fields.trl, u64::from(high))),
                );
                parts.push((Occur::Must, Box::new(range)));
            }
            per_kind.push((Occur::Should, Box::new(BooleanQuery::new(parts))));
        }
        Box::new(BooleanQuery::new(per_kind))
    }

    fn query_vector(&self, text: &str) -> Result<Option<Vec<f32>>, SearchError> {
        let embedder = self.embedder.read().expect("embedder lock").clone();
        let Some(embedder) = embedder else { return Ok(None) };
        let mut vectors = embedder.embed(&[text.to_string()])?;
        Ok(vectors.pop())
    }
}

/// Cosine similarity of two vectors (0 when either is zero or the lengths differ).
pub(crate) fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut norm_a, mut norm_b) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        dot += f64::from(*x) * f64::from(*y);
        norm_a += f64::from(*x) * f64::from(*x);
        norm_b += f64::from(*y) * f64::from(*y);
    }
    if norm_a == 0.0 || norm_b == 0.0 { 0.0 } else { dot / (norm_a.sqrt() * norm_b.sqrt()) }
}

fn term_query(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
}

/// A verbatim-occurrence query for a normalized phrase on a bigram field.
pub(crate) fn phrase_query(field: Field, phrase: &str) -> Option<Box<dyn Query>> {
    let tokens = analyze(&bigram_analyzer(), phrase);
    match tokens.len() {
        0 => None,
        1 => Some(Box::new(TermQuery::new(Term::from_field_text(field, &tokens[0]), IndexRecordOption::WithFreqs))),
        _ => {
            let terms = tokens.iter().map(|t| Term::from_field_text(field, t)).collect();
            Some(Box::new(PhraseQuery::new(terms)))
        }
    }
}

fn explanation(code: &str, zh: String, en: String) -> Explanation {
    Explanation { code: code.to_string(), zh, en }
}

/// Normalized text of a listing used to check shared terms: title, keywords and free text.
fn listing_text(listing: &Listing) -> String {
    normalize(&embedding_text(listing))
}

/// The source side of the shared-term check, computed once per match.
struct SourceTerms {
    /// Key phrases that occur in the source text (normalized).
    phrases: Vec<String>,
    /// The source's whole words in order (jieba default mode); `None` stands for punctuation or
    /// space, which a shared phrase does not cross.
    sequence: Vec<Option<String>>,
}

impl SourceTerms {
    fn new(profile: &Profile, phrase_keys: Vec<String>) -> SourceTerms {
        let source_text = normalize(&format!("{}\n{}", profile.text, profile.phrases.join("、")));
        let phrases = phrase_keys.into_iter().filter(|p| source_text.contains(p.as_str())).collect();
        let sequence = jieba()
            .cut(&source_text, true)
            .into_iter()
            .map(|w| w.chars().all(char::is_alphanumeric).then(|| w.to_string()))
            .collect();
        SourceTerms { phrases, sequence }
    }

    /// Terms both texts contain as whole words, longest first (issue 13 item 6): the key phrases
    /// found in the target at its word boundaries, else the longest runs of consecutive source
    /// words found together in the target (机器视觉, not 机器 + 视觉). A bigram across two words
    /// of the target (测试 in 检测试剂盒) is not a shared term.
    fn shared_with(&self, target_text: &str) -> Vec<String> {
        let mut shared: Vec<String> = self
            .phrases
            .iter()
            .filter(|p| target_text.contains(p.as_str()) && occurs_as_words(target_text, p))
            .cloned()
            .collect();
        if shared.is_empty() {
            let mut contained: HashMap<String, bool> = HashMap::new();
            let mut in_target = |word: &str| -> bool {
                if let Some(found) = contained.get(word) {
                    return *found;
                }
                let found = target_text.contains(word);
                contained.insert(word.to_string(), found);
                found
            };
            let mut runs: Vec<String> = Vec::new();
            let mut start = 0;
            while start < self.sequence.len() {
                let Some(first) = &self.sequence[start] else {
                    start += 1;
                    continue;
                };
                if !in_target(first) {
                    start += 1;
                    continue;
                }
                // Extend the run while the concatenation still occurs in the target.
                let mut phrase = first.clone();
                let mut end = start + 1;
                while let Some(Some(next)) = self.sequence.get(end) {
                    let longer = format!("{phrase}{next}");
                    if !in_target(next) || !target_text.contains(longer.as_str()) {
                        break;
                    }
                    phrase = longer;
                    end += 1;
                }
                if phrase.chars().count() >= 2 && !DEMAND_STOPWORDS.contains(&phrase.as_str()) {
                    runs.push(phrase);
                }
                start = end;
            }
            runs.sort_by_key(|p| std::cmp::Reverse(p.chars().count()));
            runs.dedup();
            // The word-boundary check segments text, so it runs only until five terms are kept.
            for run in runs {
                if shared.len() >= 5 {
                    break;
                }
                if !shared.iter().any(|kept| kept.contains(run.as_str())) && occurs_as_words(target_text, &run) {
                    shared.push(run);
                }
            }
        }
        shared
    }
}

/// Whether `phrase` occurs in `text` starting and ending at word boundaries of `text` (jieba
/// default mode on a window of a few characters around the occurrence).
fn occurs_as_words(text: &str, phrase: &str) -> bool {
    const CONTEXT_CHARS: usize = 6;
    for (start, _) in text.match_indices(phrase).take(3) {
        let end = start + phrase.len();
        let window_start = text[..start].char_indices().rev().nth(CONTEXT_CHARS - 1).map_or(0, |(byte, _)| byte);
        let window_end = text[end..].char_indices().nth(CONTEXT_CHARS).map_or(text.len(), |(byte, _)| end + byte);
        let window = &text[window_start..window_end];
        let mut boundaries = vec![0];
        let mut offset = 0;
        for word in jieba().cut(window, true) {
            offset += word.len();
            boundaries.push(offset);
        }
        let (relative_start, relative_end) = (start - window_start, end - window_start);
        if boundaries.contains(&relative_start) && boundaries.contains(&relative_end) {
            return true;
        }
    }
    false
}

/// Builds the structured score parts, reasons and mismatches of one candidate.
/// Also returns the conditions checked, for the fit score.
fn explain(profile: &Profile, listing: Listing, weights: &MatchWeights, now: OffsetDateTime) -> (MatchHit, Vec<Check>) {
    let reference = Reference::get();
    let mut parts: BTreeMap<String, f64> = BTreeMap::new();
    let mut reasons = Vec::new();
    let mut mismatches = Vec::new();
    let mut checks = Vec::new();
    let body = &listing.body;

    // Disciplines named on both sides.
    let shared_disciplines: Vec<&String> =
        body.disciplines.iter().filter(|d| profile.disciplines.iter().any(|p| p.trim() == d.trim())).collect();
    if let Some(discipline) = shared_disciplines.first() {
        reasons.push(explanation(
            "shared_discipline",
            format!("同属学科：{discipline}"),
            format!("Same discipline: {discipline}"),
        ));
    }

    // Industry: the deepest common level of any pair of codes.
    let mut best_industry: Option<(usize, String)> = None;
    for source_code in &profile.industry_codes {
        let source_ancestry = reference.industry_ancestry(source_code);
        for target_code in &body.industry_codes {
            for candidate in reference.industry_ancestry(target_code) {
                if let Some(depth) = source_ancestry.iter().rev().position(|c| *c == candidate)
                    && best_industry.as_ref().is_none_or(|(d, _)| depth > *d)
                {
                    best_industry = Some((depth, candidate.clone()));
                }
            }
        }
    }
    if let Some((depth, code)) = &best_industry
        && let Some(industry) = reference.industry(code)
    {
        let (level_zh, level_en) = match industry.level {
            IndustryLevel::Section => ("门类", "section"),
            IndustryLevel::Division => ("大类", "division"),
            IndustryLevel::Group => ("中类", "group"),
            IndustryLevel::Class => ("小类", "class"),
        };
        parts.insert("industry".to_string(), weights.industry * (*depth as f64 + 1.0) / 4.0);
        let name_en = industry.name_en.clone().unwrap_or_else(|| industry.name_zh.clone());
        reasons.push(explanation(
            "shared_industry",
            format!("同属行业{level_zh} {} {}", industry.code, industry.name_zh),
            format!("Same industry {level_en} {} {}", industry.code, name_en),
        ));
    }

    // Region relation.
    let target_regions = listing_regions(&listing);
    let region_name = |code: &str| -> String {
        reference.region_chain(code).iter().rev().map(|r| r.name.as_str()).collect::<Vec<_>>().join("")
    };
    let mut region_done = false;
    'outer: for source_code in &profile.region_codes {
        for target_code in &target_regions {
            let source_ancestry = reference.region_ancestry(source_code);
            if let Some(common) =
                reference.region_ancestry(target_code).into_iter().find(|c| source_ancestry.contains(c))
            {
                let name = region_name(&common);
                let same_exact = source_code == target_code;
                parts.insert("region".to_string(), weights.region * if same_exact { 1.0 } else { 0.6 });
                reasons.push(explanation(
                    "same_region",
                    format!("同在{name}"),
                    format!("Both located in {name} ({common})"),
                ));
                region_done = true;
                break 'outer;
            }
        }
    }
    if !region_done {
        // Beijing R&D → Tianjin/Hebei manufacturing corridor (京津冀协同).
        let source_in_beijing = profile.region_codes.iter().any(|c| reference.region_within(c, "110000"));
        let manufacturing_sites: Vec<&str> = match &body.details {
            Details::Enterprise(e) => e
                .sites
                .iter()
                .filter(|s| s.role == SiteRole::Manufacturing)
                .map(|s| s.region_code.as_str())
                .filter(|c| reference.region_within(c, "120000") || reference.region_within(c, "130000"))
                .collect(),
            _ => Vec::new(),
        };
        if source_in_beijing && !manufacturing_sites.is_empty() {
            let name = region_name(manufacturing_sites[0]);
            parts.insert("region".to_string(), weights.region * 0.8);
            reasons.push(explanation(
                "rd_manufacturing_corridor",
                format!("北京研发成果可在{name}的制造基地转化（京津冀研发—制造走廊）"),
                format!("Beijing R&D can be manufactured at the site in {name} (Beijing–Tianjin–Hebei corridor)"),
            ));
        }
    }
    // Preferred regions of the need: a bonus inside, the same as a cost outside (issue 13
    // item 3), so that between two equally relevant listings the one inside ranks first.
    if !profile.preferred_regions.is_empty() {
        let names: Vec<String> = profile.preferred_regions.iter().map(|c| region_name(c)).collect();
        let names = names.join("、");
        let codes = profile.preferred_regions.join(", ");
        if target_regions.is_empty() {
            checks.push(Check::new(
                "region",
                Outcome::Unknown,
                format!("地区：未注明所在地区（偏好 {names}）"),
                format!("Region: not stated (preferred {codes})"),
            ));
        } else if target_regions.iter().any(|t| profile.preferred_regions.iter().any(|p| reference.region_within(t, p)))
        {
            parts.insert("preferred_region".to_string(), weights.preferred_region);
            reasons.push(explanation(
                "in_preferred_region",
                format!("位于需求方偏好的地区（{names}）"),
                format!("Located in the preferred regions ({codes})"),
            ));
            checks.push(Check::new(
                "region",
                Outcome::Met,
                format!("地区：位于偏好的{names}"),
                format!("Region: inside the preferred {codes}"),
            ));
        } else {
            parts.insert("preferred_region".to_string(), -weights.preferred_region);
            mismatches.push(explanation(
                "region_outside_preferred",
                format!("所在地区不在需求方偏好的地区（{names}）"),
                format!("Located outside the preferred regions ({codes})"),
            ));
            checks.push(Check::new(
                "region",
                Outcome::Unmet,
                format!("地区：不在偏好的{names}"),
                format!("Region: outside the preferred {codes}"),
            ));
        }
    }

    // TRL fit.
    if let Details::Achievement(achievement) = &body.details {
        if let Some(trl) = achievement.trl {
            if let Some(required) = profile.trl_min {
                if trl >= required {
                    parts.insert("trl".to_string(), weights.trl);
                    reasons.push(explanation(
                        "trl_fit",
                        format!("技术成熟度 TRL {trl} ≥ 需求 TRL {required}"),
                        format!("TRL {trl} ≥ required {required}"),
                    ));
                    checks.push(Check::new(
                        "trl",
                        Outcome::Met,
                        format!("技术成熟度：TRL {trl} ≥ {required}"),
                        format!("Readiness: TRL {trl} ≥ {required}"),
                    ));
                } else {
                    // One step short costs the fit bonus and a quarter more, each further step a
                    // quarter more, up to twice the bonus (a TRL 3 lab result for a need of TRL 7).
                    let gap = f64::from(required - trl);
                    parts.insert("trl".to_string(), -weights.trl * (1.0 + gap / 4.0).min(2.0));
                    mismatches.push(explanation(
                        "trl_below_required",
                        format!("技术成熟度 TRL {trl} 低于需求 TRL {required}"),
                        format!("TRL {trl} is below the required {required}"),
                    ));
                    checks.push(Check::new(
                        "trl",
                        Outcome::Unmet,
                        format!("技术成熟度：TRL {trl} 低于要求的 {required}"),
                        format!("Readiness: TRL {trl} below the required {required}"),
                    ));
                }
            } else if let Some((low, high)) = profile.trl_window {
                parts.insert("trl".to_string(), weights.trl);
                reasons.push(explanation(
                    "trl_pilot_stage",
                    format!("TRL {trl} 处于中试阶段（{low}–{high}），适合中试熟化"),
                    format!("TRL {trl} is in the pilot range {low}–{high}"),
                ));
            }
        }
        if let Some(budget) = profile.budget {
            match achievement.price_min {
                Some(price_min) if price_min > budget => {
                    let overshoot = ((price_min - budget) / budget.max(1.0)).min(1.0);
                    parts.insert("budget".to_string(), -weights.budget * (1.0 + overshoot));
                    mismatches.push(explanation(
                        "price_above_budget",
                        format!("转让底价 {price_min} 万元高于预算 {budget} 万元"),
                        format!("Asking price {price_min} (10k CNY) exceeds the budget {budget}"),
                    ));
                    checks.push(Check::new(
                        "budget",
                        Outcome::Unmet,
                        format!("预算：底价 {price_min} 万元高于预算 {budget} 万元"),
                        format!("Budget: asking price {price_min} above the budget {budget} (10k CNY)"),
                    ));
                }
                Some(price_min) => {
                    parts.insert("budget".to_string(), weights.budget / 2.0);
                    reasons.push(explanation(
                        "price_within_budget",
                        format!("转让底价 {price_min} 万元在预算 {budget} 万元之内"),
                        format!("Asking price {price_min} within the budget {budget} (10k CNY)"),
                    ));
                    checks.push(Check::new(
                        "budget",
                        Outcome::Met,
                        format!("预算：底价 {price_min} 万元 ≤ 预算 {budget} 万元"),
                        format!("Budget: asking price {price_min} ≤ {budget} (10k CNY)"),
                    ));
                }
                None => checks.push(Check::new(
                    "budget",
                    Outcome::Unknown,
                    format!("预算：未注明价格（预算 {budget} 万元）"),
                    format!("Budget: no asking price stated (budget {budget})"),
                )),
            }
        }
    }

    // Working patterns and regions of talents.
    if let Details::Talent(talent) = &body.details {
        if profile.talent_modes.is_empty() {
            let flexible: Vec<Availability> =
                talent.availability.iter().copied().filter(|a| *a != Availability::FullTime).collect();
            if !flexible.is_empty() {
                parts.insert("availability".to_string(), weights.availability);
                let zh: Vec<&str> = flexible.iter().map(|a| a.label_zh()).collect();
                let en: Vec<&str> = flexible.iter().map(|a| a.as_str()).collect();
                reasons.push(explanation(
                    "availability",
                    format!("可按{}方式合作", zh.join("、")),
                    format!("Available as {}", en.join(", ")),
                ));
            }
        } else {
            let accepted_zh: Vec<&str> = profile.talent_modes.iter().map(|a| a.label_zh()).collect();
            let accepted_en: Vec<&str> = profile.talent_modes.iter().map(|a| a.as_str()).collect();
            let (accepted_zh, accepted_en) = (accepted_zh.join("、"), accepted_en.join(", "));
            let shared: Vec<Availability> =
                talent.availability.iter().copied().filter(|a| profile.talent_modes.contains(a)).collect();
            if talent.availability.is_empty() {
                checks.push(Check::new(
                    "talent_mode",
                    Outcome::Unknown,
                    format!("合作方式：未注明（需求接受{accepted_zh}）"),
                    format!("Working pattern: not stated (accepted: {accepted_en})"),
                ));
            } else if shared.is_empty() {
                let offered_zh: Vec<&str> = talent.availability.iter().map(|a| a.label_zh()).collect();
                let offered_en: Vec<&str> = talent.availability.iter().map(|a| a.as_str()).collect();
                let (offered_zh, offered_en) = (offered_zh.join("、"), offered_en.join(", "));
                parts.insert("availability".to_string(), -weights.talent_mode);
                mismatches.push(explanation(
                    "talent_mode_mismatch",
                    format!("合作方式不符：需求只接受{accepted_zh}，该人才可按{offered_zh}方式合作"),
                    format!(
                        "Working pattern does not fit: the need accepts {accepted_en}; this talent offers {offered_en}"
                    ),
                ));
                checks.push(Check::new(
                    "talent_mode",
                    Outcome::Unmet,
                    format!("合作方式：仅可{offered_zh}，需求接受{accepted_zh}"),
                    format!("Working pattern: offers {offered_en}, the need accepts {accepted_en}"),
                ));
            } else {
                let zh: Vec<&str> = shared.iter().map(|a| a.label_zh()).collect();
                let en: Vec<&str> = shared.iter().map(|a| a.as_str()).collect();
                parts.insert("availability".to_string(), weights.availability);
                reasons.push(explanation(
                    "availability",
                    format!("可按{}方式合作（需求接受）", zh.join("、")),
                    format!("Available as {} (accepted by the need)", en.join(", ")),
                ));
                checks.push(Check::new(
                    "talent_mode",
                    Outcome::Met,
                    format!("合作方式：可{}", zh.join("、")),
                    format!("Working pattern: {}", en.join(", ")),
                ));
            }
        }
        // The need's region: where it wants partners, else where it is.
        let need_regions =
            if profile.preferred_regions.is_empty() { &profile.region_codes } else { &profile.preferred_regions };
        if !talent.willing_regions.is_empty() && !need_regions.is_empty() {
            let willing = talent
                .willing_regions
                .iter()
                .any(|w| need_regions.iter().any(|n| reference.region_within(n, w) || reference.region_within(w, n)));
            let willing_names: Vec<String> = talent.willing_regions.iter().map(|c| region_name(c)).collect();
            let willing_names = willing_names.join("、");
            if willing {
                checks.push(Check::new(
                    "willing_region",
                    Outcome::Met,
                    format!("意向工作地区：{willing_names}，含需求所在地"),
                    format!("Willing to work in {}, which covers the need's region", talent.willing_regions.join(", ")),
                ));
            } else {
                parts.insert("willing_region".to_string(), -weights.willing_region);
                mismatches.push(explanation(
                    "region_not_willing",
                    format!("该人才的意向工作地区（{willing_names}）不含需求所在地区"),
                    format!(
                        "The talent's willing regions ({}) exclude the need's region",
                        talent.willing_regions.join(", ")
                    ),
                ));
                checks.push(Check::new(
                    "willing_region",
                    Outcome::Unmet,
                    format!("意向工作地区：{willing_names}，不含需求所在地"),
                    format!("Willing to work in {} only, not the need's region", talent.willing_regions.join(", ")),
                ));
            }
        }
    }

    // Deadlines and windows that have passed.
    let today = now.date();
    let passed = match &body.details {
        Details::Demand(d) => d.deadline.filter(|day| day.0 < today),
        Details::Challenge(c) => c.deadline.filter(|day| day.0 < today),
        Details::Scenario(s) => s.window_end.filter(|day| day.0 < today),
        _ => None,
    };
    if let Some(day) = passed {
        parts.insert("deadline".to_string(), -weights.deadline);
        mismatches.push(explanation(
            "deadline_passed",
            format!("截止日期 {day} 已过"),
            format!("The deadline {day} has passed"),
        ));
        checks.push(Check::new(
            "deadline",
            Outcome::Unmet,
            format!("截止日期：{day} 已过"),
            format!("Deadline: {day} has passed"),
        ));
    }

    // Freshness (half-life of a year) and completeness of the record.
    let age_days = (now - listing.updated_at).whole_days().max(0) as f64;
    parts.insert("freshness".to_string(), weights.freshness * 0.5f64.powf(age_days / 365.0));
    let filled = [
        !body.summary.trim().is_empty(),
        !body.description.trim().is_empty(),
        !body.keywords.is_empty(),
        !body.industry_codes.is_empty(),
        !body.region_codes.is_empty(),
        body.contact.is_some(),
    ];
    let completeness = filled.iter().filter(|f| **f).count() as f64 / filled.len() as f64;
    parts.insert("completeness".to_string(), weights.completeness * completeness);

    let hit = MatchHit {
        id: listing.id,
        kind: listing.kind(),
        title: body.title.clone(),
        score: 0.0,
        score_parts: parts,
        fit: 0,
        fit_parts: Vec::new(),
        reasons,
        mismatches,
        listing,
    };
    (hit, checks)
}
