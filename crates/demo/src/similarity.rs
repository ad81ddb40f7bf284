//! The title rule of a catalogue that does not look generated: within a kind, no two titles
//! share more than 80% of their characters in order, and no topic heads more than five listings.
//!
//! [`TitleBook`] enforces both while titles are drawn, so the rule holds by construction for
//! every seed. Comparing a new title with every earlier one would cost O(n) longest common
//! subsequences per title; the book keeps an inverted index from characters to titles instead
//! and compares only with titles that share one of a few of the new title's rarest characters.
//! That is the prefix filter of set-similarity joins (Chaudhuri, Ganti and Kaushik, "A primitive
//! operator for similarity joins in data cleaning", ICDE 2006), and it misses no pair: if the
//! longest common subsequence of `a` and `b` exceeds 80% of the longer, fewer than a fifth of
//! the characters of `a` are unmatched, so among any `len(a) / 5 + 1` positions of `a` at least
//! one is matched, and its character occurs in `b`.

use std::collections::{HashMap, HashSet};

use crate::rng::Rng;

/// Within a kind, the longest common subsequence of two titles is at most this share of the
/// longer title (as a fraction `MAX_SHARED_NUMERATOR / MAX_SHARED_DENOMINATOR`, 80%).
pub const MAX_TITLE_SIMILARITY: f64 = 0.8;
const MAX_SHARED_NUMERATOR: usize = 4;
const MAX_SHARED_DENOMINATOR: usize = 5;

/// Within a kind, a topic phrase heads at most this many listings.
pub const MAX_LISTINGS_PER_TOPIC: usize = 5;

/// A title and the topic phrase it is about.
pub(crate) struct Drawn {
    pub(crate) title: String,
    pub(crate) topic: String,
}

/// The titles and topics drawn so far for one kind.
pub(crate) struct TitleBook {
    /// The kind, for the message when the vocabulary runs out.
    kind: &'static str,
    titles: Vec<Vec<char>>,
    /// The characters of each title, sorted, for the multiset bound.
    sorted_titles: Vec<Vec<char>>,
    /// For each character, the titles that contain it (each title once).
    titles_by_char: HashMap<char, Vec<u32>>,
    listings_per_topic: HashMap<String, usize>,
    /// For each title, the last candidate it was compared with, so that a title found under
    /// several probed characters is compared once.
    last_compared: Vec<u32>,
    candidates_seen: u32,
}

impl TitleBook {
    pub(crate) fn new(kind: &'static str) -> TitleBook {
        TitleBook {
            kind,
            titles: Vec::new(),
            sorted_titles: Vec::new(),
            titles_by_char: HashMap::new(),
            listings_per_topic: HashMap::new(),
            last_compared: Vec::new(),
            candidates_seen: 0,
        }
    }

    /// Far more than any kind needs; running out means the vocabulary is too small.
    const ATTEMPTS: usize = 5_000;

    /// Draws `(title, topic)` pairs until one keeps the rule, and records it.
    pub(crate) fn draw(&mut self, rng: &mut Rng, mut compose: impl FnMut(&mut Rng) -> Drawn) -> Drawn {
        for _ in 0..Self::ATTEMPTS {
            let drawn = compose(rng);
            if self.listings_per_topic.get(&drawn.topic).copied().unwrap_or(0) >= MAX_LISTINGS_PER_TOPIC {
                continue;
            }
            let chars: Vec<char> = drawn.title.chars().collect();
            if self.too_similar_to_an_earlier_title(&chars) {
                continue;
            }
            self.record(chars, &drawn.topic);
            return drawn;
        }
        panic!("the demo vocabulary yields no new {} title after {} attempts", self.kind, Self::ATTEMPTS);
    }

    /// Titles recorded so far.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.titles.len()
    }

    fn record(&mut self, chars: Vec<char>, topic: &str) {
        let index = self.titles.len() as u32;
        let distinct: HashSet<char> = chars.iter().copied().collect();
        for character in distinct {
            self.titles_by_char.entry(character).or_default().push(index);
        }
        let mut sorted = chars.clone();
        sorted.sort_unstable();
        self.sorted_titles.push(sorted);
        self.titles.push(chars);
        self.last_compared.push(0);
        *self.listings_per_topic.entry(topic.to_string()).or_default() += 1;
    }

    fn too_similar_to_an_earlier_title(&mut self, candidate: &[char]) -> bool {
        self.candidates_seen += 1;
        let mut by_rarity: Vec<(usize, char)> = candidate
            .iter()
            .map(|character| (self.titles_by_char.get(character).map_or(0, Vec::len), *character))
            .collect();
        by_rarity.sort_unstable();
        let mut sorted_candidate = candidate.to_vec();
        sorted_candidate.sort_unstable();
        let probes = candidate.len() / MAX_SHARED_DENOMINATOR + 1;
        for (_, character) in by_rarity.into_iter().take(probes) {
            let Some(titles) = self.titles_by_char.get(&character) else { continue };
            for index in titles {
                let index = *index as usize;
                if self.last_compared[index] == self.candidates_seen {
                    continue;
                }
                self.last_compared[index] = self.candidates_seen;
                let longer = candidate.len().max(self.titles[index].len());
                let shorter = candidate.len().min(self.titles[index].len());
                if !exceeds(shorter, longer) {
                    continue;
                }
                // Characters in common, counted with repeats, bound the common subsequence.
                if !exceeds(common_characters(&sorted_candidate, &self.sorted_titles[index]), longer) {
                    continue;
                }
                if shares_too_much(candidate, &self.titles[index]) {
                    return true;
                }
            }
        }
        false
    }
}

/// Whether `shared` characters are more than 80% of `longer`.
fn exceeds(shared: usize, longer: usize) -> bool {
    shared * MAX_SHARED_DENOMINATOR > longer * MAX_SHARED_NUMERATOR
}

/// Whether the longest common subsequence of `a` and `b` exceeds 80% of the longer.
pub(crate) fn shares_too_much(a: &[char], b: &[char]) -> bool {
    let longer = a.len().max(b.len());
    exceeds(a.len().min(b.len()), longer) && exceeds(longest_common_subsequence(a, b), longer)
}

/// How many characters two sorted sequences have in common, counted with repeats.
fn common_characters(a: &[char], b: &[char]) -> usize {
    let (mut left, mut right, mut common) = (0, 0, 0);
    while left < a.len() && right < b.len() {
        match a[left].cmp(&b[right]) {
            std::cmp::Ordering::Less => left += 1,
            std::cmp::Ordering::Greater => right += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                left += 1;
                right += 1;
            }
        }
    }
    common
}

/// Length of the longest common subsequence, by the textbook dynamic programme in two rows.
pub(crate) fn longest_common_subsequence(a: &[char], b: &[char]) -> usize {
    let mut previous = vec![0usize; b.len() + 1];
    let mut current = vec![0usize; b.len() + 1];
    for a_char in a {
        for (column, b_char) in b.iter().enumerate() {
            current[column + 1] =
                if a_char == b_char { previous[column] + 1 } else { previous[column + 1].max(current[column]) };
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    #[test]
    fn longest_common_subsequence_of_known_pairs() {
        assert_eq!(longest_common_subsequence(&chars("ABCBDAB"), &chars("BDCABA")), 4);
        assert_eq!(longest_common_subsequence(&chars("锂电池极片缺陷检测"), &chars("钢板表面缺陷检测")), 4);
        assert_eq!(longest_common_subsequence(&chars(""), &chars("卫星")), 0);
    }

    #[test]
    fn eighty_percent_is_allowed_and_more_is_not() {
        // 8 of 10 characters shared: exactly 80%.
        assert!(!shares_too_much(&chars("北京睿拓光电有限公司"), &chars("北京恒联光电有限公司")));
        // 10 of 12 shared: 83%.
        assert!(shares_too_much(&chars("北京睿拓智能科技有限公司"), &chars("北京恒联智能科技有限公司")));
    }

    /// Composes from a fixed queue of `(title, topic)` pairs.
    fn from_queue(queue: &'static [(&'static str, &'static str)]) -> impl FnMut(&mut Rng) -> Drawn {
        let mut next = 0;
        move |_| {
            let (title, topic) = queue[next % queue.len()];
            next += 1;
            Drawn { title: title.to_string(), topic: topic.to_string() }
        }
    }

    #[test]
    fn the_book_skips_a_near_copy() {
        let mut book = TitleBook::new("test");
        let mut rng = Rng::new(1, 1);
        let first = book.draw(&mut rng, from_queue(&[("基于机器视觉的锂电池极片缺陷检测系统", "极片检测")]));
        assert_eq!(first.title, "基于机器视觉的锂电池极片缺陷检测系统");
        // 17 of 18 characters in order like the first: skipped for the next candidate.
        let queue = &[("基于机器视觉的锂电池极片缺陷检测装置", "极片装置"), ("钢板表面质量在线检测", "钢板检测")];
        assert_eq!(book.draw(&mut rng, from_queue(queue)).title, "钢板表面质量在线检测");
        // 14 of 18 (78%): allowed.
        let allowed = book.draw(&mut rng, from_queue(&[("基于深度学习的锂电池极片缺陷检测系统", "极片检测")]));
        assert_eq!(allowed.topic, "极片检测");
        assert_eq!(book.len(), 3);
    }

    #[test]
    fn the_book_skips_a_sixth_listing_of_a_topic() {
        let mut book = TitleBook::new("test");
        let mut rng = Rng::new(1, 1);
        let titles = &[
            ("卫星", "遥感"),
            ("森林火灾早期识别", "遥感"),
            ("冷冻电镜共享平台", "遥感"),
            ("协作机器人打磨单元", "遥感"),
            ("大模型政务问答", "遥感"),
            ("高光谱数据处理", "遥感"),
            ("新型疫苗", "疫苗"),
        ];
        let mut compose = from_queue(titles);
        let topics: Vec<String> = (0..6).map(|_| book.draw(&mut rng, &mut compose).topic).collect();
        assert_eq!(topics, ["遥感", "遥感", "遥感", "遥感", "遥感", "疫苗"]);
    }
}
