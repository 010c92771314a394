#!/usr/bin/env python3
"""Writes the fmnist-cnn suite's content-addressed Fashion-MNIST subset.

Reads the IDX files of the Debian package `dataset-fashion-mnist`
(/usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz) with a
plain IDX parser (Python standard library only) and writes a safetensors file:

  x_train f32 [N_TRAIN,1,28,28]  train rows 0..N_TRAIN-1, pixel / 255 (IEEE f32), NCHW
  y_train i64 [N_TRAIN]
  x_test  f32 [N_TEST,1,28,28]   t10k rows 0..N_TEST-1, same scaling
  y_test  i64 [N_TEST]

Usage: tools/fmnist_subset.py OUT.safetensors [--train 5000] [--test 1000]
It prints the sha256 of the four .gz files for SOURCE.md. The same bytes come out on
every run (tensors in name order, no metadata).
"""

import argparse
import gzip
import hashlib
import json
import struct
import sys

DIR = "/usr/share/datasets/fashion-mnist"


def idx(path, want_dims):
    raw = gzip.open(path, "rb").read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    dims = raw[3]
    if dims != want_dims:
        sys.exit(f"{path}: {dims} dimensions, expected {want_dims}")
    shape = struct.unpack(f">{dims}I", raw[4 : 4 + 4 * dims])
    body = raw[4 + 4 * dims :]
    n = 1
    for s in shape:
        n *= s
    if len(body) != n:
        sys.exit(f"{path}: {len(body)} data bytes, header says {n}")
    return shape, body


def f32_div255(p):
    # Correctly rounded f32(p) / 255: p/255 in f64 is within 2^-53 relative of the exact
    # quotient, and no quotient of a byte by 255 lies near an f32 rounding midpoint.
    return struct.pack("<f", p / 255.0)


def safetensors(tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def split(kind, rows):
    (n, hh, ww), px = idx(f"{DIR}/{kind}-images-idx3-ubyte.gz", 3)
    (nl,), lab = idx(f"{DIR}/{kind}-labels-idx1-ubyte.gz", 1)
    if (hh, ww) != (28, 28) or nl != n or rows > n:
        sys.exit(f"{kind}: unexpected shape {n}x{hh}x{ww}, {nl} labels, {rows} rows wanted")
    table = [f32_div255(p) for p in range(256)]
    x = b"".join(table[p] for p in px[: rows * 784])
    y = b"".join(struct.pack("<q", v) for v in lab[:rows])
    return ("F32", [rows, 1, 28, 28], x), ("I64", [rows], y)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=5000)
    ap.add_argument("--test", type=int, default=1000)
    a = ap.parse_args()
    xtr, ytr = split("train", a.train)
    xte, yte = split("t10k", a.test)
    out = safetensors({"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte})
    open(a.out, "wb").write(out)
    for f in ["train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1"]:
        p = f"{DIR}/{f}-ubyte.gz"
        print(f"{hashlib.sha256(open(p, 'rb').read()).hexdigest()}  {f}-ubyte.gz")
    print(f"{hashlib.sha256(out).hexdigest()}  {a.out} ({len(out)} bytes)")


if __name__ == "__main__":
    main()
