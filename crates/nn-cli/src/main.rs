//! The `nn` binary: see `nn --help` and the `nn_cli` crate docs.

fn main() {
    return_freed_buffers_to_the_os();
    std::process::exit(nn_cli::main_with_args(std::env::args().collect()));
}

/// Fixes glibc's mmap threshold at 128 KiB. By default glibc raises the threshold each time a
/// large mmapped block is freed, after which the buffers of a few MB that training allocates and
/// frees again and again (evaluation chunks, per-epoch snapshots, checkpoint bytes) come from the
/// per-thread heaps and stay resident once freed; on full MNIST that was about 5 MB of peak
/// memory (`peak_rss_bytes` in `summary.json`) for no gain in speed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_freed_buffers_to_the_os() {
    // SAFETY: mallopt only sets an allocator parameter; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_freed_buffers_to_the_os() {}
