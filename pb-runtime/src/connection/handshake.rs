//! The hellos: the first frame each way, read and written before a
//! connection's tasks start, so that a server can decide which connection a
//! transport belongs to (a new one, or a session it resumes).
//!
//! A client (or either side of a symmetric link) writes its hello at once;
//! a server reads the client's hello first and answers with its own. The
//! hello's payload carries the session (see `wire::resume`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures_util::StreamExt;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::core::{ConnCore, SessionRole, SpawnLink, Ticket};
use super::handle::{Connection, ConnectionBuilder};
use super::resume::Sessions;
use crate::Error;
use crate::transport::{BoxRead, BoxWrite, Transport};
use crate::wire::frame::{FrameDecoder, Frames, put_prefix};
use crate::wire::resume::{ClientHello, ServerHello};
use crate::wire::{self, Header};

/// What a client asks of the server in its hello.
pub(crate) enum Intent {
    /// A plain connection.
    Plain,
    /// A resumable session.
    Open,
    /// Resume the session of this connection.
    Resume(Arc<ConnCore>),
}

/// What came of a handshake.
pub(crate) enum Opened {
    /// A new connection.
    Fresh(Connection),
    /// An existing session resumed over the new transport.
    Resumed(Connection),
}

/// Queues the server's hello on a new connection (which it needs to make).
type QueuedHello<'a> = Box<dyn FnOnce(&Arc<ConnCore>) -> Result<(), Error> + Send + 'a>;

/// What starts a transport's tasks, reading `frames`.
fn reader(frames: Frames<BoxRead>) -> SpawnLink<'static> {
    Box::new(move |core, generation, cancel| super::reader::spawn(core, frames, generation, cancel))
}

/// Write one frame straight to the transport.
async fn write_frame(write: &mut BoxWrite, header: &Header, payload: &impl Serialize) -> Result<(), Error> {
    let frame = wire::encode_frame(header, payload)?;
    let mut buf = Vec::with_capacity(frame.len() + wire::frame::PREFIX_LEN);
    put_prefix(&mut buf, frame.len());
    for chunk in frame.chunks() {
        buf.extend_from_slice(chunk);
    }
    write.write_all(&buf).await?;
    write.flush().await?;
    Ok(())
}

fn hello(root: Option<u64>) -> Header {
    Header::Hello { magic: wire::MAGIC, version: wire::VERSION, root }
}

/// What a peer's hello says of it.
#[derive(Debug, Clone, Copy)]
struct PeerHello {
    /// The interface of its root, if it serves one.
    root: Option<u64>,
    /// The protocol version it speaks (between [`wire::MIN_VERSION`] and
    /// ours).
    version: u16,
}

/// Read the peer's hello: what it says of the peer, and the payload.
async fn read_hello(frames: &mut Frames<BoxRead>) -> Result<(PeerHello, Bytes), Error> {
    let frame = match frames.next().await {
        None => return Err(Error::protocol("closed during handshake")),
        Some(Err(e)) => return Err(Error::protocol(format_args!("handshake read failed: {e}"))),
        Some(Ok(f)) => f.freeze(),
    };
    let (header, payload) = wire::decode_frame(&frame)?;
    let Header::Hello { magic, version, root } = header else {
        return Err(Error::protocol("expected hello as the first frame"));
    };
    if magic != wire::MAGIC {
        return Err(Error::protocol(format_args!("not a pb peer (magic {magic:#x})")));
    }
    if !(wire::MIN_VERSION..=wire::VERSION).contains(&version) {
        return Err(Error::protocol(format_args!("unsupported protocol version {version}")));
    }
    Ok((PeerHello { root, version }, payload))
}

/// Decode a hello payload; empty (an older peer, or nothing to say) is `None`.
fn payload<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<Option<T>, Error> {
    if bytes.is_empty() {
        return Ok(None);
    }
    wire::decode_payload(bytes).map(Some).map_err(|e| Error::protocol(format_args!("bad hello payload: {e}")))
}

impl ConnectionBuilder {
    /// Start the connection over `transport` and wait for the peer's hello.
    ///
    /// # Errors
    ///
    /// The transport failed, the peer spoke another protocol, or it did not
    /// answer within [`Config::handshake_timeout`](crate::Config::handshake_timeout).
    pub async fn establish(self, transport: Transport) -> Result<Connection, Error> {
        match self.connect(transport, Intent::Plain).await? {
            Opened::Fresh(conn) | Opened::Resumed(conn) => Ok(conn),
        }
    }

    fn frames(&self, read: BoxRead) -> Frames<BoxRead> {
        let decoder = FrameDecoder::new(self.config.effective_max_frame_len()).with_timeout(self.config.frame_timeout);
        Frames::new(read, decoder)
    }

    /// Start a fresh connection over `write` and `frames`.
    fn fresh(
        self,
        peer: String,
        hello_of_peer: PeerHello,
        frames: Frames<BoxRead>,
        write: BoxWrite,
        role: SessionRole,
        queued_hello: Option<QueuedHello<'_>>,
    ) -> Result<Connection, Error> {
        let core = ConnCore::new(peer, self.config, self.root, write, role);
        let _ = core.peer_root.set(hello_of_peer.root);
        core.peer_version.store(hello_of_peer.version, std::sync::atomic::Ordering::Release);
        if let Some(hello) = queued_hello
            && let Err(e) = hello(&core)
        {
            core.close(e.to_string());
            return Err(e);
        }
        core.start(reader(frames));
        let conn = Connection { core };
        if let Some(f) = self.on_open {
            f(&conn);
        }
        Ok(conn)
    }

    /// The client's side of the handshake (also either side of a symmetric
    /// link): say hello, read the peer's.
    pub(crate) async fn connect(self, transport: Transport, intent: Intent) -> Result<Opened, Error> {
        let timeout = self.config.handshake_timeout;
        match tokio::time::timeout(timeout, self.connect_inner(transport, intent)).await {
            Ok(r) => r,
            Err(_) => {
                Err(Error::LimitExceeded { what: "handshake timeout (ms)".into(), limit: timeout.as_millis() as u64 })
            }
        }
    }

    async fn connect_inner(self, transport: Transport, intent: Intent) -> Result<Opened, Error> {
        let root_iface = self.root.as_ref().map(|r| r.interface_id());
        let (read, mut write, peer) = transport.into_parts();
        let mut frames = self.frames(read);
        let ask = match &intent {
            Intent::Plain => None,
            Intent::Open => Some(ClientHello::Open),
            Intent::Resume(core) => {
                let ticket =
                    core.ticket().ok_or_else(|| Error::protocol("resume of a connection without a session"))?;
                Some(ClientHello::Resume {
                    id: ticket.id,
                    secret: ticket.secret,
                    received: core.received.load(Ordering::Acquire),
                })
            }
        };
        match &ask {
            Some(ask) => write_frame(&mut write, &hello(root_iface), ask).await?,
            None => write_frame(&mut write, &hello(root_iface), &()).await?,
        }
        let (peer_hello, answer) = read_hello(&mut frames).await?;
        let answer: Option<ServerHello> = if ask.is_some() { payload(&answer)? } else { None };
        if let (Intent::Resume(core), Some(ServerHello { resumed: Some(received), secret, .. })) = (&intent, &answer) {
            if let Err(e) = core.can_resume(*received) {
                // The server resumed, but we cannot: end the session there.
                let _ = write_frame(&mut write, &Header::Goodbye, &"the session cannot resume").await;
                core.close(format!("cannot resume: {e}"));
                return Err(e);
            }
            core.set_secret(*secret);
            core.reattach(write, *received, reader(frames))?;
            return Ok(Opened::Resumed(Connection { core: core.clone() }));
        }
        let role = match answer {
            Some(h) => SessionRole::Client(std::sync::Mutex::new(Ticket {
                id: h.id,
                secret: h.secret,
                grace: std::time::Duration::from_millis(h.grace_ms),
            })),
            None => SessionRole::None,
        };
        self.fresh(peer, peer_hello, frames, write, role, None).map(Opened::Fresh)
    }

    /// The server's side of the handshake: read the client's hello, then
    /// answer for a new connection or a resumed session.
    pub(crate) async fn accept(self, transport: Transport, sessions: Option<&Arc<Sessions>>) -> Result<Opened, Error> {
        let timeout = self.config.handshake_timeout;
        match tokio::time::timeout(timeout, self.accept_inner(transport, sessions)).await {
            Ok(r) => r,
            Err(_) => {
                Err(Error::LimitExceeded { what: "handshake timeout (ms)".into(), limit: timeout.as_millis() as u64 })
            }
        }
    }

    async fn accept_inner(self, transport: Transport, sessions: Option<&Arc<Sessions>>) -> Result<Opened, Error> {
        let root_iface = self.root.as_ref().map(|r| r.interface_id());
        let binding = transport.binding.clone();
        let (read, mut write, peer) = transport.into_parts();
        let mut frames = self.frames(read);
        let (peer_hello, ask) = read_hello(&mut frames).await?;
        let ask: Option<ClientHello> = payload(&ask)?;
        let Some(table) = sessions.filter(|_| ask.is_some()) else {
            write_frame(&mut write, &hello(root_iface), &()).await?;
            return self.fresh(peer, peer_hello, frames, write, SessionRole::None, None).map(Opened::Fresh);
        };
        if let Some(ClientHello::Resume { id, secret, received }) = ask
            && let Some((core, id, fresh)) = table.claim(id, &secret, binding.as_deref())
        {
            // The session's old link may still look alive (a black hole
            // the client noticed first): this transport replaces it.
            core.link_lost(None, "resumed on a new connection");
            core.reader_stopped().await;
            match core.can_resume(received) {
                Ok(()) => {
                    let answer = table.resumed_hello(id, fresh, core.received.load(Ordering::Acquire));
                    write_frame(&mut write, &hello(root_iface), &answer).await?;
                    core.reattach(write, received, reader(frames))?;
                    return Ok(Opened::Resumed(Connection { core }));
                }
                Err(e) => core.close(format!("cannot resume: {e}")),
            }
        }
        let weak: std::sync::Weak<dyn super::core::SessionTable> = Arc::downgrade(table) as _;
        let role = SessionRole::Server(weak);
        let table = table.clone();
        let grant: QueuedHello<'_> = Box::new(move |core: &Arc<ConnCore>| {
            let answer = table.grant(core, binding)?;
            core.outbox.push_control(wire::encode_frame(&hello(root_iface), &answer)?);
            Ok(())
        });
        self.fresh(peer, peer_hello, frames, write, role, Some(grant)).map(Opened::Fresh)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Config;

    async fn pair(table: &Arc<Sessions>, intent: Intent) -> (Opened, Opened) {
        let (c, s) = Transport::memory_pair();
        let table = table.clone();
        let server = tokio::spawn(async move { ConnectionBuilder::default().accept(s, Some(&table)).await });
        let client = ConnectionBuilder::default().connect(c, intent).await.unwrap();
        (client, server.await.unwrap().unwrap())
    }

    fn fresh(o: Opened) -> Connection {
        match o {
            Opened::Fresh(c) => c,
            Opened::Resumed(c) => panic!("connection {} resumed, expected a new one", c.id()),
        }
    }

    fn resumed(o: Opened) -> Connection {
        match o {
            Opened::Resumed(c) => c,
            Opened::Fresh(c) => panic!("connection {} is new, expected a resume", c.id()),
        }
    }

    #[tokio::test]
    async fn a_session_resumes_on_a_second_transport_with_the_same_connections() {
        let table = Sessions::new(&Config::default()).unwrap();
        let (client, server) = pair(&table, Intent::Open).await;
        let (client, server) = (fresh(client), fresh(server));
        client.ping().await.unwrap();
        // The client gives the link up. (Whether the server has noticed yet
        // does not matter: a resume replaces a link that still looks alive,
        // as after a black hole: `tests/tests/resume.rs`.)
        client.core.link_lost(None, "test");
        client.core.reader_stopped().await;
        let (again, on_server) = pair(&table, Intent::Resume(client.core.clone())).await;
        assert_eq!(resumed(again).id(), client.id());
        assert_eq!(resumed(on_server).id(), server.id(), "the same server connection, on the new transport");
        client.ping().await.unwrap();
        server.ping().await.unwrap();
        assert!(server.stats().attached && client.stats().attached);
        assert_eq!(table.detached(), 0);
    }

    #[tokio::test]
    async fn a_forged_resume_gets_a_new_session_and_the_real_one_goes_on() {
        let table = Sessions::new(&Config::default()).unwrap();
        let (client, server) = pair(&table, Intent::Open).await;
        let (client, server) = (fresh(client), fresh(server));
        let real = client.core.ticket().unwrap();
        let mut secret = real.secret;
        secret[0] ^= 0x80;
        let ticket = Ticket { id: real.id, secret, grace: Duration::from_secs(1) };
        let forger = ConnCore::new(
            "forger".into(),
            Config::default(),
            None,
            Box::new(tokio::io::sink()),
            SessionRole::Client(std::sync::Mutex::new(ticket)),
        );
        let (theirs, on_server) = pair(&table, Intent::Resume(forger)).await;
        let (theirs, on_server) = (fresh(theirs), fresh(on_server));
        assert_ne!(on_server.id(), server.id());
        assert_ne!(theirs.core.ticket().unwrap().id, real.id, "a session of its own");
        client.ping().await.unwrap();
        assert!(server.stats().attached, "the real session is untouched");
    }

    #[tokio::test]
    async fn a_plain_client_gets_a_plain_connection() {
        let table = Sessions::new(&Config::default()).unwrap();
        let (client, server) = pair(&table, Intent::Plain).await;
        let (client, server) = (fresh(client), fresh(server));
        assert!(!client.core.is_resumable() && !server.core.is_resumable());
        client.ping().await.unwrap();
    }
}
