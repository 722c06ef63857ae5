//! Limits: frame size (both directions) and exports per connection.

use std::sync::Arc;

use pb::{Config, Connection, Error};
use pb_tests::aurora::{User, UserError, UserManager, Users};
use pb_tests::net::{self, Link};

#[tokio::test]
async fn an_oversized_call_fails_locally_with_limit_exceeded() {
    let (s, c) = net::transports(Link::Memory).await;
    let (server, client) = tokio::join!(
        Connection::builder().root::<dyn UserManager>(Arc::new(Users::default())).establish(s),
        Connection::builder().config(Config::default().max_frame_len(1024)).establish(c),
    );
    let (_server, client) = (server.unwrap(), client.unwrap());
    let users = client.root::<dyn UserManager>().unwrap();
    let big = User { id: 9, name: "x".repeat(4096) };
    match users.add_user(big).await {
        Err(UserError::Pb(Error::LimitExceeded { limit, .. })) => assert_eq!(limit, 1024),
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
    assert!(users.get_user(1).await.is_ok(), "the connection is still up");
}

#[tokio::test]
async fn an_oversized_frame_from_the_peer_closes_its_connection_only() {
    let (addr, mut conns) = net::listen::<dyn UserManager>(Arc::new(Users::default())).await;
    let good = Connection::connect_tcp(addr).await.unwrap();
    let _good_server_side = conns.recv().await.unwrap();

    let (mut raw, _) = pb_tests::raw::RawPeer::connect(addr).await;
    let bad_server_side = conns.recv().await.unwrap();
    // A length prefix of 4 GiB - 1 (the largest the framing can express):
    // refused from the prefix alone, before anything is allocated.
    raw.write_raw(&u32::MAX.to_be_bytes()).await;
    pb_tests::eventually("the server closed the bad connection", || bad_server_side.is_closed()).await;
    assert!(bad_server_side.close_reason().unwrap().contains("frame"), "{:?}", bad_server_side.close_reason());
    assert!(raw.recv().await.is_none(), "the bad peer sees its connection closed");

    let users = good.root::<dyn UserManager>().unwrap();
    assert_eq!(users.get_user(2).await.unwrap().name, "bob", "other peers are still served");
}

#[tokio::test]
async fn the_export_limit_is_enforced() {
    let (s, c) = net::transports(Link::Memory).await;
    let (server, client) = tokio::join!(
        Connection::builder()
            .config(Config::default().max_exports(1))
            .root::<dyn UserManager>(Arc::new(Users::default()))
            .establish(s),
        Connection::builder().establish(c),
    );
    let (_server, client) = (server.unwrap(), client.unwrap());
    let users = client.root::<dyn UserManager>().unwrap();
    // The root fills the one slot: exporting the presence object must fail cleanly.
    match users.presence().await {
        Err(UserError::Pb(Error::LimitExceeded { what, limit })) => {
            assert_eq!(limit, 1);
            assert!(what.contains("export"), "{what}");
        }
        other => panic!("expected LimitExceeded, got {:?}", other.map(|_| "a reference")),
    }
    assert!(users.get_user(1).await.is_ok());
}

#[tokio::test]
async fn a_failed_encode_rolls_back_the_exports_it_made() {
    use pb_tests::aurora::{Presence, Presences, Seed};
    let (s, c) = net::transports(Link::Memory).await;
    let (server, client) = tokio::join!(
        Connection::builder().root::<dyn UserManager>(Arc::new(Users::default())).establish(s),
        Connection::builder().config(Config::default().max_exports(1)).establish(c),
    );
    let (_server, client) = (server.unwrap(), client.unwrap());
    let users = client.root::<dyn UserManager>().unwrap();
    let first: Arc<dyn Presence> = Arc::new(Presences::default());
    let second: Arc<dyn Presence> = Arc::new(Presences::default());
    let start = Arc::strong_count(&first);
    let seed = Seed {
        user: User { id: 1, name: "alice".into() },
        presence: pb::Ref::new(first.clone()),
        list: vec![pb::Ref::new(second.clone())], // the second export is over the limit
        maybe: None,
        by_name: Default::default(),
    };
    match users.seed_is_mine(seed).await {
        Err(UserError::Pb(Error::LimitExceeded { .. })) => {}
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
    assert_eq!(client.stats().exports, 0, "the first export was rolled back");
    assert_eq!(Arc::strong_count(&first), start);
    // And the slot is usable again.
    assert!(!users.ask(first, 1).await.unwrap());
}
