//! References: objects by reference across connections.
//!
//! | file | owns |
//! | --- | --- |
//! | `info.rs` | what is known of a method ([`MethodInfo`]) |
//! | `heal.rs` | the hook through which healing attaches to handles |
//! | `proxy.rs` | [`ProxyHandle`], what every generated proxy calls through |
//! | `interface.rs` | the [`Interface`] trait `#[remote_interface]` implements |
//! | `reference.rs` | [`Ref`] and how an `Arc<dyn Iface>` crosses a connection |
//! | `anyref.rs` | [`AnyRef`] and the process's table of interfaces |
//! | `describe.rs` | interface descriptions peers compare |
//! | `dispatcher.rs` | an exported object as its connection sees it |
//! | `replay.rs` | handles healed by replaying how they were obtained |
//! | `root.rs` | root objects and [`IntoRoot`] |
//! | `types.rs` | type descriptions of methods, for tools |

pub(crate) mod anyref;
pub mod describe;
mod dispatcher;
pub(crate) mod heal;
mod info;
mod interface;
pub(crate) mod proxy;
mod reference;
pub(crate) mod replay;
mod root;
pub mod types;

pub use anyref::{AnyRef, InterfaceEntry, interface_name};
pub(crate) use dispatcher::dispatcher;
pub use info::MethodInfo;
pub use interface::Interface;
pub use proxy::ProxyHandle;
pub use reference::{Ref, SerArc};
pub use replay::track_replay;
pub use root::{IntoRoot, Root, root};
