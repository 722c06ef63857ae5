//! The aurora `UserManager` in a registry, served until stopped (Ctrl-C):
//! a server to look at with the `pb` command.
//!
//! ```sh
//! cargo run -p pb-examples --example aurora_server -- 127.0.0.1:7000
//! pb ls 127.0.0.1:7000
//! ```

use std::sync::Arc;

use pb_examples::aurora::{UserManager, Users};

#[tokio::main]
async fn main() -> Result<(), pb::Error> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:7000".into());
    let registry = pb::Registry::local().serve::<dyn UserManager>(Arc::new(Users::with_sample_users()));
    let server = pb::Server::bind(addr, registry).await?;
    println!("serving aurora on {}", server.local_addr());
    let stop = server.handle();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.shutdown(std::time::Duration::from_secs(5)).await;
    });
    server.run().await
}
