//! The network's worker threads in the real-time class, when the operator asks for it
//! (`net_realtime`) and the kernel allows it.
//!
//! Why: on a machine whose cores are busy (the API answering many readers), a woken thread
//! of the normal class may wait until the running thread's slice ends, and the kernel
//! looks at slices only on its tick: 4 ms at 250 Hz. Gossip wakes a network thread on
//! every hop, so through a loaded node its tail grew by a tick (`docs/decisions.md`,
//! "The network's threads in the real-time class"). A thread of the lowest real-time
//! priority (`SCHED_FIFO` 1) preempts every normal thread as soon as it wakes.
//!
//! Only threads while they serve as the network runtime's workers are raised (at their
//! first unpark, and again after [`normal`]): the event loop, the connections, the
//! in-place ingest of small gossip batches and the answers to sync requests. Every thread
//! the runtime starts begins in the normal class ([`install`]), because a new thread
//! inherits its creator's class; the blocking jobs (the scrub, pipelined ingests) call
//! [`normal`] first, because tokio's workers and blocking threads come from one pool.
//! The kernel keeps 5 % of each second for normal threads (`sched_rt_runtime_us`).

use std::cell::Cell;

/// Why the network's threads could not enter the real-time class.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RealtimeError {
    /// The process may not use real-time priorities.
    #[error(
        "the kernel refused real-time scheduling (no permission): give the node \
         CAP_SYS_NICE, or a real-time priority limit of at least 1 (systemd \
         `LimitRTPRIO=1`, `rtprio 1` in /etc/security/limits.conf, or `prlimit --rtprio=1`); \
         a container needs the grant as well (Docker: `--cap-add SYS_NICE`)"
    )]
    NotPermitted,
    /// Any other refusal.
    #[error("the kernel refused real-time scheduling: {0}")]
    Refused(String),
    /// The platform has no such class here.
    #[error("real-time scheduling is only supported on Linux")]
    Unsupported,
}

thread_local! {
    /// Whether this thread was last put in the real-time class by [`on_worker_unpark`].
    static RAISED: Cell<bool> = const { Cell::new(false) };
}

/// Puts the calling thread in the real-time class, lowest priority.
#[cfg(target_os = "linux")]
pub(crate) fn raise() -> Result<(), RealtimeError> {
    use thread_priority::{
        RealtimeThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Min,
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
    )
    .map_err(|e| match e {
        thread_priority::Error::OS(code) if code == rustix::io::Errno::PERM.raw_os_error() => {
            RealtimeError::NotPermitted
        }
        thread_priority::Error::OS(code) => {
            RealtimeError::Refused(std::io::Error::from_raw_os_error(code).to_string())
        }
        other => RealtimeError::Refused(other.to_string()),
    })
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn raise() -> Result<(), RealtimeError> {
    Err(RealtimeError::Unsupported)
}

/// Puts the calling thread back in the normal class, at the nice value it had, if it is in
/// the real-time class (by [`on_worker_unpark`], or inherited from the thread that
/// started it).
pub(crate) fn normal() {
    RAISED.set(false);
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        if !is_realtime() {
            return;
        }
        // The crate sets the policy and then a nice value (0 is the only one it can
        // name): that second step may be refused, and must not move the thread's nice.
        let tid = rustix::thread::gettid();
        let nice = rustix::process::getpriority_process(Some(tid)).ok();
        let _ = set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Os(Default::default()),
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other),
        );
        if let Some(nice) = nice {
            let _ = rustix::process::setpriority_process(Some(tid), nice);
        }
        if is_realtime() {
            tracing::warn!("a network thread could not leave the real-time class");
        }
    }
}

/// Starts the threads of `builder`'s runtime in the normal class and raises its workers
/// on their first unpark.
pub(crate) fn install(builder: &mut tokio::runtime::Builder) {
    builder
        .on_thread_start(normal)
        .on_thread_unpark(on_worker_unpark);
}

/// Checks that this process may use the real-time class: raises the calling thread and
/// puts it back.
pub(crate) fn probe() -> Result<(), RealtimeError> {
    raise()?;
    normal();
    Ok(())
}

/// The network runtime's `on_thread_unpark` hook: raises the thread the first time it
/// serves as a worker, and again after [`normal`].
pub(crate) fn on_worker_unpark() {
    if RAISED.get() {
        return;
    }
    // Marked even when refused: a refusal is not retried on every wake-up.
    RAISED.set(true);
    if let Err(e) = raise() {
        tracing::debug!("a network worker stays in the normal class: {e}");
    }
}

/// Whether the kernel has the calling thread in a real-time class.
#[cfg(target_os = "linux")]
fn is_realtime() -> bool {
    matches!(
        thread_priority::thread_schedule_policy(),
        Ok(thread_priority::ThreadSchedulePolicy::Realtime(_))
    )
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_worker_is_raised_once_and_put_back_by_normal_or_the_refusal_says_how_to_permit_it() {
        std::thread::spawn(|| {
            assert!(!is_realtime());
            match probe() {
                Ok(()) => {
                    // The probe leaves the thread as it found it.
                    assert!(!is_realtime());
                    on_worker_unpark();
                    assert!(is_realtime());
                    on_worker_unpark();
                    assert!(is_realtime());
                    normal();
                    assert!(!is_realtime());
                    on_worker_unpark();
                    assert!(is_realtime());
                    normal();
                }
                Err(e) => {
                    assert_eq!(e, RealtimeError::NotPermitted);
                    assert!(e.to_string().contains("CAP_SYS_NICE"), "{e}");
                    on_worker_unpark();
                    assert!(!is_realtime());
                }
            }
            // A thread never raised is left alone.
            normal();
            assert!(!is_realtime());
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    }

    fn nice() -> Option<i32> {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok()
    }

    #[test]
    fn back_in_the_normal_class_a_thread_keeps_its_nice_value() {
        std::thread::spawn(|| {
            crate::api::workers::lower_this_thread(5);
            assert_eq!(nice(), Some(5));
            on_worker_unpark();
            let raised = is_realtime();
            normal();
            assert!(!is_realtime(), "raised: {raised}");
            assert_eq!(nice(), Some(5), "raised: {raised}");
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    }

    #[test]
    fn a_raised_worker_starts_its_blocking_threads_in_the_normal_class() {
        let allowed = std::thread::spawn(|| probe().is_ok()).join().unwrap();
        // A worker of a runtime built with `install`, and a blocking thread it starts.
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(1).enable_all();
        install(&mut builder);
        let rt = builder.build().unwrap();
        let (worker, blocking) = rt.block_on(async {
            tokio::spawn(async {
                // The worker parks while it waits, and is raised when it unparks.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                let worker = is_realtime();
                let blocking = tokio::task::spawn_blocking(is_realtime).await.unwrap();
                (worker, blocking)
            })
            .await
            .unwrap()
        });
        assert_eq!(worker, allowed);
        // A new thread inherits its creator's class; `install` puts it back.
        assert!(!blocking, "allowed: {allowed}");
    }
}
