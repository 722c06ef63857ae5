//! Banana dialects, and the vocabulary of dialect "pb".

/// The words of dialect "pb", from index 1 (banana.py l.267-302).
pub const VOCABULARY: [&[u8]; 31] = [
    b"None",
    b"class",
    b"dereference",
    b"reference",
    b"dictionary",
    b"function",
    b"instance",
    b"list",
    b"module",
    b"persistent",
    b"tuple",
    b"unpersistable",
    b"copy",
    b"cache",
    b"cached",
    b"remote",
    b"local",
    b"lcache",
    b"version",
    b"login",
    b"password",
    b"challenge",
    b"logged_in",
    b"not_logged_in",
    b"cachemessage",
    b"message",
    b"answer",
    b"error",
    b"decref",
    b"decache",
    b"uncache",
];

/// The word at vocabulary `index` (1-based), if there is one.
pub fn vocab_word(index: u64) -> Option<&'static [u8]> {
    let i = usize::try_from(index).ok()?.checked_sub(1)?;
    VOCABULARY.get(i).copied()
}

/// The vocabulary index of `word`, if it is a word.
pub fn vocab_index(word: &[u8]) -> Option<u64> {
    VOCABULARY.iter().position(|w| *w == word).map(|i| i as u64 + 1)
}

/// The banana dialect of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// Plain banana: no vocabulary (also the state before a dialect is chosen).
    #[default]
    None,
    /// Dialect "pb": vocabulary words are sent and accepted as `VOCAB` tokens.
    Pb,
}

impl Dialect {
    /// The dialects a server offers, in its order of preference.
    pub const OFFERED: [Dialect; 2] = [Dialect::Pb, Dialect::None];

    /// The dialect's name on the wire.
    pub fn name(self) -> &'static [u8] {
        match self {
            Dialect::None => b"none",
            Dialect::Pb => b"pb",
        }
    }

    /// The dialect named `name`, if known.
    pub fn from_name(name: &[u8]) -> Option<Dialect> {
        Dialect::OFFERED.into_iter().find(|d| d.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_indexes_match_twisted() {
        assert_eq!(vocab_index(b"None"), Some(1));
        assert_eq!(vocab_index(b"version"), Some(19));
        assert_eq!(vocab_index(b"uncache"), Some(31));
        assert_eq!(vocab_index(b"unicode"), None);
        assert_eq!(vocab_word(26), Some(&b"message"[..]));
        assert_eq!(vocab_word(0), None);
        assert_eq!(vocab_word(32), None);
    }
}
