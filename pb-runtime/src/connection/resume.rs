//! The server's table of resumable sessions: who holds which identity, and
//! how many sessions wait for their client to come back.
//!
//! A session's identity is a public number and a 256-bit secret from the
//! operating system's generator. A resume hello is looked up by the number
//! (a hash map lookup that reveals nothing about the secret), then the
//! secret is compared in constant time ([`subtle`]); a wrong, stale or
//! forged identity costs a lookup and a comparison, and gets a new session
//! like any client. The secret changes at every resume, so one seen once
//! (say, replayed from a capture) is worth nothing afterwards: the server
//! sends the next secret in its hello and, until the client's first frame
//! on the resumed link shows it has it, accepts either (a client whose
//! resume was cut before the server's hello arrived tries again with the
//! secret it has). Secrets are never logged.
//!
//! On a TLS transport the session is also bound to the TLS peer (its
//! certificate, or "anonymous"): a resume must come over TLS from the same
//! peer identity.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use subtle::ConstantTimeEq;

use super::core::{ConnCore, SessionTable};
use crate::Error;
use crate::config::Config;
use crate::wire::resume::{Secret, ServerHello};

/// A server's resumable sessions.
pub(crate) struct Sessions {
    entries: Mutex<HashMap<u64, Entry>>,
    /// Sessions whose link is down, waiting for their client.
    detached: AtomicUsize,
    /// How long a session waits for its client.
    pub(crate) grace: Duration,
    max_detached: usize,
    /// Bytes of frames a session keeps for its resume.
    pub(crate) max_bytes: usize,
}

struct Entry {
    secret: Secret,
    /// The next secret, sent in a resume's hello and not yet confirmed.
    pending: Option<Secret>,
    core: Weak<ConnCore>,
    binding: Option<Vec<u8>>,
}

/// Fresh random bytes from the operating system.
fn random_secret() -> Result<Secret, Error> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| Error::Io(format!("no randomness for a session identity: {e}")))?;
    Ok(secret)
}

impl Sessions {
    /// The table of a server with `config`; `None` when sessions are off
    /// ([`Config::resume_grace`] zero).
    pub(crate) fn new(config: &Config) -> Option<Arc<Sessions>> {
        (!config.resume_grace.is_zero()).then(|| {
            Arc::new(Sessions {
                entries: Mutex::new(HashMap::new()),
                detached: AtomicUsize::new(0),
                grace: config.resume_grace,
                max_detached: config.max_detached_sessions,
                max_bytes: config.max_resume_bytes,
            })
        })
    }

    /// A new identity for `core`.
    pub(crate) fn grant(&self, core: &Arc<ConnCore>, binding: Option<Vec<u8>>) -> Result<ServerHello, Error> {
        let secret = random_secret()?;
        let mut entries = self.entries.lock().unwrap();
        let id = loop {
            let id = getrandom::u64().map_err(|e| Error::Io(format!("no randomness: {e}")))?;
            if id != 0 && !entries.contains_key(&id) {
                break id;
            }
        };
        entries.insert(id, Entry { secret, pending: None, core: Arc::downgrade(core), binding });
        drop(entries);
        core.set_session_id(id);
        Ok(self.hello(id, secret, None))
    }

    fn hello(&self, id: u64, secret: Secret, resumed: Option<u64>) -> ServerHello {
        ServerHello { resumed, id, secret, grace_ms: self.grace.as_millis().min(u64::MAX as u128) as u64 }
    }

    /// The session `id` if `secret` proves it and the transport matches its
    /// binding; a fresh secret for it (returned) becomes valid beside the
    /// current one until [`confirm`](Self::confirm).
    pub(crate) fn claim(
        &self,
        id: u64,
        secret: &Secret,
        binding: Option<&[u8]>,
    ) -> Option<(Arc<ConnCore>, u64, Secret)> {
        let mut entries = self.entries.lock().unwrap();
        let entry = entries.get_mut(&id)?;
        // Both compared, in constant time, whichever matches.
        let current = entry.secret.ct_eq(secret);
        let pending = entry.pending.unwrap_or([0; 32]).ct_eq(secret) & (entry.pending.is_some() as u8).into();
        if !bool::from(current | pending) || entry.binding.as_deref() != binding {
            return None;
        }
        let core = entry.core.upgrade().filter(|c| !c.is_closed())?;
        // Only a proven claim costs a fresh secret.
        let fresh = random_secret().ok()?;
        if bool::from(pending) {
            entry.secret = *secret;
        }
        entry.pending = Some(fresh);
        Some((core, id, fresh))
    }

    /// The client's first frame on a resumed link arrived: it has the
    /// secret the resume sent, which alone is valid from now on.
    pub(crate) fn confirm(&self, id: u64) {
        if let Some(entry) = self.entries.lock().unwrap().get_mut(&id)
            && let Some(next) = entry.pending.take()
        {
            entry.secret = next;
        }
    }

    /// The hello of a resumed session.
    pub(crate) fn resumed_hello(&self, id: u64, secret: Secret, received: u64) -> ServerHello {
        self.hello(id, secret, Some(received))
    }

    /// A session closed for good.
    pub(crate) fn remove(&self, id: u64) {
        let entry = self.entries.lock().unwrap().remove(&id);
        drop(entry);
    }

    /// Count one more session waiting for its client; false (and nothing
    /// counted) when as many as allowed already wait.
    pub(crate) fn hold(&self) -> bool {
        self.detached
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.max_detached).then_some(n + 1))
            .is_ok()
    }

    /// A waiting session resumed or closed.
    pub(crate) fn unhold(&self) {
        self.detached.fetch_sub(1, Ordering::AcqRel);
    }

    /// Sessions waiting for their client.
    pub(crate) fn detached(&self) -> usize {
        self.detached.load(Ordering::Acquire)
    }
}

impl SessionTable for Sessions {
    fn grace(&self) -> Duration {
        self.grace
    }
    fn max_bytes(&self) -> usize {
        self.max_bytes
    }
    fn hold(&self) -> bool {
        Sessions::hold(self)
    }
    fn unhold(&self) {
        Sessions::unhold(self)
    }
    fn remove(&self, id: u64) {
        Sessions::remove(self, id)
    }
    fn confirm(&self, id: u64) {
        Sessions::confirm(self, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::core::SessionRole;

    fn table() -> Arc<Sessions> {
        Sessions::new(&Config::default()).expect("sessions are on by default")
    }

    fn core(table: &Arc<Sessions>) -> Arc<ConnCore> {
        let role = SessionRole::Server(Arc::downgrade(table) as std::sync::Weak<dyn SessionTable>);
        ConnCore::new("test".into(), Config::default(), None, Box::new(tokio::io::sink()), role)
    }

    #[test]
    fn a_forged_secret_or_id_gets_nothing() {
        let t = table();
        let c = core(&t);
        let hello = t.grant(&c, None).unwrap();
        let mut forged = hello.secret;
        forged[31] ^= 1;
        assert!(t.claim(hello.id, &forged, None).is_none());
        assert!(t.claim(hello.id ^ 1, &hello.secret, None).is_none());
        assert!(t.claim(hello.id, &[0; 32], None).is_none(), "no pending secret: zeros do not match");
        assert!(t.claim(hello.id, &hello.secret, None).is_some(), "the real one still works");
    }

    #[test]
    fn a_session_bound_to_a_tls_peer_resumes_only_from_it() {
        let t = table();
        let c = core(&t);
        let hello = t.grant(&c, Some(b"tls:alice".to_vec())).unwrap();
        assert!(t.claim(hello.id, &hello.secret, None).is_none(), "not over plain TCP");
        assert!(t.claim(hello.id, &hello.secret, Some(b"tls:mallory")).is_none(), "not from another peer");
        assert!(t.claim(hello.id, &hello.secret, Some(b"tls:alice")).is_some());
    }

    #[test]
    fn the_secret_rotates_at_each_resume_and_the_old_one_dies_once_the_new_one_is_confirmed() {
        let t = table();
        let c = core(&t);
        let hello = t.grant(&c, None).unwrap();
        let (_, _, next) = t.claim(hello.id, &hello.secret, None).unwrap();
        assert_ne!(next, hello.secret);
        // The client never got `next` (its resume was cut): the old one
        // still works, and yields another.
        let (_, _, again) = t.claim(hello.id, &hello.secret, None).unwrap();
        assert!(t.claim(hello.id, &next, None).is_none(), "superseded before it was confirmed");
        // Confirmed: only the newest works from now on (a replayed hello fails).
        t.confirm(hello.id);
        assert!(t.claim(hello.id, &hello.secret, None).is_none());
        let (_, _, last) = t.claim(hello.id, &again, None).unwrap();
        // Presenting the pending one confirms it too.
        assert!(t.claim(hello.id, &last, None).is_some());
        assert!(t.claim(hello.id, &again, None).is_none());
    }

    #[test]
    fn a_closed_session_is_forgotten() {
        let t = table();
        let c = core(&t);
        let hello = t.grant(&c, None).unwrap();
        c.close("test");
        assert!(t.claim(hello.id, &hello.secret, None).is_none());
        assert!(t.entries.lock().unwrap().is_empty());
    }

    #[test]
    fn no_more_sessions_wait_than_allowed() {
        let t = Sessions::new(&Config::default().max_detached_sessions(2)).unwrap();
        assert!(t.hold() && t.hold());
        assert!(!t.hold());
        t.unhold();
        assert!(t.hold());
        assert_eq!(t.detached(), 2);
    }
}
