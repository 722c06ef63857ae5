//! The IDL compiler: any text through the lexer, parser, resolver and
//! checker must never panic; its diagnostics render; and when a schema
//! checks, the Rust it generates parses.
//!
//! Input: schema text (invalid UTF-8 is replaced).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let checked = pb_idl::check_str("fuzz.pbidl", &text);
    let _ = checked.render();
    if !checked.has_errors() {
        for g in checked.generate(&Default::default()).expect("a schema that checks generates") {
            if let Err(e) = syn::parse_file(&g.code) {
                panic!("generated code does not parse: {e}\n{}", g.code);
            }
        }
    }
});
