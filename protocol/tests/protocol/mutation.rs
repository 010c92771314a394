//! Property tests: any change to an envelope's bytes is rejected, and nothing panics.

use interlab_protocol::{
    Body, Envelope, ForkProof, KeyCache, MemoryLog, Record, open_all, open_all_decoded,
    testkit::{Author, TestScheme, sample_run_result},
};
use proptest::prelude::*;

fn sample_envelopes() -> Vec<Vec<u8>> {
    let mut s = TestScheme::new("mutation", 2, 3);
    let suite = interlab_protocol::Digest::of(interlab_protocol::domain::SUITE, b"m");
    let run = s.labs[0].next(Body::RunResult(sample_run_result(suite, 1, 0.25)));
    let mut out = s.bytes();
    out.push(run.to_bytes());
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_flipped_byte_is_rejected(which in 0usize..4, pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let envs = sample_envelopes();
        let mut bytes = envs[which].clone();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        prop_assert!(Envelope::open_bytes(&bytes).is_err());
    }

    #[test]
    fn truncation_and_extension_are_rejected(which in 0usize..4, cut in any::<prop::sample::Index>(), extra in proptest::collection::vec(any::<u8>(), 1..8)) {
        let envs = sample_envelopes();
        let bytes = &envs[which];
        let n = cut.index(bytes.len());
        prop_assert!(Envelope::open_bytes(&bytes[..n]).is_err());
        let mut longer = bytes.clone();
        longer.extend_from_slice(&extra);
        prop_assert!(Envelope::open_bytes(&longer).is_err());
    }

    #[test]
    fn opening_a_batch_gives_each_envelope_its_own_result(
        flips in proptest::collection::vec((0usize..4, any::<prop::sample::Index>(), 0u8..8, any::<bool>()), 1..12),
    ) {
        // A batch mixing intact envelopes with ones damaged anywhere (envelope, body,
        // signature): the batch result is the single-envelope result, item by item.
        let envs = sample_envelopes();
        let batch: Vec<Vec<u8>> = flips
            .iter()
            .map(|(which, pos, bit, damage)| {
                let mut bytes = envs[*which].clone();
                if *damage {
                    let i = pos.index(bytes.len());
                    bytes[i] ^= 1 << bit;
                }
                bytes
            })
            .collect();
        let decoded: Vec<_> = batch.iter().map(|b| Envelope::decode(b)).collect();
        let keys = KeyCache::parse(decoded.iter().filter_map(|e| e.as_ref().ok()).map(|e| &e.author));
        let one_by_one: Vec<_> = decoded.iter().cloned().map(|e| e.and_then(|e| e.open_with(&keys))).collect();
        // Bodies decoded beforehand (as the network does to order its queue) change
        // nothing, whichever items had theirs decoded.
        let early: Vec<_> = decoded
            .iter()
            .cloned()
            .zip(&flips)
            .map(|(e, (_, _, _, damage))| e.map(|e| {
                let body = damage.then(|| e.decode_body());
                (e, body)
            }))
            .collect();
        prop_assert_eq!(open_all_decoded(early, &keys), one_by_one.clone());
        prop_assert_eq!(open_all(decoded, &keys), one_by_one);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Envelope::open_bytes(&bytes);
        let _ = ForkProof::decode(&bytes);
        let mut log = MemoryLog::new();
        let _ = log.ingest(&bytes, u64::MAX);
    }

    #[test]
    fn records_round_trip_through_canonical_bytes(seq in 0u64..1_000_000, time in any::<u64>(), value in -1e9f64..1e9, round in any::<u32>()) {
        let a = Author::new(9);
        let suite = interlab_protocol::Digest::of(interlab_protocol::domain::SUITE, b"x");
        let rec = Record { seq, time_ms: time, ..a.record(Body::RunResult(sample_run_result(suite, round, value))) };
        let env = a.sign(&rec);
        let opened = Envelope::open_bytes(&env.to_bytes()).unwrap();
        prop_assert_eq!(opened.record, rec);
    }
}
