//! Compile errors of the macros (trybuild). Refresh the .stderr files with
//! `TRYBUILD=overwrite cargo test -p pb-tests-ui --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("method/*.rs");
    t.compile_fail("args/*.rs");
    t.compile_fail("trait/*.rs");
    t.compile_fail("server/*.rs");
    t.pass("pass/*.rs");
}
