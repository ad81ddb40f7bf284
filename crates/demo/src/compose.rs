//! Small helpers shared by the generators of every kind.

use std::collections::HashSet;

use xietong_domain::{Contact, Day, Details, ListingBody, Status, Visibility};

use crate::rng::Rng;
use crate::vocab::Sector;

/// Draws titles until one is new, so that nearly all titles of a kind are distinct.
#[derive(Default)]
pub(crate) struct TitleBook {
    seen: HashSet<String>,
}

impl TitleBook {
    const ATTEMPTS: usize = 16;

    pub(crate) fn draw(&mut self, rng: &mut Rng, mut compose: impl FnMut(&mut Rng) -> String) -> String {
        let mut title = compose(rng);
        for _ in 1..Self::ATTEMPTS {
            if !self.seen.contains(&title) {
                break;
            }
            title = compose(rng);
        }
        self.seen.insert(title.clone());
        title
    }
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

/// 3–6 keywords: two core terms of the sector plus the given specific terms.
pub(crate) fn keywords(rng: &mut Rng, sector: &Sector, specific: &[&str]) -> Vec<String> {
    let mut words: Vec<String> = Vec::with_capacity(6);
    for term in rng.sample(sector.core_terms, 2).into_iter().chain(specific.iter().copied()) {
        if words.len() == 6 {
            break;
        }
        if !words.iter().any(|w| w == term) {
            words.push(term.to_string());
        }
    }
    if words.len() < 3 {
        for term in sector.core_terms {
            if words.len() < 3 && !words.iter().any(|w| w == term) {
                words.push(term.to_string());
            }
        }
    }
    words
}

pub(crate) fn industry_codes(rng: &mut Rng, sector: &Sector) -> Vec<String> {
    let count = 1 + rng.below(2);
    rng.sample(sector.industry_codes, count).into_iter().map(str::to_string).collect()
}

pub(crate) fn disciplines(rng: &mut Rng, sector: &Sector) -> Vec<String> {
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
