//! The conversion funnel (转化漏斗): from matches viewed to deals proposed, accepted, signed and
//! converted, grouped by sector, region pair or month. Like every dashboard figure it counts
//! only what a [`ReadScope`] may read: impressions and deals of published listings the scope
//! allows.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use xietong_domain::deal::DealState;
use xietong_domain::{Listing, ListingId, ReadScope, Reference, Status};
use xietong_store::{Deal, DealFilter};

use crate::App;
use crate::error::AppResult;
use crate::feedback::china_day;

/// How funnel rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunnelBy {
    /// The GB/T 4754 section (门类) of the listing's first industry.
    Sector,
    /// Asker's province → owner's province, e.g. 北京→河北.
    RegionPair,
    /// The month (China time) of the deal's proposal or of the impression.
    Month,
}

impl std::str::FromStr for FunnelBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "sector" => Ok(FunnelBy::Sector),
            "region_pair" => Ok(FunnelBy::RegionPair),
            "month" => Ok(FunnelBy::Month),
            other => Err(format!("unknown grouping {other:?}; use sector, region_pair or month")),
        }
    }
}

/// One row of the funnel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FunnelRow {
    /// Section letter, `110000→130000`, or `2027-03`; `none`/`unknown` parts when not known.
    pub key: String,
    /// Section name, `北京→河北`, or the month.
    pub label: String,
    /// Appearances of the group's listings in match results.
    pub matches_viewed: u64,
    /// Deals proposed.
    pub proposed: u64,
    /// Deals that reached accepted or later (meeting, signed, converted), whatever came after.
    pub accepted: u64,
    /// Deals that reached signed or later.
    pub signed: u64,
    /// Deals converted.
    pub converted: u64,
}

impl FunnelRow {
    fn add(&mut self, other: &FunnelRow) {
        self.matches_viewed += other.matches_viewed;
        self.proposed += other.proposed;
        self.accepted += other.accepted;
        self.signed += other.signed;
        self.converted += other.converted;
    }
}

/// The funnel: its rows by key and their sum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Funnel {
    pub rows: Vec<FunnelRow>,
    pub total: FunnelRow,
}

/// Whether the deal ever reached `state` or a later one on the way to conversion.
pub fn reached(deal: &Deal, state: DealState) -> bool {
    let rank = |s: DealState| match s {
        DealState::Accepted | DealState::Meeting => 1,
        DealState::Signed => 2,
        DealState::Converted => 3,
        DealState::Proposed | DealState::Declined | DealState::Closed => 0,
    };
    let wanted = rank(state);
    rank(deal.state) >= wanted || deal.timeline.iter().any(|step| rank(step.state) >= wanted)
}

/// A province's short name: 北京, 天津, 河北.
fn province_short(code: &str) -> String {
    let name = Reference::get().region(code).map(|r| r.name.as_str()).unwrap_or(code);
    name.trim_end_matches('市').trim_end_matches('省').to_string()
}

fn province_of(code: &str) -> Option<String> {
    Reference::get().province_of(code).map(|p| p.code.clone())
}

impl App {
    /// The funnel over what `scope` may read, grouped `by`.
    pub fn funnel(&self, scope: &ReadScope, by: FunnelBy) -> AppResult<Funnel> {
        self.flush_impressions()?;
        let deals = self.deals.deals(&DealFilter::default(), u32::MAX)?;
        let impressions = self.feedback.impressions(None, None)?;
        // Only the listings named by deals and impressions are read, not the whole catalogue.
        let mut ids: Vec<ListingId> = deals
            .iter()
            .flat_map(|d| [Some(d.listing_id), d.from_listing_id])
            .flatten()
            .chain(impressions.iter().map(|i| i.listing_id))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        ids.sort();
        let listings: HashMap<ListingId, Listing> = self.store.get_many(&ids)?.into_iter().map(|l| (l.id, l)).collect();
        let counted =
            |id: &ListingId| listings.get(id).filter(|l| l.body.status == Status::Published && scope.allows(&l.body));
        let mut org_provinces: HashMap<String, Option<String>> = HashMap::new();
        let mut org_province = |name: &str| -> AppResult<Option<String>> {
            if let Some(known) = org_provinces.get(name) {
                return Ok(known.clone());
            }
            let found = self.accounts.org_by_name(name)?.and_then(|org| province_of(&org.region_code));
            org_provinces.insert(name.to_string(), found.clone());
            Ok(found)
        };
        let listing_province = |listing: &Listing| listing.body.region_codes.first().and_then(|c| province_of(c));
        let mut rows: BTreeMap<String, FunnelRow> = BTreeMap::new();
        for deal in &deals {
            let Some(listing) = counted(&deal.listing_id) else { continue };
            let (key, label) = match by {
                FunnelBy::Sector => sector(listing),
                FunnelBy::Month => month(china_day(deal.created_at)),
                FunnelBy::RegionPair => {
                    let owner = org_province(&deal.owner_org)?.or_else(|| listing_province(listing));
                    let asker = match org_province(&deal.asker_org)? {
                        Some(province) => Some(province),
                        None => deal.from_listing_id.and_then(|id| listings.get(&id)).and_then(listing_province),
                    };
                    pair(asker.as_deref(), owner.as_deref())
                }
            };
            let row = rows.entry(key.clone()).or_insert_with(|| FunnelRow { key, label, ..FunnelRow::default() });
            row.proposed += 1;
            row.accepted += u64::from(reached(deal, DealState::Accepted));
            row.signed += u64::from(reached(deal, DealState::Signed));
            row.converted += u64::from(deal.state == DealState::Converted);
        }
        for impression in &impressions {
            let Some(listing) = counted(&impression.listing_id) else { continue };
            let (key, label) = match by {
                FunnelBy::Sector => sector(listing),
                FunnelBy::Month => month(impression.day),
                FunnelBy::RegionPair => {
                    let owner = match &listing.body.owner_org {
                        Some(org) => org_province(org)?,
                        None => None,
                    }
                    .or_else(|| listing_province(listing));
                    let viewer = Some(impression.viewer_province.as_str()).filter(|p| !p.is_empty());
                    pair(viewer, owner.as_deref())
                }
            };
            let row = rows.entry(key.clone()).or_insert_with(|| FunnelRow { key, label, ..FunnelRow::default() });
            row.matches_viewed += impression.count;
        }
        let rows: Vec<FunnelRow> = rows.into_values().collect();
        let mut total = FunnelRow { key: "total".into(), label: "合计".into(), ..FunnelRow::default() };
        for row in &rows {
            total.add(row);
        }
        Ok(Funnel { rows, total })
    }
}

fn sector(listing: &Listing) -> (String, String) {
    let reference = Reference::get();
    match listing.body.industry_codes.first().and_then(|code| reference.industry_section(code)) {
        Some(section) => (section.code.clone(), section.name_zh.clone()),
        None => ("none".into(), "未分类".into()),
    }
}

fn month(day: time::Date) -> (String, String) {
    let key = format!("{:04}-{:02}", day.year(), u8::from(day.month()));
    (key.clone(), key)
}

fn pair(from: Option<&str>, to: Option<&str>) -> (String, String) {
    let key = format!("{}→{}", from.unwrap_or("unknown"), to.unwrap_or("unknown"));
    let label = format!(
        "{}→{}",
        from.map(province_short).unwrap_or_else(|| "未知".into()),
        to.map(province_short).unwrap_or_else(|| "未知".into())
    );
    (key, label)
}
