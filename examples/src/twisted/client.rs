//! A pb client that runs every call of `server.py`'s root API against a
//! Twisted PB server, and logs in to its portal (see the
//! [module docs](super) for what it skips):
//! `cargo run -p pb-examples --example twisted_client -- ROOT PORTAL`.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use pb::Error;

use pb::login::Credentials;

use super::{Avatar, Dict, Hello, Missing, ReferenceRoot, User};

/// The outcome of each check, in order: its name, and what went wrong.
pub type Report = Vec<(&'static str, Result<(), String>)>;

/// The callback passed to `call_back`.
struct Greeter;

#[pb::remote_impl]
impl Hello for Greeter {
    async fn hello(&self, text: String) -> Result<String, Error> {
        Ok(format!("hello {text}"))
    }
}

fn check<T: PartialEq + Debug>(report: &mut Report, name: &'static str, got: T, want: T) {
    let outcome = if got == want { Ok(()) } else { Err(format!("got {got:?}, want {want:?}")) };
    report.push((name, outcome));
}

/// Run every call against the Twisted server whose root object is at
/// `addr`, and report each check.
///
/// # Errors
///
/// The connection or PB's handshake failed (no check ran).
pub async fn run(addr: impl tokio::net::ToSocketAddrs) -> Result<Report, Error> {
    let conn = pb::twisted::connect(addr).await?;
    let root = conn.root::<dyn ReferenceRoot>();
    let mut report = Report::new();
    let r = &mut report;

    let dict = Dict::from([("a".to_string(), 1), ("b".to_string(), -2)]);
    let args = ("héllo".to_string(), 1i64 << 40, vec![1, 2, 3], dict.clone());
    let echoed = root.echo(args.0.clone(), args.1, args.2.clone(), dict).await;
    check(r, "echo", echoed, Ok((args, Dict::new())));
    check(r, "get_user", root.get_user(7).await, Ok(User { id: 7, name: "alice".into() }));
    check(r, "put_user", root.put_user(User { id: 9, name: "bob".into() }).await, Ok((9, "bob".to_string())));
    let ids = futures_util::future::join_all((0..50).map(|i| {
        let root = root.clone();
        async move { root.get_user(i).await.map(|u| u.id) }
    }));
    check(r, "50 concurrent calls", ids.await, (0..50).map(Ok).collect());

    check(r, "exported: the root", root.exported().await, Ok(1));
    match root.thing().await {
        Ok(thing) => {
            check(r, "thing.ping", thing.ping(41).await, Ok(42));
            check(r, "exported: root and thing", root.exported().await, Ok(2));
            drop(thing); // sends the decref before the next call
            check(r, "exported: thing released", root.exported().await, Ok(1));
        }
        Err(e) => r.push(("thing", Err(format!("{e:?}")))),
    }

    let greeter: Arc<dyn Hello> = Arc::new(Greeter);
    check(r, "call_back", root.call_back(greeter.clone(), "from pb".into()).await, Ok("hello from pb".into()));
    let mut released = false;
    for _ in 0..200 {
        released = conn.exported() == 0 && Arc::strong_count(&greeter) == 1;
        if released {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    check(r, "call_back: the callback released", released, true);

    let remote = |kind: &str, message: &str| Err(Error::Remote { kind: kind.into(), message: message.into() });
    check(r, "fail", root.fail().await, remote("twisted.spread.pb.Error", "nope"));
    check(r, "boom", root.boom().await, remote("builtins.ValueError", "boom"));
    let missing = match conn.root::<dyn Missing>().no_such_method().await {
        Err(Error::UnknownMethod { name, .. }) => name,
        other => Some(format!("{other:?}")),
    };
    check(r, "no such method", missing.as_deref(), Some("no_such_method"));
    match root.users().await {
        Ok(users) => {
            let first = users.state().users.first().cloned();
            check(r, "users: a mirror of the cacheable", (users.is_mirror(), first.as_deref()), (true, Some("alice")));
            let mut signal = users.watch();
            check(r, "add_user", root.add_user("carol".into()).await, Ok(()));
            let fired = tokio::time::timeout(Duration::from_secs(5), signal.changed()).await.is_ok();
            let last = users.state().users.last().cloned();
            check(r, "users: the change arrived", (fired, last.as_deref()), (true, Some("carol")));
            check(r, "users: observed", root.observers().await, Ok(1));
            drop((users, signal)); // sends the decache
            let mut observers = root.observers().await;
            for _ in 0..200 {
                if observers != Ok(1) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                observers = root.observers().await;
            }
            check(r, "users: released", observers, Ok(0));
        }
        Err(e) => r.push(("users", Err(format!("{e:?}")))),
    }
    check(r, "exported: at the end", root.exported().await, Ok(1));
    conn.close();
    Ok(report)
}

/// Log in to the Twisted portal at `addr` (`server.py`'s second port) as
/// alice, call the avatar's `whoami`, and check that a wrong password is
/// refused; report each check.
///
/// # Errors
///
/// The connection or PB's handshake failed (no check ran).
pub async fn run_portal(addr: impl tokio::net::ToSocketAddrs + Clone) -> Result<Report, Error> {
    let mut report = Report::new();
    let r = &mut report;
    let conn = pb::twisted::connect(addr.clone()).await?;
    match conn.login::<dyn Avatar>(&Credentials::new("alice", "secret")).await {
        Ok(avatar) => check(r, "portal: whoami", avatar.whoami().await, Ok("alice".to_string())),
        Err(e) => r.push(("portal: login", Err(format!("{e:?}")))),
    }
    conn.close();
    let conn = pb::twisted::connect(addr).await?;
    let wrong = conn.login::<dyn Avatar>(&Credentials::new("alice", "guess")).await.map(|_| ());
    check(r, "portal: a wrong password is refused", wrong, Err(Error::Unauthorized));
    conn.close();
    Ok(report)
}
