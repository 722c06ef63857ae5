//! A server object that counts how many times each call ran, for tests of
//! exactly-once delivery across outages.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Records calls by id.
#[pb::remote_interface]
pub trait Ledger {
    /// Count one run of call `id`, wait `delay_ms`, return `id`.
    async fn record(&self, id: u64, delay_ms: u64) -> Result<u64, pb::Error>;
    /// How many times call `id` ran.
    async fn runs(&self, id: u64) -> Result<u32, pb::Error>;
    /// `len` bytes, after `delay_ms`.
    async fn bytes(&self, len: usize, delay_ms: u64) -> Result<Vec<u8>, pb::Error>;
}

/// The ledger's state: runs per call id.
#[derive(Default)]
pub struct Book {
    runs: Mutex<HashMap<u64, u32>>,
    /// Calls run in all.
    pub total: AtomicU64,
}

impl Book {
    /// How many times call `id` ran.
    pub fn runs_of(&self, id: u64) -> u32 {
        self.runs.lock().unwrap().get(&id).copied().unwrap_or(0)
    }

    /// Ids that ran more than once.
    pub fn twice(&self) -> Vec<u64> {
        self.runs.lock().unwrap().iter().filter(|(_, n)| **n > 1).map(|(id, _)| *id).collect()
    }
}

#[pb::remote_impl]
impl Ledger for Book {
    async fn record(&self, id: u64, delay_ms: u64) -> Result<u64, pb::Error> {
        *self.runs.lock().unwrap().entry(id).or_default() += 1;
        self.total.fetch_add(1, Ordering::SeqCst);
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
        Ok(id)
    }
    async fn runs(&self, id: u64) -> Result<u32, pb::Error> {
        Ok(self.runs_of(id))
    }
    async fn bytes(&self, len: usize, delay_ms: u64) -> Result<Vec<u8>, pb::Error> {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        Ok(vec![7; len])
    }
}
