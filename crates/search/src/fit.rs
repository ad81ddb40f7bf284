//! The fit score of a match (issue 13 item 4): 0–100 points whose parts add up, each part
//! explained, and the relevance floor below which a candidate is not a match.
//!
//! Points go to **relevance** (how well the texts match, against the best match of the list and
//! against the words of the need) and to the **conditions** the need states (TRL, budget,
//! region, working pattern, …) and the ones the match states about itself (deadline, the regions
//! a talent is willing to work in). A met condition earns its share, an unknown one half of it,
//! an unmet one nothing, so a stated budget, TRL or region that is not met visibly lowers the
//! score. With no condition at all, relevance carries the whole 100.

use serde::Serialize;

/// Points of the conditions when at least one is checked; relevance has the rest.
const CONDITION_POINTS: u32 = 40;

/// Share of relevance that compares a match with the best of its list (the rest is the share of
/// the need's words the match contains).
const RELATIVE_SHARE: f64 = 0.6;

/// How a condition came out for one match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Met,
    /// One side does not say (e.g. an achievement without a price against a budget).
    Unknown,
    Unmet,
}

/// One checked condition, before it is turned into points.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
    pub zh: String,
    pub en: String,
}

impl Check {
    pub(crate) fn new(name: &'static str, outcome: Outcome, zh: String, en: String) -> Check {
        Check { name, outcome, zh, en }
    }
}

/// One part of the fit score, explained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitPart {
    /// `relevance` or the name of a condition: `trl`, `budget`, `region`, `talent_mode`,
    /// `willing_region`, `deadline`.
    pub name: String,
    /// Points earned; the points of all parts add up to the fit score.
    pub points: u32,
    /// Points this part can earn.
    pub max: u32,
    pub outcome: Option<Outcome>,
    pub zh: String,
    pub en: String,
}

/// The fit score (0–100) and its parts, which add up to it.
pub(crate) fn fit(relative: f64, coverage: f64, checks: &[Check]) -> (u32, Vec<FitPart>) {
    let condition_points = if checks.is_empty() { 0 } else { CONDITION_POINTS };
    let relevance_max = 100 - condition_points;
    let relevance =
        (RELATIVE_SHARE * relative.clamp(0.0, 1.0) + (1.0 - RELATIVE_SHARE) * coverage.clamp(0.0, 1.0)).clamp(0.0, 1.0);
    let relevance_points = (f64::from(relevance_max) * relevance).round() as u32;
    let mut parts = vec![FitPart {
        name: "relevance".to_string(),
        points: relevance_points,
        max: relevance_max,
        outcome: None,
        zh: format!(
            "内容相关度：与本组最佳匹配相比 {:.0}%，覆盖需求关键词 {:.0}%",
            relative.clamp(0.0, 1.0) * 100.0,
            coverage.clamp(0.0, 1.0) * 100.0
        ),
        en: format!(
            "Relevance: {:.0}% of the best match, {:.0}% of the need's key words",
            relative.clamp(0.0, 1.0) * 100.0,
            coverage.clamp(0.0, 1.0) * 100.0
        ),
    }];
    // Condition points are split as evenly as whole numbers allow.
    let count = checks.len() as u32;
    for (index, check) in checks.iter().enumerate() {
        let share = condition_points / count + u32::from((index as u32) < condition_points % count);
        let points = match check.outcome {
            Outcome::Met => share,
            Outcome::Unknown => share / 2,
            Outcome::Unmet => 0,
        };
        parts.push(FitPart {
            name: check.name.to_string(),
            points,
            max: share,
            outcome: Some(check.outcome),
            zh: check.zh.clone(),
            en: check.en.clone(),
        });
    }
    let total = parts.iter().map(|p| p.points).sum();
    debug_assert!(total <= 100);
    (total, parts)
}

/// The content words of a need with their weights, to measure how much of the need a match
/// covers and to keep out matches that share only a generic word.
pub(crate) struct NeedWords {
    /// (word, specificity in 0..=1): idf over the highest idf the index can give.
    words: Vec<(String, f64)>,
    total: f64,
    /// Whether the index is large enough for the floor (see [`MIN_DOCS_FOR_FLOOR`]).
    floor_applies: bool,
}

/// Least summed specificity of the shared words for a candidate to count as a match by its
/// words: one specific word (in at most about one percent of the listings) or two ordinary ones
/// pass, one generic word does not (`MatchWeights::relevance_floor`).
#[cfg(test)]
pub(crate) const RELEVANCE_FLOOR: f64 = 0.4;

/// Fewest listings for the floor to apply: in a smaller index the document frequencies do not
/// tell a generic word from a specific one (in a catalogue of eight, a word in all eight may
/// still be the topic).
pub(crate) const MIN_DOCS_FOR_FLOOR: u64 = 1_000;

impl NeedWords {
    /// `doc_freq` gives the number of listings holding a word; `num_docs` the listings searched.
    pub(crate) fn new(words: Vec<String>, num_docs: u64, mut doc_freq: impl FnMut(&str) -> Option<u64>) -> NeedWords {
        let num_docs = num_docs.max(1) as f64;
        let idf = |df: f64| (1.0 + (num_docs - df + 0.5) / (df + 0.5)).ln();
        let max_idf = idf(1.0).max(f64::EPSILON);
        let mut weighted = Vec::new();
        for word in words {
            let Some(df) = doc_freq(&word) else { continue };
            if df == 0 {
                continue; // no listing holds it, so it cannot tell matches apart
            }
            weighted.push((word, (idf(df as f64) / max_idf).clamp(0.0, 1.0)));
        }
        let total = weighted.iter().map(|(_, w)| w).sum();
        NeedWords { words: weighted, total, floor_applies: num_docs >= MIN_DOCS_FOR_FLOOR as f64 }
    }

    /// The need's words found in `target_text` (normalized), with their summed specificity and
    /// the share of the need's weight they carry. A word inside a longer shared word counts once.
    pub(crate) fn shared(&self, target_text: &str) -> (Vec<&str>, f64, f64) {
        let mut found: Vec<(&str, f64)> = self
            .words
            .iter()
            .filter(|(w, _)| target_text.contains(w.as_str()))
            .map(|(w, s)| (w.as_str(), *s))
            .collect();
        found.sort_by_key(|(w, _)| std::cmp::Reverse(w.len()));
        let mut kept: Vec<(&str, f64)> = Vec::new();
        for (word, weight) in found {
            if !kept.iter().any(|(longer, _)| longer.contains(word)) {
                kept.push((word, weight));
            }
        }
        let mass: f64 = kept.iter().map(|(_, w)| w).sum();
        let found_weight: f64 =
            self.words.iter().filter(|(w, _)| target_text.contains(w.as_str())).map(|(_, s)| s).sum();
        let coverage = if self.total > 0.0 { found_weight / self.total } else { 0.0 };
        (kept.into_iter().map(|(w, _)| w).collect(), mass, coverage)
    }

    /// Whether the floor can judge candidates: the need has content words and the index is
    /// large enough.
    pub(crate) fn floor_applies(&self) -> bool {
        self.floor_applies && !self.words.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn check(outcome: Outcome) -> Check {
        Check::new("trl", outcome, String::new(), String::new())
    }

    #[test]
    fn parts_add_up_and_unmet_conditions_cost() {
        for checks in [vec![], vec![check(Outcome::Met)], vec![check(Outcome::Met); 3], vec![check(Outcome::Unmet); 7]]
        {
            let (total, parts) = fit(1.0, 1.0, &checks);
            assert_eq!(total, parts.iter().map(|p| p.points).sum::<u32>());
            assert_eq!(parts.iter().map(|p| p.max).sum::<u32>(), 100);
        }
        let (all_met, _) = fit(0.8, 0.5, &[check(Outcome::Met), check(Outcome::Met), check(Outcome::Met)]);
        let (one_unknown, _) = fit(0.8, 0.5, &[check(Outcome::Met), check(Outcome::Unknown), check(Outcome::Met)]);
        let (one_unmet, _) = fit(0.8, 0.5, &[check(Outcome::Met), check(Outcome::Unmet), check(Outcome::Met)]);
        assert!(all_met > one_unknown && one_unknown > one_unmet, "{all_met} {one_unknown} {one_unmet}");
        assert!(all_met - one_unmet >= 10, "an unmet condition costs visibly");
    }

    #[test]
    fn one_generic_word_is_below_the_floor_and_one_specific_word_above() {
        let frequencies: HashMap<&str, u64> = [("检测", 3_000), ("钙钛矿", 3), ("平台", 2_500)].into();
        let words = vec!["检测".to_string(), "钙钛矿".to_string(), "平台".to_string()];
        let need = NeedWords::new(words, 10_000, |w| frequencies.get(w).copied());
        let (_, generic, _) = need.shared("提供检测服务");
        assert!(generic < RELEVANCE_FLOOR, "{generic}");
        let (_, specific, _) = need.shared("钙钛矿薄膜");
        assert!(specific >= RELEVANCE_FLOOR, "{specific}");
    }
}
