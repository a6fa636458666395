//! Compile-fail tests: each file under `ui/` is a mistake a user can make, and its `.stderr`
//! is the error they get. Regenerate with `TRYBUILD=overwrite cargo test -p actor-macros`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
