//! The comparability answers of a node that ingests while readers ask: each answer must
//! be exactly the report of the root it names, also when it is the newest finished one
//! served while a newer one is computed.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use interlab_protocol::{
    Digest, MemoryLog,
    governance::{self, ComparabilityQuery},
    report_digest,
    stats::ReportConfig,
    testkit::Workload,
};

use crate::{
    client::{ApiClient, ClientError, ReportQuery},
    config::{Config, NodeDir},
    keyfile,
    runtime::{self, Overrides},
};

/// The report digest of the first `n` records of `log`, computed without the node.
fn expected(log: &[Vec<u8>], n: usize, now_ms: u64, suite: Digest, round: u32) -> (Digest, Digest) {
    let mut mem = MemoryLog::new();
    let rejected = mem.ingest_all(&log[..n], now_ms);
    assert!(rejected.is_empty(), "the workload is valid: {rejected:?}");
    let mut records: Vec<_> = mem.records().cloned().collect();
    records.sort_by_key(|o| (o.record.author, o.record.seq));
    let report = governance::comparability(
        &records,
        mem.authority(),
        &Default::default(),
        &ComparabilityQuery {
            suite,
            round: Some(round),
            include_disputed: false,
        },
        &ReportConfig::default(),
    )
    .unwrap();
    (mem.evidence().root, report_digest(&report).unwrap())
}

#[test]
fn every_comparability_answer_is_the_report_of_the_root_it_names_while_the_node_ingests() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = NodeDir::new(tmp.path().join("node"));
    std::fs::create_dir_all(dir.root()).unwrap();
    keyfile::create_secret_key(&dir.key()).unwrap();
    keyfile::create_token(&dir.token()).unwrap();
    Config::default()
        .with_name("reader-probe")
        .build()
        .unwrap()
        .save(&dir.config())
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let node = rt
        .block_on(runtime::start(&dir, Overrides::default()))
        .unwrap();

    let mut work = Workload::new(23, 4);
    let log = work.take(900);
    let now = work.now_ms();
    let first = 200;
    node.store.ingest(&log[..first], now).unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, log, done) = (node.store.clone(), log.clone(), done.clone());
        std::thread::spawn(move || {
            for batch in log[first..].chunks(4) {
                store.ingest(batch, now).unwrap();
                std::thread::sleep(Duration::from_millis(2));
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let readers: Vec<_> = (0..6)
        .map(|_| {
            let (base, done) = (node.info.api.clone(), done.clone());
            std::thread::spawn(move || {
                let client = ApiClient::new(base, None);
                let mut seen = Vec::new();
                while !done.load(Ordering::SeqCst) {
                    let a = match client.comparability(ReportQuery::default()) {
                        Ok(a) => a,
                        // The limit's answer; a reader retries as Retry-After says.
                        Err(ClientError::Api { status: 503, .. }) => {
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                        Err(e) => panic!("comparability: {e}"),
                    };
                    assert_eq!(a.evidence.root, a.evidence_root);
                    seen.push((
                        a.evidence.records,
                        a.evidence_root,
                        a.report_digest,
                        a.comparability.suite,
                        a.comparability.round,
                    ));
                }
                seen
            })
        })
        .collect();
    writer.join().unwrap();
    let mut answers = BTreeMap::new();
    for r in readers {
        for (records, root, digest, suite, round) in r.join().unwrap() {
            let v = (root, digest, suite, round);
            if let Some(before) = answers.insert(records, v) {
                assert_eq!(before, v, "two answers over {records} records differ");
            }
        }
    }
    rt.block_on(node.shutdown());

    assert!(
        answers.len() > 3,
        "the readers saw {} roots: no overlap with ingest was tested",
        answers.len()
    );
    for (records, (root, digest, suite, round)) in answers {
        let (want_root, want_digest) = expected(&log, records as usize, now, suite, round);
        assert_eq!(root, want_root, "the root named with {records} records");
        assert_eq!(
            digest, want_digest,
            "the report named with the root of {records} records is that root's report"
        );
    }
}
