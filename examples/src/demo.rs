//! The main demo (`cargo run -p pb-examples --example aurora`): a server, a
//! relay and a client on 127.0.0.1, surviving outages of each link with the
//! same proxies.
//!
//! ```text
//! server (Registry: UserManager)
//!    ^  link 1 (a fault-injecting proxy)
//! relay (its own session to the server; a forwarding Registry)
//!    ^  link 2 (a fault-injecting proxy)
//! client (a session to the relay; one UserManager proxy, kept throughout)
//! ```
//!
//! [`run`] cuts link 1, then link 2, heals each, and shows the client's same
//! proxy working again, printing session events as they come.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use pb::backoff::BackoffConfig;
use pb::fault::FaultProxy;
use pb::{Client, Registry, Server, SessionConfig, SessionEvent};

use crate::aurora::{UserManager, Users};

type Events = Pin<Box<dyn Stream<Item = SessionEvent> + Send>>;

/// Quick outage detection and reconnects, so the demo runs in seconds.
pub fn demo_config() -> SessionConfig {
    SessionConfig::default()
        .ping_interval(Duration::from_millis(250))
        .ping_timeout(Duration::from_millis(500))
        .backoff(BackoffConfig::default().initial(Duration::from_millis(200)).max(Duration::from_secs(2)))
}

/// Print events of `who` until one of kind `until` arrives.
async fn wait_for(who: &str, events: &mut Events, until: fn(&SessionEvent) -> bool) -> SessionEvent {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("the session reports within 10 s")
            .expect("the session is alive");
        println!("  [{who}] {}", describe(&event));
        if until(&event) {
            return event;
        }
    }
}

fn describe(event: &SessionEvent) -> String {
    match event {
        SessionEvent::Connected { peer } => format!("connected to {peer}"),
        SessionEvent::Disconnected { peer, reason } => format!("disconnected from {peer}: {reason}"),
        SessionEvent::Reconnected { peer, healed, failed } => {
            format!("reconnected to {peer}: {healed} proxies healed, {failed} failed")
        }
        SessionEvent::Healed { peer, healed, failed } => {
            format!("healed {healed} more proxies at {peer} ({failed} failing)")
        }
        other => format!("{other:?}"),
    }
}

async fn show(users: &Arc<dyn UserManager>, when: &str) {
    match users.list_users().await {
        Ok(list) => {
            let names: Vec<_> = list.iter().map(|u| u.name.as_str()).collect();
            println!("client ({when}): users = {names:?}");
        }
        Err(e) => println!("client ({when}): the call failed fast: {e}"),
    }
}

/// Run the demo; an error if any step does not behave (the client's proxy
/// must work at the end).
///
/// # Errors
///
/// A failed bind or connect, or a call that fails after healing.
pub async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // The server: a registry holding the UserManager.
    let server =
        Server::bind("127.0.0.1:0", Registry::local().serve::<dyn UserManager>(Arc::new(Users::with_sample_users())))
            .await?;
    let link1 = FaultProxy::start(server.local_addr().unwrap()).await;
    println!("server on {}, link 1 on {}", server.local_addr().unwrap(), link1.addr());

    // The relay: a session to the server, and a registry that forwards
    // lookups to the server's registry.
    let relay_session = Client::builder().config(demo_config()).connect_tcp(link1.addr().to_string()).await?;
    let relay = Server::bind("127.0.0.1:0", Registry::forwarding(relay_session.registry()?)).await?;
    let link2 = FaultProxy::start(relay.local_addr().unwrap()).await;
    println!("relay on {}, link 2 on {}", relay.local_addr().unwrap(), link2.addr());

    // The client: one session to the relay, one proxy for the whole demo.
    let client = Client::builder().config(demo_config()).connect_tcp(link2.addr().to_string()).await?;
    let mut relay_events: Events = Box::pin(relay_session.events());
    let mut client_events: Events = Box::pin(client.events());
    wait_for("relay", &mut relay_events, |e| matches!(e, SessionEvent::Connected { .. })).await;
    wait_for("client", &mut client_events, |e| matches!(e, SessionEvent::Connected { .. })).await;
    let users = client.registry()?.get::<dyn UserManager>().await?;
    show(&users, "two hops from the server").await;

    println!("\n== cutting link 1 (server <-> relay)");
    link1.cut();
    wait_for("relay", &mut relay_events, |e| matches!(e, SessionEvent::Disconnected { .. })).await;
    show(&users, "link 1 down").await;
    println!("== healing link 1");
    link1.heal();
    wait_for("relay", &mut relay_events, |e| matches!(e, SessionEvent::Reconnected { .. })).await;
    show(&users, "same proxy, link 1 back").await;

    println!("\n== cutting link 2 (relay <-> client)");
    link2.cut();
    wait_for("client", &mut client_events, |e| matches!(e, SessionEvent::Disconnected { .. })).await;
    show(&users, "link 2 down").await;
    println!("== healing link 2");
    link2.heal();
    wait_for("client", &mut client_events, |e| matches!(e, SessionEvent::Reconnected { .. })).await;
    show(&users, "same proxy, link 2 back").await;

    users.list_users().await?; // the demo fails (exit 1) unless the proxy works at the end
    println!("\ndone: the client's proxy survived both outages without re-fetching anything");
    client.close();
    relay_session.close();
    relay.shutdown(Duration::from_secs(1)).await;
    server.shutdown(Duration::from_secs(1)).await;
    Ok(())
}
