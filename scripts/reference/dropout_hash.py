"""Independent reference for lib/dropout.ts: the counter-based dropout hash, written from its
definition (murmur3's fmix32, twice, keyed by the seed), in plain Python integers and numpy.

    /usr/bin/python3 scripts/reference/dropout_hash.py > test/fixtures/dropout/hash.json

Definition (see lib/dropout.ts):
    key0 = fmix32(seed ^ 0x9e3779b9), key1 = fmix32(seed ^ 0x7f4a7c15)
    h    = fmix32(fmix32(index ^ key0) ^ key1)
    u    = (h >> 8) / 2**24
    keep element iff (h >> 8) < round((1 - rate) * 2**24)
    out  = float32(x * float32(1 / (1 - rate))) if kept else 0
"""
import json

import numpy as np

M32 = 0xFFFFFFFF


def fmix32(h):
    h &= M32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    h ^= h >> 16
    return h


def hash_of(seed, index):
    key0 = fmix32(seed ^ 0x9E3779B9)
    key1 = fmix32(seed ^ 0x7F4A7C15)
    return fmix32(fmix32(index ^ key0) ^ key1)


seeds = [0, 1, 42, 123456789, 0xDEADBEEF, 2**32 - 1]
indices = [0, 1, 2, 3, 1000, 65535, 123456, 2**24 + 5, 2**31 - 1]
hashes = [
    {"seed": s, "index": i, "hash": hash_of(s, i), "uniform": (hash_of(s, i) >> 8) / 2**24}
    for s in seeds
    for i in indices
]

# A small dropout: x [6, 7] (values k/8 - 2, exact in fp32), rate 0.3, seed 7.
rate, seed, shape = 0.3, 7, [6, 7]
n = shape[0] * shape[1]
x = (np.arange(n, dtype=np.float32) / np.float32(8) - np.float32(2)).astype(np.float32)
threshold = round((1 - rate) * 2**24)
scale = np.float32(1 / (1 - rate))
kept = np.array([(hash_of(seed, i) >> 8) < threshold for i in range(n)])
out = np.where(kept, (x * scale).astype(np.float32), np.float32(0)).astype(np.float32)

print(json.dumps({
    "hashes": hashes,
    "dropout": {
        "rate": rate, "seed": seed, "shape": shape,
        "x": [float(v) for v in x],
        "kept": [int(k) for k in kept],
        "out": [float(v) for v in out],
    },
}, indent=1))
