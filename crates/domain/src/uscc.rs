//! Unified social credit code (统一社会信用代码), GB 32100-2015.

use std::fmt;

/// The 31 characters allowed in a USCC, in the order that gives each its value 0..=30.
const CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of positions 1..=17 (3^(i-1) mod 31).
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// A unified social credit code whose length, alphabet and check digit are valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uscc(String);

/// Why a string is not a valid USCC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    #[error("must be 18 characters, got {0}")]
    Length(usize),
    #[error(
        "character {character:?} at position {position} is not allowed (digits and capital letters except I, O, Z, S, V)"
    )]
    Character { position: usize, character: char },
    #[error("check digit is {found:?} but should be {expected:?}")]
    CheckDigit { found: char, expected: char },
}

impl UsccError {
    /// A Chinese rendering of the error for users.
    pub fn message_zh(&self) -> String {
        match self {
            UsccError::Length(n) => format!("统一社会信用代码应为18位，实际为{n}位"),
            UsccError::Character { position, character } => {
                format!("第{position}位字符“{character}”不允许（只能是数字和除 I、O、Z、S、V 外的大写字母）")
            }
            UsccError::CheckDigit { found, expected } => {
                format!("校验码为“{found}”，按 GB 32100 应为“{expected}”")
            }
        }
    }
}

fn char_value(byte: u8) -> Option<u32> {
    CHARSET.iter().position(|c| *c == byte).map(|p| p as u32)
}

impl Uscc {
    /// Parses a code, accepting lower case and surrounding whitespace.
    pub fn parse(raw: &str) -> Result<Self, UsccError> {
        let code: String = raw.trim().to_ascii_uppercase();
        let count = code.chars().count();
        if count != 18 {
            return Err(UsccError::Length(count));
        }
        let bytes = code.as_bytes();
        let mut sum = 0u32;
        for (index, byte) in bytes.iter().enumerate() {
            let Some(value) = char_value(*byte) else {
                return Err(UsccError::Character { position: index + 1, character: *byte as char });
            };
            if index < 17 {
                sum += value * WEIGHTS[index];
            }
        }
        let expected_value = (31 - sum % 31) % 31;
        let expected = CHARSET[expected_value as usize] as char;
        let found = bytes[17] as char;
        if found != expected {
            return Err(UsccError::CheckDigit { found, expected });
        }
        Ok(Uscc(code))
    }

    /// Builds a valid code from a 17-character body by appending its check digit.
    /// Returns `None` if the body has a character outside the USCC alphabet.
    pub fn with_check_digit(body17: &str) -> Option<Self> {
        if body17.len() != 17 {
            return None;
        }
        let mut sum = 0u32;
        for (index, byte) in body17.bytes().enumerate() {
            sum += char_value(byte)? * WEIGHTS[index];
        }
        let check = CHARSET[((31 - sum % 31) % 31) as usize] as char;
        Some(Uscc(format!("{body17}{check}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_codes() {
        // Public codes printed on business licences.
        for code in [
            "91110108551385082Q", // Xiaomi Technology (Beijing Haidian)
            "91350100M000100Y43", // the example in GB 32100-2015 itself
            "91110000802100433B", // Baidu (China) — Beijing
        ] {
            assert!(Uscc::parse(code).is_ok(), "{code} should be valid: {:?}", Uscc::parse(code));
        }
    }

    #[test]
    fn rejects_wrong_check_digit() {
        let err = Uscc::parse("91350100M000100Y44").unwrap_err();
        assert_eq!(err, UsccError::CheckDigit { found: '4', expected: '3' });
    }

    #[test]
    fn rejects_bad_length_and_letters() {
        assert_eq!(Uscc::parse("9135").unwrap_err(), UsccError::Length(4));
        assert!(matches!(
            Uscc::parse("91350100M000100I43").unwrap_err(),
            UsccError::Character { position: 16, character: 'I' }
        ));
    }

    proptest::proptest! {
        #[test]
        fn built_codes_parse(body in "[0-9A-HJ-NP-RTUWXY]{17}") {
            let code = Uscc::with_check_digit(&body).unwrap();
            proptest::prop_assert_eq!(Uscc::parse(code.as_str()).unwrap(), code);
        }
    }
}
