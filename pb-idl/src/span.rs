//! Source files and byte spans into them.

use std::path::{Path, PathBuf};

use codespan_reporting::files::SimpleFiles;

/// Identifies one source file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub(crate) usize);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The file.
    pub file: FileId,
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` in `file`.
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start, end: end.max(start) }
    }

    /// The smallest span covering `self` and `other` (same file).
    pub fn to(self, other: Span) -> Span {
        Span::new(self.file, self.start.min(other.start), self.end.max(other.end))
    }
}

/// Every source file read, with its text: what diagnostics point into.
#[derive(Default)]
pub struct SourceMap {
    pub(crate) files: SimpleFiles<String, String>,
    paths: Vec<Option<PathBuf>>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Add a file read from `path`, shown in diagnostics as `name`.
    pub fn add(&mut self, name: impl Into<String>, path: Option<PathBuf>, text: impl Into<String>) -> FileId {
        let id = self.files.add(name.into(), text.into());
        self.paths.push(path);
        FileId(id)
    }

    /// The text of `file`.
    pub fn text(&self, file: FileId) -> &str {
        self.files.get(file.0).map_or("", |f| f.source().as_str())
    }

    /// The display name of `file`.
    pub fn name(&self, file: FileId) -> &str {
        self.files.get(file.0).map_or("", |f| f.name().as_str())
    }

    /// The path `file` was read from, if it came from the file system.
    pub fn path(&self, file: FileId) -> Option<&Path> {
        self.paths.get(file.0).and_then(|p| p.as_deref())
    }

    /// Every file read from the file system, in the order read.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.paths.iter().filter_map(|p| p.as_deref())
    }

    /// 1-based line and column of `offset` in `file`.
    pub fn line_col(&self, file: FileId, offset: usize) -> (usize, usize) {
        let text = self.text(file);
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}
