//! Whether the code running is a peer's call: calls it makes on a session
//! whose link is down wait for the resume instead of failing fast (a relay
//! forwarding), and so do a stream's pulls (`patient`).

thread_local! {
    /// Set while a peer's call is being polled on this thread.
    static ON_BEHALF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f` (a poll of a peer's call) marked as on behalf of the peer.
pub(crate) fn on_behalf<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            ON_BEHALF.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(ON_BEHALF.with(|c| c.replace(true)));
    f()
}

/// Whether the code running is a peer's call (its method's own future, not
/// tasks it spawned): calls it makes on another session wait for that
/// session to resume instead of failing fast, so a relay forwards a call
/// across a blip of its upstream link instead of failing it.
pub(crate) fn on_behalf_of_peer() -> bool {
    ON_BEHALF.with(std::cell::Cell::get)
}

/// `future`, whose calls wait for their session to resume instead of
/// failing fast while its link is down (as a peer's call's do): a stream's
/// pulls.
pub(crate) fn patient<F: std::future::Future>(future: F) -> impl std::future::Future<Output = F::Output> {
    let mut future = Box::pin(future);
    std::future::poll_fn(move |cx| on_behalf(|| future.as_mut().poll(cx)))
}
