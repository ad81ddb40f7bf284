//! Readable names of codes and enum values in the page language.

use std::collections::HashMap;
use std::sync::OnceLock;

use xietong_domain::{Availability, FacilityType, Kind, Reference, RegionLevel, SiteRole};

use super::Lang;

/// English names of the provinces and prefectures, from the boundary file.
fn english_region_names() -> &'static HashMap<String, String> {
    static NAMES: OnceLock<HashMap<String, String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names = HashMap::new();
        if let Ok(collection) = serde_json::from_str::<serde_json::Value>(xietong_domain::JJJ_GEOJSON) {
            for feature in collection["features"].as_array().into_iter().flatten() {
                let properties = &feature["properties"];
                if let (Some(code), Some(name)) = (properties["code"].as_str(), properties["name_en"].as_str()) {
                    names.insert(code.to_string(), name.to_string());
                }
            }
        }
        names.insert("133100".to_string(), "Xiong'an New Area".to_string());
        names.insert("110106".to_string(), "Fengtai".to_string());
        names
    })
}

/// Name of one region (no parents).
pub fn region_short(code: &str, lang: Lang) -> String {
    if lang == Lang::En
        && let Some(name) = english_region_names().get(code)
    {
        return name.clone();
    }
    Reference::get().region(code).map(|r| r.name.clone()).unwrap_or_else(|| code.to_string())
}

/// Name of a region with its parents, e.g. 北京市 · 丰台区.
pub fn region_name(code: &str, lang: Lang) -> String {
    let chain = Reference::get().region_chain(code);
    if chain.is_empty() {
        return code.to_string();
    }
    chain.iter().rev().map(|r| region_short(&r.code, lang)).collect::<Vec<_>>().join(" · ")
}

/// Name of an industry code.
pub fn industry_name(code: &str, lang: Lang) -> String {
    match Reference::get().industry(code) {
        Some(industry) => {
            let name = match lang {
                Lang::En => industry.name_en.clone().unwrap_or_else(|| industry.name_zh.clone()),
                Lang::Zh => industry.name_zh.clone(),
            };
            format!("{code} {name}")
        }
        None => code.to_string(),
    }
}

/// Name of a TRL level, e.g. "TRL 6 · 原型验证".
pub fn trl_name(level: u8, lang: Lang) -> String {
    match Reference::get().trl(level) {
        Some(trl) => format!("TRL {level} · {}", lang.t(&trl.name_zh, &trl.name_en)),
        None => format!("TRL {level}"),
    }
}

/// Label of a library.
pub fn kind_label(kind: Kind, lang: Lang) -> &'static str {
    lang.t(kind.label_zh(), kind.label_en())
}

pub fn availability_label(value: Availability, lang: Lang) -> &'static str {
    lang.t(value.label_zh(), value.label_en())
}

pub fn facility_type_label(value: FacilityType, lang: Lang) -> &'static str {
    lang.t(value.label_zh(), value.label_en())
}

pub fn site_role_label(value: SiteRole, lang: Lang) -> &'static str {
    lang.t(value.label_zh(), value.label_en())
}

/// Wire values and labels of the IP types (serde names of `IpType`).
pub const IP_TYPES: [(&str, &str, &str); 6] = [
    ("invention_patent", "发明专利", "Invention patent"),
    ("utility_model", "实用新型", "Utility model"),
    ("software_copyright", "软件著作权", "Software copyright"),
    ("integrated_circuit_layout", "集成电路布图", "IC layout design"),
    ("trade_secret", "技术秘密", "Trade secret"),
    ("other", "其他", "Other"),
];

/// Wire values and labels of the transfer modes (serde names of `TransferMode`).
pub const TRANSFER_MODES: [(&str, &str, &str); 4] = [
    ("licence", "许可", "Licence"),
    ("assignment", "转让", "Assignment"),
    ("joint_development", "合作开发", "Joint development"),
    ("equity", "作价入股", "Equity"),
];

/// Label of a serde-named value from one of the tables above.
pub fn table_label(table: &[(&str, &str, &str)], value: &str, lang: Lang) -> String {
    table
        .iter()
        .find(|(v, _, _)| *v == value)
        .map(|(_, zh, en)| lang.t(zh, en).to_string())
        .unwrap_or_else(|| value.to_string())
}

/// Serde name of a unit-like enum value.
pub fn wire_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// Option groups of a picker: (group label, [(code, option label)]).
pub type OptionGroups = Vec<(String, Vec<(String, String)>)>;

/// Regions grouped for pickers: (group label, [(code, label)]). Provinces and municipalities'
/// districts in one group each; every Hebei prefecture gets its own group with its counties.
pub fn region_groups(lang: Lang) -> &'static [(String, Vec<(String, String)>)] {
    static ZH: OnceLock<OptionGroups> = OnceLock::new();
    static EN: OnceLock<OptionGroups> = OnceLock::new();
    let cell = match lang {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    };
    cell.get_or_init(|| {
        let reference = Reference::get();
        let mut groups: OptionGroups = Vec::new();
        for province in reference.regions().iter().filter(|r| r.level == RegionLevel::Province) {
            let mut top = vec![(province.code.clone(), region_short(&province.code, lang))];
            let children: Vec<_> =
                reference.regions().iter().filter(|r| r.parent_code.as_deref() == Some(&province.code)).collect();
            let mut sub_groups = Vec::new();
            for child in children {
                top.push((child.code.clone(), format!("　{}", region_short(&child.code, lang))));
                let grandchildren: Vec<(String, String)> = reference
                    .regions()
                    .iter()
                    .filter(|r| r.parent_code.as_deref() == Some(&child.code))
                    .map(|r| (r.code.clone(), region_short(&r.code, lang)))
                    .collect();
                if !grandchildren.is_empty() {
                    sub_groups.push((
                        format!("{} · {}", region_short(&province.code, lang), region_short(&child.code, lang)),
                        grandchildren,
                    ));
                }
            }
            groups.push((region_short(&province.code, lang), top));
            groups.extend(sub_groups);
        }
        groups
    })
}

/// Industry sections and divisions grouped by section, for pickers.
pub fn industry_groups(lang: Lang) -> &'static [(String, Vec<(String, String)>)] {
    static ZH: OnceLock<OptionGroups> = OnceLock::new();
    static EN: OnceLock<OptionGroups> = OnceLock::new();
    let cell = match lang {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    };
    cell.get_or_init(|| {
        let reference = Reference::get();
        let sections = reference.industries().iter().filter(|i| i.level == xietong_domain::IndustryLevel::Section);
        sections
            .map(|section| {
                let mut options = vec![(section.code.clone(), industry_name(&section.code, lang))];
                options.extend(
                    reference
                        .industries()
                        .iter()
                        .filter(|i| i.parent_code.as_deref() == Some(&section.code))
                        .map(|i| (i.code.clone(), format!("　{}", industry_name(&i.code, lang)))),
                );
                (industry_name(&section.code, lang), options)
            })
            .collect()
    })
}

/// Industry sections only, for the search filter.
pub fn industry_sections(lang: Lang) -> Vec<(String, String)> {
    Reference::get()
        .industries()
        .iter()
        .filter(|i| i.level == xietong_domain::IndustryLevel::Section)
        .map(|i| (i.code.clone(), industry_name(&i.code, lang)))
        .collect()
}
