//! A tiny deterministic random number generator (SplitMix64).
//!
//! Written here rather than taken from a crate so that the demo data never changes with a
//! dependency upgrade: the same seed yields the same bytes forever.

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014).
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    /// A generator for one independent stream of a seed, so that each kind of listing draws
    /// from its own stream and a change to one kind does not reshuffle the others.
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        let mut rng = Rng { state: seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03) };
        rng.next_u64();
        rng
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// Uniform in `0..bound`; `bound` must be positive. The modulo bias is below 2^-40 for the
    /// small bounds used here.
    pub(crate) fn below(&mut self, bound: usize) -> usize {
        debug_assert!(bound > 0);
        (self.next_u64() % bound as u64) as usize
    }

    /// Uniform in `low..=high`.
    pub(crate) fn between(&mut self, low: u32, high: u32) -> u32 {
        debug_assert!(low <= high);
        low + self.below((high - low + 1) as usize) as u32
    }

    /// True with probability `probability`.
    pub(crate) fn chance(&mut self, probability: f64) -> bool {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit < probability
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// An index drawn with the given relative weights.
    pub(crate) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut ticket = self.below(total as usize) as u32;
        for (index, weight) in weights.iter().enumerate() {
            if ticket < *weight {
                return index;
            }
            ticket -= weight;
        }
        weights.len() - 1
    }

    /// `count` distinct items in random order (all of them if there are fewer).
    pub(crate) fn sample<T: Clone>(&mut self, items: &[T], count: usize) -> Vec<T> {
        let mut indices: Vec<usize> = (0..items.len()).collect();
        let wanted = count.min(items.len());
        for position in 0..wanted {
            let swap_with = position + self.below(indices.len() - position);
            indices.swap(position, swap_with);
        }
        indices[..wanted].iter().map(|index| items[*index].clone()).collect()
    }

    /// Between `low` and `high` (inclusive) distinct items.
    pub(crate) fn sample_between<T: Clone>(&mut self, items: &[T], low: usize, high: usize) -> Vec<T> {
        let count = low + self.below(high - low + 1);
        self.sample(items, count)
    }

    /// Fisher–Yates shuffle in place.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for position in (1..items.len()).rev() {
            let swap_with = self.below(position + 1);
            items.swap(position, swap_with);
        }
    }
}
