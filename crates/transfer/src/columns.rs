//! The columns of each kind's spreadsheet: header texts, the field each one fills, the cell
//! format and the help text shown on the template's second sheet.
//!
//! A column's `field` is the API's JSON field name, except for the flattened nested ones
//! (`contact_name`, `contact_phone`, `contact_email`) and `id`, which carries a stored listing's id
//! so that an exported file imports back onto the same listings.

use xietong_domain::Kind;

/// How a cell is read and written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellType {
    /// A listing id (UUID); only used to find the stored listing.
    Id,
    /// A required or defaulted string field: an empty cell is the empty string.
    Text,
    /// An optional string field: an empty cell is "not given".
    OptText,
    /// Several free-text values separated by `;`.
    List,
    /// Several region codes or names separated by `;`, stored as GB/T 2260 codes.
    Regions,
    /// Several industry codes or names separated by `;`, stored as GB/T 4754 codes.
    Industries,
    /// A whole number between `min` and `max` (the range of the field's type).
    Integer { min: i64, max: i64 },
    /// A decimal number.
    Number,
    /// A date, `YYYY-MM-DD` (also `YYYY/M/D`).
    Date,
    /// One value of an enumeration, as its code or its Chinese label.
    Enum(&'static [(&'static str, &'static str)]),
    /// Several values of an enumeration separated by `;`.
    EnumList(&'static [(&'static str, &'static str)]),
    /// Yes or no (是/否, yes/no, true/false, 1/0); an empty cell is "no".
    Flag,
    /// Enterprise sites: `region:role[:address]` items separated by `;`.
    Sites,
    /// Challenge criteria: `name:weight` items separated by `;`.
    Criteria,
}

impl CellType {
    /// Numbers are written as numbers and never get the formula-neutralising prefix.
    pub fn is_numeric(self) -> bool {
        matches!(self, CellType::Integer { .. } | CellType::Number)
    }
}

/// One column of a template.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    /// Field name (English); accepted as a header on import.
    pub field: &'static str,
    /// Chinese header written in templates and exports.
    pub header_zh: &'static str,
    /// Further headers accepted on import.
    pub aliases: &'static [&'static str],
    pub cell: CellType,
    /// Every row must have a value.
    pub required: bool,
    pub help_zh: &'static str,
    pub help_en: &'static str,
}

const fn col(
    field: &'static str,
    header_zh: &'static str,
    aliases: &'static [&'static str],
    cell: CellType,
    required: bool,
    help_zh: &'static str,
    help_en: &'static str,
) -> ColumnSpec {
    ColumnSpec { field, header_zh, aliases, cell, required, help_zh, help_en }
}

pub(crate) const VISIBILITY: &[(&str, &str)] =
    &[("public", "公开"), ("registered", "注册用户"), ("region", "本地区"), ("organisation", "本机构")];
pub(crate) const STATUS: &[(&str, &str)] = &[("draft", "草稿"), ("published", "已发布"), ("archived", "已归档")];
pub(crate) const AVAILABILITY: &[(&str, &str)] = &[
    ("full_time", "全职"),
    ("dual_appointment", "双聘"),
    ("weekend_engineer", "周末工程师"),
    ("remote_consulting", "远程咨询"),
];
pub(crate) const IP_TYPE: &[(&str, &str)] = &[
    ("invention_patent", "发明专利"),
    ("utility_model", "实用新型"),
    ("software_copyright", "软件著作权"),
    ("integrated_circuit_layout", "集成电路布图设计"),
    ("trade_secret", "技术秘密"),
    ("other", "其他"),
];
pub(crate) const TRANSFER_MODE: &[(&str, &str)] =
    &[("licence", "许可"), ("assignment", "转让"), ("joint_development", "合作开发"), ("equity", "作价入股")];
pub(crate) const FACILITY_TYPE: &[(&str, &str)] =
    &[("instrument", "仪器设备"), ("lab", "实验室"), ("pilot_line", "中试线"), ("pilot_base", "中试基地")];
pub(crate) const SITE_ROLE: &[(&str, &str)] =
    &[("hq", "总部"), ("r_and_d", "研发"), ("manufacturing", "制造"), ("scenario", "应用场景")];

const U8: CellType = CellType::Integer { min: 0, max: u8::MAX as i64 };
const U32: CellType = CellType::Integer { min: 0, max: u32::MAX as i64 };

const ID: ColumnSpec = col(
    "id",
    "平台编号",
    &["listing_id", "编号id"],
    CellType::Id,
    false,
    "平台内的编号，由导出填写；新增行留空",
    "the listing's id on this platform, filled in by export; leave empty for new rows",
);

const CORE_HEAD: &[ColumnSpec] = &[
    col(
        "external_id",
        "外部编号",
        &["外部id", "来源编号"],
        CellType::OptText,
        false,
        "来源系统中的编号，同一类型同一机构内唯一；再次导入时据此更新而不重复新增",
        "id in the source system, unique per kind and owner; re-imports update instead of duplicating",
    ),
    col("title", "标题", &["名称", "name"], CellType::Text, true, "最多 200 字", "at most 200 characters"),
    col("summary", "摘要", &["简介"], CellType::Text, true, "最多 2000 字", "at most 2,000 characters"),
    col(
        "description",
        "详细描述",
        &["描述", "详情"],
        CellType::Text,
        false,
        "最多 20000 字",
        "at most 20,000 characters",
    ),
    col(
        "keywords",
        "关键词",
        &["keyword", "标签"],
        CellType::List,
        false,
        "多个用英文分号 ; 分隔，最多 50 个",
        "several separated by `;`, at most 50",
    ),
    col(
        "industry_codes",
        "行业",
        &["行业代码", "industry", "industries"],
        CellType::Industries,
        false,
        "GB/T 4754-2017 代码或名称，如 C、35、3741 或 专用设备制造业；多个用 ; 分隔（见“行业代码”表）",
        "GB/T 4754-2017 codes or Chinese names, e.g. C, 35, 3741; several separated by `;` (see the industries sheet)",
    ),
    col("disciplines", "学科", &["discipline"], CellType::List, false, "多个用 ; 分隔", "several separated by `;`"),
    col(
        "region_codes",
        "所在地区",
        &["地区", "地区代码", "region", "regions"],
        CellType::Regions,
        true,
        "GB/T 2260 代码或名称，如 110106、丰台区、北京市丰台区；多个用 ; 分隔（见“地区代码”表）",
        "GB/T 2260 codes or names, e.g. 110106, 丰台区, 北京市丰台区; several separated by `;` (see the regions sheet)",
    ),
];

const CORE_TAIL: &[ColumnSpec] = &[
    col(
        "owner_org",
        "所属机构",
        &["机构", "owner", "单位"],
        CellType::OptText,
        false,
        "发布或拥有该条目的机构",
        "organisation that owns the listing",
    ),
    col("contact_name", "联系人", &["contact.name"], CellType::OptText, false, "", ""),
    col(
        "contact_phone",
        "联系电话",
        &["contact.phone", "电话"],
        CellType::OptText,
        false,
        "只能包含数字、空格和 + - ( )",
        "digits, spaces and + - ( ) only",
    ),
    col("contact_email", "联系邮箱", &["contact.email", "邮箱", "email"], CellType::OptText, false, "", ""),
    col(
        "visibility",
        "可见范围",
        &[],
        CellType::Enum(VISIBILITY),
        false,
        "留空为 public（公开）",
        "empty means public",
    ),
    col("status", "状态", &[], CellType::Enum(STATUS), false, "留空为 published（已发布）", "empty means published"),
];

const TALENT: &[ColumnSpec] = &[
    col("expertise", "专长", &["专业领域"], CellType::List, false, "多个用 ; 分隔", "several separated by `;`"),
    col("rank", "职称", &["职级"], CellType::OptText, false, "如 研究员、高级工程师", "e.g. 研究员, 高级工程师"),
    col("employer", "工作单位", &[], CellType::OptText, false, "", ""),
    col(
        "availability",
        "合作方式",
        &[],
        CellType::EnumList(AVAILABILITY),
        false,
        "多个用 ; 分隔",
        "several separated by `;`",
    ),
    col(
        "willing_regions",
        "意向工作地区",
        &["意向地区"],
        CellType::Regions,
        false,
        "地区代码或名称，多个用 ; 分隔",
        "region codes or names separated by `;`",
    ),
];

const ACHIEVEMENT: &[ColumnSpec] = &[
    col(
        "trl",
        "技术成熟度",
        &["成熟度", "trl等级"],
        U8,
        true,
        "1 到 9 的整数（TRL）",
        "whole number 1 to 9 (technology readiness level)",
    ),
    col("ip_type", "知识产权类型", &[], CellType::Enum(IP_TYPE), false, "", ""),
    col("patent_numbers", "专利号", &["专利"], CellType::List, false, "多个用 ; 分隔", "several separated by `;`"),
    col(
        "transfer_modes",
        "转化方式",
        &[],
        CellType::EnumList(TRANSFER_MODE),
        false,
        "多个用 ; 分隔",
        "several separated by `;`",
    ),
    col("price_min", "最低价（万元）", &["最低价"], CellType::Number, false, "单位：万元", "in 10,000 CNY"),
    col(
        "price_max",
        "最高价（万元）",
        &["最高价"],
        CellType::Number,
        false,
        "单位：万元，不低于最低价",
        "in 10,000 CNY, not below price_min",
    ),
    col("institution", "完成单位", &[], CellType::OptText, false, "", ""),
];

const SCENARIO: &[ColumnSpec] = &[
    col("offering_org", "发布单位", &["场景方"], CellType::OptText, false, "", ""),
    col("site", "场景地点", &["地点"], CellType::OptText, false, "", ""),
    col("wanted_technology", "所需技术", &[], CellType::List, false, "多个用 ; 分隔", "several separated by `;`"),
    col("window_start", "开放开始日期", &["开始日期"], CellType::Date, false, "YYYY-MM-DD", "YYYY-MM-DD"),
    col(
        "window_end",
        "开放结束日期",
        &["结束日期"],
        CellType::Date,
        false,
        "YYYY-MM-DD，不早于开始日期",
        "YYYY-MM-DD, not before window_start",
    ),
    col("budget", "预算（万元）", &["预算"], CellType::Number, false, "单位：万元", "in 10,000 CNY"),
    col(
        "preferred_regions",
        "意向合作地区",
        &["意向地区"],
        CellType::Regions,
        false,
        "地区代码或名称，多个用 ; 分隔",
        "region codes or names separated by `;`",
    ),
    col(
        "regions_required",
        "限定意向地区",
        &["仅限意向地区"],
        CellType::Flag,
        false,
        "是：只匹配意向合作地区内的资源；留空为否",
        "yes: match only listings in the preferred regions; empty means no",
    ),
    col(
        "talent_modes",
        "接受的人才合作方式",
        &["人才合作方式"],
        CellType::EnumList(AVAILABILITY),
        false,
        "多个用 ; 分隔；留空为不限",
        "several separated by `;`; empty means any",
    ),
];

const FACILITY: &[ColumnSpec] = &[
    col(
        "facility_type",
        "设施类型",
        &[],
        CellType::Enum(FACILITY_TYPE),
        false,
        "留空为 instrument（仪器设备）",
        "empty means instrument",
    ),
    col("capabilities", "服务能力", &[], CellType::List, false, "多个用 ; 分隔", "several separated by `;`"),
    col("capacity_unit", "计量单位", &[], CellType::OptText, false, "如 机时、批次、天", "e.g. 机时, 批次, 天"),
    col(
        "price",
        "单价（元）",
        &["单价"],
        CellType::Number,
        false,
        "每计量单位的价格，单位：元",
        "price per capacity unit, in CNY",
    ),
    col("booking_rules", "预约规则", &[], CellType::OptText, false, "", ""),
    col("site", "设施地点", &["地点"], CellType::OptText, false, "", ""),
];

const ENTERPRISE: &[ColumnSpec] = &[
    col(
        "uscc",
        "统一社会信用代码",
        &["信用代码", "社会信用代码"],
        CellType::OptText,
        false,
        "18 位，按 GB 32100 校验；再次导入时据此更新而不重复新增",
        "18 characters with a GB 32100 check digit; re-imports update instead of duplicating",
    ),
    col(
        "sites",
        "经营场所",
        &["场所"],
        CellType::Sites,
        false,
        "地区:角色[:地址]，多个用 ; 分隔，如 120116:manufacturing;110106:hq",
        "region:role[:address] separated by `;`, e.g. 120116:manufacturing;110106:hq",
    ),
];

const DEMAND: &[ColumnSpec] = &[
    col("problem", "问题描述", &["问题"], CellType::OptText, false, "", ""),
    col("desired_trl", "期望技术成熟度", &["期望成熟度"], U8, false, "1 到 9 的整数", "whole number 1 to 9"),
    col("budget", "预算（万元）", &["预算"], CellType::Number, false, "单位：万元", "in 10,000 CNY"),
    col("deadline", "截止日期", &[], CellType::Date, false, "YYYY-MM-DD", "YYYY-MM-DD"),
    col(
        "preferred_regions",
        "意向合作地区",
        &["意向地区"],
        CellType::Regions,
        false,
        "地区代码或名称，多个用 ; 分隔",
        "region codes or names separated by `;`",
    ),
    col(
        "regions_required",
        "限定意向地区",
        &["仅限意向地区"],
        CellType::Flag,
        false,
        "是：只匹配意向合作地区内的资源；留空为否",
        "yes: match only listings in the preferred regions; empty means no",
    ),
    col(
        "talent_modes",
        "接受的人才合作方式",
        &["人才合作方式"],
        CellType::EnumList(AVAILABILITY),
        false,
        "多个用 ; 分隔；留空为不限",
        "several separated by `;`; empty means any",
    ),
];

const CHALLENGE: &[ColumnSpec] = &[
    col("requirements", "榜单要求", &["要求"], CellType::OptText, false, "", ""),
    col("prize", "奖金（万元）", &["奖金"], CellType::Number, false, "单位：万元", "in 10,000 CNY"),
    col("deadline", "截止日期", &[], CellType::Date, false, "YYYY-MM-DD", "YYYY-MM-DD"),
    col(
        "criteria",
        "评价指标",
        &["评价标准"],
        CellType::Criteria,
        false,
        "名称:权重，多个用 ; 分隔，权重之和为 100，如 技术先进性:40;成本:60",
        "name:weight separated by `;`, weights adding up to 100, e.g. 技术先进性:40;成本:60",
    ),
    col(
        "max_teams",
        "最多揭榜团队数",
        &["团队数"],
        U32,
        false,
        "赛马制下可并行的团队数，至少 1",
        "teams that may race in parallel, at least 1",
    ),
    col(
        "preferred_regions",
        "意向合作地区",
        &["意向地区"],
        CellType::Regions,
        false,
        "地区代码或名称，多个用 ; 分隔",
        "region codes or names separated by `;`",
    ),
    col(
        "regions_required",
        "限定意向地区",
        &["仅限意向地区"],
        CellType::Flag,
        false,
        "是：只匹配意向合作地区内的资源；留空为否",
        "yes: match only listings in the preferred regions; empty means no",
    ),
    col(
        "talent_modes",
        "接受的人才合作方式",
        &["人才合作方式"],
        CellType::EnumList(AVAILABILITY),
        false,
        "多个用 ; 分隔；留空为不限",
        "several separated by `;`; empty means any",
    ),
];

fn kind_columns(kind: Kind) -> &'static [ColumnSpec] {
    match kind {
        Kind::Talent => TALENT,
        Kind::Achievement => ACHIEVEMENT,
        Kind::Scenario => SCENARIO,
        Kind::Facility => FACILITY,
        Kind::Enterprise => ENTERPRISE,
        Kind::Demand => DEMAND,
        Kind::Challenge => CHALLENGE,
    }
}

/// The columns of `kind`'s template, in order: id, core fields, the kind's fields, owner,
/// contact, visibility and status.
pub fn columns(kind: Kind) -> Vec<&'static ColumnSpec> {
    let mut all: Vec<&'static ColumnSpec> = vec![&ID];
    all.extend(CORE_HEAD.iter());
    all.extend(kind_columns(kind).iter());
    all.extend(CORE_TAIL.iter());
    all
}

/// Folds a header for matching: lower case, no spaces or `*`, half-width brackets.
pub(crate) fn fold_header(text: &str) -> String {
    text.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '*')
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            '＿' => '_',
            other => other.to_ascii_lowercase(),
        })
        .collect()
}

fn names_of(spec: &ColumnSpec) -> impl Iterator<Item = String> + '_ {
    [spec.field, spec.header_zh].into_iter().chain(spec.aliases.iter().copied()).map(fold_header)
}

/// Finds the column a header names: the field name, the Chinese header, an alias, or a header like
/// `标题(title)` with either part matching.
pub(crate) fn match_header(kind: Kind, header: &str) -> Option<&'static ColumnSpec> {
    let folded = fold_header(header);
    if folded.is_empty() {
        return None;
    }
    let mut candidates = vec![folded.clone()];
    if let Some((before, rest)) = folded.split_once('(') {
        candidates.push(before.to_string());
        candidates.push(rest.trim_end_matches(')').to_string());
    }
    let specs = columns(kind);
    for candidate in &candidates {
        if let Some(spec) = specs.iter().find(|spec| names_of(spec).any(|name| &name == candidate)) {
            return Some(spec);
        }
    }
    None
}

/// The kinds (other than `kind`) whose own columns include `header`; used to spot a file of the
/// wrong kind.
pub(crate) fn other_kinds_with_header(kind: Kind, header: &str) -> Vec<Kind> {
    let folded = fold_header(header);
    Kind::ALL
        .into_iter()
        .filter(|other| *other != kind)
        .filter(|other| {
            kind_columns(*other).iter().any(|spec| names_of(spec).any(|name| name == folded))
                && !kind_columns(kind).iter().any(|spec| names_of(spec).any(|name| name == folded))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_by_field_chinese_header_or_alias() {
        assert_eq!(match_header(Kind::Achievement, "title").unwrap().field, "title");
        assert_eq!(match_header(Kind::Achievement, " 标题 ").unwrap().field, "title");
        assert_eq!(match_header(Kind::Achievement, "TRL").unwrap().field, "trl");
        assert_eq!(match_header(Kind::Achievement, "最低价(万元)").unwrap().field, "price_min");
        assert_eq!(match_header(Kind::Achievement, "标题（title）").unwrap().field, "title");
        assert_eq!(match_header(Kind::Achievement, "contact.email").unwrap().field, "contact_email");
        assert!(match_header(Kind::Achievement, "uscc").is_none());
        assert_eq!(other_kinds_with_header(Kind::Achievement, "uscc"), vec![Kind::Enterprise]);
    }

    #[test]
    fn every_kind_has_unique_headers() {
        for kind in Kind::ALL {
            let mut seen = std::collections::HashSet::new();
            for spec in columns(kind) {
                for name in names_of(spec) {
                    assert!(seen.insert(name.clone()), "{kind}: header {name} used twice");
                }
            }
        }
    }
}
