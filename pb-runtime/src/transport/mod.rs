//! Transports: the byte streams connections run over, where servers get
//! them and how sessions open them.
//!
//! | file | owns |
//! | --- | --- |
//! | `stream.rs` | [`Transport`]: TCP, Unix, in-memory byte streams |
//! | `listen.rs` | [`Listener`]: where a server accepts transports |
//! | `connect.rs` | [`Connect`]: how a session opens one, again after each outage |
//! | `tls.rs` | TLS over TCP, both sides (feature `tls`) |
//! | `fault.rs` | fault injection for tests and demos (feature `test-util`) |

mod connect;
#[cfg(feature = "test-util")]
pub mod fault;
mod listen;
mod stream;
#[cfg(feature = "tls")]
pub mod tls;

pub(crate) use connect::Tcp;
pub use connect::{Connect, ConnectFn, TcpAddr};
pub use listen::Listener;
pub use stream::{BoxRead, BoxWrite, KEEPALIVE, Keepalive, Transport};
