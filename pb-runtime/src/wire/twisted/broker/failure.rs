//! Failures: what an `["error", req, failure]` carries.
//!
//! Twisted sends a `twisted.spread.pb.CopyableFailure` copy whose state
//! holds the exception's type (bytes), its `str()`, the names of its classes
//! (`parents`, most derived first, used by `Failure.check`) and a traceback.
//! pb sends the same, plus `pb_error`: the jelly of the Rust error value,
//! which Python ignores and a pb peer decodes.

use bytes::Bytes;
use serde::Deserialize;

use super::super::banana::Value;
use super::super::jelly::{self, form};
use crate::Error;

/// The copy tag of a failure.
pub const COPYABLE_FAILURE: &str = "twisted.spread.pb.CopyableFailure";

/// The traceback pb sends (as Twisted does without `unsafeTracebacks`).
pub const NO_TRACEBACK: &str = "Traceback unavailable\n";

/// A failure, as sent or received.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The exception's qualified type, such as `twisted.spread.pb.Error`.
    pub kind: String,
    /// Its text (Python's `str(exception)`).
    pub value: String,
    /// The type and its bases, most derived first (`Failure.check` reads them).
    pub parents: Vec<String>,
    /// The traceback text.
    pub traceback: String,
    /// The jelly of the Rust error, when a pb peer sent it.
    pub pb_error: Option<Value>,
}

impl Failure {
    /// A failure of type `kind` with text `value`, deriving from `bases`
    /// (most derived first; `builtins.Exception`, `builtins.BaseException`
    /// and `builtins.object` are appended).
    pub fn new(kind: &str, value: &str, bases: &[&str]) -> Failure {
        let roots = ["builtins.Exception", "builtins.BaseException", "builtins.object"];
        let mut parents: Vec<String> = vec![kind.to_string()];
        for p in bases.iter().chain(&roots) {
            if !parents.iter().any(|q| q == p) {
                parents.push(p.to_string());
            }
        }
        Failure { kind: kind.into(), value: value.into(), parents, traceback: NO_TRACEBACK.into(), pb_error: None }
    }

    /// Whether the failure is of type `kind` or derives from it.
    pub fn check(&self, kind: &str) -> bool {
        self.parents.iter().any(|p| p == kind)
    }

    /// The failure's jelly: a `CopyableFailure` copy.
    pub fn to_value(&self) -> Value {
        let entry = |k: &str, v: Value| (form::unicode(k), v);
        let mut entries = vec![
            entry("type", Value::Bytes(Bytes::copy_from_slice(self.kind.as_bytes()))),
            entry("value", form::unicode(&self.value)),
            entry("parents", form::list(self.parents.iter().map(|p| form::unicode(p)))),
            entry("traceback", form::unicode(&self.traceback)),
            entry("frames", form::list([])),
            entry("stack", form::list([])),
            entry("tb", form::none()),
        ];
        if let Some(e) = &self.pb_error {
            entries.push(entry("pb_error", e.clone()));
        }
        Value::List(vec![Value::bytes(COPYABLE_FAILURE.as_bytes()), form::dictionary(entries)])
    }

    /// Read a failure from its jelly (a `CopyableFailure` copy, or its bare
    /// state).
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] when it is neither, or lacks `type`.
    pub fn from_value(value: &Value) -> Result<Failure, Error> {
        let state: State = jelly::from_value(value)?;
        let dict = match form::split(value) {
            Some((tag, [state])) if tag == COPYABLE_FAILURE.as_bytes() => state,
            _ => value,
        };
        let pb_error = form::split(dict).and_then(|(_, entries)| {
            entries.iter().find_map(|e| match e.as_list() {
                Some([k, v]) if form::as_text(k) == Some("pb_error") => Some(v.clone()),
                _ => None,
            })
        });
        let parents = if state.parents.is_empty() { vec![state.kind.clone()] } else { state.parents };
        Ok(Failure {
            kind: state.kind,
            value: state.value,
            parents,
            traceback: state.traceback.unwrap_or_default(),
            pb_error,
        })
    }
}

/// The fields of a failure's state pb reads.
#[derive(Deserialize)]
#[serde(rename = "twisted.spread.pb.CopyableFailure")]
struct State {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    parents: Vec<String>,
    #[serde(default)]
    traceback: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_round_trip() {
        let mut f = Failure::new("aurora.UserError.NotFound", "no user 7", &["twisted.spread.pb.Error"]);
        f.pb_error = Some(form::dictionary([(form::unicode("NotFound"), Value::Int(7))]));
        assert!(f.check("twisted.spread.pb.Error") && f.check("builtins.Exception"));
        assert_eq!(f.parents.len(), 5);
        assert_eq!(Failure::from_value(&f.to_value()).unwrap(), f);
        assert!(Failure::from_value(&form::none()).is_err());
    }
}
