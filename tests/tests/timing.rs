//! Time-dependent session behavior on tokio's paused clock (exact and fast):
//! outage detection by ping, and the reconnect backoff schedule.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pb::backoff::BackoffConfig;
use pb::{Client, ConnectFn, Connection, SessionConfig, SessionEvent};
use pb_tests::aurora::{UserManager, Users};
use pb_tests::fault::MemorySwitch;
use pb_tests::session::{kind, next_event};
use tokio::time::Instant;

/// Serve `users` on the server side of each new link through `switch`.
fn connector(switch: MemorySwitch, users: Arc<Users>) -> impl pb::Connect {
    ConnectFn::new("memory", move || {
        let (client, server) = switch.link();
        let users = users.clone();
        async move {
            tokio::spawn(async move {
                if let Ok(conn) = Connection::builder().root::<dyn UserManager>(users).establish(server).await {
                    conn.closed().await;
                }
            });
            Ok(client)
        }
    })
}

#[tokio::test(start_paused = true)]
async fn a_black_hole_is_detected_within_ping_interval_plus_timeout() {
    let interval = Duration::from_secs(5);
    let timeout = Duration::from_secs(3);
    let config = SessionConfig::default().ping_interval(interval).ping_timeout(timeout);
    let switch = MemorySwitch::default();
    let users = Arc::new(Users::default());
    let client = Client::builder().config(config).connect_with(connector(switch.clone(), users)).await.unwrap();
    let mut events = client.events();
    assert_eq!(kind(&next_event(&mut events).await), "connected");
    let proxy = client.root::<dyn UserManager>().unwrap();
    assert_eq!(proxy.get_user(1).await.unwrap().name, "alice");

    // Several pings go by on a healthy link without an event.
    tokio::time::sleep(interval * 3 + Duration::from_millis(1700)).await;
    assert!(client.is_connected());

    let held_at = Instant::now();
    switch.hold();
    let e = next_event(&mut events).await;
    let took = held_at.elapsed();
    match &e {
        SessionEvent::Disconnected { reason, .. } => assert!(reason.contains("no pong"), "{reason}"),
        other => panic!("expected disconnected, got {other:?}"),
    }
    assert!(took >= timeout, "not before the ping timeout: {took:?}");
    assert!(took <= interval + timeout, "within interval + timeout: {took:?}");
}

#[tokio::test(start_paused = true)]
async fn reconnect_attempts_follow_the_backoff_schedule_with_jitter_and_cap() {
    let backoff = BackoffConfig::default(); // gRPC: 1 s, x1.6, ±20%, 120 s cap
    let config = SessionConfig::default().backoff(backoff.clone());
    let users = Arc::new(Users::default());
    let attempts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let (failing, server_side) = (Arc::new(Mutex::new(false)), Arc::new(Mutex::new(None::<Connection>)));
    let connect = {
        let (attempts, failing, server_side) = (attempts.clone(), failing.clone(), server_side.clone());
        ConnectFn::new("memory", move || {
            let (attempts, failing, server_side, users) =
                (attempts.clone(), failing.clone(), server_side.clone(), users.clone());
            async move {
                attempts.lock().unwrap().push(Instant::now());
                if *failing.lock().unwrap() {
                    return Err(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "down"));
                }
                let (client, server) = pb::Transport::memory_pair();
                tokio::spawn(async move {
                    let conn = Connection::builder().root::<dyn UserManager>(users).establish(server).await.unwrap();
                    *server_side.lock().unwrap() = Some(conn);
                });
                Ok(client)
            }
        })
    };
    let client = Client::builder().config(config).connect_with(connect).await.unwrap();
    let mut events = client.events();
    assert_eq!(kind(&next_event(&mut events).await), "connected");
    pb_tests::eventually("server side up", || server_side.lock().unwrap().is_some()).await;

    // The server goes away and refuses 16 attempts.
    *failing.lock().unwrap() = true;
    attempts.lock().unwrap().clear();
    let down_at = Instant::now();
    server_side.lock().unwrap().take().unwrap().close();
    assert_eq!(kind(&next_event(&mut events).await), "disconnected");
    let failures = 16;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if attempts.lock().unwrap().len() >= failures {
            break;
        }
    }
    *failing.lock().unwrap() = false;
    // The next attempt comes after at most 144 s (paused clock: instant).
    let e = tokio::time::timeout(Duration::from_secs(150), futures_util::StreamExt::next(&mut events))
        .await
        .expect("reconnected after the next delay")
        .unwrap();
    assert_eq!(kind(&e), "reconnected", "{e:?}");

    let at = attempts.lock().unwrap().clone();
    assert!(at[0] - down_at < Duration::from_millis(1), "the first attempt is immediate");
    let mut nominal = backoff.initial.as_secs_f64();
    let (mut capped, mut jittered) = (0, 0);
    for pair in at.windows(2).take(failures - 1) {
        let delay = (pair[1] - pair[0]).as_secs_f64();
        let (lo, hi) = (nominal * (1.0 - backoff.jitter), nominal * (1.0 + backoff.jitter));
        // The paused clock only advances to timer deadlines (ms resolution).
        assert!(delay >= lo - 0.002 && delay <= hi + 0.002, "delay {delay:.3} s outside [{lo:.3}, {hi:.3}]");
        if nominal >= backoff.max.as_secs_f64() {
            capped += 1;
        }
        if (delay - nominal).abs() > 0.005 {
            jittered += 1;
        }
        nominal = (nominal * backoff.multiplier).min(backoff.max.as_secs_f64());
    }
    assert!(capped >= 3, "the schedule reached the cap ({capped} capped delays)");
    assert!(jittered >= failures / 2, "delays are jittered, not exact ({jittered} of {})", failures - 1);
}
