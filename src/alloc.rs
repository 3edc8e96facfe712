//! The process's dealings with glibc's allocator, the only user of `libc`: one arena for the
//! whole process, and handing freed memory back to the system after a pass. Elsewhere (musl,
//! other systems) both do nothing.
//!
//! It does not limit what tend allocates; bounded batches and sled's cache size do that.

/// glibc gives each thread that allocates its own arena, and an arena keeps its own high-water
/// mark. A first sync hands every batch from thread to thread (read on the runtime, parsed on
/// one blocking thread, stored on another), so each arena peaks separately: measured on 50,000
/// messages, peak RSS was 150 MB in some runs and 240 MB in others; with one arena 135 MB every
/// time, for about a tenth more user CPU. Must run before any thread is started.
pub fn one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Returns the free memory at the top and in the middle of the heap to the system. glibc
/// keeps what a pass freed (a first sync's batches, the threads a pass read) for reuse, so a
/// `tend run` that has since gone idle would keep its busiest pass's size for hours; a pass
/// is minutes apart at the soonest, and this takes a few milliseconds.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
