//! Reading the golden Twisted fixtures in `tests/twisted/fixtures/`.
//!
//! A line is `<dir> <hex>  # <python repr>`, `dir` one of `val` (banana of
//! one value, dialect "pb"), `S>C` or `C>S`; `!decode-only` marks bytes that
//! vary between runs (a Failure's count). Lines starting with `#` are
//! comments.

#![allow(dead_code)]

use std::path::PathBuf;

/// One fixture line.
#[derive(Debug, Clone)]
pub struct Line {
    /// The fixture file's name, without `.txt`.
    pub case: String,
    /// 1-based line number.
    pub number: usize,
    /// `val`, `S>C` or `C>S`.
    pub dir: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Python's repr of the value.
    pub repr: String,
    /// Whether the bytes vary between runs (decode them, do not compare them).
    pub decode_only: bool,
}

impl Line {
    /// `case:number` for messages.
    pub fn at(&self) -> String {
        format!("{}.txt:{} ({})", self.case, self.number, self.repr)
    }
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/twisted/fixtures")
}

/// The lines of one fixture file.
pub fn load(case: &str) -> Vec<Line> {
    let path = dir().join(format!("{case}.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
        .map(|(i, l)| {
            let (dir, rest) = l.split_once(' ').expect("direction");
            let (hex, repr) = rest.split_once("  # ").expect("repr");
            let decode_only = repr.ends_with("!decode-only");
            Line {
                case: case.to_string(),
                number: i + 1,
                dir: dir.to_string(),
                bytes: unhex(hex),
                repr: repr.trim_end_matches("!decode-only").trim_end().to_string(),
                decode_only,
            }
        })
        .collect()
}

/// Every fixture file's name.
pub fn cases() -> Vec<String> {
    let mut cases: Vec<String> = std::fs::read_dir(dir())
        .expect("fixtures dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .map(|p| p.file_stem().expect("stem").to_string_lossy().into_owned())
        .collect();
    cases.sort();
    cases
}

/// Every line of every fixture.
pub fn all() -> Vec<Line> {
    cases().iter().flat_map(|c| load(c)).collect()
}

/// Bytes from hex.
pub fn unhex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd hex");
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect()
}
