//! Calls: by copy, application errors, concurrency, ordering, faults.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use pb::Error;
use pb_tests::aurora::{User, UserError, UserManager, Users};
use pb_tests::net::{self, ALL};

#[tokio::test]
async fn by_copy_over_every_transport() {
    for link in ALL {
        let (users, _s, _c) = net::proxy::<dyn UserManager>(link, Arc::new(Users::default())).await;
        assert_eq!(users.get_user(1).await.unwrap(), User { id: 1, name: "alice".into() }, "{link:?}");
        let carol = User { id: 3, name: "carol".into() };
        assert_eq!(users.add_user(carol.clone()).await.unwrap(), 3);
        assert_eq!(users.get_user(3).await.unwrap(), carol);
    }
}

#[tokio::test]
async fn application_errors_come_back_as_values() {
    let (users, _s, _c) = net::proxy::<dyn UserManager>(net::Link::Memory, Arc::new(Users::default())).await;
    assert_eq!(users.get_user(99).await, Err(UserError::NotFound(99)));
}

#[tokio::test]
async fn local_methods_run_on_the_caller_side() {
    let (users, _s, _c) = net::proxy::<dyn UserManager>(net::Link::Memory, Arc::new(Users::default())).await;
    assert_eq!(users.label(), "users");
}

#[tokio::test]
async fn a_panicking_implementation_is_an_error_and_the_connection_stays_up() {
    for link in ALL {
        let (users, _s, client) = net::proxy::<dyn UserManager>(link, Arc::new(Users::default())).await;
        match users.explode().await {
            Err(UserError::Pb(Error::Panicked { message })) => assert_eq!(message, "boom"),
            other => panic!("expected a panic error, got {other:?}"),
        }
        assert!(!client.is_closed());
        assert_eq!(users.get_user(2).await.unwrap().name, "bob");
    }
}

#[tokio::test]
async fn hundred_concurrent_calls_on_one_connection() {
    for link in ALL {
        let local = Arc::new(Users::default());
        let (users, _s, client) = net::proxy::<dyn UserManager>(link, local.clone()).await;
        // Replies complete in reverse order of sending: all 100 are in flight at once.
        let calls = (0..100u64).map(|i| {
            let users = users.clone();
            async move { users.slow(200 - i, i).await }
        });
        let results = futures_util::future::join_all(calls).await;
        for (i, r) in results.into_iter().enumerate() {
            assert_eq!(r.unwrap(), i as u64);
        }
        assert_eq!(local.completed.load(Ordering::SeqCst), 100);
        assert_eq!(client.stats().pending, 0);
    }
}

#[tokio::test]
async fn calls_on_one_proxy_start_in_the_order_sent() {
    for link in ALL {
        let (users, _s, _c) = net::proxy::<dyn UserManager>(link, Arc::new(Users::default())).await;
        // Sent back to back without waiting: they must start in order.
        let calls = (0..500u64).map(|i| users.push(i));
        for r in futures_util::future::join_all(calls).await {
            r.unwrap();
        }
        assert_eq!(users.pushed().await.unwrap(), (0..500).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn the_link_down_fails_fast_with_disconnected() {
    let (users, _s, client) = net::proxy::<dyn UserManager>(net::Link::Tcp, Arc::new(Users::default())).await;
    client.close();
    assert_eq!(users.get_user(1).await, Err(UserError::Pb(Error::Disconnected)));
}

#[tokio::test]
async fn a_call_in_flight_when_the_link_drops_fails_with_connection_lost() {
    let (users, server, _c) = net::proxy::<dyn UserManager>(net::Link::Tcp, Arc::new(Users::default())).await;
    let call = tokio::spawn({
        let users = users.clone();
        async move { users.slow(10_000, 1).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    server.close();
    let r = tokio::time::timeout(std::time::Duration::from_secs(5), call).await.expect("no hang").unwrap();
    assert_eq!(r, Err(UserError::Pb(Error::ConnectionLost)));
}

/// Oneway calls: sent, not awaited.
#[pb::remote_interface]
pub trait Notes {
    /// Records `text` once the gate opens.
    #[pb(oneway)]
    async fn note(&self, text: String) -> Result<(), Error>;
    /// Always fails (the caller never hears of it).
    #[pb(oneway)]
    async fn fail(&self) -> Result<(), Error>;
    /// What was recorded.
    async fn notes(&self) -> Result<Vec<String>, Error>;
}

struct NoteBook {
    notes: std::sync::Mutex<Vec<String>>,
    gate: tokio::sync::Semaphore,
}

#[pb::remote_impl]
impl Notes for NoteBook {
    async fn note(&self, text: String) -> Result<(), Error> {
        let _pass = self.gate.acquire().await.unwrap();
        self.notes.lock().unwrap().push(text);
        Ok(())
    }
    async fn fail(&self) -> Result<(), Error> {
        Err(Error::Busy)
    }
    async fn notes(&self) -> Result<Vec<String>, Error> {
        Ok(self.notes.lock().unwrap().clone())
    }
}

#[tokio::test]
async fn oneway_calls_return_before_the_method_runs_and_hide_its_failures() {
    for link in ALL {
        let book = Arc::new(NoteBook { notes: Default::default(), gate: tokio::sync::Semaphore::new(0) });
        let (notes, server, client) = net::proxy::<dyn Notes>(link, book.clone()).await;
        // The gate is shut: a call that waited for its reply would hang.
        let sent = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            notes.note("a".into()).await?;
            notes.note("b".into()).await
        });
        assert_eq!(sent.await.expect("oneway calls do not wait for the method"), Ok(()), "{link:?}");
        assert_eq!(client.stats().pending, 0, "no reply is awaited: {link:?}");
        pb_tests::eventually("both calls are running", || server.stats().in_flight == 2).await;
        assert!(book.notes.lock().unwrap().is_empty());
        book.gate.add_permits(2);
        pb_tests::eventually("both calls ran", || book.notes.lock().unwrap().len() == 2).await;
        // The method's error is not the caller's: only a failure to send is.
        assert_eq!(notes.fail().await, Ok(()));
        let mut recorded = notes.notes().await.unwrap();
        recorded.sort();
        assert_eq!(recorded, ["a", "b"], "{link:?}");
        client.close();
        assert_eq!(notes.note("c".into()).await, Err(Error::Disconnected));
    }
}

/// The id of `Notes` method `name`.
fn notes_method(name: &str) -> u32 {
    <dyn Notes as pb::Interface>::METHODS.iter().find(|m| m.name == name).unwrap().id
}

#[tokio::test]
async fn a_oneway_call_runs_and_nothing_comes_back_not_even_a_failure() {
    use pb::wire::Header;
    let book = Arc::new(NoteBook { notes: Default::default(), gate: tokio::sync::Semaphore::new(10) });
    let server = pb::Server::bind("127.0.0.1:0", pb::root::<dyn Notes>(book.clone())).await.unwrap();
    let (mut raw, _) = pb_tests::raw::RawPeer::connect_as(server.local_addr(), 2).await;
    let note = postcard::to_allocvec(&("sent".to_string(),)).unwrap();
    raw.send(&Header::Send { target: 0, method: notes_method("note") }, &note).await;
    // Failures are not sent back either: a failing method, an unknown
    // method, an unknown object, arguments that do not decode.
    raw.send(&Header::Send { target: 0, method: notes_method("fail") }, &[]).await;
    raw.send(&Header::Send { target: 0, method: 0xdead }, &[]).await;
    raw.send(&Header::Send { target: 99, method: notes_method("note") }, &note).await;
    raw.send(&Header::Send { target: 0, method: notes_method("note") }, &[0xff]).await;
    raw.send(&Header::Ping { nonce: 7 }, &[]).await;
    let (next, _) = raw.recv().await.expect("the connection goes on");
    assert_eq!(next, Header::Pong { nonce: 7 }, "nothing before the pong");
    pb_tests::eventually("the call ran", || book.notes.lock().unwrap().as_slice() == ["sent"]).await;
}

#[tokio::test]
async fn oneway_calls_go_as_sends_to_version_2_peers_and_as_calls_to_version_1_peers() {
    use futures_util::{SinkExt, StreamExt};
    use pb::wire::Header;
    use tokio_util::codec::{Framed, LengthDelimitedCodec};
    for version in [1u16, 2] {
        // A hand-driven server of that version, serving a `Notes` root.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serve = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut framed = Framed::new(stream, LengthDelimitedCodec::new());
            let _hello = framed.next().await.unwrap().unwrap();
            let root = Some(<dyn Notes as pb::Interface>::ID);
            let hello = Header::Hello { magic: 0x7062_0001, version, root };
            framed.send(pb_tests::raw::frame(&hello, &[])).await.unwrap();
            let frame = framed.next().await.unwrap().unwrap();
            postcard::take_from_bytes::<Header>(&frame).unwrap().0
        });
        let conn = pb::Connection::connect_tcp(addr).await.unwrap();
        let notes = conn.root::<dyn Notes>().unwrap();
        notes.note("x".into()).await.unwrap();
        let sent = serve.await.unwrap();
        let method = notes_method("note");
        match version {
            1 => assert!(matches!(sent, Header::Call { target: 0, method: m, .. } if m == method), "{sent:?}"),
            _ => assert_eq!(sent, Header::Send { target: 0, method }),
        }
    }
}
