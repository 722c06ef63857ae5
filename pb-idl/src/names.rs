//! Name rules: reserved words and Rust naming conventions.

/// Keywords of Rust (strict and reserved, edition 2024): generated code
/// could not use them as names.
pub const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn",
    "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self",
    "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while", "abstract",
    "become", "box", "do", "final", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// Built-in type names of the schema language.
pub const BUILTIN_TYPES: &[&str] = &[
    "bool", "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "f32", "f64", "string", "bytes", "list", "map",
    "option", "box", "ref", "stream", "sender",
];

/// Keywords of the schema language (contextual: reserved as type names).
pub const SCHEMA_KEYWORDS: &[&str] =
    &["package", "import", "record", "enum", "error", "interface", "model", "state", "events", "throws"];

/// What a name names, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A record, enum, error, interface or model.
    Type,
    /// A variant of an enum, error or events.
    Variant,
    /// A field or argument.
    Field,
    /// A method.
    Method,
    /// A package segment.
    Package,
}

impl NameKind {
    /// For messages: "a field", "a method", ...
    pub fn article(self) -> &'static str {
        match self {
            NameKind::Type => "a type",
            NameKind::Variant => "a variant",
            NameKind::Field => "a field or argument",
            NameKind::Method => "a method",
            NameKind::Package => "a package",
        }
    }

    /// Whether the convention is UpperCamelCase (else snake_case).
    pub fn camel(self) -> bool {
        matches!(self, NameKind::Type | NameKind::Variant)
    }
}

/// Why `name` cannot be used as `kind`, if it cannot.
pub fn reserved(name: &str, kind: NameKind) -> Option<String> {
    if RUST_KEYWORDS.contains(&name) {
        return Some(format!("`{name}` is a Rust keyword and cannot name {}", kind.article()));
    }
    if name.starts_with("__") {
        return Some(format!("names starting with `__` are reserved for generated code (`{name}`)"));
    }
    if name == "_" {
        return Some(format!("`_` cannot name {}", kind.article()));
    }
    if kind == NameKind::Type {
        if BUILTIN_TYPES.contains(&name) {
            return Some(format!("`{name}` is a built-in type and cannot name a declaration"));
        }
        if SCHEMA_KEYWORDS.contains(&name) {
            return Some(format!("`{name}` is a keyword of the schema language and cannot name a declaration"));
        }
    }
    None
}

/// A replacement for a reserved name.
pub fn rename_hint(name: &str) -> String {
    match name {
        "type" => "rename it, for example `kind`".into(),
        "ref" => "rename it, for example `reference`".into(),
        "self" | "Self" => "rename it, for example `this`".into(),
        n if n.starts_with("__") => format!("rename it, for example `{}`", n.trim_start_matches('_')),
        n => format!("rename it, for example `{n}_`"),
    }
}

/// `name` in UpperCamelCase.
pub fn to_camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `name` in snake_case.
pub fn to_snake(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.extend(c.to_lowercase());
            prev_lower = false;
        } else {
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
            out.push(c);
        }
    }
    out
}

/// The conventional spelling of `name` for `kind`, if `name` is not it.
pub fn convention(name: &str, kind: NameKind) -> Option<String> {
    let fixed = if kind.camel() { to_camel(name) } else { to_snake(name) };
    let ok = if kind.camel() {
        name.starts_with(|c: char| c.is_ascii_uppercase()) && !name.contains('_')
    } else {
        !name.chars().any(|c| c.is_uppercase())
    };
    (!ok && !fixed.is_empty() && fixed != name).then_some(fixed)
}

/// Lowercase words of an UpperCamelCase name: `NotFound` -> `not found`.
pub fn words(name: &str) -> String {
    to_snake(name).replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventions() {
        assert_eq!(convention("getUser", NameKind::Method).as_deref(), Some("get_user"));
        assert_eq!(convention("get_user", NameKind::Method), None);
        assert_eq!(convention("user_error", NameKind::Type).as_deref(), Some("UserError"));
        assert_eq!(convention("UserError", NameKind::Type), None);
        assert_eq!(words("NotFound"), "not found");
        assert!(reserved("type", NameKind::Field).is_some());
        assert!(reserved("string", NameKind::Type).is_some());
        assert!(reserved("string", NameKind::Field).is_none());
    }
}
