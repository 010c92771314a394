//! The checks behind the fuzz targets in `fuzz/` (see `docs/fuzzing.md`).
//!
//! Each function takes arbitrary bytes, feeds them to decoders that face peers or users,
//! and panics only when an invariant breaks, never on bad input. They live here, not in
//! `fuzz/`, so that `cargo test` (`tests/fuzz_corpus.rs`) replays the checked-in corpus
//! and every crash reproducer through exactly the code libFuzzer ran.

mod seeds;

use std::sync::OnceLock;

use futures::{executor::block_on, io::Cursor};
use interlab_node::net::wire::{self, Gossip, SYNC_PROTOCOL, SyncCodec, SyncRequest, SyncResponse};
use interlab_protocol::{
    Body, Digest, Envelope, ForkProof, Grounds, MAX_ENVELOPE_BYTES, MemoryLog, Opened, Outcome,
    RECORD_VERSION, Record, SecretKey, domain, from_slice_canonical, split_sequence,
    testkit::{Author, T0_MS, TestScheme, sample_run_result},
    to_canonical_vec,
};
use interlab_suites::Manifest;
use libp2p::request_response::Codec;
pub use seeds::seeds;
use serde_bytes::ByteBuf;

/// The reference suite's manifest, a real input for the manifest target and the body of
/// the fixture's `SuitePublished` record.
const SUITE_TOML: &str = include_str!("../../reference-suites/suites/digits-mlp/suite.toml");

/// "Now" for validation: 30 days after the fixture's first record.
pub const NOW_MS: u64 = T0_MS + 30 * 86_400_000;

/// The checks of one fuzz target: panic only when an invariant breaks.
pub type Check = fn(&[u8]);

/// Every fuzz target by name (the names of `fuzz/fuzz_targets/*.rs` and of the corpus
/// directories), with its checks.
pub const TARGETS: [(&str, Check); 4] = [
    ("envelope", envelope),
    ("sync_codec", sync_codec),
    ("manifest", manifest),
    ("onnx_model", crate::fuzz_model::onnx_model),
];

/// Target `envelope`: envelope, record and fork-proof decoding, and full validation.
///
/// Invariants: whatever decodes re-encodes to exactly the input; a decodable envelope is
/// one item of a CBOR sequence; opening agrees with decoding; a record that decodes,
/// signed by a fixture key, opens, and validating it against the fixture log (a scheme
/// with a suite, a round, a result and a dispute) does not panic.
pub fn envelope(data: &[u8]) {
    let decoded = Envelope::decode(data);
    match &decoded {
        Ok(env) => {
            assert_eq!(
                env.to_bytes(),
                data,
                "Envelope::decode accepted non-canonical bytes"
            );
            match split_sequence(data) {
                Ok(items) => assert_eq!(items, vec![data], "split_sequence of one envelope"),
                Err(e) => panic!("split_sequence refuses a decodable envelope: {e:?}"),
            }
            assert_eq!(env.id(), Digest::of(domain::RECORD_ID, &env.body));
        }
        Err(_) => {
            if let Ok(items) = split_sequence(data) {
                assert_eq!(items.concat(), data, "split_sequence lost or added bytes");
            }
        }
    }

    let opened = Envelope::open_bytes(data);
    if let Ok(o) = &opened {
        let env = decoded
            .as_ref()
            .expect("Envelope::open_bytes accepted bytes Envelope::decode refuses");
        assert_eq!(&o.envelope, env);
        assert_eq!(o.id, env.id());
        assert_eq!(o.record.author, env.author);
        assert_eq!(
            to_canonical_vec(&o.record),
            env.body,
            "opened body is not canonical"
        );
    }

    // Full validation against an empty log: only a scheme genesis can be accepted.
    match MemoryLog::new().ingest(data, NOW_MS) {
        Ok(id) => {
            let o = opened
                .as_ref()
                .expect("MemoryLog::ingest accepted an envelope that does not open");
            assert_eq!(id, o.id);
            assert!(matches!(o.record.body, Body::SchemeGenesis { .. }));
        }
        Err(e) => {
            let _ = (e.code(), e.disposition(), e.to_string());
        }
    }
    if let Ok(o) = &opened {
        ingest_into_fixture(data, o);
    }

    record(data);
    check_fork_proof(data);
}

/// A fork proof that decodes is its own canonical form, and one that verifies names its
/// two record ids in order.
fn check_fork_proof(data: &[u8]) {
    let Ok(proof) = ForkProof::decode(data) else {
        return;
    };
    assert_eq!(
        proof.to_bytes(),
        data,
        "ForkProof::decode accepted non-canonical bytes"
    );
    if let Ok(fork) = proof.verify() {
        assert_eq!(fork.ids, (proof.a.id(), proof.b.id()));
        assert!(fork.ids.0 < fork.ids.1);
    }
}

/// The record decoder on its own: fuzzed envelopes almost never carry a valid signature,
/// so the body decoder and the validation rules are reached by signing what decodes.
fn record(data: &[u8]) {
    // The ingest path (strict decoder, no re-encode) and the reference path (decoder,
    // then ciborium re-encode) accept exactly the same bytes.
    let strict = Record::from_canonical(data);
    let reference = from_slice_canonical::<Record>(data, MAX_ENVELOPE_BYTES);
    assert_eq!(
        strict.is_ok(),
        reference.is_ok(),
        "Record::from_canonical and from_slice_canonical disagree: {strict:?} / {reference:?}"
    );
    let Ok(mut rec) = reference else {
        return;
    };
    assert_eq!(
        to_canonical_vec(&rec),
        data,
        "Record decoded from non-canonical bytes"
    );
    let _ = (
        rec.body.kind(),
        rec.body.owner_only(),
        rec.body.suite_round(),
    );

    // Sign it with the fixture key it names (or one picked from the author bytes).
    let fx = fixture();
    let key = fx
        .keys
        .iter()
        .find(|k| k.public() == rec.author)
        .unwrap_or(&fx.keys[usize::from(rec.author.0[0]) % fx.keys.len()]);
    rec.author = key.public();
    let env = Envelope::seal(key, &rec);
    let bytes = env.to_bytes();
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return;
    }
    let opened = match Envelope::open_bytes(&bytes) {
        Ok(o) => o,
        Err(e) => panic!("a freshly sealed canonical record does not open: {e}"),
    };
    ingest_into_fixture(&bytes, &opened);
    if let Body::SchemeGenesis { .. } = rec.body
        && let Ok(id) = MemoryLog::new().ingest(&bytes, NOW_MS)
    {
        assert_eq!(id, opened.id);
    }
}

/// Validates an opened envelope against a copy of the fixture log.
fn ingest_into_fixture(bytes: &[u8], opened: &Opened) {
    let mut log = fixture().log.clone();
    match log.ingest(bytes, NOW_MS) {
        Ok(id) => {
            assert_eq!(id, opened.id);
            let _ = log.evidence();
        }
        Err(e) => {
            let _ = (e.code(), e.disposition(), e.to_string());
        }
    }
}

/// Target `sync_codec`: the `/interlab/sync/1` codec, gossip messages, message ids and
/// `peek`.
///
/// Invariants: a request or response that the codec reads is written back as exactly the
/// input; a gossip message that decodes re-encodes to the input, and a record message's
/// id is its record id; what `peek` accepts is a decodable envelope and record with the
/// author, seq and id it reports.
pub fn sync_codec(data: &[u8]) {
    if let Ok(req) = block_on(SyncCodec.read_request(&SYNC_PROTOCOL, &mut Cursor::new(data))) {
        let _ = req.kind();
        let mut out = Cursor::new(Vec::new());
        block_on(SyncCodec.write_request(&SYNC_PROTOCOL, &mut out, req))
            .expect("writing a request to memory");
        assert_eq!(
            out.into_inner(),
            data,
            "a request read back is not the input"
        );
    }

    if let Ok(res) = block_on(SyncCodec.read_response(&SYNC_PROTOCOL, &mut Cursor::new(data))) {
        match &res {
            SyncResponse::Range(items) => items.iter().for_each(|b| check_peek(b)),
            SyncResponse::Genesis(Some(b)) => check_peek(b),
            SyncResponse::Artefact(Some(b)) => {
                let _ = wire::artefact_digest(b);
            }
            SyncResponse::Forks(proofs) => proofs.iter().for_each(|b| check_fork_proof(b)),
            _ => {}
        }
        let mut out = Cursor::new(Vec::new());
        block_on(SyncCodec.write_response(&SYNC_PROTOCOL, &mut out, res))
            .expect("writing a response to memory");
        assert_eq!(
            out.into_inner(),
            data,
            "a response read back is not the input"
        );
    }

    let id = wire::message_id(data);
    assert_eq!(id.0.len(), 32, "message ids are 32-byte digests");
    if let Ok(g) = Gossip::decode(data) {
        assert_eq!(
            g.to_bytes(),
            data,
            "Gossip::decode accepted non-canonical bytes"
        );
        match &g {
            Gossip::Record(b) => {
                check_peek(b);
                if let Ok(env) = Envelope::decode(b) {
                    assert_eq!(id.0, env.id().as_bytes().to_vec(), "record message id");
                }
            }
            Gossip::Fork(b) => check_fork_proof(b),
        }
    }

    check_peek(data);
}

/// `peek` against the full decoders.
fn check_peek(bytes: &[u8]) {
    let Some((author, seq, id)) = wire::peek(bytes) else {
        return;
    };
    let env = Envelope::decode(bytes).expect("peek accepted bytes Envelope::decode refuses");
    assert_eq!(id, env.id());
    let rec: Record = from_slice_canonical(&env.body, MAX_ENVELOPE_BYTES)
        .expect("peek accepted a body the record decoder refuses");
    assert_eq!((rec.author, rec.seq), (author, seq));
}

/// Target `manifest`: suite manifests as TOML text and as canonical bytes.
///
/// Invariants: a manifest that parses passes `check`; its canonical bytes decode back to
/// a manifest with the same canonical bytes and id; canonical input is its own canonical
/// form.
pub fn manifest(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(m) = Manifest::from_toml(text)
    {
        check_manifest(&m, None);
    }
    if let Ok(m) = Manifest::from_canonical(data) {
        check_manifest(&m, Some(data));
    }
}

fn check_manifest(m: &Manifest, canonical_input: Option<&[u8]>) {
    if let Err(e) = m.check() {
        panic!("a parsed manifest fails its own check: {e}");
    }
    let bytes = m.canonical_bytes();
    if let Some(input) = canonical_input {
        assert_eq!(bytes, input, "from_canonical accepted non-canonical bytes");
    }
    let back = match Manifest::from_canonical(&bytes) {
        Ok(back) => back,
        Err(e) => panic!("the canonical bytes of a valid manifest are refused: {e}"),
    };
    assert_eq!(
        back.canonical_bytes(),
        bytes,
        "canonical bytes do not round-trip"
    );
    assert_eq!(m.id(), Digest::of(domain::SUITE, &bytes));
    assert_eq!(back.id(), m.id());
}

/// A scheme with history, its authors' keys and the next records they could write.
struct Fixture {
    /// Owner, lab 0, lab 1.
    keys: Vec<SecretKey>,
    /// Every envelope of `log`, in the order it was built.
    history: Vec<Envelope>,
    /// Valid next records of each kind (and a few invalid ones), not in `log`.
    next: Vec<(String, Envelope)>,
    /// A fork proof of lab 0.
    fork: ForkProof,
    /// The log holding `history`.
    log: MemoryLog,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

fn build_fixture() -> Fixture {
    let TestScheme {
        mut owner,
        labs,
        envelopes: mut history,
        ..
    } = TestScheme::new("fuzz", 2, 7);
    let [mut lab0, mut lab1]: [Author; 2] = labs.try_into().expect("two labs");

    let manifest = Manifest::from_toml(SUITE_TOML).expect("the reference suite parses");
    let suite = manifest.id();
    let published = |supersedes| Body::SuitePublished {
        suite,
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        manifest: manifest.canonical_bytes(),
        artefacts: manifest.artefact_refs(),
        supersedes,
    };
    history.push(owner.next(published(None)));
    history.push(owner.next(Body::RoundOpened {
        suite,
        round: 1,
        deadline_ms: Some(NOW_MS),
    }));
    let result = lab0.next(Body::RunResult(sample_run_result(suite, 1, 0.5)));
    let result_id = result.id();
    history.push(result);
    let dispute = lab1.next(Body::Dispute {
        target: result_id,
        grounds: Grounds::Outlier,
        statement: "far from the other labs".into(),
        evidence: vec![],
    });
    let dispute_id = dispute.id();
    history.push(dispute);

    let mut log = MemoryLog::new();
    for env in &history {
        if let Err(e) = log.ingest(&env.to_bytes(), NOW_MS) {
            panic!("fixture record refused: {e}");
        }
    }

    let lab1_key = lab1.public();
    let next = |a: &Author, name: &str, body: Body| (name.to_owned(), a.clone().next(body));
    let mut next_records = vec![
        next(&owner, "suite_published", published(Some(suite))),
        next(
            &owner,
            "lab_accredited",
            Body::LabAccredited {
                lab: Author::new(99).public(),
                name: "lab-new".into(),
            },
        ),
        next(
            &owner,
            "lab_suspended",
            Body::LabSuspended {
                lab: lab1_key,
                reason: "audit".into(),
                from_ms: T0_MS,
            },
        ),
        next(
            &owner,
            "lab_reinstated",
            Body::LabReinstated { lab: lab1_key },
        ),
        next(
            &owner,
            "lab_revoked",
            Body::LabRevoked {
                lab: lab1_key,
                reason: "fraud".into(),
                last_seq: Some(0),
            },
        ),
        next(
            &owner,
            "round_opened",
            Body::RoundOpened {
                suite,
                round: 2,
                deadline_ms: None,
            },
        ),
        next(
            &owner,
            "dispute_resolution",
            Body::DisputeResolution {
                dispute: dispute_id,
                outcome: Outcome::Upheld,
                action: interlab_protocol::Action::RerunRequired,
                statement: "rerun".into(),
            },
        ),
        next(
            &owner,
            "scheme_genesis",
            Body::SchemeGenesis {
                name: "second".into(),
                lab_codes: false,
                contact: None,
            },
        ),
        next(
            &lab0,
            "run_result",
            Body::RunResult(sample_run_result(suite, 1, 0.75)),
        ),
        next(
            &lab0,
            "dispute_response",
            Body::DisputeResponse {
                dispute: dispute_id,
                statement: "within uncertainty".into(),
                evidence: vec![result_id],
            },
        ),
        next(
            &lab0,
            "retraction",
            Body::Retraction {
                target: result_id,
                reason: "wrong model".into(),
            },
        ),
        next(
            &lab1,
            "dispute",
            Body::Dispute {
                target: result_id,
                grounds: Grounds::NotReproducible,
                statement: "could not reproduce".into(),
                evidence: vec![dispute_id],
            },
        ),
        next(&lab1, "unauthorized", Body::LabReinstated { lab: lab1_key }),
    ];
    // A second record at lab 0's seq 0: an equivocation.
    let mut forked = lab0.record(Body::RunResult(sample_run_result(suite, 1, 0.25)));
    forked.seq = 0;
    forked.prev = None;
    forked.time_ms = T0_MS;
    let forked = lab0.sign(&forked);
    next_records.push(("equivocation".into(), forked.clone()));
    let fork = ForkProof::new(history[5].clone(), forked);
    // A genesis for a fresh log.
    let fresh = Record {
        v: RECORD_VERSION,
        author: owner.public(),
        scheme: None,
        seq: 0,
        prev: None,
        time_ms: T0_MS,
        body: Body::SchemeGenesis {
            name: "fresh".into(),
            lab_codes: false,
            contact: None,
        },
    };
    next_records.push(("genesis_fresh".into(), owner.sign(&fresh)));

    let keys = [&owner, &lab0, &lab1]
        .iter()
        .map(|a| a.secret().clone())
        .collect();
    Fixture {
        keys,
        history,
        next: next_records,
        fork,
        log,
    }
}
