//! Evidence roots: one hash that names a whole set of accepted records.
//!
//! The root is an RFC 6962 Merkle tree hash (leaf prefix 0x00, node prefix 0x01) with
//! BLAKE3, over the accepted record ids sorted bytewise. Sorting makes the root a
//! function of the set alone, so two nodes that received the same records in any order
//! name the same root; the prefixes keep leaves and inner nodes apart.

use serde::{Deserialize, Serialize};

use crate::{
    digest::{Digest, RecordId},
    keys::PublicKey,
};

/// The two hash functions of an RFC 6962 tree. Interlab uses [`Blake3Tree`]; tests also
/// instantiate SHA-256 to check the tree shape against published vectors.
pub trait TreeHash {
    /// Hash of the empty tree: `H()`.
    fn empty() -> [u8; 32];
    /// `H(0x00 ‖ data)`.
    fn leaf(data: &[u8]) -> [u8; 32];
    /// `H(0x01 ‖ left ‖ right)`.
    fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32];
}

/// RFC 6962 hashing with BLAKE3.
#[derive(Debug, Clone, Copy)]
pub struct Blake3Tree;

impl TreeHash for Blake3Tree {
    fn empty() -> [u8; 32] {
        *blake3::hash(&[]).as_bytes()
    }
    fn leaf(data: &[u8]) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(&[0]);
        h.update(data);
        *h.finalize().as_bytes()
    }
    fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(&[1]);
        h.update(left);
        h.update(right);
        *h.finalize().as_bytes()
    }
}

/// Largest power of two strictly below `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// Merkle tree hash of already-hashed leaves.
fn mth<H: TreeHash>(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => H::empty(),
        1 => leaves[0],
        n => {
            let k = split(n);
            H::node(&mth::<H>(&leaves[..k]), &mth::<H>(&leaves[k..]))
        }
    }
}

/// RFC 6962 Merkle tree hash over raw leaf data.
pub fn merkle_root<H: TreeHash, D: AsRef<[u8]>>(data: &[D]) -> [u8; 32] {
    let leaves: Vec<[u8; 32]> = data.iter().map(|d| H::leaf(d.as_ref())).collect();
    mth::<H>(&leaves)
}

/// RFC 6962 audit path for leaf `index` (empty when out of range).
pub fn audit_path<H: TreeHash, D: AsRef<[u8]>>(data: &[D], index: usize) -> Vec<[u8; 32]> {
    let leaves: Vec<[u8; 32]> = data.iter().map(|d| H::leaf(d.as_ref())).collect();
    let mut path = Vec::new();
    if index < leaves.len() {
        path_rec::<H>(&leaves, index, &mut path);
    }
    path
}

fn path_rec<H: TreeHash>(leaves: &[[u8; 32]], m: usize, out: &mut Vec<[u8; 32]>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path_rec::<H>(&leaves[..k], m, out);
        out.push(mth::<H>(&leaves[k..]));
    } else {
        path_rec::<H>(&leaves[k..], m - k, out);
        out.push(mth::<H>(&leaves[..k]));
    }
}

/// Verifies an audit path (RFC 9162 §2.1.3.2): leaf data at `index` of a tree of `size`
/// leaves hashes up to `root`.
pub fn verify_path<H: TreeHash>(
    leaf_data: &[u8],
    index: u64,
    size: u64,
    path: &[[u8; 32]],
    root: &[u8; 32],
) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = H::leaf(leaf_data);
    for p in path {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = H::node(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = H::node(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// The evidence root of a set of record ids (any order; duplicates are an error of the
/// caller and are removed).
pub fn evidence_root(ids: &[RecordId]) -> Digest {
    let sorted = sorted_unique(ids);
    Digest(merkle_root::<Blake3Tree, _>(&sorted))
}

fn sorted_unique(ids: &[RecordId]) -> Vec<[u8; 32]> {
    let mut v: Vec<[u8; 32]> = ids.iter().map(|d| d.0).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Proof that one record id is in the set an evidence root names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// The record id.
    pub id: RecordId,
    /// Its index among the sorted ids.
    pub index: u64,
    /// Number of ids under the root.
    pub size: u64,
    /// RFC 6962 audit path, leaf to root.
    pub path: Vec<Digest>,
    /// The evidence root.
    pub root: Digest,
}

impl InclusionProof {
    /// Builds the proof for `id` among `ids`, or `None` when it is not in the set.
    pub fn build(ids: &[RecordId], id: &RecordId) -> Option<InclusionProof> {
        let sorted = sorted_unique(ids);
        let index = sorted.binary_search(&id.0).ok()?;
        let path = audit_path::<Blake3Tree, _>(&sorted, index)
            .into_iter()
            .map(Digest)
            .collect();
        Some(InclusionProof {
            id: *id,
            index: index as u64,
            size: sorted.len() as u64,
            path,
            root: Digest(merkle_root::<Blake3Tree, _>(&sorted)),
        })
    }

    /// Checks the proof against its root.
    pub fn verify(&self) -> bool {
        let path: Vec<[u8; 32]> = self.path.iter().map(|d| d.0).collect();
        verify_path::<Blake3Tree>(&self.id.0, self.index, self.size, &path, &self.root.0)
    }
}

/// The Merkle tree over a set of record ids, kept whole so that the root and any
/// inclusion proof are read from it instead of rehashing every id. Built bottom-up: a
/// node without a right sibling moves up unchanged, which gives exactly the RFC 6962
/// tree of [`evidence_root`] and [`InclusionProof::build`].
#[derive(Debug, Clone, Default)]
pub struct EvidenceTree {
    /// The ids, sorted and unique (the leaves, in order).
    ids: Vec<[u8; 32]>,
    /// Level 0 holds the leaf hashes, the last level the root (empty tree: no levels).
    levels: Vec<Vec<[u8; 32]>>,
}

impl EvidenceTree {
    /// The tree over `ids` (any order; duplicates removed).
    pub fn new(ids: &[RecordId]) -> EvidenceTree {
        let ids = sorted_unique(ids);
        let mut levels = Vec::new();
        let mut level: Vec<[u8; 32]> = ids.iter().map(|d| Blake3Tree::leaf(d)).collect();
        while level.len() > 1 {
            let up = level
                .chunks(2)
                .map(|pair| match pair {
                    [l, r] => Blake3Tree::node(l, r),
                    [lone] => *lone,
                    _ => unreachable!("chunks(2) yields one or two"),
                })
                .collect();
            levels.push(std::mem::replace(&mut level, up));
        }
        if !level.is_empty() {
            levels.push(level);
        }
        EvidenceTree { ids, levels }
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the tree holds no id.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The evidence root (equal to [`evidence_root`] of the same ids).
    pub fn root(&self) -> Digest {
        Digest(
            self.levels
                .last()
                .and_then(|l| l.first())
                .copied()
                .unwrap_or_else(Blake3Tree::empty),
        )
    }

    /// The inclusion proof of `id`, or `None` when it is not in the set (equal to
    /// [`InclusionProof::build`] over the same ids).
    pub fn proof(&self, id: &RecordId) -> Option<InclusionProof> {
        let index = self.ids.binary_search(&id.0).ok()?;
        let mut path = Vec::new();
        let mut m = index;
        for level in &self.levels[..self.levels.len().saturating_sub(1)] {
            if let Some(sibling) = level.get(m ^ 1) {
                path.push(Digest(*sibling));
            }
            m >>= 1;
        }
        Some(InclusionProof {
            id: *id,
            index: index as u64,
            size: self.ids.len() as u64,
            path,
            root: self.root(),
        })
    }
}

/// One author's chain head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FrontierEntry {
    /// The author.
    pub author: PublicKey,
    /// Last accepted seq.
    pub seq: u64,
    /// Its record id.
    pub head: RecordId,
}

/// What an answer was computed from: the root, the record count and every chain head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EvidenceState {
    /// Evidence root over the accepted record ids.
    pub root: Digest,
    /// Number of accepted records.
    pub records: u64,
    /// Per-author heads, sorted by author.
    pub frontier: Vec<FrontierEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_tree_gives_the_rfc_6962_root_and_proofs_for_every_size_and_index() {
        for n in 0..70u16 {
            let ids: Vec<RecordId> = (0..n)
                .map(|i| Digest::of(crate::digest::domain::RECORD_ID, &i.to_be_bytes()))
                .collect();
            let tree = EvidenceTree::new(&ids);
            assert_eq!(tree.root(), evidence_root(&ids), "root of {n} ids");
            assert_eq!(tree.len(), n as usize);
            for id in &ids {
                let p = tree.proof(id).unwrap();
                assert_eq!(Some(&p), InclusionProof::build(&ids, id).as_ref(), "n={n}");
                assert!(p.verify());
            }
            let absent = Digest::of(crate::digest::domain::RECORD_ID, b"absent");
            assert!(tree.proof(&absent).is_none());
        }
    }

    #[test]
    fn split_is_largest_power_of_two_below() {
        assert_eq!(split(2), 1);
        assert_eq!(split(3), 2);
        assert_eq!(split(4), 2);
        assert_eq!(split(5), 4);
        assert_eq!(split(9), 8);
    }

    #[test]
    fn root_ignores_order() {
        let ids: Vec<RecordId> = (0u8..7)
            .map(|i| Digest::of(crate::digest::domain::RECORD_ID, &[i]))
            .collect();
        let mut rev = ids.clone();
        rev.reverse();
        assert_eq!(evidence_root(&ids), evidence_root(&rev));
        assert_ne!(evidence_root(&ids), evidence_root(&ids[..6]));
    }

    #[test]
    fn proofs_verify_for_every_index_and_fail_when_tampered() {
        for n in 1..20u8 {
            let ids: Vec<RecordId> = (0..n)
                .map(|i| Digest::of(crate::digest::domain::RECORD_ID, &[i]))
                .collect();
            for id in &ids {
                let p = InclusionProof::build(&ids, id).unwrap();
                assert!(p.verify(), "n={n}");
                let mut bad = p.clone();
                bad.index = (bad.index + 1) % bad.size.max(2);
                if bad.size > 1 {
                    assert!(!bad.verify());
                }
                if let Some(first) = p.path.first() {
                    let mut bad = p.clone();
                    bad.path[0] = Digest(first.0.map(|b| b ^ 1));
                    assert!(!bad.verify());
                }
                let mut bad = p.clone();
                bad.root.0[0] ^= 1;
                assert!(!bad.verify());
            }
        }
    }
}
