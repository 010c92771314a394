//! The byte-exact test vector of docs/protocol.md. The same values were reproduced with
//! Python `cryptography` 48 (Ed25519), `blake3` (derive_key mode) and `cbor2`.

use interlab_protocol::{Body, Envelope, RECORD_VERSION, Record, SecretKey};

const PUBLIC: &str = "2152f8d19b791d24453242e15f2eab6cb7cffa7b6a5ed30097960e069881db12";
const BODY: &str = "a761760166617574686f7258202152f8d19b791d24453242e15f2eab6cb7cffa7b6a5ed30097960e069881db1266736368656d65f663736571006470726576f66774696d655f6d731b0000019b76daa80064626f6479a16e736368656d655f67656e65736973a1646e616d6572455520414920416374206379626572205054";
const ID: &str = "1a67b3c7830611434be1086a942f9f026ae3be0fe0d23811b33c635b49854199";
const SIG: &str = "2a891f3cfa6ed2498fb2c6b24229a6c80628d155e350dd4fc0cd2d8caab079ac1cf35e043bc8ee3771ec7550e810e5f625c8266b0088f22d1dea3d25cacd3502";

fn genesis() -> (SecretKey, Record) {
    let key = SecretKey::from_bytes(&[0x42; 32]);
    let rec = Record {
        v: RECORD_VERSION,
        author: key.public(),
        scheme: None,
        seq: 0,
        prev: None,
        time_ms: 1_767_225_600_000,
        body: Body::SchemeGenesis {
            name: "EU AI Act cyber PT".into(),
        },
    };
    (key, rec)
}

#[test]
fn genesis_vector_matches_byte_for_byte() {
    let (key, rec) = genesis();
    let env = Envelope::seal(&key, &rec);
    assert_eq!(key.public().to_hex(), PUBLIC);
    assert_eq!(hex::encode(&env.body), BODY);
    assert_eq!(env.id().to_hex(), ID);
    assert_eq!(hex::encode(env.sig.0), SIG);
}

#[test]
fn vector_envelope_opens_to_the_same_record() {
    let (key, rec) = genesis();
    let bytes = Envelope::seal(&key, &rec).to_bytes();
    let opened = Envelope::open_bytes(&bytes).unwrap();
    assert_eq!(opened.record, rec);
    assert_eq!(opened.id.to_hex(), ID);
}
