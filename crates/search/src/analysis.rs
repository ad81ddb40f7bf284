//! Text analysis shared by indexing, querying, highlighting and explanations.
//!
//! Every text goes through [`normalize`] first: NFKC (folds full-width letters, digits and
//! punctuation to their half-width forms), lower case, then traditional → simplified Chinese.
//! Two tokenizers sit on top of it:
//!
//! * [`JiebaTokenizer`] (`zh_jieba`): jieba-rs in search mode (`cut_for_search`, HMM on), so a long
//!   word is indexed together with the dictionary words inside it. Latin tokens are stemmed by
//!   tantivy's English [`Stemmer`] in the analyzer chain.
//! * [`BigramTokenizer`] (`zh_bigram`): overlapping CJK character bigrams (a lone CJK character
//!   becomes a unigram) and whole Latin/digit words, with consecutive positions. A word inside a
//!   longer compound is always found this way (工程 in 在建工程), and a phrase query over these
//!   positions is a substring test for a key phrase.

use std::sync::OnceLock;

use jieba_rs::Jieba;
use tantivy::tokenizer::{Language, LowerCaser, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer};
use unicode_normalization::UnicodeNormalization;

/// Name under which the jieba analyzer is registered in the index.
pub const JIEBA_ANALYZER: &str = "zh_jieba";
/// Name under which the bigram analyzer is registered in the index.
pub const BIGRAM_ANALYZER: &str = "zh_bigram";

/// Generic words of demand boilerplate (寻求…相关技术成果, 需求, 征集 …). They carry no topic, so
/// they are dropped from the free text of a match request before ranking. This is a general list
/// for demand texts, not tuned to any document.
pub const DEMAND_STOPWORDS: &[&str] = &[
    "寻求",
    "寻找",
    "需求",
    "需要",
    "求购",
    "征集",
    "相关",
    "有关",
    "技术",
    "成果",
    "科技成果",
    "技术成果",
    "相关技术",
    "项目",
    "合作",
    "方面",
    "领域",
    "一种",
    "以及",
    "及其",
    "我们",
    "我司",
    "我方",
    "我单位",
    "本单位",
    "方案",
    "解决方案",
    "要求",
    "可以",
    "能够",
    "直接",
    "希望",
    "用于",
    "进行",
    "的",
    "和",
    "与",
    "及",
    "或",
    "等",
    "在",
    "对",
    "了",
    "是",
];

/// NFKC, lower case, traditional → simplified.
pub fn normalize(text: &str) -> String {
    let folded: String = text.nfkc().flat_map(char::to_lowercase).collect();
    if folded.chars().any(is_cjk) { zhconv::zhconv(&folded, zhconv::Variant::ZhHans) } else { folded }
}

/// True for CJK ideographs (the unified block and extension A, plus compatibility ideographs).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

/// The shared jieba instance (its dictionary takes a moment to load, so it is built once).
pub fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

/// The jieba analyzer: [`JiebaTokenizer`] + lower case + English stemming.
pub fn jieba_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(JiebaTokenizer).filter(LowerCaser).filter(Stemmer::new(Language::English)).build()
}

/// The bigram analyzer: [`BigramTokenizer`] + lower case + English stemming.
pub fn bigram_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(BigramTokenizer).filter(LowerCaser).filter(Stemmer::new(Language::English)).build()
}

/// Runs an analyzer over a text and returns the token texts.
pub fn analyze(analyzer: &TextAnalyzer, text: &str) -> Vec<String> {
    let mut analyzer = analyzer.clone();
    let mut stream = analyzer.token_stream(text);
    let mut tokens = Vec::new();
    while let Some(token) = stream.next() {
        tokens.push(token.text.clone());
    }
    tokens
}

/// Jieba search-mode tokenizer over normalized text.
#[derive(Clone, Default)]
pub struct JiebaTokenizer;

/// Character bigram tokenizer over normalized text.
#[derive(Clone, Default)]
pub struct BigramTokenizer;

/// A token stream over a precomputed vector of tokens.
pub struct VecTokenStream {
    tokens: Vec<Token>,
    next_index: usize,
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        if self.next_index < self.tokens.len() {
            self.next_index += 1;
            true
        } else {
            false
        }
    }
    fn token(&self) -> &Token {
        &self.tokens[self.next_index - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next_index - 1]
    }
}

impl Tokenizer for JiebaTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream { tokens: jieba_tokens(&normalize(text)), next_index: 0 }
    }
}

impl Tokenizer for BigramTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream { tokens: bigram_tokens(&normalize(text)), next_index: 0 }
    }
}

/// The whole words of a search text: jieba in default mode (HMM on) over the normalized text,
/// without punctuation, spaces and demand boilerplate ([`DEMAND_STOPWORDS`]).
pub fn query_words(text: &str) -> Vec<String> {
    let normalized = normalize(text);
    let mut words: Vec<String> = Vec::new();
    for word in jieba().cut(&normalized, true) {
        let word = word.trim();
        if !word.chars().any(|c| c.is_alphanumeric()) || DEMAND_STOPWORDS.contains(&word) {
            continue;
        }
        if !words.iter().any(|w| w == word) {
            words.push(word.to_string());
        }
    }
    words
}

/// Jieba search-mode tokens of an already normalized text; punctuation and space are dropped.
/// Offsets are byte offsets into `normalized`.
pub fn jieba_tokens(normalized: &str) -> Vec<Token> {
    let base = normalized.as_ptr() as usize;
    let mut tokens = Vec::new();
    for word in jieba().cut_for_search(normalized, true) {
        if !word.chars().any(|c| c.is_alphanumeric()) {
            continue;
        }
        // cut_for_search returns slices of its input, so the offset is the pointer difference.
        let offset_from = word.as_ptr() as usize - base;
        tokens.push(Token {
            offset_from,
            offset_to: offset_from + word.len(),
            position: tokens.len(),
            text: word.to_string(),
            position_length: 1,
        });
    }
    tokens
}

/// Bigram tokens of an already normalized text (see the module docs).
pub fn bigram_tokens(normalized: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = normalized.char_indices().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    let end_of = |i: usize| if i < chars.len() { chars[i].0 } else { normalized.len() };
    while index < chars.len() {
        let c = chars[index].1;
        if is_cjk(c) {
            let run_start = index;
            while index < chars.len() && is_cjk(chars[index].1) {
                index += 1;
            }
            if index - run_start == 1 {
                push_token(&mut tokens, normalized, chars[run_start].0, end_of(run_start + 1));
            } else {
                for (offset, (byte_start, _)) in chars[run_start..index - 1].iter().enumerate() {
                    push_token(&mut tokens, normalized, *byte_start, end_of(run_start + offset + 2));
                }
            }
        } else if is_word_char(c) {
            let run_start = index;
            while index < chars.len() && is_word_char(chars[index].1) {
                index += 1;
            }
            push_token(&mut tokens, normalized, chars[run_start].0, end_of(index));
        } else {
            index += 1;
        }
    }
    tokens
}

fn push_token(tokens: &mut Vec<Token>, text: &str, from: usize, to: usize) {
    tokens.push(Token {
        offset_from: from,
        offset_to: to,
        position: tokens.len(),
        text: text[from..to].to_string(),
        position_length: 1,
    });
}

/// Splits a key phrase such as `二氧化钛(TiO2)` into its parts (`二氧化钛`, `tio2`), normalized.
/// Brackets usually hold an abbreviation or a synonym, and each part is a phrase of its own.
pub fn phrase_parts(phrase: &str) -> Vec<String> {
    let normalized = normalize(phrase);
    let mut parts = Vec::new();
    for part in normalized.split(['(', ')', '[', ']', '【', '】', '《', '》', '/', ',', ';', '、']) {
        let trimmed = part.trim();
        if trimmed.chars().any(|c| c.is_alphanumeric()) && !parts.iter().any(|p: &String| p == trimmed) {
            parts.push(trimmed.to_string());
        }
    }
    parts
}

/// Splits demand free text into candidate key phrases at punctuation and list separators
/// (、，。；,;:) and strips the generic demand words at either end.
pub fn split_phrases(text: &str) -> Vec<String> {
    let normalized = normalize(text);
    let mut phrases = Vec::new();
    for piece in normalized.split(|c: char| "、，。；;,.:：!?！？\n\t ".contains(c)) {
        let mut phrase = piece.trim().to_string();
        loop {
            let before = phrase.clone();
            for stop in ["寻求", "寻找", "征集", "需求", "需要", "希望", "求购"] {
                if let Some(rest) = phrase.strip_prefix(stop) {
                    phrase = rest.to_string();
                }
            }
            for stop in ["相关技术成果", "技术成果", "相关技术", "相关成果", "相关", "成果", "的"]
            {
                if let Some(rest) = phrase.strip_suffix(stop) {
                    phrase = rest.to_string();
                }
            }
            if phrase == before {
                break;
            }
        }
        if phrase.chars().count() >= 2 && !phrases.contains(&phrase) {
            phrases.push(phrase);
        }
    }
    phrases
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bigrams(text: &str) -> Vec<String> {
        analyze(&bigram_analyzer(), text)
    }

    #[test]
    fn normalize_folds_width_case_and_traditional() {
        assert_eq!(normalize("ＡＢＣ１２３"), "abc123");
        assert_eq!(normalize("機器視覺"), "机器视觉");
    }

    #[test]
    fn bigram_field_finds_word_inside_compound() {
        let doc = bigrams("在建工程");
        assert!(bigrams("工程").iter().all(|t| doc.contains(t)));
        let doc = bigrams("测试工具箱");
        assert!(bigrams("工具").iter().all(|t| doc.contains(t)));
    }

    #[test]
    fn jieba_field_segments_and_stems_mixed_text() {
        let tokens = analyze(&jieba_analyzer(), "基于Running机器视觉的检测");
        assert!(tokens.contains(&"机器".to_string()), "{tokens:?}");
        assert!(tokens.contains(&"视觉".to_string()), "{tokens:?}");
        assert!(tokens.contains(&"run".to_string()), "{tokens:?}");
        let traditional = analyze(&jieba_analyzer(), "機器視覺");
        assert!(traditional.contains(&"机器".to_string()), "{traditional:?}");
        let full_width = analyze(&jieba_analyzer(), "ＧＮＳＳ干扰");
        assert!(full_width.contains(&"gnss".to_string()), "{full_width:?}");
    }

    #[test]
    fn phrase_parts_split_abbreviations() {
        assert_eq!(phrase_parts("二氧化钛(TiO2)"), vec!["二氧化钛", "tio2"]);
    }

    #[test]
    fn split_phrases_strips_demand_boilerplate() {
        assert_eq!(split_phrases("寻求预测控制、期望轨迹、仿真相关技术成果"), vec!["预测控制", "期望轨迹", "仿真"]);
    }
}
