//! Validation of listing bodies against the reference data. Every problem is reported with the
//! field it concerns and a message in Chinese and English that says what to fix.

use std::fmt;

use serde::Serialize;

use crate::{Availability, Details, ListingBody, Reference, Uscc};

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    /// JSON path of the field, e.g. `region_codes[1]` or `trl`.
    pub field: String,
    pub message_zh: String,
    pub message_en: String,
}

/// All problems found in one body; never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ValidationErrors {
    pub errors: Vec<FieldError>,
}

impl ValidationErrors {
    pub fn push(&mut self, field: impl Into<String>, message_zh: impl Into<String>, message_en: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message_zh: message_zh.into(),
            message_en: message_en.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn single(field: &str, message_zh: &str, message_en: &str) -> Self {
        let mut errors = Self::default();
        errors.push(field, message_zh, message_en);
        errors
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.errors.iter().map(|e| format!("{}: {}", e.field, e.message_en)).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}

/// Longest accepted title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest accepted summary, in characters; longer text belongs in the description.
pub const MAX_SUMMARY_CHARS: usize = 2_000;
/// Longest accepted description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
const MAX_LIST_ITEMS: usize = 50;
const MAX_ITEM_CHARS: usize = 100;

fn trim_list(items: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    items.iter_mut().for_each(|item| *item = item.trim().to_string());
    items.retain(|item| !item.is_empty() && seen.insert(item.clone()));
}

fn check_text(errors: &mut ValidationErrors, field: &str, text: &mut String, required: bool, max_chars: usize) {
    *text = text.trim().to_string();
    let count = text.chars().count();
    if required && count == 0 {
        errors.push(field, format!("{field} 不能为空"), format!("{field} must not be empty"));
    }
    if count > max_chars {
        errors.push(
            field,
            format!("{field} 最多 {max_chars} 个字符，当前 {count} 个"),
            format!("{field} must be at most {max_chars} characters, got {count}"),
        );
    }
}

fn check_list(errors: &mut ValidationErrors, field: &str, items: &mut Vec<String>) {
    trim_list(items);
    if items.len() > MAX_LIST_ITEMS {
        errors.push(
            field,
            format!("{field} 最多 {MAX_LIST_ITEMS} 项"),
            format!("{field} may have at most {MAX_LIST_ITEMS} items"),
        );
    }
    for (index, item) in items.iter().enumerate() {
        if item.chars().count() > MAX_ITEM_CHARS {
            errors.push(
                format!("{field}[{index}]"),
                format!("每项最多 {MAX_ITEM_CHARS} 个字符"),
                format!("each item may have at most {MAX_ITEM_CHARS} characters"),
            );
        }
    }
}

fn check_regions(errors: &mut ValidationErrors, reference: &Reference, field: &str, codes: &mut Vec<String>) {
    trim_list(codes);
    for (index, code) in codes.iter().enumerate() {
        if reference.region(code).is_none() {
            errors.push(
                format!("{field}[{index}]"),
                format!("未知的行政区划代码“{code}”：请使用京津冀的 GB/T 2260 六位代码，如 110106（丰台区）"),
                format!("unknown region code {code:?}: use a 6-digit GB/T 2260 code of Beijing, Tianjin or Hebei, e.g. 110106 (Fengtai)"),
            );
        }
    }
}

/// Preferred regions are known codes, a requirement needs at least one region, and each working
/// pattern is named once.
fn check_partner_terms(
    errors: &mut ValidationErrors,
    reference: &Reference,
    preferred_regions: &mut Vec<String>,
    regions_required: bool,
    talent_modes: &mut Vec<Availability>,
) {
    check_regions(errors, reference, "preferred_regions", preferred_regions);
    if regions_required && preferred_regions.is_empty() {
        errors.push(
            "regions_required",
            "要求限定地区时，请至少填写一个优先合作地区（preferred_regions）",
            "regions_required needs at least one region in preferred_regions",
        );
    }
    let mut seen = Vec::with_capacity(talent_modes.len());
    talent_modes.retain(|mode| {
        let first = !seen.contains(mode);
        seen.push(*mode);
        first
    });
}

fn check_trl(errors: &mut ValidationErrors, field: &str, trl: Option<u8>, required: bool) {
    match trl {
        None if required => errors.push(
            field,
            "成果必须填写技术成熟度 trl（1–9）",
            "an achievement needs a technology readiness level `trl` between 1 and 9",
        ),
        Some(level) if !(1..=9).contains(&level) => errors.push(
            field,
            format!("技术成熟度必须在 1 到 9 之间，当前为 {level}"),
            format!("technology readiness level must be between 1 and 9, got {level}"),
        ),
        _ => {}
    }
}

fn check_amount(errors: &mut ValidationErrors, field: &str, amount: Option<f64>) {
    if let Some(value) = amount
        && (!value.is_finite() || value < 0.0)
    {
        errors.push(
            field,
            format!("{field} 必须是不小于 0 的数（单位：万元）"),
            format!("{field} must be a number of at least 0 (in 10,000 CNY)"),
        );
    }
}

/// Checks a body and returns it normalised (trimmed, deduplicated, codes upper-cased).
pub fn validate(mut body: ListingBody, reference: &Reference) -> Result<ListingBody, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    check_text(&mut errors, "title", &mut body.title, true, MAX_TITLE_CHARS);
    check_text(&mut errors, "summary", &mut body.summary, true, MAX_SUMMARY_CHARS);
    check_text(&mut errors, "description", &mut body.description, false, MAX_DESCRIPTION_CHARS);
    check_list(&mut errors, "keywords", &mut body.keywords);
    check_list(&mut errors, "disciplines", &mut body.disciplines);
    check_regions(&mut errors, reference, "region_codes", &mut body.region_codes);
    if body.region_codes.is_empty() && !errors.errors.iter().any(|e| e.field.starts_with("region_codes")) {
        errors.push(
            "region_codes",
            "至少填写一个所在地区代码，如 110106（丰台区）",
            "give at least one region code, e.g. 110106 (Fengtai)",
        );
    }
    body.industry_codes.iter_mut().for_each(|c| *c = c.trim().to_ascii_uppercase());
    trim_list(&mut body.industry_codes);
    for (index, code) in body.industry_codes.iter().enumerate() {
        if reference.industry(code).is_none() {
            errors.push(
                format!("industry_codes[{index}]"),
                format!("未知的行业代码“{code}”：请使用 GB/T 4754-2017 代码，如 C（制造业）、35、3741"),
                format!("unknown industry code {code:?}: use a GB/T 4754-2017 code such as C, 35 or 3741"),
            );
        }
    }
    if let Some(contact) = body.contact.as_mut() {
        for value in [&mut contact.name, &mut contact.phone, &mut contact.email] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *value = None;
            }
        }
        if let Some(email) = contact.email.as_deref()
            && (!email.contains('@') || email.len() > 200)
        {
            errors.push("contact.email", "邮箱格式不正确", "contact.email is not an email address");
        }
        if let Some(phone) = contact.phone.as_deref()
            && (phone.len() > 40 || !phone.chars().all(|c| c.is_ascii_digit() || "+-() ".contains(c)))
        {
            errors.push(
                "contact.phone",
                "电话号码只能包含数字、空格和 + - ( )",
                "contact.phone may only hold digits, spaces and + - ( )",
            );
        }
    }
    match &mut body.details {
        Details::Talent(talent) => {
            check_list(&mut errors, "expertise", &mut talent.expertise);
            check_regions(&mut errors, reference, "willing_regions", &mut talent.willing_regions);
        }
        Details::Achievement(achievement) => {
            check_trl(&mut errors, "trl", achievement.trl, true);
            check_amount(&mut errors, "price_min", achievement.price_min);
            check_amount(&mut errors, "price_max", achievement.price_max);
            if let (Some(min), Some(max)) = (achievement.price_min, achievement.price_max)
                && min > max
            {
                errors.push("price_max", "最高价不能低于最低价", "price_max must not be below price_min");
            }
            trim_list(&mut achievement.patent_numbers);
        }
        Details::Scenario(scenario) => {
            check_list(&mut errors, "wanted_technology", &mut scenario.wanted_technology);
            check_amount(&mut errors, "budget", scenario.budget);
            if let (Some(start), Some(end)) = (scenario.window_start, scenario.window_end)
                && start > end
            {
                errors.push("window_end", "结束日期不能早于开始日期", "window_end must not be before window_start");
            }
            check_partner_terms(
                &mut errors,
                reference,
                &mut scenario.preferred_regions,
                scenario.regions_required,
                &mut scenario.talent_modes,
            );
        }
        Details::Facility(facility) => {
            check_list(&mut errors, "capabilities", &mut facility.capabilities);
            check_amount(&mut errors, "price", facility.price);
        }
        Details::Enterprise(enterprise) => {
            if let Some(raw) = enterprise.uscc.as_deref() {
                match Uscc::parse(raw) {
                    Ok(code) => enterprise.uscc = Some(code.as_str().to_string()),
                    Err(err) => errors.push(
                        "uscc",
                        format!("统一社会信用代码无效：{}", err.message_zh()),
                        format!("invalid unified social credit code: {err}"),
                    ),
                }
            }
            for (index, site) in enterprise.sites.iter_mut().enumerate() {
                site.region_code = site.region_code.trim().to_string();
                if reference.region(&site.region_code).is_none() {
                    errors.push(
                        format!("sites[{index}].region_code"),
                        format!("未知的行政区划代码“{}”", site.region_code),
                        format!("unknown region code {:?}", site.region_code),
                    );
                }
            }
        }
        Details::Demand(demand) => {
            check_trl(&mut errors, "desired_trl", demand.desired_trl, false);
            check_amount(&mut errors, "budget", demand.budget);
            check_partner_terms(
                &mut errors,
                reference,
                &mut demand.preferred_regions,
                demand.regions_required,
                &mut demand.talent_modes,
            );
        }
        Details::Challenge(challenge) => {
            check_amount(&mut errors, "prize", challenge.prize);
            if challenge.max_teams == Some(0) {
                errors.push("max_teams", "参与团队数至少为 1", "max_teams must be at least 1");
            }
            for (index, criterion) in challenge.criteria.iter().enumerate() {
                if criterion.name.trim().is_empty() || !(criterion.weight > 0.0 && criterion.weight <= 100.0) {
                    errors.push(
                        format!("criteria[{index}]"),
                        "评价指标需要名称和 0–100 之间的权重",
                        "each criterion needs a name and a weight between 0 and 100",
                    );
                }
            }
            check_partner_terms(
                &mut errors,
                reference,
                &mut challenge.preferred_regions,
                challenge.regions_required,
                &mut challenge.talent_modes,
            );
            let total: f64 = challenge.criteria.iter().map(|c| c.weight).sum();
            if !challenge.criteria.is_empty() && (total - 100.0).abs() > 0.01 {
                errors.push(
                    "criteria",
                    format!("评价指标权重之和应为 100，当前为 {total}"),
                    format!("criterion weights must add up to 100, got {total}"),
                );
            }
        }
    }
    if errors.is_empty() { Ok(body) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> ListingBody {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn minimal_bodies_are_valid() {
        let reference = Reference::get();
        let ok = validate(
            body(r#"{"kind":"achievement","title":" 激光雷达 ","summary":"s","region_codes":["110106"],"trl":6}"#),
            reference,
        )
        .unwrap();
        assert_eq!(ok.title, "激光雷达");
        assert!(
            validate(body(r#"{"kind":"talent","title":"t","summary":"s","region_codes":["130600"]}"#), reference)
                .is_ok()
        );
    }

    #[test]
    fn reports_every_bad_field() {
        let reference = Reference::get();
        let errors = validate(
            body(r#"{"kind":"achievement","title":"","summary":"s","region_codes":["999999"],"industry_codes":["Z9"],"trl":10}"#),
            reference,
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["title", "region_codes[0]", "industry_codes[0]", "trl"]);
    }

    #[test]
    fn rejects_bad_uscc_and_missing_trl() {
        let reference = Reference::get();
        let errors = validate(
            body(r#"{"kind":"enterprise","title":"t","summary":"s","region_codes":["110106"],"uscc":"91350100M000100Y44"}"#),
            reference,
        )
        .unwrap_err();
        assert_eq!(errors.errors[0].field, "uscc");
        assert!(errors.errors[0].message_en.contains("check digit"));
        let errors =
            validate(body(r#"{"kind":"achievement","title":"t","summary":"s","region_codes":["110106"]}"#), reference)
                .unwrap_err();
        assert_eq!(errors.errors[0].field, "trl");
    }

    #[test]
    fn challenge_weights_must_sum_to_100() {
        let reference = Reference::get();
        let errors = validate(
            body(
                r#"{"kind":"challenge","title":"t","summary":"s","region_codes":["110106"],
                "criteria":[{"name":"a","weight":30},{"name":"b","weight":30}]}"#,
            ),
            reference,
        )
        .unwrap_err();
        assert_eq!(errors.errors[0].field, "criteria");
    }

    #[test]
    fn required_regions_need_a_region_and_working_patterns_are_named_once() {
        let reference = Reference::get();
        for kind in ["demand", "scenario", "challenge"] {
            let errors = validate(
                body(&format!(
                    r#"{{"kind":"{kind}","title":"t","summary":"s","region_codes":["110106"],"regions_required":true}}"#
                )),
                reference,
            )
            .unwrap_err();
            assert_eq!(errors.errors[0].field, "regions_required", "{kind}");
            let valid = validate(
                body(&format!(
                    r#"{{"kind":"{kind}","title":"t","summary":"s","region_codes":["110106"],"regions_required":true,
                    "preferred_regions":["130000"],"talent_modes":["full_time","weekend_engineer","full_time"]}}"#
                )),
                reference,
            )
            .unwrap();
            let terms = valid.partner_terms();
            assert!(terms.regions_required, "{kind}");
            assert_eq!(terms.preferred_regions, ["130000".to_string()]);
            assert_eq!(terms.talent_modes, [crate::Availability::FullTime, crate::Availability::WeekendEngineer]);
        }
        let errors = validate(
            body(r#"{"kind":"scenario","title":"t","summary":"s","region_codes":["110106"],"preferred_regions":["999999"]}"#),
            reference,
        )
        .unwrap_err();
        assert_eq!(errors.errors[0].field, "preferred_regions[0]");
    }
}
