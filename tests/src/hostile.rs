//! Support for the hostile-peer suite: a target interface with the methods a
//! hostile peer aims at, and a harness that starts a real [`pb::Server`] and
//! checks, after each case, that it is alive, bounded and still serving.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::alloc;
use crate::aurora::UserError;

/// A recursive value, for nesting attacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tree {
    /// A leaf.
    Leaf(u32),
    /// A node with children.
    Node(Vec<Tree>),
}

impl Tree {
    /// How deep the tree is (a leaf is 1).
    pub fn depth(&self) -> u32 {
        match self {
            Tree::Leaf(_) => 1,
            Tree::Node(children) => 1 + children.iter().map(Tree::depth).max().unwrap_or(0),
        }
    }

    /// The postcard encoding of a chain of `nodes` nodes ending in a leaf,
    /// written by hand (encoding a deep tree with serde would recurse too).
    pub fn encode_chain(nodes: usize) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(2 * nodes + 2);
        for _ in 0..nodes {
            bytes.extend_from_slice(&[1, 1]); // Node, one child
        }
        bytes.extend_from_slice(&[0, 7]); // Leaf(7)
        bytes
    }
}

/// What the hostile suite's server serves.
#[pb::remote_interface]
pub trait Target {
    /// Returns `v`.
    async fn echo(&self, v: u64) -> Result<u64, UserError>;
    /// The depth of `tree`.
    async fn depth(&self, tree: Tree) -> Result<u32, UserError>;
    /// A string of `len` bytes (at most 1 MiB).
    async fn blob(&self, len: u32) -> Result<String, UserError>;
    /// A new object, by reference (an export on the caller's connection).
    async fn child(&self) -> Result<Arc<dyn Target>, UserError>;
    /// Whether `other` is a local object of this server (not a proxy).
    async fn is_local(&self, other: Arc<dyn Target>) -> Result<bool, UserError>;
    /// Waits `ms` milliseconds, then returns `v`.
    async fn slow(&self, ms: u64, v: u64) -> Result<u64, UserError>;
    /// Panics.
    async fn explode(&self) -> Result<(), UserError>;
    /// Panics before its first await (while being dispatched).
    async fn explode_at_once(&self) -> Result<(), UserError>;
}

/// The server-side implementation of [`Target`].
#[derive(Default)]
pub struct Targets {
    /// Calls of `slow` running now.
    pub running: AtomicUsize,
    /// The most calls of `slow` that ran at once.
    pub most_running: AtomicUsize,
}

#[pb::remote_impl]
impl Target for Targets {
    async fn echo(&self, v: u64) -> Result<u64, UserError> {
        Ok(v)
    }
    async fn depth(&self, tree: Tree) -> Result<u32, UserError> {
        Ok(tree.depth())
    }
    async fn blob(&self, len: u32) -> Result<String, UserError> {
        Ok("x".repeat(len.min(1 << 20) as usize))
    }
    async fn child(&self) -> Result<Arc<dyn Target>, UserError> {
        Ok(Arc::new(Targets::default()))
    }
    async fn is_local(&self, other: Arc<dyn Target>) -> Result<bool, UserError> {
        Ok(<dyn Target as pb::Interface>::proxy_handle(&*other).is_none())
    }
    async fn slow(&self, ms: u64, v: u64) -> Result<u64, UserError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_running.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(v)
    }
    async fn explode(&self) -> Result<(), UserError> {
        tokio::task::yield_now().await;
        panic!("boom after a yield")
    }
    async fn explode_at_once(&self) -> Result<(), UserError> {
        panic!("boom at once")
    }
}

/// The wire id of a [`Target`] method.
pub fn method(name: &str) -> u32 {
    <dyn Target as pb::Interface>::METHODS.iter().find(|m| m.name == name).expect("a Target method").id
}

/// A real server on 127.0.0.1:0 serving [`Targets`], and the memory baseline
/// taken when it started.
pub struct Harness {
    /// The server.
    pub server: pb::Server,
    /// Its address.
    pub addr: SocketAddr,
    /// The served object.
    pub root: Arc<Targets>,
    baseline: usize,
}

/// Most bytes a hostile case may make the process allocate beyond the
/// baseline, unless the case says otherwise.
pub const DEFAULT_PEAK_BUDGET: usize = 8 << 20;

impl Harness {
    /// Start a server with `config`.
    pub async fn start(config: pb::Config) -> Harness {
        let root = Arc::new(Targets::default());
        let server = pb::Server::bind_with("127.0.0.1:0", root.clone() as Arc<dyn Target>, config).await.unwrap();
        let addr = server.local_addr();
        let baseline = alloc::current();
        alloc::reset_peak();
        Harness { server, addr, root, baseline }
    }

    /// Bytes allocated beyond the baseline at the peak so far.
    pub fn peak_growth(&self) -> usize {
        alloc::peak().saturating_sub(self.baseline)
    }

    /// The server's connections other than `keep`, once they are all closed
    /// (at most 10 s).
    pub async fn wait_connections(&self, most: usize) {
        for _ in 0..2000 {
            if self.server.connections().len() <= most && self.server.handshaking() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!(
            "the server still has {} connections and {} handshakes (expected at most {most})",
            self.server.connections().len(),
            self.server.handshaking()
        );
    }

    /// The server connection of the most recent peer (by connection id).
    pub async fn newest_connection(&self) -> pb::Connection {
        for _ in 0..2000 {
            if let Some(c) = self.server.connections().into_iter().max_by_key(|c| c.id()) {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("no connection reached the server");
    }

    /// After a hostile case: the hostile peers' connections are gone (at most
    /// `open` are left), the process allocated at most `peak_budget` bytes
    /// beyond the baseline at any time, nothing stayed allocated, and a
    /// second, well-behaved client is served correctly.
    pub async fn check(&self, open: usize, peak_budget: usize) {
        self.wait_connections(open).await;
        let peak = self.peak_growth();
        assert!(peak <= peak_budget, "the hostile peer made the process allocate {peak} bytes (budget {peak_budget})");
        let client = pb::Client::connect(self.addr.to_string()).await.expect("a good client connects");
        let target = client.root::<dyn Target>().unwrap();
        assert_eq!(target.echo(42).await.unwrap(), 42);
        assert_eq!(target.depth(Tree::Node(vec![Tree::Leaf(1), Tree::Node(vec![Tree::Leaf(2)])])).await.unwrap(), 3);
        let child = target.child().await.unwrap();
        assert!(target.is_local(child.clone()).await.unwrap(), "a reference sent back arrives as the original");
        drop((child, target));
        client.close();
        self.wait_connections(open).await;
        // What the case left allocated (tasks, buffers, tables) is gone again.
        self.wait_freed(1 << 20).await;
    }

    /// Wait (at most 5 s) until at most `slack` bytes beyond the baseline
    /// are allocated.
    pub async fn wait_freed(&self, slack: usize) {
        let mut left = 0;
        for _ in 0..500 {
            left = alloc::current().saturating_sub(self.baseline);
            if left <= slack {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{left} bytes are still allocated beyond the baseline (slack {slack})");
    }
}
