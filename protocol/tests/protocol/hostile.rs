//! A corpus of hostile inputs, each rejected with its reason and without panicking.

use interlab_protocol::{
    Body, CborError, Envelope, EnvelopeError, MAX_ENVELOPE_BYTES, MemoryLog, Record, Rejection,
    SIGN_CONTEXT, SecretKey,
    testkit::{Author, TestScheme, sample_run_result},
};

fn key() -> SecretKey {
    SecretKey::from_bytes(&[7; 32])
}

/// An envelope whose signature is valid over arbitrary body bytes.
fn signed_body(body: Vec<u8>) -> Vec<u8> {
    let k = key();
    let mut msg = SIGN_CONTEXT.to_vec();
    msg.extend_from_slice(&body);
    Envelope {
        sig: k.sign(&msg),
        author: k.public(),
        body,
    }
    .to_bytes()
}

fn body_err(bytes: &[u8]) -> CborError {
    match Envelope::open_bytes(bytes) {
        Err(EnvelopeError::Body(e)) => e,
        other => panic!("expected a body error, got {other:?}"),
    }
}

fn envelope_err(bytes: &[u8]) -> CborError {
    match Envelope::open_bytes(bytes) {
        Err(EnvelopeError::Envelope(e)) => e,
        other => panic!("expected an envelope error, got {other:?}"),
    }
}

fn cbor_text(s: &str) -> Vec<u8> {
    let mut v = vec![0x60 | s.len() as u8];
    v.extend_from_slice(s.as_bytes());
    v
}

fn valid_record() -> Record {
    Author::new(1).record(Body::SchemeGenesis {
        name: "g".into(),
        lab_codes: false,
        contact: None,
    })
}

#[test]
fn truncated_envelopes_are_rejected_as_truncated() {
    let bytes = Envelope::seal(&key(), &valid_record()).to_bytes();
    for n in [0, 1, 5, bytes.len() / 2, bytes.len() - 1] {
        match envelope_err(&bytes[..n]) {
            CborError::Decode(m) => assert!(m.contains("truncated") || n == 0, "{m}"),
            other => panic!("cut at {n}: {other}"),
        }
    }
}

#[test]
fn huge_length_prefix_is_rejected_without_allocating() {
    // {"body": bstr of length 2^62 …}
    let mut bytes = vec![0xa3];
    bytes.extend(cbor_text("body"));
    bytes.extend([0x5b, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
    assert!(matches!(envelope_err(&bytes), CborError::Decode(_)));
    // A text field claiming 2^32 bytes inside a validly signed body.
    let mut body = vec![0xa7];
    body.extend(cbor_text("v"));
    body.push(0x01);
    body.extend(cbor_text("author"));
    body.extend([0x7a, 0xff, 0xff, 0xff, 0xff, b'x']);
    assert!(matches!(body_err(&signed_body(body)), CborError::Decode(_)));
}

#[test]
fn deep_nesting_is_rejected() {
    let mut bytes = vec![0x81; 100_000];
    bytes.push(0x00);
    match envelope_err(&bytes) {
        CborError::Decode(m) => {
            assert!(m.contains("nesting") || m.contains("expected a map"), "{m}")
        }
        other => panic!("{other}"),
    }
    let mut body = vec![0x81; 10_000];
    body.push(0);
    assert!(matches!(body_err(&signed_body(body)), CborError::Decode(_)));
}

#[test]
fn wrong_types_are_rejected() {
    // body as a text string instead of bytes
    let env = Envelope::seal(&key(), &valid_record());
    let mut bytes = vec![0xa3];
    bytes.extend(cbor_text("body"));
    bytes.extend(cbor_text("hello"));
    bytes.extend(cbor_text("author"));
    bytes.push(0x58);
    bytes.push(32);
    bytes.extend(env.author.0);
    bytes.extend(cbor_text("sig"));
    bytes.extend([0x58, 64]);
    bytes.extend(env.sig.0);
    match envelope_err(&bytes) {
        CborError::Decode(m) => assert!(
            m.contains("expected a byte string, found a text string"),
            "{m}"
        ),
        other => panic!("{other}"),
    }
    // a signed body that is an integer, not a record
    assert!(matches!(
        body_err(&signed_body(vec![0x05])),
        CborError::Decode(_)
    ));
}

#[test]
fn extra_fields_are_rejected() {
    let env = Envelope::seal(&key(), &valid_record());
    let mut bytes = env.to_bytes();
    bytes[0] = 0xa4; // four entries
    bytes.extend(cbor_text("extra"));
    bytes.push(0x01);
    match envelope_err(&bytes) {
        CborError::Decode(m) => assert!(m.contains("unknown field"), "{m}"),
        other => panic!("{other}"),
    }
}

#[test]
fn duplicate_fields_are_rejected() {
    let env = Envelope::seal(&key(), &valid_record());
    let good = env.to_bytes();
    // {"body": b, "body": b, "author": …, "sig": …}
    let mut bytes = vec![0xa4];
    let body_entry_len = 1 + 4 + 2 + env.body.len();
    bytes.extend_from_slice(&good[1..1 + body_entry_len]);
    bytes.extend_from_slice(&good[1..]);
    match envelope_err(&bytes) {
        CborError::Decode(m) => assert!(m.contains("duplicate field"), "{m}"),
        other => panic!("{other}"),
    }
}

#[test]
fn non_canonical_integer_in_a_signed_body_is_rejected() {
    let rec = valid_record();
    let mut body = interlab_protocol::to_canonical_vec(&rec);
    // "v": 1 is encoded as 0x01; re-encode it as 0x18 0x01 (same value, longer form).
    let pos = body.windows(2).position(|w| w == [0x61, b'v']).unwrap() + 2;
    body.splice(pos..pos + 1, [0x18, 0x01]);
    assert_eq!(body_err(&signed_body(body)), CborError::NonCanonical);
}

#[test]
fn nan_floats_are_rejected() {
    let mut s = TestScheme::new("h", 1, 1);
    let mut log = MemoryLog::new();
    for b in s.bytes() {
        log.ingest(&b, u64::MAX / 2).unwrap();
    }
    let mut r = sample_run_result(interlab_protocol::Digest::default(), 1, 0.5);
    r.tests[0].measurements[0].values[1] = f64::NAN;
    let env = s.labs[0].next(Body::RunResult(r));
    let err = log.ingest(&env.to_bytes(), u64::MAX / 2).unwrap_err();
    assert!(matches!(err, Rejection::Measurement(_)), "{err}");
    // NaN where an integer belongs does not decode.
    let mut body = interlab_protocol::to_canonical_vec(&valid_record());
    let pos = body.windows(2).position(|w| w == [0x61, b'v']).unwrap() + 2;
    body.splice(pos..pos + 1, [0xf9, 0x7e, 0x00]);
    assert!(matches!(body_err(&signed_body(body)), CborError::Decode(_)));
}

#[test]
fn oversize_envelopes_are_rejected_before_decoding() {
    let bytes = vec![0u8; MAX_ENVELOPE_BYTES + 1];
    assert!(matches!(
        envelope_err(&bytes),
        CborError::TooLarge {
            max: MAX_ENVELOPE_BYTES,
            ..
        }
    ));
}

#[test]
fn unknown_versions_and_kinds_are_rejected() {
    let rec = Record {
        v: 2,
        ..valid_record()
    };
    let mut log = MemoryLog::new();
    let err = log
        .ingest(&Author::new(1).sign(&rec).to_bytes(), u64::MAX / 2)
        .unwrap_err();
    assert_eq!(err, Rejection::UnknownVersion { found: 2 });
    // A future version whose body this node cannot even decode is still named as such.
    let mut future = vec![0xa2];
    future.extend(cbor_text("v"));
    future.push(0x03);
    future.extend(cbor_text("shape"));
    future.push(0x00);
    assert_eq!(
        Envelope::open_bytes(&signed_body(future)),
        Err(EnvelopeError::UnknownVersion(3))
    );
    let body = interlab_protocol::to_canonical_vec(&valid_record());
    let at = body
        .windows(14)
        .position(|w| w == b"scheme_genesis")
        .unwrap();
    let mut body2 = body.clone();
    body2[at..at + 14].copy_from_slice(b"scheme_exodus!");
    match body_err(&signed_body(body2)) {
        CborError::Decode(m) => assert!(m.contains("unknown variant"), "{m}"),
        other => panic!("{other}"),
    }
}

#[test]
fn a_forged_signature_is_rejected() {
    let env = Envelope::seal(&key(), &valid_record());
    let forged = Envelope {
        author: SecretKey::from_bytes(&[8; 32]).public(),
        ..env
    };
    assert!(matches!(
        Envelope::open_bytes(&forged.to_bytes()),
        Err(EnvelopeError::Signature(_))
    ));
}
