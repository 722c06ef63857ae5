//! Fault injection, to test what an application does in an outage.
//!
//! pb's own tests and demos use these; so can yours.
//!
//! [`FaultProxy`] listens on 127.0.0.1:0 (or an address of your choice) and forwards every connection to an
//! upstream address. A test can:
//! - [`cut`](FaultProxy::cut) the link: every forwarded connection is closed
//!   at once and new ones are closed as soon as they are accepted (the peer
//!   sees EOF, as when a process dies or a router resets);
//! - [`hold`](FaultProxy::hold) it: nothing is forwarded any more and nothing
//!   is closed (a black hole: only a ping timeout can notice);
//! - [`heal`](FaultProxy::heal) it: forwarding resumes (held connections go on
//!   where they stopped; new connections are forwarded).
//!
//! Every task stops when the proxy is dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::stream::Transport;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward both ways.
    Pass,
    /// Close everything, refuse new connections.
    Cut,
    /// Forward nothing, close nothing.
    Hold,
}

/// A TCP proxy that can cut, hold and heal its links. See the module docs.
pub struct FaultProxy {
    addr: SocketAddr,
    mode: watch::Sender<(Mode, u64)>,
    live: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    stop: CancellationToken,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy").field("addr", &self.addr).field("mode", &self.mode()).finish()
    }
}

impl FaultProxy {
    /// Start a proxy to `upstream` on 127.0.0.1:0.
    ///
    /// # Errors
    ///
    /// The proxy could not listen (no free port, no loopback interface).
    pub async fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), upstream).await
    }

    /// Start a proxy to `upstream`, listening on `listen`.
    ///
    /// # Errors
    ///
    /// The proxy could not listen on `listen` (address in use, not local).
    pub async fn start_on(listen: SocketAddr, upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (mode, _) = watch::channel((Mode::Pass, 0));
        let proxy =
            FaultProxy { addr, mode, live: Arc::default(), accepted: Arc::default(), stop: CancellationToken::new() };
        let (rx, live, accepted, stop) =
            (proxy.mode.subscribe(), proxy.live.clone(), proxy.accepted.clone(), proxy.stop.clone());
        tokio::spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    r = listener.accept() => match r { Ok(s) => s, Err(_) => continue },
                    () = stop.cancelled() => return,
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                if rx.borrow().0 == Mode::Cut {
                    drop(stream);
                    continue;
                }
                let (rx, live, stop) = (rx.clone(), live.clone(), stop.clone());
                tokio::spawn(async move {
                    live.fetch_add(1, Ordering::SeqCst);
                    tokio::select! {
                        () = forward(stream, upstream, rx) => {}
                        () = stop.cancelled() => {}
                    }
                    live.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Ok(proxy)
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.mode.borrow().0
    }

    /// Close every link and refuse new ones until [`heal`](Self::heal).
    pub fn cut(&self) {
        self.set(Mode::Cut);
    }

    /// Stop forwarding without closing anything (a black hole).
    pub fn hold(&self) {
        self.set(Mode::Hold);
    }

    /// Forward again.
    pub fn heal(&self) {
        self.set(Mode::Pass);
    }

    /// Connections being forwarded (or held) now.
    pub fn connections(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Connections accepted since the start (including refused ones).
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn set(&self, mode: Mode) {
        set(&self.mode, mode);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Wait until the mode lets traffic through; false once it is a cut.
async fn passable(rx: &mut watch::Receiver<(Mode, u64)>) -> bool {
    loop {
        match rx.borrow_and_update().0 {
            Mode::Pass => return true,
            Mode::Cut => return false,
            Mode::Hold => {}
        }
        if rx.changed().await.is_err() {
            return false;
        }
    }
}

/// Resolves when the link is cut.
async fn cut(mut rx: watch::Receiver<(Mode, u64)>) {
    let _ = rx.wait_for(|(m, _)| *m == Mode::Cut).await;
}

async fn forward(client: TcpStream, upstream: SocketAddr, mut rx: watch::Receiver<(Mode, u64)>) {
    // A held connection is not even connected upstream until healed.
    if !passable(&mut rx).await {
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    splice(client, server, rx).await;
}

/// Forward between `a` and `b` as the mode says, until either side closes
/// or the link is cut; then both are dropped (closed).
async fn splice<A, B>(a: A, b: B, rx: watch::Receiver<(Mode, u64)>)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (ar, aw) = tokio::io::split(a);
    let (br, bw) = tokio::io::split(b);
    tokio::select! {
        () = pump(ar, bw, rx.clone()) => {}
        () = pump(br, aw, rx.clone()) => {}
        () = cut(rx) => {}
    }
}

async fn pump(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin, mut rx: watch::Receiver<(Mode, u64)>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !passable(&mut rx).await {
            return;
        }
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            // Re-check the mode: a hold stops reading.
            _ = rx.changed() => continue,
        };
        // Bytes read just before a hold are delivered only after the heal.
        if !passable(&mut rx).await {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() || to.flush().await.is_err() {
            return;
        }
    }
}

/// A fault switch for in-memory links (for tests on tokio's paused clock,
/// where real sockets cannot be used): [`link`](MemorySwitch::link) makes a
/// pair of transports joined through the switch.
#[derive(Clone)]
pub struct MemorySwitch {
    mode: Arc<watch::Sender<(Mode, u64)>>,
}

impl Default for MemorySwitch {
    fn default() -> Self {
        MemorySwitch { mode: Arc::new(watch::channel((Mode::Pass, 0)).0) }
    }
}

impl MemorySwitch {
    /// Two transports joined through the switch: `(client side, server side)`.
    /// A cut closes both; a hold forwards nothing.
    pub fn link(&self) -> (Transport, Transport) {
        let (client, near) = tokio::io::duplex(64 * 1024);
        let (far, server) = tokio::io::duplex(64 * 1024);
        let rx = self.mode.subscribe();
        if rx.borrow().0 != Mode::Cut {
            tokio::spawn(splice(near, far, rx));
        }
        (Transport::from_io(client, "memory-client"), Transport::from_io(server, "memory-server"))
    }

    /// Close every link; new links are dead at once.
    pub fn cut(&self) {
        set(&self.mode, Mode::Cut);
    }

    /// Forward nothing, close nothing.
    pub fn hold(&self) {
        set(&self.mode, Mode::Hold);
    }

    /// Forward again.
    pub fn heal(&self) {
        set(&self.mode, Mode::Pass);
    }
}

fn set(tx: &watch::Sender<(Mode, u64)>, mode: Mode) {
    tx.send_modify(|(m, generation)| {
        *m = mode;
        *generation += 1;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_address_in_use_is_an_error_not_a_panic() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();
        let e = FaultProxy::start_on(addr, addr).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse, "{e}");
        let proxy = FaultProxy::start(addr).await.unwrap();
        assert_ne!(proxy.addr(), addr);
    }
}
