//! Passing objects by reference: as arguments, results, nested in copies;
//! identity on the way back; forged and foreign ids.

use std::sync::Arc;

use pb::Error;
use pb_tests::aurora::{Presence, Presences, UserError, UserManager, Users};
use pb_tests::net::{self, ALL, Link};
use pb_tests::raw::RawPeer;

#[tokio::test]
async fn a_reference_as_a_result_is_a_working_proxy() {
    for link in ALL {
        let local = Arc::new(Users::default());
        let (users, _s, _c) = net::proxy::<dyn UserManager>(link, local.clone()).await;
        let presence = users.presence().await.unwrap();
        presence.set_online(1, true).await.unwrap();
        assert!(presence.is_online(1).await.unwrap());
        assert!(local.presence.is_online(1).await.unwrap(), "the call reached the server's object");
    }
}

#[tokio::test]
async fn a_reference_as_an_argument_is_a_working_proxy_on_the_far_side() {
    for link in ALL {
        let (users, _s, _c) = net::proxy::<dyn UserManager>(link, Arc::new(Users::default())).await;
        let mine = Arc::new(Presences::default());
        mine.set_online(7, true).await.unwrap();
        // The server calls back into our local object through the reference.
        assert!(users.ask(mine.clone(), 7).await.unwrap());
        assert!(!users.ask(mine, 8).await.unwrap());
    }
}

#[tokio::test]
async fn a_proxy_sent_back_to_its_owner_arrives_as_the_original_object() {
    for link in ALL {
        let (users, _s, _c) = net::proxy::<dyn UserManager>(link, Arc::new(Users::default())).await;
        let presence = users.presence().await.unwrap();
        assert!(users.is_mine(presence.clone()).await.unwrap(), "Arc::ptr_eq on the owner's side");
        assert!(!users.is_mine(Arc::new(Presences::default())).await.unwrap());
    }
}

#[tokio::test]
async fn references_nested_in_copies_work_and_come_back_as_originals() {
    for link in ALL {
        let (users, _s, _c) = net::proxy::<dyn UserManager>(link, Arc::new(Users::default())).await;
        let seed = users.seed(1).await.unwrap();
        assert_eq!(seed.user.name, "alice");
        seed.presence.set_online(1, true).await.unwrap();
        assert!(seed.list[1].is_online(1).await.unwrap());
        assert!(seed.maybe.as_ref().unwrap().is_online(1).await.unwrap());
        assert!(seed.by_name["main"].is_online(1).await.unwrap());
        // Struct field, Vec, Option and map value all arrive as the original.
        assert!(users.seed_is_mine(seed.clone()).await.unwrap());
        // A copy of a copy: the server returns what it was given.
        let again = users.echo_seed(seed).await.unwrap();
        assert!(again.list[0].is_online(1).await.unwrap());
        assert!(users.seed_is_mine(again).await.unwrap());
    }
}

#[tokio::test]
async fn a_proxy_is_usable_as_the_trait_object() {
    // Calling code cannot tell a local object from a proxy.
    async fn count_online(p: &Arc<dyn Presence>) -> usize {
        let mut n = 0;
        for u in 0..4 {
            n += usize::from(p.is_online(u).await.unwrap());
        }
        n
    }
    let local: Arc<dyn Presence> = Arc::new(Presences::default());
    local.set_online(2, true).await.unwrap();
    let (remote, _s, _c) = net::proxy::<dyn Presence>(Link::Memory, local.clone()).await;
    assert_eq!(count_online(&local).await, 1);
    assert_eq!(count_online(&remote).await, 1);
}

fn args<T: serde::Serialize>(v: &T) -> Vec<u8> {
    postcard::to_allocvec(v).unwrap()
}

fn fault(payload: &[u8]) -> Error {
    postcard::from_bytes(payload).unwrap()
}

#[tokio::test]
async fn forged_object_and_method_ids_get_errors_and_the_connection_keeps_serving() {
    let local = Arc::new(Users::default());
    let (addr, mut conns) = net::listen::<dyn UserManager>(local.clone()).await;
    let (mut raw, root) = RawPeer::connect(addr).await;
    assert_eq!(root, Some(<dyn UserManager as pb::Interface>::ID));

    // An object id that was never exported.
    let (ok, payload) = raw.call(12345, 0, &[]).await;
    assert!(!ok);
    assert_eq!(fault(&payload), Error::UnknownObject { id: 12345 });

    // A method id the interface does not have.
    let (ok, payload) = raw.call(0, 0xdead_beef, &[]).await;
    assert!(!ok);
    assert_eq!(
        fault(&payload),
        Error::UnknownMethod { interface: "UserManager".into(), method: 0xdead_beef, name: None }
    );

    // Arguments that do not decode.
    let get_user = method_id("get_user");
    let (ok, payload) = raw.call(0, get_user, &[0xff, 0xff, 0xff]).await;
    assert!(!ok);
    assert!(matches!(fault(&payload), Error::Protocol(_)));

    // A reference the server never exported to this connection ("your id 77").
    let is_mine = method_id("is_mine");
    let forged = pb::wire::WireRef::Receiver { id: 77 };
    let (ok, payload) = raw.call(0, is_mine, &args(&(forged,))).await;
    assert!(!ok);
    assert_eq!(fault(&payload), Error::UnknownObject { id: 77 });

    // Still serving: a good call.
    let (ok, payload) = raw.call(0, get_user, &args(&(2u64,))).await;
    assert!(ok);
    let user: Result<pb_tests::aurora::User, UserError> = postcard::from_bytes(&payload).unwrap();
    assert_eq!(user.unwrap().name, "bob");
    drop(conns.recv().await.unwrap());
}

#[tokio::test]
async fn ids_exported_on_another_connection_mean_nothing_here() {
    let local = Arc::new(Users::default());
    let (addr, _conns) = net::listen::<dyn UserManager>(local.clone()).await;
    // Connection A obtains the presence object: it is exported on A.
    let a = pb::Connection::connect_tcp(addr).await.unwrap();
    let users_a = a.root::<dyn UserManager>().unwrap();
    let presence = users_a.presence().await.unwrap();
    let id_on_a = 1; // the first export on A after the root
    assert!(presence.is_online(1).await.is_ok());

    // Connection B names the same id without having been given it.
    let (mut b, _) = RawPeer::connect(addr).await;
    let (ok, payload) = b.call(id_on_a, method_id("is_online"), &args(&(1u64,))).await;
    assert!(!ok);
    assert_eq!(fault(&payload), Error::UnknownObject { id: id_on_a });
}

/// The method id the macro derives from a name (FNV-1a, 32 bit).
fn method_id(name: &str) -> u32 {
    let info = <dyn UserManager as pb::Interface>::METHODS.iter().chain(<dyn Presence as pb::Interface>::METHODS);
    info.into_iter().find(|m| m.name == name).unwrap().id
}
