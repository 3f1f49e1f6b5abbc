// Host-side NF4 quantization, checked against hand-derived codes and against an independent
// numpy re-implementation of bitsandbytes (scripts/reference/nf4_reference.py → fixture).
import { createHash } from 'crypto';
import {
  NF4_THRESHOLDS,
  NF4_VALUES,
  createDynamicMap,
  dequantizeAbsmax,
  dequantizeNF4,
  nf4BitsPerParameter,
  nf4Bytes,
  quantizeNF4,
} from '../../lib/quantization/nf4';
import { bitsToFloat32, f32, fixtureInputs, loadNF4Fixture, u8 } from '../fixtures/nf4/load';

/** The neighbouring fp32 value of x towards +∞ (dir 1) or −∞ (dir −1), for x ≠ 0. */
function nextFloat32(x: number, dir: 1 | -1): number {
  const f = new Float32Array([x]);
  const bits = new Int32Array(f.buffer);
  bits[0] += x > 0 === (dir > 0) ? 1 : -1;
  return f[0];
}

/** Unpacks code i from the packed bytes (even element in the high nibble). */
function codeAt(packed: Uint8Array, i: number): number {
  return i % 2 === 0 ? packed[i >> 1] >> 4 : packed[i >> 1] & 15;
}

function codes(values: number[], blockSize = 64): number[] {
  const q = quantizeNF4(new Float32Array(values), { blockSize });
  return values.map((_, i) => codeAt(q.packed, i));
}

describe('NF4 constants', () => {
  it('are the 16 bitsandbytes levels and the fp32 midpoints between neighbours', () => {
    // reference.md, bitsandbytes get_4bit_type('nf4')
    expect(Array.from(NF4_VALUES)).toEqual(
      [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
        -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
        0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
        0.7229568362236023, 1.0,
      ].map(Math.fround),
    );
    expect(NF4_THRESHOLDS.length).toBe(15);
    for (let k = 0; k < 15; k++) {
      const midpoint = (NF4_VALUES[k] + NF4_VALUES[k + 1]) / 2;
      expect(Math.abs(NF4_THRESHOLDS[k] - midpoint)).toBeLessThan(1e-7);
    }
  });
});

describe('quantizeNF4: hand-derived codes', () => {
  // With absmax exactly 1, fp32(1/absmax) = 1 and x = w, so codes follow the thresholds directly.
  it('puts a value exactly on threshold k in code k (ties go to the lower code), its fp32 neighbours in k+1 and k', () => {
    for (let k = 0; k < 15; k++) {
      const t = NF4_THRESHOLDS[k];
      const got = codes([1.0, t, nextFloat32(t, 1), nextFloat32(t, -1)]);
      expect({ k, got }).toEqual({ k, got: [15, k, k + 1, k] });
    }
  });

  it('maps every NF4 level to its own code, and 0 to code 7', () => {
    expect(codes(Array.from(NF4_VALUES))).toEqual([...Array(16).keys()]);
    expect(codes([1, 0, -0])).toEqual([15, 7, 7]);
  });

  it('gives an all-zero block code 0 (x = 0·(1/0) is NaN in the CUDA kernel) and absmax 0', () => {
    const q = quantizeNF4(new Float32Array(64 + 3).fill(0, 0, 64).fill(0.5, 64), { blockSize: 64 });
    expect(Array.from(q.absmax!)).toEqual([0, 0.5]);
    for (let i = 0; i < 64; i++) expect(codeAt(q.packed, i)).toBe(0);
    expect([64, 65, 66].map((i) => codeAt(q.packed, i))).toEqual([15, 15, 15]);
    // NF4[0] · 0 = −0: numerically zero.
    expect(Array.from(dequantizeNF4(q).slice(0, 64)).every((v) => v === 0)).toBe(true);
  });

  it('gives a block of one repeated value code 15 (positive) or 0 (negative), and dequantizes it exactly', () => {
    for (const v of [3, 0.1, 1e-20, 12345.678]) {
      const q = quantizeNF4(new Float32Array(64).fill(v));
      expect(Array.from(q.packed).every((b) => b === 0xff)).toBe(true);
      expect(Array.from(new Set(dequantizeNF4(q)))).toEqual([Math.fround(v)]);
      const neg = quantizeNF4(new Float32Array(64).fill(-v));
      expect(Array.from(neg.packed).every((b) => b === 0x00)).toBe(true);
      expect(Array.from(new Set(dequantizeNF4(neg)))).toEqual([-Math.fround(v)]);
    }
  });

  it('handles a negative-only block (absmax 2 ⇒ x = w/2 exactly)', () => {
    // x = -1, -0.5, -0.25, -0.125, -0.0625, -0.03125, -0.375, -0.75
    // codes by the threshold table: -1→0, -0.5→2 (between -0.61 and -0.46), -0.25→4, -0.125→6,
    // -0.0625→6 (-0.0625 < -0.0455), -0.03125→7, -0.375→3, -0.75→1
    expect(codes([-2, -1, -0.5, -0.25, -0.125, -0.0625, -0.75, -1.5])).toEqual([0, 2, 4, 6, 6, 7, 3, 1]);
  });

  it('packs the even element in the high nibble, pads an odd tail with 0, and cuts a partial last block', () => {
    // [1, -1, 0]: codes 15, 0, 7 → bytes 0xF0, 0x70
    const q = quantizeNF4(new Float32Array([1, -1, 0]), { blockSize: 64 });
    expect(Array.from(q.packed)).toEqual([0xf0, 0x70]);
    expect(q.shape).toEqual([3]);
    // 100 values in blocks of 64: the second block's absmax comes from its own 36 values only.
    const values = new Float32Array(100).fill(0.25);
    values[10] = 4; // first block absmax 4
    values[70] = -0.5; // second block absmax 0.5
    const q2 = quantizeNF4(values, { blockSize: 64, shape: [4, 25] });
    expect(Array.from(q2.absmax!)).toEqual([4, 0.5]);
    expect(q2.packed.length).toBe(50);
    expect(q2.shape).toEqual([4, 25]);
    // 0.25/4 = 0.0625 → code 8 (0.0398 < x ≤ 0.1203); 0.25/0.5 = 0.5 → code 12 (0.389 < x ≤ 0.5017)
    expect(codeAt(q2.packed, 0)).toBe(8);
    expect(codeAt(q2.packed, 64)).toBe(12);
    expect(codeAt(q2.packed, 70)).toBe(0);
  });

  it('dequantizes to NF4[code] · absmax', () => {
    const q = quantizeNF4(new Float32Array([2, -1, 0.5, 0.2]), { blockSize: 64 });
    // x = 1, -0.5, 0.25, 0.1 → codes 15, 2, 10, 8
    const expected = [15, 2, 10, 8].map((c) => Math.fround(NF4_VALUES[c] * 2));
    expect(Array.from(dequantizeNF4(q))).toEqual(expected);
  });

  it('rejects bad block sizes, non-finite values and mismatched shapes with clear errors', () => {
    const v = new Float32Array(64);
    for (const bs of [16, 48, 100, 8192]) expect(() => quantizeNF4(v, { blockSize: bs })).toThrow(/blockSize .* use one of 32, 64/);
    expect(() => quantizeNF4(new Float32Array([0, NaN]))).toThrow(/value NaN at index 1 is not finite/);
    expect(() => quantizeNF4(new Float32Array([Infinity]))).toThrow(/value Infinity at index 0/);
    expect(() => quantizeNF4(v, { shape: [3, 3] })).toThrow(/shape \[3, 3\] holds 9 values but 64/);
    expect(() => quantizeNF4([1, 2] as unknown as Float32Array)).toThrow(/Float32Array/);
  });
});

describe('quantizeNF4: round trip', () => {
  it('stays within half the largest NF4 gap times the block absmax', () => {
    let maxGap = 0;
    for (let k = 0; k < 15; k++) maxGap = Math.max(maxGap, NF4_VALUES[k + 1] - NF4_VALUES[k]);
    // Bell-shaped values with outliers (deterministic LCG).
    let s = 12345;
    const values = new Float32Array(10000).map(() => {
      s = (s * 1103515245 + 12345) % 2147483648;
      const u = s / 2147483648;
      return (u - 0.5) * (u > 0.99 ? 20 : 2);
    });
    for (const blockSize of [32, 64, 256]) {
      const trueAbsmax = quantizeNF4(values, { blockSize }).absmax!;
      for (const doubleQuant of [false, true]) {
        const q = quantizeNF4(values, { blockSize, doubleQuant });
        const back = dequantizeNF4(q);
        const absmax = dequantizeAbsmax(q);
        let worst = 0;
        for (let i = 0; i < values.length; i++) {
          const block = Math.floor(i / blockSize);
          // With double quantization the stored absmax is itself approximate: bound against it,
          // plus the error of the scale itself (|absmax' − absmax| · |NF4| ≤ |absmax' − absmax|).
          const a = trueAbsmax[block];
          const bound = (maxGap / 2) * a + Math.abs(absmax[block] - a) + 1e-6 * a;
          worst = Math.max(worst, Math.abs(back[i] - values[i]) / bound);
        }
        expect({ blockSize, doubleQuant, ok: worst <= 1 }).toEqual({ blockSize, doubleQuant, ok: true });
      }
    }
  });
});

describe('storage size', () => {
  it('is 4.5 bits per parameter at block 64, ≈4.127 with double quantization', () => {
    const n = 64 * 256 * 8;
    const values = new Float32Array(n).map((_, i) => Math.sin(i));
    const plain = quantizeNF4(values, { blockSize: 64 });
    expect(nf4Bytes(plain)).toBe(n / 2 + (n / 64) * 4);
    expect(nf4BitsPerParameter(plain)).toBe(4.5);
    const dq = quantizeNF4(values, { blockSize: 64, doubleQuant: true });
    // 4 bits + 8 bits per 64 values + 32 bits per 64·256 values + a 32-bit offset
    const blocks = n / 64;
    expect(nf4Bytes(dq)).toBe(n / 2 + blocks + Math.ceil(blocks / 256) * 4 + 4);
    expect(nf4BitsPerParameter(dq)).toBeCloseTo(4 + 8 / 64 + 32 / (64 * 256) + 32 / n, 10);
    expect(nf4BitsPerParameter(dq)).toBeCloseTo(4.127, 3);
  });
});

describe('bitsandbytes dynamic 8-bit map', () => {
  it('has 256 sorted values from -0.99297 to 1 with 0 in the middle (hand-derived ends)', () => {
    const map = createDynamicMap();
    expect(map.length).toBe(256);
    for (let i = 1; i < 256; i++) expect(map[i]).toBeGreaterThanOrEqual(map[i - 1]);
    expect(map[255]).toBe(1);
    expect(map[127]).toBe(0);
    // Largest magnitude below 1: midpoint of the last two of linspace(0.1, 1, 65) = 1 - 0.9/128
    expect(map[0]).toBeCloseTo(-(1 - 0.9 / 128), 6);
    // Smallest positive: 1e-6 · (0.1 + 1) / 2
    expect(map[128]).toBeCloseTo(0.55e-6, 12);
  });

  it('equals create_dynamic_map() run by torch in the reference script, bit for bit', () => {
    const ref = f32(loadNF4Fixture().dynamicMapBase64);
    expect(Array.from(createDynamicMap())).toEqual(Array.from(ref));
  });
});

describe('quantizeNF4 against the independent numpy reference (bitsandbytes re-implementation)', () => {
  const fixture = loadNF4Fixture();
  for (const c of fixture.cases) {
    it(`${c.name}: ${c.n} values, block ${c.blockSize}${c.doubleQuant ? ', double quant' : ''} — bit-exact`, () => {
      const values = fixtureInputs(c);
      const q = quantizeNF4(values, { blockSize: c.blockSize, doubleQuant: c.doubleQuant });
      expect(Buffer.from(q.packed).equals(Buffer.from(u8(c.packedBase64)))).toBe(true);
      if (c.doubleQuant) {
        expect(q.absmax).toBeUndefined();
        expect(Array.from(q.doubleQuant!.codes)).toEqual(Array.from(u8(c.codes8Base64!)));
        expect(Array.from(q.doubleQuant!.scales)).toEqual(Array.from(f32(c.scalesBase64!)));
        expect(q.doubleQuant!.offset).toBe(bitsToFloat32(c.offsetBits!));
        expect(q.doubleQuant!.blockSize).toBe(256);
      } else {
        expect(Array.from(q.absmax!)).toEqual(Array.from(f32(c.absmaxBase64!)));
      }
      expect(Array.from(dequantizeAbsmax(q))).toEqual(Array.from(f32(c.dequantAbsmaxBase64)));
      const back = dequantizeNF4(q);
      expect(Array.from(back.slice(0, 256))).toEqual(Array.from(f32(c.dequantHead)).slice(0, 256));
      expect(createHash('sha256').update(Buffer.from(back.buffer)).digest('hex')).toBe(c.dequantSha256);
    });
  }
});
