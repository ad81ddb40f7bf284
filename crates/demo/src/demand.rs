//! The demand side: scenarios, enterprise demands and open challenges (揭榜挂帅).
//!
//! Demands come mostly from manufacturers in Tianjin and Hebei and use the same sector
//! vocabulary as the achievements, which come mostly from Beijing, so matching finds pairs.

use xietong_domain::{ChallengeDetails, Criterion, DemandDetails, Details, ListingBody, ScenarioDetails};

use crate::compose::{self, Core};
use crate::people::{self, INSTITUTE_PREFIXES, Org};
use crate::places::{self, Area, FENGTAI};
use crate::rng::Rng;
use crate::similarity::{Drawn, TitleBook};
use crate::vocab::{COOPERATION_SENTENCES, CRITERIA, SECTORS, TITLE_QUALIFIERS};

/// An enterprise in Tianjin or Hebei with probability `jinji_share`, otherwise any enterprise.
fn demanding_enterprise<'a>(rng: &mut Rng, enterprises: &'a [Org], jinji_share: f64) -> &'a Org {
    if rng.chance(jinji_share) {
        loop {
            let candidate = rng.pick(enterprises);
            if matches!(places::area_of(&candidate.region_code), Area::Tianjin | Area::Hebei | Area::Xiongan) {
                return candidate;
            }
        }
    }
    rng.pick(enterprises)
}

fn preferred_regions(rng: &mut Rng) -> Vec<String> {
    let mut regions = Vec::new();
    if rng.chance(0.6) {
        regions.push(FENGTAI.to_string());
    }
    if rng.chance(0.5) {
        regions.push("110000".to_string());
    }
    if regions.is_empty() || rng.chance(0.3) {
        let code = places::any_region(rng);
        if !regions.contains(&code) {
            regions.push(code);
        }
    }
    regions
}

const PARK_TYPES: &[&str] =
    &["高新技术产业园", "智慧物流园", "国际医药城", "航天产业园", "应急产业基地", "智能制造产业园", "数字经济产业园"];

pub(crate) fn scenarios(rng: &mut Rng, count: usize, enterprises: &[Org], institutes: &[Org]) -> Vec<ListingBody> {
    let mut titles = TitleBook::new("scenario");
    let mut bodies = Vec::with_capacity(count);
    for index in 0..count {
        let park;
        let offering: &Org = match rng.weighted(&[65, 15, 20]) {
            0 => rng.pick(enterprises),
            1 => rng.pick(institutes),
            _ => {
                let (prefix, pinyin) = rng.pick(INSTITUTE_PREFIXES);
                let sector_index = rng.below(SECTORS.len());
                let park_name = format!("{prefix}{}", rng.pick(PARK_TYPES));
                park = Org {
                    name: format!("{park_name}管理委员会"),
                    short_name: park_name,
                    domain: format!("{pinyin}park.org.cn"),
                    region_code: places::any_region(rng),
                    sector: sector_index,
                };
                &park
            }
        };
        let sector = &SECTORS[offering.sector];
        let district = places::short_name(&offering.region_code);
        let mut application = "";
        let mut topic = compose::topic(rng, sector);
        let drawn = titles.draw(rng, |rng| {
            topic = compose::topic(rng, sector);
            application = *rng.pick(topic.applications);
            let phrase = topic.phrase();
            let short = &offering.short_name;
            let title = match rng.below(6) {
                0 => format!("{district}{application}场景开放：{phrase}示范应用"),
                1 => format!("{phrase}应用场景征集（{district}）"),
                2 => format!("{short}开放{}场景，征集{}", topic.subject, topic.result),
                3 => format!("{application}示范场景：{phrase}"),
                4 => format!("{short}{phrase}试点场景"),
                _ => format!("{district}首批{application}创新应用场景——{phrase}"),
            };
            Drawn { title, topic: phrase }
        });
        let wanted_technology: Vec<String> =
            rng.sample_between(topic.technologies, 2, 4).into_iter().map(str::to_string).collect();
        let budget = compose::amount(rng, 50, 2000, 50);
        let site = places::address(rng, &offering.region_code);
        let summary = format!(
            "{}面向{}开放{application}应用场景，拟在{site}开展{}示范应用，重点解决{}的问题，场景预算约{budget}万元。",
            offering.name,
            wanted_technology.join("、"),
            drawn.topic,
            rng.pick(sector.problems),
        );
        let description = format!(
            "场景方提供{}，希望揭榜单位在{}个月内完成部署，验收指标为{}。{}{}",
            rng.pick(&[
                "真实运行环境、数据和配套条件",
                "试点点位、历史数据和现场配合人员",
                "测试场地、电力网络和安全保障"
            ]),
            rng.between(3, 12),
            compose::metric(rng, sector),
            rng.pick(COOPERATION_SENTENCES),
            rng.pick(sector.pitches),
        );
        let window_start = compose::day(rng, 2027, 2027);
        let window_end = compose::day(rng, 2028, 2028);
        let core = Core {
            title: drawn.title,
            summary,
            description,
            keywords: compose::keywords(rng, sector, &drawn.topic, &[application, wanted_technology[0].as_str()]),
            industry_codes: compose::industry_codes(rng, sector),
            disciplines: compose::disciplines(rng, sector, 0.9),
            region_codes: vec![offering.region_code.clone()],
            owner_org: offering.name.clone(),
            contact: people::contact(rng, offering),
            external_id: format!("demo-scenario-{index:05}"),
        };
        let details = Details::Scenario(ScenarioDetails {
            offering_org: Some(offering.name.clone()),
            site: Some(site),
            wanted_technology,
            window_start: Some(window_start),
            window_end: Some(window_end),
            budget: Some(budget),
            ..Default::default()
        });
        bodies.push(compose::body(rng, core, details));
    }
    bodies
}

pub(crate) fn demands(rng: &mut Rng, count: usize, enterprises: &[Org]) -> Vec<ListingBody> {
    let mut titles = TitleBook::new("demand");
    let mut bodies = Vec::with_capacity(count);
    for index in 0..count {
        let owner = demanding_enterprise(rng, enterprises, 0.7);
        let sector = &SECTORS[owner.sector];
        let mut technology = "";
        let mut application = "";
        let mut topic = compose::topic(rng, sector);
        let drawn = titles.draw(rng, |rng| {
            topic = compose::topic(rng, sector);
            technology = *rng.pick(topic.technologies);
            application = *rng.pick(topic.applications);
            let phrase = topic.phrase();
            let (subject, result) = (topic.subject, topic.result);
            let title = match rng.below(10) {
                0 => format!("寻求{phrase}解决方案"),
                1 => format!("{phrase}技术需求"),
                2 => format!("征集{phrase}合作开发单位"),
                3 => format!("{phrase}国产化替代需求"),
                4 => format!("{application}企业寻求{phrase}"),
                5 => format!("关于{subject}{result}的联合攻关需求"),
                6 => format!("求购{}{phrase}", rng.pick(TITLE_QUALIFIERS)),
                7 => format!("{subject}{result}升级改造需求"),
                8 => format!("诚邀高校院所合作研发{phrase}"),
                _ => format!("{phrase}（{technology}方向）技术需求"),
            };
            Drawn { title, topic: phrase }
        });
        let product = drawn.topic.as_str();
        let problem_text = rng.pick(sector.problems);
        let target = compose::metric(rng, sector);
        let problem = format!(
            "我单位在{application}业务中存在{problem_text}的问题，希望引入{technology}技术，开发或采购{product}，要求{target}。"
        );
        let budget = compose::amount(rng, 20, 800, 10);
        let summary = format!(
            "{}寻求{technology}方向的{product}，用于{application}，解决{problem_text}的问题，预算约{budget}万元。",
            owner.name
        );
        let description = format!(
            "{problem}{}可提供{}。{}",
            rng.pick(COOPERATION_SENTENCES),
            rng.pick(&[
                "试验产线和现场数据",
                "测试样品和验收场地",
                "历史运行数据和技术对接人员",
                "中试场地和部分配套资金"
            ]),
            rng.pick(sector.pitches)
        );
        let desired_trl = [5u8, 6, 7, 8][rng.weighted(&[20, 35, 30, 15])];
        let core = Core {
            title: drawn.title.clone(),
            summary,
            description,
            keywords: compose::keywords(rng, sector, product, &[technology, application]),
            industry_codes: compose::industry_codes(rng, sector),
            disciplines: compose::disciplines(rng, sector, 0.6),
            region_codes: vec![owner.region_code.clone()],
            owner_org: owner.name.clone(),
            contact: people::contact(rng, owner),
            external_id: format!("demo-demand-{index:05}"),
        };
        let details = Details::Demand(DemandDetails {
            problem: Some(problem),
            desired_trl: Some(desired_trl),
            budget: Some(budget),
            deadline: Some(compose::day(rng, 2027, 2028)),
            preferred_regions: preferred_regions(rng),
            ..Default::default()
        });
        bodies.push(compose::body(rng, core, details));
    }
    bodies
}

/// Integer weights in steps of 5 that add up to exactly 100.
fn criteria(rng: &mut Rng) -> Vec<Criterion> {
    let names = rng.sample_between(CRITERIA, 3, 5);
    let mut remaining_steps = 20u32;
    let mut criteria = Vec::with_capacity(names.len());
    for (position, name) in names.iter().enumerate() {
        let left_after = (names.len() - position - 1) as u32;
        let steps = if left_after == 0 { remaining_steps } else { rng.between(1, remaining_steps - left_after).min(8) };
        remaining_steps -= steps;
        criteria.push(Criterion { name: name.to_string(), weight: f64::from(steps * 5) });
    }
    criteria
}

pub(crate) fn challenges(rng: &mut Rng, count: usize, enterprises: &[Org]) -> Vec<ListingBody> {
    let mut titles = TitleBook::new("challenge");
    let mut bodies = Vec::with_capacity(count);
    for index in 0..count {
        let owner = demanding_enterprise(rng, enterprises, 0.5);
        let sector = &SECTORS[owner.sector];
        let mut topic = compose::topic(rng, sector);
        let drawn = titles.draw(rng, |rng| {
            topic = compose::topic(rng, sector);
            let phrase = topic.phrase();
            let title = match rng.below(4) {
                0 => format!("揭榜挂帅：{phrase}关键技术攻关"),
                1 => format!("{phrase}“揭榜挂帅”项目"),
                2 => format!("揭榜挂帅｜{}{}联合攻关（{}）", topic.subject, topic.result, owner.short_name),
                _ => format!("{}年度揭榜挂帅榜单：{phrase}", rng.between(2026, 2027)),
            };
            Drawn { title, topic: phrase }
        });
        let product = drawn.topic.as_str();
        let technology = *rng.pick(topic.technologies);
        let application = *rng.pick(topic.applications);
        let prize = compose::amount(rng, 100, 3000, 50);
        let months = rng.between(6, 24);
        let (first_metric, second_metric) = compose::two_metrics(rng, sector);
        let requirements = format!(
            "揭榜方需在{months}个月内完成基于{technology}的{product}样机研制，{first_metric}，{second_metric}，并在{application}场景完成不少于3个月的试运行。"
        );
        let summary = format!(
            "{}面向京津冀公开张榜，攻关{product}中{}的难题，榜单金额{prize}万元，采用赛马制择优支持。",
            owner.name,
            rng.pick(sector.problems),
        );
        let description = format!("{requirements}{}", rng.pick(sector.pitches));
        let core = Core {
            title: drawn.title.clone(),
            summary,
            description,
            keywords: compose::keywords(rng, sector, product, &["揭榜挂帅", technology]),
            industry_codes: compose::industry_codes(rng, sector),
            disciplines: compose::disciplines(rng, sector, 0.5),
            region_codes: vec![owner.region_code.clone()],
            owner_org: owner.name.clone(),
            contact: people::contact(rng, owner),
            external_id: format!("demo-challenge-{index:05}"),
        };
        let details = Details::Challenge(ChallengeDetails {
            requirements: Some(requirements),
            prize: Some(prize),
            deadline: Some(compose::day(rng, 2027, 2028)),
            criteria: criteria(rng),
            max_teams: Some(rng.between(2, 5)),
            ..Default::default()
        });
        bodies.push(compose::body(rng, core, details));
    }
    bodies
}
