#!/usr/bin/env python3
"""Reproduces the test vectors of docs/protocol.md §10 from the document's rules alone.

An independent check, not part of the Rust test suite (which checks the same values in
protocol/tests/protocol/vectors.rs). It builds every record from the descriptions in §10
with its own canonical CBOR encoder (§3), signs with Ed25519, hashes with BLAKE3 in
derive_key mode (§2), computes the evidence root and the inclusion proof (§8), and
decodes and checks the bundle (§9.1): canonical form, signatures, ids, root, report
digest. It does not recompute the report's statistics.

Needs Python 3.9+ and `pip install blake3 pynacl cbor2` (cbor2 only decodes the
bundle; encoding is done here). Run: python3 scripts/check_vectors.py [docs/protocol.md]
"""

import struct
import sys
from pathlib import Path

import blake3
import cbor2
from nacl.signing import SigningKey, VerifyKey


# ---- canonical CBOR (§3) --------------------------------------------------------------

class Float(float):
    """A value the schema types as `float`: always a CBOR float, shortest exact width."""


def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | extra]) + n.to_bytes(size, "big")
    raise ValueError("integer too large")


def enc(v):
    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, float):
        for fmt, code in (("e", 0xF9), ("f", 0xFA), ("d", 0xFB)):
            try:
                packed = struct.pack(">" + fmt, v)
            except OverflowError:
                continue
            if struct.unpack(">" + fmt, packed)[0] == v:
                return bytes([code]) + packed
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, (bytes, bytearray)):
        return head(2, len(v)) + bytes(v)
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(enc(x) for x in v)
    if isinstance(v, dict):  # insertion order = declaration order
        return head(5, len(v)) + b"".join(enc(k) + enc(x) for k, x in v.items())
    raise TypeError(type(v))


# ---- hashes (§2, §8) ------------------------------------------------------------------

def dk(context, data):
    return blake3.blake3(data, derive_key_context=context).digest()


RECORD_ID = "interlab 2026-11 record id v1"
ARTEFACT = "interlab 2026-11 artefact v1"
SUITE = "interlab 2026-11 suite id v1"
CRITERION = "interlab 2026-11 criterion v1"
REPORT = "interlab 2026-11 report v1"


def leaf(d):
    return blake3.blake3(b"\x00" + d).digest()


def node(l, r):
    return blake3.blake3(b"\x01" + l + r).digest()


def mth(ds):
    if not ds:
        return blake3.blake3(b"").digest()
    if len(ds) == 1:
        return leaf(ds[0])
    k = 1
    while k << 1 < len(ds):
        k <<= 1
    return node(mth(ds[:k]), mth(ds[k:]))


def audit_path(ds, m):
    if len(ds) <= 1:
        return []
    k = 1
    while k << 1 < len(ds):
        k <<= 1
    if m < k:
        return audit_path(ds[:k], m) + [mth(ds[k:])]
    return audit_path(ds[k:], m - k) + [mth(ds[:k])]


def verify_path(d, index, size, path, root):
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf(d)
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# ---- records and envelopes (§4, §5) ---------------------------------------------------

SIGN_CONTEXT = b"interlab/record/v1\x00"


def record(author, scheme, seq, prev, time_ms, body):
    return {"v": 1, "author": author, "scheme": scheme, "seq": seq, "prev": prev,
            "time_ms": time_ms, "body": body}


def seal(key, rec):
    body = enc(rec)
    sig = key.sign(SIGN_CONTEXT + body).signature
    env = {"body": body, "author": bytes(key.verify_key), "sig": sig}
    return body, dk(RECORD_ID, body), sig, enc(env)


def doc_values(text):
    section = text.split("\n## 10. Test vectors", 1)[1]
    out, label, in_block = {}, None, False
    ishex = lambda s: s != "" and all(c in "0123456789abcdefABCDEF" for c in s)
    for line in section.splitlines():
        if line.startswith("```"):
            in_block, label = not in_block, None
            continue
        if not in_block:
            continue
        if line.startswith(" "):
            if label and ishex(line.strip()):
                out[label] += line.strip()
            continue
        parts = line.split("  ", 1)
        if len(parts) == 2 and ishex(parts[1].strip()):
            label = parts[0].strip()
            out[label] = parts[1].strip()
        else:
            label = None
    return out


def main():
    doc = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/protocol.md").read_text()
    want = doc_values(doc)
    got = {}
    T0 = 1767225600000

    owner = SigningKey(bytes([0x42]) * 32)
    lab = SigningKey(bytes([0x43]) * 32)
    opk, lpk = bytes(owner.verify_key), bytes(lab.verify_key)
    got["public key"] = opk.hex()
    got["lab public key"] = lpk.hex()

    genesis = record(opk, None, 0, None, T0,
                     {"scheme_genesis": {"name": "EU AI Act cyber PT"}})
    body, gid, sig, env = seal(owner, genesis)
    got.update({"body": body.hex(), "record id": gid.hex(), "signature": sig.hex(),
                "envelope": env.hex()})

    criterion = {"metric": "robust_accuracy", "threshold": Float(0.5),
                 "direction": "at_least"}
    manifest = enc({"tests": [{"id": "pgd", "criterion": criterion}]})
    suite = dk(SUITE, manifest)
    owner_bodies = [
        {"lab_accredited": {"lab": lpk, "name": "Lab A"}},
        {"suite_published": {"suite": suite, "name": "vector suite", "version": "1",
                             "manifest": manifest, "artefacts": [], "supersedes": None}},
        {"round_opened": {"suite": suite, "round": 1, "deadline_ms": None}},
    ]
    ids, envelopes, prev = [gid], [env], gid
    for seq, b in enumerate(owner_bodies, start=1):
        _, rid, _, e = seal(owner, record(opk, gid, seq, prev, T0 + seq * 1000, b))
        ids.append(rid)
        envelopes.append(e)
        prev = rid
    result = {"run_result": {
        "suite": suite, "round": 1, "model": dk(ARTEFACT, b"model"), "seed": 7,
        "environment": {"hardware": "cpu", "os": "linux",
                        "software": [{"name": "interlab", "version": "0.1.0"}],
                        "threads": 1, "executor": "cpu"},
        "method": "reference",
        "tests": [{"test": "pgd", "item": None,
                   "measurements": [{"metric": "robust_accuracy",
                                     "values": [Float(0.5), Float(0.625)],
                                     "mean": Float(0.5625), "u": Float(0.0625),
                                     "expanded": Float(0.125), "k": Float(2.0)}],
                   "verdict": "pass", "criterion": dk(CRITERION, enc(criterion)),
                   "evidence": [], "warnings": [], "deviations": []}],
        "rerun_of": None}}
    _, rid, _, e = seal(lab, record(lpk, gid, 0, None, T0 + 10000, result))
    ids.append(rid)
    envelopes.append(e)
    for i in range(1, 5):
        got[f"id {i}"] = ids[i].hex()
    got["result envelope"] = e.hex()

    ordered = sorted(ids)
    root = mth(ordered)
    index = ordered.index(rid)
    path = audit_path(ordered, index)
    assert verify_path(rid, index, len(ordered), path, root)
    got["evidence root"] = root.hex()
    got["proof index"] = str(index)
    got["proof size"] = str(len(ordered))
    for i, p in enumerate(path):
        got[f"proof path {i}"] = p.hex()

    # The bundle: decode, check canonical form, then every claim it makes.
    raw = bytes.fromhex(want["bundle"])
    bundle = cbor2.loads(raw)
    assert enc(bundle) == raw, "bundle is not canonical"
    assert list(bundle) == ["v", "suite", "round", "include_disputed", "evidence_root",
                            "envelopes", "forks", "report"], list(bundle)
    assert bundle["v"] == 2 and bundle["suite"] == suite and bundle["round"] == 1
    assert bundle["include_disputed"] is False and bundle["forks"] == []
    assert bundle["evidence_root"] == root
    assert bundle["envelopes"] == envelopes, "bundle envelopes differ from the rebuilt ones"
    for e in bundle["envelopes"]:
        env = cbor2.loads(e)
        assert enc(env) == e
        VerifyKey(env["author"]).verify(SIGN_CONTEXT + env["body"], env["sig"])
        rec = cbor2.loads(env["body"])
        assert rec["author"] == env["author"]
    report = bundle["report"]
    assert enc(cbor2.loads(report)) == report, "report bytes are not canonical"
    got["report digest"] = dk(REPORT, report).hex()
    got["bundle digest"] = dk(ARTEFACT, raw).hex()
    got["bundle"] = raw.hex()

    bad = [k for k in want if got.get(k) != want[k]]
    missing = [k for k in got if k not in want]
    for k in bad:
        print(f"MISMATCH {k}:\n  doc  {want[k]}\n  here {got.get(k)}")
    for k in missing:
        print(f"NOT IN DOC {k}")
    print(f"{len(want) - len(bad)} of {len(want)} vectors reproduced")
    return 1 if bad or missing else 0


if __name__ == "__main__":
    sys.exit(main())
