//! Login (PB's cred/portal): credentials checked before anything is
//! reachable, a per-user avatar, clear refusals, and sessions that log in
//! again by themselves after an outage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pb::login::{Credentials, Login, Portal};
use pb::wire::WireRef;
use pb::{AnyRef, Client, Error, Interface, Locator, Registry, Server, SessionEvent};
use pb_tests::aurora::{UserError, UserManager, Users};
use pb_tests::raw::{RawPeer, fault};
use pb_tests::session::{fast, next_event, rebind};

/// A user database: each user's avatar is their own user manager; counts
/// every successful login.
#[derive(Default)]
struct Accounts {
    avatars: Mutex<HashMap<String, Arc<Users>>>,
    logins: AtomicUsize,
}

impl Accounts {
    fn portal(self: &Arc<Self>) -> Portal {
        let accounts = self.clone();
        Portal::new(move |c: Credentials| {
            let accounts = accounts.clone();
            async move { accounts.portal_check(c) }
        })
    }

    /// The checker: alice and bob with their passwords.
    fn portal_check(&self, c: Credentials) -> Result<AnyRef, Error> {
        let known = matches!((c.username.as_str(), c.password.as_str()), ("alice", "wonderland") | ("bob", "builder"));
        if !known {
            return Err(Error::Unauthorized);
        }
        self.logins.fetch_add(1, Ordering::SeqCst);
        let users = self.avatars.lock().unwrap().entry(c.username).or_default().clone();
        Ok(AnyRef::new::<dyn UserManager>(users))
    }

    fn avatar(&self, name: &str) -> Arc<Users> {
        self.avatars.lock().unwrap()[name].clone()
    }
}

async fn serve(portal: Portal) -> (Server, String) {
    let server = Server::bind("127.0.0.1:0", portal).await.unwrap();
    let addr = server.local_addr().to_string();
    (server, addr)
}

fn args<T: serde::Serialize>(v: &T) -> Vec<u8> {
    postcard::to_allocvec(v).unwrap()
}

#[tokio::test]
async fn each_user_gets_their_own_avatar() {
    let accounts = Arc::new(Accounts::default());
    let (_server, addr) = serve(accounts.portal()).await;
    let alice = Client::connect(addr.clone()).await.unwrap();
    let bob = Client::connect(addr).await.unwrap();
    let as_alice = alice.login::<dyn UserManager>(Credentials::new("alice", "wonderland")).await.unwrap();
    let as_bob = bob.login::<dyn UserManager>(Credentials::new("bob", "builder")).await.unwrap();
    as_alice.push(1).await.unwrap();
    as_bob.push(2).await.unwrap();
    assert_eq!(as_alice.pushed().await.unwrap(), [1]);
    assert_eq!(as_bob.pushed().await.unwrap(), [2]);
    assert_eq!(accounts.avatar("alice").pushed().await.unwrap(), [1]);
    assert_eq!(accounts.logins.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn wrong_credentials_are_refused_clearly_and_attempts_are_limited() {
    let accounts = Arc::new(Accounts::default());
    let (_server, addr) = serve(accounts.portal().max_attempts(3)).await;
    let client = Client::connect(addr).await.unwrap();
    for wrong in [Credentials::new("alice", "nope"), Credentials::new("mallory", "wonderland")] {
        match client.login::<dyn UserManager>(wrong).await {
            Err(Error::Unauthorized) => {}
            other => panic!("expected Unauthorized, got {:?}", other.map(|_| "an avatar")),
        }
    }
    assert_eq!(Error::Unauthorized.to_string(), "login refused: wrong credentials");
    // A right password after mistakes still works, within the attempts.
    let users = client.login::<dyn UserManager>(Credentials::new("alice", "wonderland")).await.unwrap();
    assert_eq!(users.get_user(1).await.unwrap().name, "alice");

    // A raw peer guessing: the third refusal closes its connection.
    let (mut raw, _) = RawPeer::connect(client_addr(&client)).await;
    let login = <dyn Login as Interface>::METHODS[0].id;
    for attempt in 1..=3 {
        let (ran, payload) = raw.call(0, login, &args(&(Credentials::new("alice", format!("guess{attempt}")),))).await;
        assert!(ran);
        let answer: Result<WireRef, Error> = postcard::from_bytes(&payload).unwrap();
        assert_eq!(answer, Err(Error::Unauthorized));
    }
    assert!(raw.closed_within(Duration::from_secs(5)).await, "closed after 3 refusals");
}

fn client_addr(client: &Client) -> std::net::SocketAddr {
    client.peer().parse().unwrap()
}

#[tokio::test]
async fn nothing_is_reachable_before_login() {
    let accounts = Arc::new(Accounts::default());
    let (_server, addr) = serve(accounts.portal()).await;
    // A well-behaved client logged in elsewhere: its avatar is exported on
    // its own connection (id 1 there).
    let other = Client::connect(addr.clone()).await.unwrap();
    let _alice = other.login::<dyn UserManager>(Credentials::new("alice", "wonderland")).await.unwrap();

    let (mut raw, root) = RawPeer::connect(addr.parse().unwrap()).await;
    assert_eq!(root, Some(<dyn Login as Interface>::ID), "the root is the login and nothing else");
    // Every method of the objects behind the login, on the root.
    let methods = <dyn UserManager as Interface>::METHODS.iter().chain(<dyn Locator as Interface>::METHODS);
    for m in methods {
        let (ran, payload) = raw.call(0, m.id, &args(&(1u64,))).await;
        assert!(!ran);
        assert!(matches!(fault(&payload), Error::UnknownMethod { .. }), "{}: {:?}", m.name, fault(&payload));
    }
    // Every other id.
    let get_user = <dyn UserManager as Interface>::METHODS.iter().find(|m| m.name == "get_user").unwrap().id;
    for id in (1..=64).chain([u64::MAX]) {
        let (ran, payload) = raw.call(id, get_user, &args(&(1u64,))).await;
        assert!(!ran);
        assert_eq!(fault(&payload), Error::UnknownObject { id });
    }
    // A failed login exports nothing either.
    let login = <dyn Login as Interface>::METHODS[0].id;
    let (_, payload) = raw.call(0, login, &args(&(Credentials::new("alice", "x"),))).await;
    assert_eq!(postcard::from_bytes::<Result<WireRef, Error>>(&payload).unwrap(), Err(Error::Unauthorized));
    let (ran, _) = raw.call(1, get_user, &args(&(1u64,))).await;
    assert!(!ran);

    // After a good login, the avatar is reachable.
    let (_, payload) = raw.call(0, login, &args(&(Credentials::new("bob", "builder"),))).await;
    let avatar = match postcard::from_bytes::<Result<WireRef, Error>>(&payload).unwrap() {
        Ok(WireRef::Sender { id, iface }) => {
            assert_eq!(iface, <dyn UserManager as Interface>::ID);
            id
        }
        other => panic!("expected the avatar, got {other:?}"),
    };
    let (ran, payload) = raw.call(avatar, get_user, &args(&(2u64,))).await;
    assert!(ran);
    let user: Result<pb_tests::aurora::User, UserError> = postcard::from_bytes(&payload).unwrap();
    assert_eq!(user.unwrap().name, "bob");
}

#[tokio::test]
async fn a_peer_that_does_not_log_in_is_cut_at_the_login_timeout() {
    let accounts = Arc::new(Accounts::default());
    let (server, addr) = serve(accounts.portal().login_timeout(Duration::from_millis(200))).await;
    let (mut raw, _) = RawPeer::connect(addr.parse().unwrap()).await;
    assert!(raw.closed_within(Duration::from_secs(5)).await);
    pb_tests::eventually("the server dropped the connection", || server.connections().is_empty()).await;

    // A client that logs in in time stays connected past the timeout.
    let client = Client::connect(addr).await.unwrap();
    let users = client.login::<dyn UserManager>(Credentials::new("alice", "wonderland")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(users.get_user(1).await.unwrap().name, "alice");
    assert!(client.connection().close_reason().is_none());
}

#[tokio::test]
async fn a_session_logs_in_again_by_itself_after_an_outage() {
    let accounts = Arc::new(Accounts::default());
    let (server, addr) = serve(accounts.portal()).await;
    let client = Client::builder().config(fast()).connect_tcp(addr.clone()).await.unwrap();
    let mut events = client.events();
    next_event(&mut events).await; // connected
    let users = client.login::<dyn UserManager>(Credentials::new("alice", "wonderland")).await.unwrap();
    users.push(1).await.unwrap();
    assert_eq!(accounts.logins.load(Ordering::SeqCst), 1);

    // The server restarts: a new process knows no session; the client logs
    // in again before it reports Reconnected.
    server.abort();
    drop(server);
    assert!(matches!(next_event(&mut events).await, SessionEvent::Disconnected { .. }));
    assert_eq!(users.get_user(1).await, Err(UserError::Pb(Error::Disconnected)));
    let restarted = Arc::new(Accounts::default());
    let _server = rebind(addr.parse().unwrap(), restarted.portal()).await;
    match next_event(&mut events).await {
        SessionEvent::Reconnected { healed, failed, .. } => {
            assert_eq!((healed, failed), (2, 0), "the login root and the avatar")
        }
        other => panic!("expected reconnected, got {other:?}"),
    }
    assert_eq!(restarted.logins.load(Ordering::SeqCst), 1, "logged in again, once");
    users.push(2).await.unwrap();
    assert_eq!(restarted.avatar("alice").pushed().await.unwrap(), [2], "the same Arc reaches the new avatar");
}

#[tokio::test]
async fn a_login_refused_after_an_outage_is_given_up_and_the_rest_of_the_session_heals() {
    let accounts = Arc::new(Accounts::default());
    let (server, addr) = serve(accounts.portal()).await;
    let client = Client::builder().config(fast()).connect_tcp(addr.clone()).await.unwrap();
    let mut events = client.events();
    next_event(&mut events).await; // connected
    let login = client.root::<dyn Login>().unwrap();
    let users = login.login_as::<dyn UserManager>(Credentials::new("alice", "wonderland")).await.unwrap();
    // A second login path through the same root, and a plain root proxy.
    let bobs = login.login_as::<dyn UserManager>(Credentials::new("bob", "builder")).await.unwrap();
    assert_eq!(client.tracked(), 3, "root, two avatars");

    // The restarted server no longer knows alice's password.
    server.abort();
    drop(server);
    assert!(matches!(next_event(&mut events).await, SessionEvent::Disconnected { .. }));
    let refusals = Arc::new(AtomicUsize::new(0));
    let restarted = Arc::new(Accounts::default());
    let portal = {
        let (restarted, refusals) = (restarted.clone(), refusals.clone());
        Portal::new(move |c: Credentials| {
            let (restarted, refusals) = (restarted.clone(), refusals.clone());
            async move {
                if c.username == "alice" {
                    refusals.fetch_add(1, Ordering::SeqCst);
                    return Err(Error::Unauthorized);
                }
                restarted.portal_check(c)
            }
        })
    };
    let _server = rebind(addr.parse().unwrap(), portal).await;
    match next_event(&mut events).await {
        SessionEvent::Reconnected { healed, failed, .. } => {
            assert_eq!((healed, failed), (2, 0), "the root and bob's avatar heal; alice's is not retried")
        }
        other => panic!("expected reconnected, got {other:?}"),
    }
    match next_event(&mut events).await {
        SessionEvent::Refused { path, error, .. } => {
            assert_eq!(error, Error::Unauthorized);
            assert!(path.contains("login"), "the path names the login: {path}");
        }
        other => panic!("expected refused, got {other:?}"),
    }
    assert_eq!(users.get_user(1).await, Err(UserError::Pb(Error::Unauthorized)), "the refusal, not Disconnected");
    bobs.push(7).await.unwrap();
    assert_eq!(restarted.avatar("bob").pushed().await.unwrap(), [7]);

    // Many pings later the refused login was sent exactly once: the session
    // does not count against the server's attempt limit.
    tokio::time::sleep(fast().ping_interval * 10).await;
    assert_eq!(refusals.load(Ordering::SeqCst), 1);
    assert!(client.is_connected());
    assert_eq!(users.get_user(1).await, Err(UserError::Pb(Error::Unauthorized)));

    // Dropping the refused avatar forgets its path.
    drop(users);
    assert_eq!(client.tracked(), 2);
}

/// A login whose avatar is a per-user registry holding a user manager:
/// accepts alice (while `accept` is set) and counts her logins.
struct RegistryAccounts {
    accept: std::sync::atomic::AtomicBool,
    logins: AtomicUsize,
}

impl RegistryAccounts {
    fn new() -> Arc<Self> {
        Arc::new(RegistryAccounts { accept: true.into(), logins: AtomicUsize::new(0) })
    }

    fn portal(self: &Arc<Self>) -> Portal {
        let accounts = self.clone();
        Portal::new(move |c: Credentials| {
            let accounts = accounts.clone();
            async move {
                if !accounts.accept.load(Ordering::SeqCst) || c != Credentials::new("alice", "wonderland") {
                    return Err(Error::Unauthorized);
                }
                accounts.logins.fetch_add(1, Ordering::SeqCst);
                let registry = Registry::local();
                registry.register::<dyn UserManager>(Arc::new(Users::default()));
                Ok(AnyRef::new::<dyn Locator>(registry.locator()))
            }
        })
    }
}

/// A session to `addr` logged in as alice, her registry and a user manager
/// looked up through it; the server was then killed and the outage seen.
async fn alice_then_outage(
    server: Server,
    addr: &str,
) -> (Client, impl futures_util::Stream<Item = SessionEvent> + Unpin + use<>, Arc<dyn Locator>, Arc<dyn UserManager>) {
    let client = Client::builder().config(fast()).connect_tcp(addr).await.unwrap();
    let mut events = client.events();
    next_event(&mut events).await;
    let registry = client.login::<dyn Locator>(Credentials::new("alice", "wonderland")).await.unwrap();
    let users = registry.get::<dyn UserManager>().await.unwrap();
    assert_eq!(client.tracked(), 3, "root, avatar, lookup");
    server.abort();
    drop(server);
    assert!(matches!(next_event(&mut events).await, SessionEvent::Disconnected { .. }));
    (client, events, registry, users)
}

#[tokio::test]
async fn proxies_obtained_through_a_refused_avatar_are_given_up_with_it() {
    let accounts = RegistryAccounts::new();
    let (server, addr) = serve(accounts.portal()).await;
    let (_client, mut events, registry, users) = alice_then_outage(server, &addr).await;
    accounts.accept.store(false, Ordering::SeqCst);
    let _server = rebind(addr.parse().unwrap(), accounts.portal()).await;
    match next_event(&mut events).await {
        SessionEvent::Reconnected { healed, failed, .. } => assert_eq!((healed, failed), (1, 0), "only the root"),
        other => panic!("expected reconnected, got {other:?}"),
    }
    let mut refused = Vec::new();
    for _ in 0..2 {
        match next_event(&mut events).await {
            SessionEvent::Refused { path, error: Error::Unauthorized, .. } => refused.push(path),
            other => panic!("expected refused, got {other:?}"),
        }
    }
    assert!(refused[0].contains("login") && refused[1].contains("registry.get"), "{refused:?}");
    assert_eq!(users.get_user(1).await, Err(UserError::Pb(Error::Unauthorized)));
    assert_eq!(registry.get::<dyn UserManager>().await.err(), Some(Error::Unauthorized));
}

#[tokio::test]
async fn an_avatar_can_be_a_per_user_registry_and_lookups_through_it_heal() {
    let accounts = RegistryAccounts::new();
    let (server, addr) = serve(accounts.portal()).await;
    let (_client, mut events, _registry, users) = alice_then_outage(server, &addr).await;
    let _server = rebind(addr.parse().unwrap(), accounts.portal()).await;
    match next_event(&mut events).await {
        SessionEvent::Reconnected { healed, failed, .. } => assert_eq!((healed, failed), (3, 0)),
        other => panic!("expected reconnected, got {other:?}"),
    }
    assert_eq!(accounts.logins.load(Ordering::SeqCst), 2);
    assert_eq!(users.get_user(2).await.unwrap().name, "bob");
}

#[test]
fn login_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Portal>();
    check::<Credentials>();
    check::<Arc<dyn Login>>();
    assert!(
        !format!("{:?}", Credentials::new("alice", "wonderland")).contains("wonderland"),
        "Debug hides the password"
    );
}

#[tokio::test]
async fn a_logged_in_session_resumes_without_logging_in_again() {
    let accounts = Arc::new(Accounts::default());
    let (_server, addr) = serve(accounts.portal()).await;
    let proxy = pb::fault::FaultProxy::start(addr.parse().unwrap()).await.unwrap();
    let client = Client::builder().config(fast()).connect_tcp(proxy.addr().to_string()).await.unwrap();
    let mut events = client.events();
    next_event(&mut events).await; // connected
    let users = client.login::<dyn UserManager>(Credentials::new("alice", "wonderland")).await.unwrap();
    users.push(1).await.unwrap();
    let in_flight = tokio::spawn({
        let users = users.clone();
        async move { users.slow(300, 9).await }
    });
    pb_tests::eventually("the call runs", || accounts.avatar("alice").started.load(Ordering::SeqCst) == 1).await;

    proxy.cut();
    pb_tests::eventually("the session notices", || !client.is_connected()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.heal();
    assert!(matches!(next_event(&mut events).await, SessionEvent::Resumed { .. }));
    assert_eq!(in_flight.await.unwrap(), Ok(9));
    // The same avatar of the same login: no second login, no replay.
    assert_eq!(accounts.logins.load(Ordering::SeqCst), 1);
    users.push(2).await.unwrap();
    assert_eq!(accounts.avatar("alice").pushed().await.unwrap(), [1, 2]);
}
