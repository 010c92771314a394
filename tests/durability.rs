//! Crash safety: a child process ingests a synthetic log and prints `ACK <id>` after each
//! committed batch; the test kills it with SIGKILL at seeded random points, several
//! times, and then checks that every acknowledged record is on disk, that what is on
//! disk is whole batches (a batch is all or nothing), and that the store verifies.

use std::{
    collections::HashSet,
    io::{BufRead, BufReader, Read},
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use interlab_node::store::Store;
use interlab_protocol::{
    Envelope, MemoryLog, RecordId,
    testkit::{Workload, batch_plan},
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SEED: u64 = 20_261_125;
const LABS: usize = 4;
const MAX_BATCH: usize = 32;
/// More than a child writes before it is killed, so every run ends in a kill.
const COUNT: u64 = 1_000_000;

/// Runs the child until it has acknowledged `kill_after` new records (plus a seeded
/// pause), kills it, and returns every id it acknowledged.
fn run_and_kill(dir: &Path, kill_after: usize, pause_us: u64) -> Vec<RecordId> {
    let mut child = Command::new(interlab_tests::binary())
        .args(["debug", "ingest-stream", "--dir"])
        .arg(dir)
        .args(["--count", &COUNT.to_string(), "--seed", &SEED.to_string()])
        .args([
            "--labs",
            &LABS.to_string(),
            "--max-batch",
            &MAX_BATCH.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the interlab binary starts");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut acked = Vec::new();
    let mut line = Vec::new();
    let parse = |line: &[u8], acked: &mut Vec<RecordId>| {
        // Only complete lines count: a line cut by the kill was never fully written.
        if let Some(rest) = line
            .strip_prefix(b"ACK ")
            .and_then(|r| r.strip_suffix(b"\n"))
        {
            let id = std::str::from_utf8(rest).expect("ACK lines are UTF-8");
            acked.push(id.parse().expect("ACK names a record id"));
        }
    };
    while acked.len() < kill_after {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .expect("reading the child")
            == 0
        {
            break;
        }
        parse(&line, &mut acked);
    }
    std::thread::sleep(Duration::from_micros(pause_us));
    child.kill().expect("SIGKILL is sent"); // SIGKILL on Unix
    child.wait().expect("the child is reaped");
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).expect("reading the child");
    for l in rest.split_inclusive(|b| *b == b'\n') {
        parse(l, &mut acked);
    }
    acked
}

#[test]
fn every_acknowledged_record_survives_repeated_sigkill_and_the_store_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut acked: HashSet<RecordId> = HashSet::new();
    for _ in 0..5 {
        let kill_after = rng.random_range(1..600);
        let pause_us = rng.random_range(0..3000);
        let got = run_and_kill(&dir, kill_after, pause_us);
        assert!(
            !got.is_empty() || kill_after == 0,
            "the child acknowledged nothing"
        );
        acked.extend(got);
    }

    let store = Store::open(&dir.join("store.redb")).unwrap();
    for id in &acked {
        assert!(
            store.get(id).unwrap().is_some(),
            "acknowledged record {id} is missing"
        );
    }
    let report = store.check().unwrap();
    assert!(
        report.is_sound(),
        "damaged after kill -9: {:?}",
        report.damaged
    );
    eprintln!(
        "{} records acknowledged, {} stored",
        acked.len(),
        report.records
    );
    assert!(report.records as usize >= acked.len());

    // What is stored is exactly the first k whole batches of the stream.
    let stored = report.records;
    let mut work = Workload::new(SEED, LABS);
    let mut prefix: HashSet<RecordId> = HashSet::new();
    let mut boundaries = vec![0u64];
    for n in batch_plan(SEED, MAX_BATCH) {
        if *boundaries.last().unwrap() >= stored {
            break;
        }
        for _ in 0..n {
            prefix.insert(work.next_envelope().id());
        }
        boundaries.push(boundaries.last().unwrap() + n as u64);
    }
    assert!(
        boundaries.contains(&stored),
        "{stored} records stored: not a batch boundary"
    );
    let on_disk: HashSet<RecordId> = store
        .all_envelopes()
        .unwrap()
        .iter()
        .map(|b| Envelope::decode(b).unwrap().id())
        .collect();
    assert_eq!(on_disk, prefix);

    // The offline verifier derives the same evidence from the stored envelopes.
    let mut mem = MemoryLog::new();
    let failed = mem.ingest_all(&store.all_envelopes().unwrap(), u64::MAX / 2);
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(mem.evidence(), store.evidence());
}
