//! The state of a session and its task: watch the link, reconnect, heal.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock, Weak};

use tokio::sync::{Notify, broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::config::{SessionConfig, SessionEvent};
use super::track::{self, TrackedList};
use crate::connection::{Intent, Opened};
use crate::references::heal::wait_for_heal;
use crate::references::heal::{Heal, HealSlot, Healer};
use crate::transport::Connect;
use crate::{Connection, Error};

/// How an attempt to resume ended.
enum Resume {
    /// The session resumed.
    Done(std::time::Duration),
    /// The session closed for good (`Client::close`).
    Cancelled,
    /// It cannot resume: a new connection (the server did not know the
    /// session), or none yet.
    Fallback { new: Option<Connection>, why: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Status {
    pub(super) connected: bool,
    /// The link is down and the session is resuming (no `Disconnected`
    /// was reported).
    pub(super) resuming: bool,
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
        let healed = move |s: &Status| s.connected && s.generation > generation;
        Box::pin(wait_for_heal(self.status.subscribe(), healed, self.config.retry_wait, &self.cancel))
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
        match connect_once(&self.config, &*self.connector, self.fresh_intent()).await? {
            Opened::Fresh(c) | Opened::Resumed(c) => Ok(c),
        }
    }

    fn fresh_intent(&self) -> Intent {
        if self.config.resume { Intent::Open } else { Intent::Plain }
    }

    /// Resume `conn`'s session, retrying with backoff within the server's
    /// grace period.
    async fn resume(&self, conn: &Connection, backoff: &mut Backoff) -> Resume {
        let core = &conn.core;
        let Some(ticket) = core.ticket() else {
            return Resume::Fallback { new: None, why: "not a session".into() };
        };
        let deadline = tokio::time::Instant::now() + ticket.grace.saturating_sub(core.down_for().unwrap_or_default());
        // The reader must have stopped: the hello says what it received.
        core.reader_stopped().await;
        backoff.reset();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Resume::Fallback { new: None, why: "the grace period passed".into() };
            }
            let config =
                SessionConfig { connect_timeout: self.config.connect_timeout.min(left), ..self.config.clone() };
            let result = tokio::select! {
                biased;
                () = self.cancel.cancelled() => return Resume::Cancelled,
                r = connect_once(&config, &*self.connector, Intent::Resume(core.clone())) => r,
            };
            match result {
                Ok(Opened::Resumed(_)) => return Resume::Done(core.last_outage()),
                Ok(Opened::Fresh(new)) => {
                    let why = "the server does not hold the session (restarted, or its grace period passed)";
                    return Resume::Fallback { new: Some(new), why: why.into() };
                }
                Err(e) if conn.is_closed() => return Resume::Fallback { new: None, why: e.to_string() },
                Err(e) => {
                    let delay =
                        backoff.next_delay().min(deadline.saturating_duration_since(tokio::time::Instant::now()));
                    tracing::info!(peer = %self.peer(), attempt, error = %e, ?delay, "resume failed; backing off");
                    tokio::select! {
                        biased;
                        () = self.cancel.cancelled() => return Resume::Cancelled,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
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
                () = conn.core.link_down() => {
                    return Some(conn.core.down_reason().unwrap_or_else(|| "link lost".into()));
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

    /// The session's task: watch, and on an outage resume, or reconnect
    /// and heal.
    pub(super) async fn run(self: Arc<Self>) {
        let mut backoff = Backoff::new(self.config.backoff.clone());
        loop {
            let conn = self.conn.read().unwrap().clone();
            let reason = self.watch(&conn).await;
            let Some(mut reason) = reason.filter(|_| !self.cancel.is_cancelled()) else {
                conn.close();
                return; // closed for good: no outage, no reconnect
            };
            let peer = self.peer();
            let mut fresh = None;
            if conn.core.is_resumable() && !conn.is_closed() {
                // A session: the link goes down, calls in flight wait.
                conn.core.link_lost(None, &reason);
                tracing::info!(%peer, %reason, "link lost; resuming");
                self.status.send_modify(|s| {
                    s.connected = false;
                    s.resuming = true;
                });
                let resumed = self.resume(&conn, &mut backoff).await;
                self.status.send_modify(|s| s.resuming = false);
                match resumed {
                    Resume::Done(outage) => {
                        tracing::info!(%peer, ?outage, "session resumed");
                        self.status.send_modify(|s| {
                            s.connected = true;
                            s.generation += 1;
                        });
                        self.emit(SessionEvent::Resumed { peer, outage });
                        continue;
                    }
                    Resume::Cancelled => {
                        conn.close();
                        return;
                    }
                    Resume::Fallback { new, why } => {
                        reason = format!("{reason}; the session could not resume: {why}");
                        fresh = new;
                    }
                }
            }
            conn.close_with(reason.clone());
            tracing::warn!(%peer, %reason, "disconnected");
            self.status.send_modify(|s| s.connected = false);
            self.emit(SessionEvent::Disconnected { peer: peer.clone(), reason });

            let (new, attempt) = match fresh {
                Some(new) => (new, 0),
                None => match self.reconnect(&mut backoff).await {
                    Some(found) => found,
                    None => return,
                },
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
            self.configure(&new);
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

    /// Connect again with backoff; `None` if the session closed meanwhile.
    async fn reconnect(&self, backoff: &mut Backoff) -> Option<(Connection, u32)> {
        let peer = self.peer();
        backoff.reset();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = tokio::select! {
                biased;
                () = self.cancel.cancelled() => return None,
                r = self.try_connect() => r,
            };
            match result {
                Ok(new) => return Some((new, attempt)),
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::info!(%peer, attempt, error = %e, ?delay, "reconnect failed; backing off");
                    tokio::select! {
                        biased;
                        () = self.cancel.cancelled() => return None,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// Apply the session's settings to a connection it made.
    pub(super) fn configure(&self, conn: &Connection) {
        conn.core.wait_when_down.store(self.config.wait_for_resume, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One attempt: transport and handshake, within the connect timeout.
pub(super) async fn connect_once(
    config: &SessionConfig,
    connector: &dyn Connect,
    intent: Intent,
) -> Result<Opened, Error> {
    let attempt = async {
        let transport = connector.connect().await?;
        Connection::builder().config(config.connection.clone()).connect(transport, intent).await
    };
    match tokio::time::timeout(config.connect_timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(Error::Io(format!("connect timed out after {:?}", config.connect_timeout))),
    }
}
