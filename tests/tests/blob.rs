//! `pb::Blob`: byte payloads that cross a connection without copies, alone
//! and inside copied data, small and large, over every transport.

use std::sync::Arc;

use pb::Blob;
use pb_tests::net::{self, ALL};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, Serialize, Deserialize)]
enum StoreError {
    #[error(transparent)]
    Pb(#[from] pb::Error),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    name: String,
    parts: Vec<Blob>,
    tail: u64,
}

#[pb::remote_interface]
trait Store {
    async fn echo(&self, data: Blob) -> Result<Blob, StoreError>;
    async fn record(&self, r: Record) -> Result<Record, StoreError>;
    async fn sizes(&self, r: Record) -> Result<Vec<usize>, StoreError>;
}

struct Mirror;

#[pb::remote_impl]
impl Store for Mirror {
    async fn echo(&self, data: Blob) -> Result<Blob, StoreError> {
        Ok(data)
    }
    async fn record(&self, r: Record) -> Result<Record, StoreError> {
        Ok(r)
    }
    async fn sizes(&self, r: Record) -> Result<Vec<usize>, StoreError> {
        Ok(r.parts.iter().map(|p| p.len()).collect())
    }
}

fn blob(n: usize, seed: u8) -> Blob {
    Blob::from((0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect::<Vec<u8>>())
}

#[tokio::test]
async fn blobs_of_every_size_come_back_intact() {
    for link in ALL {
        let (store, _s, _c) = net::proxy::<dyn Store>(link, Arc::new(Mirror)).await;
        for n in [0, 1, 4095, 4096, 4097, 65_536, 1 << 20] {
            let b = blob(n, n as u8);
            assert_eq!(store.echo(b.clone()).await.unwrap(), b, "{link:?}, {n} bytes");
        }
    }
}

#[tokio::test]
async fn blobs_inside_copied_data_keep_their_place() {
    for link in ALL {
        let (store, _s, _c) = net::proxy::<dyn Store>(link, Arc::new(Mirror)).await;
        let r = Record {
            name: "mixed".into(),
            parts: vec![blob(10, 1), blob(100_000, 2), blob(0, 3), blob(5000, 4), blob(5000, 5)],
            tail: u64::MAX,
        };
        assert_eq!(store.record(r.clone()).await.unwrap(), r, "{link:?}");
        assert_eq!(store.sizes(r).await.unwrap(), vec![10, 100_000, 0, 5000, 5000]);
    }
}

#[tokio::test]
async fn many_large_blobs_in_flight_at_once() {
    let (store, _s, _c) = net::proxy::<dyn Store>(net::Link::Tcp, Arc::new(Mirror)).await;
    let calls = (0..64u8).map(|i| {
        let store = store.clone();
        async move {
            let b = blob(20_000 + i as usize * 100, i);
            assert_eq!(store.echo(b.clone()).await.unwrap(), b);
        }
    });
    futures_util::future::join_all(calls).await;
}
