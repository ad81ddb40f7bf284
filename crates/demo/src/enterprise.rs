//! Enterprises and their sites across Beijing, Tianjin and Hebei.

use xietong_domain::{Details, EnterpriseDetails, ListingBody, Site, SiteRole, Uscc};

use crate::compose::{self, Core};
use crate::people::{self, Org};
use crate::places::{self, Area, FENGTAI};
use crate::rng::Rng;
use crate::similarity::{Drawn, TitleBook};
use crate::vocab::{PROGRESS_SENTENCES, SECTORS};
use crate::{FENGTAI_HQ_WITH_JINJI_BRANCH, JINJI_HQ_WITH_FENGTAI_SITE, JINJI_HQ_WITH_TWO_FENGTAI_SITES, counts};

/// Where an enterprise sits and which cross-region sites it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    /// HQ in Fengtai with R&D or manufacturing in Tianjin or Hebei.
    FengtaiWithJinjiBranch,
    /// HQ in Tianjin or Hebei with one (or two) subsidiary sites in Fengtai.
    JinjiWithFengtaiSites(usize),
    /// HQ in Fengtai, no site in Tianjin or Hebei.
    FengtaiLocal,
    /// HQ in Tianjin or Hebei, no site in Fengtai.
    JinjiLocal,
    /// HQ elsewhere in Beijing.
    OtherBeijing,
}

const FENGTAI_LOCAL: usize = 260;
const JINJI_LOCAL: usize = 470;

/// The enterprise listings and the organisations they stand for (same order).
pub(crate) fn generate(rng: &mut Rng) -> (Vec<ListingBody>, Vec<Org>) {
    let total = counts().enterprises;
    let jinji_one_site = JINJI_HQ_WITH_FENGTAI_SITE - JINJI_HQ_WITH_TWO_FENGTAI_SITES;
    let mut profiles = Vec::with_capacity(total);
    profiles.extend(std::iter::repeat_n(Profile::FengtaiWithJinjiBranch, FENGTAI_HQ_WITH_JINJI_BRANCH));
    profiles.extend(std::iter::repeat_n(Profile::JinjiWithFengtaiSites(1), jinji_one_site));
    profiles.extend(std::iter::repeat_n(Profile::JinjiWithFengtaiSites(2), JINJI_HQ_WITH_TWO_FENGTAI_SITES));
    profiles.extend(std::iter::repeat_n(Profile::FengtaiLocal, FENGTAI_LOCAL));
    profiles.extend(std::iter::repeat_n(Profile::JinjiLocal, JINJI_LOCAL));
    profiles.resize(total, Profile::OtherBeijing);
    rng.shuffle(&mut profiles);

    let mut names = TitleBook::new("enterprise");
    let mut bodies = Vec::with_capacity(total);
    let mut orgs = Vec::with_capacity(total);
    for (index, profile) in profiles.into_iter().enumerate() {
        let (body, org) = enterprise(rng, index, profile, &mut names);
        bodies.push(body);
        orgs.push(org);
    }
    (bodies, orgs)
}

fn sites_for(rng: &mut Rng, profile: Profile) -> Vec<Site> {
    let hq_code = match profile {
        Profile::FengtaiWithJinjiBranch | Profile::FengtaiLocal => FENGTAI.to_string(),
        Profile::JinjiWithFengtaiSites(_) | Profile::JinjiLocal => places::tianjin_or_hebei(rng),
        Profile::OtherBeijing => places::region_in(rng, Area::Beijing),
    };
    let mut sites = vec![site(rng, &hq_code, SiteRole::Hq)];
    match profile {
        Profile::FengtaiWithJinjiBranch => {
            let branches = 1 + rng.weighted(&[75, 20, 5]);
            for _ in 0..branches {
                let role = if rng.chance(0.75) { SiteRole::Manufacturing } else { SiteRole::RAndD };
                let code = places::tianjin_or_hebei(rng);
                sites.push(site(rng, &code, role));
            }
        }
        Profile::JinjiWithFengtaiSites(fengtai_sites) => {
            for _ in 0..fengtai_sites {
                let role = [SiteRole::RAndD, SiteRole::Scenario, SiteRole::Manufacturing][rng.weighted(&[60, 20, 20])];
                sites.push(site(rng, FENGTAI, role));
            }
            if rng.chance(0.2) {
                let code = places::tianjin_or_hebei(rng);
                sites.push(site(rng, &code, SiteRole::Manufacturing));
            }
        }
        Profile::FengtaiLocal => {
            if rng.chance(0.4) {
                let code = places::region_in(rng, Area::Beijing);
                let role = [SiteRole::RAndD, SiteRole::Manufacturing, SiteRole::Scenario][rng.weighted(&[40, 40, 20])];
                sites.push(site(rng, &code, role));
            }
        }
        Profile::JinjiLocal => {
            if rng.chance(0.35) {
                let code = places::tianjin_or_hebei(rng);
                sites.push(site(rng, &code, SiteRole::Manufacturing));
            }
            if rng.chance(0.15) {
                let code = places::region_in(rng, Area::Beijing);
                sites.push(site(rng, &code, SiteRole::RAndD));
            }
        }
        Profile::OtherBeijing => {
            if rng.chance(0.35) {
                let code = places::tianjin_or_hebei(rng);
                sites.push(site(rng, &code, SiteRole::Manufacturing));
            }
            if rng.chance(0.1) {
                sites.push(site(rng, FENGTAI, SiteRole::Scenario));
            }
        }
    }
    sites
}

fn site(rng: &mut Rng, region_code: &str, role: SiteRole) -> Site {
    Site { region_code: region_code.to_string(), role, address: Some(places::address(rng, region_code)) }
}

fn site_label(role: SiteRole) -> &'static str {
    match role {
        SiteRole::Hq => "总部",
        SiteRole::RAndD => "研发中心",
        SiteRole::Manufacturing => "生产基地",
        SiteRole::Scenario => "应用示范基地",
    }
}

/// A USCC body: 91 (enterprise, company) + 6-digit region + 9-character organisation code.
/// The organisation code is `index` scrambled by a multiplication that is a bijection modulo
/// 31^7, so codes are distinct for distinct indices whatever the region.
fn uscc(rng: &mut Rng, index: usize, region_code: &str) -> String {
    const CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const MODULUS: u64 = 27_512_614_111; // 31^7
    let mut scrambled = (index as u64 + 1).wrapping_mul(1_000_003) % MODULUS;
    let mut org_code = [b'0'; 7];
    for slot in org_code.iter_mut().rev() {
        *slot = CHARSET[(scrambled % 31) as usize];
        scrambled /= 31;
    }
    let prefix = if rng.chance(0.8) { "MA" } else { "L0" };
    let body17 = format!("91{region_code}{prefix}{}", String::from_utf8_lossy(&org_code));
    let code = Uscc::with_check_digit(&body17).expect("composed USCC body uses the USCC alphabet");
    code.as_str().to_string()
}

fn enterprise(rng: &mut Rng, index: usize, profile: Profile, names: &mut TitleBook) -> (ListingBody, Org) {
    let sector_index = rng.below(SECTORS.len());
    let sector = &SECTORS[sector_index];
    let sites = sites_for(rng, profile);
    let hq_code = sites[0].region_code.clone();
    let city = places::city_prefix(rng, &hq_code);
    let mut company = None;
    let mut main_topic = None;
    let drawn = names.draw(rng, |rng| {
        let candidate = people::company_name(rng, &city, sector);
        let topic = compose::topic(rng, sector);
        let drawn = Drawn { title: candidate.name.clone(), topic: topic.phrase() };
        company = Some(candidate);
        main_topic = Some(topic);
        drawn
    });
    let (Some(company), Some(main_topic)) = (company, main_topic) else { unreachable!("draw composes at least once") };
    let name = drawn.title;
    let org = Org {
        name: name.clone(),
        short_name: company.short_name,
        domain: company.domain,
        region_code: hq_code.clone(),
        sector: sector_index,
    };

    let technology = *rng.pick(main_topic.technologies);
    let applications = rng.sample(main_topic.applications, 2);
    let founded = rng.between(1998, 2023);
    let main_product = drawn.topic;
    let mut summary = match rng.below(3) {
        0 => format!(
            "{name}成立于{founded}年，总部位于{}，主营{main_product}，产品已应用于{}和{}等领域",
            places::display_name(&hq_code),
            applications[0],
            applications[1],
        ),
        1 => format!(
            "{}是一家专注{}{}的{}企业，{founded}年成立于{}，客户覆盖{}和{}",
            org.short_name,
            main_topic.subject,
            main_topic.result,
            sector.name,
            places::display_name(&hq_code),
            applications[0],
            applications[1],
        ),
        _ => format!(
            "{name}（简称{}）深耕{}领域，以{technology}为核心技术，提供{main_product}，总部设在{}",
            org.short_name,
            applications[0],
            places::display_name(&hq_code),
        ),
    };
    let branch_texts: Vec<String> = sites[1..]
        .iter()
        .map(|s| format!("在{}设有{}", places::display_name(&s.region_code), site_label(s.role)))
        .collect();
    if !branch_texts.is_empty() {
        summary.push('，');
        summary.push_str(&branch_texts.join("，"));
    }
    summary.push('。');
    let staff = rng.between(20, 1500);
    let research_share = rng.between(15, 65);
    let patents = rng.between(2, 120);
    let honour = rng.pick(&[
        "国家高新技术企业",
        "专精特新“小巨人”企业",
        "北京市专精特新中小企业",
        "科技型中小企业",
        "国家级高新技术企业、瞪羚企业",
    ]);
    let description = format!(
        "公司现有员工{staff}人，研发人员占比{research_share}%，累计获得发明专利{patents}项，是{honour}。{}，{}。{}{}",
        compose::metric(rng, sector),
        rng.pick(sector.benefits),
        rng.pick(PROGRESS_SENTENCES),
        rng.pick(sector.pitches),
    );
    let mut region_codes: Vec<String> = Vec::new();
    for site in &sites {
        if !region_codes.contains(&site.region_code) {
            region_codes.push(site.region_code.clone());
        }
    }
    let core = Core {
        title: name.clone(),
        summary,
        description,
        keywords: compose::keywords(rng, sector, &main_product, &[technology, applications[0]]),
        industry_codes: compose::industry_codes(rng, sector),
        disciplines: compose::disciplines(rng, sector, 0.9),
        region_codes,
        owner_org: name.clone(),
        contact: people::contact(rng, &org),
        external_id: format!("demo-enterprise-{index:05}"),
    };
    let details = Details::Enterprise(EnterpriseDetails { uscc: Some(uscc(rng, index, &hq_code)), sites });
    (compose::body(rng, core, details), org)
}
