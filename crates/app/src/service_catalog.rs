//! The cross-region service catalogue (跨省通办, issue 18): services with their area, handling
//! regions, whether they can be handled in the other region, documents, office and time limit;
//! search in Chinese with the listings' analysis (jieba search mode plus CJK bigrams, NFKC and
//! traditional → simplified); import and export as CSV; and the demo catalogue with the seed's
//! figures — at least 1,400 services, 174 of them in 20 areas handled across Fengtai (110106)
//! and Xiong'an (133100).

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use xietong_domain::{Reference, Role};
use xietong_search::{analyze, bigram_analyzer, jieba_analyzer};
use xietong_store::Service;

use crate::{Actor, App, AppError, AppResult};

/// The 20 areas of the catalogue, in display order.
pub const AREAS: [&str; 20] = [
    "人才引进",
    "社保",
    "医疗",
    "住房",
    "子女教育",
    "出入境",
    "科技项目申报",
    "户籍",
    "就业创业",
    "职称评审",
    "税务",
    "企业开办",
    "知识产权",
    "交通出行",
    "公积金",
    "养老服务",
    "婚育登记",
    "文化旅游",
    "法律服务",
    "市场监管",
];

/// Cross-region services (丰台 ↔ 雄安) per area, in [`AREAS`]' order: 174 in all.
pub const CROSS_REGION_PER_AREA: [usize; 20] = [12, 12, 11, 10, 10, 9, 9, 9, 9, 9, 8, 8, 8, 8, 8, 8, 7, 7, 6, 6];

/// Services per area in the demo catalogue (20 × 72 = 1,440).
pub const DEMO_SERVICES_PER_AREA: usize = 72;

/// A catalogue search.
#[derive(Debug, Clone, Default)]
pub struct ServiceQuery {
    pub q: Option<String>,
    pub area: Option<String>,
    /// Services handled in this region (or a region containing it).
    pub region: Option<String>,
    /// Only those that can be handled in the other region.
    pub cross_region: Option<bool>,
    pub limit: usize,
    pub offset: usize,
}

/// A page of services and the counts per area of all that matched.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceResults {
    pub total: usize,
    pub items: Vec<Service>,
    /// Matching services per area.
    pub areas: BTreeMap<String, AreaCount>,
}

/// Counts of one area.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AreaCount {
    pub services: usize,
    pub cross_region: usize,
}

fn terms(text: &str) -> HashSet<String> {
    let normalized = xietong_search::normalize(text);
    let mut out: HashSet<String> = analyze(&jieba_analyzer(), &normalized).into_iter().collect();
    out.extend(analyze(&bigram_analyzer(), &normalized));
    out
}

fn handled_in(service: &Service, region: &str) -> bool {
    let reference = Reference::get();
    service.regions.iter().any(|code| reference.region_within(region, code) || reference.region_within(code, region))
}

impl App {
    /// Searches the catalogue.
    pub fn services(&self, query: &ServiceQuery) -> AppResult<ServiceResults> {
        let wanted: Vec<String> = match query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) => {
                let normalized = xietong_search::normalize(q);
                let mut words = analyze(&jieba_analyzer(), &normalized);
                if words.is_empty() {
                    words = analyze(&bigram_analyzer(), &normalized);
                }
                words
            }
            None => Vec::new(),
        };
        let mut matched = Vec::new();
        for service in self.talent.services()? {
            if query.area.as_deref().is_some_and(|area| service.area != area)
                || query.region.as_deref().is_some_and(|region| !handled_in(&service, region))
                || query.cross_region.is_some_and(|cross| service.cross_region != cross)
            {
                continue;
            }
            if !wanted.is_empty() {
                let text =
                    format!("{} {} {} {}", service.name, service.area, service.documents.join(" "), service.office);
                let have = terms(&text);
                // A query word counts when the service has it, or all of its bigrams (a compound
                // the service spells inside a longer word).
                let found = wanted.iter().all(|word| {
                    have.contains(word) || {
                        let parts = analyze(&bigram_analyzer(), word);
                        !parts.is_empty() && parts.iter().all(|part| have.contains(part))
                    }
                });
                if !found {
                    continue;
                }
            }
            matched.push(service);
        }
        let mut areas: BTreeMap<String, AreaCount> = BTreeMap::new();
        for service in &matched {
            let count = areas.entry(service.area.clone()).or_default();
            count.services += 1;
            count.cross_region += usize::from(service.cross_region);
        }
        let total = matched.len();
        let items = matched.into_iter().skip(query.offset).take(query.limit.max(1)).collect();
        Ok(ServiceResults { total, items, areas })
    }

    /// Imports services from CSV (the columns of [`services_csv`](App::services_csv)), replacing
    /// those with the same code; region operators and the admin.
    pub fn import_services(&self, actor: &Actor, bytes: &[u8]) -> AppResult<usize> {
        let principal = actor.user()?;
        if !matches!(principal.role, Role::PlatformAdmin | Role::RegionOperator) {
            return Err(AppError::Forbidden("only region operators and the platform admin keep the catalogue".into()));
        }
        let mut reader = csv::Reader::from_reader(bytes);
        let mut services = Vec::new();
        for (row, record) in reader.records().enumerate() {
            let record = record.map_err(|err| AppError::bad_input("file", format!("row {}: {err}", row + 2)))?;
            let cell = |i: usize| record.get(i).unwrap_or("").trim().to_string();
            let list = |i: usize| -> Vec<String> {
                cell(i).split([';', '；']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
            };
            let service = Service {
                code: cell(0),
                name: cell(1),
                area: cell(2),
                regions: list(3),
                cross_region: matches!(cell(4).as_str(), "是" | "true" | "1" | "yes"),
                documents: list(5),
                office: cell(6),
                time_limit_days: cell(7).parse().map_err(|_| {
                    AppError::bad_input("time_limit_days", format!("row {}: a number of working days", row + 2))
                })?,
            };
            if service.code.is_empty() || service.name.is_empty() || !AREAS.contains(&service.area.as_str()) {
                return Err(AppError::bad_input(
                    "file",
                    format!("row {}: a code, a name and one of the 20 areas are required", row + 2),
                ));
            }
            if let Some(code) = service.regions.iter().find(|code| Reference::get().region(code).is_none()) {
                return Err(AppError::bad_input("regions", format!("row {}: {code:?} is not a region code", row + 2)));
            }
            services.push(service);
        }
        let mut entry = actor.audit("services.import", "services", principal.region.clone());
        entry.detail = serde_json::json!({"rows": services.len()});
        Ok(self.talent.put_services(&services, entry)?)
    }

    /// The catalogue as CSV: code, name, area, regions, cross_region, documents, office,
    /// time_limit_days (lists separated by `;`).
    pub fn services_csv(&self) -> AppResult<String> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let header = ["code", "name", "area", "regions", "cross_region", "documents", "office", "time_limit_days"];
        let failed = |err: csv::Error| AppError::Internal(err.into());
        writer.write_record(header).map_err(failed)?;
        for service in self.talent.services()? {
            writer
                .write_record([
                    service.code.clone(),
                    service.name.clone(),
                    service.area.clone(),
                    service.regions.join(";"),
                    if service.cross_region { "是".into() } else { "否".into() },
                    service.documents.join(";"),
                    service.office.clone(),
                    service.time_limit_days.to_string(),
                ])
                .map_err(failed)?;
        }
        let bytes = writer.into_inner().map_err(|err| AppError::Internal(anyhow::anyhow!("{err}")))?;
        String::from_utf8(bytes).map_err(|err| AppError::Internal(err.into()))
    }

    /// Loads the demo catalogue unless the catalogue has services already.
    pub(crate) fn ensure_demo_services(&self) -> AppResult<usize> {
        if !self.talent.services()?.is_empty() {
            return Ok(0);
        }
        let services = demo_services();
        let mut entry = Actor::operator().audit("services.import", "services", None);
        entry.detail = serde_json::json!({"rows": services.len(), "demo": true});
        Ok(self.talent.put_services(&services, entry)?)
    }
}

/// Subjects of each area (six per area), combined with [`ACTIONS`] into service names.
const SUBJECTS: [[&str; 6]; 20] = [
    ["高层次人才认定", "人才引进落户", "人才公寓申请", "海外人才居住证", "急需紧缺人才补贴", "博士后工作站备案"],
    ["社会保险关系转移", "养老保险待遇", "失业保险金", "工伤保险认定", "社保卡", "医疗保险参保登记"],
    ["异地就医备案", "医保费用报销", "门诊慢特病", "医师执业注册", "护士执业注册", "出生医学证明"],
    ["住房保障资格", "共有产权住房", "公租房", "不动产登记", "房屋租赁备案", "人才住房补贴"],
    ["随迁子女入学", "义务教育转学", "幼儿园入园", "学籍转接", "中考报名资格", "高中借读"],
    ["出入境证件", "外国人工作许可", "港澳通行证", "台湾通行证", "外国人居留许可", "APEC商务旅行卡"],
    ["科技项目申报", "高新技术企业认定", "科技型中小企业评价", "研发费用加计扣除", "技术合同登记", "科技成果登记"],
    ["户口迁移", "居住证", "身份证", "户籍证明", "集体户口", "投靠落户"],
    ["就业登记", "创业担保贷款", "灵活就业", "职业技能培训补贴", "失业登记", "就业见习"],
    ["职称评审", "职称认定", "专业技术资格", "职业资格证书", "继续教育学时", "评审结果互认"],
    ["纳税申报", "个人所得税", "发票申领", "税务登记", "完税证明", "税收优惠备案"],
    ["企业设立登记", "营业执照", "印章刻制", "银行开户预约", "企业变更登记", "企业注销"],
    ["专利申请", "商标注册", "专利权质押", "知识产权维权援助", "地理标志", "版权登记"],
    ["机动车登记", "驾驶证", "电子通行证", "交通违法处理", "公交卡", "车辆年检"],
    ["住房公积金缴存", "公积金提取", "公积金贷款", "公积金转移接续", "缴存证明", "缴存基数调整"],
    ["养老机构备案", "高龄津贴", "居家养老服务", "老年人优待证", "养老服务补贴", "长期护理保险"],
    ["婚姻登记", "生育登记", "独生子女父母奖励", "出生登记", "收养登记", "婚姻状况证明"],
    ["文物保护单位", "营业性演出", "旅行社设立", "导游证", "艺术品经营备案", "公共文化场馆预约"],
    ["法律援助", "公证", "司法鉴定", "人民调解", "律师执业", "仲裁申请"],
    ["食品经营许可", "特种设备登记", "计量器具检定", "产品质量检验", "广告发布登记", "药品经营许可"],
];

/// Actions combined with the subjects (twelve, so 72 services per area).
const ACTIONS: [&str; 12] =
    ["申请", "变更", "补办", "注销", "查询", "备案", "延续", "确认", "预约", "转移", "核验", "证明开具"];

/// The documents every demo service asks for, by area index.
fn documents(area: usize) -> Vec<String> {
    let mut documents = vec!["居民身份证".to_string()];
    documents.push(match area {
        0 | 9 => "学历学位证书".into(),
        1 | 14 => "社会保障卡".into(),
        3 => "不动产权证书".into(),
        5 => "护照".into(),
        6 | 11 | 12 | 19 => "营业执照".into(),
        _ => "申请表".into(),
    });
    documents
}

/// The demo catalogue: 20 areas × 72 services; the first [`CROSS_REGION_PER_AREA`] of each
/// area handled in both Fengtai and Xiong'an and in either for the other (异地可办); the rest in
/// one region. The figures are the seed's (174 services in 20 areas across 丰台 and 雄安).
pub fn demo_services() -> Vec<Service> {
    let single = ["110106", "133100", "110000", "120000", "130000"];
    let mut services = Vec::new();
    for (area_index, area) in AREAS.iter().enumerate() {
        for n in 0..DEMO_SERVICES_PER_AREA {
            let subject = SUBJECTS[area_index][n % 6];
            let action = ACTIONS[n / 6];
            let cross = n < CROSS_REGION_PER_AREA[area_index];
            let regions: Vec<String> =
                if cross { vec!["110106".into(), "133100".into()] } else { vec![single[n % single.len()].into()] };
            let office = if cross {
                "丰台区政务服务中心 / 雄安新区政务服务中心"
            } else {
                "政务服务中心"
            };
            services.push(Service {
                code: format!("JX{:02}{:03}", area_index + 1, n + 1),
                name: format!("{subject}{action}"),
                area: area.to_string(),
                regions,
                cross_region: cross,
                documents: documents(area_index),
                office: office.into(),
                time_limit_days: 1 + (n as u32 % 15),
            });
        }
    }
    services
}
