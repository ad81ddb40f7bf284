//! Publish and edit forms (`/listings/new?kind=…`, `/listings/{id}/edit`): the core fields plus the
//! kind's fields, region and industry pickers from the reference data, and validation messages
//! next to each field in the page language. Nothing is stored unless the whole body is valid.
//! Listings are owned by the user's organisation (the platform admin names any owner), go to
//! review where the region asks for it, and only the owning organisation edits them.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::LazyLock;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value};
use xietong_domain::{FieldError, Kind, Listing, ListingBody, ListingId, Reference, Visibility, validate};

use super::{Lang, PageCtx, esc, fmt_num, labels};
use crate::error::ApiError;
use crate::state::AppState;

/// How a field is entered.
#[derive(Clone, Copy)]
enum Input {
    Text,
    Area,
    /// Items separated by `;` or new lines; a JSON array of strings.
    List,
    Number,
    Integer,
    Date,
    Trl,
    Select(&'static [(&'static str, &'static str, &'static str)]),
    Checks(&'static [(&'static str, &'static str, &'static str)]),
    /// One checkbox; a JSON boolean.
    Flag,
    Regions,
    Industries,
    Sites,
    Criteria,
}

/// One form field; `name` is the JSON field name (`contact.name` for nested ones).
struct Field {
    name: &'static str,
    zh: &'static str,
    en: &'static str,
    input: Input,
    required: bool,
    hint: Option<(&'static str, &'static str)>,
}

const fn field(name: &'static str, zh: &'static str, en: &'static str, input: Input) -> Field {
    Field { name, zh, en, input, required: false, hint: None }
}

const fn required(name: &'static str, zh: &'static str, en: &'static str, input: Input) -> Field {
    Field { name, zh, en, input, required: true, hint: None }
}

const fn hinted(
    name: &'static str,
    zh: &'static str,
    en: &'static str,
    input: Input,
    hint: (&'static str, &'static str),
) -> Field {
    Field { name, zh, en, input, required: false, hint: Some(hint) }
}

const LIST_HINT: (&str, &str) = ("多项用分号或换行分隔", "Separate items with ; or new lines");

const STATUS_OPTIONS: &[(&str, &str, &str)] = &[("published", "发布", "Published"), ("draft", "草稿", "Draft")];
/// Visibility levels with the domain's labels.
static VISIBILITY_OPTIONS: LazyLock<[(&str, &str, &str); 4]> =
    LazyLock::new(|| Visibility::ALL.map(|v| (v.as_str(), v.label_zh(), v.label_en())));
const AVAILABILITY_OPTIONS: &[(&str, &str, &str)] = &[
    ("full_time", "全职", "Full time"),
    ("dual_appointment", "双聘", "Dual appointment"),
    ("weekend_engineer", "周末工程师", "Weekend engineer"),
    ("remote_consulting", "远程咨询", "Remote consulting"),
];
const FACILITY_OPTIONS: &[(&str, &str, &str)] = &[
    ("instrument", "仪器设备", "Instrument"),
    ("lab", "实验室", "Laboratory"),
    ("pilot_line", "中试线", "Pilot line"),
    ("pilot_base", "中试基地", "Pilot base"),
];
const ROLE_OPTIONS: &[(&str, &str, &str)] = &[
    ("hq", "总部", "Head office"),
    ("r_and_d", "研发", "R&D"),
    ("manufacturing", "制造", "Manufacturing"),
    ("scenario", "应用场景", "Application site"),
];

fn core_fields() -> Vec<Field> {
    vec![
        required("title", "标题", "Title", Input::Text),
        required("summary", "摘要", "Summary", Input::Area),
        field("description", "详细介绍", "Description", Input::Area),
        Field {
            hint: Some(("可多选；输入文字筛选", "Several allowed; type to filter")),
            ..required("region_codes", "所在地区", "Regions", Input::Regions)
        },
        hinted(
            "industry_codes",
            "所属行业（GB/T 4754）",
            "Industries (GB/T 4754)",
            Input::Industries,
            ("可多选；输入文字筛选", "Several allowed; type to filter"),
        ),
        hinted("keywords", "关键词", "Keywords", Input::List, LIST_HINT),
        hinted("disciplines", "学科", "Disciplines", Input::List, LIST_HINT),
        field("owner_org", "所属机构", "Organisation", Input::Text),
        field("contact.name", "联系人", "Contact name", Input::Text),
        field("contact.phone", "联系电话", "Contact phone", Input::Text),
        field("contact.email", "联系邮箱", "Contact email", Input::Text),
    ]
}

fn kind_fields(kind: Kind) -> Vec<Field> {
    match kind {
        Kind::Talent => vec![
            hinted("expertise", "专长", "Expertise", Input::List, LIST_HINT),
            field("rank", "职称", "Rank", Input::Text),
            field("employer", "工作单位", "Employer", Input::Text),
            field("availability", "合作方式", "Availability", Input::Checks(AVAILABILITY_OPTIONS)),
            field("willing_regions", "意向工作地区", "Willing to work in", Input::Regions),
        ],
        Kind::Achievement => vec![
            required("trl", "技术成熟度", "Technology readiness (TRL)", Input::Trl),
            field("ip_type", "知识产权类型", "IP type", Input::Select(&labels::IP_TYPES)),
            hinted("patent_numbers", "专利号", "Patent numbers", Input::List, LIST_HINT),
            field("transfer_modes", "转化方式", "Transfer modes", Input::Checks(&labels::TRANSFER_MODES)),
            hinted(
                "price_min",
                "最低价格（万元）",
                "Minimum price (×10,000 CNY)",
                Input::Number,
                ("单位：万元", "In 10,000 CNY"),
            ),
            hinted(
                "price_max",
                "最高价格（万元）",
                "Maximum price (×10,000 CNY)",
                Input::Number,
                ("单位：万元", "In 10,000 CNY"),
            ),
            field("institution", "完成单位", "Institution", Input::Text),
        ],
        Kind::Scenario => vec![
            field("offering_org", "场景提供方", "Offered by", Input::Text),
            field("site", "场景地点", "Site", Input::Text),
            hinted("wanted_technology", "所需技术", "Wanted technology", Input::List, LIST_HINT),
            field("window_start", "开放开始日期", "Window start", Input::Date),
            field("window_end", "开放结束日期", "Window end", Input::Date),
            field("budget", "预算（万元）", "Budget (×10,000 CNY)", Input::Number),
            field("preferred_regions", "优先合作地区", "Preferred regions", Input::Regions),
            REGIONS_REQUIRED,
            TALENT_MODES,
        ],
        Kind::Facility => vec![
            field("facility_type", "设施类型", "Facility type", Input::Select(FACILITY_OPTIONS)),
            hinted("capabilities", "服务能力", "Capabilities", Input::List, LIST_HINT),
            field("capacity_unit", "计量单位（如 机时）", "Capacity unit (e.g. machine hours)", Input::Text),
            field("price", "价格（元/单位）", "Price (CNY per unit)", Input::Number),
            field("booking_rules", "预约规则", "Booking rules", Input::Area),
            field("site", "地点", "Site", Input::Text),
        ],
        Kind::Enterprise => vec![
            hinted(
                "uscc",
                "统一社会信用代码",
                "Unified social credit code (USCC)",
                Input::Text,
                ("18 位，含校验位，如 91110106MA01XXXXXX", "18 characters with a check digit"),
            ),
            hinted(
                "sites",
                "分支机构",
                "Sites",
                Input::Sites,
                ("每行一个：所在地区、类型、地址", "One per row: region, role, address"),
            ),
        ],
        Kind::Demand => vec![
            field("problem", "待解决问题", "Problem to solve", Input::Area),
            field("desired_trl", "期望技术成熟度", "Desired readiness (TRL)", Input::Trl),
            field("budget", "预算（万元）", "Budget (×10,000 CNY)", Input::Number),
            field("deadline", "截止日期", "Deadline", Input::Date),
            field("preferred_regions", "优先合作地区", "Preferred regions", Input::Regions),
            REGIONS_REQUIRED,
            TALENT_MODES,
        ],
        Kind::Challenge => vec![
            field("requirements", "揭榜要求", "Requirements", Input::Area),
            field("prize", "奖金 / 经费（万元）", "Prize (×10,000 CNY)", Input::Number),
            field("deadline", "截止日期", "Deadline", Input::Date),
            hinted(
                "criteria",
                "评价指标",
                "Evaluation criteria",
                Input::Criteria,
                ("每行一项：名称:权重，权重之和为 100", "One per line: name:weight; weights add up to 100"),
            ),
            field("max_teams", "赛马团队数", "Teams in parallel", Input::Integer),
            field("preferred_regions", "优先合作地区", "Preferred regions", Input::Regions),
            REGIONS_REQUIRED,
            TALENT_MODES,
        ],
    }
}

/// The partner terms of a demand, scenario or challenge (issue 13 item 3).
const REGIONS_REQUIRED: Field = hinted(
    "regions_required",
    "仅限优先合作地区",
    "Only the preferred regions",
    Input::Flag,
    (
        "勾选后，推荐对接只显示优先合作地区内的资源",
        "When ticked, matching shows only listings in the preferred regions",
    ),
);
const TALENT_MODES: Field = hinted(
    "talent_modes",
    "接受的人才合作方式",
    "Accepted working patterns of talents",
    Input::Checks(AVAILABILITY_OPTIONS),
    (
        "不选为不限；不提供所选方式的人才排在后面并注明",
        "None ticked means any; talents offering none of them rank lower, marked",
    ),
);

fn publication_fields() -> Vec<Field> {
    vec![
        field("status", "发布状态", "Status", Input::Select(STATUS_OPTIONS)),
        hinted(
            "visibility",
            "可见范围",
            "Visibility",
            Input::Select(&*VISIBILITY_OPTIONS),
            (
                "公开：所有访客；注册用户：登录用户；同地区：同一省级地区的用户；本机构：仅本机构成员",
                "Public: every visitor; registered: logged-in users; same region: users in the same province-level region; own organisation: its members only",
            ),
        ),
    ]
}

/// Submitted (or loaded) values by field name; repeated names keep every value.
#[derive(Default, Clone)]
struct Values(HashMap<String, Vec<String>>);

impl Values {
    fn from_pairs(pairs: Vec<(String, String)>) -> Values {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (key, value) in pairs {
            map.entry(key).or_default().push(value);
        }
        Values(map)
    }

    fn one(&self, name: &str) -> &str {
        self.0.get(name).and_then(|v| v.first()).map(|v| v.as_str()).unwrap_or("")
    }

    fn all(&self, name: &str) -> &[String] {
        self.0.get(name).map(|v| v.as_slice()).unwrap_or(&[])
    }

    fn set(&mut self, name: &str, value: String) {
        self.0.insert(name.to_string(), vec![value]);
    }

    fn set_all(&mut self, name: &str, values: Vec<String>) {
        self.0.insert(name.to_string(), values);
    }

    /// Values of a stored listing, for the edit form.
    fn from_listing(listing: &Listing) -> Values {
        let mut values = Values::default();
        let Ok(Value::Object(json)) = serde_json::to_value(&listing.body) else { return values };
        let kind = listing.kind();
        for field in core_fields().iter().chain(kind_fields(kind).iter()).chain(publication_fields().iter()) {
            let value = match field.name.split_once('.') {
                Some((outer, inner)) => json.get(outer).and_then(|o| o.get(inner)).cloned().unwrap_or(Value::Null),
                None => json.get(field.name).cloned().unwrap_or(Value::Null),
            };
            match (field.input, value) {
                (_, Value::Null) => {}
                (Input::Sites, Value::Array(sites)) => {
                    let get = |site: &Value, key: &str| site.get(key).and_then(Value::as_str).unwrap_or("").to_string();
                    values.set_all("sites.region_code", sites.iter().map(|s| get(s, "region_code")).collect());
                    values.set_all("sites.role", sites.iter().map(|s| get(s, "role")).collect());
                    values.set_all("sites.address", sites.iter().map(|s| get(s, "address")).collect());
                }
                (Input::Criteria, Value::Array(criteria)) => {
                    let lines: Vec<String> = criteria
                        .iter()
                        .map(|c| {
                            format!(
                                "{}:{}",
                                c["name"].as_str().unwrap_or(""),
                                fmt_num(c["weight"].as_f64().unwrap_or(0.0))
                            )
                        })
                        .collect();
                    values.set(field.name, lines.join("\n"));
                }
                (Input::List, Value::Array(items)) => {
                    values.set(field.name, items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"));
                }
                (_, Value::Array(items)) => {
                    values.set_all(field.name, items.iter().filter_map(Value::as_str).map(str::to_string).collect());
                }
                (_, Value::Bool(true)) => values.set(field.name, "true".to_string()),
                (_, Value::String(text)) => values.set(field.name, text),
                (_, Value::Number(n)) => values.set(field.name, n.as_f64().map(fmt_num).unwrap_or_default()),
                _ => {}
            }
        }
        values
    }
}

/// Splits list input on semicolons (ASCII or full-width), commas in Chinese text and new lines.
fn split_list(text: &str) -> Vec<String> {
    text.split(['\n', ';', '；', '\r']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Builds the JSON body of a listing from the form. Input that cannot become the right type is
/// reported as a field error and left out, so validation can report everything else too.
fn build_json(kind: Kind, values: &Values) -> (Value, Vec<FieldError>) {
    let mut json = Map::new();
    let mut errors = Vec::new();
    let mut contact = Map::new();
    json.insert("kind".into(), Value::String(kind.as_str().into()));
    for field in core_fields().iter().chain(kind_fields(kind).iter()).chain(publication_fields().iter()) {
        let raw = values.one(field.name).trim();
        let value = match field.input {
            Input::Text | Input::Area | Input::Select(_) => {
                (!raw.is_empty() || field.required).then(|| Value::String(raw.to_string()))
            }
            Input::List => Some(Value::Array(split_list(raw).into_iter().map(Value::String).collect())),
            Input::Flag => Some(Value::Bool(raw == "true")),
            Input::Checks(_) | Input::Regions | Input::Industries => Some(Value::Array(
                values
                    .all(field.name)
                    .iter()
                    .map(|v| v.trim())
                    .filter(|v| !v.is_empty())
                    .map(|v| Value::String(v.to_string()))
                    .collect(),
            )),
            Input::Number => match raw {
                "" => None,
                text => match text.replace([',', '，'], "").parse::<f64>() {
                    Ok(n) if n.is_finite() => serde_json::Number::from_f64(n).map(Value::Number),
                    _ => {
                        errors.push(FieldError {
                            field: field.name.into(),
                            message_zh: "请输入数字".into(),
                            message_en: "enter a number".into(),
                        });
                        None
                    }
                },
            },
            Input::Integer | Input::Trl => match raw {
                "" => None,
                text => match text.parse::<u32>() {
                    Ok(n) => Some(Value::from(n)),
                    Err(_) => {
                        errors.push(FieldError {
                            field: field.name.into(),
                            message_zh: "请输入整数".into(),
                            message_en: "enter a whole number".into(),
                        });
                        None
                    }
                },
            },
            Input::Date => match raw {
                "" => None,
                text => match xietong_domain::Day::parse(text) {
                    Ok(day) => Some(Value::String(day.to_string())),
                    Err(_) => {
                        errors.push(FieldError {
                            field: field.name.into(),
                            message_zh: "日期格式应为 YYYY-MM-DD".into(),
                            message_en: "enter a date as YYYY-MM-DD".into(),
                        });
                        None
                    }
                },
            },
            Input::Sites => {
                let regions = values.all("sites.region_code");
                let roles = values.all("sites.role");
                let addresses = values.all("sites.address");
                let mut sites = Vec::new();
                for (index, region) in regions.iter().enumerate() {
                    let region = region.trim();
                    let address = addresses.get(index).map(|a| a.trim()).unwrap_or("");
                    if region.is_empty() {
                        if !address.is_empty() {
                            errors.push(FieldError {
                                field: "sites".into(),
                                message_zh: format!("第 {} 个分支机构缺少所在地区", index + 1),
                                message_en: format!("site {} needs a region", index + 1),
                            });
                        }
                        continue;
                    }
                    let mut site = Map::new();
                    site.insert("region_code".into(), Value::String(region.into()));
                    site.insert(
                        "role".into(),
                        Value::String(
                            roles.get(index).map(|r| r.trim()).filter(|r| !r.is_empty()).unwrap_or("r_and_d").into(),
                        ),
                    );
                    if !address.is_empty() {
                        site.insert("address".into(), Value::String(address.into()));
                    }
                    sites.push(Value::Object(site));
                }
                Some(Value::Array(sites))
            }
            Input::Criteria => {
                let mut criteria = Vec::new();
                for line in split_list(raw) {
                    let parsed = line.rsplit_once([':', '：', ' ']).and_then(|(name, weight)| {
                        Some((name.trim().to_string(), weight.trim().trim_end_matches('%').parse::<f64>().ok()?))
                    });
                    match parsed {
                        Some((name, weight)) => criteria.push(serde_json::json!({"name": name, "weight": weight})),
                        None => errors.push(FieldError {
                            field: "criteria".into(),
                            message_zh: format!("“{line}”应写成 名称:权重"),
                            message_en: format!("write {line:?} as name:weight"),
                        }),
                    }
                }
                Some(Value::Array(criteria))
            }
        };
        let Some(value) = value else { continue };
        match field.name.split_once('.') {
            Some((_, inner)) => {
                contact.insert(inner.to_string(), value);
            }
            None => {
                json.insert(field.name.to_string(), value);
            }
        }
    }
    if !contact.is_empty() {
        json.insert("contact".into(), Value::Object(contact));
    }
    (Value::Object(json), errors)
}

/// Builds and validates a body; returns every field error when it is not valid.
fn build_body(kind: Kind, values: &Values) -> Result<ListingBody, Vec<FieldError>> {
    let (json, mut errors) = build_json(kind, values);
    match crate::json::parse_listing_value(json) {
        Ok(body) => match validate(body, Reference::get()) {
            Ok(body) if errors.is_empty() => return Ok(body),
            Ok(_) => {}
            Err(validation) => errors.extend(validation.errors),
        },
        Err(ApiError::BadRequest { detail, field }) => errors.push(FieldError {
            field: field.unwrap_or_default(),
            message_zh: format!("格式不正确：{detail}"),
            message_en: detail,
        }),
        Err(other) => errors.push(FieldError {
            field: String::new(),
            message_zh: format!("{other:?}"),
            message_en: format!("{other:?}"),
        }),
    }
    Err(errors)
}

/// The form field an error belongs to: `region_codes[1]` → `region_codes`, `sites[0].role` → `sites`.
fn error_target(field: &str) -> &str {
    let base = field.split('[').next().unwrap_or(field);
    base.trim_end_matches('.')
}

fn field_id(name: &str) -> String {
    format!("f-{}", name.replace(['.', '_'], "-"))
}

/// What the form is for.
enum Mode {
    New,
    Edit { id: ListingId, version: i64 },
}

struct FormPage<'a> {
    ctx: &'a PageCtx,
    kind: Kind,
    mode: Mode,
    values: &'a Values,
    errors: &'a [FieldError],
    /// A message about the whole form (e.g. a version conflict).
    notice: Option<String>,
}

impl FormPage<'_> {
    fn lang(&self) -> Lang {
        self.ctx.lang
    }

    fn errors_for(&self, name: &str) -> Vec<&FieldError> {
        self.errors.iter().filter(|e| error_target(&e.field) == name).collect()
    }

    fn render(&self) -> String {
        let ctx = self.ctx;
        let lang = self.lang();
        let kind_label = labels::kind_label(self.kind, lang);
        let (heading, action) = match &self.mode {
            Mode::New => (
                format!(
                    "{}{}",
                    ctx.t("发布", "Publish a "),
                    if lang == Lang::En { kind_label.to_lowercase() } else { kind_label.to_string() }
                ),
                "/listings/new".to_string(),
            ),
            Mode::Edit { id, .. } => (
                format!(
                    "{}{}",
                    ctx.t("编辑", "Edit "),
                    if lang == Lang::En { kind_label.to_lowercase() } else { kind_label.to_string() }
                ),
                format!("/listings/{id}/edit"),
            ),
        };
        let mut html = format!(r#"<h1>{}</h1>"#, esc(&heading));
        if let Mode::New = self.mode {
            html.push_str(&kind_switcher(ctx, self.kind));
        }
        if let Some(notice) = &self.notice {
            let _ = write!(html, r#"<div class="notice error" role="alert" id="form-notice">{notice}</div>"#);
        }
        if !self.errors.is_empty() {
            let _ = write!(
                html,
                r#"<div class="error-summary" role="alert" tabindex="-1" id="error-summary"><h2>{}</h2><ul>"#,
                esc(&match lang {
                    Lang::Zh => format!("请修改以下 {} 处后再提交", self.errors.len()),
                    Lang::En => format!("Fix {} problem(s) before submitting", self.errors.len()),
                })
            );
            let known: Vec<&'static str> = core_fields()
                .iter()
                .chain(kind_fields(self.kind).iter())
                .chain(publication_fields().iter())
                .map(|f| f.name)
                .collect();
            for error in self.errors {
                let target = error_target(&error.field);
                let message = esc(lang.t(&error.message_zh, &error.message_en));
                if known.contains(&target) {
                    let _ = write!(html, r##"<li><a href="#{}">{message}</a></li>"##, field_id(target));
                } else {
                    let _ = write!(html, "<li>{message}</li>");
                }
            }
            html.push_str("</ul></div>");
        }
        let _ = write!(
            html,
            r#"<form class="listing-form" method="post" action="{}" novalidate>{}<input type="hidden" name="kind" value="{}">"#,
            esc(&action),
            ctx.csrf_input(),
            self.kind.as_str()
        );
        if let Mode::Edit { version, .. } = self.mode {
            let _ = write!(html, r#"<input type="hidden" name="version" value="{version}">"#);
        }
        let _ = write!(html, r#"<fieldset><legend>{}</legend>"#, ctx.t("基本信息", "Basics"));
        for field in core_fields() {
            html.push_str(&self.field_html(&field));
        }
        let _ = write!(html, r#"</fieldset><fieldset><legend>{}{}</legend>"#, kind_label, ctx.t("信息", " details"));
        for field in kind_fields(self.kind) {
            html.push_str(&self.field_html(&field));
        }
        let _ = write!(html, r#"</fieldset><fieldset><legend>{}</legend>"#, ctx.t("发布设置", "Publication"));
        for field in publication_fields() {
            html.push_str(&self.field_html(&field));
        }
        let _ = write!(
            html,
            r#"</fieldset><div class="form-actions"><button type="submit" id="form-submit">{}</button> <a href="{}">{}</a></div></form>"#,
            match self.mode {
                Mode::New => ctx.t("提交发布", "Publish"),
                Mode::Edit { .. } => ctx.t("保存修改", "Save changes"),
            },
            match &self.mode {
                Mode::New => "/".to_string(),
                Mode::Edit { id, .. } => format!("/listings/{id}"),
            },
            ctx.t("取消", "Cancel"),
        );
        html
    }

    fn field_html(&self, field: &Field) -> String {
        let lang = self.lang();
        let id = field_id(field.name);
        let errors = self.errors_for(field.name);
        let error_id = format!("{id}-error");
        let hint_id = format!("{id}-hint");
        let mut described = Vec::new();
        if field.hint.is_some() {
            described.push(hint_id.clone());
        }
        if !errors.is_empty() {
            described.push(error_id.clone());
        }
        let mut attrs = String::new();
        if !described.is_empty() {
            let _ = write!(attrs, r#" aria-describedby="{}""#, described.join(" "));
        }
        if !errors.is_empty() {
            attrs.push_str(r#" aria-invalid="true""#);
        }
        if field.required {
            attrs.push_str(r#" required aria-required="true""#);
        }
        let label = lang.t(field.zh, field.en);
        let required_mark = if field.required {
            r#" <span class="required" aria-hidden="true">*</span>"#.to_string()
        } else {
            String::new()
        };
        let value = self.values.one(field.name);
        let name = esc(field.name);
        let control = match field.input {
            Input::Text if field.name == "owner_org" => self.owner_control(&id, &name, value, &attrs),
            Input::Text => format!(r#"<input id="{id}" name="{name}" type="text" value="{}"{attrs}>"#, esc(value)),
            Input::Number => format!(
                r#"<input id="{id}" name="{name}" type="text" inputmode="decimal" value="{}"{attrs}>"#,
                esc(value)
            ),
            Input::Integer => format!(
                r#"<input id="{id}" name="{name}" type="text" inputmode="numeric" value="{}"{attrs}>"#,
                esc(value)
            ),
            Input::Date => format!(r#"<input id="{id}" name="{name}" type="date" value="{}"{attrs}>"#, esc(value)),
            Input::Flag => {
                let checked = if value == "true" { " checked" } else { "" };
                format!(r#"<input id="{id}" name="{name}" type="checkbox" value="true"{checked}{attrs}>"#)
            }
            Input::Area | Input::List | Input::Criteria => {
                let rows = if matches!(field.input, Input::Area) { 4 } else { 3 };
                format!(r#"<textarea id="{id}" name="{name}" rows="{rows}"{attrs}>{}</textarea>"#, esc(value))
            }
            Input::Trl => {
                let mut options = format!(r#"<option value="">{}</option>"#, lang.t("请选择", "Choose"));
                for level in Reference::get().trl_levels() {
                    let selected = if value == level.level.to_string() { " selected" } else { "" };
                    let _ = write!(
                        options,
                        r#"<option value="{}"{selected}>{}</option>"#,
                        level.level,
                        esc(&labels::trl_name(level.level, lang))
                    );
                }
                format!(r#"<select id="{id}" name="{name}"{attrs}>{options}</select>"#)
            }
            Input::Select(table) => {
                let mut options =
                    if field.name == "status" || field.name == "visibility" || field.name == "facility_type" {
                        String::new()
                    } else {
                        format!(r#"<option value="">{}</option>"#, lang.t("请选择", "Choose"))
                    };
                for (wire, zh, en) in table {
                    let selected = if value == *wire { " selected" } else { "" };
                    let _ = write!(options, r#"<option value="{wire}"{selected}>{}</option>"#, lang.t(zh, en));
                }
                format!(r#"<select id="{id}" name="{name}"{attrs}>{options}</select>"#)
            }
            Input::Checks(table) => {
                let chosen = self.values.all(field.name);
                let mut boxes = String::new();
                for (index, (wire, zh, en)) in table.iter().enumerate() {
                    let checked = if chosen.iter().any(|c| c == wire) { " checked" } else { "" };
                    let _ = write!(
                        boxes,
                        r#"<label class="check"><input type="checkbox" id="{id}-{index}" name="{name}" value="{wire}"{checked}> {}</label>"#,
                        lang.t(zh, en)
                    );
                }
                let group_attrs = attrs.replace(" required aria-required=\"true\"", "");
                return self.wrap_group(field, &id, &group_attrs, &boxes, &errors, &hint_id, &error_id);
            }
            Input::Regions => {
                multi_select(&id, &name, &attrs, labels::region_groups(lang), self.values.all(field.name), lang, |c| {
                    labels::region_name(c, lang)
                })
            }
            Input::Industries => multi_select(
                &id,
                &name,
                &attrs,
                labels::industry_groups(lang),
                self.values.all(field.name),
                lang,
                |c| labels::industry_name(c, lang),
            ),
            Input::Sites => {
                let regions = self.values.all("sites.region_code");
                let roles = self.values.all("sites.role");
                let addresses = self.values.all("sites.address");
                let rows = (regions.len() + 1).max(3);
                let mut table = format!(
                    r#"<table class="sites"><thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>"#,
                    lang.t("所在地区", "Region"),
                    lang.t("类型", "Role"),
                    lang.t("地址", "Address")
                );
                for row in 0..rows {
                    let region = regions.get(row).map(String::as_str).unwrap_or("");
                    let role = roles.get(row).map(String::as_str).unwrap_or("");
                    let address = addresses.get(row).map(String::as_str).unwrap_or("");
                    let mut region_options = format!(r#"<option value="">{}</option>"#, lang.t("（不填）", "(none)"));
                    for (group, options) in labels::region_groups(lang) {
                        let _ = write!(region_options, r#"<optgroup label="{}">"#, esc(group));
                        for (code, label) in options {
                            let selected = if code == region { " selected" } else { "" };
                            let _ =
                                write!(region_options, r#"<option value="{code}"{selected}>{}</option>"#, esc(label));
                        }
                        region_options.push_str("</optgroup>");
                    }
                    let mut role_options = String::new();
                    for (wire, zh, en) in ROLE_OPTIONS {
                        let selected =
                            if role == *wire || (role.is_empty() && *wire == "r_and_d") { " selected" } else { "" };
                        let _ = write!(role_options, r#"<option value="{wire}"{selected}>{}</option>"#, lang.t(zh, en));
                    }
                    let n = row + 1;
                    let _ = write!(
                        table,
                        r#"<tr><td><select name="sites.region_code" id="{id}-{row}-region" aria-label="{rl} {n}">{region_options}</select></td><td><select name="sites.role" id="{id}-{row}-role" aria-label="{tl} {n}">{role_options}</select></td><td><input type="text" name="sites.address" id="{id}-{row}-address" aria-label="{al} {n}" value="{}"></td></tr>"#,
                        esc(address),
                        rl = lang.t("分支机构所在地区", "Site region"),
                        tl = lang.t("分支机构类型", "Site role"),
                        al = lang.t("分支机构地址", "Site address"),
                    );
                }
                table.push_str("</tbody></table>");
                return self.wrap_group(field, &id, &attrs, &table, &errors, &hint_id, &error_id);
            }
        };
        let mut html = format!(
            r#"<div class="field{}"><label for="{id}">{}{required_mark}</label>"#,
            if errors.is_empty() { "" } else { " has-error" },
            esc(label)
        );
        if let Some((zh, en)) = field.hint {
            let _ = write!(html, r#"<p class="hint" id="{hint_id}">{}</p>"#, lang.t(zh, en));
        }
        html.push_str(&control);
        html.push_str(&error_html(&errors, &error_id, lang));
        html.push_str("</div>");
        html
    }

    /// The owner: free text for the platform admin, a choice among a technology manager's
    /// organisations, and otherwise the user's organisation (or the listing's owner), read-only.
    fn owner_control(&self, id: &str, name: &str, value: &str, attrs: &str) -> String {
        let principal = self.ctx.caller.principal();
        if principal.is_some_and(|p| p.is_admin()) {
            return format!(r#"<input id="{id}" name="{name}" type="text" value="{}"{attrs}>"#, esc(value));
        }
        let orgs = principal.map(|p| p.orgs()).unwrap_or_default();
        if matches!(self.mode, Mode::New) && orgs.len() > 1 {
            let mut options = String::new();
            for org in &orgs {
                let selected = if org == value { " selected" } else { "" };
                let _ = write!(options, r#"<option value="{org}"{selected}>{org}</option>"#, org = esc(org));
            }
            return format!(r#"<select id="{id}" name="{name}"{attrs}>{options}</select>"#);
        }
        format!(
            r#"<input id="{id}" name="{name}" type="text" value="{}" readonly aria-readonly="true"{attrs}><p class="hint">{}</p>"#,
            esc(value),
            self.lang().t(
                "由您的账户所属机构决定，不能修改。",
                "Set by your account's organisation; it cannot be changed here."
            )
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn wrap_group(
        &self,
        field: &Field,
        id: &str,
        attrs: &str,
        inner: &str,
        errors: &[&FieldError],
        hint_id: &str,
        error_id: &str,
    ) -> String {
        let lang = self.lang();
        let mut html = format!(
            r#"<div class="field{}"><fieldset class="group" id="{id}" tabindex="-1"{attrs}><legend>{}</legend>"#,
            if errors.is_empty() { "" } else { " has-error" },
            esc(lang.t(field.zh, field.en))
        );
        if let Some((zh, en)) = field.hint {
            let _ = write!(html, r#"<p class="hint" id="{hint_id}">{}</p>"#, lang.t(zh, en));
        }
        html.push_str(inner);
        html.push_str(&error_html(errors, error_id, lang));
        html.push_str("</fieldset></div>");
        html
    }
}

fn error_html(errors: &[&FieldError], error_id: &str, lang: Lang) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let messages: Vec<String> = errors.iter().map(|e| esc(lang.t(&e.message_zh, &e.message_en))).collect();
    format!(r#"<p class="field-error" id="{error_id}">{}</p>"#, messages.join("<br>"))
}

fn multi_select(
    id: &str,
    name: &str,
    attrs: &str,
    groups: &[(String, Vec<(String, String)>)],
    chosen: &[String],
    lang: Lang,
    label_of: impl Fn(&str) -> String,
) -> String {
    let mut options = String::new();
    let mut listed = std::collections::HashSet::new();
    for (group, items) in groups {
        let _ = write!(options, r#"<optgroup label="{}">"#, esc(group));
        for (code, label) in items {
            listed.insert(code.as_str());
            let selected = if chosen.iter().any(|c| c == code) { " selected" } else { "" };
            let _ = write!(options, r#"<option value="{}"{selected}>{}</option>"#, esc(code), esc(label));
        }
        options.push_str("</optgroup>");
    }
    // Codes chosen before that the picker does not list (e.g. a 4-digit industry class) stay chosen.
    let others: Vec<&String> = chosen.iter().filter(|c| !listed.contains(c.as_str()) && !c.trim().is_empty()).collect();
    if !others.is_empty() {
        let _ = write!(options, r#"<optgroup label="{}">"#, lang.t("已选的其他代码", "Other chosen codes"));
        for code in others {
            let _ = write!(options, r#"<option value="{}" selected>{}</option>"#, esc(code), esc(&label_of(code)));
        }
        options.push_str("</optgroup>");
    }
    format!(r#"<select id="{id}" name="{name}" multiple size="7" data-filterable{attrs}>{options}</select>"#)
}

fn kind_switcher(ctx: &PageCtx, current: Kind) -> String {
    let mut html = format!(r#"<nav class="kind-tabs" aria-label="{}"><ul>"#, ctx.t("选择资源类型", "Choose the kind"));
    for kind in Kind::ALL {
        let cur = if kind == current { r#" aria-current="page""# } else { "" };
        let _ = write!(
            html,
            r#"<li><a href="/listings/new?kind={k}"{cur}>{}</a></li>"#,
            labels::kind_label(kind, ctx.lang),
            k = kind.as_str()
        );
    }
    html.push_str("</ul></nav>");
    html
}

/// Query of `GET /listings/new`.
#[derive(Debug, Deserialize)]
pub struct NewParams {
    pub kind: Option<String>,
}

fn form_response(ctx: &PageCtx, status: StatusCode, page: FormPage<'_>) -> Response {
    let title = match page.mode {
        Mode::New => ctx.t("发布资源", "Publish a listing"),
        Mode::Edit { .. } => ctx.t("编辑资源", "Edit a listing"),
    };
    ctx.render(status, title, &page.render())
}

/// `GET /listings/new?kind=…`
pub async fn new_page(ctx: PageCtx, Query(params): Query<NewParams>) -> Response {
    let kind = params.kind.as_deref().and_then(|k| k.parse::<Kind>().ok()).unwrap_or(Kind::Demand);
    let mut values = Values::default();
    values.set("status", "published".into());
    if let Some(org) = ctx.caller.principal().and_then(|p| p.org.clone()) {
        values.set("owner_org", org);
    }
    form_response(
        &ctx,
        StatusCode::OK,
        FormPage { ctx: &ctx, kind, mode: Mode::New, values: &values, errors: &[], notice: None },
    )
}

/// `POST /listings/new`: stores the listing and redirects to it, or shows the form again with
/// the messages.
pub async fn create(ctx: PageCtx, State(state): State<AppState>, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    let values = Values::from_pairs(pairs);
    let Ok(kind) = values.one("kind").parse::<Kind>() else {
        return ctx.render(
            StatusCode::BAD_REQUEST,
            ctx.t("发布资源", "Publish"),
            &format!("<h1>{}</h1>", ctx.t("未知的资源类型", "Unknown kind")),
        );
    };
    let body = match build_body(kind, &values) {
        Ok(body) => body,
        Err(errors) => {
            return form_response(
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                FormPage { ctx: &ctx, kind, mode: Mode::New, values: &values, errors: &errors, notice: None },
            );
        }
    };
    let caller = ctx.caller.clone();
    let stored = state.blocking(move |app| Ok(app.create_listing(&caller.actor(), body)?)).await;
    match stored {
        Ok(xietong_app::Written { listing, .. }) => {
            tracing::info!(listing.id = %listing.id, listing.kind = %listing.kind(), "listing created from the web form");
            redirect_to(&listing.id)
        }
        Err(ApiError::Forbidden(detail)) => {
            let notice = format!(
                "{}<br><small>{}</small>",
                ctx.t("无法以该机构的名义发布。", "You cannot publish for this organisation."),
                esc(&detail)
            );
            form_response(
                &ctx,
                StatusCode::FORBIDDEN,
                FormPage { ctx: &ctx, kind, mode: Mode::New, values: &values, errors: &[], notice: Some(notice) },
            )
        }
        Err(ApiError::Conflict(detail)) => {
            let notice = format!(
                "{}<br><small>{}</small>",
                ctx.t(
                    "已存在相同统一社会信用代码或外部编号的资源。",
                    "A listing with the same credit code or external id exists."
                ),
                esc(&detail)
            );
            form_response(
                &ctx,
                StatusCode::CONFLICT,
                FormPage { ctx: &ctx, kind, mode: Mode::New, values: &values, errors: &[], notice: Some(notice) },
            )
        }
        Err(err) => ctx.error_page(err),
    }
}

fn redirect_to(id: &ListingId) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, format!("/listings/{id}"))]).into_response()
}

/// `GET /listings/{id}/edit`
pub async fn edit_page(ctx: PageCtx, State(state): State<AppState>, Path(raw_id): Path<String>) -> Response {
    let Ok(id) = raw_id.parse::<ListingId>() else { return ctx.not_found(&raw_id) };
    let caller = ctx.caller.clone();
    match state.blocking(move |app| Ok(app.writable_listing(&caller.actor(), id)?)).await {
        Ok(listing) => {
            let values = Values::from_listing(&listing);
            let mode = Mode::Edit { id, version: listing.version };
            form_response(
                &ctx,
                StatusCode::OK,
                FormPage { ctx: &ctx, kind: listing.kind(), mode, values: &values, errors: &[], notice: None },
            )
        }
        Err(err) => ctx.error_page(err),
    }
}

/// `POST /listings/{id}/edit`: saves with the version read; a stale version keeps the input and
/// says so.
pub async fn update(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let Ok(id) = raw_id.parse::<ListingId>() else { return ctx.not_found(&raw_id) };
    let values = Values::from_pairs(pairs);
    let caller = ctx.caller.clone();
    let current = match state.blocking(move |app| Ok(app.writable_listing(&caller.actor(), id)?)).await {
        Ok(listing) => listing,
        Err(err) => return ctx.error_page(err),
    };
    let kind = current.kind();
    let version = values.one("version").trim().parse::<i64>().unwrap_or(current.version);
    let mode = || Mode::Edit { id, version };
    let mut body = match build_body(kind, &values) {
        Ok(body) => body,
        Err(errors) => {
            return form_response(
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                FormPage { ctx: &ctx, kind, mode: mode(), values: &values, errors: &errors, notice: None },
            );
        }
    };
    // The form does not show the import key; keep it.
    body.external_id = current.body.external_id.clone();
    let caller = ctx.caller.clone();
    let saved = state
        // Ownership is checked again at write time: the owner may have changed since the form was read.
        .blocking(move |app| Ok(app.update_listing(&caller.actor(), id, version, body)?))
        .await;
    match saved {
        Ok(xietong_app::Written { listing, .. }) => redirect_to(&listing.id),
        Err(ApiError::Conflict(_)) => {
            let notice = format!(
                r#"{} <a href="/listings/{id}/edit">{}</a>"#,
                ctx.t("保存失败：这条资源在您编辑期间已被他人修改（版本冲突）。您的输入仍保留在下方；请重新打开最新版本再修改。", "Not saved: someone changed this listing while you were editing (version conflict). Your input is kept below; reload the latest version and apply your change again."),
                ctx.t("打开最新版本", "Open the latest version"),
            );
            form_response(
                &ctx,
                StatusCode::CONFLICT,
                FormPage { ctx: &ctx, kind, mode: mode(), values: &values, errors: &[], notice: Some(notice) },
            )
        }
        Err(err) => ctx.error_page(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_targets_strip_indices() {
        assert_eq!(error_target("region_codes[1]"), "region_codes");
        assert_eq!(error_target("sites[0].region_code"), "sites");
        assert_eq!(error_target("contact.email"), "contact.email");
    }

    #[test]
    fn invalid_uscc_is_reported_on_its_field() {
        let values = Values::from_pairs(vec![
            ("title".into(), "测试企业".into()),
            ("summary".into(), "做传感器".into()),
            ("region_codes".into(), "110106".into()),
            ("uscc".into(), "91350100M000100Y44".into()),
        ]);
        let errors = build_body(Kind::Enterprise, &values).unwrap_err();
        assert!(errors.iter().any(|e| e.field == "uscc"), "{errors:?}");
    }

    #[test]
    fn bad_numbers_and_dates_are_field_errors() {
        let values = Values::from_pairs(vec![
            ("title".into(), "t".into()),
            ("summary".into(), "s".into()),
            ("region_codes".into(), "110106".into()),
            ("budget".into(), "很多".into()),
            ("deadline".into(), "2026-13-40".into()),
        ]);
        let errors = build_body(Kind::Demand, &values).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"budget") && fields.contains(&"deadline"), "{fields:?}");
    }

    /// The spreadsheet columns (`xietong_transfer::columns`, the fullest description of a
    /// listing's fields: header, cell format, help) are the reference; the form and the OpenAPI
    /// schema must offer the same fields, so a field added to one is not forgotten in the others.
    #[test]
    fn the_form_and_the_openapi_schema_offer_the_spreadsheet_fields() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(crate::api::schema::ListingDoc::schema()).expect("schema");
        let documented: std::collections::BTreeSet<String> =
            schema["properties"].as_object().expect("properties").keys().cloned().collect();
        for kind in Kind::ALL {
            let columns: std::collections::BTreeSet<String> = xietong_transfer::columns(kind)
                .iter()
                .map(|c| c.field.to_string())
                // The id only finds the stored listing again on a re-import.
                .filter(|f| f != "id")
                .collect();
            let form: std::collections::BTreeSet<String> = core_fields()
                .into_iter()
                .chain(kind_fields(kind))
                .chain(publication_fields())
                .map(|f| f.name.replace('.', "_"))
                .collect();
            // Set by the system or by integrations, not typed into the form.
            let not_in_form = ["external_id"];
            let missing: Vec<_> =
                columns.iter().filter(|c| !form.contains(*c) && !not_in_form.contains(&c.as_str())).collect();
            assert!(missing.is_empty(), "{kind}: spreadsheet fields missing from the form: {missing:?}");
            let extra: Vec<_> = form.difference(&columns).collect();
            assert!(extra.is_empty(), "{kind}: form fields without a spreadsheet column: {extra:?}");
            let undocumented: Vec<_> =
                columns.iter().filter(|c| !c.starts_with("contact_") && !documented.contains(*c)).collect();
            assert!(
                undocumented.is_empty(),
                "{kind}: spreadsheet fields missing from the OpenAPI schema: {undocumented:?}"
            );
        }
    }

    #[test]
    fn lists_split_on_semicolons_and_lines() {
        assert_eq!(split_list("a; b；c\n d\n\n"), vec!["a", "b", "c", "d"]);
    }
}
