//! Test interfaces after the seed's `aurora` example.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A user record: passed by copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Id.
    pub id: u64,
    /// Display name.
    pub name: String,
}

/// Errors of the test interfaces.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum UserError {
    /// Application error, returned as a value.
    #[error("no user {0}")]
    NotFound(u64),
    /// Transport failure, at any hop.
    #[error(transparent)]
    Pb(#[from] pb::Error),
}

/// A seed object: copyable data carrying references (the seed's "Seed objects").
#[derive(Clone, Serialize, Deserialize)]
pub struct Seed {
    /// Plain data.
    pub user: User,
    /// A reference in a field.
    pub presence: pb::Ref<dyn Presence>,
    /// References in a `Vec`.
    pub list: Vec<pb::Ref<dyn Presence>>,
    /// A reference in an `Option`.
    pub maybe: Option<pb::Ref<dyn Presence>>,
    /// References as map values.
    pub by_name: HashMap<String, pb::Ref<dyn Presence>>,
}

/// The seed's UserManager.
#[pb::remote_interface]
pub trait UserManager {
    /// A user by id, by copy.
    async fn get_user(&self, id: u64) -> Result<User, UserError>;
    /// Store a user (a copy) and return its id.
    async fn add_user(&self, user: User) -> Result<u64, UserError>;
    /// The presence service, by reference (safe to replay after an outage).
    #[pb(replay)]
    async fn presence(&self) -> Result<Arc<dyn Presence>, UserError>;
    /// A seed object: a copy carrying references.
    async fn seed(&self, id: u64) -> Result<Seed, UserError>;
    /// Whether `p` is this manager's own presence object (identity check).
    async fn is_mine(&self, p: Arc<dyn Presence>) -> Result<bool, UserError>;
    /// Whether every reference in `seed` is this manager's own presence.
    async fn seed_is_mine(&self, seed: Seed) -> Result<bool, UserError>;
    /// Return the seed it was given (a copy of a copy, references included).
    async fn echo_seed(&self, seed: Seed) -> Result<Seed, UserError>;
    /// Ask `p` (a reference passed in) whether `user` is online.
    async fn ask(&self, p: Arc<dyn Presence>, user: u64) -> Result<bool, UserError>;
    /// Panics.
    async fn explode(&self) -> Result<(), UserError>;
    /// Waits `ms` milliseconds, then returns `v`.
    async fn slow(&self, ms: u64, v: u64) -> Result<u64, UserError>;
    /// Like `slow`, but declared idempotent: retried once after healing.
    #[pb(idempotent)]
    async fn slow_idempotent(&self, ms: u64, v: u64) -> Result<u64, UserError>;
    /// How many calls of `slow` and `slow_idempotent` started on this object.
    async fn started(&self) -> Result<usize, UserError>;
    /// Record `v` in call order.
    async fn push(&self, v: u64) -> Result<(), UserError>;
    /// Everything pushed so far.
    async fn pushed(&self) -> Result<Vec<u64>, UserError>;
    /// Runs on the caller's side.
    #[pb(local)]
    fn label(&self) -> String {
        "users".into()
    }
}

/// Online/offline state of users.
#[pb::remote_interface]
pub trait Presence {
    /// Whether `user` is online.
    async fn is_online(&self, user: u64) -> Result<bool, UserError>;
    /// Set `user` online or offline.
    async fn set_online(&self, user: u64, online: bool) -> Result<(), UserError>;
}

/// A local presence service.
#[derive(Default)]
pub struct Presences {
    online: Mutex<HashMap<u64, bool>>,
}

#[pb::remote_impl]
impl Presence for Presences {
    async fn is_online(&self, user: u64) -> Result<bool, UserError> {
        Ok(self.online.lock().unwrap().get(&user).copied().unwrap_or(false))
    }
    async fn set_online(&self, user: u64, online: bool) -> Result<(), UserError> {
        self.online.lock().unwrap().insert(user, online);
        Ok(())
    }
}

/// A local user manager.
pub struct Users {
    users: Mutex<HashMap<u64, User>>,
    /// Its presence service (shared, so tests can check identity and counts).
    pub presence: Arc<dyn Presence>,
    log: Mutex<Vec<u64>>,
    /// Calls that ran to completion.
    pub completed: AtomicUsize,
    /// Calls of `slow`/`slow_idempotent` that started.
    pub started: AtomicUsize,
}

impl Default for Users {
    fn default() -> Self {
        let mut users = HashMap::new();
        users.insert(1, User { id: 1, name: "alice".into() });
        users.insert(2, User { id: 2, name: "bob".into() });
        Users {
            users: Mutex::new(users),
            presence: Arc::new(Presences::default()),
            log: Mutex::new(Vec::new()),
            completed: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
        }
    }
}

impl Users {
    fn is_own(&self, p: &Arc<dyn Presence>) -> bool {
        Arc::ptr_eq(p, &self.presence)
    }
}

#[pb::remote_impl]
impl UserManager for Users {
    async fn get_user(&self, id: u64) -> Result<User, UserError> {
        self.users.lock().unwrap().get(&id).cloned().ok_or(UserError::NotFound(id))
    }
    async fn add_user(&self, user: User) -> Result<u64, UserError> {
        let id = user.id;
        self.users.lock().unwrap().insert(id, user);
        Ok(id)
    }
    async fn presence(&self) -> Result<Arc<dyn Presence>, UserError> {
        Ok(self.presence.clone())
    }
    async fn seed(&self, id: u64) -> Result<Seed, UserError> {
        let user = self.get_user(id).await?;
        let p = pb::Ref::new(self.presence.clone());
        Ok(Seed {
            user,
            presence: p.clone(),
            list: vec![p.clone(), p.clone()],
            maybe: Some(p.clone()),
            by_name: [("main".to_string(), p)].into_iter().collect(),
        })
    }
    async fn is_mine(&self, p: Arc<dyn Presence>) -> Result<bool, UserError> {
        Ok(self.is_own(&p))
    }
    async fn seed_is_mine(&self, seed: Seed) -> Result<bool, UserError> {
        let all = std::iter::once(&seed.presence).chain(&seed.list).chain(&seed.maybe).chain(seed.by_name.values());
        Ok(all.into_iter().all(|r| self.is_own(r.as_arc())))
    }
    async fn echo_seed(&self, seed: Seed) -> Result<Seed, UserError> {
        Ok(seed)
    }
    async fn ask(&self, p: Arc<dyn Presence>, user: u64) -> Result<bool, UserError> {
        p.is_online(user).await
    }
    async fn explode(&self) -> Result<(), UserError> {
        panic!("boom")
    }
    async fn slow(&self, ms: u64, v: u64) -> Result<u64, UserError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        self.completed.fetch_add(1, Ordering::SeqCst);
        Ok(v)
    }
    async fn slow_idempotent(&self, ms: u64, v: u64) -> Result<u64, UserError> {
        self.slow(ms, v).await
    }
    async fn started(&self) -> Result<usize, UserError> {
        Ok(self.started.load(Ordering::SeqCst))
    }
    async fn push(&self, v: u64) -> Result<(), UserError> {
        self.log.lock().unwrap().push(v);
        Ok(())
    }
    async fn pushed(&self) -> Result<Vec<u64>, UserError> {
        Ok(self.log.lock().unwrap().clone())
    }
}
