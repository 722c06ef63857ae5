//! pb: the benchmark interface, its server and relay, and the client side.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::driver::{BoxError, Caller};

/// Errors of the benchmark interface.
#[derive(Debug, thiserror::Error, Serialize, Deserialize)]
pub enum BenchError {
    /// A transport failure, at any hop.
    #[error(transparent)]
    Pb(#[from] pb::Error),
}

/// The benchmark interface.
#[pb::remote_interface]
pub trait Bench {
    /// `a + b`.
    async fn add(&self, a: u64, b: u64) -> Result<u64, BenchError>;
    /// `data`, back, as a plain `Vec<u8>`.
    async fn echo_vec(&self, data: Vec<u8>) -> Result<Vec<u8>, BenchError>;
    /// `data`, back. (`pb::Blob` is pb's type for byte payloads: it crosses
    /// the connection without copies; raw and tarpc use `bytes::Bytes`.)
    async fn echo(&self, data: pb::Blob) -> Result<pb::Blob, BenchError>;
    /// `text`, back.
    async fn echo_str(&self, text: String) -> Result<String, BenchError>;
    /// The object to benchmark: at a relay, its proxy to the upstream
    /// server (handed out by reference); elsewhere a fresh local object.
    async fn target(&self) -> Result<Arc<dyn Bench>, BenchError>;
    /// `n` fresh objects, by reference (for the memory workload).
    async fn objects(&self, n: u32) -> Result<Vec<pb::Ref<dyn Bench>>, BenchError>;
    /// Bytes live in the server process's counting allocator.
    async fn live_bytes(&self) -> Result<i64, BenchError>;
    /// `count` items of `size` bytes, item `i` filled with `i as u8`.
    async fn stream(&self, size: usize, count: u64) -> Result<pb::Stream<Vec<u8>>, BenchError>;
}

/// The server's root (and, with an upstream, the relay's).
pub struct BenchServer {
    upstream: Option<Arc<dyn Bench>>,
}

#[pb::remote_impl]
impl Bench for BenchServer {
    async fn add(&self, a: u64, b: u64) -> Result<u64, BenchError> {
        Ok(a.wrapping_add(b))
    }
    async fn echo_vec(&self, data: Vec<u8>) -> Result<Vec<u8>, BenchError> {
        Ok(data)
    }
    async fn echo(&self, data: pb::Blob) -> Result<pb::Blob, BenchError> {
        Ok(data)
    }
    async fn echo_str(&self, text: String) -> Result<String, BenchError> {
        Ok(text)
    }
    async fn target(&self) -> Result<Arc<dyn Bench>, BenchError> {
        Ok(match &self.upstream {
            Some(up) => up.clone(),
            None => Arc::new(BenchServer { upstream: None }),
        })
    }
    async fn objects(&self, n: u32) -> Result<Vec<pb::Ref<dyn Bench>>, BenchError> {
        Ok((0..n).map(|_| pb::Ref::new(Arc::new(BenchServer { upstream: None }) as Arc<dyn Bench>)).collect())
    }
    async fn live_bytes(&self) -> Result<i64, BenchError> {
        Ok(crate::alloc::live())
    }
    async fn stream(&self, size: usize, count: u64) -> Result<pb::Stream<Vec<u8>>, BenchError> {
        Ok(pb::Stream::iter((0..count).map(move |i| vec![i as u8; size])))
    }
}

/// Connection settings of the bench servers: room for the memory
/// workload's 100,000 exports on one connection.
pub fn server_config() -> pb::Config {
    pb::Config::default().max_exports(1 << 20)
}

/// Serve the benchmark root on `addr`; with `upstream`, as a relay that
/// holds a reconnecting proxy to that server and hands it out.
/// Returns the server and the relay's session (keep both alive).
pub async fn serve(addr: &str, upstream: Option<SocketAddr>) -> Result<(pb::Server, Option<pb::Client>), BoxError> {
    let (root, session) = match upstream {
        Some(up) => {
            let session = pb::Client::connect(up.to_string()).await?;
            let proxy = session.root::<dyn Bench>()?;
            (BenchServer { upstream: Some(proxy) }, Some(session))
        }
        None => (BenchServer { upstream: None }, None),
    };
    let server = pb::Server::bind_with(addr, Arc::new(root) as Arc<dyn Bench>, server_config()).await?;
    Ok((server, session))
}

/// Serve the benchmark root to Twisted PB clients on `addr` (PB's wire:
/// banana and jelly), for the comparison with a Twisted server
/// (`bench/twisted/`).
pub async fn serve_twisted(addr: &str) -> Result<pb::Server, BoxError> {
    let root = Arc::new(BenchServer { upstream: None }) as Arc<dyn Bench>;
    Ok(pb::Server::bind_twisted_with(addr, root, server_config()).await?)
}

/// A client connection: a proxy to a `Bench` object.
#[derive(Clone)]
pub struct PbClient {
    /// The proxy calls go through.
    pub bench: Arc<dyn Bench>,
    /// The connection it lives on.
    pub conn: pb::Connection,
    /// The session, for a client made by [`PbClient::session`] (held: the
    /// session ends when its last handle is dropped).
    pub _session: Option<pb::Client>,
}

impl PbClient {
    /// Connect to a pb server and take its root.
    pub async fn connect(addr: SocketAddr) -> Result<PbClient, BoxError> {
        let conn = pb::Connection::connect_tcp(addr).await?;
        Ok(PbClient { bench: conn.root::<dyn Bench>()?, conn, _session: None })
    }

    /// Connect through a resumable session and take its root (a
    /// reconnecting proxy).
    pub async fn session(addr: SocketAddr) -> Result<PbClient, BoxError> {
        let session = pb::Client::connect(addr).await?;
        Ok(PbClient { bench: session.root::<dyn Bench>()?, conn: session.connection(), _session: Some(session) })
    }

    /// Connect to a relay and take the proxy it hands out.
    pub async fn through_relay(relay: SocketAddr) -> Result<PbClient, BoxError> {
        let root = PbClient::connect(relay).await?;
        Ok(PbClient { bench: root.bench.target().await?, conn: root.conn, _session: None })
    }
}

impl Caller for PbClient {
    async fn add(&self, a: u64, b: u64) -> Result<u64, BoxError> {
        Ok(self.bench.add(a, b).await?)
    }

    async fn echo_vec(&self, data: Vec<u8>) -> Result<Vec<u8>, BoxError> {
        Ok(self.bench.echo_vec(data).await?)
    }

    async fn echo_blob(&self, data: Bytes) -> Result<Bytes, BoxError> {
        Ok(self.bench.echo(data.into()).await?.into())
    }

    async fn echo_str(&self, text: String) -> Result<String, BoxError> {
        Ok(self.bench.echo_str(text).await?)
    }

    async fn stream(&self, size: usize, count: u64) -> Result<u64, BoxError> {
        use futures_util::StreamExt;
        let mut items = self.bench.stream(size, count).await?;
        let (mut i, mut bytes) = (0u64, 0u64);
        while let Some(item) = items.next().await {
            let item = item?;
            crate::driver::check_item(i, &item, size)?;
            bytes += item.len() as u64;
            i += 1;
        }
        Ok(bytes)
    }
}
