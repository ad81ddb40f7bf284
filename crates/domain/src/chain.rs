//! Industry chains (产业链) of the five priority sectors, and the gap rules (补链强链, 建链).
//!
//! A chain is reference data shipped in `data/chains/` with its sources; the admin may replace a
//! chain (the store keeps the edited version, which wins over the shipped one). Each segment
//! (环节) has a stage (upstream / midstream / downstream), GB/T 4754-2017 codes, key products
//! and key technologies as phrases, and listings placed on it explicitly.
//!
//! A listing is placed on a segment explicitly (named in `listings`), or inferred from its
//! industry codes (one of the segment's codes or a code below it) or from its text (a product or
//! technology phrase occurs verbatim); inferred placements carry their evidence.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::{Kind, ListingId, Reference, ValidationErrors};

const SHIPPED: [&str; 5] = [
    include_str!("../data/chains/safety.json"),
    include_str!("../data/chains/aerospace.json"),
    include_str!("../data/chains/ai.json"),
    include_str!("../data/chains/medicine.json"),
    include_str!("../data/chains/manufacturing.json"),
];

/// Position of a segment in its chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Upstream,
    Midstream,
    Downstream,
}

impl Stage {
    pub const ALL: [Stage; 3] = [Stage::Upstream, Stage::Midstream, Stage::Downstream];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Upstream => "upstream",
            Stage::Midstream => "midstream",
            Stage::Downstream => "downstream",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Stage::Upstream => "上游",
            Stage::Midstream => "中游",
            Stage::Downstream => "下游",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Stage::Upstream => "Upstream",
            Stage::Midstream => "Midstream",
            Stage::Downstream => "Downstream",
        }
    }
}

/// One segment (环节) of a chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Unique across all chains, e.g. `safety-uav`.
    pub id: String,
    pub stage: Stage,
    pub name_zh: String,
    pub name_en: String,
    /// GB/T 4754-2017 codes (division, group or class); a listing with one of them or a code
    /// below is placed here (inferred).
    pub industry_codes: Vec<String>,
    /// Key products, as phrases found verbatim in a listing's text.
    #[serde(default)]
    pub products: Vec<String>,
    /// Key technologies, as phrases found verbatim in a listing's text.
    #[serde(default)]
    pub technologies: Vec<String>,
    /// Listings placed here explicitly (by the admin).
    #[serde(default)]
    pub listings: Vec<ListingId>,
}

impl Segment {
    /// Product and technology phrases, trimmed and non-empty.
    pub fn phrases(&self) -> impl Iterator<Item = &str> {
        self.products.iter().chain(&self.technologies).map(|p| p.trim()).filter(|p| !p.is_empty())
    }
}

/// The industry chain of one priority sector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chain {
    /// `safety`, `aerospace`, `ai`, `medicine`, `manufacturing`, or an id the admin chose.
    pub id: String,
    /// The sector's name, e.g. 安全应急.
    pub name_zh: String,
    pub name_en: String,
    /// Where the segments, codes and phrases come from.
    pub sources: Vec<String>,
    pub segments: Vec<Segment>,
}

impl Chain {
    pub fn segment(&self, id: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.id == id)
    }
}

/// The chains shipped with the project, in the order of the five priority sectors.
pub fn shipped_chains() -> &'static [Chain] {
    static CHAINS: OnceLock<Vec<Chain>> = OnceLock::new();
    CHAINS.get_or_init(|| {
        SHIPPED.iter().map(|text| serde_json::from_str(text).expect("shipped chain data is valid JSON")).collect()
    })
}

/// Longest accepted chain or segment id.
const MAX_ID_CHARS: usize = 40;
const MAX_SEGMENTS: usize = 30;
const MAX_PHRASES: usize = 30;

/// Checks an edited chain: ids well-formed and unique, names present, industry codes known,
/// phrases non-empty and few enough.
pub fn validate_chain(chain: &Chain) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let id_ok = |id: &str| {
        !id.is_empty()
            && id.chars().count() <= MAX_ID_CHARS
            && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if !id_ok(&chain.id) {
        errors.push(
            "id",
            "链编号只能由小写字母、数字和连字符组成（最多40个字符）",
            "id: lowercase letters, digits and hyphens, at most 40",
        );
    }
    if chain.name_zh.trim().is_empty() {
        errors.push("name_zh", "请填写产业链名称", "name_zh is required");
    }
    if chain.segments.is_empty() || chain.segments.len() > MAX_SEGMENTS {
        errors.push("segments", "产业链需要1至30个环节", "a chain needs 1 to 30 segments");
    }
    let reference = Reference::get();
    for (index, segment) in chain.segments.iter().enumerate() {
        let at = |field: &str| format!("segments[{index}].{field}");
        if !id_ok(&segment.id) {
            errors.push(
                at("id"),
                "环节编号只能由小写字母、数字和连字符组成",
                "segment id: lowercase letters, digits and hyphens",
            );
        }
        if chain.segments[..index].iter().any(|other| other.id == segment.id) {
            errors.push(at("id"), "环节编号重复", "duplicate segment id");
        }
        if segment.name_zh.trim().is_empty() {
            errors.push(at("name_zh"), "请填写环节名称", "segment name_zh is required");
        }
        for (code_index, code) in segment.industry_codes.iter().enumerate() {
            if reference.industry(code.trim()).is_none() {
                errors.push(
                    format!("segments[{index}].industry_codes[{code_index}]"),
                    format!("{code} 不是 GB/T 4754-2017 行业代码"),
                    format!("{code} is not a GB/T 4754-2017 code"),
                );
            }
        }
        if segment.products.len() + segment.technologies.len() > MAX_PHRASES
            || segment.products.iter().chain(&segment.technologies).any(|p| p.trim().is_empty())
        {
            errors.push(
                at("products"),
                "关键产品和技术最多30个且不能为空",
                "at most 30 non-empty products and technologies",
            );
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// Which side of a segment a listing counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Enterprises, achievements, facilities, talents.
    Supply,
    /// Demands, scenarios, challenges.
    Demand,
}

/// The side a listing of `kind` counts for.
pub fn side_of(kind: Kind) -> Side {
    match kind {
        Kind::Enterprise | Kind::Achievement | Kind::Facility | Kind::Talent => Side::Supply,
        Kind::Demand | Kind::Scenario | Kind::Challenge => Side::Demand,
    }
}

/// Why a listing sits on a segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Evidence {
    /// Named in the segment's `listings`.
    Explicit,
    /// Inferred: the listing has this segment code (or one below it).
    IndustryCode { code: String },
    /// Inferred: this product or technology phrase occurs in the listing's text.
    Text { phrase: String },
}

impl Evidence {
    /// Explicit placements and industry codes weigh more than a phrase in the text.
    pub fn weight(&self) -> u32 {
        match self {
            Evidence::Explicit => 3,
            Evidence::IndustryCode { .. } => 2,
            Evidence::Text { .. } => 1,
        }
    }

    pub fn is_inferred(&self) -> bool {
        !matches!(self, Evidence::Explicit)
    }

    pub fn describe_zh(&self) -> String {
        match self {
            Evidence::Explicit => "由管理员明确归入该环节".into(),
            Evidence::IndustryCode { code } => format!("行业代码 {code} 属于该环节"),
            Evidence::Text { phrase } => format!("文本提到“{phrase}”"),
        }
    }

    pub fn describe_en(&self) -> String {
        match self {
            Evidence::Explicit => "placed on the segment by the admin".into(),
            Evidence::IndustryCode { code } => format!("industry code {code} belongs to the segment"),
            Evidence::Text { phrase } => format!("the text mentions \"{phrase}\""),
        }
    }
}

/// Gap label of a segment in a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gap {
    /// 强链: enough local supply for the local demand.
    Strong,
    /// 补链: local supply, but too little for the demand or below the strong threshold.
    Weak,
    /// 建链: no local supply at all.
    Missing,
}

impl Gap {
    pub fn as_str(self) -> &'static str {
        match self {
            Gap::Strong => "strong",
            Gap::Weak => "weak",
            Gap::Missing => "missing",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Gap::Strong => "强链",
            Gap::Weak => "补链",
            Gap::Missing => "建链",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Gap::Strong => "Strong",
            Gap::Weak => "Weak",
            Gap::Missing => "Missing",
        }
    }
}

/// The stated rules of gap finding. With supply `s` and demand `d` of a segment in a region:
///
/// 1. `s == 0` → `missing` (建链);
/// 2. `s >= strong_min_supply` and `s >= strong_supply_per_demand × d` → `strong` (强链);
/// 3. otherwise → `weak` (补链).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GapRules {
    /// Least local supply of a strong segment.
    pub strong_min_supply: u64,
    /// Least supply per unit of local demand of a strong segment.
    pub strong_supply_per_demand: f64,
}

impl Default for GapRules {
    fn default() -> Self {
        GapRules { strong_min_supply: 5, strong_supply_per_demand: 1.0 }
    }
}

/// A label with its reason in both languages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GapLabel {
    pub gap: Gap,
    pub reason_zh: String,
    pub reason_en: String,
}

impl GapRules {
    /// Labels a segment with `supply` and `demand` listings in a region (see [`GapRules`]).
    pub fn label(&self, supply: u64, demand: u64) -> GapLabel {
        let needed_for_demand = self.strong_supply_per_demand * demand as f64;
        if supply == 0 {
            return GapLabel {
                gap: Gap::Missing,
                reason_zh: format!("本地无供给（需求 {demand}）：需建链"),
                reason_en: format!("no local supply (demand {demand}): build the link"),
            };
        }
        if supply >= self.strong_min_supply && supply as f64 >= needed_for_demand {
            return GapLabel {
                gap: Gap::Strong,
                reason_zh: format!(
                    "供给 {supply} ≥ {}，且不少于需求 {demand} 的 {} 倍",
                    self.strong_min_supply, self.strong_supply_per_demand
                ),
                reason_en: format!(
                    "supply {supply} ≥ {} and at least {} × demand {demand}",
                    self.strong_min_supply, self.strong_supply_per_demand
                ),
            };
        }
        let (why_zh, why_en) = if supply < self.strong_min_supply {
            (
                format!("供给 {supply} 少于 {}", self.strong_min_supply),
                format!("supply {supply} below {}", self.strong_min_supply),
            )
        } else {
            (
                format!("供给 {supply} 少于需求 {demand} 的 {} 倍", self.strong_supply_per_demand),
                format!("supply {supply} below {} × demand {demand}", self.strong_supply_per_demand),
            )
        };
        GapLabel {
            gap: Gap::Weak,
            reason_zh: format!("{why_zh}：需补链"),
            reason_en: format!("{why_en}: strengthen the link"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_chains_are_valid_and_segment_ids_unique_across_chains() {
        let chains = shipped_chains();
        assert_eq!(chains.len(), 5);
        let mut ids = Vec::new();
        for chain in chains {
            validate_chain(chain).unwrap_or_else(|e| panic!("{}: {e}", chain.id));
            assert!(!chain.sources.is_empty());
            for stage in Stage::ALL {
                assert!(chain.segments.iter().any(|s| s.stage == stage), "{} lacks {stage:?}", chain.id);
            }
            ids.extend(chain.segments.iter().map(|s| s.id.clone()));
        }
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count);
    }

    #[test]
    fn gap_rules_follow_their_statement() {
        let rules = GapRules { strong_min_supply: 3, strong_supply_per_demand: 2.0 };
        assert_eq!(rules.label(0, 0).gap, Gap::Missing);
        assert_eq!(rules.label(0, 9).gap, Gap::Missing);
        assert_eq!(rules.label(2, 0).gap, Gap::Weak);
        assert_eq!(rules.label(3, 1).gap, Gap::Strong);
        assert_eq!(rules.label(3, 2).gap, Gap::Weak);
        assert_eq!(rules.label(4, 2).gap, Gap::Strong);
        assert!(rules.label(3, 2).reason_zh.contains("需求 2"));
    }

    #[test]
    fn validation_names_unknown_codes_and_duplicate_segments() {
        let mut chain = shipped_chains()[0].clone();
        chain.segments[0].industry_codes.push("9999".into());
        chain.segments[1].id = chain.segments[0].id.clone();
        let errors = validate_chain(&chain).unwrap_err();
        let fields: Vec<&str> = errors.errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"segments[0].industry_codes[2]"), "{fields:?}");
        assert!(fields.contains(&"segments[1].id"), "{fields:?}");
    }
}
