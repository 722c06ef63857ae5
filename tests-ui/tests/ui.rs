//! Compile errors of the macros (trybuild). Refresh the .stderr files with
//! `TRYBUILD=overwrite cargo test -p pb-tests-ui --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/method/*.rs");
    t.compile_fail("ui/args/*.rs");
    t.compile_fail("ui/trait/*.rs");
    t.pass("ui/pass/*.rs");
}
