//! What the runtime knows of an interface's methods.

/// What the runtime knows about one method of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodInfo {
    /// The method's name on the wire: as written in the trait, as the
    /// interface's `rename_all` spells it, or its `#[pb(name = "...")]`.
    pub name: &'static str,
    /// Its stable id on the wire.
    pub id: u32,
    /// Declared safe to re-run after an outage to rebuild what it returned.
    pub replay: bool,
    /// Declared idempotent: retried once after healing if the link dropped.
    pub idempotent: bool,
    /// Hash of the method's signature (argument, result and error types,
    /// with paths reduced to their last segment): peers compare it to tell
    /// whether a method changed. See [`crate::describe`].
    pub signature: u64,
    /// The names of its parameters, in order (a Twisted caller's keyword
    /// arguments are put at their positions by these names).
    pub params: &'static [&'static str],
}

/// The name of method `method` among `methods`.
pub(crate) fn method_name(methods: &[MethodInfo], method: u32) -> Option<&'static str> {
    methods.iter().find(|m| m.id == method).map(|m| m.name)
}
