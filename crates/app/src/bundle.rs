//! Three-party bundles (S8, issue 19): for an achievement, triples of the institute's
//! technology + a shared factory or pilot line that can run the process (a facility of type
//! `pilot_line` or `pilot_base` on the same chain segment, with free capacity when it has a
//! calendar) + a manufacturing enterprise on the same segment with a manufacturing site,
//! preferably in the region asked for (Tianjin and Hebei by default: research in Beijing, make
//! there). Each part is explained; a bundle says what is missing.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use xietong_domain::chain::Evidence;
use xietong_domain::{Details, Kind, ListingId, Reference, SiteRole};
use xietong_search::{Placed, SegmentProbe};

use crate::App;
use crate::error::{AppError, AppResult};
use crate::listing::Actor;

/// Most bundles one answer proposes.
pub const MAX_BUNDLES: usize = 9;
/// Facilities and manufacturers considered per bundle side.
const PER_SIDE: usize = 3;

/// One party of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Party {
    pub id: ListingId,
    pub kind: Kind,
    pub title: String,
    pub owner_org: Option<String>,
    /// Region codes of the party (an enterprise's sites included).
    pub regions: Vec<String>,
    pub score: u32,
    pub reasons_zh: Vec<String>,
    pub reasons_en: Vec<String>,
}

/// A proposed triple.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bundle {
    /// The chain segments the three parts share.
    pub segments: Vec<String>,
    pub technology: Party,
    /// The shared factory or pilot line; `None` when none fits.
    pub pilot: Option<Party>,
    /// The manufacturing enterprise; `None` when none fits.
    pub manufacturer: Option<Party>,
    pub score: u32,
    /// What is missing for a complete bundle, in Chinese and English.
    pub missing_zh: Vec<String>,
    pub missing_en: Vec<String>,
}

fn region_names(codes: &[String]) -> String {
    let reference = Reference::get();
    let names: Vec<String> = codes.iter().filter_map(|c| reference.region(c)).map(|r| r.name.clone()).collect();
    names.join("、")
}

impl App {
    /// Bundles for achievement `id`, ranked; `preferred_regions` (GB/T 2260) default to Tianjin
    /// and Hebei.
    pub fn bundles(&self, actor: &Actor, id: ListingId, preferred_regions: &[String]) -> AppResult<Vec<Bundle>> {
        let achievement = self.read_listing(actor, id)?;
        if achievement.kind() != Kind::Achievement {
            return Err(AppError::bad_input("id", "bundles are proposed for achievements"));
        }
        let reference = Reference::get();
        for code in preferred_regions {
            if reference.region(code).is_none() {
                return Err(AppError::bad_input("region", format!("{code} is not a GB/T 2260 code of the region")));
            }
        }
        let preferred: Vec<String> = if preferred_regions.is_empty() {
            vec!["120000".into(), "130000".into()]
        } else {
            preferred_regions.to_vec()
        };
        let records = self.chains()?;
        let segments: Vec<(String, String)> =
            records.iter().flat_map(|r| r.chain.segments.iter().map(|s| (s.id.clone(), s.name_zh.clone()))).collect();
        let probes: Vec<SegmentProbe> = records
            .iter()
            .flat_map(|r| r.chain.segments.iter())
            .map(|s| SegmentProbe {
                industry_codes: s.industry_codes.clone(),
                phrases: s.phrases().map(str::to_string).collect(),
                listings: s.listings.clone(),
            })
            .collect();
        let placed = self.index.place_on_segments(&probes, Some(&actor.viewer.read_scope()))?;
        let Some(own) = placed.iter().find(|p| p.id == id) else { return Ok(Vec::new()) };
        let own_segments: BTreeSet<usize> = own.placements.keys().copied().collect();
        let shared = |other: &Placed| -> Vec<usize> {
            other.placements.keys().filter(|k| own_segments.contains(k)).copied().collect()
        };
        let segment_reasons = |other: &Placed, on: &[usize]| -> (Vec<String>, Vec<String>, u32) {
            let mut zh = Vec::new();
            let mut en = Vec::new();
            let mut best = 0;
            for index in on {
                let evidence: &[Evidence] = other.placements.get(index).map(Vec::as_slice).unwrap_or_default();
                best = best.max(evidence.iter().map(Evidence::weight).max().unwrap_or(0));
                let (segment_id, segment_name) = &segments[*index];
                let why_zh: Vec<String> = evidence.iter().map(Evidence::describe_zh).collect();
                let why_en: Vec<String> = evidence.iter().map(Evidence::describe_en).collect();
                zh.push(format!("同属产业链环节“{segment_name}”（{}）", why_zh.join("；")));
                en.push(format!("on the same chain segment {segment_id} ({})", why_en.join("; ")));
            }
            (zh, en, best * 10 + on.len() as u32)
        };
        // Pilot lines and pilot bases on a shared segment.
        let mut pilots: Vec<(Party, Vec<usize>)> = Vec::new();
        for other in placed.iter().filter(|p| p.kind == Kind::Facility) {
            if !matches!(other.facility_type.as_deref(), Some("pilot_line" | "pilot_base")) {
                continue;
            }
            let on = shared(other);
            if on.is_empty() {
                continue;
            }
            let (mut zh, mut en, mut score) = segment_reasons(other, &on);
            zh.push("中试线/中试基地，可承接工艺放大".into());
            en.push("a pilot line or pilot base that can scale the process".into());
            match self.free_window(other.id)? {
                Some(window) if window.next_free.is_some() => {
                    score += 5;
                    zh.push("未来90天内有空闲产能".into());
                    en.push("has free capacity in the next 90 days".into());
                }
                Some(_) => {
                    score = score.saturating_sub(5);
                    zh.push("未来90天已约满".into());
                    en.push("fully booked for the next 90 days".into());
                }
                None => {}
            }
            pilots.push((party(other, score, zh, en), on));
        }
        // Manufacturing enterprises on a shared segment: read from the store for their sites.
        let mut makers: Vec<(Party, Vec<usize>)> = Vec::new();
        let enterprise_ids: Vec<ListingId> =
            placed.iter().filter(|p| p.kind == Kind::Enterprise && !shared(p).is_empty()).map(|p| p.id).collect();
        let enterprises: BTreeMap<ListingId, xietong_domain::Listing> =
            self.store.get_many(&enterprise_ids)?.into_iter().map(|l| (l.id, l)).collect();
        for other in placed.iter().filter(|p| enterprise_ids.contains(&p.id)) {
            let Some(Details::Enterprise(details)) = enterprises.get(&other.id).map(|l| &l.body.details) else {
                continue;
            };
            let plants: Vec<String> = details
                .sites
                .iter()
                .filter(|s| s.role == SiteRole::Manufacturing)
                .map(|s| s.region_code.clone())
                .collect();
            if plants.is_empty() {
                continue;
            }
            let on = shared(other);
            let (mut zh, mut en, mut score) = segment_reasons(other, &on);
            zh.push(format!("在{}有制造基地", region_names(&plants)));
            en.push(format!("has manufacturing sites in {}", region_names(&plants)));
            let in_preferred: Vec<String> =
                plants.iter().filter(|p| preferred.iter().any(|r| reference.region_within(p, r))).cloned().collect();
            if !in_preferred.is_empty() {
                score += 10;
                zh.push(format!("制造基地位于优先地区（{}）", region_names(&preferred)));
                en.push(format!("manufactures in a preferred region ({})", region_names(&preferred)));
            }
            makers.push((party(other, score, zh, en), on));
        }
        let by_score =
            |a: &(Party, Vec<usize>), b: &(Party, Vec<usize>)| b.0.score.cmp(&a.0.score).then(a.0.id.cmp(&b.0.id));
        pilots.sort_by(by_score);
        makers.sort_by(by_score);
        pilots.truncate(PER_SIDE);
        makers.truncate(PER_SIDE);
        let technology = {
            let (mut zh, mut en, score) = segment_reasons(own, &own_segments.iter().copied().collect::<Vec<_>>());
            zh.insert(0, "科研院所出技术".into());
            en.insert(0, "the institute brings the technology".into());
            let mut part = party(own, score, zh, en);
            part.title = achievement.body.title.clone();
            part
        };
        let pilot_options: Vec<Option<&(Party, Vec<usize>)>> =
            if pilots.is_empty() { vec![None] } else { pilots.iter().map(Some).collect() };
        let maker_options: Vec<Option<&(Party, Vec<usize>)>> =
            if makers.is_empty() { vec![None] } else { makers.iter().map(Some).collect() };
        let mut bundles = Vec::new();
        for pilot in &pilot_options {
            for maker in &maker_options {
                let mut on: BTreeSet<usize> = own_segments.clone();
                for side in [pilot, maker].into_iter().flatten() {
                    on = on.intersection(&side.1.iter().copied().collect()).copied().collect();
                }
                if on.is_empty() {
                    continue;
                }
                let mut missing_zh = Vec::new();
                let mut missing_en = Vec::new();
                if pilot.is_none() {
                    missing_zh.push("缺少同环节的中试线或中试基地（共享工厂出方案）".into());
                    missing_en.push("no pilot line or pilot base on the segment".into());
                }
                if maker.is_none() {
                    missing_zh.push("缺少同环节有制造基地的企业（制造基地出产能）".into());
                    missing_en.push("no enterprise with a plant on the segment".into());
                }
                let score = technology.score + pilot.map_or(0, |p| p.0.score) + maker.map_or(0, |m| m.0.score);
                bundles.push(Bundle {
                    segments: on.iter().map(|i| segments[*i].0.clone()).collect(),
                    technology: technology.clone(),
                    pilot: pilot.map(|p| p.0.clone()),
                    manufacturer: maker.map(|m| m.0.clone()),
                    score,
                    missing_zh,
                    missing_en,
                });
            }
        }
        bundles.sort_by_key(|b| std::cmp::Reverse(b.score));
        bundles.truncate(MAX_BUNDLES);
        // Titles of the facilities and manufacturers, read once.
        let ids: Vec<ListingId> = bundles
            .iter()
            .flat_map(|b| [b.pilot.as_ref().map(|p| p.id), b.manufacturer.as_ref().map(|m| m.id)])
            .flatten()
            .collect();
        let titles: BTreeMap<ListingId, String> =
            self.store.get_many(&ids)?.into_iter().map(|l| (l.id, l.body.title)).collect();
        for bundle in &mut bundles {
            for part in [bundle.pilot.as_mut(), bundle.manufacturer.as_mut()].into_iter().flatten() {
                part.title = titles.get(&part.id).cloned().unwrap_or_default();
            }
        }
        Ok(bundles)
    }
}

fn party(placed: &Placed, score: u32, reasons_zh: Vec<String>, reasons_en: Vec<String>) -> Party {
    let provinces_and_below: Vec<String> = placed.regions.clone();
    Party {
        id: placed.id,
        kind: placed.kind,
        title: String::new(),
        owner_org: placed.owner_org.clone(),
        regions: provinces_and_below,
        score,
        reasons_zh,
        reasons_en,
    }
}
