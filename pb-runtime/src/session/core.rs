//! The state of a session and its task: watch the link, reconnect, heal.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock, Weak};

use tokio::sync::{Notify, broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::config::{SessionConfig, SessionEvent};
use super::track::{self, TrackedList};
use crate::references::heal::{Heal, HealSlot, Healer};
use crate::transport::Connect;
use crate::{Connection, Error};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Status {
    pub(super) connected: bool,
    /// Increments after each heal.
    pub(super) generation: u64,
}

/// State shared by a session's task, its handle and its proxies.
pub(crate) struct SessionCore {
    pub(super) config: SessionConfig,
    pub(super) connector: Arc<dyn Connect>,
    pub(super) conn: RwLock<Connection>,
    pub(super) tracked: Mutex<TrackedList>,
    pub(super) events: broadcast::Sender<SessionEvent>,
    pub(super) status: watch::Sender<Status>,
    pub(super) kick: Notify,
    pub(super) cancel: CancellationToken,
    pub(super) me: Weak<SessionCore>,
}

impl Healer for SessionCore {
    fn link_failed(&self) {
        self.kick.notify_one();
    }

    fn generation(&self) -> u64 {
        self.status.borrow().generation
    }

    fn wait_healed(&self, generation: u64) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            let mut rx = self.status.subscribe();
            let healed = rx.wait_for(|s| s.connected && s.generation > generation);
            tokio::select! {
                r = tokio::time::timeout(self.config.retry_wait, healed) => matches!(r, Ok(Ok(_))),
                () = self.cancel.cancelled() => false,
            }
        })
    }

    fn track(&self, attach: &mut dyn FnMut(HealSlot) -> bool, path: String, target: Box<dyn Heal>) {
        let me: Weak<dyn Healer> = self.me.clone();
        self.tracked.lock().unwrap().add(me, attach, path, target);
    }

    fn forget(&self, seq: u64) {
        let removed = self.tracked.lock().unwrap().remove(seq);
        drop(removed); // outside the lock: may drop a parent, which forgets itself
    }
}

impl SessionCore {
    /// Replay the paths of live proxies on `conn` (every one, or only those
    /// whose last replay failed).
    async fn heal(&self, conn: &Connection, only_stale: bool) -> track::HealReport {
        track::heal(&self.tracked, conn, only_stale, &self.peer(), self.config.connect_timeout).await
    }

    pub(super) fn peer(&self) -> String {
        self.connector.describe()
    }

    pub(super) fn emit(&self, event: SessionEvent) {
        let _ = self.events.send(event);
    }

    async fn try_connect(&self) -> Result<Connection, Error> {
        connect_once(&self.config, &*self.connector).await
    }

    /// Watch `conn` until it fails; returns why, or `None` if the session closed.
    async fn watch(&self, conn: &Connection) -> Option<String> {
        let mut ticks = tokio::time::interval(self.config.ping_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                // Closing wins: `Client::close` cancels, then closes the
                // connection, and must not read as an outage.
                biased;
                () = self.cancel.cancelled() => return None,
                () = conn.closed() => {
                    return Some(conn.close_reason().unwrap_or_else(|| "connection closed".into()));
                }
                () = self.kick.notified() => {}
                _ = ticks.tick() => {}
            }
            if conn.is_closed() {
                continue;
            }
            match tokio::time::timeout(self.config.ping_timeout, conn.ping()).await {
                Ok(Ok(rtt)) => tracing::trace!(peer = %self.peer(), ?rtt, "pong"),
                Ok(Err(e)) => return Some(format!("ping failed: {e}")),
                Err(_) => return Some(format!("no pong within {:?}", self.config.ping_timeout)),
            }
            if self.tracked.lock().unwrap().has_stale() {
                // Some replay failed (say, a relay whose own upstream was
                // still down): try those paths again on the live link.
                let report = self.heal(conn, true).await;
                let (healed, failed) = (report.healed, report.failed);
                if healed > 0 {
                    let peer = self.peer();
                    tracing::info!(%peer, healed, failed, "healed proxies whose replay had failed");
                    self.emit(SessionEvent::Healed { peer, healed, failed });
                }
                self.emit_refused(report.refused);
            }
        }
    }

    fn emit_refused(&self, refused: Vec<(String, Error)>) {
        for (path, error) in refused {
            self.emit(SessionEvent::Refused { peer: self.peer(), path, error });
        }
    }

    /// The session's task: watch, and on an outage reconnect and heal.
    pub(super) async fn run(self: Arc<Self>) {
        let mut backoff = Backoff::new(self.config.backoff.clone());
        loop {
            let conn = self.conn.read().unwrap().clone();
            let reason = self.watch(&conn).await;
            conn.close();
            let Some(reason) = reason.filter(|_| !self.cancel.is_cancelled()) else {
                return; // closed for good: no outage, no reconnect
            };
            let peer = self.peer();
            tracing::warn!(%peer, %reason, "disconnected");
            self.status.send_modify(|s| s.connected = false);
            self.emit(SessionEvent::Disconnected { peer: peer.clone(), reason });

            backoff.reset();
            let mut attempt = 0u32;
            let new = loop {
                attempt += 1;
                let result = tokio::select! {
                    biased;
                    () = self.cancel.cancelled() => return,
                    r = self.try_connect() => r,
                };
                match result {
                    Ok(new) => break new,
                    Err(e) => {
                        let delay = backoff.next_delay();
                        tracing::info!(%peer, attempt, error = %e, ?delay, "reconnect failed; backing off");
                        tokio::select! {
                            biased;
                            () = self.cancel.cancelled() => return,
                            () = tokio::time::sleep(delay) => {}
                        }
                    }
                }
            };
            {
                // Checked under the lock `Client::close` reads the
                // connection with: a close either sees the new connection,
                // or has cancelled before it is installed.
                let mut current = self.conn.write().unwrap();
                if self.cancel.is_cancelled() {
                    new.close();
                    return;
                }
                let old = std::mem::replace(&mut *current, new.clone());
                drop(current);
                drop(old);
            }
            tracing::info!(%peer, attempt, "connected again; replaying proxies");
            let report = self.heal(&new, false).await;
            let (healed, failed) = (report.healed, report.failed);
            tracing::info!(%peer, healed, failed, refused = report.refused.len(), "reconnected");
            self.status.send_modify(|s| {
                s.connected = true;
                s.generation += 1;
            });
            self.emit(SessionEvent::Reconnected { peer, healed, failed });
            self.emit_refused(report.refused);
        }
    }
}

/// One attempt: transport and handshake, within the connect timeout.
pub(super) async fn connect_once(config: &SessionConfig, connector: &dyn Connect) -> Result<Connection, Error> {
    let attempt = async {
        let transport = connector.connect().await?;
        Connection::builder().config(config.connection.clone()).establish(transport).await
    };
    match tokio::time::timeout(config.connect_timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(Error::Io(format!("connect timed out after {:?}", config.connect_timeout))),
    }
}
