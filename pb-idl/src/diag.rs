//! Diagnostics: what went wrong, where, and what to do about it.
//!
//! Every problem the compiler finds becomes a [`Diagnostic`]: a [`Kind`]
//! (stable, for tests and tools), a message, a primary span with a label,
//! optional secondary spans ("first defined here") and a hint. They are
//! collected, never thrown, so one run reports every mistake, and rendered
//! rustc-style with [`codespan_reporting`]:
//!
//! ```text
//! error[unknown-type]: unknown type `Usr`
//!   --> aurora.pbidl:4:11
//!   |
//! 4 |     owner: Usr,
//!   |            ^^^ not declared
//!   |
//!   = help: did you mean `User`?
//! ```

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::term::{self, Chars};

use crate::span::{SourceMap, Span};
use crate::view::{self, View};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Style advice; the schema still compiles.
    Warning,
    /// The schema is invalid; nothing is generated.
    Error,
}

/// What kind of problem a diagnostic reports. The kebab-case [`Kind::code`]
/// is printed in brackets after `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// A character that starts no token.
    UnexpectedChar,
    /// A string or block comment that never ends, or a bad escape.
    Unterminated,
    /// The tokens do not fit the grammar.
    Syntax,
    /// A name that is a keyword of the schema language or of Rust.
    ReservedWord,
    /// A name that is declared twice in the same scope.
    Duplicate,
    /// A type name that resolves to nothing.
    UnknownType,
    /// A qualified name whose package is not known or not imported.
    UnknownPackage,
    /// A built-in type with the wrong number of type arguments.
    TypeArguments,
    /// An interface used by value (it must be `ref<...>`).
    InterfaceByValue,
    /// `ref<T>` where `T` is not an interface.
    NotAnInterface,
    /// A record or enum that contains itself without indirection.
    RecursiveType,
    /// A map key type that cannot be a key.
    MapKey,
    /// `throws T` where `T` is not an `error`.
    NotAnError,
    /// A misused or unknown `@attribute`.
    Attribute,
    /// A `@replay` method that does not return a reference or takes references.
    Replay,
    /// A `@local` method the generator cannot give a body.
    Local,
    /// A `@replay` or `@idempotent` method that takes a stream: it sends its
    /// arguments again, and a stream is sent once.
    ResentStream,
    /// Two interfaces or two methods with the same wire id.
    IdCollision,
    /// An error message naming a field the variant does not have.
    Message,
    /// A literal of the wrong type or out of range.
    Literal,
    /// The package declaration is missing or misplaced.
    Package,
    /// An import that cannot be read.
    Import,
    /// Input nested deeper than the compiler accepts.
    TooDeep,
    /// A model whose state or events hold references or other models.
    ModelData,
    /// Two packages that would generate the same Rust module or file.
    PackageClash,
    /// A name that does not follow Rust's naming conventions (warning).
    Naming,
    /// Values that nest deeper than peers decode by default (warning).
    NestingDepth,
    /// A file that cannot be read.
    Io,
}

impl Kind {
    /// The stable kebab-case code of this kind.
    pub fn code(self) -> &'static str {
        match self {
            Kind::UnexpectedChar => "unexpected-char",
            Kind::Unterminated => "unterminated",
            Kind::Syntax => "syntax",
            Kind::ReservedWord => "reserved-word",
            Kind::Duplicate => "duplicate",
            Kind::UnknownType => "unknown-type",
            Kind::UnknownPackage => "unknown-package",
            Kind::TypeArguments => "type-arguments",
            Kind::InterfaceByValue => "interface-by-value",
            Kind::NotAnInterface => "not-an-interface",
            Kind::RecursiveType => "recursive-type",
            Kind::MapKey => "map-key",
            Kind::NotAnError => "not-an-error",
            Kind::Attribute => "attribute",
            Kind::Replay => "replay",
            Kind::Local => "local",
            Kind::ResentStream => "resent-stream",
            Kind::IdCollision => "id-collision",
            Kind::Message => "message",
            Kind::Literal => "literal",
            Kind::Package => "package",
            Kind::Import => "import",
            Kind::TooDeep => "too-deep",
            Kind::ModelData => "model-data",
            Kind::PackageClash => "package-clash",
            Kind::Naming => "naming",
            Kind::NestingDepth => "nesting-depth",
            Kind::Io => "io",
        }
    }
}

/// One problem found in a schema.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What kind of problem.
    pub kind: Kind,
    /// One line saying what is wrong (lowercase, no period).
    pub message: String,
    /// Where; `None` for problems with no source (an unreadable root file).
    pub span: Option<Span>,
    /// Text under the primary span.
    pub label: String,
    /// Related places, each with its label.
    pub secondary: Vec<(Span, String)>,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error of `kind` at `span`.
    pub fn error(kind: Kind, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            kind,
            message: message.into(),
            span: Some(span),
            label: String::new(),
            secondary: Vec::new(),
            hint: None,
        }
    }

    /// A warning of `kind` at `span`.
    pub fn warning(kind: Kind, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(kind, span, message) }
    }

    /// Set the label under the primary span.
    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    /// Add a secondary span.
    pub fn with(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push((span, label.into()));
        self
    }

    /// Set the hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// Set the hint if there is one.
    pub fn maybe_hint(mut self, hint: Option<String>) -> Diagnostic {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Render rustc-style: `file:line:col`, the source line, a caret under
    /// the span, and the hint. Plain text, no colors; invisible and control
    /// characters are escaped (`\u{200b}`) and long lines cut to a window
    /// around the column.
    pub fn render(&self, sources: &SourceMap) -> String {
        let spans: Vec<Span> = self.span.iter().copied().chain(self.secondary.iter().map(|(s, _)| *s)).collect();
        let view = View::new(sources, &spans);
        let range = |span: Span| {
            let r = view::clamp(sources.text(span.file), span);
            view.to_view(span.file, r.start)..view.to_view(span.file, r.end)
        };
        let mut d = match self.severity {
            Severity::Error => CsDiagnostic::error(),
            Severity::Warning => CsDiagnostic::warning(),
        }
        .with_code(self.kind.code())
        .with_message(view::escape(&self.message));
        let mut labels = Vec::new();
        if let Some(span) = self.span {
            labels.push(Label::primary(span.file.0, range(span)).with_message(view::escape(&self.label)));
        }
        let mut notes = Vec::new();
        for (span, label) in &self.secondary {
            if view.shows(*span) {
                labels.push(Label::secondary(span.file.0, range(*span)).with_message(view::escape(label)));
            } else {
                // Cut from a long line: say where instead of pointing.
                let (line, col) = sources.line_col(span.file, span.start);
                let name = view::escape(sources.name(span.file));
                notes.push(format!("{}: {name}:{line}:{col}", view::escape(label)));
            }
        }
        d = d.with_labels(labels);
        if let Some(hint) = &self.hint {
            notes.push(format!("help: {}", view::escape(hint)));
        }
        d = d.with_notes(notes);
        let config = term::Config { chars: Chars::ascii(), ..term::Config::default() };
        term::emit_into_string(&config, &view, &d).unwrap_or_else(|_| self.short(sources))
    }

    /// One line: `file:line:col: error[code]: message`.
    pub fn short(&self, sources: &SourceMap) -> String {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let message = view::escape(&self.message);
        match self.span {
            Some(span) => {
                let (line, col) = sources.line_col(span.file, span.start);
                let name = view::escape(sources.name(span.file));
                format!("{name}:{line}:{col}: {severity}[{}]: {message}\n", self.kind.code())
            }
            None => format!("{severity}[{}]: {message}\n", self.kind.code()),
        }
    }
}

/// At most this many diagnostics are rendered by [`render_all`]; the rest
/// are counted. Errors are shown before warnings when some must be left out.
pub const MAX_RENDERED: usize = 50;

/// Render the diagnostics, in order (at most [`MAX_RENDERED`], then how many
/// more there are), followed by the count of errors and warnings.
pub fn render_all(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    // Which to show: every error first (up to the cap), then warnings.
    let error_slots = errors.min(MAX_RENDERED);
    let mut warning_slots = MAX_RENDERED - error_slots;
    let mut error_seen = 0;
    let mut out = String::new();
    for d in diags {
        let show = if d.is_error() {
            error_seen += 1;
            error_seen <= error_slots
        } else if warning_slots > 0 {
            warning_slots -= 1;
            true
        } else {
            false
        };
        if show {
            out.push_str(&d.render(sources));
        }
    }
    let shown_warnings = warnings.min(MAX_RENDERED - error_slots);
    let (hidden_errors, hidden_warnings) = (errors - error_slots, warnings - shown_warnings);
    match (hidden_errors, hidden_warnings) {
        (0, 0) => {}
        (e, 0) => out.push_str(&format!("... and {e} more error{} not shown\n", plural(e))),
        (0, w) => out.push_str(&format!("... and {w} more warning{} not shown\n", plural(w))),
        (e, w) => out.push_str(&format!(
            "... and {} more not shown ({e} error{}, {w} warning{})\n",
            e + w,
            plural(e),
            plural(w)
        )),
    }
    match (errors, warnings) {
        (0, 0) => {}
        (0, w) => out.push_str(&format!("{w} warning{}\n", plural(w))),
        (e, 0) => out.push_str(&format!("{e} error{}\n", plural(e))),
        (e, w) => out.push_str(&format!("{e} error{}, {w} warning{}\n", plural(e), plural(w))),
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The candidate closest to `name` by edit distance, if it is close enough
/// to be a likely typo (at most a third of the name's length, at least 1).
/// Swapping two neighbouring characters is one edit (`lsit` is `list`).
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (strsim::osa_distance(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_rendering_shows_errors_before_warnings() {
        let mut sources = SourceMap::new();
        let file = sources.add("a.pbidl", None, "package a;\n");
        let at = Span::new(file, 0, 7);
        let mut diags: Vec<Diagnostic> =
            (0..MAX_RENDERED + 10).map(|i| Diagnostic::warning(Kind::Naming, at, format!("w{i}"))).collect();
        diags.push(Diagnostic::error(Kind::Syntax, at, "the one error"));
        let out = render_all(&diags, &sources);
        assert!(out.contains("error[syntax]: the one error"), "{out}");
        assert_eq!(out.matches("warning[naming]").count(), MAX_RENDERED - 1);
        assert!(out.ends_with("... and 11 more warnings not shown\n1 error, 60 warnings\n"), "{out}");
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("Usr", ["User", "Users", "Presence"]), Some("User"));
        assert_eq!(did_you_mean("user", ["User"]), Some("User"));
        assert_eq!(did_you_mean("Xyz", ["User"]), None);
        assert_eq!(did_you_mean("", ["a"]), Some("a"));
        // Transposed neighbours are one edit: typos of built-ins and of user types alike.
        assert_eq!(did_you_mean("u23", ["u8", "u16", "u32", "i32"]), Some("u32"));
        assert_eq!(did_you_mean("lsit", ["list", "map"]), Some("list"));
        assert_eq!(did_you_mean("Usre", ["User"]), Some("User"));
    }
}
