//! The server side of calls: a call from the peer is looked up, started and
//! answered here, and nowhere else.
//!
//! The contract with the layer above ([`Dispatch`]): `call` decodes the
//! arguments and returns the method's future; the future sends the
//! method's result through its [`Reply`] and resolves to `Ok(())`, or
//! resolves to the error this module sends instead. A panic in the method
//! is caught and answered as [`Error::Panicked`].

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;

use bytes::Bytes;
use futures_util::FutureExt;

use super::behalf::on_behalf;
use super::core::ConnCore;
use super::link::{self, CallFuture, Link, Reply};
use crate::Error;

/// Start the peer's call `req` of `method` on our export `target` (no
/// `req`: a oneway call, answered with nothing). The method runs inline up
/// to its first suspension point, so calls start in the order they
/// arrived; only a call that has to wait is spawned.
pub(super) fn start(
    core: &Arc<ConnCore>,
    link: &Arc<dyn Link>,
    req: Option<u64>,
    target: u64,
    method: u32,
    args: &Bytes,
) {
    let fault = |e: Error| refuse(core, req, target, method, &e);
    let object = core.exports.lock().unwrap().get(target).cloned();
    let Some(object) = object else {
        return fault(Error::UnknownObject { id: target });
    };
    if core.draining.load(Ordering::Acquire) {
        return fault(Error::ShuttingDown);
    }
    let limit = core.config.max_in_flight;
    if core.in_flight.fetch_add(1, Ordering::AcqRel) >= limit {
        core.in_flight.fetch_sub(1, Ordering::AcqRel);
        return fault(Error::Busy);
    }
    // From here the reply holds the in-flight slot and gives it back.
    let reply = match req {
        Some(req) => Reply::new(link.clone(), req),
        None => Reply::oneway(link.clone()),
    };
    let started: Result<CallFuture, Error> = link::decode_with_refs(link, args, || {
        std::panic::catch_unwind(AssertUnwindSafe(|| object.call(method, args, reply)))
            .unwrap_or_else(|p| Err(Error::Panicked { message: panic_message(p) }))
    });
    let call = match started {
        Ok(call) => call,
        Err(e) => return fault(e),
    };
    drive(call, || {
        let core = core.clone();
        move |e: Error| refuse(&core, req, target, method, &e)
    });
}

/// Answer call `req` with `e`; a oneway call (no `req`) gets nothing, and
/// the failure is only logged.
fn refuse(core: &ConnCore, req: Option<u64>, target: u64, method: u32, e: &Error) {
    match req {
        Some(req) => {
            let _ = core.send(link::fault_frame(req, e));
        }
        None => tracing::debug!(conn = core.id, target, method, error = %e, "oneway call failed; nothing is sent back"),
    }
}

/// Run a started call to completion: `fault()` makes what sends the error
/// it resolves to (a panic is [`Error::Panicked`]); it is called only for a
/// call that fails or has to wait, so a call that completes at once costs
/// nothing more.
///
/// The call's future is polled once inline: most calls complete there, and
/// then no task is made for them (and calls start in the order they
/// arrived). A no-op waker is enough for the first poll: if the call is
/// pending, the spawned task polls it again at once with its own.
pub(super) fn drive<F: FnOnce(Error) + Send + 'static>(mut call: CallFuture, fault: impl FnOnce() -> F) {
    let waker = futures_util::task::noop_waker();
    let first = std::panic::catch_unwind(AssertUnwindSafe(|| {
        on_behalf(|| call.as_mut().poll(&mut std::task::Context::from_waker(&waker)))
    }));
    let done = match first {
        Ok(Poll::Pending) => None,
        Ok(Poll::Ready(result)) => Some(result),
        Err(p) => Some(Err(Error::Panicked { message: panic_message(p) })),
    };
    if let Some(result) = done {
        // The reply gives its in-flight slot back before a fault goes out.
        drop(call);
        if let Err(e) = result {
            fault()(e);
        }
        return;
    }
    let fault = fault();
    tokio::spawn(async move {
        let call = std::future::poll_fn(move |cx| on_behalf(|| call.as_mut().poll(cx)));
        let result = match AssertUnwindSafe(call).catch_unwind().await {
            Ok(result) => result,
            Err(p) => Err(Error::Panicked { message: panic_message(p) }),
        };
        if let Err(e) = result {
            fault(e);
        }
    });
}

pub(super) fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}
