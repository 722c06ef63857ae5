//! TLS (tokio-rustls): the server authenticates itself, client
//! certificates are optional, and reconnecting sessions heal over TLS.
//! Certificates are made at run time with rcgen.

use std::sync::Arc;
use std::time::Duration;

use pb::fault::FaultProxy;
use pb::tls::{self, TlsConnect, TlsListener};
use pb::{Client, Config, Connection, Error, Registry, Server, SessionEvent};
use pb_tests::aurora::{UserError, UserManager, Users};
use pb_tests::pki::Authority;
use pb_tests::session::{fast, fast_replay, next_event};

fn registry() -> Registry {
    let r = Registry::local();
    r.register::<dyn UserManager>(Arc::new(Users::default()));
    r
}

/// A TLS server for `authority`'s server certificate, optionally requiring
/// client certificates from `clients`.
async fn tls_server(authority: &Authority, clients: Option<&Authority>) -> (Server, std::net::SocketAddr) {
    let (chain, key) = authority.server();
    let config = tls::server_config(chain, key, clients.map(Authority::roots)).unwrap();
    let listener = TlsListener::bind("127.0.0.1:0", config).await.unwrap();
    let addr = listener.local_addr().unwrap();
    (Server::serve(listener, registry(), Config::default()), addr)
}

async fn session(addr: impl ToString, name: &str, config: Arc<tls::rustls::ClientConfig>) -> Result<Client, Error> {
    let connect = TlsConnect::new(addr.to_string(), name, config)?;
    Client::builder().config(fast()).connect_with(connect).await
}

#[tokio::test]
async fn calls_and_references_work_over_tls() {
    let ca = Authority::new("pb test ca");
    let (server, addr) = tls_server(&ca, None).await;
    let client = session(addr, "localhost", tls::client_config(ca.roots(), None).unwrap()).await.unwrap();
    assert!(client.peer().starts_with("tls:"));
    let users = client.registry().unwrap().get::<dyn UserManager>().await.unwrap();
    assert_eq!(users.get_user(1).await.unwrap().name, "alice");
    let presence = users.presence().await.unwrap();
    presence.set_online(7, true).await.unwrap();
    assert!(users.ask(presence, 7).await.unwrap());
    assert_eq!(server.connections().len(), 1);
    assert!(server.connections()[0].peer().starts_with("tls:"));
    // By IP address too (the certificate names 127.0.0.1).
    let by_ip = session(addr, "127.0.0.1", tls::client_config(ca.roots(), None).unwrap()).await.unwrap();
    assert!(by_ip.registry().unwrap().get::<dyn UserManager>().await.is_ok());
}

#[tokio::test]
async fn the_server_is_authenticated() {
    let ca = Authority::new("pb test ca");
    let (server, addr) = tls_server(&ca, None).await;

    // A certificate from an authority the client does not trust.
    let stranger = Authority::new("someone else");
    match session(addr, "localhost", tls::client_config(stranger.roots(), None).unwrap()).await {
        Err(Error::Io(e)) => assert!(e.to_lowercase().contains("certificate"), "{e}"),
        other => panic!("expected a certificate error, got {other:?}"),
    }
    // The right authority, the wrong name.
    match session(addr, "example.com", tls::client_config(ca.roots(), None).unwrap()).await {
        Err(Error::Io(e)) => assert!(e.to_lowercase().contains("certificate"), "{e}"),
        other => panic!("expected a certificate error, got {other:?}"),
    }
    // A plain pb client: no TLS, no pb.
    let plain = tokio::time::timeout(Duration::from_secs(10), Connection::connect_tcp(addr)).await;
    assert!(matches!(plain, Ok(Err(_))), "a plain client is refused");

    // The server goes on serving.
    let client = session(addr, "localhost", tls::client_config(ca.roots(), None).unwrap()).await.unwrap();
    assert!(client.registry().unwrap().get::<dyn UserManager>().await.is_ok());
    pb_tests::eventually("only the good client is connected", || server.connections().len() == 1).await;
}

#[tokio::test]
async fn client_certificates_can_be_required() {
    let ca = Authority::new("pb test ca");
    let client_ca = Authority::new("pb client ca");
    let (server, addr) = tls_server(&ca, Some(&client_ca)).await;
    let with = |identity| tls::client_config(ca.roots(), identity).unwrap();

    // TLS 1.3 refuses a client certificate after the client's side of the
    // handshake: the refusal arrives as the pb handshake fails.
    match session(addr, "localhost", with(None)).await {
        Err(e) => assert!(e.to_string().to_lowercase().contains("certificate"), "no client certificate: {e}"),
        Ok(_) => panic!("a client without a certificate got in"),
    }
    let forged = Authority::new("pb client ca").issue(&["mallory"]); // same name, another key
    match session(addr, "localhost", with(Some(forged))).await {
        // Same issuer name, wrong signature: the server's alert says so.
        Err(e) => assert!(e.to_string().contains("alert"), "another authority: {e}"),
        Ok(_) => panic!("a certificate from another authority got in"),
    }

    let client = session(addr, "localhost", with(Some(client_ca.issue(&["alice"])))).await.unwrap();
    let users = client.registry().unwrap().get::<dyn UserManager>().await.unwrap();
    assert_eq!(users.get_user(2).await.unwrap().name, "bob");
    pb_tests::eventually("only the certified client is connected", || server.connections().len() == 1).await;
}

#[tokio::test]
async fn a_tls_session_resumes_after_its_link_is_cut() {
    let ca = Authority::new("pb test ca");
    let (server, addr) = tls_server(&ca, None).await;
    let proxy = FaultProxy::start(addr).await.unwrap();
    let client = session(proxy.addr(), "localhost", tls::client_config(ca.roots(), None).unwrap()).await.unwrap();
    let mut events = client.events();
    next_event(&mut events).await; // connected
    let users = client.registry().unwrap().get::<dyn UserManager>().await.unwrap();
    users.push(1).await.unwrap();
    let in_flight = tokio::spawn({
        let users = users.clone();
        async move { users.slow(300, 5).await }
    });
    pb_tests::eventually("the call runs", || server.connections()[0].stats().in_flight == 1).await;

    proxy.cut();
    pb_tests::eventually("the session notices", || !client.is_connected()).await;
    assert_eq!(users.get_user(1).await, Err(UserError::Pb(Error::Disconnected)), "fails fast meanwhile");
    proxy.heal();
    assert!(matches!(next_event(&mut events).await, SessionEvent::Resumed { .. }));
    assert_eq!(in_flight.await.unwrap(), Ok(5), "the call in flight is answered after the resume");
    // The same proxy, the same TLS session's objects, nothing replayed.
    assert_eq!(users.pushed().await.unwrap(), [1]);
    assert!(client.connection().peer().starts_with("tls:"));
    assert_eq!(server.connections().len(), 1);
}

#[tokio::test]
async fn a_tls_session_heals_by_replay_when_it_does_not_resume() {
    let ca = Authority::new("pb test ca");
    let (_server, addr) = tls_server(&ca, None).await;
    let proxy = FaultProxy::start(addr).await.unwrap();
    let connect = TlsConnect::new(proxy.addr().to_string(), "localhost", tls::client_config(ca.roots(), None).unwrap());
    let client = Client::builder().config(fast_replay()).connect_with(connect.unwrap()).await.unwrap();
    let mut events = client.events();
    next_event(&mut events).await; // connected
    let users = client.registry().unwrap().get::<dyn UserManager>().await.unwrap();
    users.push(1).await.unwrap();

    proxy.cut();
    assert!(matches!(next_event(&mut events).await, SessionEvent::Disconnected { .. }));
    assert_eq!(users.get_user(1).await, Err(UserError::Pb(Error::Disconnected)));
    proxy.heal();
    match next_event(&mut events).await {
        SessionEvent::Reconnected { healed, failed, .. } => assert_eq!((healed, failed), (2, 0)),
        other => panic!("expected reconnected, got {other:?}"),
    }
    // The same proxy, over a new TLS link, to the same server object.
    assert_eq!(users.pushed().await.unwrap(), [1]);
    assert!(client.connection().peer().starts_with("tls:"));
}

#[test]
fn tls_types_are_send_and_sync() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<TlsListener>();
    send_sync::<TlsConnect>();
}
