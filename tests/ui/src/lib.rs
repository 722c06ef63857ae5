//! Compile-error (trybuild) tests of pb's macros: the cases are the
//! directories beside `src/` (`args/`, `method/`, `trait/`, `pass/`), the
//! harness is `tests/ui.rs`. This library is empty. The cases live in a crate
//! of their own because trybuild builds every dependency of the crate that
//! runs it, and pb-tests depends on TLS, proptest and the examples.
