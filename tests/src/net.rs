//! Connect two sides of a test over each transport.

use pb::{Connection, Interface, Transport};
use std::sync::Arc;

/// The transports tests run over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// `tokio::io::duplex`.
    Memory,
    /// TCP on 127.0.0.1, port 0.
    Tcp,
    /// A Unix socket pair.
    Unix,
}

/// Every transport, for tests that run over each.
pub const ALL: [Link; 3] = [Link::Memory, Link::Tcp, Link::Unix];

/// Two connected transports of kind `link`.
pub async fn transports(link: Link) -> (Transport, Transport) {
    match link {
        Link::Memory => Transport::memory_pair(),
        Link::Tcp => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (client, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
            (Transport::tcp(accepted.unwrap().0), Transport::tcp(client.unwrap()))
        }
        Link::Unix => {
            let (a, b) = tokio::net::UnixStream::pair().unwrap();
            (Transport::unix(a), Transport::unix(b))
        }
    }
}

/// A server side serving `root` and a client side connected to it.
/// Returns `(server, client)`.
pub async fn serve<T: ?Sized + Interface>(link: Link, root: Arc<T>) -> (Connection, Connection) {
    let (s, c) = transports(link).await;
    let (server, client) =
        tokio::join!(Connection::builder().root(root).establish(s), Connection::builder().establish(c));
    (server.unwrap(), client.unwrap())
}

/// Serve `root` and return a proxy to it, plus both connections.
pub async fn proxy<T: ?Sized + Interface>(link: Link, root: Arc<T>) -> (Arc<T>, Connection, Connection) {
    let (server, client) = serve(link, root).await;
    (client.root::<T>().unwrap(), server, client)
}

/// Accept TCP connections on 127.0.0.1:0 and serve `root` on each; returns
/// the address and the accepted connections as they come (the accept loop
/// stops when the receiver is dropped).
pub async fn listen<T: ?Sized + Interface>(
    root: Arc<T>,
) -> (std::net::SocketAddr, tokio::sync::mpsc::UnboundedReceiver<Connection>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            if tx.is_closed() {
                break;
            }
            let root = root.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                if let Ok(conn) = Connection::builder().root(root).establish(Transport::tcp(stream)).await {
                    let _ = tx.send(conn);
                }
            });
        }
    });
    (addr, rx)
}
