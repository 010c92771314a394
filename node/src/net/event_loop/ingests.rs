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
    store::{Store, StoreError},
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
    pub(super) fn start(&mut self, store: &Store, batch: Vec<Vec<u8>>) {
        let store = store.clone();
        let before = self.last_written.take();
        let (written, last_written) = oneshot::channel();
        self.last_written = Some(last_written);
        self.running.push_back(tokio::task::spawn_blocking(move || {
            let prepared = Store::prepare(batch);
            if let Some(before) = before {
                // An error means the earlier task ended without writing (it panicked);
                // this batch is then validated against whatever the log holds.
                let _ = before.blocking_recv();
            }
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
