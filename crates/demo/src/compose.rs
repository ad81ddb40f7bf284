//! Small helpers shared by the generators of every kind.

use xietong_domain::{Contact, Day, Details, ListingBody, Status, Visibility};

use crate::rng::Rng;
use crate::vocab::Sector;

/// What a listing is about: a subject and a kind of result from one [`TopicGroup`].
///
/// [`TopicGroup`]: crate::vocab::TopicGroup
#[derive(Debug, Clone, Copy)]
pub(crate) struct Topic {
    pub(crate) subject: &'static str,
    pub(crate) result: &'static str,
    /// Applications where the topic is used.
    pub(crate) applications: &'static [&'static str],
    /// Technologies the topic builds on.
    pub(crate) technologies: &'static [&'static str],
}

impl Topic {
    /// The topic phrase, e.g. 城市燃气管网泄漏监测预警系统.
    pub(crate) fn phrase(&self) -> String {
        format!("{}{}", self.subject, self.result)
    }
}

/// A topic of the sector, every one equally likely.
pub(crate) fn topic(rng: &mut Rng, sector: &Sector) -> Topic {
    let sizes: Vec<u32> = sector.topic_groups.iter().map(|g| (g.subjects.len() * g.results.len()) as u32).collect();
    let group = &sector.topic_groups[rng.weighted(&sizes)];
    let subject = *rng.pick(group.subjects);
    let result = *rng.pick(group.results);
    Topic { subject, result, applications: group.applications, technologies: group.technologies }
}

/// One measurable claim such as 检测精度达0.02毫米.
pub(crate) fn metric(rng: &mut Rng, sector: &Sector) -> String {
    let (prefix, values, suffix) = rng.pick(sector.metrics);
    format!("{prefix}{}{suffix}", rng.pick(values))
}

/// Two different claims.
pub(crate) fn two_metrics(rng: &mut Rng, sector: &Sector) -> (String, String) {
    let chosen = rng.sample(sector.metrics, 2);
    let render = |rng: &mut Rng, (prefix, values, suffix): &(&str, &[&str], &str)| {
        format!("{prefix}{}{suffix}", rng.pick(values))
    };
    (render(rng, &chosen[0]), render(rng, &chosen[1]))
}

/// Share of keyword lists that also name one of the sector's signature terms (机器视觉, 卫星, …).
const SIGNATURE_KEYWORD_SHARE: f64 = 0.2;

/// 3–6 keywords: the topic first (it names what the listing is about), the sector, the given
/// specific terms, and now and then one of the sector's signature terms.
pub(crate) fn keywords(rng: &mut Rng, sector: &Sector, topic: &str, specific: &[&str]) -> Vec<String> {
    let mut words: Vec<String> = vec![topic.to_string(), sector.name.to_string()];
    let signature = rng.chance(SIGNATURE_KEYWORD_SHARE).then(|| *rng.pick(sector.signature_terms));
    for term in specific.iter().copied().chain(signature) {
        if words.len() == 6 {
            break;
        }
        if !words.iter().any(|w| w == term) {
            words.push(term.to_string());
        }
    }
    if words.len() < 3 {
        words.push(rng.pick(sector.applications).to_string());
    }
    words
}

pub(crate) fn industry_codes(rng: &mut Rng, sector: &Sector) -> Vec<String> {
    let count = 1 + rng.below(2);
    rng.sample(sector.industry_codes, count).into_iter().map(str::to_string).collect()
}

/// One or two disciplines, or none with probability `share_without`: people who publish
/// listings often leave the field empty, enterprises and site owners most of all.
pub(crate) fn disciplines(rng: &mut Rng, sector: &Sector, share_without: f64) -> Vec<String> {
    if rng.chance(share_without) {
        return Vec::new();
    }
    let count = 1 + rng.below(2);
    rng.sample(sector.disciplines, count).into_iter().map(str::to_string).collect()
}

/// A day in `first_year..=last_year`; days stop at 28 so every month is valid.
pub(crate) fn day(rng: &mut Rng, first_year: u32, last_year: u32) -> Day {
    let text = format!("{}-{:02}-{:02}", rng.between(first_year, last_year), rng.between(1, 12), rng.between(1, 28));
    Day::parse(&text).expect("composed date is valid")
}

/// A round amount in 万元 between `low` and `high`, in steps of `step`.
pub(crate) fn amount(rng: &mut Rng, low: u32, high: u32, step: u32) -> f64 {
    f64::from(rng.between(low / step, high / step) * step)
}

/// Mostly published; about 0.4% drafts.
pub(crate) fn status(rng: &mut Rng) -> Status {
    if rng.chance(0.004) { Status::Draft } else { Status::Published }
}

/// About 90% public, the rest for registered users or the region.
pub(crate) fn visibility(rng: &mut Rng) -> Visibility {
    [Visibility::Public, Visibility::Registered, Visibility::Region][rng.weighted(&[90, 7, 3])]
}

/// The parts of a body that every kind fills in.
pub(crate) struct Core {
    pub(crate) title: String,
    pub(crate) summary: String,
    pub(crate) description: String,
    pub(crate) keywords: Vec<String>,
    pub(crate) industry_codes: Vec<String>,
    pub(crate) disciplines: Vec<String>,
    pub(crate) region_codes: Vec<String>,
    pub(crate) owner_org: String,
    pub(crate) contact: Contact,
    pub(crate) external_id: String,
}

pub(crate) fn body(rng: &mut Rng, core: Core, details: Details) -> ListingBody {
    let mut visibility = visibility(rng);
    let mut status = status(rng);
    // Enterprises are public registry facts and carry the cross-region figures the dashboard
    // reproduces exactly, so they are always published and public.
    if matches!(details, Details::Enterprise(_)) {
        visibility = Visibility::Public;
        status = Status::Published;
    }
    ListingBody {
        title: core.title,
        summary: core.summary,
        description: core.description,
        keywords: core.keywords,
        industry_codes: core.industry_codes,
        disciplines: core.disciplines,
        region_codes: core.region_codes,
        owner_org: Some(core.owner_org),
        contact: Some(core.contact),
        visibility,
        status,
        external_id: Some(core.external_id),
        details,
    }
}
