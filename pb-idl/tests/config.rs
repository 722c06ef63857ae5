//! The build.rs API: `Config::compile` writes one file per package, and
//! `Config::compile_python` one Python module per package.

use std::path::PathBuf;

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pb-idl-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn compile_writes_every_package() {
    let out = out_dir("all");
    let written = pb_idl::Config::new()
        .out_dir(&out)
        .emit_rerun_if_changed(false)
        .compile(&["tests/golden/gen/shop.pbidl"], &["tests/golden/gen"])
        .unwrap();
    assert_eq!(written, vec![out.join("shop.rs"), out.join("common.rs")]);
    // The same code as the golden files (modulo the header naming the files).
    let shop = std::fs::read_to_string(out.join("shop.rs")).unwrap();
    let golden = std::fs::read_to_string("tests/golden/gen/expected/shop.rs").unwrap();
    assert_eq!(shop, golden);
}

#[test]
fn extern_paths_and_pb_path() {
    let out = out_dir("extern");
    let written = pb_idl::Config::new()
        .out_dir(&out)
        .emit_rerun_if_changed(false)
        .extern_path("common", "::common_types")
        .pb_path("::my_pb")
        .compile(&["tests/golden/gen/shop.pbidl"], &["tests/golden/gen"])
        .unwrap();
    assert_eq!(written, vec![out.join("shop.rs")]);
    let shop = std::fs::read_to_string(out.join("shop.rs")).unwrap();
    assert!(shop.contains("price: ::common_types::Money"), "{shop}");
    assert!(shop.contains("#[::my_pb::remote_interface(name = \"shop.Shop\", crate = \"::my_pb\")]"), "{shop}");
    assert!(shop.contains("#[serde(crate = \"::my_pb::__private::serde\")]"), "{shop}");
    assert!(shop.contains("#[describe(crate = \"::my_pb\")]"), "{shop}");
}

#[test]
fn streams_use_the_pb_path() {
    let out = out_dir("streams");
    pb_idl::Config::new()
        .out_dir(&out)
        .emit_rerun_if_changed(false)
        .pb_path("crate::my_pb")
        .compile(&["tests/golden/gen/streams.pbidl"], &["tests/golden/gen"])
        .unwrap();
    let code = std::fs::read_to_string(out.join("streams.rs")).unwrap();
    assert!(code.contains("pub chunks: crate::my_pb::Stream<crate::my_pb::Blob>,"), "{code}");
    assert!(code.contains("crate::my_pb::Stream<crate::my_pb::Ref<dyn Counter>>"), "{code}");
    assert!(code.contains("crate::my_pb::Stream<crate::my_pb::Stream<u64>>"), "{code}");
    assert!(!code.contains("::pb::"), "{code}");
}

#[test]
fn schema_errors_are_rendered() {
    let out = out_dir("bad");
    let err = pb_idl::Config::new()
        .out_dir(&out)
        .emit_rerun_if_changed(false)
        .compile(&["tests/golden/diag/unknown-type.pbidl"], &[] as &[&str])
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, pb_idl::Error::Schema(_)));
    assert!(text.contains("tests/golden/diag/unknown-type.pbidl:8:12"), "{text}");
    assert!(text.contains("did you mean `User`?"), "{text}");
    assert!(!out.exists(), "nothing is written for an invalid schema");
}

#[test]
fn packages_sharing_a_module_are_a_schema_error() {
    // `a_b` imports `a.b`: both would be module `a_b`, and `a_b`'s code
    // would look for `a.b`'s types in itself.
    let out = out_dir("clash");
    let err = pb_idl::Config::new()
        .out_dir(&out)
        .emit_rerun_if_changed(false)
        .compile(&["tests/golden/diag/package-module-clash.pbidl"], &["tests/golden/diag/support"])
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, pb_idl::Error::Schema(_)));
    assert!(text.contains("error[package-clash]: packages `a_b` and `a.b` both become Rust module `a_b`"), "{text}");
    assert!(text.contains("tests/golden/diag/support/a.b.pbidl:1:9"), "{text}");
    assert!(!out.exists(), "nothing is written for an invalid schema");
}

#[test]
fn out_dir_comes_from_cargo() {
    // pb-idl has no build script, so OUT_DIR is unset here.
    let err = pb_idl::compile(&["tests/golden/gen/common.pbidl"], &[] as &[&str]).unwrap_err();
    assert!(matches!(err, pb_idl::Error::NoOutDir), "{err}");
    let err = pb_idl::Config::new()
        .pb_path("not a path")
        .out_dir(out_dir("p"))
        .compile(&["tests/golden/gen/common.pbidl"], &[] as &[&str])
        .unwrap_err();
    assert!(matches!(err, pb_idl::Error::Config(_)), "{err}");
}

#[test]
fn compile_python_writes_every_module() {
    let out = out_dir("python");
    let written = pb_idl::Config::new()
        .out_dir(&out)
        .emit_rerun_if_changed(false)
        .compile_python(&["tests/golden/gen/shop.pbidl"], &["tests/golden/gen"])
        .unwrap();
    assert_eq!(written, vec![out.join("shop.py"), out.join("common.py")]);
    for module in ["shop.py", "common.py"] {
        let code = std::fs::read_to_string(out.join(module)).unwrap();
        let golden = std::fs::read_to_string(format!("tests/golden/python/expected/{module}")).unwrap();
        assert_eq!(code, golden, "{module}");
    }
    // Packages generated elsewhere are left out, as for Rust.
    let out = out_dir("python-extern");
    let written = pb_idl::Config::new()
        .out_dir(&out)
        .emit_rerun_if_changed(false)
        .extern_path("common", "::common_types")
        .compile_python(&["tests/golden/gen/shop.pbidl"], &["tests/golden/gen"])
        .unwrap();
    assert_eq!(written, vec![out.join("shop.py")]);
    let written = pb_idl::compile_python(&["tests/golden/gen/common.pbidl"], &[] as &[&str], &out).unwrap();
    assert_eq!(written, vec![out.join("common.py")]);
}

#[test]
fn what_python_cannot_express_is_an_error() {
    let dir = out_dir("python-clash-schema");
    std::fs::create_dir_all(&dir).unwrap();
    let schema = dir.join("a.pbidl");
    std::fs::write(
        &schema,
        "package a;\nrecord User { id: u64 }\n@name(\"a.User\")\nmodel Users { state { n: u64 } }\n",
    )
    .unwrap();
    let out = out_dir("python-clash");
    let err =
        pb_idl::Config::new().out_dir(&out).emit_rerun_if_changed(false).compile_python(&[&schema], &[] as &[&str]);
    let err = err.unwrap_err();
    assert!(matches!(err, pb_idl::Error::Python(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "cannot generate Python: `a.User` and `a.Users` would both be registered under the copy tag `a.User`: give the model another `@name`"
    );
    assert!(!out.exists(), "nothing is written");
}

#[test]
fn senders_use_the_pb_path() {
    let out = out_dir("senders");
    pb_idl::Config::new()
        .out_dir(&out)
        .emit_rerun_if_changed(false)
        .pb_path("crate::my_pb")
        .compile(&["tests/golden/gen/senders.pbidl"], &["tests/golden/gen"])
        .unwrap();
    let code = std::fs::read_to_string(out.join("senders.rs")).unwrap();
    assert!(code.contains("pub events: crate::my_pb::Sender<Event>,"), "{code}");
    assert!(code.contains("crate::my_pb::Sender<crate::my_pb::Ref<dyn Counter>>"), "{code}");
    assert!(code.contains("crate::my_pb::Stream<crate::my_pb::Sender<u64>>"), "{code}");
    assert!(code.contains("crate::my_pb::Sender<crate::my_pb::Stream<u64>>"), "{code}");
    assert!(!code.contains("::pb::"), "{code}");
}
