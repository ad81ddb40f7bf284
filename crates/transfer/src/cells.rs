//! Converting between spreadsheet cells and the JSON fields of a listing body, both ways, and the
//! formula-injection guard.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use xietong_domain::Reference;

use crate::columns::{CellType, SITE_ROLE};

/// Characters that make a spreadsheet treat a cell as a formula.
const FORMULA_TRIGGERS: [char; 4] = ['=', '+', '-', '@'];

/// Whether a text cell needs the `'` prefix on export: it starts with a trigger, or with quotes
/// followed by a trigger (so that stripping one quote on import gives the value back exactly).
pub(crate) fn needs_guard(text: &str) -> bool {
    text.trim_start_matches('\'').starts_with(FORMULA_TRIGGERS)
}

/// The text written to a CSV cell of a non-numeric column.
pub fn guard(text: &str) -> String {
    if needs_guard(text) { format!("'{text}") } else { text.to_string() }
}

/// Undoes [`guard`] on import: strips one `'` only when it stands before a trigger.
pub(crate) fn unguard(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if needs_guard(rest) => rest,
        _ => text,
    }
}

/// A cell value on export.
#[derive(Debug, Clone, PartialEq)]
pub enum CellOut {
    Empty,
    Text(String),
    Number(f64),
}

/// Why a cell could not be read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CellError {
    pub zh: String,
    pub en: String,
}

fn cell_error(zh: String, en: String) -> CellError {
    CellError { zh, en }
}

/// Caches region and industry name lookups for one import (names resolve by scanning tables).
#[derive(Debug, Default)]
pub(crate) struct Resolver {
    regions: HashMap<String, Option<String>>,
    industries: HashMap<String, Option<String>>,
}

impl Resolver {
    /// The region code for a code or name; an unknown one is kept as given, so the domain
    /// validation reports it with its own message.
    fn region(&mut self, text: &str) -> String {
        self.regions
            .entry(text.to_string())
            .or_insert_with(|| Reference::get().resolve_region(text).map(|region| region.code.clone()))
            .clone()
            .unwrap_or_else(|| text.to_string())
    }

    fn industry(&mut self, text: &str) -> String {
        self.industries
            .entry(text.to_string())
            .or_insert_with(|| Reference::get().resolve_industry(text).map(|industry| industry.code.clone()))
            .clone()
            .unwrap_or_else(|| text.to_string())
    }
}

/// Splits a list cell on `;` (or the full-width `；`), dropping empty items.
pub(crate) fn split_list(text: &str) -> Vec<&str> {
    text.split([';', '；']).map(str::trim).filter(|item| !item.is_empty()).collect()
}

fn enum_code(values: &[(&'static str, &'static str)], text: &str) -> Option<&'static str> {
    values.iter().find(|(code, label)| code.eq_ignore_ascii_case(text) || *label == text).map(|(code, _)| *code)
}

fn enum_help(values: &[(&str, &str)]) -> String {
    values.iter().map(|(code, label)| format!("{code}（{label}）")).collect::<Vec<_>>().join("、")
}

fn parse_number(text: &str) -> Option<f64> {
    let cleaned: String = text.chars().filter(|c| *c != ',' && *c != '，' && !c.is_whitespace()).collect();
    cleaned.parse::<f64>().ok().filter(|value| value.is_finite())
}

fn parse_date(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split(['-', '/', '.']).collect();
    let [year, month, day] = parts.as_slice() else {
        return None;
    };
    let year: i32 = year.parse().ok()?;
    let month: u8 = month.parse().ok()?;
    let day: u8 = day.parse().ok()?;
    let date = time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    Some(format!("{:04}-{:02}-{:02}", date.year(), date.month() as u8, date.day()))
}

/// Reads one non-empty, trimmed, unguarded cell into the JSON value of its field.
pub(crate) fn parse_cell(cell: CellType, text: &str, resolver: &mut Resolver) -> Result<Value, CellError> {
    match cell {
        CellType::Id | CellType::Text | CellType::OptText => Ok(Value::String(text.to_string())),
        CellType::List => {
            Ok(Value::Array(split_list(text).into_iter().map(|item| Value::String(item.to_string())).collect()))
        }
        CellType::Regions => {
            Ok(Value::Array(split_list(text).into_iter().map(|item| Value::String(resolver.region(item))).collect()))
        }
        CellType::Industries => {
            Ok(Value::Array(split_list(text).into_iter().map(|item| Value::String(resolver.industry(item))).collect()))
        }
        CellType::Integer { min, max } => {
            let parsed =
                parse_number(text).filter(|value| value.fract() == 0.0 && *value >= min as f64 && *value <= max as f64);
            match parsed {
                Some(value) => Ok(Value::Number(Number::from(value as i64))),
                None => Err(cell_error(
                    format!("“{text}”不是 {min} 到 {max} 之间的整数"),
                    format!("{text:?} is not a whole number between {min} and {max}"),
                )),
            }
        }
        CellType::Number => match parse_number(text).and_then(Number::from_f64) {
            Some(number) => Ok(Value::Number(number)),
            None => Err(cell_error(format!("“{text}”不是数字"), format!("{text:?} is not a number"))),
        },
        CellType::Date => match parse_date(text) {
            Some(date) => Ok(Value::String(date)),
            None => Err(cell_error(
                format!("“{text}”不是有效日期，格式应为 YYYY-MM-DD"),
                format!("{text:?} is not a valid date in the form YYYY-MM-DD"),
            )),
        },
        CellType::Enum(values) => match enum_code(values, text) {
            Some(code) => Ok(Value::String(code.to_string())),
            None => Err(cell_error(
                format!("“{text}”不是允许的值，可选：{}", enum_help(values)),
                format!("{text:?} is not allowed; use one of {}", enum_help(values)),
            )),
        },
        CellType::EnumList(values) => {
            let mut codes = Vec::new();
            for item in split_list(text) {
                let Some(code) = enum_code(values, item) else {
                    return Err(cell_error(
                        format!("“{item}”不是允许的值，可选：{}", enum_help(values)),
                        format!("{item:?} is not allowed; use one of {}", enum_help(values)),
                    ));
                };
                codes.push(Value::String(code.to_string()));
            }
            Ok(Value::Array(codes))
        }
        CellType::Flag => match text.to_lowercase().as_str() {
            "是" | "yes" | "y" | "true" | "1" | "√" => Ok(Value::Bool(true)),
            "否" | "no" | "n" | "false" | "0" => Ok(Value::Bool(false)),
            _ => Err(cell_error(format!("“{text}”应为 是 或 否"), format!("{text:?} must be yes or no (是/否)"))),
        },
        CellType::Sites => {
            let mut sites = Vec::new();
            for item in split_list(text) {
                let normalised = item.replace('：', ":");
                let mut parts = normalised.splitn(3, ':').map(str::trim);
                let region = parts.next().unwrap_or_default();
                let role_text = parts.next().unwrap_or_default();
                let address = parts.next().filter(|address| !address.is_empty());
                let Some(role) = enum_code(SITE_ROLE, role_text) else {
                    return Err(cell_error(
                        format!("场所“{item}”应写作 地区:角色[:地址]，角色可选：{}", enum_help(SITE_ROLE)),
                        format!("site {item:?} must read region:role[:address], role one of {}", enum_help(SITE_ROLE)),
                    ));
                };
                let mut site = Map::new();
                site.insert("region_code".into(), Value::String(resolver.region(region)));
                site.insert("role".into(), Value::String(role.to_string()));
                if let Some(address) = address {
                    site.insert("address".into(), Value::String(address.to_string()));
                }
                sites.push(Value::Object(site));
            }
            Ok(Value::Array(sites))
        }
        CellType::Criteria => {
            let mut criteria = Vec::new();
            for item in split_list(text) {
                let normalised = item.replace('：', ":");
                let parsed = normalised
                    .rsplit_once(':')
                    .and_then(|(name, weight)| Some((name.trim(), Number::from_f64(parse_number(weight)?)?)));
                let Some((name, weight)) = parsed else {
                    return Err(cell_error(
                        format!("评价指标“{item}”应写作 名称:权重，如 成本:60"),
                        format!("criterion {item:?} must read name:weight, e.g. 成本:60"),
                    ));
                };
                let mut criterion = Map::new();
                criterion.insert("name".into(), Value::String(name.to_string()));
                criterion.insert("weight".into(), Value::Number(weight));
                criteria.push(Value::Object(criterion));
            }
            Ok(Value::Array(criteria))
        }
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.as_f64().map(crate::read::number_text).unwrap_or_else(|| number.to_string()),
        Value::Bool(flag) => flag.to_string(),
        other => other.to_string(),
    }
}

/// Renders the JSON value of a field as an export cell (before guarding).
pub(crate) fn render_cell(cell: CellType, value: Option<&Value>) -> CellOut {
    let Some(value) = value.filter(|value| !value.is_null()) else {
        return CellOut::Empty;
    };
    match cell {
        CellType::Integer { .. } | CellType::Number => match value.as_f64() {
            Some(number) => CellOut::Number(number),
            None => CellOut::Text(value_text(value)),
        },
        // "No" is the empty cell, as on import.
        CellType::Flag => match value.as_bool() {
            Some(true) => CellOut::Text("是".to_string()),
            Some(false) => CellOut::Empty,
            None => CellOut::Text(value_text(value)),
        },
        CellType::Sites => {
            let items: Vec<String> = value
                .as_array()
                .map(|sites| {
                    sites
                        .iter()
                        .map(|site| {
                            let region = site.get("region_code").map(value_text).unwrap_or_default();
                            let role = site.get("role").map(value_text).unwrap_or_default();
                            match site.get("address").filter(|a| !a.is_null()) {
                                Some(address) => format!("{region}:{role}:{}", value_text(address)),
                                None => format!("{region}:{role}"),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            text_or_empty(items.join(";"))
        }
        CellType::Criteria => {
            let items: Vec<String> = value
                .as_array()
                .map(|criteria| {
                    criteria
                        .iter()
                        .map(|c| {
                            let name = c.get("name").map(value_text).unwrap_or_default();
                            let weight = c.get("weight").map(value_text).unwrap_or_default();
                            format!("{name}:{weight}")
                        })
                        .collect()
                })
                .unwrap_or_default();
            text_or_empty(items.join(";"))
        }
        _ => match value {
            Value::Array(items) => text_or_empty(items.iter().map(value_text).collect::<Vec<_>>().join(";")),
            other => text_or_empty(value_text(other)),
        },
    }
}

fn text_or_empty(text: String) -> CellOut {
    if text.is_empty() { CellOut::Empty } else { CellOut::Text(text) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_round_trips() {
        for text in ["=SUM(A1)", "+1", "-x", "@cmd", "'=x", "''+y", "plain", "'quoted", "", "-"] {
            assert_eq!(unguard(&guard(text)), text, "{text}");
        }
        assert_eq!(guard("=1"), "'=1");
        assert_eq!(guard("a=1"), "a=1");
    }

    #[test]
    fn regions_and_industries_resolve_names() {
        let mut resolver = Resolver::default();
        let value = parse_cell(CellType::Regions, "丰台区;北京市丰台区;120116", &mut resolver).unwrap();
        assert_eq!(value, serde_json::json!(["110106", "110106", "120116"]));
        let value = parse_cell(CellType::Sites, "120116:manufacturing;丰台区：总部：某路 1 号", &mut resolver).unwrap();
        assert_eq!(value[1]["region_code"], "110106");
        assert_eq!(value[1]["role"], "hq");
        assert_eq!(value[1]["address"], "某路 1 号");
        assert!(parse_cell(CellType::Date, "2025-02-30", &mut resolver).is_err());
        assert_eq!(parse_cell(CellType::Date, "2025/2/3", &mut resolver).unwrap(), "2025-02-03");
        assert_eq!(parse_cell(CellType::Flag, "是", &mut resolver).unwrap(), Value::Bool(true));
        assert_eq!(parse_cell(CellType::Flag, "No", &mut resolver).unwrap(), Value::Bool(false));
        assert!(parse_cell(CellType::Flag, "也许", &mut resolver).is_err());
        assert!(matches!(render_cell(CellType::Flag, Some(&Value::Bool(true))), CellOut::Text(ref t) if t == "是"));
        assert!(matches!(render_cell(CellType::Flag, Some(&Value::Bool(false))), CellOut::Empty));
    }
}
