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

use std::sync::Arc;

use tokio::sync::{OnceCell, Semaphore};

use super::ApiError;

/// A value computed once, shared by every request that waits for it.
pub(super) type Cell<V> = Arc<OnceCell<Arc<V>>>;

/// The `nice` value of a report thread (0 is normal, 19 the lowest).
pub const REPORT_NICE: i32 = 15;

/// The `nice` value of the API runtime's threads.
pub const API_NICE: i32 = 10;

/// The node's HTTP API runtime: a multi-threaded tokio runtime whose worker and blocking
/// threads run at [`API_NICE`].
pub fn api_runtime(name: &str) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name(name)
        .on_thread_start(|| lower_this_thread(API_NICE))
        .enable_all()
        .build()
}

/// How much report work may run at once, and the threads it runs on.
#[derive(Debug)]
pub struct Limits {
    permits: Arc<Semaphore>,
    computations: usize,
    workers: rayon::ThreadPool,
}

/// The report threads could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the report threads: {0}")]
pub struct WorkersError(#[from] rayon::ThreadPoolBuildError);

impl Limits {
    /// At most `computations` report computations at once (at least one), each on a
    /// report thread of its own.
    pub fn new(computations: usize) -> Result<Limits, WorkersError> {
        let computations = computations.max(1);
        Ok(Limits {
            permits: Arc::new(Semaphore::new(computations)),
            computations,
            workers: super::workers::pool(computations)?,
        })
    }

    /// One computation per two cores (at least one): report work never takes more than
    /// half the machine, whatever the readers ask.
    pub fn half_the_cores() -> Result<Limits, WorkersError> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Limits::new(cores / 2)
    }

    /// The limit.
    pub fn computations(&self) -> usize {
        self.computations
    }

    /// Lets go of `value`; if that was its last holder, it is dropped on a report thread.
    /// Snapshots and reports are large trees of small allocations, and freeing one takes
    /// milliseconds that an HTTP handler should not spend.
    pub(crate) fn retire<T: Send + Sync + 'static>(&self, value: Arc<T>) {
        if let Some(v) = Arc::into_inner(value) {
            self.workers.spawn(move || drop(v));
        }
    }

    pub(super) fn retire_cell<V: Send + Sync + 'static>(&self, cell: Cell<V>) {
        if let Some(v) = Arc::into_inner(cell).and_then(OnceCell::into_inner) {
            self.retire(v);
        }
    }
}

/// A shared value that is retired (see [`Limits::retire`]) when the guard goes away.
pub(super) struct OffThread<'a, T: Send + Sync + 'static> {
    value: Option<Arc<T>>,
    limits: &'a Limits,
}

impl<'a, T: Send + Sync + 'static> OffThread<'a, T> {
    pub(super) fn new(value: Arc<T>, limits: &'a Limits) -> Self {
        OffThread {
            value: Some(value),
            limits,
        }
    }

    pub(super) fn arc(&self) -> Arc<T> {
        self.value
            .clone()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl<T: Send + Sync + 'static> std::ops::Deref for OffThread<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value
            .as_deref()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl<T: Send + Sync + 'static> Drop for OffThread<'_, T> {
    fn drop(&mut self) {
        if let Some(v) = self.value.take() {
            self.limits.retire(v);
        }
    }
}

/// Runs `f` on a report thread under a computation permit; 503 when none is free. The
/// permit is held until `f` returns, also when the request that asked goes away.
pub(super) async fn limited<T, F>(limits: &Limits, f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let permit = limits.permits.clone().try_acquire_owned().map_err(|_| {
        ApiError::busy(format!(
            "{} report computations are running; retry shortly",
            limits.computations
        ))
    })?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    limits.workers.spawn(move || {
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        drop(permit);
        let _ = tx.send(out);
    });
    match rx.await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Err(ApiError::internal("a report computation panicked")),
        Err(_) => Err(ApiError::internal(
            "a report computation ended without an answer",
        )),
    }
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
pub(crate) fn lower_this_thread(nice: i32) {
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
pub(crate) fn lower_this_thread(_nice: i32) {}

/// The calling thread's nice value, where the platform tells it.
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn this_thread_nice() -> Option<i32> {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok()
}

#[cfg(test)]
mod tests {
    use axum::{http::StatusCode, response::IntoResponse};

    use super::{Limits, limited};

    #[tokio::test]
    async fn a_computation_over_the_limit_is_refused_with_503_and_retry_after() {
        let limits = Limits::new(1).unwrap();
        let held = limits.permits.try_acquire().unwrap();
        let refused = limited(&limits, || Ok(1))
            .await
            .unwrap_err()
            .into_response();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()["retry-after"], "1");
        let body = axum::body::to_bytes(refused.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"], "busy");
        drop(held);
        assert_eq!(limited(&limits, || Ok(1)).await.unwrap(), 1);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod priority_tests {
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
