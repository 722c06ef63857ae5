//! The peer a command looks at: one connection (TCP or TLS), logged in if
//! asked, its root and (when the root is a registry) its registry.

use std::path::PathBuf;
use std::sync::Arc;

use pb::describe::InterfaceDescription;
use pb::describe::types::TypeTable;
use pb::{AnyRef, Connect, Connection, Interface, Locator};

use crate::Failure;

/// How to reach the peer.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `host:port`.
    pub addr: String,
    /// Connect over TLS.
    pub tls: bool,
    /// PEM file of the certificate authorities to trust (with `tls`).
    pub ca: Option<PathBuf>,
    /// The server's name in its certificate (default: the host of `addr`).
    pub server_name: Option<String>,
    /// Log in with these credentials (user, password).
    pub login: Option<(String, String)>,
}

/// A connected peer.
pub struct Target {
    conn: Connection,
    root: AnyRef,
    registry: Option<Arc<dyn Locator>>,
}

impl Target {
    /// Connect (and log in) as `opts` says.
    ///
    /// # Errors
    ///
    /// The server cannot be reached (exit code 3), or refuses the login (1).
    pub async fn connect(opts: &Options) -> Result<Target, Failure> {
        let unreachable = |e: String| Failure { code: crate::exit::CONNECTION, message: format!("{}: {e}", opts.addr) };
        let transport = if opts.tls {
            let config = tls_config(opts)?;
            let host = opts.addr.rsplit_once(':').map_or(opts.addr.as_str(), |(h, _)| h);
            let name = opts.server_name.as_deref().unwrap_or(host);
            let connector = pb::tls::TlsConnect::new(opts.addr.clone(), name, config)
                .map_err(|e| Failure::usage(format!("--tls: {e}")))?;
            connector.connect().await.map_err(|e| unreachable(e.to_string()))?
        } else {
            let stream = tokio::net::TcpStream::connect(&opts.addr).await.map_err(|e| unreachable(e.to_string()))?;
            pb::Transport::tcp(stream)
        };
        let conn = Connection::builder().establish(transport).await.map_err(|e| unreachable(e.to_string()))?;
        let mut root = conn.peer_root().map_err(|e| Failure::from_pb("the server's root", &e))?;
        if let Some((user, password)) = &opts.login {
            let login = root
                .downcast::<dyn pb::login::Login>()
                .map_err(|_| Failure::usage("--login: the server's root is not a login portal"))?;
            root = login
                .login(pb::login::Credentials::new(user.clone(), password.clone()))
                .await
                .map_err(|e| Failure::from_pb("login", &e))?;
        }
        let registry = (root.interface_id() == <dyn Locator as Interface>::ID)
            .then(|| root.clone().downcast::<dyn Locator>().ok())
            .flatten();
        Ok(Target { conn, root, registry })
    }

    /// The connection to the peer.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The root's registry, if the root is one.
    pub fn registry(&self) -> Option<&Arc<dyn Locator>> {
        self.registry.as_ref()
    }

    /// How the root describes itself.
    ///
    /// # Errors
    ///
    /// The peer could not be asked.
    pub async fn root_description(&self) -> Result<InterfaceDescription, Failure> {
        describe(&self.root).await
    }

    /// The object serving interface `name` (the root, or what the registry
    /// lists under that interface), with its description and, from peers
    /// that send them, its methods' types.
    ///
    /// # Errors
    ///
    /// No such interface (exit code 2, listing what there is).
    pub async fn find(&self, name: &str) -> Result<(AnyRef, InterfaceDescription, Option<TypeTable>), Failure> {
        let (object, _) = self.find_object(name).await?;
        let handle = object.remote_handle().ok_or_else(|| Failure::usage("the object is not remote"))?;
        let (desc, types) = handle.describe_types().await.map_err(|e| Failure::from_pb("describing the object", &e))?;
        Ok((object, desc, types))
    }

    async fn find_object(&self, name: &str) -> Result<(AnyRef, InterfaceDescription), Failure> {
        let root = describe(&self.root).await?;
        if root.name == name {
            return Ok((self.root.clone(), root));
        }
        let mut known = vec![root.name.clone()];
        if let Some(registry) = &self.registry {
            let listings = registry.list().await.map_err(|e| Failure::from_pb("listing the registry", &e))?;
            let found = listings
                .iter()
                .find(|l| l.interface == name && l.name.is_none())
                .or_else(|| listings.iter().find(|l| l.interface == name));
            if let Some(l) = found {
                let object =
                    registry.lookup(l.interface_id, l.name.clone()).await.map_err(|e| Failure::from_pb(name, &e))?;
                let desc = describe(&object).await?;
                return Ok((object, desc));
            }
            known.extend(listings.into_iter().map(|l| l.interface));
        }
        Err(Failure::usage(format!("the server serves no interface `{name}` (it serves: {})", known.join(", "))))
    }
}

async fn describe(object: &AnyRef) -> Result<InterfaceDescription, Failure> {
    let handle = object.remote_handle().ok_or_else(|| Failure::usage("the object is not remote"))?;
    handle.describe().await.map_err(|e| Failure::from_pb("describing the object", &e))
}

fn tls_config(opts: &Options) -> Result<Arc<pb::tls::rustls::ClientConfig>, Failure> {
    use pb::tls::rustls::pki_types::CertificateDer;
    use pb::tls::rustls::pki_types::pem::PemObject;
    let path =
        opts.ca.as_ref().ok_or_else(|| Failure::usage("--tls needs --ca FILE.pem (the authorities to trust)"))?;
    let mut roots = pb::tls::rustls::RootCertStore::empty();
    for cert in
        CertificateDer::pem_file_iter(path).map_err(|e| Failure::usage(format!("--ca {}: {e}", path.display())))?
    {
        let cert = cert.map_err(|e| Failure::usage(format!("--ca {}: {e}", path.display())))?;
        roots.add(cert).map_err(|e| Failure::usage(format!("--ca {}: {e}", path.display())))?;
    }
    pb::tls::client_config(roots, None).map_err(|e| Failure::usage(format!("--tls: {e}")))
}
