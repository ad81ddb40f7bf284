//! The supply side: institutes, talents, achievements and facilities.

use xietong_domain::{
    AchievementDetails, Availability, Details, FacilityDetails, FacilityType, IpType, ListingBody, TalentDetails,
    TransferMode,
};

use crate::compose::{self, Core, TitleBook};
use crate::people::{self, INSTITUTE_PREFIXES, Org};
use crate::places::{self, Area, FENGTAI};
use crate::rng::Rng;
use crate::vocab::{ACADEMIC_RANKS, INDUSTRY_RANKS, SECTORS, TALENT_SERVICES};

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
        institutes.push(Org { name, domain, region_code: places::region_in(rng, area), sector: sector_index });
    }
    institutes
}

/// A supplier: an institute (share `institute_share`) or an enterprise.
fn supplier<'a>(rng: &mut Rng, institutes: &'a [Org], enterprises: &'a [Org], institute_share: f64) -> (&'a Org, bool) {
    if rng.chance(institute_share) { (rng.pick(institutes), true) } else { (rng.pick(enterprises), false) }
}

pub(crate) fn talents(rng: &mut Rng, count: usize, institutes: &[Org], enterprises: &[Org]) -> Vec<ListingBody> {
    let mut titles = TitleBook::default();
    let mut bodies = Vec::with_capacity(count);
    for index in 0..count {
        let (employer, academic) = supplier(rng, institutes, enterprises, 0.55);
        let sector = &SECTORS[employer.sector];
        let person = people::person(rng);
        let rank = rng.pick(if academic { ACADEMIC_RANKS } else { INDUSTRY_RANKS }).to_string();
        let mut expertise: Vec<String> = rng.sample(sector.expertise, 2).into_iter().map(str::to_string).collect();
        expertise.extend(rng.sample_between(sector.technologies, 1, 2).into_iter().map(str::to_string));
        let title = titles.draw(rng, |rng| {
            let focus = rng.pick(sector.technologies);
            format!("{}（{rank}）：{focus}与{}", person.name, rng.pick(sector.expertise))
        });
        let application = rng.pick(sector.applications);
        let summary = format!(
            "{}，{}{rank}，长期从事{}及其在{application}领域的应用研究，主持或参与国家及省部级科研项目{}项，授权发明专利{}项，可提供{}。",
            person.name,
            employer.name,
            expertise[expertise.len() - 1],
            rng.between(2, 25),
            rng.between(1, 40),
            rng.pick(TALENT_SERVICES),
        );
        let description = format!(
            "研究方向包括{}。曾围绕{application}中{}的问题，带领团队研制{}，{}。{}",
            expertise.join("、"),
            rng.pick(sector.problems),
            rng.pick(sector.products),
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
        let keyword_terms: Vec<&str> = expertise.iter().map(String::as_str).take(3).collect();
        let org_contact = people::contact(rng, employer);
        let core = Core {
            title,
            summary,
            description,
            keywords: compose::keywords(rng, sector, &keyword_terms),
            industry_codes: compose::industry_codes(rng, sector),
            disciplines: compose::disciplines(rng, sector),
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
    let mut titles = TitleBook::default();
    let mut bodies = Vec::with_capacity(count);
    for index in 0..count {
        let (owner, academic) = supplier(rng, institutes, enterprises, 0.7);
        let sector = &SECTORS[owner.sector];
        let mut technology = "";
        let mut product = "";
        let mut application = "";
        let title = titles.draw(rng, |rng| {
            technology = *rng.pick(sector.technologies);
            product = *rng.pick(sector.products);
            application = *rng.pick(sector.applications);
            match rng.weighted(&[45, 25, 15, 15]) {
                0 => format!("基于{technology}的{product}"),
                1 => format!("面向{application}的{technology}{product}"),
                2 => format!("{product}关键技术及应用（{technology}）"),
                _ => format!("{technology}驱动的{application}{product}"),
            }
        });
        let (first_metric, second_metric) = compose::two_metrics(rng, sector);
        let summary = format!(
            "{title}，{first_metric}，{second_metric}，已在{}{}完成验证，可{}。",
            rng.between(1, 12),
            rng.pick(sector.deployment_units),
            rng.pick(sector.benefits),
        );
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
            "项目针对{application}中{}的问题，采用{}与{technology}相结合的技术路线，目前处于技术成熟度{trl}级。成果持有方为{}，可通过{}方式与企业合作。{}",
            rng.pick(sector.problems),
            rng.pick(sector.technologies),
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
            keywords: compose::keywords(rng, sector, &[technology, product, application]),
            industry_codes: compose::industry_codes(rng, sector),
            disciplines: compose::disciplines(rng, sector),
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
    let mut titles = TitleBook::default();
    let mut bodies = Vec::with_capacity(count);
    for (index, facility_type) in facility_types(rng, count).into_iter().enumerate() {
        let (owner, _) = supplier(rng, institutes, enterprises, 0.6);
        let sector = &SECTORS[owner.sector];
        let title = titles.draw(rng, |rng| match facility_type {
            FacilityType::PilotBase => {
                let (prefix, _) = rng.pick(INSTITUTE_PREFIXES);
                let flavour = rng.pick(&["中试基地", "概念验证与中试基地", "中试熟化基地", "成果转化中试基地"]);
                format!("{prefix}{}{flavour}", sector.name)
            }
            FacilityType::PilotLine => format!("{}{}中试线", owner.name, rng.pick(sector.products)),
            FacilityType::Lab => format!("{}{}", owner.name, rng.pick(sector.labs)),
            FacilityType::Instrument => format!("{}{}", owner.name, rng.pick(sector.instruments)),
        });
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
            rng.pick(sector.products),
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
        let capability_terms: Vec<&str> = capabilities.iter().map(String::as_str).take(2).collect();
        let mut keyword_terms = vec![facility_type.label_zh()];
        keyword_terms.extend(capability_terms);
        let core = Core {
            title,
            summary,
            description,
            keywords: compose::keywords(rng, sector, &keyword_terms),
            industry_codes: compose::industry_codes(rng, sector),
            disciplines: compose::disciplines(rng, sector),
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
