//! Region pools (GB/T 2260 codes) and addresses.
//!
//! The codes are listed here rather than read from the reference table so that the demo data
//! does not change when the table grows; a test checks that every code exists.

use xietong_domain::Reference;

use crate::rng::Rng;

/// 丰台区.
pub(crate) const FENGTAI: &str = "110106";
/// Beijing districts other than Fengtai.
pub(crate) const BEIJING_OTHER: &[&str] = &[
    "110101", "110102", "110105", "110107", "110108", "110108", "110108", "110109", "110111", "110112", "110113",
    "110114", "110114", "110115", "110115", "110116", "110117", "110118", "110119",
];
/// Tianjin districts, with 滨海新区, 西青区 and 武清区 more likely.
pub(crate) const TIANJIN: &[&str] = &[
    "120101", "120102", "120103", "120104", "120105", "120106", "120110", "120111", "120111", "120112", "120113",
    "120114", "120114", "120115", "120116", "120116", "120116", "120116", "120117", "120118", "120119",
];
/// Hebei prefectures and counties outside Xiong'an, with the cities near Beijing more likely.
pub(crate) const HEBEI: &[&str] = &[
    "130100", "130102", "130104", "130105", "130108", "130109", "130123", "130200", "130202", "130203", "130209",
    "130283", "130300", "130400", "130500", "130600", "130602", "130606", "130609", "130681", "130681", "130682",
    "130684", "130700", "130800", "130900", "131000", "131002", "131003", "131022", "131022", "131024", "131028",
    "131081", "131082", "131082", "131100",
];
/// 雄安新区 and its three counties.
pub(crate) const XIONGAN: &[&str] = &["133100", "133100", "130629", "130632", "130638"];

/// Coarse area of a region code, for choosing phone area codes and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Area {
    Fengtai,
    Beijing,
    Tianjin,
    Hebei,
    Xiongan,
}

pub(crate) fn area_of(region_code: &str) -> Area {
    match region_code {
        FENGTAI => Area::Fengtai,
        "133100" | "130629" | "130632" | "130638" => Area::Xiongan,
        code if code.starts_with("11") => Area::Beijing,
        code if code.starts_with("12") => Area::Tianjin,
        _ => Area::Hebei,
    }
}

/// A region code in the given area.
pub(crate) fn region_in(rng: &mut Rng, area: Area) -> String {
    let code = match area {
        Area::Fengtai => FENGTAI,
        Area::Beijing => rng.pick(BEIJING_OTHER),
        Area::Tianjin => rng.pick(TIANJIN),
        Area::Hebei => rng.pick(HEBEI),
        Area::Xiongan => rng.pick(XIONGAN),
    };
    code.to_string()
}

/// A region code across the whole region, Fengtai heavily represented: 30% Fengtai, 25% the rest
/// of Beijing, 18% Tianjin, 19% Hebei, 8% Xiong'an.
pub(crate) fn any_region(rng: &mut Rng) -> String {
    let areas = [Area::Fengtai, Area::Beijing, Area::Tianjin, Area::Hebei, Area::Xiongan];
    let area = areas[rng.weighted(&[30, 25, 18, 19, 8])];
    region_in(rng, area)
}

/// A region code in Tianjin, Hebei or Xiong'an (45/45/10).
pub(crate) fn tianjin_or_hebei(rng: &mut Rng) -> String {
    let areas = [Area::Tianjin, Area::Hebei, Area::Xiongan];
    let area = areas[rng.weighted(&[45, 45, 10])];
    region_in(rng, area)
}

/// Full name such as 北京市丰台区, 河北省保定市涿州市 or 河北省雄安新区容城县.
pub(crate) fn display_name(region_code: &str) -> String {
    let reference = Reference::get();
    let Some(region) = reference.region(region_code) else {
        return region_code.to_string();
    };
    if region.alt_parent_code.is_some() {
        return format!("河北省雄安新区{}", region.name);
    }
    let chain = reference.region_chain(region_code);
    chain.iter().rev().map(|r| r.name.as_str()).collect()
}

/// The region's own name, e.g. 丰台区, 滨海新区 or 涿州市.
pub(crate) fn short_name(region_code: &str) -> String {
    Reference::get().region(region_code).map_or_else(|| region_code.to_string(), |region| region.name.clone())
}

/// Short name used in company names: 北京, 天津, 河北, 雄安 or a Hebei city such as 保定.
pub(crate) fn city_prefix(rng: &mut Rng, region_code: &str) -> String {
    match area_of(region_code) {
        Area::Fengtai | Area::Beijing => "北京".to_string(),
        Area::Tianjin => "天津".to_string(),
        Area::Xiongan => "雄安".to_string(),
        Area::Hebei => {
            if rng.chance(0.4) {
                return "河北".to_string();
            }
            let reference = Reference::get();
            let prefecture = reference
                .region_chain(region_code)
                .into_iter()
                .find(|r| r.code.ends_with("00") && r.code != "130000")
                .map(|r| r.name.trim_end_matches('市').to_string());
            prefecture.unwrap_or_else(|| "河北".to_string())
        }
    }
}

const ROADS: &[&str] = &[
    "科创路",
    "航天路",
    "创新大道",
    "智造街",
    "丽泽路",
    "科技园路",
    "星火路",
    "兴业大街",
    "启航路",
    "云汇路",
    "锦绣大道",
    "中试路",
    "医药园路",
    "工业园东路",
    "环湖路",
    "开源街",
];

/// A street address inside the region, e.g. 北京市丰台区科创路18号.
pub(crate) fn address(rng: &mut Rng, region_code: &str) -> String {
    let road = rng.pick(ROADS);
    format!("{}{road}{}号", display_name(region_code), rng.between(1, 288))
}
