//! Reference lifetime: releases on drop (PB's decref) and on close; strong
//! counts of exported objects return to their starting values.

use std::sync::Arc;

use pb_tests::aurora::{Presence, Presences, UserManager, Users};
use pb_tests::eventually;
use pb_tests::net::{self, ALL, Link};

#[tokio::test]
async fn dropping_the_last_proxy_releases_the_export() {
    for link in ALL {
        let local = Arc::new(Users::default());
        let start = Arc::strong_count(&local.presence);
        let (users, server, client) = net::proxy::<dyn UserManager>(link, local.clone()).await;
        assert_eq!(server.stats().exports, 1, "only the root");

        let p1 = users.presence().await.unwrap();
        let p2 = users.presence().await.unwrap(); // same object again: one id, counted twice
        assert_eq!(server.stats().exports, 2);
        assert_eq!(client.stats().imports, 1);
        assert_eq!(Arc::strong_count(&local.presence), start + 1);

        drop(p1);
        assert!(p2.is_online(1).await.is_ok(), "a remaining proxy still works");
        drop(p2);
        eventually("release of the presence export", || Arc::strong_count(&local.presence) == start).await;
        assert_eq!(server.stats().exports, 1);
        assert_eq!(client.stats().imports, 0);
        assert!(users.get_user(1).await.is_ok(), "the connection is still up");
    }
}

#[tokio::test]
async fn references_nested_in_copies_are_released_too() {
    let local = Arc::new(Users::default());
    let start = Arc::strong_count(&local.presence);
    let (users, server, _c) = net::proxy::<dyn UserManager>(Link::Tcp, local.clone()).await;
    let seed = users.seed(1).await.unwrap();
    let clone = seed.clone();
    assert!(Arc::strong_count(&local.presence) > start);
    drop(seed);
    drop(clone);
    eventually("release of nested references", || Arc::strong_count(&local.presence) == start).await;
    assert_eq!(server.stats().exports, 1);
}

#[tokio::test]
async fn a_reference_passed_as_an_argument_is_released_after_the_call() {
    for link in ALL {
        let (users, _s, client) = net::proxy::<dyn UserManager>(link, Arc::new(Users::default())).await;
        let mine: Arc<dyn Presence> = Arc::new(Presences::default());
        let start = Arc::strong_count(&mine);
        assert!(!users.ask(mine.clone(), 1).await.unwrap());
        eventually("the server released our object", || Arc::strong_count(&mine) == start).await;
        assert_eq!(client.stats().exports, 0);
    }
}

#[tokio::test]
async fn a_closed_connection_releases_everything_exported_on_it() {
    for link in ALL {
        let local = Arc::new(Users::default());
        let start_users = Arc::strong_count(&local);
        let start_presence = Arc::strong_count(&local.presence);
        let (users, server, client) = net::proxy::<dyn UserManager>(link, local.clone()).await;
        let presence = users.presence().await.unwrap();
        let _seed = users.seed(2).await.unwrap();
        assert!(Arc::strong_count(&local.presence) > start_presence);
        client.close();
        eventually("server saw the close", || server.is_closed()).await;
        assert_eq!(Arc::strong_count(&local.presence), start_presence, "{link:?}");
        assert_eq!(Arc::strong_count(&local), start_users, "the root is released too");
        assert_eq!(server.stats().exports, 0);
        drop(presence); // a proxy on a closed connection drops quietly
    }
}

#[tokio::test]
async fn many_get_and_drop_cycles_leave_nothing_behind() {
    let local = Arc::new(Users::default());
    let start = Arc::strong_count(&local.presence);
    let (users, server, client) = net::proxy::<dyn UserManager>(Link::Tcp, local.clone()).await;
    for _ in 0..200 {
        // Releases race with re-sends of the same id; the counts keep it exact.
        let p = users.presence().await.unwrap();
        drop(p);
    }
    let p = users.presence().await.unwrap();
    assert!(p.is_online(1).await.is_ok());
    drop(p);
    eventually("all releases processed", || Arc::strong_count(&local.presence) == start).await;
    assert_eq!(server.stats().exports, 1);
    assert_eq!(client.stats().imports, 0);
}
