//! Reconnecting sessions: healing in place after a server restart, failure
//! semantics, idempotent retries, events.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use pb::{Error, SessionEvent};
use pb_tests::aurora::{UserError, UserManager, Users};
use pb_tests::session::{Restartable, kind, next_event};

/// The tests take turns: one opens and closes 10,000 sessions, churning
/// ephemeral ports, while others restart a server on a fixed port.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn proxies_heal_in_place_after_the_server_process_restarts() {
    let _turn = SERIAL.lock().await;
    let first = Arc::new(Users::default());
    let mut s = Restartable::start(&first).await;
    let mut events = s.client.events();
    assert_eq!(kind(&next_event(&mut events).await), "connected");

    // Obtained from the root, through the registry, and through a replay method.
    let registry = s.client.registry().unwrap();
    let users = registry.get::<dyn UserManager>().await.unwrap();
    let presence = users.presence().await.unwrap();
    presence.set_online(1, true).await.unwrap();
    assert_eq!(s.client.tracked(), 3);

    // The server dies: new process, new objects, new ids.
    s.kill();
    match next_event(&mut events).await {
        SessionEvent::Disconnected { reason, .. } => assert!(!reason.is_empty()),
        other => panic!("expected disconnected, got {other:?}"),
    }
    assert_eq!(users.get_user(1).await, Err(UserError::Pb(Error::Disconnected)), "fails fast during the outage");

    let second = Arc::new(Users::default());
    s.restart(&second).await;
    match next_event(&mut events).await {
        SessionEvent::Reconnected { healed, failed, .. } => assert_eq!((healed, failed), (3, 0)),
        other => panic!("expected reconnected, got {other:?}"),
    }
    // The same Arcs work again, against the new process's objects.
    assert_eq!(users.get_user(2).await.unwrap().name, "bob");
    assert!(!presence.is_online(1).await.unwrap(), "the new server's presence object: fresh state");
    presence.set_online(3, true).await.unwrap();
    assert!(second.presence.is_online(3).await.unwrap());
    assert!(!first.presence.is_online(3).await.unwrap());
    assert!(registry.get::<dyn UserManager>().await.is_ok());
}

#[tokio::test]
async fn in_flight_calls_fail_with_connection_lost_and_are_not_retried() {
    let _turn = SERIAL.lock().await;
    let first = Arc::new(Users::default());
    let mut s = Restartable::start(&first).await;
    let users = s.user_manager().await;

    let call = tokio::spawn({
        let users = users.clone();
        async move { users.slow(5_000, 1).await }
    });
    pb_tests::eventually("the call started", || first.started.load(Ordering::SeqCst) == 1).await;
    s.kill();
    assert_eq!(call.await.unwrap(), Err(UserError::Pb(Error::ConnectionLost)));

    s.restart(&Arc::new(Users::default())).await;
    pb_tests::eventually("healed", || s.client.is_connected()).await;
    assert_eq!(users.started().await.unwrap(), 0, "not retried on the new server");
}

#[tokio::test]
async fn idempotent_calls_are_retried_once_after_healing() {
    let _turn = SERIAL.lock().await;
    let first = Arc::new(Users::default());
    let mut s = Restartable::start(&first).await;
    let users = s.user_manager().await;

    let call = tokio::spawn({
        let users = users.clone();
        async move { users.slow_idempotent(300, 9).await }
    });
    pb_tests::eventually("the call started", || first.started.load(Ordering::SeqCst) == 1).await;
    s.kill();
    let second = Arc::new(Users::default());
    s.restart(&second).await;
    // One Ok, from the retry on the healed link.
    assert_eq!(call.await.unwrap(), Ok(9));
    assert_eq!(second.started.load(Ordering::SeqCst), 1, "retried exactly once");
    assert_eq!(second.completed.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn no_leaks_after_healing() {
    let _turn = SERIAL.lock().await;
    let first = Arc::new(Users::default());
    let mut s = Restartable::start(&first).await;
    let users = s.user_manager().await;
    let presence = users.presence().await.unwrap();
    let first_presence_start = 1 + 1; // held by `first`, plus the export on the client's connection
    assert_eq!(Arc::strong_count(&first.presence), first_presence_start);

    s.kill();
    pb_tests::eventually("the dead server released its exports", || Arc::strong_count(&first.presence) == 1).await;
    pb_tests::eventually("the session saw the outage", || !s.client.is_connected()).await;
    let second = Arc::new(Users::default());
    let base = Arc::strong_count(&second.presence);
    s.restart(&second).await;
    pb_tests::eventually("healed", || s.client.is_connected()).await;
    assert!(presence.is_online(1).await.is_ok());
    assert_eq!(Arc::strong_count(&second.presence), base + 1, "exactly one export for the healed proxy");
    let conns = s.server.as_ref().unwrap().connections();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].stats().exports, 3, "root registry, UserManager, Presence");
    assert_eq!(s.client.connection().stats().imports, 2, "UserManager and Presence");
    assert_eq!(s.client.tracked(), 3);

    drop((users, presence));
    pb_tests::eventually("released on drop", || Arc::strong_count(&second.presence) == base).await;
    pb_tests::eventually("server exports back to the root", || conns[0].stats().exports == 1).await;
    assert_eq!(s.client.tracked(), 0, "no stale tracked proxies");
}

/// Ten thousand sessions opened and closed: none reconnects or reports a
/// disconnection after `close()`, and the server is left with no
/// connection (an attempt abandoned mid-handshake closes its connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_sessions_stay_closed_and_leave_no_connection() {
    let _turn = SERIAL.lock().await;
    use futures_util::StreamExt;

    const CYCLES: usize = 10_000;
    const PARALLEL: usize = 16;
    let server = pb::Server::bind("127.0.0.1:0", Arc::new(Users::default()) as Arc<dyn UserManager>).await.unwrap();
    let addr = server.local_addr().to_string();
    let cycles = (0..PARALLEL).map(|_| {
        let addr = addr.clone();
        tokio::spawn(async move {
            let mut after_close = Vec::new();
            for _ in 0..CYCLES / PARALLEL {
                let client = pb::Client::connect(addr.clone()).await.unwrap();
                let mut events = client.events();
                assert_eq!(kind(&next_event(&mut events).await), "connected");
                client.close();
                assert!(!client.is_connected(), "a closed session is not connected");
                drop(client);
                // The stream ends once the session's task is gone.
                let rest: Vec<SessionEvent> =
                    tokio::time::timeout(std::time::Duration::from_secs(10), events.collect())
                        .await
                        .expect("the session ends after close()");
                after_close.extend(rest);
            }
            after_close
        })
    });
    let mut after_close = Vec::new();
    for c in futures_util::future::join_all(cycles).await {
        after_close.extend(c.unwrap());
    }
    assert!(after_close.is_empty(), "{} events after close(), e.g. {:?}", after_close.len(), after_close.first());
    for _ in 0..500 {
        if server.connections().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(server.connections().len(), 0, "connections left open on the server");
}
