//! `memory`: bytes per idle connection (each side) and per live proxy,
//! from counting allocators in both processes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::alloc;
use crate::driver::BoxError;
use crate::rpc_pb::{Bench, PbClient};

/// What one pb connection and one proxy cost.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// Idle connections opened.
    pub connections: usize,
    /// Bytes per idle connection, client side.
    pub client_bytes_per_conn: f64,
    /// Bytes per idle connection, server side.
    pub server_bytes_per_conn: f64,
    /// Live proxies held.
    pub proxies: usize,
    /// Bytes per live proxy, on the side holding it.
    pub client_bytes_per_proxy: f64,
    /// Bytes per exported object in the export table, on the side serving it
    /// (the object itself excluded).
    pub server_bytes_per_export: f64,
}

/// Live bytes once the count stops moving (tasks and handshakes finishing).
async fn settled(read: impl AsyncFnMut() -> Result<i64, BoxError>) -> Result<i64, BoxError> {
    let mut read = read;
    let mut last = read().await?;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(40)).await;
        let now = read().await?;
        if (now - last).abs() < 512 {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

/// Measure against the pb server at `server` (started with `--count-alloc`);
/// this process must count too.
pub async fn run(server: SocketAddr, connections: usize, proxies: usize) -> Result<Memory, BoxError> {
    assert!(alloc::enabled(), "the memory client must count allocations");
    let main = PbClient::connect(server).await?;
    let remote = main.bench.clone();
    let server_live = async || Ok(remote.live_bytes().await?);
    let client_live = async || Ok(alloc::live());

    let mut held = Vec::with_capacity(connections);
    let (c0, s0) = (settled(client_live).await?, settled(server_live).await?);
    for _ in 0..connections {
        held.push(pb::Connection::connect_tcp(server).await?);
    }
    let (c1, s1) = (settled(client_live).await?, settled(server_live).await?);
    for (i, conn) in held.iter().enumerate().step_by(97) {
        let sum = conn.root::<dyn Bench>()?.add(i as u64, 1).await?;
        if sum != i as u64 + 1 {
            return Err(format!("connection {i}: add returned {sum}").into());
        }
    }
    for conn in &held {
        conn.close();
    }
    drop(held);

    let mut live: Vec<Arc<dyn Bench>> = Vec::with_capacity(proxies);
    // The server's objects themselves are not the export table's cost.
    let object = std::mem::size_of::<crate::rpc_pb::BenchServer>() as f64 + 16.0;
    let (c2, s2) = (settled(client_live).await?, settled(server_live).await?);
    while live.len() < proxies {
        let n = (proxies - live.len()).min(10_000) as u32;
        live.extend(main.bench.objects(n).await?.into_iter().map(pb::Ref::into_arc));
    }
    let (c3, s3) = (settled(client_live).await?, settled(server_live).await?);
    for (i, p) in live.iter().enumerate().step_by(997) {
        let sum = p.add(i as u64, 2).await?;
        if sum != i as u64 + 2 {
            return Err(format!("proxy {i}: add returned {sum}").into());
        }
    }
    Ok(Memory {
        connections,
        client_bytes_per_conn: (c1 - c0) as f64 / connections as f64,
        server_bytes_per_conn: (s1 - s0) as f64 / connections as f64,
        proxies,
        client_bytes_per_proxy: (c3 - c2) as f64 / proxies as f64,
        server_bytes_per_export: (s3 - s2) as f64 / proxies as f64 - object,
    })
}
