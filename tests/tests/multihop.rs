//! Multi-hop: relays hold proxies and serve them on; no special relay code.

use std::sync::Arc;

use pb::Connection;
use pb_tests::aurora::{Presences, UserError, UserManager, Users};
use pb_tests::net::{self, Link};

/// A relay: connects upstream and serves the upstream root as its own root.
/// This is all a relay needs.
async fn relay(link: Link, upstream: Arc<dyn UserManager>) -> (Arc<dyn UserManager>, Connection, Connection) {
    net::proxy::<dyn UserManager>(link, upstream).await
}

#[tokio::test]
async fn hop_three_with_references_and_nested_copies() {
    for link in [Link::Memory, Link::Tcp] {
        let local = Arc::new(Users::default());
        let start = Arc::strong_count(&local.presence);
        // client -> relay2 -> relay1 -> server
        let (at_relay1, _s1, _c1) = net::proxy::<dyn UserManager>(link, local.clone()).await;
        let (at_relay2, _s2, _c2) = relay(link, at_relay1).await;
        let (users, _s3, client) = relay(link, at_relay2).await;

        // A copy from three hops away.
        assert_eq!(users.get_user(1).await.unwrap().name, "alice");
        assert_eq!(users.get_user(9).await, Err(UserError::NotFound(9)));

        // A nested copy with references in the result, used from hop 3.
        let seed = users.seed(1).await.unwrap();
        seed.presence.set_online(1, true).await.unwrap();
        assert!(local.presence.is_online(1).await.unwrap(), "reached the server's object");
        assert!(seed.by_name["main"].is_online(1).await.unwrap());

        // References and nested copies as arguments, travelling back up:
        // each hop turns its proxy back into the one it came from, and the
        // server finds its original objects.
        assert!(users.seed_is_mine(seed.clone()).await.unwrap());
        let echoed = users.echo_seed(seed.clone()).await.unwrap();
        assert!(users.is_mine(echoed.presence.as_arc().clone()).await.unwrap());

        // A reference to a client-local object, called back from the server three hops away.
        let mine = Arc::new(Presences::default());
        pb_tests::aurora::Presence::set_online(&*mine, 5, true).await.unwrap();
        assert!(users.ask(mine.clone(), 5).await.unwrap());

        drop((seed, echoed));
        pb_tests::eventually("releases travel back through both relays", || {
            Arc::strong_count(&local.presence) == start
        })
        .await;
        assert_eq!(client.stats().imports, 0);
    }
}

#[tokio::test]
async fn an_upstream_failure_reaches_the_caller_with_its_kind() {
    let local = Arc::new(Users::default());
    let (at_relay, server_side, relay_upstream) = net::proxy::<dyn UserManager>(Link::Tcp, local).await;
    let (users, _s, _c) = relay(Link::Tcp, at_relay).await;
    assert!(users.get_user(1).await.is_ok());
    server_side.close();
    pb_tests::eventually("relay saw its upstream close", || relay_upstream.is_closed()).await;
    // The relay's own link is down: the client gets Disconnected, not an opaque error.
    assert_eq!(users.get_user(1).await, Err(UserError::Pb(pb::Error::Disconnected)));
}
