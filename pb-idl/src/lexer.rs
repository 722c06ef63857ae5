//! Lexer: source text to tokens, with doc comments attached to the token
//! that follows them.
//!
//! Never fails: a character that starts no token or an unterminated string
//! becomes a diagnostic, and lexing goes on after it.

use crate::diag::{Diagnostic, Kind};
use crate::span::{FileId, Span};

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// An identifier or keyword (keywords are contextual: the parser decides).
    Ident(String),
    /// A number, as written (`42`, `-1`, `2.5`, `0x10`).
    Number(String),
    /// A string literal, unescaped.
    Str(String),
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `,`
    Comma,
    /// `;`
    Semi,
    /// `:`
    Colon,
    /// `->`
    Arrow,
    /// `=`
    Eq,
    /// `.`
    Dot,
    /// `@`
    At,
    /// End of input.
    Eof,
}

impl Tok {
    /// How the token is named in "expected ..., found ..." messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Number(n) => format!("number `{n}`"),
            Tok::Str(_) => "a string".into(),
            Tok::LBrace => "`{`".into(),
            Tok::RBrace => "`}`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Lt => "`<`".into(),
            Tok::Gt => "`>`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Semi => "`;`".into(),
            Tok::Colon => "`:`".into(),
            Tok::Arrow => "`->`".into(),
            Tok::Eq => "`=`".into(),
            Tok::Dot => "`.`".into(),
            Tok::At => "`@`".into(),
            Tok::Eof => "end of file".into(),
        }
    }
}

/// A token with its span and the `///` doc lines right before it.
#[derive(Debug, Clone)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Where it is.
    pub span: Span,
    /// Doc comment lines before it, without the `///` and one leading space.
    pub docs: Vec<String>,
}

/// The tokens of one file, ending with [`Tok::Eof`], plus its `//!` docs.
pub struct Lexed {
    /// Tokens; the last one is always `Eof`.
    pub tokens: Vec<Token>,
    /// `//!` lines: documentation of the file's package.
    pub inner_docs: Vec<String>,
}

/// Split `text` into tokens. Problems go to `diags`.
pub fn lex(file: FileId, text: &str, diags: &mut Vec<Diagnostic>) -> Lexed {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut docs = Vec::new();
    let mut inner_docs = Vec::new();
    // A byte order mark some editors write first is not part of the text.
    let mut i = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let span = |a: usize, b: usize| Span::new(file, a, b);
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        let single = match c {
            b'{' => Some(Tok::LBrace),
            b'}' => Some(Tok::RBrace),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'<' => Some(Tok::Lt),
            b'>' => Some(Tok::Gt),
            b',' => Some(Tok::Comma),
            b';' => Some(Tok::Semi),
            b':' => Some(Tok::Colon),
            b'=' => Some(Tok::Eq),
            b'.' => Some(Tok::Dot),
            b'@' => Some(Tok::At),
            _ => None,
        };
        if let Some(tok) = single {
            i += 1;
            tokens.push(Token { tok, span: span(start, i), docs: std::mem::take(&mut docs) });
            continue;
        }
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                bidi_controls(file, text, i, end, "comment", diags);
                let line = &text[i..end];
                if let Some(doc) = line.strip_prefix("///").filter(|_| !line.starts_with("////")) {
                    docs.push(doc.strip_prefix(' ').unwrap_or(doc).trim_end().to_string());
                } else if let Some(doc) = line.strip_prefix("//!") {
                    inner_docs.push(doc.strip_prefix(' ').unwrap_or(doc).trim_end().to_string());
                }
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut depth = 0usize;
                let mut j = i;
                loop {
                    if j + 1 >= bytes.len() {
                        diags.push(
                            Diagnostic::error(Kind::Unterminated, span(start, start + 2), "unterminated block comment")
                                .label("comment starts here")
                                .hint("close it with `*/`"),
                        );
                        j = bytes.len();
                        break;
                    }
                    if bytes[j] == b'/' && bytes[j + 1] == b'*' {
                        depth += 1;
                        j += 2;
                    } else if bytes[j] == b'*' && bytes[j + 1] == b'/' {
                        depth -= 1;
                        j += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        j += 1;
                    }
                }
                bidi_controls(file, text, i, j, "comment", diags);
                i = j;
            }
            b'-' if bytes.get(i + 1) == Some(&b'>') => {
                i += 2;
                tokens.push(Token { tok: Tok::Arrow, span: span(start, i), docs: std::mem::take(&mut docs) });
            }
            b'"' => {
                let (value, end) = string(file, text, i, diags);
                bidi_controls(file, text, i, end, "string", diags);
                i = end;
                tokens.push(Token { tok: Tok::Str(value), span: span(start, i), docs: std::mem::take(&mut docs) });
            }
            b'0'..=b'9' | b'-' | b'+' => {
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.') {
                    // `1.5` is one number, but `list<u8>.` cannot follow a number anyway.
                    i += 1;
                }
                let tok = Tok::Number(text[start..i].to_string());
                tokens.push(Token { tok, span: span(start, i), docs: std::mem::take(&mut docs) });
            }
            c if c == b'_' || c.is_ascii_alphabetic() => {
                while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                let tok = Tok::Ident(text[start..i].to_string());
                tokens.push(Token { tok, span: span(start, i), docs: std::mem::take(&mut docs) });
            }
            b'#' if bytes.get(i + 1) == Some(&b'[') => {
                // A Rust attribute: one error for all of it, not one per character.
                let line_end = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                let end = text[i..line_end].find(']').map_or(line_end, |n| i + n + 1);
                let inner = text[i + 2..end].trim_end_matches(']').trim();
                let hint = if inner.is_empty() || !inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    "attributes are written `@replay`, `@id(7)`, `@name(\"...\")`".to_string()
                } else {
                    format!("write `@{inner}`")
                };
                diags.push(
                    Diagnostic::error(
                        Kind::UnexpectedChar,
                        span(start, end),
                        "Rust attributes are not part of the schema language",
                    )
                    .label("a Rust attribute")
                    .hint(hint),
                );
                i = end;
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                i += ch.len_utf8();
                let hint = match ch {
                    '#' => Some("attributes are written `@replay`, `@id(7)`, not `#[...]`".to_string()),
                    '[' | ']' => Some("lists are written `list<T>`".to_string()),
                    '?' => Some("optional values are written `option<T>`".to_string()),
                    '&' => Some("references to interfaces are written `ref<Iface>`".to_string()),
                    c => unusual_char(c),
                };
                let label = match char_name(ch) {
                    Some(name) => format!("{} {name}", code_point(ch)),
                    None => "not part of the schema language".to_string(),
                };
                diags.push(
                    Diagnostic::error(
                        Kind::UnexpectedChar,
                        span(start, i),
                        format!("unexpected character `{}`", escape_char(ch)),
                    )
                    .label(label)
                    .maybe_hint(hint),
                );
            }
        }
    }
    tokens.push(Token { tok: Tok::Eof, span: span(bytes.len(), bytes.len()), docs });
    Lexed { tokens, inner_docs }
}

/// `U+200B`
fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// A character as a message quotes it: printable ones as they are, others
/// escaped (`\u{200b}`).
fn escape_char(c: char) -> String {
    if crate::view::is_hidden(c) { c.escape_unicode().to_string() } else { c.escape_debug().to_string() }
}

/// Whether `c` changes the direction text is displayed in, so source can
/// read differently from how it compiles ("Trojan Source", CVE-2021-42574).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The name of a character worth naming: invisible, direction-changing, or
/// easily mistaken for another.
fn char_name(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{00a0}' => "NO-BREAK SPACE",
        '\u{00ad}' => "SOFT HYPHEN",
        '\u{061c}' => "ARABIC LETTER MARK",
        '\u{200b}' => "ZERO WIDTH SPACE",
        '\u{200c}' => "ZERO WIDTH NON-JOINER",
        '\u{200d}' => "ZERO WIDTH JOINER",
        '\u{200e}' => "LEFT-TO-RIGHT MARK",
        '\u{200f}' => "RIGHT-TO-LEFT MARK",
        '\u{2028}' => "LINE SEPARATOR",
        '\u{2029}' => "PARAGRAPH SEPARATOR",
        '\u{202a}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202b}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202c}' => "POP DIRECTIONAL FORMATTING",
        '\u{202d}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202e}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2060}' => "WORD JOINER",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{3000}' => "IDEOGRAPHIC SPACE",
        '\u{feff}' => "ZERO WIDTH NO-BREAK SPACE (byte order mark)",
        c if c.is_control() => "(a control character)",
        c if crate::view::is_hidden(c) => "(an invisible character)",
        _ => return None,
    })
}

/// What to do about a character that starts no token, when it is not a
/// misremembered piece of syntax.
fn unusual_char(c: char) -> Option<String> {
    let point = code_point(c);
    if is_bidi_control(c) {
        let name = char_name(c).unwrap_or("a direction control");
        return Some(format!(
            "{point} {name} changes the order text is displayed in, so the schema can read differently from what it declares; delete it"
        ));
    }
    if c.is_control() {
        return Some(format!(
            "{point} is a control character: editors may not show it and terminals may act on it; delete it"
        ));
    }
    if let Some(name) = char_name(c) {
        return Some(if c.is_whitespace() {
            format!("{point} {name} looks like a space but is not one; use a plain space")
        } else {
            format!("{point} {name} is invisible in most editors; delete it")
        });
    }
    if c.is_alphanumeric() {
        return Some("names are ASCII letters, digits and `_`".to_string());
    }
    None
}

/// Report direction controls in `text[start..end]`, a comment or a string:
/// they can make it display over the code around it.
fn bidi_controls(file: FileId, text: &str, start: usize, end: usize, what: &str, diags: &mut Vec<Diagnostic>) {
    let Some(part) = text.get(start..end) else { return };
    for (off, c) in part.char_indices().filter(|&(_, c)| is_bidi_control(c)) {
        let at = start + off;
        let name = char_name(c).unwrap_or("a direction control");
        diags.push(
            Diagnostic::error(
                Kind::UnexpectedChar,
                Span::new(file, at, at + c.len_utf8()),
                format!("text direction control `{}` in a {what}", escape_char(c)),
            )
            .label(format!("{} {name}", code_point(c)))
            .hint("it changes the order text is displayed in, so the schema can read differently from what it declares; delete it"),
        );
    }
}

/// Lex a string starting at the `"` at `start`; returns its value and the
/// offset after it.
fn string(file: FileId, text: &str, start: usize, diags: &mut Vec<Diagnostic>) -> (String, usize) {
    let mut value = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((off, ch)) = chars.next() {
        let at = start + 1 + off;
        match ch {
            '"' => return (value, at + 1),
            '\n' => break,
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, '"')) => value.push('"'),
                Some((_, '0')) => value.push('\0'),
                Some((off2, other)) => {
                    diags.push(
                        Diagnostic::error(
                            Kind::Unterminated,
                            Span::new(file, at, start + 1 + off2 + other.len_utf8()),
                            format!("unknown escape `\\{}`", other.escape_debug()),
                        )
                        .label("not an escape")
                        .hint("the escapes are `\\n`, `\\t`, `\\\\`, `\\\"` and `\\0`"),
                    );
                    if other == '\n' {
                        break;
                    }
                }
                None => break,
            },
            c => value.push(c),
        }
    }
    let end = text[start..].find('\n').map_or(text.len(), |n| start + n);
    diags.push(
        Diagnostic::error(Kind::Unterminated, Span::new(file, start, end), "unterminated string")
            .label("string starts here")
            .hint("close it with `\"` on the same line"),
    );
    (value, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> (Vec<Tok>, usize) {
        let mut d = Vec::new();
        let l = lex(FileId(0), s, &mut d);
        (l.tokens.into_iter().map(|t| t.tok).collect(), d.len())
    }

    #[test]
    fn tokens_and_docs() {
        let mut d = Vec::new();
        let l = lex(
            FileId(0),
            "//! pkg\n/// a doc\n/// two\nrecord A { x: list<u8> } // c\n/* b /* n */ */ -> @ \"s\\n\" 12",
            &mut d,
        );
        assert!(d.is_empty());
        assert_eq!(l.inner_docs, vec!["pkg"]);
        assert_eq!(l.tokens[0].docs, vec!["a doc", "two"]);
        let t: Vec<_> = l.tokens.iter().map(|t| t.tok.clone()).collect();
        assert_eq!(t[0], Tok::Ident("record".into()));
        assert!(t.contains(&Tok::Arrow) && t.contains(&Tok::Str("s\n".into())));
        assert_eq!(t[t.len() - 2], Tok::Number("12".into()));
        assert_eq!(t.last(), Some(&Tok::Eof));
    }

    #[test]
    fn errors_do_not_stop_lexing() {
        let (t, errs) = toks("a # b \"open\n c /* x");
        assert_eq!(errs, 3);
        assert!(t.contains(&Tok::Ident("c".into())));
        let (_, errs) = toks("\"bad \\q escape\"");
        assert_eq!(errs, 1);
        let (_, errs) = toks("é\"\\");
        assert_eq!(errs, 2);
    }

    #[test]
    fn a_leading_byte_order_mark_is_skipped() {
        let (t, errs) = toks("\u{feff}package a;");
        assert_eq!(errs, 0);
        assert_eq!(t[0], Tok::Ident("package".into()));
        // Anywhere else it is an invisible character like any other.
        assert_eq!(toks("a \u{feff}b").1, 1);
    }

    #[test]
    fn direction_controls_are_errors_in_comments_and_strings() {
        let mut d = Vec::new();
        lex(FileId(0), "// a \u{202e} b\n/* \u{2067} */ \"x\u{202d}\" \"\u{200b}\"", &mut d);
        let messages: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "text direction control `\\u{202e}` in a comment",
                "text direction control `\\u{2067}` in a comment",
                "text direction control `\\u{202d}` in a string",
            ]
        );
        assert_eq!(d[0].label, "U+202E RIGHT-TO-LEFT OVERRIDE");
    }
}
