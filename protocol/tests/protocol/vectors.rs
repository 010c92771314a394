//! The byte-exact test vectors of `docs/protocol.md` §10, read from the document itself so
//! that the document and the code cannot drift: every labelled hex value in that section
//! is recomputed here and compared. When a value changes on purpose, the failing test
//! prints the section's new text.
//!
//! The vectors: the genesis record (body, id, signature, envelope), a log of five records
//! (an accreditation, a suite, a round and one run result), its evidence root and the
//! inclusion proof of the run result, and the bundle that carries them with its report.

use std::collections::BTreeMap;

use interlab_protocol::{
    BUNDLE_VERSION, Body, Bundle, Criterion, Digest, Direction, Envelope, Environment,
    InclusionProof, Measurement, MemoryLog, Method, RECORD_VERSION, Record, RunResult, SecretKey,
    Software, TestResult, Verdict, domain, governance::ComparabilityQuery, report_bytes,
    to_canonical_vec,
};

const DOC: &str = include_str!("../../../docs/protocol.md");

/// Time of the genesis: 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600_000;

/// The values §10 states, by label, as lowercase hex.
fn doc_values() -> BTreeMap<String, String> {
    let section = DOC
        .split("\n## 10. Test vectors")
        .nth(1)
        .expect("docs/protocol.md has a section `## 10. Test vectors`");
    let mut out = BTreeMap::new();
    let mut in_block = false;
    let mut current: Option<String> = None;
    for line in section.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
            current = None;
            continue;
        }
        if !in_block {
            continue;
        }
        let is_hex = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit());
        if line.starts_with(' ') {
            let more = line.trim();
            if let Some(label) = &current
                && is_hex(more)
            {
                out.entry(label.clone())
                    .and_modify(|v: &mut String| v.push_str(more));
            }
            continue;
        }
        // `label   hex`: the label is everything before the first run of two spaces.
        match line.split_once("  ") {
            Some((label, value)) if is_hex(value.trim()) => {
                out.insert(label.trim().to_owned(), value.trim().to_owned());
                current = Some(label.trim().to_owned());
            }
            _ => current = None,
        }
    }
    out
}

/// Formats one labelled value as §10 writes it: 72 hex characters a line.
fn block(label: &str, hex: &str) -> String {
    let mut s = String::new();
    for (i, chunk) in hex.as_bytes().chunks(72).enumerate() {
        let chunk = std::str::from_utf8(chunk).unwrap_or_default();
        if i == 0 {
            s.push_str(&format!("{label:<18}{chunk}\n"));
        } else {
            s.push_str(&format!("{:<18}{chunk}\n", ""));
        }
    }
    s
}

struct Vectors {
    values: Vec<(String, String)>,
}

fn owner() -> SecretKey {
    SecretKey::from_bytes(&[0x42; 32])
}

fn lab() -> SecretKey {
    SecretKey::from_bytes(&[0x43; 32])
}

fn genesis() -> Record {
    Record {
        v: RECORD_VERSION,
        author: owner().public(),
        scheme: None,
        seq: 0,
        prev: None,
        time_ms: T0,
        body: Body::SchemeGenesis {
            name: "EU AI Act cyber PT".into(),
            lab_codes: false,
            contact: None,
        },
    }
}

#[derive(serde::Serialize)]
struct ManifestTest {
    id: String,
    criterion: Criterion,
}

#[derive(serde::Serialize)]
struct Manifest {
    tests: Vec<ManifestTest>,
}

fn criterion() -> Criterion {
    Criterion {
        metric: "robust_accuracy".into(),
        threshold: 0.5,
        direction: Direction::AtLeast,
    }
}

/// The five records of the vector log, sealed, in chain order.
fn log_envelopes() -> Vec<Envelope> {
    let (owner, lab) = (owner(), lab());
    let g = Envelope::seal(&owner, &genesis());
    let scheme = g.id();
    let mut out = vec![g];
    let next = |key: &SecretKey, seq: u64, time_ms: u64, body: Body, prev: Option<Digest>| Record {
        v: RECORD_VERSION,
        author: key.public(),
        scheme: Some(scheme),
        seq,
        prev,
        time_ms,
        body,
    };
    let manifest = to_canonical_vec(&Manifest {
        tests: vec![ManifestTest {
            id: "pgd".into(),
            criterion: criterion(),
        }],
    });
    let suite = Digest::of(domain::SUITE, &manifest);
    let owner_bodies = [
        Body::LabAccredited {
            lab: lab.public(),
            name: "Lab A".into(),
        },
        Body::SuitePublished {
            suite,
            name: "vector suite".into(),
            version: "1".into(),
            manifest,
            artefacts: vec![],
            supersedes: None,
        },
        Body::RoundOpened {
            suite,
            round: 1,
            deadline_ms: None,
        },
    ];
    for (i, body) in owner_bodies.into_iter().enumerate() {
        let seq = i as u64 + 1;
        let prev = out.last().map(Envelope::id);
        let rec = next(&owner, seq, T0 + seq * 1000, body, prev);
        out.push(Envelope::seal(&owner, &rec));
    }
    let result = RunResult {
        suite,
        round: 1,
        model: Digest::of(domain::ARTEFACT, b"model"),
        seed: 7,
        environment: Environment {
            hardware: "cpu".into(),
            os: "linux".into(),
            software: vec![Software {
                name: "interlab".into(),
                version: "0.1.0".into(),
            }],
            threads: 1,
            executor: "cpu".into(),
        },
        method: Method::Reference,
        tests: vec![TestResult {
            test: "pgd".into(),
            item: None,
            measurements: vec![Measurement {
                metric: "robust_accuracy".into(),
                values: vec![0.5, 0.625],
                mean: 0.5625,
                u: 0.0625,
                expanded: 0.125,
                k: 2.0,
            }],
            verdict: Verdict::Pass,
            criterion: criterion().id(),
            evidence: vec![],
            warnings: vec![],
            deviations: vec![],
        }],
        rerun_of: None,
    };
    let rec = next(&lab, 0, T0 + 10_000, Body::RunResult(result), None);
    out.push(Envelope::seal(&lab, &rec));
    out
}

fn compute() -> Vectors {
    let g = Envelope::seal(&owner(), &genesis());
    let envelopes = log_envelopes();
    let bytes: Vec<Vec<u8>> = envelopes.iter().map(Envelope::to_bytes).collect();
    let mut log = MemoryLog::new();
    let failed = log.ingest_all(&bytes, T0 + 60_000);
    assert!(failed.is_empty(), "{failed:?}");
    let ids: Vec<Digest> = envelopes.iter().map(Envelope::id).collect();
    let result_id = ids[4];
    let proof = InclusionProof::build(&ids, &result_id).unwrap();
    assert!(proof.verify());
    let suite = match &envelopes[2].clone().open().unwrap().record.body {
        Body::SuitePublished { suite, .. } => *suite,
        _ => unreachable!("record 2 publishes the suite"),
    };
    let query = ComparabilityQuery {
        suite,
        round: Some(1),
        include_disputed: false,
    };
    let report = report_bytes(&log, &[], &query).unwrap();
    // The report's canonical bytes are its canonical CBOR, as the record encoder writes it.
    let records: Vec<_> = log.records().cloned().collect();
    let comparability = interlab_protocol::governance::comparability(
        &records,
        log.authority(),
        &std::collections::BTreeSet::new(),
        &query,
        &interlab_protocol::stats::ReportConfig::default(),
    )
    .unwrap();
    assert_eq!(report, to_canonical_vec(&comparability));
    let bundle = Bundle {
        v: BUNDLE_VERSION,
        suite,
        round: 1,
        include_disputed: false,
        evidence_root: log.evidence().root,
        envelopes: bytes
            .iter()
            .cloned()
            .map(serde_bytes::ByteBuf::from)
            .collect(),
        forks: vec![],
        report: serde_bytes::ByteBuf::from(report.clone()),
    };
    let verified = bundle.verify(T0 + 60_000).unwrap();
    assert_eq!(verified.root, proof.root);
    assert_eq!(
        interlab_protocol::report_digest(&comparability).unwrap(),
        verified.report_digest
    );
    let mut values: Vec<(&str, String)> = vec![
        ("public key", owner().public().to_hex()),
        ("body", hex::encode(&g.body)),
        ("record id", g.id().to_hex()),
        ("signature", hex::encode(g.sig.0)),
        ("envelope", hex::encode(g.to_bytes())),
        ("lab public key", lab().public().to_hex()),
        ("id 1", ids[1].to_hex()),
        ("id 2", ids[2].to_hex()),
        ("id 3", ids[3].to_hex()),
        ("id 4", ids[4].to_hex()),
        ("result envelope", hex::encode(&bytes[4])),
        ("evidence root", proof.root.to_hex()),
        ("proof index", proof.index.to_string()),
        ("proof size", proof.size.to_string()),
    ];
    let path: Vec<(String, String)> = proof
        .path
        .iter()
        .enumerate()
        .map(|(i, d)| (format!("proof path {i}"), d.to_hex()))
        .collect();
    let tail = [
        ("report digest", verified.report_digest.to_hex()),
        (
            "bundle digest",
            Digest::of(domain::ARTEFACT, &bundle.to_bytes()).to_hex(),
        ),
        ("bundle", hex::encode(bundle.to_bytes())),
    ];
    values.extend(tail);
    let mut out: Vec<(String, String)> =
        values.into_iter().map(|(l, h)| (l.to_owned(), h)).collect();
    let at = out.len() - 3;
    out.splice(at..at, path);
    Vectors { values: out }
}

#[test]
fn every_vector_in_the_protocol_document_is_reproduced_byte_for_byte() {
    let doc = doc_values();
    let v = compute();
    let expected: String = v.values.iter().map(|(l, h)| block(l, h)).collect();
    for (label, hex) in &v.values {
        assert_eq!(
            doc.get(label),
            Some(hex),
            "docs/protocol.md §10 value `{label}` differs from the code; the values as the \
             code computes them:\n{expected}"
        );
    }
}

#[test]
fn the_vector_parser_reads_wrapped_values_and_ignores_prose() {
    let doc = doc_values();
    // The genesis body spans several lines in the document.
    assert!(doc.get("body").is_some_and(|b| b.len() > 72), "{doc:?}");
    assert!(doc.len() >= 18, "{:?}", doc.keys().collect::<Vec<_>>());
}

#[test]
fn vector_envelope_opens_to_the_same_record() {
    let bytes = hex::decode(&doc_values()["envelope"]).unwrap();
    let opened = Envelope::open_bytes(&bytes).unwrap();
    assert_eq!(opened.record, genesis());
    assert_eq!(opened.id.to_hex(), doc_values()["record id"]);
}

#[test]
fn the_vector_bundle_from_the_document_verifies_and_any_flipped_bit_is_refused() {
    let bytes = hex::decode(&doc_values()["bundle"]).unwrap();
    let b = Bundle::decode(&bytes).unwrap();
    let v = b.verify(T0 + 60_000).unwrap();
    assert_eq!(v.root.to_hex(), doc_values()["evidence root"]);
    assert_eq!(v.report_digest.to_hex(), doc_values()["report digest"]);
    for pos in (0..bytes.len()).step_by(97) {
        let mut t = bytes.clone();
        t[pos] ^= 0x04;
        let refused = Bundle::decode(&t).map(|b| b.verify(T0 + 60_000));
        assert!(
            !matches!(refused, Ok(Ok(_))),
            "a flipped bit at byte {pos} verified"
        );
    }
}
