#!/usr/bin/env python3
"""Independent reference for lib/random.ts: mulberry32 and a Fisher-Yates shuffle written with
Python's unbounded integers (masking to 32 bits), not JavaScript's Math.imul.

    /usr/bin/python3 scripts/reference/mulberry32.py > test/fixtures/data/mulberry32.json
"""
import json

M = 0xFFFFFFFF

def mulberry32(seed):
    state = seed & M
    def imul(a, b):
        return (a * b) & M
    def next_float():
        nonlocal state
        state = (state + 0x6D2B79F5) & M
        t = state
        t = imul(t ^ (t >> 15), t | 1)
        t = (t ^ ((t + imul(t ^ (t >> 7), t | 61)) & M)) & M
        return ((t ^ (t >> 14)) & M) / 4294967296
    return next_float

def permutation(n, seed):
    rng = mulberry32(seed)
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(rng() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order

seeds = [0, 1, 42, 2**32 - 1]
out = {
    'floats': {str(s): [rng() for rng in [mulberry32(s)] for _ in range(6)] for s in seeds},
    'permutation': {'n': 12, 'seed': 42, 'order': permutation(12, 42)},
}
json.dump(out, __import__('sys').stdout, indent=1)
print()
