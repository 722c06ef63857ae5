//! Benchmarks (filled in by its own issue).
