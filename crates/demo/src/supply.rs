//! The supply side: institutes, talents, achievements and facilities.

use xietong_domain::{
    AchievementDetails, Availability, Details, FacilityDetails, FacilityType, IpType, ListingBody, TalentDetails,
    TransferMode,
};

use crate::compose::{self, Core};
use crate::people::{self, INSTITUTE_PREFIXES, Org};
use crate::places::{self, Area, FENGTAI};
use crate::rng::Rng;
use crate::similarity::{Drawn, TitleBook};
use crate::vocab::{ACADEMIC_RANKS, INDUSTRY_RANKS, PROGRESS_SENTENCES, SECTORS, TALENT_SERVICES, TITLE_QUALIFIERS};

/// Universities and institutes, mostly in Beijing, which own most achievements.
pub(crate) fn institutes(rng: &mut Rng, count: usize) -> Vec<Org> {
    let mut seen = std::collections::HashSet::new();
    let mut institutes = Vec::with_capacity(count);
    while institutes.len() < count {
        let sector_index = rng.below(SECTORS.len());
        let (name, domain) = people::institute_name(rng, SECTORS[sector_index].name);
        if !seen.insert(name.clone()) {
            continue;
        }
        let areas = [Area::Fengtai, Area::Beijing, Area::Tianjin, Area::Hebei, Area::Xiongan];
        let area = areas[rng.weighted(&[30, 45, 12, 8, 5])];
        let region_code = places::region_in(rng, area);
        institutes.push(Org { short_name: name.clone(), name, domain, region_code, sector: sector_index });
    }
    institutes
}

/// A supplier: an institute (share `institute_share`) or an enterprise.
fn supplier<'a>(rng: &mut Rng, institutes: &'a [Org], enterprises: &'a [Org], institute_share: f64) -> (&'a Org, bool) {
    if rng.chance(institute_share) { (rng.pick(institutes), true) } else { (rng.pick(enterprises), false) }
}

pub(crate) fn talents(rng: &mut Rng, count: usize, institutes: &[Org], enterprises: &[Org]) -> Vec<ListingBody> {
    let mut titles = TitleBook::new("talent");
    let mut bodies = Vec::with_capacity(count);
    for index in 0..count {
        let (employer, academic) = supplier(rng, institutes, enterprises, 0.55);
        let sector = &SECTORS[employer.sector];
        let person = people::person(rng);
        let rank = rng.pick(if academic { ACADEMIC_RANKS } else { INDUSTRY_RANKS }).to_string();
        let mut field = "";
        let mut technology = "";
        let drawn = titles.draw(rng, |rng| {
            field = *rng.pick(sector.expertise);
            technology = *rng.pick(sector.technologies);
            // 导航制导与控制 + 与 + 数字孪生 would read badly.
            let joint = if field.contains('与') { "及" } else { "与" };
            let topic = format!("{field}{joint}{technology}");
            let name = &person.name;
            let title = match rng.below(6) {
                0 => format!("{name}（{rank}）：{topic}"),
                1 => format!("{topic}方向{rank}{name}"),
                2 => format!("{name}：{}{rank}，专注{topic}", employer.short_name),
                3 => format!("{rank}{name}团队——{topic}"),
                4 => format!("{name}｜{topic}"),
                _ => format!("{topic}专家{name}（{rank}）"),
            };
            Drawn { title, topic }
        });
        let mut expertise = vec![field.to_string(), technology.to_string()];
        for extra in rng.sample(sector.expertise, 2) {
            if expertise.len() < 3 && !expertise.iter().any(|known| known == extra) {
                expertise.push(extra.to_string());
            }
        }
        let application = *rng.pick(sector.applications);
        let summary = match rng.below(3) {
            0 => format!(
                "{}，{}{rank}，长期从事{field}研究及其在{application}领域的应用，主持或参与国家及省部级科研项目{}项，授权发明专利{}项，可提供{}。",
                person.name,
                employer.name,
                rng.between(2, 25),
                rng.between(1, 40),
                rng.pick(TALENT_SERVICES),
            ),
            1 => format!(
                "{rank}，就职于{}，研究{technology}在{application}中的工程应用，近五年完成横向课题{}项，可提供{}。",
                employer.name,
                rng.between(2, 30),
                rng.pick(TALENT_SERVICES),
            ),
            _ => format!(
                "{}在{field}方向工作{}年，熟悉{application}一线需求，可提供{}。",
                person.name,
                rng.between(5, 30),
                rng.pick(TALENT_SERVICES),
            ),
        };
        let description = format!(
            "研究方向包括{}。曾围绕{application}中{}的问题，带领团队研制{}，{}。{}",
            expertise.join("、"),
            rng.pick(sector.problems),
            compose::topic(rng, sector).phrase(),
            compose::metric(rng, sector),
            rng.pick(sector.pitches),
        );
        let availability = match rng.weighted(&[25, 30, 25, 20]) {
            0 => vec![Availability::FullTime],
            1 => vec![Availability::DualAppointment, Availability::RemoteConsulting],
            2 => vec![Availability::WeekendEngineer],
            _ => vec![Availability::RemoteConsulting, Availability::WeekendEngineer],
        };
        let mut willing_regions = vec![employer.region_code.clone()];
        for _ in 0..rng.below(3) {
            let code = if rng.chance(0.4) { FENGTAI.to_string() } else { places::any_region(rng) };
            if !willing_regions.contains(&code) {
                willing_regions.push(code);
            }
        }
        let org_contact = people::contact(rng, employer);
        let core = Core {
            title: drawn.title,
            summary,
            description,
            keywords: compose::keywords(rng, sector, &drawn.topic, &[field, technology]),
            industry_codes: compose::industry_codes(rng, sector),
            disciplines: compose::disciplines(rng, sector, 0.3),
            region_codes: vec![employer.region_code.clone()],
            owner_org: employer.name.clone(),
            contact: xietong_domain::Contact {
                name: Some(person.name.clone()),
                email: Some(format!("{}@{}", person.pinyin, employer.domain)),
                ..org_contact
            },
            external_id: format!("demo-talent-{index:05}"),
        };
        let details = Details::Talent(TalentDetails {
            expertise,
            rank: Some(rank),
            employer: Some(employer.name.clone()),
            availability,
            willing_regions,
        });
        bodies.push(compose::body(rng, core, details));
    }
    bodies
}

/// Technology readiness levels 1..=9, mostly 3–7.
const TRL_WEIGHTS: [u32; 9] = [1, 2, 9, 15, 21, 22, 17, 9, 4];

pub(crate) fn achievements(rng: &mut Rng, count: usize, institutes: &[Org], enterprises: &[Org]) -> Vec<ListingBody> {
    let mut titles = TitleBook::new("achievement");
    let mut bodies = Vec::with_capacity(count);
    for index in 0..count {
        let (owner, academic) = supplier(rng, institutes, enterprises, 0.7);
        let sector = &SECTORS[owner.sector];
        let mut technology = "";
        let mut application = "";
        let mut topic = compose::topic(rng, sector);
        let drawn = titles.draw(rng, |rng| {
            topic = compose::topic(rng, sector);
            technology = *rng.pick(topic.technologies);
            application = *rng.pick(topic.applications);
            let phrase = topic.phrase();
            let qualifier = rng.pick(TITLE_QUALIFIERS);
            let (subject, result) = (topic.subject, topic.result);
            let title = match rng.below(10) {
                0 => format!("基于{technology}的{phrase}"),
                1 => format!("{phrase}关键技术及应用"),
                2 => format!("{phrase}研制与产业化"),
                3 => format!("面向{application}的{phrase}"),
                4 => format!("{qualifier}{phrase}"),
                5 => format!("{phrase}（{technology}）"),
                6 => format!("一种用于{subject}的{result}"),
                7 => format!("{technology}在{phrase}中的应用"),
                8 => format!("{phrase}工程化开发与示范"),
                _ => format!("{qualifier}{subject}{result}及其{technology}实现"),
            };
            Drawn { title, topic: phrase }
        });
        let title = drawn.title;
        let (first_metric, second_metric) = compose::two_metrics(rng, sector);
        let summary = match rng.below(3) {
            0 => format!(
                "{title}，{first_metric}，{second_metric}，已在{}{}完成验证，可{}。",
                rng.between(1, 12),
                rng.pick(sector.deployment_units),
                rng.pick(sector.benefits),
            ),
            1 => format!(
                "本成果围绕{}研制{}，{first_metric}，可{}。",
                topic.subject,
                topic.result,
                rng.pick(sector.benefits),
            ),
            _ => format!(
                "针对{application}中{}的问题，{}提出了{}，{first_metric}。",
                rng.pick(sector.problems),
                owner.short_name,
                topic.phrase(),
            ),
        };
        let trl = 1 + rng.weighted(&TRL_WEIGHTS) as u8;
        let transfer_modes = rng.sample_between(
            &[TransferMode::Licence, TransferMode::Assignment, TransferMode::JointDevelopment, TransferMode::Equity],
            1,
            2,
        );
        let transfer_text: Vec<&str> = transfer_modes
            .iter()
            .map(|mode| match mode {
                TransferMode::Licence => "许可",
                TransferMode::Assignment => "转让",
                TransferMode::JointDevelopment => "合作开发",
                TransferMode::Equity => "作价入股",
            })
            .collect();
        let description = format!(
            "项目采用{technology}技术路线，{second_metric}，目前处于技术成熟度{trl}级。{}成果持有方为{}，可通过{}方式与企业合作。{}",
            rng.pick(PROGRESS_SENTENCES),
            owner.name,
            transfer_text.join("、"),
            rng.pick(sector.pitches),
        );
        let ip_type = match rng.weighted(&[60, 15, 15, 3, 7]) {
            0 => IpType::InventionPatent,
            1 => IpType::UtilityModel,
            2 => IpType::SoftwareCopyright,
            3 => IpType::IntegratedCircuitLayout,
            _ => IpType::TradeSecret,
        };
        let patent_numbers = match ip_type {
            IpType::InventionPatent | IpType::UtilityModel => {
                let type_digit = if ip_type == IpType::InventionPatent { 1 } else { 2 };
                (0..1 + rng.below(3))
                    .map(|_| {
                        format!(
                            "ZL{}{type_digit}{:07}.{}",
                            rng.between(2016, 2025),
                            rng.below(10_000_000),
                            rng.below(10)
                        )
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        let price_min = compose::amount(rng, 10, 500, 10);
        let price_max = price_min * f64::from(rng.between(2, 5));
        let core = Core {
            title,
            summary,
            description,
            keywords: compose::keywords(rng, sector, &drawn.topic, &[technology, application]),
            industry_codes: compose::industry_codes(rng, sector),
            disciplines: compose::disciplines(rng, sector, 0.35),
            region_codes: vec![owner.region_code.clone()],
            owner_org: owner.name.clone(),
            contact: people::contact(rng, owner),
            external_id: format!("demo-achievement-{index:05}"),
        };
        let details = Details::Achievement(AchievementDetails {
            trl: Some(trl),
            ip_type: Some(ip_type),
            patent_numbers,
            transfer_modes,
            price_min: Some(price_min),
            price_max: Some(price_max),
            institution: academic.then(|| owner.name.clone()),
        });
        bodies.push(compose::body(rng, core, details));
    }
    bodies
}

/// Facility types in a fixed mix: 40 pilot bases, 70 pilot lines, 110 labs, the rest instruments.
fn facility_types(rng: &mut Rng, count: usize) -> Vec<FacilityType> {
    let mut types = Vec::with_capacity(count);
    types.extend(std::iter::repeat_n(FacilityType::PilotBase, 40));
    types.extend(std::iter::repeat_n(FacilityType::PilotLine, 70));
    types.extend(std::iter::repeat_n(FacilityType::Lab, 110));
    types.resize(count.max(types.len()), FacilityType::Instrument);
    types.truncate(count);
    rng.shuffle(&mut types);
    types
}

pub(crate) fn facilities(rng: &mut Rng, count: usize, institutes: &[Org], enterprises: &[Org]) -> Vec<ListingBody> {
    let mut titles = TitleBook::new("facility");
    let mut bodies = Vec::with_capacity(count);
    for (index, facility_type) in facility_types(rng, count).into_iter().enumerate() {
        let (owner, _) = supplier(rng, institutes, enterprises, 0.6);
        let sector = &SECTORS[owner.sector];
        let district = places::short_name(&owner.region_code);
        let drawn = titles.draw(rng, |rng| {
            let short = &owner.short_name;
            match facility_type {
                FacilityType::PilotBase => {
                    let (prefix, _) = rng.pick(INSTITUTE_PREFIXES);
                    let application = *rng.pick(sector.applications);
                    let flavour = rng.pick(&["中试基地", "概念验证与中试基地", "中试熟化基地", "成果转化中试基地"]);
                    let topic = format!("{application}{flavour}");
                    let title = match rng.below(3) {
                        0 => format!("{prefix}{topic}"),
                        1 => format!("{district}{topic}"),
                        _ => format!("{prefix}{sector_name}{topic}", sector_name = sector.name),
                    };
                    Drawn { title, topic }
                }
                FacilityType::PilotLine => {
                    let topic = compose::topic(rng, sector).phrase();
                    let title = match rng.below(3) {
                        0 => format!("{short}{topic}中试线"),
                        1 => format!("{topic}中试线（{district}）"),
                        _ => format!("{topic}公共中试线"),
                    };
                    Drawn { title, topic }
                }
                FacilityType::Lab => {
                    let topic = rng.pick(sector.labs).to_string();
                    let title = match rng.below(4) {
                        0 => format!("{short}{topic}"),
                        1 => format!("{topic}开放共享（{short}）"),
                        2 => format!("{district}{}{topic}", rng.pick(sector.applications)),
                        _ => format!("{}{topic}", rng.pick(sector.applications)),
                    };
                    Drawn { title, topic }
                }
                FacilityType::Instrument => {
                    let topic = rng.pick(sector.instruments).to_string();
                    let title = match rng.below(4) {
                        0 => format!("{short}{topic}"),
                        1 => format!("{topic}共享机时（{short}）"),
                        2 => format!("{district}{topic}对外开放"),
                        _ => format!("{}用{topic}", rng.pick(sector.applications)),
                    };
                    Drawn { title, topic }
                }
            }
        });
        let title = drawn.title;
        let capabilities: Vec<String> =
            rng.sample_between(sector.capabilities, 2, 4).into_iter().map(str::to_string).collect();
        let (capacity_unit, price) = match facility_type {
            FacilityType::Instrument => ("机时", compose::amount(rng, 200, 3000, 50)),
            FacilityType::Lab => ("天", compose::amount(rng, 2000, 20000, 500)),
            FacilityType::PilotLine => ("批次", compose::amount(rng, 20000, 200000, 5000)),
            FacilityType::PilotBase => ("天", compose::amount(rng, 5000, 50000, 1000)),
        };
        let site = places::address(rng, &owner.region_code);
        let summary = format!(
            "{}对外开放{}，可提供{}等服务，面向{}领域的{}需求，按{capacity_unit}计费，每{capacity_unit}{price}元起。",
            owner.name,
            facility_type.label_zh(),
            capabilities.join("、"),
            sector.name,
            compose::topic(rng, sector).result,
        );
        let description = format!(
            "设施位于{site}，可支撑{}在{}场景的工程化验证与小批量试制，{}。{}",
            rng.pick(sector.technologies),
            rng.pick(sector.applications),
            compose::metric(rng, sector),
            rng.pick(sector.pitches),
        );
        let booking_rules = format!(
            "需提前{}个工作日通过平台提交预约申请并说明{}；京津冀高校院所及中小企业享受{}折优惠，{}。",
            rng.between(2, 15),
            rng.pick(&["样品信息和测试要求", "工艺方案和安全评估", "试制批量和物料清单"]),
            rng.pick(&["八", "八五", "九"]),
            rng.pick(&[
                "首次使用需参加安全培训",
                "可安排工程师全程陪同",
                "夜间及周末时段需单独申请",
                "长期合作可签订框架协议"
            ]),
        );
        let mut keyword_terms = vec![facility_type.label_zh()];
        keyword_terms.extend(capabilities.iter().map(String::as_str).take(2));
        let core = Core {
            title,
            summary,
            description,
            keywords: compose::keywords(rng, sector, &drawn.topic, &keyword_terms),
            industry_codes: compose::industry_codes(rng, sector),
            disciplines: compose::disciplines(rng, sector, 0.4),
            region_codes: vec![owner.region_code.clone()],
            owner_org: owner.name.clone(),
            contact: people::contact(rng, owner),
            external_id: format!("demo-facility-{index:05}"),
        };
        let details = Details::Facility(FacilityDetails {
            facility_type,
            capabilities,
            capacity_unit: Some(capacity_unit.to_string()),
            price: Some(price),
            booking_rules: Some(booking_rules),
            site: Some(site),
        });
        bodies.push(compose::body(rng, core, details));
    }
    bodies
}
