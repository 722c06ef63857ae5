//! tarpc (current release): its serde transport over a length-delimited
//! codec, TCP_NODELAY, and postcard as the serialization format (the same
//! as raw and pb, so the comparison is about the RPC machinery).

use std::io;
use std::marker::PhantomData;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tarpc::server::{BaseChannel, Channel};
use tarpc::{client, context};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use crate::driver::{BoxError, Caller};

/// The benchmark service.
#[tarpc::service]
pub trait BenchRpc {
    /// `a + b`.
    async fn add(a: u64, b: u64) -> u64;
    /// `data`, back.
    async fn echo(data: Bytes) -> Bytes;
}

#[derive(Clone)]
struct Server;

impl BenchRpc for Server {
    async fn add(self, _: context::Context, a: u64, b: u64) -> u64 {
        a.wrapping_add(b)
    }
    async fn echo(self, _: context::Context, data: Bytes) -> Bytes {
        data
    }
}

/// postcard as a tokio-serde codec.
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

fn framed(stream: TcpStream) -> Framed<TcpStream, LengthDelimitedCodec> {
    let _ = stream.set_nodelay(true);
    Framed::new(stream, LengthDelimitedCodec::builder().max_frame_length(16 << 20).new_codec())
}

/// Serve connections on `listener` until the process exits; each request
/// runs in its own task (tarpc's usual setup).
pub async fn serve(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        let transport = tarpc::serde_transport::new(framed(stream), Postcard::default());
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
    /// Connect to a tarpc server.
    pub async fn connect(addr: std::net::SocketAddr) -> Result<TarpcClient, BoxError> {
        let transport = tarpc::serde_transport::new(framed(TcpStream::connect(addr).await?), Postcard::default());
        Ok(TarpcClient(BenchRpcClient::new(client::Config::default(), transport).spawn()))
    }
}

impl Caller for TarpcClient {
    async fn add(&self, a: u64, b: u64) -> Result<u64, BoxError> {
        Ok(self.0.add(context::current(), a, b).await?)
    }

    async fn echo(&self, data: Bytes) -> Result<Bytes, BoxError> {
        Ok(self.0.echo(context::current(), data).await?)
    }
}
