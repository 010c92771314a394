//! The slice decoder against the reference: ciborium's own decoder followed by the same
//! re-encode check. Both must accept exactly the same inputs and agree on the value.

use interlab_protocol::{
    Action, ArtefactRef, Body, Digest, Envelope, ForkProof, Grounds, MAX_ENVELOPE_BYTES, Outcome,
    Record, from_slice_canonical,
    testkit::{Author, sample_run_result},
    to_canonical_vec,
};
use proptest::prelude::*;
use serde::{Serialize, de::DeserializeOwned};

/// The decoder the protocol used before: ciborium, then re-encode and compare.
fn reference<T: DeserializeOwned + Serialize>(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut reader = bytes;
    let v: T = ciborium::de::from_reader_with_recursion_limit(&mut reader, 64).ok()?;
    if !reader.is_empty() {
        return None;
    }
    let again = to_canonical_vec(&v);
    (again == bytes).then_some(again)
}

/// Both decoders' verdicts, each as the value's canonical bytes (NaN-proof equality).
fn both<T: DeserializeOwned + Serialize>(bytes: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let new = from_slice_canonical::<T>(bytes, MAX_ENVELOPE_BYTES)
        .ok()
        .map(|v| to_canonical_vec(&v));
    (new, reference::<T>(bytes))
}

/// What the ingest path (strict decoder, re-encode skipped) says of record bytes.
fn strict_record(bytes: &[u8]) -> Option<Vec<u8>> {
    Record::from_canonical(bytes)
        .ok()
        .map(|v| to_canonical_vec(&v))
}

/// What the ingest path says of envelope bytes.
fn strict_envelope(bytes: &[u8]) -> Option<Vec<u8>> {
    Envelope::decode(bytes).ok().map(|v| to_canonical_vec(&v))
}

/// One record of every kind, with text, bytes, options, nested enums and floats.
fn bodies() -> Vec<Record> {
    let a = Author::new(3);
    let suite = Digest::of(interlab_protocol::domain::SUITE, b"decoder");
    let target = Digest::of(interlab_protocol::domain::RECORD_ID, b"t");
    let mut run = sample_run_result(suite, 7, 0.3125);
    run.tests[0].measurements[0].values = vec![0.0, -0.0, 1.5, 1e-300, 65504.0, 0.1];
    run.tests[0].warnings = vec!["ε = 0.15 instead of 0.1".into()];
    run.rerun_of = Some(target);
    [
        Body::SchemeGenesis {
            name: "g".into(),
            lab_codes: false,
            contact: None,
        },
        Body::SuitePublished {
            suite,
            name: "s".into(),
            version: "1.0".into(),
            manifest: vec![0, 1, 2, 255],
            artefacts: vec![ArtefactRef {
                path: "w.safetensors".into(),
                digest: target,
                size: 1 << 40,
            }],
            supersedes: Some(suite),
        },
        Body::LabAccredited {
            lab: a.public(),
            name: "lab".into(),
        },
        Body::LabSuspended {
            lab: a.public(),
            reason: "r".into(),
            from_ms: u64::MAX,
        },
        Body::LabReinstated { lab: a.public() },
        Body::LabRevoked {
            lab: a.public(),
            reason: String::new(),
            last_seq: None,
        },
        Body::RoundOpened {
            suite,
            round: u32::MAX,
            deadline_ms: Some(24),
        },
        Body::RunResult(run),
        Body::Dispute {
            target,
            grounds: Grounds::NotReproducible,
            statement: "x".repeat(300),
            evidence: vec![target, suite],
        },
        Body::DisputeResponse {
            dispute: target,
            statement: "y".into(),
            evidence: vec![],
        },
        Body::DisputeResolution {
            dispute: target,
            outcome: Outcome::Upheld,
            action: Action::RerunRequired,
            statement: "z".into(),
        },
        Body::Retraction {
            target,
            reason: "typo".into(),
        },
    ]
    .into_iter()
    .map(|b| a.record(b))
    .collect()
}

#[test]
fn every_record_kind_decodes_to_itself() {
    for rec in bodies() {
        let bytes = to_canonical_vec(&rec);
        let decoded: Record = from_slice_canonical(&bytes, MAX_ENVELOPE_BYTES).unwrap();
        assert_eq!(decoded, rec);
        assert_eq!(Record::from_canonical(&bytes).unwrap(), rec);
        assert_eq!(both::<Record>(&bytes), (Some(bytes.clone()), Some(bytes)));
    }
}

/// Applies one edit: flip a bit, overwrite, insert or delete a byte, or cut.
fn mutate(bytes: &[u8], edit: u8, pos: usize, byte: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if out.is_empty() {
        return vec![byte];
    }
    let i = pos % out.len();
    match edit % 5 {
        0 => out[i] ^= 1 << (byte % 8),
        1 => out[i] = byte,
        2 => out.insert(i, byte),
        3 => {
            out.remove(i);
        }
        _ => out.truncate(i),
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn mutated_records_get_the_reference_verdict(
        which in 0usize..12,
        edits in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = to_canonical_vec(&bodies()[which]);
        for (edit, pos, byte) in edits {
            bytes = mutate(&bytes, edit, pos, byte);
        }
        let (new, old) = both::<Record>(&bytes);
        prop_assert_eq!(strict_record(&bytes), old.clone());
        prop_assert_eq!(new, old);
    }

    #[test]
    fn mutated_envelopes_and_fork_proofs_get_the_reference_verdict(
        which in 0usize..12,
        edit in any::<u8>(),
        pos in any::<usize>(),
        byte in any::<u8>(),
    ) {
        let rec = &bodies()[which];
        let a = Author::new(3);
        let env = a.sign(rec);
        let bytes = mutate(&env.to_bytes(), edit, pos, byte);
        let (new, old) = both::<Envelope>(&bytes);
        prop_assert_eq!(strict_envelope(&bytes), old.clone());
        prop_assert_eq!(new, old);
        let rival = a.sign(&Record { time_ms: rec.time_ms + 1, ..rec.clone() });
        let proof = ForkProof { a: env, b: rival };
        let bytes = mutate(&proof.to_bytes(), edit, pos, byte);
        let (new, old) = both::<ForkProof>(&bytes);
        prop_assert_eq!(new, old);
    }

    #[test]
    fn arbitrary_bytes_get_the_reference_verdict(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let (new, old) = both::<Record>(&bytes);
        prop_assert_eq!(strict_record(&bytes), old.clone());
        prop_assert_eq!(new, old);
        let (new, old) = both::<Envelope>(&bytes);
        prop_assert_eq!(strict_envelope(&bytes), old.clone());
        prop_assert_eq!(new, old);
    }
}

/// Re-encodings that keep the value but not the bytes: each refused by the ingest path
/// exactly as by the reference, whichever decoder step catches it.
#[test]
fn same_value_other_bytes_is_refused_on_the_ingest_path() {
    use ciborium::Value;
    for rec in bodies() {
        let bytes = to_canonical_vec(&rec);
        let value: Value = ciborium::de::from_reader(&bytes[..]).unwrap();
        let Value::Map(fields) = value else {
            panic!("a record is a map")
        };
        let mut variants: Vec<Value> = Vec::new();
        // Fields reversed; the last field dropped; the body's unit variant as a map.
        variants.push(Value::Map(fields.iter().rev().cloned().collect()));
        variants.push(Value::Map(fields[..fields.len() - 1].to_vec()));
        // Each text inside the body boxed as `{text: null}`, one at a time: a unit
        // variant in map form decodes to the same value.
        let body_at = fields
            .iter()
            .position(|(k, _)| k == &Value::Text("body".into()))
            .unwrap();
        let texts = match &fields[body_at].1 {
            Value::Map(body) => match &body[0].1 {
                Value::Map(m) => m.len(),
                _ => 0,
            },
            _ => 0,
        };
        for j in 0..texts {
            let mut boxed = fields.clone();
            if let Value::Map(body) = &mut boxed[body_at].1
                && let Value::Map(m) = &mut body[0].1
                && let Value::Text(t) = &m[j].1
            {
                m[j].1 = Value::Map(vec![(Value::Text(t.clone()), Value::Null)]);
                variants.push(Value::Map(boxed));
            }
        }
        for v in variants {
            let mut other = Vec::new();
            ciborium::into_writer(&v, &mut other).unwrap();
            if other == bytes {
                continue;
            }
            assert_eq!(strict_record(&other), None, "{}", hex::encode(&other));
            assert_eq!(reference::<Record>(&other), None);
        }
        // A float widened from f16 to f64 inside a run result.
        if let Some(i) = bytes.windows(3).position(|w| w == [0xf9, 0x3e, 0x00]) {
            let mut wide = bytes[..i].to_vec();
            wide.extend_from_slice(&[0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
            wide.extend_from_slice(&bytes[i + 3..]);
            assert_eq!(strict_record(&wide), None);
            assert_eq!(reference::<Record>(&wide), None);
        }
    }
}
