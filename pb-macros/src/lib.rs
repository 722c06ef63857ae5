//! Procedural macros of pb.
