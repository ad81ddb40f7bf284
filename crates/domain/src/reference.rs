//! Reference tables compiled into the binary: regions (GB/T 2260), industries (GB/T 4754-2017)
//! and technology readiness levels. Sources are cited in `data/SOURCES.md`.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

const REGIONS_CSV: &str = include_str!("../data/regions.csv");
const INDUSTRIES_CSV: &str = include_str!("../data/industries_gbt4754.csv");
const TRL_CSV: &str = include_str!("../data/trl.csv");
/// Province and prefecture boundaries of Beijing–Tianjin–Hebei (GeoJSON, lon/lat).
pub const JJJ_GEOJSON: &str = include_str!("../data/jjj.geojson");

/// Administrative level of a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    Province,
    Prefecture,
    County,
    NewArea,
}

/// One administrative division.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Region {
    pub code: String,
    pub name: String,
    pub level: RegionLevel,
    pub parent_code: Option<String>,
    /// Second parent for Xiong'an's counties (133100), which legally remain under 保定.
    pub alt_parent_code: Option<String>,
    pub lat: f64,
    pub lng: f64,
}

/// Level in GB/T 4754-2017.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndustryLevel {
    Section,
    Division,
    Group,
    Class,
}

/// One industry code of GB/T 4754-2017.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Industry {
    pub code: String,
    pub name_zh: String,
    pub name_en: Option<String>,
    pub level: IndustryLevel,
    pub parent_code: Option<String>,
}

/// One technology readiness level.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrlLevel {
    pub level: u8,
    pub name_zh: String,
    pub name_en: String,
    pub definition_zh: String,
    pub definition_en: String,
}

/// All reference tables, loaded once.
#[derive(Debug)]
pub struct Reference {
    regions: Vec<Region>,
    region_index: HashMap<String, usize>,
    industries: Vec<Industry>,
    industry_index: HashMap<String, usize>,
    trl: Vec<TrlLevel>,
}

fn opt(value: &str) -> Option<String> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

impl Reference {
    /// The process-wide reference tables.
    pub fn get() -> &'static Reference {
        static REFERENCE: OnceLock<Reference> = OnceLock::new();
        REFERENCE.get_or_init(Reference::load)
    }

    fn load() -> Reference {
        let mut regions = Vec::new();
        let mut reader = csv::Reader::from_reader(REGIONS_CSV.as_bytes());
        for record in reader.records() {
            let record = record.expect("embedded regions.csv is valid");
            let level = match &record[2] {
                "province" => RegionLevel::Province,
                "prefecture" => RegionLevel::Prefecture,
                "new_area" => RegionLevel::NewArea,
                _ => RegionLevel::County,
            };
            regions.push(Region {
                code: record[0].to_string(),
                name: record[1].to_string(),
                level,
                parent_code: opt(&record[3]),
                lat: record[4].parse().unwrap_or(0.0),
                lng: record[5].parse().unwrap_or(0.0),
                alt_parent_code: opt(&record[6]),
            });
        }
        let mut industries = Vec::new();
        let mut reader = csv::Reader::from_reader(INDUSTRIES_CSV.as_bytes());
        for record in reader.records() {
            let record = record.expect("embedded industries csv is valid");
            let level = match &record[3] {
                "section" => IndustryLevel::Section,
                "division" => IndustryLevel::Division,
                "group" => IndustryLevel::Group,
                _ => IndustryLevel::Class,
            };
            industries.push(Industry {
                code: record[0].to_string(),
                name_zh: record[1].to_string(),
                name_en: opt(&record[2]),
                level,
                parent_code: opt(&record[4]),
            });
        }
        let mut trl = Vec::new();
        let mut reader = csv::Reader::from_reader(TRL_CSV.as_bytes());
        for record in reader.records() {
            let record = record.expect("embedded trl.csv is valid");
            trl.push(TrlLevel {
                level: record[0].parse().expect("trl level is a number"),
                name_zh: record[1].to_string(),
                name_en: record[2].to_string(),
                definition_zh: record[3].to_string(),
                definition_en: record[4].to_string(),
            });
        }
        let region_index = regions.iter().enumerate().map(|(i, r)| (r.code.clone(), i)).collect();
        let industry_index = industries.iter().enumerate().map(|(i, r)| (r.code.clone(), i)).collect();
        Reference { regions, region_index, industries, industry_index, trl }
    }

    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    pub fn region(&self, code: &str) -> Option<&Region> {
        self.region_index.get(code).map(|i| &self.regions[*i])
    }

    /// Finds a region by code, full name (北京市丰台区, 河北省保定市) or short name (丰台区, 丰台).
    pub fn resolve_region(&self, text: &str) -> Option<&Region> {
        let text = text.trim();
        if let Some(region) = self.region(text) {
            return Some(region);
        }
        if let Some(region) = self.regions.iter().find(|r| r.name == text) {
            return Some(region);
        }
        // Full names: a province or prefecture name followed by the unit's own name.
        let mut best: Option<&Region> = None;
        for region in &self.regions {
            let chain = self.region_chain(&region.code);
            let full: String = chain.iter().rev().map(|r| r.name.as_str()).collect();
            if full == text {
                return Some(region);
            }
            if text.len() >= 6 && (region.name.starts_with(text) || full.ends_with(text)) && best.is_none() {
                best = Some(region);
            }
        }
        best
    }

    /// The region and its ancestors, nearest first (丰台区, 北京市).
    pub fn region_chain(&self, code: &str) -> Vec<&Region> {
        let mut chain = Vec::new();
        let mut current = self.region(code);
        while let Some(region) = current {
            chain.push(region);
            current = region.parent_code.as_deref().and_then(|p| self.region(p));
        }
        chain
    }

    /// The code itself plus every ancestor, including Xiong'an (133100) for its counties.
    /// Storing these lets "Hebei" match a county with a plain equality test.
    pub fn region_ancestry(&self, code: &str) -> Vec<String> {
        let mut codes: Vec<String> = self.region_chain(code).iter().map(|r| r.code.clone()).collect();
        if let Some(alt) = self.region(code).and_then(|r| r.alt_parent_code.clone()) {
            codes.push(alt);
        }
        codes
    }

    /// The province (110000, 120000, 130000) a region belongs to.
    pub fn province_of(&self, code: &str) -> Option<&Region> {
        self.region_chain(code).into_iter().last()
    }

    /// True when `code` equals `ancestor` or lies inside it.
    pub fn region_within(&self, code: &str, ancestor: &str) -> bool {
        self.region_ancestry(code).iter().any(|c| c == ancestor)
    }

    pub fn industries(&self) -> &[Industry] {
        &self.industries
    }

    pub fn industry(&self, code: &str) -> Option<&Industry> {
        self.industry_index.get(code).map(|i| &self.industries[*i])
    }

    /// Finds an industry by code or exact Chinese name.
    pub fn resolve_industry(&self, text: &str) -> Option<&Industry> {
        let text = text.trim();
        self.industry(text)
            .or_else(|| self.industry(&text.to_ascii_uppercase()))
            .or_else(|| self.industries.iter().find(|i| i.name_zh == text))
    }

    /// The code and all its ancestors (3741, 374, 37, C).
    pub fn industry_ancestry(&self, code: &str) -> Vec<String> {
        let mut codes = Vec::new();
        let mut current = self.industry(code);
        while let Some(industry) = current {
            codes.push(industry.code.clone());
            current = industry.parent_code.as_deref().and_then(|p| self.industry(p));
        }
        codes
    }

    /// The section letter (A–T) of an industry code.
    pub fn industry_section(&self, code: &str) -> Option<&Industry> {
        let ancestry = self.industry_ancestry(code);
        ancestry.last().and_then(|c| self.industry(c))
    }

    pub fn trl_levels(&self) -> &[TrlLevel] {
        &self.trl
    }

    pub fn trl(&self, level: u8) -> Option<&TrlLevel> {
        self.trl.iter().find(|t| t.level == level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_the_sources() {
        let reference = Reference::get();
        assert_eq!(reference.regions().len(), 214);
        assert_eq!(reference.industries().len(), 1971);
        assert_eq!(reference.trl_levels().len(), 9);
    }

    #[test]
    fn hierarchy_includes_counties_and_xiongan() {
        let reference = Reference::get();
        assert!(reference.region_within("110106", "110000"));
        assert!(reference.region_within("130629", "130600"));
        assert!(reference.region_within("130629", "130000"));
        assert!(reference.region_within("130629", "133100"));
        assert!(!reference.region_within("110106", "130000"));
        assert_eq!(reference.province_of("130638").unwrap().code, "130000");
    }

    #[test]
    fn resolves_names() {
        let reference = Reference::get();
        assert_eq!(reference.resolve_region("丰台区").unwrap().code, "110106");
        assert_eq!(reference.resolve_region("北京市丰台区").unwrap().code, "110106");
        assert_eq!(reference.resolve_region("雄安新区").unwrap().code, "133100");
        assert_eq!(reference.resolve_industry("C").unwrap().level, IndustryLevel::Section);
        assert_eq!(reference.industry_ancestry("3741"), vec!["3741", "374", "37", "C"]);
    }
}
