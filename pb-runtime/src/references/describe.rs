//! Interface versions: what a peer's object offers, compared with what this
//! process expects.
//!
//! Every object answers a reserved method ([`crate::wire::DESCRIBE_METHOD`])
//! with its [`InterfaceDescription`]: the interface's name and id, and for
//! each method its name, id and signature hash (argument, result and error
//! types with paths reduced to their last segment, so a schema-generated
//! trait and a hand-written one with the same types agree; types postcard
//! encodes alike are written alike: any map type is `map`, any set `set`,
//! `Blob`/`Bytes`/`ByteBuf` are `Vec<u8>`, `Box<T>` is `T`). [`check`]
//! compares that with the local trait before any call is made:
//!
//! ```ignore
//! let report = pb::describe::check(&users).await?;
//! if !report.is_compatible() {
//!     eprintln!("the server's UserManager differs: {report}");
//! }
//! ```
//!
//! Asked with version 2 ([`ProxyHandle::describe_types`]), a peer also
//! sends its methods' argument, result and error types ([`types`]), for
//! tools such as the `pb` command; older peers answer version 1 to every
//! request, and readers of version 2 accept it.
//!
//! A call to a method the peer does not have fails with
//! [`Error::UnknownMethod`] naming the interface and the method (never a
//! decode error).

pub use super::types;

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::interface::Interface;
use super::proxy::ProxyHandle;
use crate::Error;

/// One method as a peer describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodDescription {
    /// Method name.
    pub name: String,
    /// Wire id.
    pub id: u32,
    /// Signature hash (see the module docs).
    pub signature: u64,
}

/// An interface as a peer's object implements it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceDescription {
    /// Interface name.
    pub name: String,
    /// Interface id.
    pub id: u64,
    /// Its remote methods.
    pub methods: Vec<MethodDescription>,
}

impl InterfaceDescription {
    /// The description of interface `T` in this process.
    pub fn of<T: ?Sized + Interface>() -> Self {
        InterfaceDescription {
            name: T::NAME.to_string(),
            id: T::ID,
            methods: T::METHODS
                .iter()
                .map(|m| MethodDescription { name: m.name.to_string(), id: m.id, signature: m.signature })
                .collect(),
        }
    }
}

/// One way the peer's interface differs from the local one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The peer's object is of another interface altogether.
    Interface {
        /// What this process expects.
        expected: String,
        /// What the peer has.
        found: String,
    },
    /// The peer lacks this method: calling it fails with `UnknownMethod`.
    Missing(String),
    /// The method exists on both sides with different types: calls may fail
    /// to decode.
    Signature(String),
    /// The peer has a method this process does not know (harmless).
    Extra(String),
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Interface { expected, found } => write!(f, "expected interface `{expected}`, found `{found}`"),
            Difference::Missing(m) => write!(f, "method `{m}` is missing on the peer"),
            Difference::Signature(m) => write!(f, "method `{m}` has different types on the peer"),
            Difference::Extra(m) => write!(f, "the peer has an extra method `{m}`"),
        }
    }
}

/// How the peer's interface compares with the local one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compatibility {
    /// Every difference found (empty when both sides are the same version).
    pub differences: Vec<Difference>,
}

impl Compatibility {
    /// Compare the local interface `T` with a peer's description.
    pub fn between<T: ?Sized + Interface>(peer: &InterfaceDescription) -> Self {
        let mut differences = Vec::new();
        if peer.id != T::ID {
            differences.push(Difference::Interface { expected: T::NAME.to_string(), found: peer.name.clone() });
            return Compatibility { differences };
        }
        for m in T::METHODS {
            match peer.methods.iter().find(|p| p.id == m.id) {
                None => differences.push(Difference::Missing(m.name.to_string())),
                Some(p) if p.signature != m.signature => differences.push(Difference::Signature(m.name.to_string())),
                Some(_) => {}
            }
        }
        for p in &peer.methods {
            if !T::METHODS.iter().any(|m| m.id == p.id) {
                differences.push(Difference::Extra(p.name.clone()));
            }
        }
        Compatibility { differences }
    }

    /// Whether every local method can be called as is (extra methods on the
    /// peer do not matter).
    pub fn is_compatible(&self) -> bool {
        self.differences.iter().all(|d| matches!(d, Difference::Extra(_)))
    }

    /// Whether both sides are the same version.
    pub fn is_identical(&self) -> bool {
        self.differences.is_empty()
    }
}

impl fmt::Display for Compatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.differences.is_empty() {
            return f.write_str("identical");
        }
        let parts: Vec<String> = self.differences.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join("; "))
    }
}

/// Ask the peer behind `proxy` how it implements `T`, and compare. A local
/// object is trivially identical.
///
/// # Errors
///
/// The link is down, or the peer does not answer descriptions.
pub async fn check<T: ?Sized + Interface>(proxy: &Arc<T>) -> Result<Compatibility, Error> {
    let Some(handle) = T::proxy_handle(proxy) else {
        return Ok(Compatibility { differences: Vec::new() });
    };
    let peer = handle.describe().await?;
    Ok(Compatibility::between::<T>(&peer))
}

impl ProxyHandle {
    /// The peer object's interface description.
    ///
    /// # Errors
    ///
    /// The link is down, or the peer does not answer descriptions.
    pub async fn describe(&self) -> Result<InterfaceDescription, Error> {
        self.call::<(), Result<InterfaceDescription, Error>>(crate::wire::DESCRIBE_METHOD, &()).await?
    }
}

/// The reply to a describe request: variant 0 and 1 are what every peer
/// answers (`Result<InterfaceDescription, Error>`); variant 2 is the
/// answer to a version-2 request, with the types.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum DescribeReply {
    Ok(InterfaceDescription),
    Err(Error),
    WithTypes(InterfaceDescription, types::TypeTable),
}

impl ProxyHandle {
    /// The peer object's interface description and, if the peer is recent
    /// enough to send them, its methods' types (`None` from older peers).
    ///
    /// # Errors
    ///
    /// The link is down, or the peer does not answer descriptions.
    pub async fn describe_types(&self) -> Result<(InterfaceDescription, Option<types::TypeTable>), Error> {
        match self.call::<_, DescribeReply>(crate::wire::DESCRIBE_METHOD, &(types::TYPES_VERSION,)).await? {
            DescribeReply::Ok(d) => Ok((d, None)),
            DescribeReply::WithTypes(d, t) => Ok((d, Some(t))),
            DescribeReply::Err(e) => Err(e),
        }
    }
}

/// The type table of interface `T` in this process.
pub(crate) fn type_table<T: ?Sized + Interface>() -> types::TypeTable {
    let mut cx = types::TypeCx::default();
    let methods = T::method_types(&mut cx);
    types::TypeTable::new(methods, cx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc() -> InterfaceDescription {
        InterfaceDescription {
            name: "t.I".into(),
            id: 7,
            methods: vec![MethodDescription { name: "m".into(), id: 1, signature: 2 }],
        }
    }

    /// An older peer answers every describe request with version 1: a new
    /// client reads it as a description without types.
    #[test]
    fn a_version_1_reply_reads_as_a_description_without_types() {
        let old = postcard::to_allocvec(&Ok::<_, Error>(desc())).unwrap();
        assert!(matches!(postcard::from_bytes::<DescribeReply>(&old).unwrap(), DescribeReply::Ok(d) if d == desc()));
        let old = postcard::to_allocvec(&Err::<InterfaceDescription, _>(Error::Unauthorized)).unwrap();
        assert!(matches!(
            postcard::from_bytes::<DescribeReply>(&old).unwrap(),
            DescribeReply::Err(Error::Unauthorized)
        ));
    }
}
