//! Placing indexed listings on industry-chain segments (issue 19), from the index alone.
//!
//! Each segment becomes a few queries — one per industry code (the `industry` field holds every
//! ancestor of a listing's codes, so a segment's code matches the listings at or below it), one
//! per product or technology phrase (verbatim, on the bigram title and body fields), one per
//! explicitly placed listing id — each restricted to the viewer's read scope. The matched
//! documents' kind, regions, owner and id are then read from the fast fields in one pass, so the
//! planner's view never loads a listing from the store.

use std::collections::{BTreeMap, HashMap};

use tantivy::collector::DocSetCollector;
use tantivy::columnar::StrColumn;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Searcher, Term};
use xietong_domain::chain::Evidence;
use xietong_domain::{Kind, ListingId, ReadScope};

use crate::analysis::normalize;
use crate::matching::phrase_query;
use crate::scope::Scoped;
use crate::{SearchError, SearchIndex};

/// What places a listing on one segment.
#[derive(Debug, Clone, Default)]
pub struct SegmentProbe {
    /// GB/T 4754-2017 codes of the segment.
    pub industry_codes: Vec<String>,
    /// Key products and technologies, found verbatim.
    pub phrases: Vec<String>,
    /// Listings placed on the segment explicitly.
    pub listings: Vec<ListingId>,
}

/// A readable listing placed on at least one probed segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub id: ListingId,
    pub kind: Kind,
    /// Every region code of the listing and its ancestors (provinces included); an enterprise's
    /// sites count as its regions.
    pub regions: Vec<String>,
    pub owner_org: Option<String>,
    /// A facility's type (`pilot_line`, `pilot_base`, …).
    pub facility_type: Option<String>,
    /// Per probe index, the evidence that places the listing there (sorted, strongest first).
    pub placements: BTreeMap<usize, Vec<Evidence>>,
}

impl SearchIndex {
    /// The readable listings placed on any of `probes`, with their evidence per probe.
    pub fn place_on_segments(
        &self,
        probes: &[SegmentProbe],
        scope: Option<&ReadScope>,
    ) -> Result<Vec<Placed>, SearchError> {
        let searcher = self.reader.searcher();
        let scoped = Scoped::cached(&searcher, &self.fields, scope, &self.scope_cache)?;
        let mut found: HashMap<DocAddress, BTreeMap<usize, Vec<Evidence>>> = HashMap::new();
        let mut collect = |query: Box<dyn Query>, probe: usize, evidence: Evidence| -> Result<(), SearchError> {
            let restricted = scoped.restrict(query);
            for address in searcher.search(restricted.as_ref(), &DocSetCollector)? {
                found.entry(address).or_default().entry(probe).or_default().push(evidence.clone());
            }
            Ok(())
        };
        for (index, probe) in probes.iter().enumerate() {
            for id in &probe.listings {
                let term = Term::from_field_text(self.fields.id, &id.to_string());
                collect(Box::new(TermQuery::new(term, IndexRecordOption::Basic)), index, Evidence::Explicit)?;
            }
            for code in probe.industry_codes.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
                let term = Term::from_field_text(self.fields.industry, code);
                let evidence = Evidence::IndustryCode { code: code.to_string() };
                collect(Box::new(TermQuery::new(term, IndexRecordOption::Basic)), index, evidence)?;
            }
            for phrase in probe.phrases.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
                let normalized = normalize(phrase);
                let clauses: Vec<(Occur, Box<dyn Query>)> = [self.fields.title_b, self.fields.body_b]
                    .into_iter()
                    .filter_map(|field| phrase_query(field, &normalized))
                    .map(|query| (Occur::Should, query))
                    .collect();
                if clauses.is_empty() {
                    continue;
                }
                let evidence = Evidence::Text { phrase: phrase.to_string() };
                collect(Box::new(BooleanQuery::new(clauses)), index, evidence)?;
            }
        }
        let mut columns = Columns::default();
        let mut placed = Vec::with_capacity(found.len());
        for (address, mut placements) in found {
            let Some(id) = columns.first(&searcher, address, "id").and_then(|id| id.parse().ok()) else { continue };
            let Some(kind) = columns.first(&searcher, address, "kind").and_then(|k| k.parse().ok()) else { continue };
            for evidence in placements.values_mut() {
                evidence.sort_by(|a, b| b.weight().cmp(&a.weight()).then_with(|| a.cmp(b)));
                evidence.dedup();
            }
            placed.push(Placed {
                id,
                kind,
                regions: columns.all(&searcher, address, "region"),
                owner_org: columns.first(&searcher, address, "owner_org"),
                facility_type: columns.first(&searcher, address, "facility_type"),
                placements,
            });
        }
        placed.sort_by_key(|p| p.id);
        Ok(placed)
    }
}

/// String fast-field columns, opened once per index segment and field.
#[derive(Default)]
struct Columns(HashMap<(u32, &'static str), Option<StrColumn>>);

impl Columns {
    fn all(&mut self, searcher: &Searcher, address: DocAddress, name: &'static str) -> Vec<String> {
        let column = self
            .0
            .entry((address.segment_ord, name))
            .or_insert_with(|| searcher.segment_reader(address.segment_ord).fast_fields().str(name).ok().flatten());
        let Some(column) = column else { return Vec::new() };
        let mut values = Vec::new();
        for ord in column.term_ords(address.doc_id) {
            let mut value = String::new();
            if column.ord_to_str(ord, &mut value).unwrap_or(false) {
                values.push(value);
            }
        }
        values
    }

    fn first(&mut self, searcher: &Searcher, address: DocAddress, name: &'static str) -> Option<String> {
        self.all(searcher, address, name).into_iter().next()
    }
}
