//! Shared code of the pb examples.
