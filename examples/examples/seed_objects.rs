//! Seed objects: one copyable `Contact` carries a user record from a
//! directory server, a presence reference from a presence server and an
//! inbox reference from a workstation. The presence server dies and comes
//! back: only the presence reference fails meanwhile, and it heals through
//! its own session; the other two keep working throughout.
//!
//! Run: `cargo run -p pb-examples --example seed_objects`

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use pb::backoff::BackoffConfig;
use pb::{Client, Registry, Server, SessionConfig, SessionEvent};
use pb_examples::aurora::{UserManager, Users};
use pb_examples::seed::{Inboxes, Presence, PresenceService, Presences, Sources, Workstation};

fn quick() -> SessionConfig {
    SessionConfig::default()
        .ping_interval(Duration::from_millis(200))
        .ping_timeout(Duration::from_millis(500))
        .backoff(BackoffConfig::default().initial(Duration::from_millis(100)).max(Duration::from_secs(1)))
}

async fn session(addr: SocketAddr) -> Client {
    Client::builder().config(quick()).connect_tcp(addr.to_string()).await.expect("connect")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "pb=warn".into()))
        .init();

    // Three servers, each with its own registry.
    let directory = Server::bind("127.0.0.1:0", {
        let r = Registry::local();
        r.register::<dyn UserManager>(Arc::new(Users::with_sample_users()));
        r
    })
    .await?;
    let inboxes = Arc::new(Inboxes::default());
    let workstation = Server::bind("127.0.0.1:0", Registry::local().serve::<dyn Workstation>(inboxes.clone())).await?;
    let presences = Arc::new(Presences::default());
    let presence =
        Server::bind("127.0.0.1:0", Registry::local().serve::<dyn PresenceService>(presences.clone())).await?;
    let presence_addr = presence.local_addr();

    // One process, three sessions.
    let sources = Sources {
        directory: session(directory.local_addr()).await,
        presence: session(presence_addr).await,
        workstation: session(workstation.local_addr()).await,
    };
    let contact = sources.contact(1).await?;
    presences.of(1).set_online(true).await?;
    println!("contact: {} <{}>", contact.user.name, contact.user.email);
    println!("  online: {}", contact.is_online().await?);
    println!("  messages in inbox: {}", contact.send_message("hello").await?);

    // The presence server dies.
    let mut events = sources.presence.events();
    events.next().await; // the current state: connected
    presence.abort();
    drop(presence);
    println!("presence session: {:?}", events.next().await.expect("an event"));
    println!("  online: {:?}", contact.is_online().await);
    println!("  messages in inbox: {} (the workstation is unaffected)", contact.send_message("still there?").await?);
    println!("  user data: {} (a copy: always there)", contact.user.name);

    // It comes back (a new process: fresh state, new object ids).
    let presences = Arc::new(Presences::default());
    let _presence = loop {
        let registry = Registry::local().serve::<dyn PresenceService>(presences.clone());
        match Server::bind(presence_addr, registry).await {
            Ok(server) => break server,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await, // the old socket is closing
        }
    };
    presences.of(1).set_online(true).await?;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next()).await?.expect("an event");
        println!("presence session: {event:?}");
        if matches!(event, SessionEvent::Reconnected { .. }) {
            break;
        }
    }
    println!("  online: {} (the healed reference, same Contact)", contact.is_online().await?);
    println!("  messages in inbox: {}", contact.send_message("welcome back").await?);
    println!("reconnected: every piece of the contact works again");
    Ok(())
}
