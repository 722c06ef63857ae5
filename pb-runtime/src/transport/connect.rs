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

/// A TCP address a session (re)connects to, resolved again at each attempt:
/// `"host:port"` (`&str` or `String`), a `SocketAddr`, `(IpAddr, u16)` or
/// `("host", u16)`. What [`Client::connect`](crate::Client::connect) takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpAddr(String);

impl TcpAddr {
    /// The address as `host:port`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TcpAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for TcpAddr {
    fn from(a: &str) -> Self {
        TcpAddr(a.to_string())
    }
}
impl From<String> for TcpAddr {
    fn from(a: String) -> Self {
        TcpAddr(a)
    }
}
impl From<&String> for TcpAddr {
    fn from(a: &String) -> Self {
        TcpAddr(a.clone())
    }
}
impl From<std::net::SocketAddr> for TcpAddr {
    fn from(a: std::net::SocketAddr) -> Self {
        TcpAddr(a.to_string())
    }
}
impl From<&std::net::SocketAddr> for TcpAddr {
    fn from(a: &std::net::SocketAddr) -> Self {
        TcpAddr(a.to_string())
    }
}
impl From<(std::net::IpAddr, u16)> for TcpAddr {
    fn from((ip, port): (std::net::IpAddr, u16)) -> Self {
        TcpAddr(std::net::SocketAddr::new(ip, port).to_string())
    }
}
impl From<(std::net::Ipv4Addr, u16)> for TcpAddr {
    fn from((ip, port): (std::net::Ipv4Addr, u16)) -> Self {
        TcpAddr(std::net::SocketAddr::new(ip.into(), port).to_string())
    }
}
impl From<(&str, u16)> for TcpAddr {
    fn from((host, port): (&str, u16)) -> Self {
        TcpAddr(format!("{host}:{port}"))
    }
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
