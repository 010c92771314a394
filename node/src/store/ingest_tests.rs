//! Envelopes decoded at the edge store exactly as raw bytes do.

use interlab_protocol::{Envelope, EnvelopeError, Rejection, SignatureError};

use super::Incoming;
use crate::store::{Store, tests::temp_store};
use interlab_protocol::testkit::Workload;

#[test]
fn envelopes_decoded_at_the_edge_are_stored_like_raw_bytes() {
    let (_d1, raw) = temp_store();
    let (_d2, edge) = temp_store();
    let mut work = Workload::new(3, 2);
    let batch = work.take(40);
    let now = work.now_ms();
    let from_raw = raw.ingest(&batch, now).unwrap();
    let decoded: Vec<Incoming> = batch
        .iter()
        .map(|b| Incoming::decode(b.clone()).unwrap())
        .collect();
    let from_edge = edge
        .ingest_prepared(Store::prepare_incoming(decoded), now)
        .unwrap();
    assert!(from_edge.iter().all(Result::is_ok));
    assert_eq!(from_edge, from_raw);
    assert_eq!(edge.evidence(), raw.evidence());

    // Bodies decoded at the edge too (the network reads each record's position to
    // order its queue): the store uses that decoding and stores the same.
    let (_d3, body) = temp_store();
    let positioned: Vec<Incoming> = batch
        .iter()
        .map(|b| {
            let mut i = Incoming::decode(b.clone()).unwrap();
            let env = Envelope::decode(b).unwrap();
            let r = env.decode_body().unwrap();
            assert_eq!(i.position(), Some((r.author, r.seq)));
            i
        })
        .collect();
    let from_body = body
        .ingest_prepared(Store::prepare_incoming(positioned), now)
        .unwrap();
    assert_eq!(from_body, from_raw);
    assert_eq!(body.evidence(), raw.evidence());
}

#[test]
fn a_body_decoded_at_the_edge_that_names_another_author_is_refused_as_from_bytes() {
    let mut work = Workload::new(7, 2);
    let batch = work.take(3);
    let now = work.now_ms();
    // A record of the log, signed by a key other than the author it names.
    let record = Envelope::decode(&batch[1]).unwrap().decode_body().unwrap();
    let signer = interlab_protocol::testkit::Author::new(99);
    let forged = Envelope::seal(signer.secret(), &record).to_bytes();
    let (_d1, raw) = temp_store();
    let (_d2, edge) = temp_store();
    let from_raw = raw
        .ingest(&[batch[0].clone(), forged.clone()], now)
        .unwrap();
    let mut item = Incoming::decode(forged).unwrap();
    assert_eq!(
        item.position(),
        None,
        "the body does not name the envelope's author"
    );
    let first = Incoming::decode(batch[0].clone()).unwrap();
    let from_edge = edge
        .ingest_prepared(Store::prepare_incoming(vec![first, item]), now)
        .unwrap();
    assert!(
        matches!(
            from_raw[1],
            Err(Rejection::Envelope(EnvelopeError::AuthorMismatch { .. }))
        ),
        "{:?}",
        from_raw[1]
    );
    assert_eq!(from_edge, from_raw);
}

#[test]
fn a_decoded_envelope_with_a_forged_signature_is_still_refused() {
    let (_d, store) = temp_store();
    let mut work = Workload::new(5, 1);
    let batch = work.take(1);
    let mut env = Envelope::decode(&batch[0]).unwrap();
    env.sig.0[0] ^= 1;
    let forged = Incoming::decode(env.to_bytes()).unwrap();
    let results = store
        .ingest_prepared(Store::prepare_incoming(vec![forged]), work.now_ms())
        .unwrap();
    assert!(
        matches!(
            &results[..],
            [Err(Rejection::Envelope(EnvelopeError::Signature(
                SignatureError::Invalid
            )))]
        ),
        "{results:?}"
    );
    assert_eq!(store.evidence().records, 0);
}

#[test]
fn non_canonical_bytes_are_not_decoded_at_the_edge() {
    let mut work = Workload::new(9, 1);
    let mut bytes = work.take(1).remove(0);
    // A trailing byte: the envelope is no longer exactly one canonical value.
    bytes.push(0);
    assert!(matches!(
        Incoming::decode(bytes),
        Err(EnvelopeError::Envelope(_))
    ));
}
