//! `interlab store check` through the real binary: damage is reported with the record's
//! position (author and seq) and what is wrong, and the exit code is 1.

#![allow(clippy::unwrap_used)]

use std::{path::Path, process::Command};

use interlab_node::{config::NodeDir, store::Store};
use interlab_protocol::{Body, Envelope, PublicKey, testkit::Workload};
use redb::{Database, ReadableTable, TableDefinition};

/// The records table of store layout 2: `author ‖ seq` → 70-byte summary ‖ envelope.
const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records_v2");

fn interlab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_interlab"))
        .args(args)
        .output()
        .expect("the interlab binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A node directory whose store holds 300 records; the position of a run result at
/// seq 12 of a lab's chain.
fn node_dir() -> (tempfile::TempDir, PublicKey, u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Workload::new(9, 2);
    let log = w.take(300);
    let store = Store::open(&NodeDir::new(dir.path()).store()).unwrap();
    assert!(
        store
            .ingest(&log, w.now_ms())
            .unwrap()
            .iter()
            .all(Result::is_ok)
    );
    let (author, seq) = log
        .iter()
        .map(|b| Envelope::open_bytes(b).unwrap().record)
        .find(|r| r.seq == 12 && matches!(r.body, Body::RunResult(_)))
        .map(|r| (r.author, r.seq))
        .unwrap();
    (dir, author, seq)
}

fn flip(dir: &Path, author: &PublicKey, seq: u64, at: impl Fn(usize) -> usize) {
    let db = Database::open(NodeDir::new(dir).store()).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut table = txn.open_table(RECORDS).unwrap();
        let mut key = author.as_bytes().to_vec();
        key.extend_from_slice(&seq.to_be_bytes());
        let mut value = table.get(&key[..]).unwrap().unwrap().value().to_vec();
        let i = at(value.len());
        value[i] ^= 0x01;
        table.insert(&key[..], &value[..]).unwrap();
    }
    txn.commit().unwrap();
}

#[test]
fn store_check_full_reports_a_bad_signature_with_the_records_position_and_exits_1() {
    let (dir, author, seq) = node_dir();
    let d = dir.path().to_str().unwrap();
    let (code, out, err) = interlab(&["store", "check", "--dir", d]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("300 records checked"), "{out}");
    assert!(out.contains("0 damaged"), "{out}");

    flip(dir.path(), &author, seq, |len| len - 5);
    // Without signatures the damage is invisible.
    let (code, out, err) = interlab(&["store", "check", "--dir", d]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("signatures not checked"), "{out}");

    let (code, out, err) = interlab(&["store", "check", "--dir", d, "--full"]);
    assert_eq!(code, 1, "{out}{err}");
    let line = format!(
        "damaged: author {} seq {seq}: the signature does not verify",
        author.to_hex()
    );
    assert!(out.contains(&line), "expected {line:?} in:\n{out}");
    assert!(out.contains("1 damaged"), "{out}");

    let (code, out, _) = interlab(&["--json", "store", "check", "--dir", d, "--full"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["damaged"][0]["author"], author.to_hex());
    assert_eq!(v["damaged"][0]["seq"], seq);
    assert_eq!(v["signatures_checked"], true);
}

#[test]
fn store_check_reports_a_flipped_id_bit_without_full_and_exits_1() {
    let (dir, author, seq) = node_dir();
    let d = dir.path().to_str().unwrap();
    flip(dir.path(), &author, seq, |_| 2);
    let (code, out, err) = interlab(&["store", "check", "--dir", d]);
    assert_eq!(code, 1, "{out}{err}");
    let line = format!(
        "damaged: author {} seq {seq}: the stored id is ",
        author.to_hex()
    );
    assert!(out.contains(&line), "expected {line:?} in:\n{out}");
    assert!(!out.contains("Some("), "{out}");
}

#[test]
fn store_check_of_a_directory_without_a_store_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = interlab(&["store", "check", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("no store at"), "{err}");
}
