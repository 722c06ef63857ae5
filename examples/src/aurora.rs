//! The seed's `aurora` example: `User` (by copy), `UserManager` (by reference)
//! and `UserList`, the seed's UserModel (a cached model).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A user record, passed by copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, pb::Describe)]
pub struct User {
    /// Unique id.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
}

/// Errors of the aurora interfaces.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize, pb::Describe, pb::PbError)]
pub enum UserError {
    /// No user with this id.
    #[error("no user with id {0}")]
    NotFound(u64),
    /// A transport failure, at any hop.
    #[error(transparent)]
    Pb(#[from] pb::Error),
}

/// The seed's UserModel: every user, kept by the server and mirrored by
/// each client that asks for it (a cached model).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, pb::Describe)]
pub struct UserList {
    /// Users by id.
    pub users: BTreeMap<u64, User>,
}

/// A change to the [`UserList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, pb::Describe)]
pub enum UserListEvent {
    /// A user was added.
    Added(User),
    /// A user was removed.
    Removed(u64),
}

impl pb::Cacheable for UserList {
    type Event = UserListEvent;
    const NAME: &'static str = "aurora.UserList";
    fn apply(&mut self, event: &UserListEvent) {
        match event {
            UserListEvent::Added(user) => {
                self.users.insert(user.id, user.clone());
            }
            UserListEvent::Removed(id) => {
                self.users.remove(id);
            }
        }
    }
}

/// The seed's UserManager: dispenses users.
#[pb::remote_interface(name = "aurora.UserManager")]
pub trait UserManager {
    /// A user by id.
    async fn get_user(&self, id: u64) -> Result<User, UserError>;
    /// Store a user; returns its id.
    async fn add_user(&self, name: String, email: String) -> Result<u64, UserError>;
    /// Remove a user.
    async fn remove_user(&self, id: u64) -> Result<(), UserError>;
    /// Every user, by id.
    async fn list_users(&self) -> Result<Vec<User>, UserError>;
    /// The user list as a cached model: changes arrive as local signals.
    /// Safe to replay, so the cache heals after an outage.
    #[pb(replay)]
    async fn model(&self) -> Result<pb::Cache<UserList>, UserError>;
    /// Describes the manager; runs on the caller's side.
    #[pb(local)]
    fn describe(&self) -> String {
        "aurora user manager".into()
    }
}

/// An in-memory user manager; its state is the [`UserList`] model.
pub struct Users {
    model: pb::Model<UserList>,
}

impl Default for Users {
    fn default() -> Self {
        Users { model: pb::Model::new(UserList::default()) }
    }
}

impl Users {
    /// A manager holding a few users.
    pub fn with_sample_users() -> Users {
        let users = Users::default();
        for (id, name) in [(1, "alice"), (2, "bob"), (3, "carol")] {
            let user = User { id, name: name.into(), email: format!("{name}@aurora.example") };
            users.model.apply(UserListEvent::Added(user));
        }
        users
    }

    /// The model (the server side of the cache).
    pub fn model(&self) -> &pb::Model<UserList> {
        &self.model
    }
}

#[pb::remote_impl]
impl UserManager for Users {
    async fn get_user(&self, id: u64) -> Result<User, UserError> {
        self.model.state().users.get(&id).cloned().ok_or(UserError::NotFound(id))
    }
    async fn add_user(&self, name: String, email: String) -> Result<u64, UserError> {
        let id = self.model.state().users.keys().next_back().map_or(1, |k| k + 1);
        self.model.apply(UserListEvent::Added(User { id, name, email }));
        Ok(id)
    }
    async fn remove_user(&self, id: u64) -> Result<(), UserError> {
        if !self.model.state().users.contains_key(&id) {
            return Err(UserError::NotFound(id));
        }
        self.model.apply(UserListEvent::Removed(id));
        Ok(())
    }
    async fn list_users(&self) -> Result<Vec<User>, UserError> {
        Ok(self.model.state().users.values().cloned().collect())
    }
    async fn model(&self) -> Result<pb::Cache<UserList>, UserError> {
        Ok(self.model.cache())
    }
}

/// A source of ticks (the demo streams them through its relay).
#[pb::remote_interface(name = "aurora.Ticker")]
pub trait Ticker {
    /// The numbers `0..count`, as a stream, about ten a millisecond.
    async fn ticks(&self, count: u64) -> Result<pb::Stream<u64>, UserError>;
}

/// The ticker.
pub struct Ticks;

#[pb::remote_impl]
impl Ticker for Ticks {
    async fn ticks(&self, count: u64) -> Result<pb::Stream<u64>, UserError> {
        Ok(pb::Stream::new(futures_util::stream::unfold(0, move |i| async move {
            if i >= count {
                return None;
            }
            if i % 10 == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            Some((Ok(i), i + 1))
        })))
    }
}
