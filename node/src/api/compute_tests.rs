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
    let (dir, _) = super::test_node_dir(tmp.path(), "reader-probe");
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

/// The nice value of every thread of this process whose name starts with `prefix`.
#[cfg(target_os = "linux")]
fn nice_of_threads(prefix: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.trim_end().starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name start at field 3 (state); nice is field 19.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        if let Some(nice) = after.split_whitespace().nth(16) {
            out.push(nice.parse().unwrap());
        }
    }
    out
}

#[cfg(target_os = "linux")]
#[test]
fn the_network_runs_above_the_api_and_the_api_above_report_computations() {
    use super::workers::{API_NICE, REPORT_NICE, api_runtime};
    let base = rustix::process::getpriority_process(None).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = super::test_node_dir(tmp.path(), "tiers");
    let rt = api_runtime("tier-api").unwrap();
    let node = rt
        .block_on(runtime::start(&dir, Overrides::default()))
        .unwrap();
    // An answer: every runtime has started its threads.
    ApiClient::new(node.info.api.clone(), None)
        .status()
        .unwrap();
    let (net, api, report) = (
        nice_of_threads("interlab-net"),
        nice_of_threads("tier-api"),
        nice_of_threads("interlab-report"),
    );
    rt.block_on(node.shutdown());
    assert!(!net.is_empty() && !api.is_empty() && !report.is_empty());
    assert!(net.iter().all(|n| *n == base), "network threads: {net:?}");
    assert!(
        api.iter().all(|n| *n == API_NICE.max(base)),
        "API threads: {api:?}"
    );
    assert!(
        report.iter().all(|n| *n == REPORT_NICE.max(base)),
        "report threads: {report:?}"
    );
}
