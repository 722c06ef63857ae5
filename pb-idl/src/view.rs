//! What a diagnostic shows of its source: only the lines it points at,
//! made safe and short for a terminal.
//!
//! - Invisible and control characters (a zero-width space, a right-to-left
//!   override, an escape sequence) are written as `\u{200b}`, so the reader
//!   sees them, a caret can point at them, and nothing is sent raw to the
//!   terminal.
//! - A long line (a 2 MB minified line) is cut to a window around the
//!   column, with `...` where text was left out.
//!
//! Line numbers and the `file:line:col` header still count in the original
//! text: [`View`] implements codespan's [`Files`] over the rewritten lines
//! and maps offsets both ways.

use std::ops::Range;

use codespan_reporting::files::{Error, Files};

use crate::span::{FileId, SourceMap, Span};

/// A line longer than this many characters is shown as a window.
const MAX_LINE_CHARS: usize = 160;
/// Characters of a window shown before the first column pointed at.
const BEFORE_COLUMN: usize = 40;
/// What stands for text left out of a window.
const ELLIPSIS: &str = "...";

/// Whether `c` is shown escaped: control characters (but tab, which the
/// renderer expands), characters that are invisible or change how the text
/// around them is displayed, and spaces other than the plain one.
pub fn is_hidden(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(
            c,
            '\u{00a0}'
                | '\u{00ad}'
                | '\u{034f}'
                | '\u{061c}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{17b4}'
                | '\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{2000}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{202f}'
                | '\u{205f}'..='\u{206f}'
                | '\u{3000}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

/// `text` with every [hidden](is_hidden) character but `\n` escaped as `\u{...}`.
pub fn escape(text: &str) -> String {
    if !text.chars().any(|c| c != '\n' && is_hidden(c)) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c != '\n' && is_hidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// One original line, as shown.
struct Line {
    /// Its index in the original file.
    index: usize,
    /// Where it starts in the original text.
    orig_start: usize,
    /// Where it starts and ends (before its `\n`) in the view text.
    view: Range<usize>,
    /// Original offset and view offset of each character shown, and of the
    /// end of the window (ascending in both).
    map: Vec<(usize, usize)>,
}

/// The shown lines of one file.
struct ViewFile {
    file: FileId,
    name: String,
    text: String,
    /// Ascending by `index` (and so by view offset).
    lines: Vec<Line>,
}

/// The lines a set of spans point at, rewritten for display.
pub struct View<'a> {
    sources: &'a SourceMap,
    files: Vec<ViewFile>,
}

impl<'a> View<'a> {
    /// A view of what `spans` point at: each line they touch, and the one
    /// before and after (the renderer may show a line between two labels).
    pub fn new(sources: &'a SourceMap, spans: &[Span]) -> View<'a> {
        let mut files: Vec<FileId> = spans.iter().map(|s| s.file).collect();
        files.sort();
        files.dedup();
        let files = files
            .into_iter()
            .map(|file| {
                let spans: Vec<Range<usize>> =
                    spans.iter().filter(|s| s.file == file).map(|s| clamp(sources.text(file), *s)).collect();
                view_file(sources, file, &spans)
            })
            .collect();
        View { sources, files }
    }

    fn file(&self, id: usize) -> Result<&ViewFile, Error> {
        self.files.iter().find(|f| f.file.0 == id).ok_or(Error::FileMissing)
    }

    /// Where the original offset `offset` of `file` is in the view.
    pub fn to_view(&self, file: FileId, offset: usize) -> usize {
        let Ok(f) = self.file(file.0) else { return 0 };
        let orig_line = original_line(self.sources, file, offset);
        let Some(line) = f.lines.iter().find(|l| l.index == orig_line) else { return 0 };
        // Before the window: its start; past it: its end; else the character holding `offset`.
        match line.map.binary_search_by_key(&offset, |&(o, _)| o) {
            Ok(i) => line.map[i].1,
            Err(0) => line.map.first().map_or(line.view.start, |&(_, v)| v),
            Err(i) => line.map[i - 1].1,
        }
    }
}

impl View<'_> {
    /// Whether both ends of `span` are in the text shown (not cut from a long line).
    pub fn shows(&self, span: Span) -> bool {
        let Ok(f) = self.file(span.file.0) else { return false };
        let r = clamp(self.sources.text(span.file), span);
        [r.start, r.end].into_iter().all(|offset| {
            let index = original_line(self.sources, span.file, offset);
            f.lines.iter().find(|l| l.index == index).is_some_and(|l| {
                let (first, last) = (l.map.first().map_or(0, |m| m.0), l.map.last().map_or(0, |m| m.0));
                (first..=last).contains(&offset)
            })
        })
    }
}

/// The index of the original line holding `offset`.
fn original_line(sources: &SourceMap, file: FileId, offset: usize) -> usize {
    sources.files.line_index(file.0, offset).unwrap_or(0)
}

/// `span` as a range of char boundaries in `text`.
pub fn clamp(text: &str, span: Span) -> Range<usize> {
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

fn view_file(sources: &SourceMap, file: FileId, spans: &[Range<usize>]) -> ViewFile {
    let text = sources.text(file);
    let last_line = original_line(sources, file, text.len());
    // Original line index -> offsets pointed at in it.
    let mut wanted: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for s in spans {
        let (first, last) = (original_line(sources, file, s.start), original_line(sources, file, s.end));
        for l in first.saturating_sub(1)..=(last + 1).min(last_line) {
            wanted.entry(l).or_default();
        }
        wanted.entry(first).or_default().push(s.start);
        wanted.entry(last).or_default().push(s.end);
    }
    let mut out = ViewFile { file, name: escape(sources.name(file)), text: String::new(), lines: Vec::new() };
    for (index, focus) in wanted {
        let Ok(range) = sources.files.line_range(file.0, index) else { continue };
        let content = text.get(range.clone()).unwrap_or("").trim_end_matches('\n').trim_end_matches('\r');
        let line = show_line(&mut out.text, content, range.start, &focus);
        out.lines.push(Line { index, ..line });
        out.text.push('\n');
    }
    out
}

/// Append the shown form of one line (`content`, at `orig_start` in the
/// original) to `view`, windowed around the first offset in `focus`.
fn show_line(view: &mut String, content: &str, orig_start: usize, focus: &[usize]) -> Line {
    let view_start = view.len();
    let chars: Vec<(usize, char)> = content.char_indices().collect();
    let (mut from, mut to) = (0, chars.len());
    if chars.len() > MAX_LINE_CHARS {
        // Around the first offset pointed at (the primary label's), and the
        // others before it too if they fit.
        let char_at = |o: usize| chars.partition_point(|&(b, _)| b < o.saturating_sub(orig_start));
        let first = focus.first().map_or(0, |&o| char_at(o));
        let min = focus.iter().map(|&o| char_at(o)).min().unwrap_or(0);
        let at = if first - min < MAX_LINE_CHARS - 2 * BEFORE_COLUMN { min } else { first };
        from = at.saturating_sub(BEFORE_COLUMN);
        to = (from + MAX_LINE_CHARS).min(chars.len());
        from = to.saturating_sub(MAX_LINE_CHARS).min(from);
    }
    if from > 0 {
        view.push_str(ELLIPSIS);
    }
    let mut map = Vec::with_capacity(to - from + 1);
    for &(b, c) in &chars[from..to] {
        map.push((orig_start + b, view.len()));
        if is_hidden(c) {
            view.extend(c.escape_unicode());
        } else {
            view.push(c);
        }
    }
    let end = chars.get(to).map_or(content.len(), |&(b, _)| b);
    map.push((orig_start + end, view.len()));
    let view_end = view.len();
    if to < chars.len() {
        view.push_str(ELLIPSIS);
    }
    Line { index: 0, orig_start, view: view_start..view.len().max(view_end), map }
}

impl<'v> Files<'v> for View<'_> {
    type FileId = usize;
    type Name = &'v str;
    type Source = &'v str;

    fn name(&'v self, id: usize) -> Result<&'v str, Error> {
        Ok(&self.file(id)?.name)
    }

    fn source(&'v self, id: usize) -> Result<&'v str, Error> {
        Ok(&self.file(id)?.text)
    }

    fn line_index(&'v self, id: usize, byte_index: usize) -> Result<usize, Error> {
        let f = self.file(id)?;
        let i = f.lines.partition_point(|l| l.view.start <= byte_index).saturating_sub(1);
        Ok(f.lines.get(i).map_or(0, |l| l.index))
    }

    fn line_range(&'v self, id: usize, line_index: usize) -> Result<Range<usize>, Error> {
        let f = self.file(id)?;
        let line = f
            .lines
            .iter()
            .find(|l| l.index == line_index)
            .ok_or(Error::LineTooLarge { given: line_index, max: f.lines.last().map_or(0, |l| l.index) })?;
        Ok(line.view.start..line.view.end + 1)
    }

    fn column_number(&'v self, id: usize, line_index: usize, byte_index: usize) -> Result<usize, Error> {
        let f = self.file(id)?;
        let Some(line) = f.lines.iter().find(|l| l.index == line_index) else { return Ok(1) };
        let i = line.map.partition_point(|&(_, v)| v <= byte_index).saturating_sub(1);
        let orig = line.map.get(i).map_or(line.orig_start, |&(o, _)| o);
        let text = self.sources.text(FileId(id));
        Ok(text.get(line.orig_start..orig).map_or(0, |s| s.chars().count()) + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view_of(text: &str, span: Range<usize>) -> (String, Range<usize>) {
        let mut sources = SourceMap::new();
        let file = sources.add("a.pbidl", None, text);
        let span = Span::new(file, span.start, span.end);
        let view = View::new(&sources, &[span]);
        let shown = view.file(file.0).unwrap().text.clone();
        (shown, view.to_view(file, span.start)..view.to_view(file, span.end))
    }

    #[test]
    fn escapes_hidden_characters_only() {
        assert_eq!(escape("a\u{200b}b\u{1b}[0m\u{202e}é\tx\n"), "a\\u{200b}b\\u{1b}[0m\\u{202e}é\tx\n");
        assert_eq!(escape("plain"), "plain");
        let (shown, r) = view_of("x\u{200b}y", 1..4);
        assert_eq!(shown, "x\\u{200b}y\n");
        assert_eq!(&shown[r], "\\u{200b}");
    }

    #[test]
    fn long_lines_are_windowed_around_the_span() {
        let text = format!("{}NEEDLE{}", "a".repeat(10_000), "b".repeat(10_000));
        let (shown, r) = view_of(&text, 10_000..10_006);
        assert!(shown.len() < MAX_LINE_CHARS + 2 * ELLIPSIS.len() + 2, "{}", shown.len());
        assert!(shown.starts_with("...a") && shown.ends_with("b...\n"), "{shown}");
        assert_eq!(&shown[r], "NEEDLE");
        // Near the start: no leading ellipsis.
        let (shown, r) = view_of(&text, 3..5);
        assert!(shown.starts_with("aaa") && shown.ends_with("...\n"));
        assert_eq!(r, 3..5);
    }

    #[test]
    fn neighbouring_lines_are_kept_and_others_left_out() {
        let (shown, r) = view_of("one\ntwo\nthree\nfour\nfive\n", 8..13);
        assert_eq!(shown, "two\nthree\nfour\n");
        assert_eq!(&shown[r], "three");
    }
}
