//! The seed's `aurora` example: `User` (by copy) and `UserManager` (by reference).

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// A user record, passed by copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Unique id.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
}

/// Errors of the aurora interfaces.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum UserError {
    /// No user with this id.
    #[error("no user with id {0}")]
    NotFound(u64),
    /// A transport failure, at any hop.
    #[error(transparent)]
    Pb(#[from] pb::Error),
}

/// The seed's UserManager: dispenses users.
#[pb::remote_interface(name = "aurora.UserManager")]
pub trait UserManager {
    /// A user by id.
    async fn get_user(&self, id: u64) -> Result<User, UserError>;
    /// Store a user; returns its id.
    async fn add_user(&self, name: String, email: String) -> Result<u64, UserError>;
    /// Every user, by id.
    async fn list_users(&self) -> Result<Vec<User>, UserError>;
    /// Describes the manager; runs on the caller's side.
    #[pb(local)]
    fn describe(&self) -> String {
        "aurora user manager".into()
    }
}

/// An in-memory user manager.
#[derive(Default)]
pub struct Users {
    users: Mutex<BTreeMap<u64, User>>,
}

impl Users {
    /// A manager holding a few users.
    pub fn with_sample_users() -> Users {
        let users = Users::default();
        for (id, name) in [(1, "alice"), (2, "bob"), (3, "carol")] {
            let user = User { id, name: name.into(), email: format!("{name}@aurora.example") };
            users.users.lock().unwrap().insert(id, user);
        }
        users
    }
}

#[pb::remote_impl]
impl UserManager for Users {
    async fn get_user(&self, id: u64) -> Result<User, UserError> {
        self.users.lock().unwrap().get(&id).cloned().ok_or(UserError::NotFound(id))
    }
    async fn add_user(&self, name: String, email: String) -> Result<u64, UserError> {
        let mut users = self.users.lock().unwrap();
        let id = users.keys().next_back().map_or(1, |k| k + 1);
        users.insert(id, User { id, name, email });
        Ok(id)
    }
    async fn list_users(&self) -> Result<Vec<User>, UserError> {
        Ok(self.users.lock().unwrap().values().cloned().collect())
    }
}
