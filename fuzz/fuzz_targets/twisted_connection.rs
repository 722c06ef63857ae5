//! A pb server for Twisted PB clients (`Server::serve_twisted`), serving an
//! interface with copies, references both ways, `AnyRef`, recursive values
//! and a oneway method, reads the fuzz input as the bytes a Twisted client
//! sends after the handshake (its dialect and version, which the target
//! sends first). Every PB message kind, forged luids and request ids,
//! answers to the server's own calls, releases, keyword arguments and
//! nesting go through the real reader, dispatch and tables with their
//! limits. It must never panic (libFuzzer aborts on any panic, even one pb
//! would catch), and the connection must end once the input ends.

#![no_main]

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use pb::{Config, Listener, Transport};
use pb_fuzz_common::twisted::{TwistedTarget, TwistedTargets, twisted_handshake};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap())
}

/// Yields one transport, then nothing.
struct Once(Option<Transport>);

impl Listener for Once {
    fn accept(&mut self) -> Pin<Box<dyn Future<Output = io::Result<Transport>> + Send + '_>> {
        let next = self.0.take();
        Box::pin(async move {
            match next {
                Some(transport) => Ok(transport),
                None => std::future::pending().await,
            }
        })
    }
}

fuzz_target!(|data: &[u8]| {
    runtime().block_on(async {
        let (client, server) = tokio::io::duplex(64 << 10);
        let config = Config::default().max_frame_len(64 << 10).max_exports(16).max_in_flight(16).max_depth(32);
        let root = pb::root::<dyn TwistedTarget>(Arc::new(TwistedTargets));
        let served = pb::Server::serve_twisted(Once(Some(Transport::from_io(server, "fuzz"))), root, config);
        let (mut read, mut write) = tokio::io::split(client);
        // Reads what the server sends until it closes its side.
        let drain = tokio::spawn(async move {
            let mut sink = vec![0u8; 16 << 10];
            while matches!(read.read(&mut sink).await, Ok(n) if n > 0) {}
        });
        let _ = write.write_all(&twisted_handshake()).await;
        let _ = write.write_all(data).await;
        let _ = write.shutdown().await;
        // End of input closes the connection; calls still running finish
        // or are dropped with it.
        tokio::time::timeout(Duration::from_secs(5), drain).await.expect("the connection ends").unwrap();
        drop(served);
    });
});
