//! The `pb-idl` binary: exit codes and output of `check`, `gen` and `compat`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pb_idl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pb-idl")).args(args).output().expect("run pb-idl")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pb-idl-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

const AURORA: &str = "../examples/schemas/aurora.pbidl";

#[test]
fn check_valid_schema_exits_0() {
    let o = pb_idl(&["check", AURORA]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    // One summary line says it worked and what was checked.
    let out = stdout(&o);
    assert!(out.starts_with("ok: 1 file, 1 package, "), "{out}");
    assert!(out.contains("interface") && out.ends_with('\n') && out.lines().count() == 1, "{out}");
}

#[test]
fn check_reports_every_error_of_every_file_and_exits_1() {
    let dir = scratch("check");
    let a = write(&dir, "a.pbidl", "package a;\nrecord A { x: Usr }\nrecord User { id: u64 }\n");
    let b = write(&dir, "b.pbidl", "package b;\ninterface I {\n    f();\n    f();\n}\n");
    let o = pb_idl(&["check", &a, &b]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o), "", "no summary with errors");
    let err = stderr(&o);
    assert!(err.contains(&format!("{a}:2:15")), "{err}");
    assert!(err.contains("did you mean `User`?"), "{err}");
    assert!(err.contains(&format!("{b}:4:5")), "{err}");
    assert!(err.contains("duplicate method `f`"), "{err}");
    assert!(err.contains("^^^"), "a caret under the span: {err}");
    assert!(err.ends_with("2 errors\n"), "{err}");
}

#[test]
fn check_warnings_exit_0() {
    let dir = scratch("warn");
    let a = write(&dir, "a.pbidl", "package a;\nrecord A { someField: u64 }\n");
    let o = pb_idl(&["check", &a]);
    assert_eq!(code(&o), 0);
    assert!(stderr(&o).contains("warning[naming]"), "{}", stderr(&o));
    assert_eq!(stdout(&o), "ok: 1 file, 1 package, 1 record\n");
}

#[test]
fn unreadable_file_exits_1() {
    let o = pb_idl(&["check", "does/not/exist.pbidl"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("cannot read `does/not/exist.pbidl`"), "{}", stderr(&o));
}

#[test]
fn gen_writes_one_file_per_package() {
    let dir = scratch("gen");
    let common = write(&dir, "common.pbidl", "package common;\nrecord Money { cents: i64 }\n");
    let shop =
        write(&dir, "shop.pbidl", "package shop.v1;\nimport \"common.pbidl\";\nrecord Item { price: common.Money }\n");
    let out = dir.join("out");
    let o = pb_idl(&["gen", &shop, "-o", out.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let shop_rs = std::fs::read_to_string(out.join("shop.v1.rs")).unwrap();
    assert!(shop_rs.contains("pub price: super::common::Money"), "{shop_rs}");
    assert!(out.join("common.rs").exists());
    assert!(stdout(&o).contains("shop.v1.rs"));
    // The same as the library generates.
    let checked = pb_idl::check_files(&[PathBuf::from(&shop)], &[]);
    let lib = checked.generate(&Default::default()).unwrap();
    assert_eq!(lib.iter().find(|g| g.package == "shop.v1").unwrap().code, shop_rs);
    let _ = common;
}

#[test]
fn gen_with_errors_exits_1_and_writes_nothing() {
    let dir = scratch("gen-bad");
    let bad = write(&dir, "bad.pbidl", "package bad;\nrecord A { x: Nope }\n");
    let out = dir.join("out");
    let o = pb_idl(&["gen", &bad, "-o", out.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("unknown type `Nope`"));
    assert!(!out.join("bad.rs").exists());
}

#[test]
fn gen_rejects_packages_sharing_a_module_and_writes_nothing() {
    // Two roots that do not import each other still share one run: `a_b.c`
    // and `a.b_c` would both be module `a_b_c` of the crate including them.
    let dir = scratch("gen-clash");
    let first = write(&dir, "first.pbidl", "package a_b.c;\nrecord A { x: u8 }\n");
    let second = write(&dir, "second.pbidl", "package a.b_c;\nrecord B { y: u8 }\n");
    let out = dir.join("out");
    let o = pb_idl(&["gen", &first, &second, "-o", out.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains("error[package-clash]: packages `a_b.c` and `a.b_c` both become Rust module `a_b_c`"),
        "{err}"
    );
    assert!(err.contains(&format!("{second}:1:9")), "{err}");
    assert!(err.contains(&format!("{first}:1:9")), "{err}");
    assert!(err.contains("help: "), "{err}");
    assert!(err.ends_with("1 error\n"), "{err}");
    assert!(!out.exists(), "nothing is written");
    // Either package alone is fine.
    assert_eq!(code(&pb_idl(&["check", &first])), 0);
    assert_eq!(code(&pb_idl(&["check", &second])), 0);
}

#[test]
fn compat_exit_codes() {
    let dir = "tests/golden/compat";
    let same = pb_idl(&["compat", &format!("{dir}/identical/old.pbidl"), &format!("{dir}/identical/new.pbidl")]);
    assert_eq!(code(&same), 0);
    assert_eq!(stdout(&same), "no changes\n");

    let added = pb_idl(&["compat", &format!("{dir}/method-added/old.pbidl"), &format!("{dir}/method-added/new.pbidl")]);
    assert_eq!(code(&added), 0);
    assert!(stdout(&added).starts_with("compatible: aurora.UserManager.count: method added"), "{}", stdout(&added));

    let removed =
        pb_idl(&["compat", &format!("{dir}/method-removed/old.pbidl"), &format!("{dir}/method-removed/new.pbidl")]);
    assert_eq!(code(&removed), 1);
    assert!(stdout(&removed).contains("breaking: aurora.UserManager.count: method removed"), "{}", stdout(&removed));

    let scratch = scratch("compat");
    let bad = write(&scratch, "bad.pbidl", "package bad;\nrecord A { x: Nope }\n");
    let o = pb_idl(&["compat", &format!("{dir}/identical/old.pbidl"), &bad]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("unknown type `Nope`"));
}

#[test]
fn help_documents_exit_codes_and_usage_errors_exit_2() {
    let o = pb_idl(&["--help"]);
    assert_eq!(code(&o), 0);
    let help = stdout(&o);
    assert!(help.contains("Exit codes:") && help.contains("compat:"), "{help}");
    let o = pb_idl(&["compat", "--help"]);
    assert!(stdout(&o).contains("1 at least one change is breaking"));
    assert_eq!(code(&pb_idl(&[])), 2);
    assert_eq!(code(&pb_idl(&["check"])), 2);
    assert_eq!(code(&pb_idl(&["gen", AURORA])), 2, "-o is required");
}

#[test]
fn thousands_of_errors_print_the_first_ones_and_a_count() {
    let dir = scratch("many");
    let mut text = String::from("package a;\nrecord A { x: u64 }\n");
    text.push_str(&"$\n".repeat(20_000));
    let a = write(&dir, "a.pbidl", &text);
    let o = pb_idl(&["check", &a]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.len() < 64 * 1024, "{} bytes", err.len());
    assert_eq!(err.matches("error[unexpected-char]").count(), pb_idl::diag::MAX_RENDERED);
    let more = 20_000 - pb_idl::diag::MAX_RENDERED;
    assert!(
        err.ends_with(&format!("... and {more} more errors not shown\n20000 errors\n")),
        "{}",
        &err[err.len() - 200..]
    );
}

#[test]
fn invalid_utf8_names_the_byte_line_and_column() {
    let dir = scratch("utf8");
    let path = dir.join("bad.pbidl");
    std::fs::write(&path, b"package a;\nrecord A { x\xff: u64 }\n").unwrap();
    let bad = path.to_string_lossy().into_owned();
    let o = pb_idl(&["check", &bad]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("invalid UTF-8 at byte 23 (0xff), line 2, column 13"), "{}", stderr(&o));
    // Imported, it is reported at the import, not as a missing file.
    let importer = write(&dir, "importer.pbidl", "package b;\nimport \"bad.pbidl\";\n");
    let o = pb_idl(&["check", &importer]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.contains("error[import]: cannot read") && err.contains("invalid UTF-8 at byte 23"), "{err}");
    assert!(err.contains(&format!("{importer}:2:8")) && !err.contains("cannot find"), "{err}");
}

#[test]
fn a_two_megabyte_line_is_shown_as_a_window_around_the_column() {
    let dir = scratch("long-line");
    let fields = |p: &str| (0..120_000).map(|i| format!("{p}{i}: u8, ")).collect::<String>();
    let before = format!("record A {{ {}", fields("f"));
    let line = format!("{before}bad: Nope, {}}}", fields("g"));
    assert!(line.len() > 2_000_000);
    let a = write(&dir, "a.pbidl", &format!("package a;\n{line}\n"));
    let o = pb_idl(&["check", &a]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.len() < 2_000, "{} bytes", err.len());
    let column = before.len() + "bad: ".len() + 1;
    assert!(err.contains(&format!("{a}:2:{column}")), "{err}");
    // The window starts and ends with `...`, and the caret is under `Nope`.
    let shown = err.lines().find(|l| l.starts_with("2 | ")).expect("the source line");
    assert!(shown.starts_with("2 | ...") && shown.ends_with("..."), "{shown}");
    let caret = err.lines().find(|l| l.contains("^^^^")).expect("a caret");
    let at = caret.find('^').unwrap();
    assert_eq!(&shown[at..at + 4], "Nope", "{shown}\n{caret}");
}

#[test]
fn invisible_and_control_characters_are_escaped_pointed_at_and_named() {
    let dir = scratch("invisible");
    let a =
        write(&dir, "a.pbidl", "package a;\nrecord A {\u{200b} x: u64 }\n// ok \u{202e} }\nrecord B { \u{1b}[2J }\n");
    let o = pb_idl(&["check", &a]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(!err.contains('\u{200b}') && !err.contains('\u{202e}') && !err.contains('\u{1b}'), "raw: {err:?}");
    assert!(err.contains("2 | record A {\\u{200b} x: u64 }"), "{err}");
    assert!(err.contains("^^^^^^^^ U+200B ZERO WIDTH SPACE"), "{err}");
    assert!(err.contains("help: U+200B ZERO WIDTH SPACE is invisible"), "{err}");
    assert!(err.contains("text direction control `\\u{202e}` in a comment"), "{err}");
    assert!(err.contains("^^^^^^^^ U+202E RIGHT-TO-LEFT OVERRIDE"), "{err}");
    assert!(err.contains("U+001B is a control character"), "{err}");
}

#[test]
fn compat_escapes_control_characters_of_wire_names() {
    let dir = scratch("compat-escape");
    let old = write(&dir, "old.pbidl", "package a;\ninterface I { ping(); }\n");
    let new = write(&dir, "new.pbidl", "package a;\n@name(\"a.\u{1b}[2JI\")\ninterface I { ping(); }\n");
    let o = pb_idl(&["compat", &old, &new]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(!out.contains('\u{1b}') && out.contains("`a.\\u{1b}[2JI`"), "{out:?}");
}
