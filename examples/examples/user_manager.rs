//! The seed's UserManager as a server and a client on 127.0.0.1.
//!
//! Run with `cargo run -p pb-examples --example user_manager`. The server
//! listens on an ephemeral port; the client connects, calls the remote
//! UserManager through the same trait a local object implements, and exits.

use std::sync::Arc;

use pb::{Connection, Transport};
use pb_examples::aurora::{UserError, UserManager, Users};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Server: serve a UserManager as the root object of every connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let users: Arc<dyn UserManager> = Arc::new(Users::with_sample_users());
    tokio::spawn({
        let users = users.clone();
        async move {
            while let Ok((stream, _)) = listener.accept().await {
                let users = users.clone();
                tokio::spawn(Connection::builder().root(users).establish(Transport::tcp(stream)));
            }
        }
    });
    println!("server: serving aurora.UserManager on {addr}");

    // Client: the proxy is an Arc<dyn UserManager>, like the local object.
    let client = Connection::connect_tcp(addr).await?;
    let remote = client.root::<dyn UserManager>()?;
    for manager in [&users, &remote] {
        let alice = manager.get_user(1).await?;
        println!("{}: user 1 is {} <{}>", manager.describe(), alice.name, alice.email);
    }
    let id = remote.add_user("dave".into(), "dave@aurora.example".into()).await?;
    println!("client: added user {id}");
    let names: Vec<String> = remote.list_users().await?.into_iter().map(|u| u.name).collect();
    println!("client: users are {}", names.join(", "));
    match remote.get_user(42).await {
        Err(UserError::NotFound(id)) => println!("client: no user {id} (an application error, returned as a value)"),
        other => return Err(format!("unexpected answer: {other:?}").into()),
    }
    client.close();
    match remote.get_user(1).await {
        Err(UserError::Pb(e)) => println!("client: after closing, calls fail fast: {e}"),
        other => return Err(format!("unexpected answer: {other:?}").into()),
    }
    Ok(())
}
