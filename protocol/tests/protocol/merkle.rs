//! The evidence tree against RFC 6962's published vectors (instantiated with SHA-256,
//! as in certificate-transparency-go's merkle tests and RFC 6962 §2.1), and inclusion
//! proofs over random logs.

use interlab_protocol::{
    Body, Digest, InclusionProof, MemoryLog, TreeHash, audit_path, domain, merkle_root,
    testkit::{TestScheme, sample_run_result},
    verify_path,
};
use sha2::{Digest as _, Sha256};

struct Sha256Tree;

impl TreeHash for Sha256Tree {
    fn empty() -> [u8; 32] {
        Sha256::digest([]).into()
    }
    fn leaf(data: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(data);
        h.finalize().into()
    }
    fn node(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(l);
        h.update(r);
        h.finalize().into()
    }
}

const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn leaves() -> Vec<Vec<u8>> {
    LEAVES.iter().map(|h| hex::decode(h).unwrap()).collect()
}

#[test]
fn tree_hash_matches_rfc6962_vectors_for_every_size() {
    let data = leaves();
    for n in 0..=8 {
        assert_eq!(
            hex::encode(merkle_root::<Sha256Tree, _>(&data[..n])),
            ROOTS[n],
            "size {n}"
        );
    }
}

#[test]
fn audit_paths_match_rfc6962_vectors() {
    let data = leaves();
    let cases: [(usize, usize, &[&str]); 3] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
    ];
    for (index, size, expected) in cases {
        let path = audit_path::<Sha256Tree, _>(&data[..size], index);
        let hexes: Vec<String> = path.iter().map(hex::encode).collect();
        assert_eq!(hexes, expected, "index {index} size {size}");
        let root = merkle_root::<Sha256Tree, _>(&data[..size]);
        assert!(verify_path::<Sha256Tree>(
            &data[index],
            index as u64,
            size as u64,
            &path,
            &root
        ));
        assert!(!verify_path::<Sha256Tree>(
            &data[index],
            index as u64,
            size as u64 + 1,
            &path,
            &root
        ));
    }
}

#[test]
fn inclusion_proofs_verify_for_every_record_of_a_random_log_and_fail_when_tampered() {
    let mut s = TestScheme::new("merkle", 4, 77);
    let suite = Digest::of(domain::SUITE, b"merkle");
    let mut envs = s.bytes();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..60 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let lab = (state % 4) as usize;
        envs.push(
            s.labs[lab]
                .next(Body::RunResult(sample_run_result(
                    suite,
                    i,
                    (state % 1000) as f64 / 1000.0,
                )))
                .to_bytes(),
        );
    }
    let mut log = MemoryLog::new();
    assert!(log.ingest_all(&envs, u64::MAX / 2).is_empty());
    let root = log.evidence().root;
    for id in log.ids() {
        let p = log.proof(&id).unwrap();
        assert_eq!(p.root, root);
        assert!(p.verify());
        let mut bad = p.clone();
        bad.id = Digest::of(domain::RECORD_ID, b"someone else");
        assert!(!bad.verify());
        let mut bad = p.clone();
        let last = bad.path.len() - 1;
        bad.path[last].0[31] ^= 0x80;
        assert!(!bad.verify());
        let mut bad: InclusionProof = p.clone();
        bad.size -= 1;
        assert!(!bad.verify());
    }
    assert!(
        log.proof(&Digest::of(domain::RECORD_ID, b"absent"))
            .is_none()
    );
}
