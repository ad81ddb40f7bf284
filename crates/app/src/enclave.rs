//! Enclaves (飞地, issue 19): the recorded ones (科创飞地 in Beijing, 制造飞地 and 场景应用飞地 in
//! Tianjin and Hebei), and the pairs derived from every multi-site enterprise — R&D here, making
//! or applying there — by sector (its industry chain) and region pair, with the cross-region
//! figures of the dashboard (the seed's 455 / 387 / 415 from the demo).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use xietong_domain::enclave::{EnclaveBody, EnclaveKind, validate_enclave};
use xietong_domain::{Details, Kind, ListingId, Reference, Role, SiteRole};
use xietong_search::SegmentProbe;
use xietong_store::Enclave;

use crate::App;
use crate::chain::PROVINCES;
use crate::error::{AppError, AppResult};
use crate::listing::Actor;
use crate::stats::{FengtaiFigures, scoped_figures};

/// Enterprises of one kind of enclave, one sector and one region pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnclaveFlow {
    pub kind: EnclaveKind,
    /// The chain's id, or `other` for an enterprise on no chain.
    pub sector: String,
    pub sector_name_zh: String,
    /// Province codes.
    pub home: String,
    pub home_name: String,
    pub host: String,
    pub host_name: String,
    pub enterprises: u64,
    /// Of them, enterprises in a recorded enclave of this kind and pair.
    pub in_recorded_enclaves: u64,
}

/// The enclave figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnclaveStats {
    pub recorded: Vec<Enclave>,
    /// Derived pairs and recorded memberships, by kind, sector and region pair.
    pub flows: Vec<EnclaveFlow>,
    /// Enterprises per kind of enclave (each counted once per kind).
    pub totals: BTreeMap<EnclaveKind, u64>,
    /// The Fengtai figures of the cross-region layout (455 / 387 / 415 on the demo).
    pub fengtai: FengtaiFigures,
}

fn province(code: &str) -> Option<String> {
    Reference::get().province_of(code).map(|p| p.code.clone())
}

fn name(code: &str) -> String {
    Reference::get().region(code).map(|r| r.name.clone()).unwrap_or_else(|| code.to_string())
}

/// The enclave pairs of one enterprise: (kind, home province, host province).
pub fn derived_pairs(sites: &[xietong_domain::Site]) -> BTreeSet<(EnclaveKind, String, String)> {
    let mut pairs = BTreeSet::new();
    let beijing = PROVINCES[0];
    let research: Vec<String> = sites
        .iter()
        .filter(|s| matches!(s.role, SiteRole::Hq | SiteRole::RAndD))
        .filter_map(|s| province(&s.region_code))
        .collect();
    let head_offices: Vec<String> =
        sites.iter().filter(|s| s.role == SiteRole::Hq).filter_map(|s| province(&s.region_code)).collect();
    for site in sites {
        let Some(site_province) = province(&site.region_code) else { continue };
        match site.role {
            // A Tianjin or Hebei firm researching in Beijing: a science enclave (科创飞地).
            SiteRole::RAndD if site_province == beijing => {
                for home in head_offices.iter().filter(|h| *h != beijing) {
                    pairs.insert((EnclaveKind::Science, home.clone(), beijing.to_string()));
                }
            }
            // R&D here, making or applying there: a manufacturing or scenario enclave.
            SiteRole::Manufacturing | SiteRole::Scenario if site_province != beijing => {
                let kind = if site.role == SiteRole::Manufacturing {
                    EnclaveKind::Manufacturing
                } else {
                    EnclaveKind::Scenario
                };
                for home in research.iter().filter(|h| **h != site_province) {
                    pairs.insert((kind, home.clone(), site_province.clone()));
                }
            }
            _ => {}
        }
    }
    pairs
}

impl App {
    /// Records an enclave: the platform admin, or the operator of its home or host region.
    /// Every enterprise named must be an enterprise listing.
    pub fn create_enclave(&self, actor: &Actor, body: EnclaveBody) -> AppResult<Enclave> {
        let principal = actor.user()?;
        let reference = Reference::get();
        let operates = principal.role == Role::RegionOperator
            && principal.region.as_deref().is_some_and(|r| {
                reference.region_within(&body.home_region, r) || reference.region_within(&body.host_region, r)
            });
        if !principal.is_admin() && !operates {
            return Err(AppError::Forbidden(
                "only the admin or an operator of the home or host region records enclaves".into(),
            ));
        }
        validate_enclave(&body)?;
        let mut ids = body.enterprises.clone();
        ids.sort();
        ids.dedup();
        let found = self.store.get_many(&ids)?;
        if let Some(missing) = ids.iter().find(|id| !found.iter().any(|l| l.id == **id && l.kind() == Kind::Enterprise))
        {
            return Err(AppError::bad_input("enterprises", format!("{missing} is not an enterprise listing")));
        }
        let body = EnclaveBody { enterprises: ids, ..body };
        let region = Some(body.host_region.clone());
        Ok(self.chains.create_enclave(&body, actor.stored_user_id(), &|enclave| {
            let mut entry = actor.audit("enclave.create", format!("enclave:{}", enclave.id), region.clone());
            entry.detail = serde_json::json!({"kind": enclave.body.kind.as_str(), "name": enclave.body.name,
                "home_region": enclave.body.home_region, "enterprises": enclave.body.enterprises.len()});
            entry
        })?)
    }

    /// The enclave figures over the enterprises the actor may read.
    pub fn enclave_stats(&self, actor: &Actor) -> AppResult<EnclaveStats> {
        let scope = actor.viewer.read_scope();
        // Sector of each enterprise: the first chain with a segment it is placed on.
        let records = self.chains()?;
        let mut probes = Vec::new();
        let mut probe_chain = Vec::new();
        for record in &records {
            for segment in &record.chain.segments {
                probes.push(SegmentProbe {
                    industry_codes: segment.industry_codes.clone(),
                    phrases: segment.phrases().map(str::to_string).collect(),
                    listings: segment.listings.clone(),
                });
                probe_chain.push(record.chain.id.clone());
            }
        }
        let mut sector_of: HashMap<ListingId, String> = HashMap::new();
        for placed in self.index.place_on_segments(&probes, Some(&scope))? {
            if placed.kind != Kind::Enterprise {
                continue;
            }
            if let Some(first) = placed.placements.keys().next() {
                sector_of.insert(placed.id, probe_chain[*first].clone());
            }
        }
        let mut recorded = self.chains.enclaves()?;
        let mut membership: HashMap<ListingId, Vec<(EnclaveKind, String, String)>> = HashMap::new();
        for enclave in &recorded {
            let (Some(home), Some(host)) = (province(&enclave.body.home_region), province(&enclave.body.host_region))
            else {
                continue;
            };
            for id in &enclave.body.enterprises {
                membership.entry(*id).or_default().push((enclave.body.kind, home.clone(), host.clone()));
            }
        }
        let mut grouped: BTreeMap<(EnclaveKind, String, String, String), (u64, u64)> = BTreeMap::new();
        let mut per_kind: BTreeMap<EnclaveKind, BTreeSet<ListingId>> = BTreeMap::new();
        let mut readable: BTreeSet<ListingId> = BTreeSet::new();
        self.scan_published(&scope, |listing| {
            let Details::Enterprise(enterprise) = &listing.body.details else { return };
            readable.insert(listing.id);
            let mut pairs = derived_pairs(&enterprise.sites);
            let recorded_pairs = membership.get(&listing.id).cloned().unwrap_or_default();
            pairs.extend(recorded_pairs.iter().cloned());
            let sector = sector_of.get(&listing.id).cloned().unwrap_or_else(|| "other".into());
            for (kind, home, host) in pairs {
                let in_recorded = recorded_pairs.contains(&(kind, home.clone(), host.clone()));
                let entry = grouped.entry((kind, sector.clone(), home, host)).or_default();
                entry.0 += 1;
                entry.1 += u64::from(in_recorded);
                per_kind.entry(kind).or_default().insert(listing.id);
            }
        })?;
        // A recorded enclave names only the enterprises the reader may read.
        for enclave in &mut recorded {
            enclave.body.enterprises.retain(|id| readable.contains(id));
        }
        let sector_name = |id: &str| {
            records.iter().find(|r| r.chain.id == id).map(|r| r.chain.name_zh.clone()).unwrap_or_else(|| "其他".into())
        };
        let flows = grouped
            .into_iter()
            .map(|((kind, sector, home, host), (enterprises, in_recorded))| EnclaveFlow {
                kind,
                sector_name_zh: sector_name(&sector),
                sector,
                home_name: name(&home),
                host_name: name(&host),
                home,
                host,
                enterprises,
                in_recorded_enclaves: in_recorded,
            })
            .collect();
        let totals = per_kind.into_iter().map(|(kind, ids)| (kind, ids.len() as u64)).collect();
        let fengtai = scoped_figures(self, &scope)?.fengtai;
        Ok(EnclaveStats { recorded, flows, totals, fengtai })
    }
}

#[cfg(test)]
mod tests {
    use xietong_domain::Site;

    use super::*;

    fn site(region: &str, role: SiteRole) -> Site {
        Site { region_code: region.into(), role, address: None }
    }

    #[test]
    fn pairs_follow_research_here_make_there() {
        let beijing_firm = [site("110108", SiteRole::Hq), site("130602", SiteRole::Manufacturing)];
        assert_eq!(
            derived_pairs(&beijing_firm).into_iter().collect::<Vec<_>>(),
            [(EnclaveKind::Manufacturing, "110000".to_string(), "130000".to_string())]
        );
        let hebei_firm = [site("130602", SiteRole::Hq), site("110106", SiteRole::RAndD)];
        assert_eq!(
            derived_pairs(&hebei_firm).into_iter().collect::<Vec<_>>(),
            [(EnclaveKind::Science, "130000".to_string(), "110000".to_string())]
        );
        let scenario = [site("110106", SiteRole::RAndD), site("120116", SiteRole::Scenario)];
        assert_eq!(
            derived_pairs(&scenario).into_iter().collect::<Vec<_>>(),
            [(EnclaveKind::Scenario, "110000".to_string(), "120000".to_string())]
        );
        let single_province = [site("110108", SiteRole::Hq), site("110106", SiteRole::Manufacturing)];
        assert!(derived_pairs(&single_province).is_empty());
    }
}
