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
//! [`run`] cuts link 1, then link 2, and heals each: both sessions resume
//! where they stopped (the application sees no `Disconnected`, and the
//! events the model sent meanwhile arrive as events). A call the client
//! makes while link 1 is down waits at the relay and returns once the
//! relay's session resumes; one made while link 2 is down fails fast. Then it restarts the
//! server process: the relay cannot resume a session the new process never
//! had, so it falls back to replaying how its proxies were obtained, and
//! the client's same proxy works against the new process. Session events
//! are printed as they come. The client also mirrors the server's user list
//! (the seed's UserModel, a cached model) and prints each change signal.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use pb::backoff::BackoffConfig;
use pb::fault::FaultProxy;
use pb::{Change, Client, Registry, Server, SessionConfig, SessionEvent};

use crate::aurora::{Ticker, Ticks, UserList, UserListEvent, UserManager, Users};

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
        SessionEvent::Refused { peer, path, error } => format!("{peer} refused {path}: {error}"),
        SessionEvent::Resumed { peer, outage } => {
            format!("resumed the session with {peer} after {outage:.1?}: nothing lost, nothing replayed")
        }
        other => format!("{other:?}"),
    }
}

/// The server's registry: the user manager and the ticker.
fn registry(users: &Arc<Users>) -> Registry {
    Registry::local().serve::<dyn UserManager>(users.clone()).serve::<dyn Ticker>(Arc::new(Ticks))
}

/// Read a stream of `count` ticks; an error unless each arrives once, in order.
async fn read_ticks(ticker: Arc<dyn Ticker>, count: u64) -> Result<String, String> {
    let mut ticks = ticker.ticks(count).await.map_err(|e| e.to_string())?;
    let mut next = 0;
    while let Some(tick) = ticks.next().await {
        let tick = tick.map_err(|e| e.to_string())?;
        if tick != next {
            return Err(format!("tick {tick} arrived where {next} was due"));
        }
        next += 1;
    }
    if next != count {
        return Err(format!("the stream ended after {next} of {count} ticks"));
    }
    Ok(format!("the stream of {count} ticks crossed the relay and its outage: none lost, none repeated"))
}

/// Bind a new server on `addr` (the old one's listener may take a moment
/// to close).
async fn bind_again(addr: std::net::SocketAddr, users: &Arc<Users>) -> Result<Server, pb::Error> {
    let mut last = None;
    for _ in 0..100 {
        match Server::bind(addr, registry(users)).await {
            Ok(server) => return Ok(server),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(last.expect("tried at least once"))
}

type Changes = Pin<Box<dyn Stream<Item = Change<UserList>> + Send>>;

/// Print the model's change signals until one satisfies `until`.
async fn signals(changes: &mut Changes, until: impl Fn(&Change<UserList>) -> bool) -> Result<(), String> {
    loop {
        let change = tokio::time::timeout(Duration::from_secs(10), changes.next())
            .await
            .map_err(|_| "no change signal within 10 s")?
            .ok_or("the change stream ended")?;
        match &change {
            Change::Event(UserListEvent::Added(u)) => println!("  [client model] signal: user added: {}", u.name),
            Change::Event(UserListEvent::Removed(id)) => println!("  [client model] signal: user {id} removed"),
            Change::Resynced(state) => {
                let names: Vec<_> = state.users.values().map(|u| u.name.as_str()).collect();
                println!("  [client model] signal: resynced after the outage: {names:?}");
            }
            Change::Stopped(e) => return Err(format!("the mirror stopped: {e}")),
            other => println!("  [client model] signal: {other:?}"),
        }
        if until(&change) {
            return Ok(());
        }
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
    let server_users = Arc::new(Users::with_sample_users());
    let server = Server::bind("127.0.0.1:0", registry(&server_users)).await?;
    let link1 = FaultProxy::start(server.local_addr()).await?;
    println!("server on {}, link 1 on {}", server.local_addr(), link1.addr());

    // The relay: a session to the server, and a registry that forwards
    // lookups to the server's registry.
    let relay_session = Client::builder().config(demo_config()).connect_tcp(link1.addr().to_string()).await?;
    let relay = Server::bind("127.0.0.1:0", Registry::forwarding(relay_session.registry()?)).await?;
    let link2 = FaultProxy::start(relay.local_addr()).await?;
    println!("relay on {}, link 2 on {}", relay.local_addr(), link2.addr());

    // The client: one session to the relay, one proxy for the whole demo.
    let client = Client::builder().config(demo_config()).connect_tcp(link2.addr().to_string()).await?;
    let mut relay_events: Events = Box::pin(relay_session.events());
    let mut client_events: Events = Box::pin(client.events());
    wait_for("relay", &mut relay_events, |e| matches!(e, SessionEvent::Connected { .. })).await;
    wait_for("client", &mut client_events, |e| matches!(e, SessionEvent::Connected { .. })).await;
    let users = client.registry()?.get::<dyn UserManager>().await?;
    show(&users, "two hops from the server").await;
    // The seed's UserModel, mirrored here through the relay's own mirror.
    let model = users.model().await?;
    let mut changes: Changes = model.changes();
    println!("client model: {} users, kept up to date by signals", model.state().users.len());
    users.add_user("dave".into(), "dave@aurora.example".into()).await?;
    signals(&mut changes, |c| matches!(c, Change::Event(_))).await?;

    println!("\nclient: starts reading a stream of 5,000 ticks from the server, through the relay");
    let ticker = client.get::<dyn Ticker>().await?;
    let ticks = tokio::spawn(read_ticks(ticker, 5_000));
    tokio::time::sleep(Duration::from_millis(100)).await;

    println!("\n== cutting link 1 (server <-> relay) for a moment");
    link1.cut();
    tokio::time::sleep(Duration::from_millis(800)).await;
    println!("client: calls list_users; the relay holds the call until its session resumes");
    let during = tokio::spawn({
        let users = users.clone();
        async move { users.list_users().await }
    });
    println!("server: adds erin while the relay cannot see it");
    server_users.add_user("erin".into(), "erin@aurora.example".into()).await?;
    println!("== healing link 1");
    link1.heal();
    wait_for("relay", &mut relay_events, |e| matches!(e, SessionEvent::Resumed { .. })).await;
    let names: Vec<_> = during.await??.into_iter().map(|u| u.name).collect();
    println!("client: the call made during the outage returned {names:?}");
    println!("client: {}", ticks.await??);
    signals(&mut changes, |c| matches!(c, Change::Event(UserListEvent::Added(u)) if u.name == "erin")).await?;
    show(&users, "same proxy, link 1 back").await;

    println!("\n== cutting link 2 (relay <-> client) for a moment");
    link2.cut();
    tokio::time::sleep(Duration::from_millis(800)).await;
    show(&users, "link 2 down").await;
    println!("server: removes bob while the client cannot see it");
    server_users.remove_user(2).await?;
    println!("== healing link 2");
    link2.heal();
    wait_for("client", &mut client_events, |e| matches!(e, SessionEvent::Resumed { .. })).await;
    signals(&mut changes, |c| matches!(c, Change::Event(UserListEvent::Removed(2)))).await?;
    show(&users, "same proxy, link 2 back").await;

    println!("\n== cutting link 1, and restarting the server process behind it (new objects, same address)");
    link1.cut();
    let addr = server.local_addr();
    drop(server);
    let server_users = Arc::new(Users::with_sample_users());
    let server = bind_again(addr, &server_users).await?;
    println!("== healing link 1: the new process does not know the relay's session, so the relay replays");
    link1.heal();
    wait_for("relay", &mut relay_events, |e| matches!(e, SessionEvent::Disconnected { .. })).await;
    wait_for("relay", &mut relay_events, |e| matches!(e, SessionEvent::Reconnected { .. })).await;
    signals(&mut changes, |c| matches!(c, Change::Resynced(_))).await?;
    show(&users, "same proxy, a new server process").await;
    users.add_user("frank".into(), "frank@aurora.example".into()).await?;
    signals(&mut changes, |c| matches!(c, Change::Event(_))).await?;

    // The demo fails (exit 1) unless the proxy and the cache work at the end.
    let now = users.list_users().await?;
    if now != model.state().users.values().cloned().collect::<Vec<_>>() {
        return Err("the client's cache does not match the server".into());
    }
    println!(
        "\ndone: the client's proxy and cache survived two outages (resumed) and a server restart (replayed) without re-fetching anything"
    );
    client.close();
    relay_session.close();
    relay.shutdown(Duration::from_secs(1)).await;
    server.shutdown(Duration::from_secs(1)).await;
    Ok(())
}
