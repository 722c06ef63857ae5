//! A counting global allocator, for the memory workload.
//!
//! Counting is off unless [`enable`] is called at the start of `main` (the
//! processes that measure memory pass `--count-alloc`), so the timed
//! workloads pay one relaxed load per allocation and nothing else. Sizes are
//! the sizes requested, not what the system allocator rounds them up to.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// The process's allocator: `System`, counting live bytes when enabled.
pub struct Counting;

static ENABLED: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// Start counting (call first thing in `main`).
pub fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

/// Whether counting is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Bytes allocated and not yet freed since counting started.
pub fn live() -> i64 {
    LIVE.load(Ordering::SeqCst) as i64
}

fn count(delta: isize) {
    if ENABLED.load(Ordering::Relaxed) {
        LIVE.fetch_add(delta, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` unchanged; the counter has no
// effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Keep freed memory in the process (glibc only): raise the heap-trim and
/// mmap thresholds, which glibc otherwise adjusts as it goes.
///
/// With glibc's defaults, every burst of 64 KiB messages returns the top of
/// the heap to the kernel and takes it back at the next burst, so each
/// message costs page faults (measured: ~5 per `echo_64k` call with pb alone,
/// more after other targets ran in the same process), and the benchmark
/// measures page-fault churn more than RPC stacks. Every process of a run
/// (client and servers, every target) gets the same setting; `--malloc-default`
/// runs without it.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tunables; called at the start of
    // main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 16 << 20);
    }
}
