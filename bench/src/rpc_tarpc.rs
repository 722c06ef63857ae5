//! tarpc (current release), in two configurations:
//!
//! - `tarpc`: its defaults, as its documentation sets it up:
//!   `serde_transport::tcp` (tokio-util's length-delimited codec with its
//!   default settings) and tokio-serde's `Bincode` format;
//! - `tarpc-postcard`: the same transport with postcard as the format (the
//!   format of raw and pb, so the difference is the RPC machinery).
//!
//! Both set `TCP_NODELAY`, as every target does. The service takes plain
//! `Vec<u8>`, `bytes::Bytes` and `String`; the server runs each request in
//! its own task (tarpc's usual setup).

use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tarpc::serde_transport::{Transport, tcp};
use tarpc::server::{BaseChannel, Channel};
use tarpc::{ClientMessage, Response, client, context};
use tokio::net::{TcpListener, TcpStream};
use tokio_serde::formats::Bincode;

use crate::driver::{BoxError, Caller};

/// The benchmark service.
#[tarpc::service]
pub trait BenchRpc {
    /// `a + b`.
    async fn add(a: u64, b: u64) -> u64;
    /// `data`, back, as a plain `Vec<u8>`.
    async fn echo_vec(data: Vec<u8>) -> Vec<u8>;
    /// `data`, back, as `bytes::Bytes`.
    async fn echo_blob(data: Bytes) -> Bytes;
    /// `text`, back.
    async fn echo_str(text: String) -> String;
}

#[derive(Clone)]
struct Server;

impl BenchRpc for Server {
    async fn add(self, _: context::Context, a: u64, b: u64) -> u64 {
        a.wrapping_add(b)
    }
    async fn echo_vec(self, _: context::Context, data: Vec<u8>) -> Vec<u8> {
        data
    }
    async fn echo_blob(self, _: context::Context, data: Bytes) -> Bytes {
        data
    }
    async fn echo_str(self, _: context::Context, text: String) -> String {
        text
    }
}

/// postcard as a tokio-serde format.
struct Postcard<In, Out>(PhantomData<fn() -> (In, Out)>);

impl<In, Out> Default for Postcard<In, Out> {
    fn default() -> Self {
        Postcard(PhantomData)
    }
}

impl<In: DeserializeOwned, Out> tokio_serde::Deserializer<In> for Postcard<In, Out> {
    type Error = io::Error;
    fn deserialize(self: Pin<&mut Self>, src: &BytesMut) -> Result<In, io::Error> {
        postcard::from_bytes(src).map_err(io::Error::other)
    }
}

impl<In, Out: Serialize> tokio_serde::Serializer<Out> for Postcard<In, Out> {
    type Error = io::Error;
    fn serialize(self: Pin<&mut Self>, item: &Out) -> Result<Bytes, io::Error> {
        postcard::to_stdvec(item).map(Bytes::from).map_err(io::Error::other)
    }
}

/// Which serde format a tarpc target uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// tokio-serde's bincode (tarpc's documented default).
    Bincode,
    /// postcard.
    Postcard,
}

fn nodelay<I, O, C>(t: &Transport<TcpStream, I, O, C>) -> io::Result<()> {
    t.get_ref().set_nodelay(true)
}

/// Serve connections on `listener` until the process exits.
pub async fn serve(listener: TcpListener, format: Format) -> io::Result<()> {
    match format {
        Format::Bincode => serve_on(tcp::listen_on(listener, Bincode::default).await?).await,
        Format::Postcard => serve_on(tcp::listen_on(listener, Postcard::default).await?).await,
    }
    Ok(())
}

async fn serve_on<T, C>(mut incoming: T)
where
    T: Stream<Item = io::Result<Transport<TcpStream, ClientMessage<BenchRpcRequest>, Response<BenchRpcResponse>, C>>>
        + Unpin,
    C: tokio_serde::Serializer<Response<BenchRpcResponse>, Error = io::Error>
        + tokio_serde::Deserializer<ClientMessage<BenchRpcRequest>, Error = io::Error>
        + Send
        + Unpin
        + 'static,
{
    while let Some(Ok(transport)) = incoming.next().await {
        if nodelay(&transport).is_err() {
            continue;
        }
        let channel = BaseChannel::with_defaults(transport);
        tokio::spawn(channel.execute(Server.serve()).for_each(|call| async move {
            tokio::spawn(call);
        }));
    }
}

/// A client connection.
#[derive(Clone)]
pub struct TarpcClient(BenchRpcClient);

impl TarpcClient {
    /// Connect to a tarpc server that uses `format`.
    pub async fn connect(addr: SocketAddr, format: Format) -> Result<TarpcClient, BoxError> {
        let client = match format {
            Format::Bincode => {
                let transport = tcp::connect(addr, Bincode::default).await?;
                nodelay(&transport)?;
                BenchRpcClient::new(client::Config::default(), transport).spawn()
            }
            Format::Postcard => {
                let transport = tcp::connect(addr, Postcard::default).await?;
                nodelay(&transport)?;
                BenchRpcClient::new(client::Config::default(), transport).spawn()
            }
        };
        Ok(TarpcClient(client))
    }
}

impl Caller for TarpcClient {
    async fn add(&self, a: u64, b: u64) -> Result<u64, BoxError> {
        Ok(self.0.add(context::current(), a, b).await?)
    }
    async fn echo_vec(&self, data: Vec<u8>) -> Result<Vec<u8>, BoxError> {
        Ok(self.0.echo_vec(context::current(), data).await?)
    }
    async fn echo_blob(&self, data: Bytes) -> Result<Bytes, BoxError> {
        Ok(self.0.echo_blob(context::current(), data).await?)
    }
    async fn echo_str(&self, text: String) -> Result<String, BoxError> {
        Ok(self.0.echo_str(context::current(), text).await?)
    }

    async fn stream(&self, _size: usize, _count: u64) -> Result<u64, BoxError> {
        Err("tarpc has no streams (its maintainers point to channels of your own)".into())
    }
}
