//! The pb schema language (filled in by its own issue).
