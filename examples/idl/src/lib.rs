//! The seed's aurora example built from a schema.
//!
//! `build.rs` compiles `examples/schemas/aurora.pbidl` with `pb-idl`, and
//! [`aurora`] includes the result. The generated `UserManager` and user-list
//! model have the same wire identities as the hand-written ones in
//! `pb_examples::aurora`, so [`demo`] can call the hand-written server from
//! a schema-built client, and the other way round. [`log_tail`] is the
//! streams example's `LogService` from `examples/schemas/log_tail.pbidl`,
//! which streams to and from the hand-written one the same way.

use std::sync::Arc;
use std::time::Duration;

/// The code generated from `aurora.pbidl`.
pub mod aurora {
    pb::include_schema!("aurora");
}

/// The code generated from `log_tail.pbidl`: the streams example's
/// `LogService`, whose `tail` returns a `pb::Stream<LogLine>`.
pub mod log_tail {
    pb::include_schema!("log_tail");
}

use aurora::{User, UserError, UserList, UserListEvent, UserManager};

/// The schema says what the model's events are; this says what they do.
impl aurora::UserListApply for UserList {
    fn apply_event(&mut self, event: &UserListEvent) {
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

/// A user manager implemented on the generated trait.
pub struct IdlUsers {
    model: pb::Model<UserList>,
}

impl Default for IdlUsers {
    fn default() -> Self {
        IdlUsers { model: pb::Model::new(UserList { users: Default::default() }) }
    }
}

#[pb::remote_impl]
impl UserManager for IdlUsers {
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

fn io(e: std::io::Error) -> pb::Error {
    pb::Error::Protocol(e.to_string())
}

/// Serve `root` over loopback TCP and return a proxy of type `C` to it.
async fn connect<S: ?Sized + pb::Interface, C: ?Sized + pb::Interface>(
    root: Arc<S>,
) -> Result<(Arc<C>, pb::Connection, pb::Connection), pb::Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    let (client, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
    let (client, (accepted, _)) = (client.map_err(io)?, accepted.map_err(io)?);
    let (server, client) = tokio::join!(
        pb::Connection::builder().root(root).establish(pb::Transport::tcp(accepted)),
        pb::Connection::builder().establish(pb::Transport::tcp(client)),
    );
    let (server, client) = (server?, client?);
    Ok((client.root::<C>()?, server, client))
}

/// Wait (at most 5 s) until `watch` reports a change.
async fn changed(watch: &mut tokio::sync::watch::Receiver<u64>) -> Result<(), Box<dyn std::error::Error>> {
    tokio::time::timeout(Duration::from_secs(5), watch.changed()).await??;
    Ok(())
}

/// Run both directions over loopback TCP and return what happened, one
/// line per step.
///
/// # Errors
///
/// A transport failure, or a step that did not give the expected answer.
pub async fn demo() -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut log = Vec::new();

    // A schema-built client calls the hand-written server.
    let server = Arc::new(pb_examples::aurora::Users::with_sample_users());
    let (users, _s, _c) = connect::<dyn pb_examples::aurora::UserManager, dyn UserManager>(server).await?;
    let alice = users.get_user(1).await?;
    log.push(format!("idl client -> hand-written server: get_user(1) = {} <{}>", alice.name, alice.email));
    let cache = users.model().await?;
    let mut watch = cache.watch();
    log.push(format!("idl client -> hand-written server: model() = a cache of {} users", cache.state().users.len()));
    let id = users.add_user("dave".into(), "dave@aurora.example".into()).await?;
    log.push(format!("idl client -> hand-written server: add_user(dave) = {id}"));
    changed(&mut watch).await?;
    let dave = cache.state().users.get(&id).map(|u| u.name.clone()).unwrap_or_default();
    log.push(format!("idl client: the cache saw the change: user {id} is {dave}"));
    users.remove_user(2).await?;
    let all = users.list_users().await?;
    log.push(format!("idl client -> hand-written server: remove_user(2), list_users() = {} users", all.len()));
    match users.get_user(99).await {
        Err(UserError::NotFound(99)) => log.push("idl client -> hand-written server: get_user(99) = not found".into()),
        other => return Err(format!("expected NotFound(99), got {other:?}").into()),
    }
    log.push(format!("idl client, local method: {}", users.describe()));

    // A hand-written client calls the schema-built server.
    let (users, _s2, _c2) =
        connect::<dyn UserManager, dyn pb_examples::aurora::UserManager>(Arc::new(IdlUsers::default())).await?;
    let cache = users.model().await?;
    let mut watch = cache.watch();
    let id = users.add_user("erin".into(), "erin@aurora.example".into()).await?;
    let erin = users.get_user(id).await?;
    log.push(format!("hand-written client -> idl server: add_user + get_user = {} #{}", erin.name, erin.id));
    changed(&mut watch).await?;
    log.push(format!("hand-written client: the cache holds {} user(s)", cache.state().users.len()));
    match users.get_user(7).await {
        Err(pb_examples::aurora::UserError::NotFound(7)) => {
            log.push("hand-written client -> idl server: get_user(7) = not found".into())
        }
        other => return Err(format!("expected NotFound(7), got {other:?}").into()),
    }
    Ok(log)
}
