#!/usr/bin/python3
"""Independent reference for lib/nf4.ts: bitsandbytes NF4 quantization re-implemented in numpy.

Written from the bitsandbytes sources (not from our TypeScript):
  * csrc kQuantizeBlockwise (DATA_TYPE NF4): absmax = max |w| per block (fp32),
    x = fp32(w * fp32(1 / absmax)), code = dQuantizeNF4(x) (the decision tree below, copied
    from the CUDA source), packed two per byte with the even element in the high nibble.
  * functional.quantize_4bit(compress_statistics=True): offset = absmax.mean();
    quantize_blockwise(absmax - offset, blocksize=256) with the dynamic map from
    create_dynamic_map(signed=True) (copied below, run with real torch as bitsandbytes does)
    and kQuantizeBlockwise's General8bit path dQuantize<0> (binary search, copied below).
  * dequantize_4bit: nested absmax = fp32(code8_map[c] * scale) + offset (fp32), then
    out = fp32(NF4[c] * absmax).
One choice of ours: bitsandbytes' offset is torch's GPU fp32 mean (its summation order is the
GPU's); here it is the double-precision mean rounded to fp32. The script reports whether
torch's CPU fp32 mean agrees on the fixtures.

Inputs come from a tiny integer PRNG (xorshift32) whose float values are exact in both Python
and TypeScript, so the fixture stores only outputs. Run once with Debian's python3:
    /usr/bin/python3 scripts/reference/nf4_reference.py
It writes test/fixtures/nf4/reference.json.
"""
import base64
import hashlib
import json
import os
import sys

import numpy as np
import torch

f32 = np.float32
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', '..', 'test', 'fixtures', 'nf4', 'reference.json')

# bitsandbytes get_4bit_type('nf4')
NF4 = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0], dtype=f32)


def dQuantizeNF4(x):
    """csrc dQuantizeNF4: the literal decision tree (fp32 comparisons)."""
    if x > f32(0.03979014977812767):
        if x > f32(0.3893125355243683):
            if x > f32(0.6427869200706482):
                return 0b1111 if x > f32(0.8614784181118011) else 0b1110
            return 0b1101 if x > f32(0.5016634166240692) else 0b1100
        if x > f32(0.2035212516784668):
            return 0b1011 if x > f32(0.2920137718319893) else 0b1010
        return 0b1001 if x > f32(0.1202552504837513) else 0b1000
    if x > f32(-0.33967943489551544):
        if x > f32(-0.13791173323988914):
            return 0b0111 if x > f32(-0.045525018125772476) else 0b0110
        return 0b0101 if x > f32(-0.23460740596055984) else 0b0100
    if x > f32(-0.6106329262256622):
        return 0b0011 if x > f32(-0.4599952697753906) else 0b0010
    return 0b0001 if x > f32(-0.8480964004993439) else 0b0000


def create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
    """bitsandbytes/functional.py create_dynamic_map, verbatim logic (uses torch like the original)."""
    data = []
    non_sign_bits = total_bits - (1 if signed else 1)
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    for i in range(max_exponent_bits):
        fraction_items = int(
            2 ** (i + non_sign_bits - max_exponent_bits) + 1
            if signed
            else 2 ** (i + non_sign_bits - max_exponent_bits + 1) + 1
        )
        boundaries = torch.linspace(0.1, 1, fraction_items)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    if additional_items > 0:
        boundaries = torch.linspace(0.1, 1, additional_items + 1)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    data.append(0)
    data.append(1.0)
    assert len(data) == 2 ** total_bits
    gap = 256 - len(data)
    for i in range(gap):
        data.append(0)
    data.sort()
    return torch.Tensor(data).numpy().astype(f32)


def dQuantize(code, x):
    """csrc dQuantize<STOCHASTIC=0>: binary search over the 256-entry map."""
    pivot, upper_pivot, lower_pivot = 127, 255, 0
    lower, upper = f32(-1.0), f32(1.0)
    val = code[pivot]
    i = 64
    while i > 0:
        if x > val:
            lower_pivot = pivot
            lower = val
            pivot += i
        else:
            upper_pivot = pivot
            upper = val
            pivot -= i
        val = code[pivot]
        i >>= 1
    if upper_pivot == 255:
        upper = code[upper_pivot]
    if lower_pivot == 0:
        lower = code[lower_pivot]
    if x > val:
        midpoint = f32(f32(upper + val) * f32(0.5))
        return upper_pivot if x > midpoint else pivot
    midpoint = f32(f32(lower + val) * f32(0.5))
    return lower_pivot if x < midpoint else pivot


def blockwise_absmax_and_scaled(a, blocksize):
    """kQuantizeBlockwise's first half: per-block absmax, then x = fp32(v * fp32(1/absmax))."""
    n = a.size
    nblocks = (n + blocksize - 1) // blocksize
    absmax = np.zeros(nblocks, dtype=f32)
    scaled = np.zeros(n, dtype=f32)
    with np.errstate(divide='ignore', invalid='ignore'):
        for b in range(nblocks):
            blk = a[b * blocksize:(b + 1) * blocksize]
            m = f32(np.max(np.abs(blk)))
            absmax[b] = m
            inv = f32(f32(1.0) / m)  # 1/0 = inf; 0 * inf = NaN, as on the GPU
            scaled[b * blocksize:(b + 1) * blocksize] = blk * inv
    return absmax, scaled


def quantize_nf4(a, blocksize, compress_statistics):
    absmax, scaled = blockwise_absmax_and_scaled(a, blocksize)
    codes = np.array([dQuantizeNF4(x) for x in scaled], dtype=np.uint8)
    if codes.size % 2:
        codes = np.append(codes, np.uint8(0))
    packed = (codes[0::2] << 4) | codes[1::2]
    result = {'packed': packed.astype(np.uint8), 'absmax': absmax}
    if compress_statistics:
        offset = f32(np.mean(absmax.astype(np.float64)))
        torch_mean = torch.from_numpy(absmax).mean().item()
        centered = (absmax - offset).astype(f32)
        scales, scaled8 = blockwise_absmax_and_scaled(centered, 256)
        dmap = create_dynamic_map(signed=True)
        codes8 = np.array([dQuantize(dmap, x) for x in scaled8], dtype=np.uint8)
        result.update({'codes8': codes8, 'scales': scales, 'offset': offset,
                       'torch_cpu_mean_agrees': bool(f32(torch_mean) == offset)})
    return result


def dequantize_nf4(q, n, blocksize):
    if 'codes8' in q:
        dmap = create_dynamic_map(signed=True)
        idx = np.arange(q['codes8'].size) // 256
        absmax = (dmap[q['codes8']] * q['scales'][idx]).astype(f32)
        absmax = (absmax + q['offset']).astype(f32)
    else:
        absmax = q['absmax']
    codes = np.empty(q['packed'].size * 2, dtype=np.uint8)
    codes[0::2] = q['packed'] >> 4
    codes[1::2] = q['packed'] & 15
    codes = codes[:n]
    out = (NF4[codes] * absmax[np.arange(n) // blocksize]).astype(f32)
    return absmax, out


class XorShift32:
    def __init__(self, seed):
        self.x = seed & 0xFFFFFFFF

    def next_uniform(self):
        x = self.x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.x = x
        return x / 4294967296.0


def generate_inputs(spec):
    """Bell-shaped values (sum of 4 uniforms), per-block scales, outliers, a zero and a constant block.
    Every step is exact in double precision, so TypeScript reproduces the same fp32 values."""
    rng = XorShift32(spec['seed'])
    n, bs = spec['n'], spec['blockSize']
    out = np.zeros(n, dtype=f32)
    for i in range(n):
        r = (rng.next_uniform() + rng.next_uniform() + rng.next_uniform() + rng.next_uniform()) - 2.0
        r *= 1 + ((i // bs) % 7) * 0.25
        if i % 211 == 0:
            r *= 16
        block = i // bs
        if block == spec.get('zeroBlock', -1):
            r = 0.0
        if block == spec.get('constantBlock', -1):
            r = -0.4375
        out[i] = f32(r)
    return out


def next_after32(x, direction):
    return np.nextafter(f32(x), f32(direction), dtype=f32)


def edge_inputs():
    """Two blocks of 64: every threshold, its fp32 neighbours, every NF4 level, ±0 and 1.0 (absmax
    1, so x = w exactly); then the same values times 3 (absmax 3: exercises the fp32 reciprocal)."""
    th = [0.03979014977812767, 0.3893125355243683, 0.6427869200706482, 0.8614784181118011,
          0.5016634166240692, 0.2035212516784668, 0.2920137718319893, 0.1202552504837513,
          -0.33967943489551544, -0.13791173323988914, -0.045525018125772476,
          -0.23460740596055984, -0.6106329262256622, -0.4599952697753906, -0.8480964004993439]
    vals = [1.0]
    for t in th:
        t = f32(t)
        vals += [t, next_after32(t, 2.0), next_after32(t, -2.0)]
    vals += list(NF4)
    vals += [0.0, -0.0]
    assert len(vals) == 64, len(vals)
    block1 = np.array(vals, dtype=f32)
    block2 = (block1 * f32(3.0)).astype(f32)
    return np.concatenate([block1, block2])


def b64(arr):
    return base64.b64encode(np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder('<')).tobytes()).decode('ascii')


def main():
    specs = [
        {'name': 'block64', 'seed': 1, 'n': 3001, 'blockSize': 64, 'doubleQuant': False, 'zeroBlock': 5, 'constantBlock': 6},
        {'name': 'block32-odd', 'seed': 2, 'n': 999, 'blockSize': 32, 'doubleQuant': False, 'zeroBlock': 0},
        {'name': 'block4096', 'seed': 3, 'n': 5000, 'blockSize': 4096, 'doubleQuant': False},
        {'name': 'block64-doublequant', 'seed': 4, 'n': 33769, 'blockSize': 64, 'doubleQuant': True, 'zeroBlock': 300, 'constantBlock': 301},
        {'name': 'block32-doublequant', 'seed': 5, 'n': 8969, 'blockSize': 32, 'doubleQuant': True},
        {'name': 'edges', 'n': 128, 'blockSize': 64, 'doubleQuant': False, 'explicit': True},
        {'name': 'edges-doublequant', 'n': 128, 'blockSize': 64, 'doubleQuant': True, 'explicit': True},
    ]
    cases = []
    for spec in specs:
        values = edge_inputs() if spec.get('explicit') else generate_inputs(spec)
        assert values.size == spec['n']
        q = quantize_nf4(values, spec['blockSize'], spec['doubleQuant'])
        absmax_deq, deq = dequantize_nf4(q, spec['n'], spec['blockSize'])
        case = dict(spec)
        if spec.get('explicit'):
            case['inputBase64'] = b64(values)
        case['packedBase64'] = b64(q['packed'])
        if spec['doubleQuant']:
            case['codes8Base64'] = b64(q['codes8'])
            case['scalesBase64'] = b64(q['scales'])
            case['offsetBits'] = int(np.array([q['offset']], dtype=f32).view(np.uint32)[0])
            print(f"{spec['name']}: torch CPU fp32 mean equals fp32(exact mean): {q['torch_cpu_mean_agrees']}")
        else:
            case['absmaxBase64'] = b64(q['absmax'])
        case['dequantAbsmaxBase64'] = b64(absmax_deq)
        case['dequantHead'] = b64(deq[:256])
        case['dequantSha256'] = hashlib.sha256(deq.astype('<f4').tobytes()).hexdigest()
        cases.append(case)
    fixture = {
        'generator': 'scripts/reference/nf4_reference.py',
        'torch': torch.__version__,
        'note': 'Inputs: xorshift32 recipe in generate_inputs (or inputBase64). Arrays are little-endian base64.',
        'dynamicMapBase64': b64(create_dynamic_map(signed=True)),
        'cases': cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    tmp = OUT + '.tmp'
    with open(tmp, 'w') as fh:
        json.dump(fixture, fh, indent=1)
        fh.write('\n')
    os.replace(tmp, OUT)
    print(f'wrote {os.path.relpath(OUT)} ({os.path.getsize(OUT)} bytes)')


if __name__ == '__main__':
    sys.exit(main())
