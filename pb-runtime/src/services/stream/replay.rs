//! Streams healed by replaying the `#[pb(replay)]` method that returned
//! them, started again where their consumer stopped.

use std::sync::{Arc, Mutex, Weak};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::inner::Inner;
use super::protocol::RESUME;
use super::remote::{Shared, top_up};
use super::value::Stream;
use crate::connection::send_call;
use crate::references::ProxyHandle;
use crate::references::heal::{Heal, HealFuture, HealSlot};
use crate::references::replay::application_error;
use crate::{Connection, Error};

/// A `#[pb(replay)]` method `method` of `parent` returned the stream
/// `child`: when its session cannot resume, ask the method again with the
/// same arguments and start the fresh stream at the next item. Called by
/// generated code.
#[doc(hidden)]
pub fn track_replay_stream<T, A, E>(
    parent: &ProxyHandle,
    child: &Stream<T>,
    method: u32,
    method_name: &'static str,
    args: A,
) where
    T: Serialize + DeserializeOwned + Send + 'static,
    A: Serialize + Send + Sync + 'static,
    E: DeserializeOwned + Send + 'static,
{
    let Some(healer) = parent.healer() else { return };
    let shared = match &*child.inner.lock().unwrap() {
        Inner::Remote(remote) => remote.shared().clone(),
        _ => return,
    };
    let path = format!("{}.{method_name}() -> stream", parent.interface());
    let target = Box::new(StreamTarget::<T, A, E> {
        shared: Arc::downgrade(&shared),
        parent: parent.clone(),
        method,
        args: Arc::new(args),
        _e: std::marker::PhantomData,
    });
    healer.track(&mut |slot: HealSlot| shared.lock().unwrap().set_heal(slot), path, target);
}

struct StreamTarget<T, A, E> {
    shared: Weak<Mutex<Shared<T>>>,
    parent: ProxyHandle,
    method: u32,
    args: Arc<A>,
    _e: std::marker::PhantomData<fn() -> E>,
}

impl<T, A, E> Heal for StreamTarget<T, A, E>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    A: Serialize + Send + Sync + 'static,
    E: DeserializeOwned + Send + 'static,
{
    fn is_alive(&self) -> bool {
        self.shared.upgrade().is_some_and(|s| s.lock().unwrap().is_open())
    }

    fn heal(&self, _conn: Option<Connection>) -> HealFuture {
        let (weak, parent, method, args) = (self.shared.clone(), self.parent.clone(), self.method, self.args.clone());
        Box::pin(async move {
            let fresh = match parent.call::<A, Result<Stream<T>, E>>(method, &*args).await? {
                Ok(fresh) => fresh,
                Err(e) => return Err(application_error(e)),
            };
            let Inner::Remote(fresh) = fresh.take() else {
                return Err(Error::protocol("the replayed method returned a local stream"));
            };
            let Some(shared) = weak.upgrade() else { return Ok(()) };
            let target = fresh.shared().lock().unwrap().target();
            let next = {
                let mut s = shared.lock().unwrap();
                if !s.is_open() {
                    return Ok(());
                }
                s.leave()
            };
            // The fresh producer starts at the item the consumer needs next;
            // one that cannot (no cursor) ends the stream with `Lost`.
            let started = send_call::<_, Result<(), Error>>(&target, RESUME, || Some("resume"), &(next,)).await;
            let waker = {
                let mut s = shared.lock().unwrap();
                match started {
                    Ok(Ok(())) => s.adopt(target),
                    Ok(Err(_)) | Err(_) => s.stop(Some(Error::Lost { last: next })),
                }
                s.take_waker()
            };
            drop(fresh);
            if let Some(w) = waker {
                w.wake();
            }
            top_up(&shared);
            Ok(())
        })
    }

    fn refuse(&self, error: Error) {
        if let Some(shared) = self.shared.upgrade() {
            let waker = {
                let mut s = shared.lock().unwrap();
                let _ = error;
                let last = s.arrived();
                s.stop(Some(Error::Lost { last }));
                s.take_waker()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}
