//! Store ingests in flight, pipelined: a batch's decoding and signature checks (the
//! costly, log-free part) run as soon as the state machine hands it over, while the batch
//! before it is still being written; the writes themselves happen one batch at a time, in
//! the order the batches were handed over, so each is validated against everything before
//! it (`docs/decisions.md`, "Pipelined ingest in the node").

use std::collections::VecDeque;

use interlab_protocol::{RecordId, Rejection};
use tokio::{
    sync::oneshot,
    task::{JoinError, JoinHandle},
};

use super::local_view;
use crate::{
    net::sync::LocalView,
    publisher::now_ms,
    store::{Incoming, Store, StoreError},
};

/// What one ingest gives back: the per-envelope results and the log right after it.
pub(super) type IngestOutcome = (
    Result<Vec<Result<RecordId, Rejection>>, StoreError>,
    LocalView,
);

/// Ingests in flight, oldest first.
#[derive(Default)]
pub(super) struct Ingests {
    running: VecDeque<JoinHandle<IngestOutcome>>,
    /// Fires when the newest ingest has written its batch (or given up).
    last_written: Option<oneshot::Receiver<()>>,
}

impl Ingests {
    /// Starts ingesting `batch` after every batch started before it.
    pub(super) fn start(&mut self, store: &Store, batch: Vec<Incoming>) {
        let store = store.clone();
        let before = self.last_written.take();
        let (written, last_written) = oneshot::channel();
        self.last_written = Some(last_written);
        self.running.push_back(tokio::task::spawn_blocking(move || {
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
            let results = store.ingest_prepared(prepared, now_ms());
            let view = local_view(&store);
            let _ = written.send(());
            (results, view)
        }));
    }

    /// The outcome of the oldest ingest; pending while none runs. Cancel-safe: the
    /// ingest leaves the queue only when its outcome is returned.
    pub(super) async fn next(&mut self) -> Result<IngestOutcome, JoinError> {
        let Some(oldest) = self.running.front_mut() else {
            return std::future::pending().await;
        };
        let outcome = oldest.await;
        self.running.pop_front();
        outcome
    }

    /// Waits until every ingest in flight has finished its transaction.
    pub(super) async fn finish(&mut self) {
        while let Some(h) = self.running.pop_front() {
            let _ = h.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use interlab_protocol::testkit::Workload;

    /// A one-record batch whose record follows the last of a large batch handed over just
    /// before it: it is prepared long before the large one, and written first it would
    /// have no predecessor in the log.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_is_written_after_the_one_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let mut work = Workload::new(7, 1);
        let decoded = |batch: Vec<Vec<u8>>| -> Vec<Incoming> {
            batch
                .into_iter()
                .map(|b| Incoming::decode(b).unwrap())
                .collect()
        };
        let large = decoded(work.take(3000));
        let next = decoded(work.take(1));
        let mut ingests = Ingests::default();
        ingests.start(&store, large);
        ingests.start(&store, next);
        let (first, _) = ingests.next().await.unwrap();
        let first = first.unwrap();
        assert_eq!(first.len(), 3000);
        assert!(first.iter().all(Result::is_ok));
        let (second, view) = ingests.next().await.unwrap();
        assert_eq!(second.unwrap()[0].as_ref().map(|_| ()), Ok(()));
        assert_eq!(
            view.heads.values().map(|(seq, _)| seq + 1).sum::<u64>(),
            3001
        );
        ingests.finish().await;
    }
}
