//! A whole connection: a server serving `Target` (copies, recursive values,
//! references in arguments and results) reads the fuzz input as the bytes a
//! client sends after a valid hello. Every frame kind, forged ids, releases,
//! references and nesting go through the real reader, dispatch and tables
//! with their limits. It must never panic (libFuzzer aborts on any panic,
//! even one pb would catch), and the connection must end cleanly once the
//! input ends.

#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use pb::{Config, Connection, Transport};
use pb_fuzz_common::{Target, Targets, hello};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap())
}

fuzz_target!(|data: &[u8]| {
    runtime().block_on(async {
        let (client, server) = tokio::io::duplex(64 << 10);
        let config = Config::default().max_frame_len(64 << 10).max_exports(16).max_in_flight(16).max_depth(32);
        let serve = Connection::builder()
            .config(config)
            .root::<dyn Target>(Arc::new(Targets))
            .establish(Transport::from_io(server, "fuzz"));
        let (mut read, mut write) = tokio::io::split(client);
        let drain = tokio::spawn(async move {
            let mut sink = vec![0u8; 16 << 10];
            while matches!(read.read(&mut sink).await, Ok(n) if n > 0) {}
        });
        let send = async {
            let _ = write.write_all(&hello()).await;
            let _ = write.write_all(data).await;
            let _ = write.shutdown().await;
        };
        let (conn, ()) = tokio::join!(serve, send);
        if let Ok(conn) = conn {
            // End of input closes the connection; calls still running finish
            // or are dropped with it.
            tokio::time::timeout(Duration::from_secs(5), conn.closed()).await.expect("the connection ends");
        }
        drain.abort();
    });
});
