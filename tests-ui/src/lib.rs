//! Compile-error tests of pb's macros live in `tests/ui.rs` and `ui/`; this
//! library is empty.
