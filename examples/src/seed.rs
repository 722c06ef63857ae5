//! Seed objects, as the thread describes them: copyable data that carries
//! references obtained from different servers.
//!
//! A [`Contact`] combines a user's data (a copy, from a directory server),
//! their online state (a reference into a presence server) and a way to
//! message them (a reference into their workstation). Each reference was
//! obtained through the session to its own server (a registry lookup, then a
//! `#[pb(replay)]` method), so each heals through that session after an
//! outage, and losing one server leaves the other references working.
//!
//! A `Contact` is copyable: passed on to another process, its references
//! arrive as proxies that go through this process (and heal with it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pb::{Client, Ref};
use serde::{Deserialize, Serialize};

use crate::aurora::{User, UserError, UserManager};

/// Someone's online state, kept by the presence server.
#[pb::remote_interface(name = "seed.Presence")]
pub trait Presence {
    /// Whether the user is online.
    async fn is_online(&self) -> Result<bool, UserError>;
    /// Set the user's state.
    async fn set_online(&self, online: bool) -> Result<(), UserError>;
}

/// The presence server's manager.
#[pb::remote_interface(name = "seed.PresenceService")]
pub trait PresenceService {
    /// The presence object of `user` (the same object on every call).
    #[pb(replay)]
    async fn presence_of(&self, user: u64) -> Result<Arc<dyn Presence>, UserError>;
}

/// A user's inbox on their workstation.
#[pb::remote_interface(name = "seed.Inbox")]
pub trait Inbox {
    /// Deliver a message; returns how many the inbox holds.
    async fn send_message(&self, text: String) -> Result<usize, UserError>;
    /// The messages delivered so far.
    async fn messages(&self) -> Result<Vec<String>, UserError>;
}

/// A workstation's manager.
#[pb::remote_interface(name = "seed.Workstation")]
pub trait Workstation {
    /// The inbox of `user` on this workstation.
    #[pb(replay)]
    async fn inbox(&self, user: u64) -> Result<Arc<dyn Inbox>, UserError>;
}

/// A seed object: data, state and control of one user, from three servers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Contact {
    /// The user's record (a copy, from the directory).
    pub user: User,
    /// Online state (a reference into the presence server).
    pub presence: Ref<dyn Presence>,
    /// Where to send messages (a reference into the workstation).
    pub inbox: Ref<dyn Inbox>,
}

/// The three sessions a process holds to build contacts.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Session to the directory (users' data).
    pub directory: Client,
    /// Session to the presence server.
    pub presence: Client,
    /// Session to the workstation.
    pub workstation: Client,
}

impl Sources {
    /// Gather the contact of user `id`: one lookup through each session's
    /// registry, so every piece heals through its own session.
    ///
    /// # Errors
    ///
    /// Any server's failure, or an unknown user.
    pub async fn contact(&self, id: u64) -> Result<Contact, UserError> {
        let users = self.directory.registry()?.get::<dyn UserManager>().await?;
        let presence = self.presence.registry()?.get::<dyn PresenceService>().await?;
        let workstation = self.workstation.registry()?.get::<dyn Workstation>().await?;
        Ok(Contact {
            user: users.get_user(id).await?,
            presence: Ref::new(presence.presence_of(id).await?),
            inbox: Ref::new(workstation.inbox(id).await?),
        })
    }
}

impl Contact {
    /// Whether the contact is online (asks the presence server).
    ///
    /// # Errors
    ///
    /// The presence server is unreachable.
    pub async fn is_online(&self) -> Result<bool, UserError> {
        self.presence.is_online().await
    }

    /// Message the contact (on their workstation).
    ///
    /// # Errors
    ///
    /// The workstation is unreachable.
    pub async fn send_message(&self, text: &str) -> Result<usize, UserError> {
        self.inbox.send_message(text.to_string()).await
    }
}

/// One user's presence.
#[derive(Default)]
pub struct UserPresence(Mutex<bool>);

#[pb::remote_impl]
impl Presence for UserPresence {
    async fn is_online(&self) -> Result<bool, UserError> {
        Ok(*self.0.lock().unwrap())
    }
    async fn set_online(&self, online: bool) -> Result<(), UserError> {
        *self.0.lock().unwrap() = online;
        Ok(())
    }
}

/// A presence server's state: one presence object per user.
#[derive(Default)]
pub struct Presences(Mutex<HashMap<u64, Arc<UserPresence>>>);

impl Presences {
    /// The presence object of `user`, made on first use.
    pub fn of(&self, user: u64) -> Arc<UserPresence> {
        self.0.lock().unwrap().entry(user).or_default().clone()
    }
}

#[pb::remote_impl]
impl PresenceService for Presences {
    async fn presence_of(&self, user: u64) -> Result<Arc<dyn Presence>, UserError> {
        Ok(self.of(user))
    }
}

/// One user's inbox.
#[derive(Default)]
pub struct UserInbox(Mutex<Vec<String>>);

#[pb::remote_impl]
impl Inbox for UserInbox {
    async fn send_message(&self, text: String) -> Result<usize, UserError> {
        let mut messages = self.0.lock().unwrap();
        messages.push(text);
        Ok(messages.len())
    }
    async fn messages(&self) -> Result<Vec<String>, UserError> {
        Ok(self.0.lock().unwrap().clone())
    }
}

/// A workstation's state: one inbox per user.
#[derive(Default)]
pub struct Inboxes(Mutex<HashMap<u64, Arc<UserInbox>>>);

impl Inboxes {
    /// The inbox of `user`, made on first use.
    pub fn of(&self, user: u64) -> Arc<UserInbox> {
        self.0.lock().unwrap().entry(user).or_default().clone()
    }
}

#[pb::remote_impl]
impl Workstation for Inboxes {
    async fn inbox(&self, user: u64) -> Result<Arc<dyn Inbox>, UserError> {
        Ok(self.of(user))
    }
}
