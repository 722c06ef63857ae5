//! Live mirrors by (connection id, view id): a view sent twice on one
//! connection arrives as the same mirror (one subscription per peer).
//!
//! The registry holds type-erased weak pointers, so it knows nothing of the
//! cache types that register in it.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};

type MirrorMap = HashMap<(u64, u64), Weak<dyn Any + Send + Sync>>;
static MIRRORS: LazyLock<Mutex<MirrorMap>> = LazyLock::new(Mutex::default);

/// The live mirror registered under `key`, if it is a `T`.
pub(crate) fn find<T: Any + Send + Sync>(key: (u64, u64)) -> Option<Arc<T>> {
    let weak = MIRRORS.lock().unwrap().get(&key)?.clone();
    weak.upgrade()?.downcast::<T>().ok()
}

/// Register `mirror` under `key` (replacing a dead one).
pub(crate) fn register<T: Any + Send + Sync>(key: (u64, u64), mirror: &Arc<T>) {
    let mut map = MIRRORS.lock().unwrap();
    map.retain(|_, w| w.strong_count() > 0);
    let weak: Weak<dyn Any + Send + Sync> = Arc::downgrade(mirror) as Weak<dyn Any + Send + Sync>;
    map.insert(key, weak);
}

/// Forget `key` if its mirror is gone.
pub(crate) fn forget(key: (u64, u64)) {
    let mut map = MIRRORS.lock().unwrap();
    if map.get(&key).is_some_and(|w| w.strong_count() == 0) {
        map.remove(&key);
    }
}
