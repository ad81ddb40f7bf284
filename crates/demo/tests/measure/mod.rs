//! Measurements of how much the demo data looks like a real catalogue, shared by the tests and
//! by `cargo run -p xietong-demo --example figures`. Written independently of the generator: it
//! reads only the listings.

use std::collections::{BTreeMap, HashMap};

use xietong_domain::{Kind, ListingBody};

/// The five sector names: category labels the dashboard counts, not technology phrases.
pub const SECTOR_NAMES: [&str; 5] = ["安全应急", "航空航天", "人工智能", "医药健康", "智能制造"];

/// The text a search sees: title, keywords and the searchable fields.
pub fn all_text(body: &ListingBody) -> String {
    format!("{}\n{}\n{}", body.title, body.keywords.join(" "), body.searchable_text())
}

/// The topic of a listing: its first keyword.
pub fn topic(body: &ListingBody) -> &str {
    body.keywords.first().map_or("", String::as_str)
}

/// Length of the longest common subsequence of `a` and `b`.
pub fn longest_common_subsequence(a: &[char], b: &[char]) -> usize {
    let mut row = vec![0usize; b.len() + 1];
    for a_char in a {
        let mut diagonal = 0;
        for (column, b_char) in b.iter().enumerate() {
            let above = row[column + 1];
            row[column + 1] = if a_char == b_char { diagonal + 1 } else { above.max(row[column]) };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// A title split into characters, with the same characters sorted for multiset bounds.
pub struct Title {
    pub text: String,
    chars: Vec<char>,
    sorted: Vec<char>,
}

impl Title {
    pub fn new(text: &str) -> Title {
        let chars: Vec<char> = text.chars().collect();
        let mut sorted = chars.clone();
        sorted.sort_unstable();
        Title { text: text.to_string(), chars, sorted }
    }

    /// Longest common subsequence over the longer length.
    pub fn similarity(&self, other: &Title) -> f64 {
        let longer = self.chars.len().max(other.chars.len()).max(1);
        longest_common_subsequence(&self.chars, &other.chars) as f64 / longer as f64
    }

    /// Whether the two share more than 80% of the longer title's characters in order.
    pub fn shares_more_than_80_percent_with(&self, other: &Title) -> bool {
        self.similarity_bound(other) > 0.8 && self.similarity(other) > 0.8
    }

    /// An upper bound of [`Title::similarity`]: characters the two have in common, counted with
    /// repeats (a common subsequence cannot use more), over the longer length.
    fn similarity_bound(&self, other: &Title) -> f64 {
        let longer = self.chars.len().max(other.chars.len()).max(1);
        let (mut left, mut right, mut common) = (0, 0, 0);
        while left < self.sorted.len() && right < other.sorted.len() {
            match self.sorted[left].cmp(&other.sorted[right]) {
                std::cmp::Ordering::Less => left += 1,
                std::cmp::Ordering::Greater => right += 1,
                std::cmp::Ordering::Equal => {
                    common += 1;
                    left += 1;
                    right += 1;
                }
            }
        }
        common as f64 / longer as f64
    }
}

/// The most similar pair among `titles` (indices and similarity), computed exactly: a pair is
/// skipped only when its bound cannot beat the best pair found so far.
pub fn most_similar_pair(titles: &[Title]) -> Option<(usize, usize, f64)> {
    let mut best: Option<(usize, usize, f64)> = None;
    for (left, a) in titles.iter().enumerate() {
        for (offset, b) in titles[left + 1..].iter().enumerate() {
            let best_so_far = best.map_or(-1.0, |(_, _, value)| value);
            let length_bound = a.chars.len().min(b.chars.len()) as f64 / a.chars.len().max(b.chars.len()).max(1) as f64;
            if length_bound <= best_so_far || a.similarity_bound(b) <= best_so_far {
                continue;
            }
            let value = a.similarity(b);
            if value > best_so_far {
                best = Some((left, left + 1 + offset, value));
            }
        }
    }
    best
}

/// The largest number of listings of one kind that share a topic, with that topic.
pub fn most_listings_per_topic<'a>(listings: impl Iterator<Item = &'a ListingBody>) -> (usize, String) {
    let mut per_topic: HashMap<&str, usize> = HashMap::new();
    for body in listings {
        *per_topic.entry(topic(body)).or_default() += 1;
    }
    per_topic
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(topic, count)| (count, topic.to_string()))
        .unwrap_or_default()
}

/// How many listings contain each phrase anywhere in their text, most frequent first.
pub fn listings_per_phrase(listings: &[ListingBody], phrases: &[&str]) -> Vec<(String, usize)> {
    let texts: Vec<String> = listings.iter().map(all_text).collect();
    let mut counts: Vec<(String, usize)> = phrases
        .iter()
        .map(|phrase| (phrase.to_string(), texts.iter().filter(|text| text.contains(phrase)).count()))
        .collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

/// Keywords (other than sector names) that at least `min_share` of all listings carry as a
/// keyword: the generic phrases worth counting in the full text.
pub fn common_keywords(listings: &[ListingBody], min_share: f64) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for body in listings {
        for keyword in &body.keywords {
            *counts.entry(keyword.as_str()).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .filter(|(keyword, count)| {
            !SECTOR_NAMES.contains(keyword) && *count as f64 >= min_share * listings.len() as f64
        })
        .map(|(keyword, _)| keyword.to_string())
        .collect()
}

/// Share of listings without any discipline.
pub fn share_without_discipline(listings: &[ListingBody]) -> f64 {
    listings.iter().filter(|body| body.disciplines.is_empty()).count() as f64 / listings.len() as f64
}

/// The titles of one kind.
pub fn titles_of(listings: &[ListingBody], kind: Kind) -> Vec<Title> {
    listings.iter().filter(|body| body.kind() == kind).map(|body| Title::new(&body.title)).collect()
}
