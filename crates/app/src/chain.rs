//! The planner's view (issue 19): industry chains with per-segment, per-region supply and
//! demand, gap labels (强链 / 补链 / 建链) by the stated rules of [`GapRules`], and the joint
//! investment-attraction list (联合招商) of a weak or missing segment.
//!
//! Counts come from the index in one grouped pass ([`xietong_search::SearchIndex::place_on_segments`]):
//! a few queries per segment and one read of the fast fields of the matched documents, never a
//! store read per listing. Only the attraction list's few names are read from the store.

use std::collections::BTreeMap;

use serde::Serialize;
use xietong_domain::chain::{Chain, Evidence, Gap, GapLabel, GapRules, Segment, shipped_chains, validate_chain};
use xietong_domain::{Kind, ListingId, Reference};
use xietong_search::{Placed, SegmentProbe};
use xietong_store::StoreError;

use crate::App;
use crate::error::{AppError, AppResult};
use crate::listing::Actor;

/// The three provinces every view shows: Beijing, Tianjin, Hebei.
pub const PROVINCES: [&str; 3] = ["110000", "120000", "130000"];

/// Most attraction candidates one list returns.
pub const MAX_ATTRACTION: usize = 200;

/// A chain as the platform uses it: shipped, or the admin's edited version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainRecord {
    pub chain: Chain,
    /// 0 for the shipped chain; the stored version of the admin's edit otherwise (an edit must
    /// carry it).
    pub version: i64,
}

/// Listings of one segment in one region, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindCounts {
    pub enterprise: u64,
    pub achievement: u64,
    pub facility: u64,
    pub talent: u64,
    pub demand: u64,
    pub scenario: u64,
    pub challenge: u64,
}

impl KindCounts {
    fn add(&mut self, kind: Kind) {
        let slot = match kind {
            Kind::Enterprise => &mut self.enterprise,
            Kind::Achievement => &mut self.achievement,
            Kind::Facility => &mut self.facility,
            Kind::Talent => &mut self.talent,
            Kind::Demand => &mut self.demand,
            Kind::Scenario => &mut self.scenario,
            Kind::Challenge => &mut self.challenge,
        };
        *slot += 1;
    }

    /// Enterprises, achievements, facilities and talents.
    pub fn supply(&self) -> u64 {
        self.enterprise + self.achievement + self.facility + self.talent
    }

    /// Demands, scenarios and challenges.
    pub fn demand_total(&self) -> u64 {
        self.demand + self.scenario + self.challenge
    }
}

/// One segment in one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// GB/T 2260 code.
    pub region: String,
    pub region_name: String,
    pub counts: KindCounts,
    pub supply: u64,
    pub demand: u64,
    #[serde(flatten)]
    pub label: GapLabel,
}

/// A segment with its cells, one per region of the view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentView {
    #[serde(flatten)]
    pub segment: Segment,
    /// Listings placed here (in any region) explicitly / only by inference.
    pub placed_explicitly: u64,
    pub placed_by_inference: u64,
    pub cells: Vec<Cell>,
}

/// A chain with its segments' counts and gap labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainView {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    pub sources: Vec<String>,
    pub version: i64,
    /// The regions of the cells, in order: Beijing, Tianjin, Hebei, then the district asked for.
    pub regions: Vec<String>,
    pub rules: GapRules,
    pub segments: Vec<SegmentView>,
}

/// One enterprise or achievement to bring into a region (联合招商).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub id: ListingId,
    pub kind: Kind,
    pub title: String,
    pub owner_org: Option<String>,
    /// Provinces where the segment is strong and the candidate is present.
    pub strong_in: Vec<String>,
    pub score: u32,
    pub evidence: Vec<Evidence>,
    pub reasons_zh: Vec<String>,
    pub reasons_en: Vec<String>,
}

/// The attraction list of one segment for one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attraction {
    pub chain_id: String,
    pub segment_id: String,
    pub segment_name_zh: String,
    pub region: String,
    pub region_name: String,
    /// The segment's label in the region.
    #[serde(flatten)]
    pub label: GapLabel,
    pub candidates: Vec<Candidate>,
}

/// Where one listing sits: a segment of a chain and the evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    pub chain_id: String,
    pub chain_name_zh: String,
    pub segment_id: String,
    pub segment_name_zh: String,
    pub segment_name_en: String,
    /// True unless the admin placed the listing there explicitly.
    pub inferred: bool,
    pub evidence: Vec<Evidence>,
}

fn region_name(code: &str) -> String {
    Reference::get().region(code).map(|r| r.name.clone()).unwrap_or_else(|| code.to_string())
}

fn probe(segment: &Segment) -> SegmentProbe {
    SegmentProbe {
        industry_codes: segment.industry_codes.clone(),
        phrases: segment.phrases().map(str::to_string).collect(),
        listings: segment.listings.clone(),
    }
}

/// Counts per region of the listings placed on one segment.
fn tally(placed: &[&Placed], regions: &[String], segment_index: usize) -> Vec<KindCounts> {
    let mut counts = vec![KindCounts::default(); regions.len()];
    for listing in placed.iter().filter(|p| p.placements.contains_key(&segment_index)) {
        for (slot, region) in regions.iter().enumerate() {
            if listing.regions.iter().any(|r| r == region) {
                counts[slot].add(listing.kind);
            }
        }
    }
    counts
}

impl App {
    /// Every chain: the shipped ones (replaced by the admin's edits) and chains the admin added.
    pub fn chains(&self) -> AppResult<Vec<ChainRecord>> {
        let mut edits: BTreeMap<String, (Chain, i64)> =
            self.chains.chain_edits()?.into_iter().map(|e| (e.chain.id.clone(), (e.chain, e.version))).collect();
        let mut records = Vec::new();
        for shipped in shipped_chains() {
            match edits.remove(&shipped.id) {
                Some((chain, version)) => records.push(ChainRecord { chain, version }),
                None => records.push(ChainRecord { chain: shipped.clone(), version: 0 }),
            }
        }
        records.extend(edits.into_values().map(|(chain, version)| ChainRecord { chain, version }));
        Ok(records)
    }

    /// One chain by id.
    pub fn chain(&self, id: &str) -> AppResult<ChainRecord> {
        self.chains()?
            .into_iter()
            .find(|r| r.chain.id == id)
            .ok_or_else(|| AppError::NotFound(format!("no industry chain {id:?}")))
    }

    /// Replaces a chain (the admin only), when `expected_version` is the version it was edited
    /// from (0 for the shipped chain or a new one). Segment ids must stay unique across chains.
    pub fn save_chain(&self, actor: &Actor, chain: Chain, expected_version: i64) -> AppResult<ChainRecord> {
        let principal = actor.user()?;
        if !principal.is_admin() {
            return Err(AppError::Forbidden("only the platform admin edits industry chains".into()));
        }
        validate_chain(&chain)?;
        for other in self.chains()?.into_iter().filter(|r| r.chain.id != chain.id) {
            if let Some(clash) = chain.segments.iter().find(|s| other.chain.segment(&s.id).is_some()) {
                return Err(AppError::bad_input(
                    "segments",
                    format!("segment id {:?} is already used by chain {}", clash.id, other.chain.id),
                ));
            }
        }
        let mut entry = actor.audit("chain.edit", format!("chain:{}", chain.id), None);
        entry.detail = serde_json::json!({
            "from_version": expected_version,
            "segments": chain.segments.iter().map(|s| &s.id).collect::<Vec<_>>(),
        });
        let saved = match self.chains.save_chain_edit(&chain, expected_version, actor.stored_user_id(), entry) {
            Ok(saved) => saved,
            Err(StoreError::Stale { actual, .. }) => {
                return Err(AppError::Conflict(format!(
                    "chain {} is at version {actual}, not {expected_version}: reload it and edit again",
                    chain.id
                )));
            }
            Err(other) => return Err(other.into()),
        };
        Ok(ChainRecord { chain: saved.chain, version: saved.version })
    }

    /// The segments listing `id` is placed on, with the evidence (strongest first), by the same
    /// rules the index applies: named in the segment's listings; one of its industry codes or a
    /// code above them is the segment's; a product or technology phrase occurs in its text
    /// (normalized like the index: full-width folded, traditional → simplified, lower case).
    pub fn listing_placements(&self, actor: &Actor, id: ListingId) -> AppResult<Vec<Placement>> {
        let listing = self.read_listing(actor, id)?;
        let reference = Reference::get();
        let codes: std::collections::BTreeSet<String> =
            listing.body.industry_codes.iter().flat_map(|c| reference.industry_ancestry(c)).collect();
        let text = xietong_search::normalize(&format!(
            "{}\n{}\n{}",
            listing.body.title,
            listing.body.keywords.join("\n"),
            listing.body.searchable_text()
        ));
        let mut placements = Vec::new();
        for record in self.chains()? {
            for segment in &record.chain.segments {
                let mut evidence = Vec::new();
                if segment.listings.contains(&id) {
                    evidence.push(Evidence::Explicit);
                }
                for code in segment.industry_codes.iter().filter(|c| codes.contains(c.trim())) {
                    evidence.push(Evidence::IndustryCode { code: code.trim().to_string() });
                }
                for phrase in segment.phrases().filter(|p| text.contains(&xietong_search::normalize(p))) {
                    evidence.push(Evidence::Text { phrase: phrase.to_string() });
                }
                if evidence.is_empty() {
                    continue;
                }
                placements.push(Placement {
                    chain_id: record.chain.id.clone(),
                    chain_name_zh: record.chain.name_zh.clone(),
                    segment_id: segment.id.clone(),
                    segment_name_zh: segment.name_zh.clone(),
                    segment_name_en: segment.name_en.clone(),
                    inferred: evidence.iter().all(Evidence::is_inferred),
                    evidence,
                });
            }
        }
        Ok(placements)
    }

    /// The regions of a view: the three provinces and, when given, one more region code.
    pub fn chain_regions(&self, district: Option<&str>) -> AppResult<Vec<String>> {
        let mut regions: Vec<String> = PROVINCES.iter().map(|p| p.to_string()).collect();
        if let Some(code) = district.map(str::trim).filter(|c| !c.is_empty()) {
            if Reference::get().region(code).is_none() {
                return Err(AppError::bad_input("district", format!("{code} is not a GB/T 2260 code of the region")));
            }
            if !regions.iter().any(|r| r == code) {
                regions.push(code.to_string());
            }
        }
        Ok(regions)
    }

    /// The views of `records` for the actor (counting only listings it may read), in one pass
    /// over the index.
    pub fn chain_views(
        &self,
        actor: &Actor,
        records: &[ChainRecord],
        regions: &[String],
        rules: GapRules,
    ) -> AppResult<Vec<ChainView>> {
        check_rules(&rules)?;
        let probes: Vec<SegmentProbe> = records.iter().flat_map(|r| r.chain.segments.iter().map(probe)).collect();
        let placed = self.index.place_on_segments(&probes, Some(&actor.viewer.read_scope()))?;
        let placed: Vec<&Placed> = placed.iter().collect();
        let mut views = Vec::with_capacity(records.len());
        let mut segment_index = 0;
        for record in records {
            let mut segments = Vec::with_capacity(record.chain.segments.len());
            for segment in &record.chain.segments {
                let counts = tally(&placed, regions, segment_index);
                let on_segment = placed.iter().filter_map(|p| p.placements.get(&segment_index));
                let (mut explicit, mut inferred) = (0, 0);
                for evidence in on_segment {
                    if evidence.iter().any(|e| !e.is_inferred()) {
                        explicit += 1;
                    } else {
                        inferred += 1;
                    }
                }
                let cells = regions
                    .iter()
                    .zip(counts)
                    .map(|(region, counts)| Cell {
                        region: region.clone(),
                        region_name: region_name(region),
                        supply: counts.supply(),
                        demand: counts.demand_total(),
                        label: rules.label(counts.supply(), counts.demand_total()),
                        counts,
                    })
                    .collect();
                segments.push(SegmentView {
                    segment: segment.clone(),
                    placed_explicitly: explicit,
                    placed_by_inference: inferred,
                    cells,
                });
                segment_index += 1;
            }
            views.push(ChainView {
                id: record.chain.id.clone(),
                name_zh: record.chain.name_zh.clone(),
                name_en: record.chain.name_en.clone(),
                sources: record.chain.sources.clone(),
                version: record.version,
                regions: regions.to_vec(),
                rules,
                segments,
            });
        }
        Ok(views)
    }

    /// The view of one chain.
    pub fn chain_view(&self, actor: &Actor, id: &str, district: Option<&str>, rules: GapRules) -> AppResult<ChainView> {
        let record = self.chain(id)?;
        let regions = self.chain_regions(district)?;
        let mut views = self.chain_views(actor, std::slice::from_ref(&record), &regions, rules)?;
        Ok(views.remove(0))
    }

    /// The attraction list (联合招商) of `segment_id` for `region`: enterprises and achievements
    /// placed on the segment, outside the region, present in a province where the segment is
    /// strong; ranked by the strength of their placement, enterprises first, then by id.
    pub fn attraction(
        &self,
        actor: &Actor,
        chain_id: &str,
        segment_id: &str,
        region: &str,
        rules: GapRules,
        limit: usize,
    ) -> AppResult<Attraction> {
        check_rules(&rules)?;
        let record = self.chain(chain_id)?;
        let Some(segment) = record.chain.segment(segment_id).cloned() else {
            return Err(AppError::NotFound(format!("chain {chain_id} has no segment {segment_id:?}")));
        };
        let regions = self.chain_regions(Some(region))?;
        let target = region.trim().to_string();
        let placed = self.index.place_on_segments(&[probe(&segment)], Some(&actor.viewer.read_scope()))?;
        let placed_refs: Vec<&Placed> = placed.iter().collect();
        let counts = tally(&placed_refs, &regions, 0);
        let label_of = |code: &str| {
            let slot = regions.iter().position(|r| r == code)?;
            Some(rules.label(counts[slot].supply(), counts[slot].demand_total()))
        };
        let label = label_of(&target).expect("the target region is among the view's regions");
        let strong_provinces: Vec<&str> =
            PROVINCES.into_iter().filter(|p| label_of(p).is_some_and(|l| l.gap == Gap::Strong)).collect();
        let mut candidates: Vec<Candidate> = Vec::new();
        for listing in &placed {
            if !matches!(listing.kind, Kind::Enterprise | Kind::Achievement) {
                continue;
            }
            if listing.regions.iter().any(|r| r == &target) {
                continue;
            }
            let strong_in: Vec<String> = strong_provinces
                .iter()
                .filter(|p| listing.regions.iter().any(|r| r == *p) && !Reference::get().region_within(&target, p))
                .map(|p| p.to_string())
                .collect();
            if strong_in.is_empty() {
                continue;
            }
            let evidence = listing.placements.get(&0).cloned().unwrap_or_default();
            let best = evidence.iter().map(Evidence::weight).max().unwrap_or(0);
            let kind_bonus = if listing.kind == Kind::Enterprise { 5 } else { 0 };
            let score = best * 10 + evidence.len().min(5) as u32 + kind_bonus;
            let mut reasons_zh = Vec::new();
            let mut reasons_en = Vec::new();
            for province in &strong_in {
                let slot = regions.iter().position(|r| r == province).unwrap_or(0);
                reasons_zh.push(format!(
                    "位于{}，该环节在{}为强链（供给 {}）",
                    region_name(province),
                    region_name(province),
                    counts[slot].supply()
                ));
                reasons_en.push(format!(
                    "in {}, where the segment is strong (supply {})",
                    region_name(province),
                    counts[slot].supply()
                ));
            }
            reasons_zh.extend(evidence.iter().map(Evidence::describe_zh));
            reasons_en.extend(evidence.iter().map(Evidence::describe_en));
            if listing.kind == Kind::Achievement {
                reasons_zh.push(format!("成果可引进{}转化落地", region_name(&target)));
                reasons_en.push(format!("an achievement to bring to {} for commercialisation", region_name(&target)));
            } else {
                reasons_zh.push(format!("可招引至{}设立分支或生产基地", region_name(&target)));
                reasons_en.push(format!("could open a branch or plant in {}", region_name(&target)));
            }
            candidates.push(Candidate {
                id: listing.id,
                kind: listing.kind,
                title: String::new(),
                owner_org: listing.owner_org.clone(),
                strong_in,
                score,
                evidence,
                reasons_zh,
                reasons_en,
            });
        }
        candidates.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        candidates.truncate(limit.min(MAX_ATTRACTION));
        let ids: Vec<ListingId> = candidates.iter().map(|c| c.id).collect();
        let titles: BTreeMap<ListingId, String> =
            self.store.get_many(&ids)?.into_iter().map(|l| (l.id, l.body.title)).collect();
        for candidate in &mut candidates {
            candidate.title = titles.get(&candidate.id).cloned().unwrap_or_default();
        }
        Ok(Attraction {
            chain_id: record.chain.id.clone(),
            segment_id: segment.id.clone(),
            segment_name_zh: segment.name_zh.clone(),
            region_name: region_name(&target),
            region: target,
            label,
            candidates,
        })
    }
}

impl Attraction {
    /// The attraction list as spreadsheet rows (Chinese headers).
    pub fn table(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let list = self;
        let headers = vec![
            "排名",
            "名称",
            "类型",
            "所属机构",
            "强链所在地",
            "得分",
            "推荐理由",
            "编号",
            "目标地区",
            "环节",
            "本地状态",
        ];
        let rows = list
            .candidates
            .iter()
            .enumerate()
            .map(|(index, c)| {
                vec![
                    (index + 1).to_string(),
                    c.title.clone(),
                    c.kind.label_zh().to_string(),
                    c.owner_org.clone().unwrap_or_default(),
                    c.strong_in
                        .iter()
                        .filter_map(|p| xietong_domain::Reference::get().region(p).map(|r| r.name.clone()))
                        .collect::<Vec<_>>()
                        .join("、"),
                    c.score.to_string(),
                    c.reasons_zh.join("；"),
                    c.id.to_string(),
                    list.region_name.clone(),
                    list.segment_name_zh.clone(),
                    format!("{}：{}", list.label.gap.label_zh(), list.label.reason_zh),
                ]
            })
            .collect();
        (headers, rows)
    }
}

fn check_rules(rules: &GapRules) -> AppResult<()> {
    if !(rules.strong_supply_per_demand.is_finite() && (0.0..=1_000.0).contains(&rules.strong_supply_per_demand)) {
        return Err(AppError::bad_input("strong_supply_per_demand", "a number from 0 to 1000"));
    }
    if rules.strong_min_supply == 0 || rules.strong_min_supply > 1_000_000 {
        return Err(AppError::bad_input("strong_min_supply", "a whole number from 1 to 1000000"));
    }
    Ok(())
}
