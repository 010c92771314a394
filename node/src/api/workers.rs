//! The threads that compute reports, below the node's own work.
//!
//! Three tiers of CPU priority (Linux `nice`, set per thread):
//!
//! - the peer network's thread and runtime keep the process's priority: gossip, sync and
//!   ingest are what the network depends on;
//! - the HTTP API's runtime runs at [`API_NICE`]: a reader flood slows readers first;
//! - reading snapshots and computing reports (tens of milliseconds of CPU each, back to
//!   back while the log moves) run on a small pool at [`REPORT_NICE`], below both.
//!
//! A thread inherits the priority of the thread that starts it and cannot raise it back,
//! so the network's thread must be started from a thread at the process's priority
//! (`runtime::start` run by `block_on` on the main thread does this). Elsewhere than
//! Linux the priorities are left as they are; the computation limit still holds.

/// The `nice` value of a report thread (0 is normal, 19 the lowest).
pub(super) const REPORT_NICE: i32 = 10;

/// The `nice` value of the API runtime's threads.
pub const API_NICE: i32 = 5;

/// The node's HTTP API runtime: a multi-threaded tokio runtime whose worker and blocking
/// threads run at [`API_NICE`].
pub fn api_runtime(name: &str) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name(name)
        .on_thread_start(|| lower_this_thread(API_NICE))
        .enable_all()
        .build()
}

/// A pool of `threads` report threads at [`REPORT_NICE`].
pub(super) fn pool(threads: usize) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("interlab-report-{i}"))
        .start_handler(|_| lower_this_thread(REPORT_NICE))
        .build()
}

/// Lowers the calling thread's scheduling priority to `nice` (never raises it).
#[cfg(target_os = "linux")]
fn lower_this_thread(nice: i32) {
    // On Linux, PRIO_PROCESS with a thread id sets that thread's nice value alone.
    let tid = rustix::thread::gettid();
    let now = rustix::process::getpriority_process(Some(tid)).unwrap_or(nice);
    if now >= nice {
        return;
    }
    if let Err(e) = rustix::process::setpriority_process(Some(tid), nice) {
        tracing::debug!("thread keeps its priority {now}: {e}");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_thread(_nice: i32) {}

/// The calling thread's nice value, where the platform tells it.
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn this_thread_nice() -> Option<i32> {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::{REPORT_NICE, pool, this_thread_nice};

    #[test]
    fn report_threads_run_below_the_callers_priority() {
        let caller = this_thread_nice().unwrap();
        let p = pool(1).unwrap();
        let inside = p.install(this_thread_nice).unwrap();
        assert_eq!(inside, REPORT_NICE.max(caller));
        assert_eq!(
            this_thread_nice().unwrap(),
            caller,
            "the caller keeps its own"
        );
    }
}
