//! Error messages: `"no user with id {0}"`, placeholders naming fields.

/// The placeholders of `text`: `Ok((argument, spec))` for `{arg}` or
/// `{arg:spec}`, `Err(why)` for one that is malformed. `{{` and `}}` are
/// literal braces.
pub fn placeholders(text: &str) -> Vec<Result<(String, String), String>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
            }
            '}' => out.push(Err("unmatched `}` in the message".to_string())),
            '{' => {
                let mut inner = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    inner.push(c);
                }
                if !closed {
                    out.push(Err("unmatched `{` in the message".to_string()));
                    continue;
                }
                let (arg, spec) = inner.split_once(':').unwrap_or((&inner, ""));
                let arg = arg.trim();
                if arg.is_empty() {
                    out.push(Err("`{}` does not say which field to show".to_string()));
                } else if !arg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    out.push(Err(format!("`{{{arg}}}` is not a field name or position")));
                } else if !matches!(spec, "" | "?" | "#?") {
                    out.push(Err(format!("unsupported format `:{spec}`; use `{{{arg}}}` or `{{{arg}:?}}`")));
                } else {
                    out.push(Ok((arg.to_string(), spec.to_string())));
                }
            }
            _ => {}
        }
    }
    out
}

/// The message as a Rust format string whose placeholders name the
/// bindings of the generated `Display` impl (see [`binding`]).
pub fn rust_format(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push_str("{{");
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push_str("}}");
            }
            '{' => {
                let mut inner = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    inner.push(c);
                }
                let (arg, spec) = inner.split_once(':').unwrap_or((&inner, ""));
                out.push('{');
                out.push_str(&binding(arg.trim()));
                if !spec.is_empty() {
                    out.push(':');
                    out.push_str(spec);
                }
                out.push('}');
            }
            '}' => out.push_str("}}"),
            c => out.push(c),
        }
    }
    out
}

/// The name the generated `Display` impl binds field `arg` to:
/// `__field0` for a position, `__name` for a name.
pub fn binding(arg: &str) -> String {
    if arg.starts_with(|c: char| c.is_ascii_digit()) { format!("__field{arg}") } else { format!("__{arg}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_rewrite() {
        let p = placeholders("no user {0} ({name:?}) {{literal}}");
        assert_eq!(p, vec![Ok(("0".into(), "".into())), Ok(("name".into(), "?".into()))]);
        assert_eq!(rust_format("no user {0} ({name:?}) {{x}}"), "no user {__field0} ({__name:?}) {{x}}");
        assert!(placeholders("{}").iter().all(Result::is_err));
        assert!(placeholders("{a").iter().all(Result::is_err));
        assert!(placeholders("a}").iter().all(Result::is_err));
        assert!(placeholders("{a:>5}").iter().all(Result::is_err));
    }
}
