//! A cached model for tests: the seed's user list, served by a `Directory`.

use std::collections::BTreeMap;

use pb::{Cache, Cacheable, Model};
use serde::{Deserialize, Serialize};

use crate::aurora::UserError;

/// The list of users by id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserList {
    /// Names by id.
    pub users: BTreeMap<u64, String>,
}

/// A change to a [`UserList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserListEvent {
    /// A user was added (or renamed).
    Added(u64, String),
    /// A user was removed.
    Removed(u64),
}

impl Cacheable for UserList {
    type Event = UserListEvent;
    const NAME: &'static str = "test.UserList";
    fn apply(&mut self, event: &UserListEvent) {
        match event {
            UserListEvent::Added(id, name) => {
                self.users.insert(*id, name.clone());
            }
            UserListEvent::Removed(id) => {
                self.users.remove(id);
            }
        }
    }
}

/// Copyable data carrying a cache (a seed object with a model inside).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    /// A label.
    pub label: String,
    /// The user list, as a cache.
    pub list: Cache<UserList>,
    /// More caches, in a collection.
    pub more: Vec<Cache<UserList>>,
}

/// Serves the user list model, and the methods that change it.
#[pb::remote_interface]
pub trait Directory {
    /// The whole list (a cache).
    #[pb(replay)]
    async fn model(&self) -> Result<Cache<UserList>, UserError>;
    /// Only the users whose id has this parity (a per-observer view).
    #[pb(replay)]
    async fn model_for(&self, parity: u64) -> Result<Cache<UserList>, UserError>;
    /// Add a user.
    async fn add(&self, id: u64, name: String) -> Result<(), UserError>;
    /// Remove a user.
    async fn remove(&self, id: u64) -> Result<(), UserError>;
    /// The model nested in copyable data.
    async fn bundle(&self) -> Result<Bundle, UserError>;
    /// How many users a cache passed as an argument holds on arrival, and
    /// after waiting for `expect` users to appear in it.
    async fn count_in(&self, cache: Cache<UserList>, expect: usize) -> Result<(usize, usize), UserError>;
    /// Add users `from..to` named `u{id}`, in order.
    async fn add_many(&self, from: u64, to: u64) -> Result<(), UserError>;
    /// Whether `cache` arrived as a local view of this directory's model
    /// (one of its own caches, sent back), rather than as a mirror.
    async fn is_mine(&self, cache: Cache<UserList>) -> Result<bool, UserError>;
}

/// The owner of the model.
pub struct Dir {
    /// The model (tests read its observer counts).
    pub model: Model<UserList>,
}

impl Default for Dir {
    fn default() -> Self {
        let mut list = UserList::default();
        list.users.insert(1, "alice".into());
        list.users.insert(2, "bob".into());
        Dir { model: Model::new(list) }
    }
}

/// Whether `event` concerns a user of this parity.
fn parity_of(event: &UserListEvent) -> u64 {
    match event {
        UserListEvent::Added(id, _) | UserListEvent::Removed(id) => id % 2,
    }
}

#[pb::remote_impl]
impl Directory for Dir {
    async fn model(&self) -> Result<Cache<UserList>, UserError> {
        Ok(self.model.cache())
    }
    async fn model_for(&self, parity: u64) -> Result<Cache<UserList>, UserError> {
        Ok(self.model.view(
            move |s| UserList {
                users: s.users.iter().filter(|(id, _)| *id % 2 == parity).map(|(k, v)| (*k, v.clone())).collect(),
            },
            move |_, e| (parity_of(e) == parity).then(|| e.clone()),
        ))
    }
    async fn add(&self, id: u64, name: String) -> Result<(), UserError> {
        self.model.apply(UserListEvent::Added(id, name));
        Ok(())
    }
    async fn remove(&self, id: u64) -> Result<(), UserError> {
        self.model.apply(UserListEvent::Removed(id));
        Ok(())
    }
    async fn bundle(&self) -> Result<Bundle, UserError> {
        Ok(Bundle { label: "all".into(), list: self.model.cache(), more: vec![self.model.cache(), self.model.cache()] })
    }
    async fn count_in(&self, cache: Cache<UserList>, expect: usize) -> Result<(usize, usize), UserError> {
        let first = cache.state().users.len();
        let mut watch = cache.watch();
        while cache.state().users.len() < expect {
            if watch.changed().await.is_err() {
                break;
            }
        }
        Ok((first, cache.state().users.len()))
    }
    async fn add_many(&self, from: u64, to: u64) -> Result<(), UserError> {
        for id in from..to {
            self.model.apply(UserListEvent::Added(id, format!("u{id}")));
        }
        Ok(())
    }
    async fn is_mine(&self, cache: Cache<UserList>) -> Result<bool, UserError> {
        Ok(self.model.is_view(&cache))
    }
}
