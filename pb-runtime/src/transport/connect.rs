//! How a session (re)connects: TCP, Unix sockets, or anything that yields a
//! [`Transport`].

use std::future::Future;
use std::io;
use std::pin::Pin;

use super::stream::Transport;

/// Opens a new transport to the server, once per (re)connect attempt.
pub trait Connect: Send + Sync + 'static {
    /// Open a transport.
    fn connect(&self) -> Pin<Box<dyn Future<Output = io::Result<Transport>> + Send + '_>>;
    /// The server's address, for events and logs.
    fn describe(&self) -> String;
}

/// TCP to a `host:port`.
pub(crate) struct Tcp(pub(crate) String);

impl Connect for Tcp {
    fn connect(&self) -> Pin<Box<dyn Future<Output = io::Result<Transport>> + Send + '_>> {
        Box::pin(async move { Ok(Transport::tcp(tokio::net::TcpStream::connect(&self.0).await?)) })
    }
    fn describe(&self) -> String {
        self.0.clone()
    }
}

/// Any closure returning a future of a transport, with a description.
pub struct ConnectFn<F> {
    f: F,
    describe: String,
}

impl<F, Fut> ConnectFn<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<Transport>> + Send + 'static,
{
    /// A connector calling `f` for each attempt.
    pub fn new(describe: impl Into<String>, f: F) -> Self {
        ConnectFn { f, describe: describe.into() }
    }
}

impl<F, Fut> Connect for ConnectFn<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<Transport>> + Send + 'static,
{
    fn connect(&self) -> Pin<Box<dyn Future<Output = io::Result<Transport>> + Send + '_>> {
        Box::pin((self.f)())
    }
    fn describe(&self) -> String {
        self.describe.clone()
    }
}
