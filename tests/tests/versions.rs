//! Peers built from different versions of an interface: a client can tell
//! before calling, and a call to a method the peer lacks names it.

use std::sync::Arc;

use pb::describe::{Difference, check};
use pb::{Connection, Error};

mod v1 {
    #[pb::remote_interface(name = "test.Versioned")]
    pub trait Versioned {
        async fn get(&self, id: u64) -> Result<String, pb::Error>;
        async fn old(&self) -> Result<u64, pb::Error>;
    }

    pub struct Server;

    #[pb::remote_impl]
    impl Versioned for Server {
        async fn get(&self, id: u64) -> Result<String, pb::Error> {
            Ok(format!("v1 #{id}"))
        }
        async fn old(&self) -> Result<u64, pb::Error> {
            Ok(1)
        }
    }
}

mod v2 {
    #[pb::remote_interface(name = "test.Versioned")]
    pub trait Versioned {
        /// Re-typed: the result changed.
        async fn get(&self, id: u64) -> Result<Vec<String>, pb::Error>;
        /// Added.
        async fn fresh(&self) -> Result<u64, pb::Error>;
    }

    pub struct Server;

    #[pb::remote_impl]
    impl Versioned for Server {
        async fn get(&self, id: u64) -> Result<Vec<String>, pb::Error> {
            Ok(vec![format!("v2 #{id}")])
        }
        async fn fresh(&self) -> Result<u64, pb::Error> {
            Ok(2)
        }
    }
}

async fn connect<T: ?Sized + pb::Interface>(root: Arc<T>) -> (Connection, Connection) {
    let (a, b) = pb::Transport::memory_pair();
    let (s, c) = tokio::join!(Connection::builder().root(root).establish(a), Connection::builder().establish(b));
    (s.unwrap(), c.unwrap())
}

#[tokio::test]
async fn a_client_tells_that_the_server_interface_differs_before_calling() {
    let (_s, client) = connect::<dyn v2::Versioned>(Arc::new(v2::Server)).await;
    let old = client.root::<dyn v1::Versioned>().unwrap();
    let report = check(&old).await.unwrap();
    assert!(!report.is_compatible(), "{report}");
    assert_eq!(
        report.differences,
        [Difference::Signature("get".into()), Difference::Missing("old".into()), Difference::Extra("fresh".into())]
    );
    assert!(report.to_string().contains("method `old` is missing on the peer"));

    // The same version: identical.
    let (_s, client) = connect::<dyn v1::Versioned>(Arc::new(v1::Server)).await;
    let same = client.root::<dyn v1::Versioned>().unwrap();
    assert!(check(&same).await.unwrap().is_identical());
    // A local object needs no check.
    let local: Arc<dyn v1::Versioned> = Arc::new(v1::Server);
    assert!(check(&local).await.unwrap().is_identical());
}

#[tokio::test]
async fn calling_a_method_the_peer_lacks_names_the_interface_and_the_method() {
    let (_s, client) = connect::<dyn v2::Versioned>(Arc::new(v2::Server)).await;
    let old = client.root::<dyn v1::Versioned>().unwrap();
    let err = old.old().await.unwrap_err();
    match &err {
        Error::UnknownMethod { interface, name, .. } => {
            assert_eq!(interface, "test.Versioned");
            assert_eq!(name.as_deref(), Some("old"));
        }
        other => panic!("expected UnknownMethod, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("`old`") && text.contains("test.Versioned") && text.contains("another version"), "{text}");
    // The connection goes on.
    let new = client.root::<dyn v2::Versioned>().unwrap();
    assert_eq!(new.fresh().await.unwrap(), 2);
}

/// The same interface written with different collection and byte types that
/// postcard encodes alike: one peer uses `HashMap` and `Vec<u8>`, the other
/// `BTreeMap` and `pb::Blob` (as the IDL generates for `map` and a blob).
mod hashed {
    use std::collections::HashMap;

    #[pb::remote_interface(name = "test.Tally")]
    pub trait Tally {
        async fn tally(&self, words: HashMap<String, u32>, raw: Vec<u8>) -> Result<HashMap<String, u32>, pb::Error>;
    }

    pub struct Server;

    #[pb::remote_impl]
    impl Tally for Server {
        async fn tally(&self, words: HashMap<String, u32>, raw: Vec<u8>) -> Result<HashMap<String, u32>, pb::Error> {
            let mut out: HashMap<String, u32> = words.into_iter().map(|(w, n)| (w, n * 2)).collect();
            out.insert("bytes".into(), raw.len() as u32);
            Ok(out)
        }
    }
}

mod ordered {
    use std::collections::BTreeMap;

    #[pb::remote_interface(name = "test.Tally")]
    pub trait Tally {
        async fn tally(&self, words: BTreeMap<String, u32>, raw: pb::Blob) -> Result<BTreeMap<String, u32>, pb::Error>;
    }
}

#[tokio::test]
async fn peers_using_types_that_encode_alike_describe_alike_and_interoperate() {
    let (_s, client) = connect::<dyn hashed::Tally>(Arc::new(hashed::Server)).await;
    let tally = client.root::<dyn ordered::Tally>().unwrap();
    let report = check(&tally).await.unwrap();
    assert!(report.is_identical(), "{report}");
    let words = std::collections::BTreeMap::from([("a".to_string(), 1), ("b".to_string(), 5)]);
    let out = tally.tally(words, pb::Blob::from(vec![0u8; 3])).await.unwrap();
    assert_eq!(out, std::collections::BTreeMap::from([("a".into(), 2), ("b".into(), 10), ("bytes".into(), 3)]));
}
