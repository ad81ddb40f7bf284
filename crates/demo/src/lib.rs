//! Deterministic demo data for xietong: a believable Beijing–Tianjin–Hebei innovation region
//! in five key sectors (安全应急, 航空航天, 人工智能, 医药健康, 智能制造), with 丰台区 (110106)
//! heavily represented.
//!
//! [`generate`] returns the same listings, byte for byte, for the same seed: the random numbers
//! come from a SplitMix64 written in this crate, not from a dependency, and each kind of listing
//! draws from its own stream. Every body passes `xietong_domain::validate`.
//!
//! # Cross-region enterprise figures
//!
//! The enterprises reproduce the Fengtai figures exactly, for every seed:
//!
//! - [`FENGTAI_HQ_WITH_JINJI_BRANCH`] = **455** enterprises have their head office (site role
//!   `hq`) in 丰台区 110106 and at least one `r_and_d` or `manufacturing` site (mostly
//!   manufacturing) in Tianjin or Hebei (Xiong'an included);
//! - [`JINJI_HQ_WITH_FENGTAI_SITE`] = **387** enterprises have their head office in Tianjin or
//!   Hebei and at least one subsidiary site in 丰台区, [`FENGTAI_SITES_OF_JINJI_ENTERPRISES`] =
//!   **415** such sites in total ([`JINJI_HQ_WITH_TWO_FENGTAI_SITES`] = 28 of them have two);
//! - the other 1,158 enterprises sit in Fengtai without Tianjin/Hebei sites (260), in Tianjin or
//!   Hebei without Fengtai sites (470), or elsewhere in Beijing (428), some with branches.
//!
//! # A catalogue, not a template dump (issue 13)
//!
//! - Every listing is about one *topic*, which is its first keyword: a subject and a kind of
//!   result (城市燃气管网 + 泄漏监测预警系统) for most kinds, a field and a technology for talents,
//!   a laboratory or instrument for facilities, the main product for enterprises. Within a
//!   kind no topic heads more than [`MAX_LISTINGS_PER_TOPIC`] = 5 listings, and every title but
//!   an enterprise's name contains its topic's characters in order.
//! - Within a kind no two titles share more than [`MAX_TITLE_SIMILARITY`] = 80% of their
//!   characters in order (longest common subsequence over the longer title). The generator
//!   redraws a title that would break either rule, so both hold for every seed; see
//!   `similarity.rs` for how it finds the few earlier titles worth comparing.
//! - No phrase of [`technology_phrases`] occurs in more than a tenth of all listings; the search
//!   terms of the demo (机器视觉, 无人机, 大模型, …) each occur in several hundred.
//! - About half of the listings carry no discipline, as real user input often does: most
//!   enterprises and scenarios, and a share of every other kind.
//!
//! `cargo run --release -p xietong-demo --example figures [SEED]` prints these figures.

mod compose;
mod demand;
mod enterprise;
mod people;
mod places;
mod rng;
mod similarity;
mod supply;
mod vocab;

use xietong_domain::ListingBody;

use crate::rng::Rng;
pub use crate::similarity::{MAX_LISTINGS_PER_TOPIC, MAX_TITLE_SIMILARITY};

/// The seed used for the first start of the application.
pub const DEFAULT_SEED: u64 = 20_240_501;

/// Enterprises with HQ in Fengtai and an R&D or manufacturing site in Tianjin or Hebei.
pub const FENGTAI_HQ_WITH_JINJI_BRANCH: usize = 455;
/// Enterprises with HQ in Tianjin or Hebei and at least one site in Fengtai.
pub const JINJI_HQ_WITH_FENGTAI_SITE: usize = 387;
/// Of those, the enterprises with two Fengtai sites (387 + 28 = 415 sites).
pub const JINJI_HQ_WITH_TWO_FENGTAI_SITES: usize = 28;
/// Fengtai sites of enterprises headquartered in Tianjin or Hebei.
pub const FENGTAI_SITES_OF_JINJI_ENTERPRISES: usize = JINJI_HQ_WITH_FENGTAI_SITE + JINJI_HQ_WITH_TWO_FENGTAI_SITES;

/// The five key sectors every listing belongs to.
pub const SECTOR_NAMES: [&str; 5] = ["安全应急", "航空航天", "人工智能", "医药健康", "智能制造"];

/// Generated listings.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoData {
    /// All listings in a fixed order: enterprises, talents, achievements, scenarios, facilities,
    /// demands, challenges; each group in generation order.
    pub listings: Vec<ListingBody>,
}

/// How many listings of each kind [`generate`] produces (the same for every seed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoCounts {
    pub enterprises: usize,
    pub talents: usize,
    pub achievements: usize,
    pub scenarios: usize,
    pub facilities: usize,
    pub demands: usize,
    pub challenges: usize,
}

impl DemoCounts {
    /// Sum over all kinds.
    pub fn total(&self) -> usize {
        self.enterprises
            + self.talents
            + self.achievements
            + self.scenarios
            + self.facilities
            + self.demands
            + self.challenges
    }
}

/// The per-kind counts: 2,000 enterprises, 3,000 talents, 3,000 achievements, 500 scenarios,
/// 400 facilities (40 pilot bases, 70 pilot lines), 1,000 demands and 50 challenges.
pub const fn counts() -> DemoCounts {
    DemoCounts {
        enterprises: 2_000,
        talents: 3_000,
        achievements: 3_000,
        scenarios: 500,
        facilities: 400,
        demands: 1_000,
        challenges: 50,
    }
}

/// Number of universities and institutes that own achievements, facilities and talents.
const INSTITUTES: usize = 120;

/// Generates the demo listings for `seed`; deterministic, and fast (a few hundred milliseconds).
pub fn generate(seed: u64) -> DemoData {
    let counts = counts();
    let (mut listings, enterprises) = enterprise::generate(&mut Rng::new(seed, 1));
    let institutes = supply::institutes(&mut Rng::new(seed, 2), INSTITUTES);
    listings.reserve(counts.total() - listings.len());
    listings.extend(supply::talents(&mut Rng::new(seed, 3), counts.talents, &institutes, &enterprises));
    listings.extend(supply::achievements(&mut Rng::new(seed, 4), counts.achievements, &institutes, &enterprises));
    listings.extend(demand::scenarios(&mut Rng::new(seed, 5), counts.scenarios, &enterprises, &institutes));
    listings.extend(supply::facilities(&mut Rng::new(seed, 6), counts.facilities, &institutes, &enterprises));
    listings.extend(demand::demands(&mut Rng::new(seed, 7), counts.demands, &enterprises));
    listings.extend(demand::challenges(&mut Rng::new(seed, 8), counts.challenges, &enterprises));
    DemoData { listings }
}

/// The technology phrases of the demo vocabulary: every sector's technologies and its signature
/// search terms (机器视觉, 大模型, 无人机, …), sorted and without repeats. No one of them occurs
/// in more than a tenth of the listings.
pub fn technology_phrases() -> Vec<&'static str> {
    let mut phrases: Vec<&'static str> = vocab::SECTORS
        .iter()
        .flat_map(|sector| sector.technologies.iter().chain(sector.signature_terms))
        .copied()
        .collect();
    phrases.sort_unstable();
    phrases.dedup();
    phrases
}

#[cfg(test)]
mod tests {
    use xietong_domain::Reference;

    use super::*;

    #[test]
    fn every_region_and_industry_code_in_the_vocabulary_exists() {
        let reference = Reference::get();
        let regions = [places::BEIJING_OTHER, places::TIANJIN, places::HEBEI, places::XIONGAN, &[places::FENGTAI]];
        for code in regions.iter().flat_map(|pool| pool.iter()) {
            assert!(reference.region(code).is_some(), "unknown region {code}");
        }
        for sector in &vocab::SECTORS {
            for code in sector.industry_codes {
                assert!(reference.industry(code).is_some(), "unknown industry {code}");
            }
        }
    }

    #[test]
    fn sector_names_match_the_vocabulary() {
        let names: Vec<&str> = vocab::SECTORS.iter().map(|s| s.name).collect();
        assert_eq!(names, SECTOR_NAMES);
    }
}
