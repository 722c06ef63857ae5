//! A relay exposes downstream only what it chooses: a downstream peer cannot
//! reach an upstream object the relay did not pass on, by any id it can forge.
//!
//! Ids are per connection: the downstream connection's export table holds
//! only what the relay exported on it, so ids that are live on the relay's
//! upstream link (or on any other connection) name nothing downstream. A
//! raw downstream peer tries every small id (which covers every id in use on
//! both links), a few large ones, as call targets and as references inside
//! arguments, and registry lookups of what the relay hides.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pb::wire::WireRef;
use pb::{Client, Error, Interface, Listing, Locator, Registry, Server};
use pb_tests::aurora::{Presence, UserError, UserManager, Users};
use pb_tests::raw::{RawPeer, fault};

/// An upstream object only the relay may use; counts every call it gets.
#[derive(Default)]
struct Secret {
    calls: AtomicUsize,
}

#[pb::remote_impl]
impl Presence for Secret {
    async fn is_online(&self, _user: u64) -> Result<bool, UserError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(true)
    }
    async fn set_online(&self, _user: u64, _online: bool) -> Result<(), UserError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn id_of<T: ?Sized + Interface>(name: &str) -> u32 {
    T::METHODS.iter().find(|m| m.name == name).unwrap().id
}

fn args<T: serde::Serialize>(v: &T) -> Vec<u8> {
    postcard::to_allocvec(v).unwrap()
}

/// Ids a downstream peer might forge: every small id, and some large ones.
fn forged_ids() -> impl Iterator<Item = u64> {
    (0..=256).chain([1 << 20, 1 << 32, u64::MAX / 2, u64::MAX - 1, u64::MAX])
}

struct Upstream {
    _server: Server,
    addr: String,
    secret: Arc<Secret>,
}

async fn upstream() -> Upstream {
    let secret = Arc::new(Secret::default());
    let registry = Registry::local();
    registry.register::<dyn UserManager>(Arc::new(Users::default()));
    registry.register_named::<dyn Presence>("secret", secret.clone());
    let server = Server::bind("127.0.0.1:0", registry).await.unwrap();
    let addr = server.local_addr().to_string();
    Upstream { _server: server, addr, secret }
}

/// Attack `relay` from a raw downstream peer; every attempt must fail.
async fn attack(relay: std::net::SocketAddr) {
    let (mut raw, root) = RawPeer::connect(relay).await;
    assert_eq!(root, Some(<dyn Locator as Interface>::ID));
    let (lookup, list) = (id_of::<dyn Locator>("lookup"), id_of::<dyn Locator>("list"));
    let is_online = id_of::<dyn Presence>("is_online");
    let is_mine = id_of::<dyn UserManager>("is_mine");
    let presence_iface = <dyn Presence as Interface>::ID;

    // What the relay hides is not found, by interface or by name.
    for name in [None, Some("secret".to_string())] {
        let (ran, payload) = raw.call(0, lookup, &args(&(presence_iface, name))).await;
        assert!(ran);
        let answer: Result<WireRef, Error> = postcard::from_bytes(&payload).unwrap();
        assert!(matches!(answer, Err(Error::NotRegistered { .. })), "{answer:?}");
    }
    let (_, payload) = raw.call(0, list, &[]).await;
    let listed: Result<Vec<Listing>, Error> = postcard::from_bytes(&payload).unwrap();
    assert!(listed.unwrap().iter().all(|l| l.interface_id != presence_iface));

    // What it passes on.
    let (_, payload) = raw.call(0, lookup, &args(&(<dyn UserManager as Interface>::ID, None::<String>))).await;
    let users = match postcard::from_bytes::<Result<WireRef, Error>>(&payload).unwrap() {
        Ok(WireRef::Sender { id, .. }) => id,
        other => panic!("expected the user manager, got {other:?}"),
    };

    for id in forged_ids() {
        // As a call target of the hidden object's methods.
        let (ran, payload) = raw.call(id, is_online, &args(&(1u64,))).await;
        assert!(!ran, "id {id} reached a presence object");
        let expected_method = matches!(fault(&payload), Error::UnknownMethod { .. });
        let expected_object = fault(&payload) == Error::UnknownObject { id };
        assert!(expected_object || (expected_method && (id == 0 || id == users)), "id {id}: {:?}", fault(&payload));

        // As "your reference" inside the arguments of a passed-on object.
        let (ran, payload) = raw.call(users, is_mine, &args(&(WireRef::Receiver { id },))).await;
        assert!(!ran, "id {id} decoded as one of the relay's presence objects");
        match fault(&payload) {
            Error::UnknownObject { id: unknown } => assert_eq!(unknown, id),
            Error::WrongInterface { .. } => assert!(id == 0 || id == users, "id {id}"),
            other => panic!("id {id}: {other:?}"),
        }

        // As "my reference": it names the attacker's own (nonexistent)
        // object, which is never the upstream's secret.
        let forged = WireRef::Sender { id, iface: presence_iface };
        let (ran, payload) = raw.call(users, is_mine, &args(&(forged,))).await;
        assert!(ran);
        assert_eq!(postcard::from_bytes::<Result<bool, UserError>>(&payload).unwrap(), Ok(false));
    }
}

#[tokio::test]
async fn a_relay_serving_chosen_objects_exposes_nothing_else() {
    let up = upstream().await;
    let link = Client::connect(up.addr.clone()).await.unwrap();
    let users = link.registry().unwrap().get::<dyn UserManager>().await.unwrap();
    // The relay holds the secret for its own use (so it is live on the
    // upstream link) but serves only the user manager.
    let secret = link.registry().unwrap().get_named::<dyn Presence>("secret").await.unwrap();
    assert!(secret.is_online(1).await.unwrap());
    let relay = Server::bind("127.0.0.1:0", Registry::local().serve::<dyn UserManager>(users)).await.unwrap();

    attack(relay.local_addr()).await;
    assert_eq!(up.secret.calls.load(Ordering::SeqCst), 1, "only the relay's own call reached the secret");
    assert!(link.connection().stats().imports >= 2, "the secret was live upstream all along");
}

#[tokio::test]
async fn a_forwarding_relay_that_hides_an_interface_exposes_nothing_of_it() {
    let up = upstream().await;
    let link = Client::connect(up.addr.clone()).await.unwrap();
    let secret = link.registry().unwrap().get_named::<dyn Presence>("secret").await.unwrap();
    assert!(secret.is_online(1).await.unwrap());
    let registry = Registry::forwarding(link.registry().unwrap()).hide::<dyn Presence>();
    let relay = Server::bind("127.0.0.1:0", registry).await.unwrap();

    attack(relay.local_addr()).await;
    assert_eq!(up.secret.calls.load(Ordering::SeqCst), 1, "only the relay's own call reached the secret");
}
