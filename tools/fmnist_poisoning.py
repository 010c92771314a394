#!/usr/bin/env python3
"""Writes the fmnist-cnn suite's poisoning inputs from its data file (stdlib only).

  backdoor_idx    i64 [250]   every 10th training row (index % 10 == 0) not labelled 0,
                              the first 250 of them
  flip_idx        i64 [1000]  training rows with index % 5 == 0
  y_train_flipped i64 [N]     all training labels; the flip rows get (y + 1) % 10

Usage: tools/fmnist_poisoning.py DATA.safetensors OUT.safetensors
"""

import json
import struct
import sys


def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8 : 8 + n]), b[8 + n :]


def ints(h, body, name):
    lo, hi = h[name]["data_offsets"]
    return list(struct.unpack(f"<{(hi - lo) // 8}q", body[lo:hi]))


def write(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        v = tensors[name]
        data = struct.pack(f"<{len(v)}q", *v)
        header[name] = {"dtype": "I64", "shape": [len(v)], "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


h, body = load(sys.argv[1])
y = ints(h, body, "y_train")
backdoor = [i for i in range(len(y)) if i % 10 == 0 and y[i] != 0][:250]
flip = [i for i in range(len(y)) if i % 5 == 0]
flipped = list(y)
for i in flip:
    flipped[i] = (y[i] + 1) % 10
assert len(backdoor) == 250
write(sys.argv[2], {"backdoor_idx": backdoor, "flip_idx": flip, "y_train_flipped": flipped})
