//! The seed's aurora example built from a schema.
//!
//! `build.rs` compiles `examples/schemas/aurora.pbidl` with `pb-idl`, and
//! [`aurora`] includes the result. The generated `UserManager` has the same
//! wire identity as the hand-written `pb_examples::aurora::UserManager`, so
//! [`demo`] can call the hand-written server from a schema-built client,
//! and the other way round.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The code generated from `aurora.pbidl`.
pub mod aurora {
    pb::include_schema!("aurora");
}

use aurora::{User, UserError, UserManager};

/// A user manager implemented on the generated trait.
#[derive(Default)]
pub struct IdlUsers {
    users: Mutex<BTreeMap<u64, User>>,
}

#[pb::remote_impl]
impl UserManager for IdlUsers {
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

/// Connect `client_side` to a server serving `root` over loopback TCP.
async fn connect<S: ?Sized + pb::Interface, C: ?Sized + pb::Interface>(
    root: Arc<S>,
) -> Result<(Arc<C>, pb::Connection, pb::Connection), pb::Error> {
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| pb::Error::Protocol(e.to_string()))?;
    let addr = listener.local_addr().map_err(|e| pb::Error::Protocol(e.to_string()))?;
    let (client, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
    let client = client.map_err(|e| pb::Error::Protocol(e.to_string()))?;
    let (accepted, _) = accepted.map_err(|e| pb::Error::Protocol(e.to_string()))?;
    let (server, client) = tokio::join!(
        pb::Connection::builder().root(root).establish(pb::Transport::tcp(accepted)),
        pb::Connection::builder().establish(pb::Transport::tcp(client)),
    );
    let (server, client) = (server?, client?);
    Ok((client.root::<C>()?, server, client))
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
    let id = users.add_user("dave".into(), "dave@aurora.example".into()).await?;
    log.push(format!("idl client -> hand-written server: add_user(dave) = {id}"));
    let all = users.list_users().await?;
    log.push(format!("idl client -> hand-written server: list_users() = {} users", all.len()));
    match users.get_user(99).await {
        Err(UserError::NotFound(99)) => log.push("idl client -> hand-written server: get_user(99) = not found".into()),
        other => return Err(format!("expected NotFound(99), got {other:?}").into()),
    }
    log.push(format!("idl client, local method: {}", users.describe()));

    // A hand-written client calls the schema-built server.
    let (users, _s2, _c2) =
        connect::<dyn UserManager, dyn pb_examples::aurora::UserManager>(Arc::new(IdlUsers::default())).await?;
    let id = users.add_user("erin".into(), "erin@aurora.example".into()).await?;
    let erin = users.get_user(id).await?;
    log.push(format!("hand-written client -> idl server: add_user + get_user = {} #{}", erin.name, erin.id));
    match users.get_user(7).await {
        Err(pb_examples::aurora::UserError::NotFound(7)) => {
            log.push("hand-written client -> idl server: get_user(7) = not found".into())
        }
        other => return Err(format!("expected NotFound(7), got {other:?}").into()),
    }
    Ok(log)
}
