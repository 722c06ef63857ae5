//! Golden tests: schemas next to their expected output.
//!
//! - `golden/gen/*.pbidl`: the generated Rust of every package, in
//!   `golden/gen/expected/<package>.rs` (also compiled by `tests/compile.rs`
//!   and `tests/interop.rs`).
//! - `golden/gen/*.pbidl` and `golden/python/*.pbidl` (names Python must
//!   escape; warnings allowed): the generated Python of every package, in
//!   `golden/python/expected/<module>.py` (also run by `tests/python.rs`).
//! - `golden/diag/*.pbidl`: the rendered diagnostics, in `<case>.stderr`.
//! - `golden/compat/<case>/{old,new}.pbidl`: the change list and exit code, in
//!   `<case>/expected.out`; where `<case>/expected-twisted.out` exists, also
//!   the list for peers on Twisted's wire too (`compat --twisted`).
//!
//! Run with `BLESS=1` to rewrite the expected files from the current output.

use std::path::{Path, PathBuf};

fn bless() -> bool {
    std::env::var_os("BLESS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Compare `actual` with the file at `path` (or write it when blessing).
/// Returns a failure description.
fn check(path: &Path, actual: &str) -> Option<String> {
    if bless() {
        std::fs::write(path, actual).unwrap();
        return None;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected == actual {
        return None;
    }
    let first = expected
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(expected.lines().count().min(actual.lines().count()));
    Some(format!(
        "{} differs (first at line {}); rerun with BLESS=1 if the change is intended\n--- expected\n{}\n--- actual\n{}",
        path.display(),
        first + 1,
        expected.lines().skip(first).take(8).collect::<Vec<_>>().join("\n"),
        actual.lines().skip(first).take(8).collect::<Vec<_>>().join("\n"),
    ))
}

/// Files in `dir` ending with `ext`, sorted.
fn cases(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .collect();
    out.sort();
    out
}

fn finish(failures: Vec<String>, count: usize, min: usize) {
    assert!(count >= min, "expected at least {min} cases, found {count}");
    assert!(failures.is_empty(), "{} of {count} golden files differ:\n\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn generated_rust() {
    let cases = cases("tests/golden/gen", ".pbidl");
    let mut failures = Vec::new();
    for case in &cases {
        let checked = pb_idl::check_files(std::slice::from_ref(case), &[PathBuf::from("tests/golden/gen")]);
        assert!(!checked.has_errors(), "{} has errors:\n{}", case.display(), checked.render());
        assert!(checked.diagnostics.is_empty(), "{} has warnings:\n{}", case.display(), checked.render());
        for g in checked.generate(&Default::default()).unwrap() {
            // Each generated file must be valid Rust as it stands.
            syn::parse_file(&g.code).unwrap_or_else(|e| panic!("{}: {e}", g.file_name));
            let path = Path::new("tests/golden/gen/expected").join(&g.file_name);
            failures.extend(check(&path, &g.code));
        }
    }
    finish(failures, cases.len(), 3);
}

#[test]
fn generated_python() {
    let schemas: Vec<PathBuf> =
        cases("tests/golden/gen", ".pbidl").into_iter().chain(cases("tests/golden/python", ".pbidl")).collect();
    let includes = [PathBuf::from("tests/golden/gen"), PathBuf::from("tests/golden/python")];
    let mut failures = Vec::new();
    for case in &schemas {
        let checked = pb_idl::check_files(std::slice::from_ref(case), &includes);
        assert!(!checked.has_errors(), "{} has errors:\n{}", case.display(), checked.render());
        for g in checked.generate_python(&Default::default()).unwrap() {
            assert!(g.file_name.ends_with(".py") && !g.file_name.trim_end_matches(".py").contains('.'));
            // A package imported by several cases must be the same module each time.
            let path = Path::new("tests/golden/python/expected").join(&g.file_name);
            failures.extend(check(&path, &g.code));
        }
    }
    finish(failures, schemas.len(), 6);
}

#[test]
fn diagnostics() {
    let cases = cases("tests/golden/diag", ".pbidl");
    let mut failures = Vec::new();
    for case in &cases {
        let checked = pb_idl::check_files(std::slice::from_ref(case), &[PathBuf::from("tests/golden/diag/support")]);
        assert!(!checked.diagnostics.is_empty(), "{} reports nothing", case.display());
        failures.extend(check(&case.with_extension("stderr"), &checked.render()));
    }
    finish(failures, cases.len(), 12);
}

#[test]
fn compat() {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir("tests/golden/compat").unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    let mut failures = Vec::new();
    for dir in &dirs {
        let old = pb_idl::check_files(&[dir.join("old.pbidl")], &[]);
        let new = pb_idl::check_files(&[dir.join("new.pbidl")], &[]);
        assert!(!old.has_errors() && !new.has_errors(), "{}:\n{}{}", dir.display(), old.render(), new.render());
        let changes = pb_idl::compat::compare(&old.schema, &new.schema);
        let exit = i32::from(changes.iter().any(|c| c.breaking));
        let actual = format!("{}exit: {exit}\n", pb_idl::compat::render(&changes));
        failures.extend(check(&dir.join("expected.out"), &actual));
        // With peers on Twisted's wire too, where names travel.
        let twisted = dir.join("expected-twisted.out");
        if twisted.exists() {
            let changes = pb_idl::compat::compare_for(&old.schema, &new.schema, pb_idl::compat::Peers::WithTwisted);
            let exit = i32::from(changes.iter().any(|c| c.breaking));
            failures.extend(check(&twisted, &format!("{}exit: {exit}\n", pb_idl::compat::render(&changes))));
        }
    }
    finish(failures, dirs.len(), 10);
}
