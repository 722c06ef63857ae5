//! The link's side of references during one jelly encode or decode.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use super::super::link::{JellyRef, Link, RemoteRef};
use crate::Error;
use crate::wire::twisted::jelly::{Received, RefForm, hook};

/// The hook a Twisted link lends to a jelly decode.
///
/// Each `["remote", luid]` occurrence becomes a fresh counted
/// [`RemoteRef`], released with one `decref` (Twisted counts one per
/// occurrence sent); a `["dereference", n]` of an occurrence already met
/// is the same reference. A `["local", luid]` is one of our exports sent
/// back, and resolves to it with no count change (as Twisted's
/// `unjellyLocal`).
///
/// Encoding, references never reach the hook: `Arc<dyn Iface>` exports
/// through the link's `RefCx`, lent beside it (see `references`).
pub(super) struct Refs {
    link: Arc<dyn Link>,
    /// The reference made for each luid met, for its dereferences.
    seen: RefCell<HashMap<u64, Arc<RemoteRef>>>,
    /// The luid of each counted reference made.
    imported: RefCell<Vec<u64>>,
}

impl Refs {
    pub(super) fn new(link: Arc<dyn Link>) -> Refs {
        Refs { link, seen: RefCell::default(), imported: RefCell::default() }
    }

    /// The luids of the counted references made so far.
    pub(super) fn take_imported(&self) -> Vec<u64> {
        self.imported.take()
    }
}

impl hook::RefHook for Refs {
    fn export(&self, _object: &dyn Any) -> Result<RefForm, Error> {
        Err(Error::protocol("a reference type that pb does not know cannot go to a Twisted peer"))
    }

    fn import(&self, received: Received) -> Result<Box<dyn Any>, Error> {
        let luid = match received.form {
            RefForm::Local(id) => return Ok(Box::new(JellyRef::Local(self.link.exported(id)?))),
            RefForm::Remote(luid) => luid,
        };
        let mut seen = self.seen.borrow_mut();
        let target = match seen.get(&luid) {
            Some(target) if !received.first => target.clone(),
            _ => {
                let target = self.link.import(luid);
                self.imported.borrow_mut().push(luid);
                seen.insert(luid, target.clone());
                target
            }
        };
        Ok(Box::new(JellyRef::Remote(target)))
    }
}
