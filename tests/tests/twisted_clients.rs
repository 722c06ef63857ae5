//! Real Twisted PB clients of pb servers bound with `Server::bind_twisted`
//! (a root, and a portal they log in to, over TCP and TLS), and the
//! Twisted examples against real Twisted.
//!
//! The clients are `tests/twisted/client.py` (checks print `ok`/`FAIL`
//! lines; exit 0 only if all pass), run under the Python that
//! `pb_tests::twisted` finds: where there is no Python with Twisted each
//! test prints that it skipped and passes, unless `PB_REQUIRE_TWISTED=1`.
//! `PB_TWISTED_LOG=1` shows what the scripts print.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pb::login::{Credentials, Portal};
use pb::tls::{self, TlsListener};
use pb::{Blob, Error};
use pb_examples::twisted::UserList;
use pb_tests::pki::Authority;
use pb_tests::twisted::{client_py, python, server_py};
use serde::{Deserialize, Serialize};

const LIMIT: Duration = Duration::from_secs(60);

/// The copyable `aurora.User`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename = "aurora.User")]
pub struct User {
    id: i64,
    name: String,
}

/// Plain values, as a Python dict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mixed {
    flag: bool,
    ratio: f64,
    data: Blob,
    nothing: Option<i64>,
    tags: BTreeMap<String, i64>,
    names: Vec<String>,
    big: i64,
}

/// The shop's application error: reaches Python as `ShopError.<Variant>`.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum ShopError {
    /// No user with this id.
    #[error("no user {0}")]
    NotFound(i64),
    /// A transport failure.
    #[error(transparent)]
    Pb(#[from] Error),
}

#[pb::remote_interface]
pub trait Shop {
    async fn add(&self, a: i64, b: i64) -> Result<i64, Error>;
    async fn greet(&self, name: String, greeting: String, punct: String) -> Result<String, Error>;
    #[pb(name = "getName")]
    async fn get_name(&self, id: i64) -> Result<String, Error>;
    async fn get_user(&self, id: i64) -> Result<User, ShopError>;
    async fn put_user(&self, user: User) -> Result<(i64, String), Error>;
    async fn mixed(&self, m: Mixed) -> Result<Mixed, Error>;
    async fn users(&self) -> Result<Vec<User>, Error>;
    async fn fail(&self) -> Result<(), Error>;
    async fn panics(&self) -> Result<(), Error>;
    async fn thing(&self) -> Result<Arc<dyn Thing>, Error>;
    async fn same(&self, thing: Arc<dyn Thing>) -> Result<i64, Error>;
    async fn same_twice(&self, a: Arc<dyn Thing>, b: Arc<dyn Thing>) -> Result<Vec<i64>, Error>;
    async fn live(&self) -> Result<usize, Error>;
    async fn call_back(&self, hello: Arc<dyn Hello>, text: String) -> Result<String, Error>;
    async fn keep(&self, hello: Arc<dyn Hello>) -> Result<(), Error>;
    async fn call_kept(&self, text: String) -> Result<String, Error>;
    async fn echo_hello(&self, hello: Arc<dyn Hello>) -> Result<Arc<dyn Hello>, Error>;
    async fn drop_kept(&self) -> Result<(), Error>;
    async fn poke(&self) -> Result<(), Error>;
    async fn pokes(&self) -> Result<i64, Error>;
    async fn is_root(&self, shop: Arc<dyn Shop>) -> Result<bool, Error>;
    /// Keep a mirror of the client's cacheable list: its users on arrival.
    async fn watch(&self, users: pb::Cache<UserList>) -> Result<Vec<String>, Error>;
    /// The kept mirror's users now.
    async fn watched(&self) -> Result<Vec<String>, Error>;
    /// The kept mirror itself (back to its owner).
    async fn watched_cache(&self) -> Result<pb::Cache<UserList>, Error>;
    /// Drop the kept mirror.
    async fn unwatch(&self) -> Result<(), Error>;
    async fn camel(&self) -> Result<Arc<dyn Camel>, Error>;
    async fn any_thing(&self) -> Result<pb::AnyRef, Error>;
    async fn any_hello(&self, object: pb::AnyRef, text: String) -> Result<String, Error>;
    async fn any_ping_is_unknown(&self, object: pb::AnyRef) -> Result<bool, Error>;
    async fn any_back(&self, object: pb::AnyRef) -> Result<pb::AnyRef, Error>;
}

/// An interface whose wire names are camelCase, as Python code often has them.
#[pb::remote_interface(rename_all = "camelCase")]
pub trait Camel {
    async fn get_user_name(&self, id: i64) -> Result<String, Error>;
    #[pb(name = "kept_as_is")]
    async fn explicit_name(&self) -> Result<String, Error>;
    #[pb(oneway)]
    async fn add_note(&self, note: i64) -> Result<(), Error>;
    async fn all_notes(&self) -> Result<Vec<i64>, Error>;
}

#[derive(Default)]
struct Notes(Mutex<Vec<i64>>);

#[pb::remote_impl]
impl Camel for Notes {
    async fn get_user_name(&self, id: i64) -> Result<String, Error> {
        Ok(format!("user {id}"))
    }
    async fn explicit_name(&self) -> Result<String, Error> {
        Ok("explicit".into())
    }
    async fn add_note(&self, note: i64) -> Result<(), Error> {
        self.0.lock().unwrap().push(note);
        Ok(())
    }
    async fn all_notes(&self) -> Result<Vec<i64>, Error> {
        Ok(self.0.lock().unwrap().clone())
    }
}

#[pb::remote_interface]
pub trait Thing {
    async fn ping(&self, x: i64) -> Result<i64, Error>;
    async fn serial(&self) -> Result<i64, Error>;
}

/// Python's `Hello(pb.Referenceable)`.
#[pb::remote_interface]
pub trait Hello {
    async fn hello(&self, text: String) -> Result<String, Error>;
}

/// A thing, counted in its shop's `live` while it exists.
struct Widget {
    serial: i64,
    live: Arc<AtomicUsize>,
}

impl Drop for Widget {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

#[pb::remote_impl]
impl Thing for Widget {
    async fn ping(&self, x: i64) -> Result<i64, Error> {
        Ok(x + 1)
    }
    async fn serial(&self) -> Result<i64, Error> {
        Ok(self.serial)
    }
}

#[derive(Default)]
struct ShopImpl {
    live: Arc<AtomicUsize>,
    serials: AtomicI64,
    kept: Mutex<Option<Arc<dyn Hello>>>,
    pokes: AtomicI64,
    watched: Mutex<Option<pb::Cache<UserList>>>,
}

/// The serial of `thing` if it is one of our own widgets (not a proxy).
fn serial_of(thing: &Arc<dyn Thing>) -> i64 {
    let any: &dyn std::any::Any = &**thing;
    any.downcast_ref::<Widget>().map_or(-1, |w| w.serial)
}

#[pb::remote_impl]
impl Shop for ShopImpl {
    async fn add(&self, a: i64, b: i64) -> Result<i64, Error> {
        Ok(a + b)
    }
    async fn greet(&self, name: String, greeting: String, punct: String) -> Result<String, Error> {
        Ok(format!("{greeting} {name}{punct}"))
    }
    async fn get_name(&self, id: i64) -> Result<String, Error> {
        Ok(format!("user {id}"))
    }
    async fn get_user(&self, id: i64) -> Result<User, ShopError> {
        match id {
            1 => Ok(User { id, name: "alice".into() }),
            _ => Err(ShopError::NotFound(id)),
        }
    }
    async fn put_user(&self, user: User) -> Result<(i64, String), Error> {
        Ok((user.id, user.name))
    }
    async fn mixed(&self, mut m: Mixed) -> Result<Mixed, Error> {
        m.ratio *= 2.0;
        m.names.push("!".into());
        Ok(m)
    }
    async fn users(&self) -> Result<Vec<User>, Error> {
        Ok(vec![User { id: 1, name: "alice".into() }, User { id: 2, name: "bob".into() }])
    }
    async fn fail(&self) -> Result<(), Error> {
        Err(Error::LimitExceeded { what: "shelf space".into(), limit: 3 })
    }
    async fn panics(&self) -> Result<(), Error> {
        panic!("on purpose")
    }
    async fn thing(&self) -> Result<Arc<dyn Thing>, Error> {
        self.live.fetch_add(1, Ordering::SeqCst);
        let serial = self.serials.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Arc::new(Widget { serial, live: self.live.clone() }))
    }
    async fn same(&self, thing: Arc<dyn Thing>) -> Result<i64, Error> {
        Ok(serial_of(&thing))
    }
    async fn same_twice(&self, a: Arc<dyn Thing>, b: Arc<dyn Thing>) -> Result<Vec<i64>, Error> {
        Ok(vec![serial_of(&a), serial_of(&b)])
    }
    async fn live(&self) -> Result<usize, Error> {
        Ok(self.live.load(Ordering::SeqCst))
    }
    async fn call_back(&self, hello: Arc<dyn Hello>, text: String) -> Result<String, Error> {
        hello.hello(text).await
    }
    async fn keep(&self, hello: Arc<dyn Hello>) -> Result<(), Error> {
        *self.kept.lock().unwrap() = Some(hello);
        Ok(())
    }
    async fn call_kept(&self, text: String) -> Result<String, Error> {
        let kept = self.kept.lock().unwrap().clone();
        kept.ok_or(Error::UnknownObject { id: 0 })?.hello(text).await
    }
    async fn echo_hello(&self, hello: Arc<dyn Hello>) -> Result<Arc<dyn Hello>, Error> {
        Ok(hello)
    }
    async fn drop_kept(&self) -> Result<(), Error> {
        let kept = self.kept.lock().unwrap().take();
        drop(kept);
        Ok(())
    }
    async fn poke(&self) -> Result<(), Error> {
        self.pokes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn pokes(&self) -> Result<i64, Error> {
        Ok(self.pokes.load(Ordering::SeqCst))
    }
    async fn is_root(&self, shop: Arc<dyn Shop>) -> Result<bool, Error> {
        let any: &dyn std::any::Any = &*shop;
        Ok(any.downcast_ref::<ShopImpl>().is_some_and(|s| std::ptr::eq(s, self)))
    }
    async fn watch(&self, users: pb::Cache<UserList>) -> Result<Vec<String>, Error> {
        let now = users.state().users.clone();
        *self.watched.lock().unwrap() = Some(users);
        Ok(now)
    }
    async fn watched(&self) -> Result<Vec<String>, Error> {
        let users = self.watched.lock().unwrap().clone().ok_or(Error::UnknownObject { id: 0 })?;
        Ok(users.state().users.clone())
    }
    async fn watched_cache(&self) -> Result<pb::Cache<UserList>, Error> {
        self.watched.lock().unwrap().clone().ok_or(Error::UnknownObject { id: 0 })
    }
    async fn unwatch(&self) -> Result<(), Error> {
        let users = self.watched.lock().unwrap().take();
        drop(users);
        Ok(())
    }
    async fn camel(&self) -> Result<Arc<dyn Camel>, Error> {
        Ok(Arc::new(Notes::default()))
    }
    async fn any_thing(&self) -> Result<pb::AnyRef, Error> {
        Ok(pb::AnyRef::new(self.thing().await?))
    }
    async fn any_hello(&self, object: pb::AnyRef, text: String) -> Result<String, Error> {
        object.downcast::<dyn Hello>()?.hello(text).await
    }
    async fn any_ping_is_unknown(&self, object: pb::AnyRef) -> Result<bool, Error> {
        Ok(matches!(object.downcast::<dyn Thing>()?.ping(1).await, Err(Error::UnknownMethod { .. })))
    }
    async fn any_back(&self, object: pb::AnyRef) -> Result<pb::AnyRef, Error> {
        Ok(object)
    }
}

fn assert_passed(ran: &pb_tests::twisted::Ran) {
    assert!(ran.success && ran.failures().is_empty(), "client.py failed: {:?}\n{}", ran.failures(), ran.stderr);
    assert!(ran.stdout.lines().any(|l| l.starts_with("ok ")), "client.py checked nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twisted_client_calls_a_pb_server() {
    let Some(python) = python() else { return };
    let shop = Arc::new(ShopImpl::default());
    let server = pb::Server::bind_twisted("127.0.0.1:0", pb::root::<dyn Shop>(shop.clone())).await.unwrap();
    let port = server.local_addr().port().to_string();
    let ran = client_py(&python, &["shop".into(), port], LIMIT).await;
    assert_passed(&ran);
    // The pb side of the counts, after the client has gone.
    pb_tests::eventually("the client's connection is closed", || server.twisted_connections().is_empty()).await;
    assert_eq!(shop.live.load(Ordering::SeqCst), 0, "every thing released");
    assert!(shop.kept.lock().unwrap().is_none());
    assert_eq!(shop.pokes.load(Ordering::SeqCst), 3, "each oneway call ran once");
    assert!(shop.watched.lock().unwrap().is_none());
}

/// The avatar of [`portal`]'s users.
#[pb::remote_interface]
pub trait Account {
    /// Who logged in.
    async fn whoami(&self) -> Result<String, Error>;
    /// The login's mind's `hello(text)`, or "no mind".
    async fn call_mind(&self, text: String) -> Result<String, Error>;
}

/// What `client.py` passes as a mind (its `Hello`).
#[pb::remote_interface]
pub trait ClientHello {
    async fn hello(&self, text: String) -> Result<String, Error>;
}

/// An [`Account`]: who logged in, and the mind they logged in with.
struct Perspective(String, Option<pb::AnyRef>);

#[pb::remote_impl]
impl Account for Perspective {
    async fn whoami(&self) -> Result<String, Error> {
        Ok(self.0.clone())
    }
    async fn call_mind(&self, text: String) -> Result<String, Error> {
        match &self.1 {
            Some(mind) => mind.clone().downcast::<dyn ClientHello>()?.hello(text).await,
            None => Ok("no mind".into()),
        }
    }
}

/// alice/secret, and anonymous users (as Twisted's `AllowAnonymousAccess`
/// would); two attempts per connection.
fn portal() -> Portal {
    Portal::new(|c: Credentials| async move {
        let mind = c.mind().cloned();
        let name = if c.is_anonymous() {
            "anonymous".to_string()
        } else if c.username == "alice" && c.check_password("secret") {
            c.username
        } else {
            return Err(Error::Unauthorized);
        };
        Ok(pb::AnyRef::new::<dyn Account>(Arc::new(Perspective(name, mind))))
    })
    .max_attempts(2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twisted_client_logs_in_to_a_pb_portal() {
    let Some(python) = python() else { return };
    let server = pb::Server::bind_twisted("127.0.0.1:0", portal()).await.unwrap();
    let ran = client_py(&python, &["portal".into(), server.local_addr().port().to_string()], LIMIT).await;
    assert_passed(&ran);
    let checks = ["portal: whoami", "anonymous login", "login with a mind", "the mind called back", "no mind"];
    for check in checks.into_iter().chain(["the attempt limit closes the connection"]) {
        assert!(ran.stdout.contains(&format!("ok {check}\n")), "{check} did not pass:\n{}", ran.stdout);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pb_portal_closes_a_twisted_client_that_does_not_log_in() {
    let Some(python) = python() else { return };
    let server =
        pb::Server::bind_twisted("127.0.0.1:0", portal().login_timeout(Duration::from_millis(500))).await.unwrap();
    let ran = client_py(&python, &["idle".into(), server.local_addr().port().to_string()], LIMIT).await;
    assert_passed(&ran);
    assert!(ran.stdout.contains("ok the login timeout closes the connection"), "{}", ran.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twisted_client_logs_in_to_a_pb_portal_over_tls() {
    let Some(python) = python() else { return };
    if !pb_tests::twisted::has_pyopenssl(&python) {
        return;
    }
    let ca = Authority::new("pb test ca");
    let (chain, key) = ca.server();
    let listener = TlsListener::bind("127.0.0.1:0", tls::server_config(chain, key, None).unwrap()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _server = pb::Server::serve_twisted(listener, portal(), pb::Config::default());
    let ca_file = std::env::temp_dir().join(format!("pb-twisted-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let args = ["portal".into(), port.to_string(), ca_file.to_string_lossy().into_owned()];
    let ran = client_py(&python, &args, LIMIT).await;
    let _ = std::fs::remove_file(&ca_file);
    assert_passed(&ran);
    assert!(
        ran.stdout.contains("ok portal: whoami\n") && ran.stdout.contains("ok anonymous login\n"),
        "{}",
        ran.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_for_server_py_passes_against_server_py() {
    let Some(python) = python() else { return };
    let server = server_py(&python);
    let ran = client_py(&python, &["api".into(), server.root.to_string(), server.portal.to_string()], LIMIT).await;
    assert_passed(&ran);
    assert!(ran.stdout.contains("ok portal: whoami"), "{}", ran.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_for_server_py_passes_against_the_twisted_server_example() {
    let Some(python) = python() else { return };
    let server = pb_examples::twisted::server::bind("127.0.0.1:0").await.unwrap();
    let portal = pb_examples::twisted::server::bind_portal("127.0.0.1:0").await.unwrap();
    let ports = [server.local_addr().port().to_string(), portal.local_addr().port().to_string()];
    let ran = client_py(&python, &["api".into(), ports[0].clone(), ports[1].clone()], LIMIT).await;
    assert_passed(&ran);
    assert!(ran.stdout.contains("ok portal: whoami"), "{}", ran.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_twisted_client_example_passes_against_server_py() {
    let Some(python) = python() else { return };
    let server = server_py(&python);
    let report = pb_examples::twisted::client::run(("127.0.0.1", server.root)).await.expect("connected");
    let failed: Vec<_> = report.iter().filter(|(_, o)| o.is_err()).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert!(report.len() > 10);
    let report = pb_examples::twisted::client::run_portal(("127.0.0.1", server.portal)).await.expect("connected");
    assert_eq!(report.iter().map(|(name, _)| *name).collect::<Vec<_>>().len(), 2, "{report:?}");
    let failed: Vec<_> = report.iter().filter(|(_, o)| o.is_err()).collect();
    assert!(failed.is_empty(), "{failed:?}");
}
