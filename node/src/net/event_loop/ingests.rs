//! Store ingests, pipelined or in place.
//!
//! A batch's decoding and signature checks (the costly, log-free part) run as soon as the
//! state machine hands it over, on a blocking thread, while the batch before it is still
//! being written; the writes themselves happen one batch at a time, in the order the
//! batches were handed over, so each is validated against everything before it
//! (`docs/decisions.md`, "Pipelined ingest in the node").
//!
//! A small batch that finds nothing else in flight (a gossiped record, the common case)
//! is ingested in place, on the event loop's own thread: handing it to a blocking thread
//! and back costs two thread wake-ups, and on busy cores each can wait for a scheduler
//! tick (`docs/decisions.md`, "Gossip ingested in place").

use std::collections::VecDeque;

use interlab_protocol::{RecordId, Rejection};
use tokio::{
    runtime::{Handle, RuntimeFlavor},
    sync::oneshot,
    task::{JoinError, JoinHandle},
};

use super::local_view;
use crate::{
    net::sync::LocalView,
    publisher::now_ms,
    store::{Incoming, Prepared, Store, StoreError},
};

/// What one ingest gives back: the per-envelope results and the log right after it.
pub(super) type IngestOutcome = (
    Result<Vec<Result<RecordId, Rejection>>, StoreError>,
    LocalView,
);

/// Batches of at most this many envelopes may be ingested in place. Larger ones (sync
/// ranges) are prepared on a blocking thread, where their signature checks overlap the
/// write before them and do not hold up the event loop.
const IN_PLACE_MAX: usize = 8;

/// An ingest that ended without an outcome.
#[derive(Debug, thiserror::Error)]
pub(super) enum IngestFailed {
    /// The blocking task failed (it panicked or was cancelled).
    #[error("{0}")]
    Task(#[from] JoinError),
    /// The ingest in place panicked; its transaction was dropped as it unwound.
    #[error("the ingest panicked; nothing of the batch was written")]
    Panicked,
}

/// Ingests in flight, oldest first.
#[derive(Default)]
pub(super) struct Ingests {
    /// Outcomes of ingests done in place, not yet returned. Each is older than every
    /// ingest in `running`: a batch is done in place only when `running` is empty.
    done: VecDeque<Result<IngestOutcome, IngestFailed>>,
    running: VecDeque<JoinHandle<IngestOutcome>>,
    /// Fires when the newest ingest has written its batch (or given up).
    last_written: Option<oneshot::Receiver<()>>,
}

impl Ingests {
    /// Starts ingesting `batch` after every batch started before it: in place when it is
    /// small, nothing else is being ingested, and the runtime has other workers to take
    /// over this one's tasks meanwhile; else on a blocking thread.
    pub(super) fn start(&mut self, store: &Store, batch: Vec<Incoming>) {
        let in_place = self.running.is_empty()
            && batch.len() <= IN_PLACE_MAX
            && Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
        if in_place {
            let outcome = tokio::task::block_in_place(|| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    write(store, Store::prepare_incoming(batch))
                }))
            });
            self.done
                .push_back(outcome.map_err(|_| IngestFailed::Panicked));
            return;
        }
        let store = store.clone();
        let before = self.last_written.take();
        let (written, last_written) = oneshot::channel();
        self.last_written = Some(last_written);
        self.running.push_back(tokio::task::spawn_blocking(move || {
            // A large or queued batch is heavy work: never in the real-time class.
            crate::net::realtime::normal();
            let prepared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Store::prepare_incoming(batch)
            }));
            // Whatever happened, this batch's turn comes after the one before it: a task
            // that fails in `prepare` still waits, so that the batch after it cannot
            // overtake an earlier one still writing.
            if let Some(before) = before {
                // An error means the earlier task dropped its sender unsent: it panicked
                // while writing, and its transaction was dropped as it unwound.
                let _ = before.blocking_recv();
            }
            let prepared = match prepared {
                Ok(p) => p,
                Err(panic) => {
                    let _ = written.send(());
                    std::panic::resume_unwind(panic);
                }
            };
            let outcome = write(&store, prepared);
            let _ = written.send(());
            outcome
        }));
    }

    /// The outcome of the oldest ingest; pending while none runs. Cancel-safe: the
    /// ingest leaves the queue only when its outcome is returned.
    pub(super) async fn next(&mut self) -> Result<IngestOutcome, IngestFailed> {
        if let Some(done) = self.done.pop_front() {
            return done;
        }
        let Some(oldest) = self.running.front_mut() else {
            return std::future::pending().await;
        };
        let outcome = oldest.await;
        self.running.pop_front();
        Ok(outcome?)
    }

    /// Waits until every ingest in flight has finished its transaction.
    pub(super) async fn finish(&mut self) {
        while let Some(h) = self.running.pop_front() {
            let _ = h.await;
        }
    }
}

/// Writes a prepared batch; its results and the log right after it.
fn write(store: &Store, prepared: Prepared) -> IngestOutcome {
    (store.ingest_prepared(prepared, now_ms()), local_view(store))
}

#[cfg(test)]
mod tests {
    use super::*;
    use interlab_protocol::testkit::Workload;

    fn decoded(batch: Vec<Vec<u8>>) -> Vec<Incoming> {
        batch
            .into_iter()
            .map(|b| Incoming::decode(b).unwrap())
            .collect()
    }

    /// Records in the log a view describes.
    fn records(view: &LocalView) -> u64 {
        view.heads.values().map(|(seq, _)| seq + 1).sum()
    }

    fn records_in(store: &Store) -> u64 {
        records(&local_view(store))
    }

    /// A fresh store, a one-author workload and no ingest in flight.
    fn fixture() -> (tempfile::TempDir, Store, Workload, Ingests) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        (dir, store, Workload::new(7, 1), Ingests::default())
    }

    fn written(outcome: Result<IngestOutcome, IngestFailed>) -> usize {
        let (results, _) = outcome.unwrap();
        let results = results.unwrap();
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        results.len()
    }

    /// A one-record batch whose record follows the last of a large batch handed over just
    /// before it: it is prepared long before the large one, and written first it would
    /// have no predecessor in the log.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_is_written_after_the_one_before_it() {
        let (_dir, store, mut work, mut ingests) = fixture();
        let large = decoded(work.take(3000));
        let next = decoded(work.take(1));
        ingests.start(&store, large);
        ingests.start(&store, next);
        assert!(
            ingests.done.is_empty(),
            "neither batch was ingested in place"
        );
        let (first, _) = ingests.next().await.unwrap();
        let first = first.unwrap();
        assert_eq!(first.len(), 3000);
        assert!(first.iter().all(Result::is_ok));
        let (second, view) = ingests.next().await.unwrap();
        assert_eq!(second.unwrap()[0].as_ref().map(|_| ()), Ok(()));
        assert_eq!(records(&view), 3001);
        ingests.finish().await;
    }

    /// A gossiped record with nothing in flight is written before `start` returns; the
    /// outcomes still come back in the order the batches were handed over, whichever way
    /// each was ingested.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_batch_with_nothing_in_flight_is_written_in_place_and_settles_in_order() {
        let (_dir, store, mut work, mut ingests) = fixture();

        ingests.start(&store, decoded(work.take(1)));
        assert_eq!(records_in(&store), 1, "written in place");
        // A sync range is too large to go in place; a record after it waits its turn
        // behind it, though the first outcome has not been taken yet.
        ingests.start(&store, decoded(work.take(500)));
        ingests.start(&store, decoded(work.take(1)));
        assert_eq!(ingests.running.len(), 2);

        assert_eq!(written(ingests.next().await), 1);
        assert_eq!(written(ingests.next().await), 500);
        assert_eq!(written(ingests.next().await), 1);
        assert_eq!(records_in(&store), 502);
        // Nothing in flight again: in place.
        ingests.start(&store, decoded(work.take(2)));
        assert_eq!(records_in(&store), 504);
        assert_eq!(written(ingests.next().await), 2);
        ingests.finish().await;
    }

    /// A runtime with one thread has no other worker to take over while this one
    /// blocks: the batch goes to a blocking thread.
    #[tokio::test(flavor = "current_thread")]
    async fn on_a_single_threaded_runtime_nothing_is_ingested_in_place() {
        let (_dir, store, mut work, mut ingests) = fixture();
        ingests.start(&store, decoded(work.take(1)));
        assert!(ingests.done.is_empty());
        assert_eq!(ingests.running.len(), 1);
        assert_eq!(written(ingests.next().await), 1);
    }
}
