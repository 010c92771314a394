//! The seed corpus of the fuzz targets, built from the same fixture the checks use.

use super::*;

/// Seed inputs for the fuzz targets, built from real data: `(target, file name, bytes)`.
///
/// Envelopes and record bodies of every record kind (valid next records of a scheme with
/// history, plus an equivocation), a fork proof, every sync request and response, both
/// gossip messages, and the reference suite's manifest as TOML and canonical bytes.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let fx = fixture();
    let mut out = Vec::new();
    let mut push = |target: &'static str, name: String, bytes: Vec<u8>| {
        out.push((target, name, bytes));
    };
    let named = fx
        .history
        .iter()
        .enumerate()
        .map(|(i, e)| (format!("history-{i}"), e))
        .chain(fx.next.iter().map(|(n, e)| (format!("next-{n}"), e)));
    for (name, env) in named {
        push("envelope", format!("seed-env-{name}"), env.to_bytes());
        push("envelope", format!("seed-rec-{name}"), env.body.clone());
    }
    push("envelope", "seed-fork-proof".into(), fx.fork.to_bytes());

    let owner = fx.keys[0].public();
    let (scheme, _) = fx.log.authority().scheme().expect("fixture has a scheme");
    let requests = [
        ("frontier", SyncRequest::Frontier { scheme }),
        (
            "range",
            SyncRequest::Range {
                author: owner,
                from_seq: 1,
                limit: 100,
            },
        ),
        ("genesis", SyncRequest::Genesis { scheme }),
        ("forks", SyncRequest::Forks { scheme }),
        (
            "artefact",
            SyncRequest::Artefact {
                digest: wire::artefact_digest(b"weights"),
            },
        ),
    ];
    for (name, req) in &requests {
        push(
            "sync_codec",
            format!("seed-req-{name}"),
            to_canonical_vec(req),
        );
    }
    let bytes = |e: &Envelope| ByteBuf::from(e.to_bytes());
    let responses = [
        (
            "frontier",
            SyncResponse::Frontier(fx.log.evidence().frontier),
        ),
        (
            "range",
            SyncResponse::Range(fx.history[..3].iter().map(bytes).collect()),
        ),
        (
            "genesis",
            SyncResponse::Genesis(Some(bytes(&fx.history[0]))),
        ),
        ("genesis-none", SyncResponse::Genesis(None)),
        (
            "artefact",
            SyncResponse::Artefact(Some(ByteBuf::from(b"weights".to_vec()))),
        ),
        ("artefact-none", SyncResponse::Artefact(None)),
        ("error", SyncResponse::Error("no such scheme".into())),
        (
            "forks",
            SyncResponse::Forks(vec![ByteBuf::from(fx.fork.to_bytes())]),
        ),
        ("forks-none", SyncResponse::Forks(Vec::new())),
    ];
    for (name, res) in &responses {
        push(
            "sync_codec",
            format!("seed-res-{name}"),
            to_canonical_vec(res),
        );
    }
    push(
        "sync_codec",
        "seed-gossip-record".into(),
        Gossip::Record(fx.history[3].to_bytes()).to_bytes(),
    );
    push(
        "sync_codec",
        "seed-gossip-fork".into(),
        Gossip::Fork(fx.fork.to_bytes()).to_bytes(),
    );
    push(
        "sync_codec",
        "seed-envelope".into(),
        fx.history[4].to_bytes(),
    );

    let m = Manifest::from_toml(SUITE_TOML).expect("the reference suite parses");
    push("manifest", "seed-digits-mlp.toml".into(), SUITE_TOML.into());
    push(
        "manifest",
        "seed-digits-mlp.cbor".into(),
        m.canonical_bytes(),
    );
    out
}
