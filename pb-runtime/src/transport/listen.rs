//! Where servers get their transports: TCP and Unix listeners, or anything
//! that implements [`Listener`] (TLS, in-memory switches).

use std::future::Future;
use std::io;
use std::pin::Pin;

use super::stream::Transport;

/// Yields transports for a server to serve: TCP, Unix, in-memory.
pub trait Listener: Send + 'static {
    /// The next incoming transport.
    fn accept(&mut self) -> Pin<Box<dyn Future<Output = io::Result<Transport>> + Send + '_>>;
}

impl Listener for tokio::net::TcpListener {
    fn accept(&mut self) -> Pin<Box<dyn Future<Output = io::Result<Transport>> + Send + '_>> {
        Box::pin(async move { Ok(Transport::tcp(tokio::net::TcpListener::accept(self).await?.0)) })
    }
}

#[cfg(unix)]
impl Listener for tokio::net::UnixListener {
    fn accept(&mut self) -> Pin<Box<dyn Future<Output = io::Result<Transport>> + Send + '_>> {
        Box::pin(async move { Ok(Transport::unix(tokio::net::UnixListener::accept(self).await?.0)) })
    }
}
