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
use tantivy::{DocAddress, Term};
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

/// Evidence per probe index.
type Placements = BTreeMap<usize, Vec<Evidence>>;

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
        let mut found: HashMap<DocAddress, Placements> = HashMap::new();
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
        let mut by_segment: BTreeMap<u32, Vec<(tantivy::DocId, Placements)>> = BTreeMap::new();
        for (address, placements) in found {
            by_segment.entry(address.segment_ord).or_default().push((address.doc_id, placements));
        }
        let mut placed = Vec::new();
        for (segment_ord, docs) in by_segment {
            let reader = searcher.segment_reader(segment_ord);
            let fast = reader.fast_fields();
            let ids = SegmentColumn::read(fast.str("id")?, docs.iter().map(|d| d.0))?;
            let kinds = SegmentColumn::read(fast.str("kind")?, docs.iter().map(|d| d.0))?;
            let regions = SegmentColumn::read(fast.str("region")?, docs.iter().map(|d| d.0))?;
            let owners = SegmentColumn::read(fast.str("owner_org")?, docs.iter().map(|d| d.0))?;
            let facility_types = SegmentColumn::read(fast.str("facility_type")?, docs.iter().map(|d| d.0))?;
            for (doc, mut placements) in docs {
                let Some(id) = ids.first(doc).and_then(|id| id.parse().ok()) else { continue };
                let Some(kind) = kinds.first(doc).and_then(|k| k.parse().ok()) else { continue };
                for evidence in placements.values_mut() {
                    evidence.sort_by(|a, b| b.weight().cmp(&a.weight()).then_with(|| a.cmp(b)));
                    evidence.dedup();
                }
                placed.push(Placed {
                    id,
                    kind,
                    regions: regions.all(doc).map(str::to_string).collect(),
                    owner_org: owners.first(doc).map(str::to_string),
                    facility_type: facility_types.first(doc).map(str::to_string),
                    placements,
                });
            }
        }
        placed.sort_by_key(|p| p.id);
        Ok(placed)
    }
}

/// The values of one string fast field for the matched documents of one index segment,
/// decoded in one sorted pass over the field's dictionary (decoding ordinals one at a time
/// rescans a dictionary block per value, which dominated the view's time).
struct SegmentColumn {
    column: Option<StrColumn>,
    values: HashMap<u64, String>,
}

impl SegmentColumn {
    fn read(column: Option<StrColumn>, docs: impl Iterator<Item = tantivy::DocId>) -> Result<Self, SearchError> {
        let Some(column) = column else { return Ok(SegmentColumn { column: None, values: HashMap::new() }) };
        let mut ords: Vec<u64> = docs.flat_map(|doc| column.term_ords(doc).collect::<Vec<_>>()).collect();
        ords.sort_unstable();
        ords.dedup();
        let mut decoded = Vec::with_capacity(ords.len());
        column
            .dictionary()
            .sorted_ords_to_term_cb(ords.iter().copied(), |bytes| {
                decoded.push(String::from_utf8_lossy(bytes).into_owned());
                Ok(())
            })
            .map_err(|e| SearchError::Index(e.into()))?;
        let values = ords.into_iter().zip(decoded).collect();
        Ok(SegmentColumn { column: Some(column), values })
    }

    fn all(&self, doc: tantivy::DocId) -> impl Iterator<Item = &str> + '_ {
        self.column
            .iter()
            .flat_map(move |column| column.term_ords(doc))
            .filter_map(|ord| self.values.get(&ord).map(String::as_str))
    }

    fn first(&self, doc: tantivy::DocId) -> Option<&str> {
        self.all(doc).next()
    }
}
