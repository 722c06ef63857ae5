//! The registry: local, forwarding and mixed; typed lookup; listing; servers.

use std::sync::Arc;

use pb::{Client, Error, Interface, Locator, Registry, Server};
use pb_tests::aurora::{Presence, Presences, UserManager, Users};

#[tokio::test]
async fn a_local_registry_finds_objects_by_interface_and_name() {
    let registry = Registry::local();
    let users: Arc<dyn UserManager> = Arc::new(Users::default());
    registry.register::<dyn UserManager>(users.clone());
    registry.register_named::<dyn Presence>("eu", Arc::new(Presences::default()));

    let found = registry.get::<dyn UserManager>().await.unwrap();
    assert!(Arc::ptr_eq(&found, &users), "locally the registry hands out the object itself");
    assert!(registry.get_named::<dyn Presence>("eu").await.is_ok());
    assert_eq!(
        registry.get::<dyn Presence>().await.err(),
        Some(Error::NotRegistered { interface: "Presence".into(), name: None })
    );
    // The same lookup code through the remote interface, locally.
    let locator: Arc<dyn Locator> = registry.locator();
    assert!(locator.get::<dyn UserManager>().await.is_ok());
}

#[tokio::test]
async fn a_remote_registry_answers_the_same_lookups() {
    let registry = Registry::local();
    let local = Arc::new(Users::default());
    registry.register::<dyn UserManager>(local.clone());
    let server = Server::bind("127.0.0.1:0", registry).await.unwrap();
    let client = Client::connect(server.local_addr().to_string()).await.unwrap();

    let users = client.registry().unwrap().get::<dyn UserManager>().await.unwrap();
    assert_eq!(users.get_user(1).await.unwrap().name, "alice");
    let listed = client.registry().unwrap().list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].interface, "UserManager");
    assert_eq!(listed[0].interface_id, <dyn UserManager as Interface>::ID);
    assert!(!listed[0].forwarded);
    match client.registry().unwrap().get::<dyn Presence>().await {
        Err(Error::NotRegistered { interface, .. }) => assert_eq!(interface, "Presence"),
        other => panic!("expected NotRegistered, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn each_hop_decides_what_it_serves_forwards_and_hides() {
    // Server: UserManager and a Presence named "upstream".
    let upstream = Registry::local();
    upstream.register::<dyn UserManager>(Arc::new(Users::default()));
    upstream.register_named::<dyn Presence>("upstream", Arc::new(Presences::default()));
    let server = Server::bind("127.0.0.1:0", upstream).await.unwrap();

    // Relay: forwards everything it does not serve or hide; serves its own
    // Presence; hides nothing else.
    let up = Client::connect(server.local_addr().to_string()).await.unwrap();
    let relay_presence = Arc::new(Presences::default());
    relay_presence.set_online(42, true).await.unwrap();
    let mixed = Registry::forwarding(up.registry().unwrap()).serve::<dyn Presence>(relay_presence.clone());
    let relay = Server::bind("127.0.0.1:0", mixed).await.unwrap();

    let client = Client::connect(relay.local_addr().to_string()).await.unwrap();
    let registry = client.registry().unwrap();
    // Forwarded to the server.
    assert_eq!(registry.get::<dyn UserManager>().await.unwrap().get_user(2).await.unwrap().name, "bob");
    assert!(registry.get_named::<dyn Presence>("upstream").await.is_ok());
    // Served by the relay itself.
    assert!(registry.get::<dyn Presence>().await.unwrap().is_online(42).await.unwrap());
    let listed = registry.list().await.unwrap();
    let mut forwarded: Vec<_> = listed.iter().filter(|l| l.forwarded).map(|l| l.interface.as_str()).collect();
    forwarded.sort();
    assert_eq!(forwarded, ["Presence", "UserManager"]);
    assert!(listed.iter().any(|l| !l.forwarded && l.interface == "Presence" && l.name.is_none()));

    // A second relay hides UserManager from those behind it.
    let up2 = Client::connect(relay.local_addr().to_string()).await.unwrap();
    let hiding = Registry::forwarding(up2.registry().unwrap()).hide::<dyn UserManager>();
    let relay2 = Server::bind("127.0.0.1:0", hiding).await.unwrap();
    let far = Client::connect(relay2.local_addr().to_string()).await.unwrap();
    let far_registry = far.registry().unwrap();
    assert!(matches!(far_registry.get::<dyn UserManager>().await, Err(Error::NotRegistered { .. })));
    assert!(far_registry.get::<dyn Presence>().await.unwrap().is_online(42).await.unwrap());
    assert!(far_registry.list().await.unwrap().iter().all(|l| l.interface != "UserManager"));
}

#[tokio::test]
async fn a_server_serves_many_clients_and_drops_their_state_on_close() {
    let local = Arc::new(Users::default());
    let start = Arc::strong_count(&local.presence);
    let server = Server::bind("127.0.0.1:0", local.clone() as Arc<dyn UserManager>).await.unwrap();
    let addr = server.local_addr().to_string();
    let mut clients = Vec::new();
    for _ in 0..10 {
        let c = pb::Connection::connect_tcp(&addr).await.unwrap();
        let users = c.root::<dyn UserManager>().unwrap();
        let p = users.presence().await.unwrap();
        clients.push((c, users, p));
    }
    pb_tests::eventually("all ten registered", || server.connections().len() == 10).await;
    assert_eq!(Arc::strong_count(&local.presence), start + 10, "one export in each connection's table");
    for (c, ..) in &clients {
        c.close();
    }
    pb_tests::eventually("per-connection state dropped", || server.connections().is_empty()).await;
    pb_tests::eventually("exports released", || Arc::strong_count(&local.presence) == start).await;
}

#[tokio::test]
async fn graceful_shutdown_lets_calls_in_flight_finish() {
    let server = Server::bind("127.0.0.1:0", Arc::new(Users::default()) as Arc<dyn UserManager>).await.unwrap();
    let c = pb::Connection::connect_tcp(server.local_addr()).await.unwrap();
    let users = c.root::<dyn UserManager>().unwrap();
    pb_tests::eventually("connected", || server.connections().len() == 1).await;
    let slow = tokio::spawn({
        let users = users.clone();
        async move { users.slow(200, 7).await }
    });
    pb_tests::eventually("the slow call is running", || server.connections()[0].stats().in_flight == 1).await;
    let shutdown = tokio::spawn(server.shutdown(std::time::Duration::from_secs(5)));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // New calls are refused while draining...
    assert_eq!(users.get_user(1).await, Err(pb_tests::aurora::UserError::Pb(Error::ShuttingDown)));
    // ...the call in flight finishes...
    assert_eq!(slow.await.unwrap().unwrap(), 7);
    shutdown.await.unwrap();
    // ...and then the connection is closed.
    pb_tests::eventually("closed after shutdown", || c.is_closed()).await;
}

/// A relay remembers what it fetched from upstream only while a downstream
/// peer holds it: distinct names looked up once each, and dropped, leave
/// neither the relay nor the server holding anything (with an export limit
/// far below the number of names, every lookup still succeeds).
#[tokio::test]
async fn a_relay_forgets_what_no_downstream_peer_holds() {
    const NAMES: usize = 2_000;
    let upstream = Registry::local();
    for i in 0..NAMES {
        upstream.register_named::<dyn Presence>(&format!("n{i}"), Arc::new(Presences::default()));
    }
    let config = pb::Config::default().max_exports(256);
    let server = Server::bind_with("127.0.0.1:0", upstream, config.clone()).await.unwrap();
    let up = Client::connect(server.local_addr()).await.unwrap();
    let relay_registry = Registry::forwarding(up.registry().unwrap());
    let relay = Server::bind_with("127.0.0.1:0", relay_registry.clone(), config).await.unwrap();
    let client = Client::connect(relay.local_addr()).await.unwrap();
    let registry = client.registry().unwrap();

    // One name held throughout: the relay hands out the same reference.
    let held = registry.get_named::<dyn Presence>("n0").await.unwrap();
    held.set_online(7, true).await.unwrap();
    for i in 1..NAMES {
        let p =
            registry.get_named::<dyn Presence>(&format!("n{i}")).await.unwrap_or_else(|e| panic!("lookup {i}: {e}"));
        drop(p);
    }
    assert!(registry.get_named::<dyn Presence>("n0").await.unwrap().is_online(7).await.unwrap());

    let server_exports = || server.connections().iter().map(|c| c.stats().exports).sum::<usize>();
    for _ in 0..500 {
        if relay_registry.forwarded() == 1 && server_exports() <= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(relay_registry.forwarded(), 1, "the relay remembers only the held name");
    assert!(
        server_exports() <= 3,
        "the server exports only the root, the registry and the held name: {}",
        server_exports()
    );
    assert!(up.tracked() <= 3, "the relay's session tracks only what is held: {}", up.tracked());
    drop((held, registry, client));
}

/// A test interface whose objects can run code when dropped.
#[pb::remote_interface(name = "test.Noop")]
trait Noop {
    async fn noop(&self) -> Result<(), Error>;
}

/// Calls back into the registry when dropped (user code in a `Drop`).
struct Reentrant(Registry);

impl Drop for Reentrant {
    fn drop(&mut self) {
        self.0.unregister::<dyn Noop>(Some("other"));
    }
}

#[pb::remote_impl]
impl Noop for Reentrant {
    async fn noop(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// Lock invariant: a registered object replaced or removed is dropped
/// outside the registry's lock, so its `Drop` may use the registry.
#[test]
fn a_replaced_objects_drop_may_use_the_registry() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let registry = Registry::local();
        registry.register_named::<dyn Noop>("a", Arc::new(Reentrant(registry.clone())));
        registry.register_named::<dyn Noop>("a", Arc::new(Reentrant(Registry::local())));
        registry.register_named::<dyn Noop>("b", Arc::new(Reentrant(registry.clone())));
        assert!(registry.unregister::<dyn Noop>(Some("b")));
        let _ = done.send(());
    });
    finished.recv_timeout(std::time::Duration::from_secs(10)).expect("no deadlock or panic under the registry's lock");
}
