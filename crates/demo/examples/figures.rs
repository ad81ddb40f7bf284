//! Prints how much the demo data looks like a real catalogue, for the default seed or the seed
//! given as the first argument: `cargo run --release -p xietong-demo --example figures [SEED]`.
//!
//! Per kind, the most similar pair of titles (longest common subsequence over the longer
//! title) and the topic (first keyword) that heads most listings; over all listings, the
//! technology phrases found in the most listings and the share without a discipline.

#[path = "../tests/measure/mod.rs"]
#[expect(dead_code, reason = "the example prints some of the measures the tests assert on")]
mod measure;

use xietong_domain::Kind;

/// Phrases the issue and the search demo name, counted besides the vocabulary's own.
const NAMED_PHRASES: &[&str] =
    &["机器视觉", "大模型", "无人机", "卫星", "工业机器人", "创新药", "应急救援", "AI", "深度学习"];

fn main() {
    let seed =
        std::env::args().nth(1).map_or(xietong_demo::DEFAULT_SEED, |text| text.parse().expect("seed is a number"));
    let data = xietong_demo::generate(seed);
    let listings = &data.listings;
    println!("seed {seed}: {} listings", listings.len());
    println!(
        "\nkind         titles  max title LCS ratio (pair)                                   max listings per topic (topic)"
    );
    for kind in Kind::ALL {
        let titles = measure::titles_of(listings, kind);
        let (pair, ratio) = match measure::most_similar_pair(&titles) {
            Some((left, right, ratio)) => (format!("{} / {}", titles[left].text, titles[right].text), ratio),
            None => (String::new(), 0.0),
        };
        let (per_topic, topic) = measure::most_listings_per_topic(listings.iter().filter(|b| b.kind() == kind));
        println!("{kind:<12} {:>6}  {ratio:.3} ({pair})  {per_topic} ({topic})", titles.len());
    }
    let mut phrases: Vec<String> = xietong_demo::technology_phrases().into_iter().map(str::to_string).collect();
    phrases.extend(NAMED_PHRASES.iter().map(|p| p.to_string()));
    phrases.extend(measure::common_keywords(listings, 0.01));
    phrases.sort();
    phrases.dedup();
    let phrase_refs: Vec<&str> = phrases.iter().map(String::as_str).collect();
    println!("\nphrases in the most listings (technology phrases, named phrases and keywords on 1%+ of listings):");
    for (phrase, count) in measure::listings_per_phrase(listings, &phrase_refs).into_iter().take(15) {
        println!("  {phrase:<16} {count:>5} listings  {:>5.1}%", 100.0 * count as f64 / listings.len() as f64);
    }
    println!("\nwithout discipline: {:.1}% of listings", 100.0 * measure::share_without_discipline(listings));
}
