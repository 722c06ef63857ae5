//! A pb server for Twisted PB clients, with the root API of Twisted's
//! reference server (`pb-runtime/tests/twisted/server.py`): a Twisted
//! client written for that server runs against this one unchanged, for the
//! calls pb serves (see `pb_examples::twisted`), and logs in to its portal
//! (alice/secret, an avatar with `whoami`) on a second port.
//!
//! ```sh
//! cargo run -p pb-examples --example twisted_server
//! ```
//!
//! It binds 127.0.0.1 only, on ports the system picks, prints
//! `PORTS <root> <portal>` as `server.py` does, and serves until its
//! standard input closes.

#[tokio::main]
async fn main() -> Result<(), pb::Error> {
    let server = pb_examples::twisted::server::bind("127.0.0.1:0").await?;
    let portal = pb_examples::twisted::server::bind_portal("127.0.0.1:0").await?;
    println!("PORTS {} {}", server.local_addr().port(), portal.local_addr().port());
    // Serve until stdin closes (the test or shell that started us is gone).
    let (closed, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = closed.send(());
    });
    let _ = stdin_closed.await;
    tokio::join!(
        server.shutdown(std::time::Duration::from_secs(1)),
        portal.shutdown(std::time::Duration::from_secs(1))
    );
    Ok(())
}
