//! The compiler never panics, whatever the input: arbitrary text, text made
//! of schema tokens, and valid schemas with random edits. When a mutated
//! schema still checks, its generated Rust parses, and its Python is
//! generated or refused with a reason.

use proptest::prelude::*;

const VALID: &[&str] = &[
    include_str!("golden/gen/kitchen.pbidl"),
    include_str!("golden/gen/interop.pbidl"),
    include_str!("golden/gen/streams.pbidl"),
    include_str!("golden/gen/senders.pbidl"),
    include_str!("../../examples/schemas/aurora.pbidl"),
    include_str!("../../examples/schemas/log_tail.pbidl"),
];

const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "<",
    ">",
    ",",
    ";",
    ":",
    "->",
    "=",
    ".",
    "@",
    "\"",
    "/*",
    "*/",
    "//",
    "///",
    "\n",
    " ",
    "package",
    "import",
    "record",
    "enum",
    "error",
    "interface",
    "model",
    "state",
    "events",
    "throws",
    "ref",
    "list",
    "map",
    "option",
    "box",
    "stream",
    "sender",
    "u64",
    "string",
    "bytes",
    "f64",
    "@replay",
    "@local",
    "@id(",
    "@name(",
    "type",
    "Pb",
    "0",
    "-1",
    "0x",
    "99999999999999999999999",
    "é",
    "#[",
    "\\",
    "\u{200b}",
    "\u{202e}",
    "\u{1b}",
    "\u{feff}",
    "\u{a0}",
    "// \u{2066}",
];

/// Run the whole pipeline on `text`; panics only through a bug.
fn run(text: &str) {
    let checked = pb_idl::check_str("fuzz.pbidl", text);
    let _ = checked.render();
    if !checked.has_errors() {
        for g in checked.generate(&Default::default()).expect("a valid schema generates") {
            syn::parse_file(&g.code).unwrap_or_else(|e| panic!("generated code does not parse: {e}\n{}", g.code));
        }
        // Python may refuse the schema (with a reason), never panic; what it
        // writes has every control character of the schema escaped.
        for g in checked.generate_python(&Default::default()).into_iter().flatten() {
            assert!(!g.code.chars().any(|c| c != '\n' && c.is_control()), "raw control character:\n{}", g.code);
        }
    }
}

/// The char boundary at or before `i`.
fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Random edits of `text`: deletions, insertions of tokens, duplications, replacements.
fn mutate(text: &str, edits: &[(usize, usize, usize, u8)]) -> String {
    let mut s = text.to_string();
    for &(at, len, token, kind) in edits {
        let at = floor(&s, at % (s.len() + 1));
        let end = floor(&s, (at + len % 24).min(s.len()));
        match kind % 4 {
            0 => s.replace_range(at..end, ""),
            1 => s.insert_str(at, TOKENS[token % TOKENS.len()]),
            2 => {
                let copy = s[at..end].to_string();
                s.insert_str(end, &copy);
            }
            _ => s.replace_range(at..end, TOKENS[token % TOKENS.len()]),
        }
    }
    s
}

/// 400 cases per property, or `PROPTEST_CASES` for a longer hunt.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text(text in any::<String>()) {
        run(&text);
    }

    #[test]
    fn token_soup(tokens in proptest::collection::vec(0..TOKENS.len(), 0..120)) {
        let text: String = tokens.iter().map(|t| TOKENS[*t]).collect::<Vec<_>>().join(" ");
        run(&format!("package p; {text}"));
    }

    #[test]
    fn mutated_valid_schemas(
        which in 0..VALID.len(),
        edits in proptest::collection::vec((any::<usize>(), any::<usize>(), any::<usize>(), any::<u8>()), 1..6),
    ) {
        run(&mutate(VALID[which], &edits));
    }
}

#[test]
fn valid_schemas_stay_valid() {
    for text in VALID {
        let checked = pb_idl::check_str("valid.pbidl", text);
        assert!(!checked.has_errors(), "{}", checked.render());
    }
}

#[test]
fn deep_and_long_inputs() {
    run(&format!("package p; record R {{ x: {}u8{} }}", "list<".repeat(10_000), ">".repeat(10_000)));
    run(&format!("package p; {}", "{".repeat(50_000)));
    run(&format!("package p; {}", "record A { x: u8 }\n".repeat(2_000)));
    let chain: String = (0..3_000).map(|i| format!("record R{i} {{ next: R{} }}\n", i + 1)).collect();
    run(&format!("package p; {chain} record R3000 {{ first: R0 }}"));
}

/// Inputs the `idl_parser` fuzz target found (fuzz/regressions/idl_parser).
#[test]
fn fuzz_regressions() {
    // A bare carriage return in a doc comment: rustc refuses it in the output.
    run("package a;\n///\r d \nmodel r { state { } }");
    run("//!\r\npackage a;\n/// x\ry\nrecord R { /// f\r\n f: u64, }");
    run(include_str!("../../fuzz/regressions/idl_parser/bare-cr-in-doc-comment.pbidl"));
}
