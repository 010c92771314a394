//! The background scrub task: a batch of stored records re-verified every interval
//! ([`Store::scrub`]), off the async threads. Damage it finds is quarantined by the
//! store; the event loop notices ([`Store::quarantines`]) and fetches the records again.

use crate::store::{ScrubConfig, Store};

/// Runs until aborted, going through the store again and again.
pub(super) async fn run(store: Store, config: ScrubConfig) {
    let mut next = None;
    loop {
        tokio::time::sleep(config.interval()).await;
        let s = store.clone();
        let batch = config.batch();
        let job = move || {
            // Re-verifying a batch is heavy work: never in the real-time class.
            super::realtime::normal();
            s.scrub(next, batch)
        };
        match tokio::task::spawn_blocking(job).await {
            Ok(Ok(step)) => {
                if step.next.is_none() && next.is_some() {
                    tracing::debug!("scrub: a pass over the store is complete");
                }
                next = step.next;
                for d in step.found {
                    tracing::warn!("scrub: record {d}; quarantined, fetching it again from peers");
                }
            }
            Ok(Err(e)) => tracing::error!("scrub: {e}"),
            Err(e) => tracing::error!("scrub task failed: {e}"),
        }
    }
}
