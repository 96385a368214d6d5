//! rally-chat: the real-time chat server (see the crate's library for how it works).

use clap::Parser;
use rally_chat::server::{run, Options};

fn main() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tune_glibc_malloc();
    serve();
}

#[tokio::main]
async fn serve() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let options = Options::parse();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tokio::spawn(give_back_freed_memory());
    if let Err(e) = run(options).await {
        eprintln!("rally-chat: {e}");
        std::process::exit(1);
    }
    // Straight out: nothing is left to wait for once the history is flushed.
    std::process::exit(0);
}

/// glibc's allocator settings for a server that must give back what a burst took.
/// - `tcache_count=0`: no per-thread cache. Each thread keeps up to 7 freed chunks of
///   each small size for itself; to the heap they are in use, so neither coalescing nor
///   `malloc_trim` can release the pages they sit on, and a storm of malformed input
///   leaves them scattered over the heaps. `storm`'s RSS 10 s after: +19 to +28 % with
///   glibc's defaults, +9 to +10 % without the cache. The price is the heap's lock on
///   every small allocation; the echo and broadcast benchmarks could not tell the two
///   apart (their run-to-run spread on 2 shared cores is 30 %).
/// - `mmap_threshold=131072`: a fixed threshold. By default freeing an mmapped chunk
///   (an oversize frame or POST, up to 1 MiB) raises the threshold to its size, so later
///   buffers that large come from the heaps and fragment them. Both: +5 to +7 %.
///   Limiting the number of arenas (1 or 2) did less: +16 to +25 %.
///
/// The per-thread cache can only be turned off before the process starts (there is no
/// `mallopt` for it), so the chat starts itself again with `GLIBC_TUNABLES` set, unless
/// it is already set to choose `tcache_count`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TUNABLES: &str = "glibc.malloc.tcache_count=0:glibc.malloc.mmap_threshold=131072";

/// Replaces the process by itself with `TUNABLES` added to `GLIBC_TUNABLES`, before
/// any thread starts; runs untuned if that fails.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_glibc_malloc() {
    use std::os::unix::process::CommandExt;
    let current = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    if current.contains("glibc.malloc.tcache_count") {
        return;
    }
    let tunables = match current.as_str() {
        "" => TUNABLES.to_owned(),
        other => format!("{other}:{TUNABLES}"),
    };
    let mut args = std::env::args_os();
    let name = args.next().unwrap_or_default();
    let error = std::process::Command::new("/proc/self/exe")
        .arg0(name)
        .args(args)
        .env("GLIBC_TUNABLES", tunables)
        .exec();
    eprintln!("rally-chat: could not restart with GLIBC_TUNABLES ({error}); running untuned");
}

/// How often memory freed inside the allocator's heaps is handed back to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// glibc keeps what a burst freed in the middle of its heaps (a flood of handshakes
/// that were never used, a storm of malformed requests) until asked for it: after 110 000
/// abandoned handshakes in 10 s the server kept 95 MiB, of which 3 MiB were in use.
/// Asking every few seconds walks the free lists, which is cheap next to a heap's worth
/// of resident pages nobody uses.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
async fn give_back_freed_memory() {
    let mut every = tokio::time::interval(TRIM_EVERY);
    loop {
        every.tick().await;
        // SAFETY: malloc_trim takes no pointer and only releases pages of free chunks.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}
