// The seeded on-device dropout (lib/dropout.ts) on the cpu and wasm backends.
//
// References: the hash and a small dropout written independently in Python
// (scripts/reference/dropout_hash.py → test/fixtures/dropout/hash.json), binomial statistics for
// the keep rate, hand-derived fp32 scale factors, and d/dx Σ dropout(x)·w = w·mask·scale.
// The webgpu kernel is checked against the same fixture in dropout-webgpu.test.ts.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../lib/backends/select';
import { dropout, dropoutHash, dropoutMask, dropoutUniform } from '../../lib/backends/dropout';

interface Fixture {
  hashes: { seed: number; index: number; hash: number; uniform: number }[];
  dropout: { rate: number; seed: number; shape: number[]; x: number[]; kept: number[]; out: number[] };
}
const FIXTURE: Fixture = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'dropout', 'hash.json'), 'utf8'));

/** Deterministic fp32 test values in about [-2, 2], none zero. */
function testValues(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return new Float32Array(n).map(() => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 4294967296) * 4 - 2 || 0.5;
  });
}

describe('the hash (host side)', () => {
  it('equals the Python reference for known (seed, index)', () => {
    for (const { seed, index, hash, uniform } of FIXTURE.hashes) {
      expect(dropoutHash(seed, index)).toBe(hash);
      expect(dropoutUniform(seed, index)).toBe(uniform);
    }
  });
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`dropout on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it('equals the Python reference dropout bit for bit', () => {
      const f = FIXTURE.dropout;
      const x = tf.tensor(f.x, f.shape);
      const out = dropout(x, f.rate, f.seed);
      expect(out.shape).toEqual(f.shape);
      expect(Array.from(out.dataSync())).toEqual(f.out);
      tf.dispose([x, out]);
    });

    it('keeps 1 − rate of 1 M elements (within 4 sd), scaled by exactly fp32(1 / (1 − rate))', () => {
      const n = 1 << 20;
      // fp32(1/0.9) is 0x3f8e38e4 = 1.1111111640930176; 1/0.8 and 1/0.5 are exact.
      for (const [rate, scale] of [[0.1, 1.1111111640930176], [0.2, 1.25], [0.5, 2]]) {
        const mask = dropoutMask([1024, 1024], rate, 12345);
        const values = mask.dataSync();
        mask.dispose();
        let kept = 0;
        let wrongScale = 0;
        for (const v of values) {
          if (v !== 0) {
            if (v !== scale) wrongScale++;
            kept++;
          }
        }
        expect(wrongScale).toBe(0);
        const p = 1 - rate;
        const sd = Math.sqrt(n * p * (1 - p));
        expect(Math.abs(kept - n * p)).toBeLessThan(4 * sd);
      }
    });

    it('gives neighbours independent draws, and nearly independent masks for different seeds', () => {
      const n = 1 << 20;
      const rate = 0.5;
      const [a, a2, b, c] = [7, 7, 8, 0x80000007].map((seed) => {
        const m = dropoutMask([n], rate, seed);
        const v = m.dataSync().slice();
        m.dispose();
        return v;
      });
      expect(Buffer.from(a2.buffer).equals(Buffer.from(a.buffer))).toBe(true); // same seed, same mask
      // For independent fair coins, P(both kept) = 1/4: for neighbours, and across seeds.
      const q = 0.25;
      const sd = Math.sqrt(n * q * (1 - q));
      let neighbours = 0;
      for (let i = 0; i + 1 < n; i++) if (a[i] !== 0 && a[i + 1] !== 0) neighbours++;
      expect(Math.abs(neighbours - (n - 1) * q)).toBeLessThan(4 * sd);
      for (const other of [b, c]) {
        let both = 0;
        for (let i = 0; i < n; i++) if (a[i] !== 0 && other[i] !== 0) both++;
        expect(Math.abs(both - n * q)).toBeLessThan(4 * sd);
      }
    });

    it('scales the kept values of x and zeroes the others', () => {
      const shape = [8, 12, 16, 16];
      const n = shape.reduce((p, q) => p * q, 1);
      const xv = testValues(n, 3);
      const x = tf.tensor(xv, shape);
      const out = dropout(x, 0.1, 99);
      const mask = dropoutMask(shape, 0.1, 99);
      const [o, m] = [out.dataSync(), mask.dataSync()];
      let wrong = 0;
      for (let i = 0; i < n; i++) if (o[i] !== (m[i] === 0 ? 0 : Math.fround(xv[i] * 1.1111111640930176))) wrong++;
      expect(wrong).toBe(0);
      expect(Array.from(m).filter((v) => v !== 0).length).toBeGreaterThan(0.8 * n);
      tf.dispose([x, out, mask]);
    });

    it('has gradient w·mask·scale, from the forward mask', () => {
      const shape = [33, 70];
      const n = shape[0] * shape[1];
      const x = tf.tensor2d(testValues(n, 1), [33, 70]);
      const wv = testValues(n, 2);
      const w = tf.tensor2d(wv, [33, 70]);
      const rate = 0.3;
      const scale = Math.fround(1 / 0.7);
      const forward = dropout(x, rate, 2024).dataSync();
      const xv = x.dataSync();
      const grad = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(dropout(xx, rate, 2024), w)))(x);
      const g = grad.dataSync();
      let kept = 0;
      let wrong = 0;
      for (let i = 0; i < n; i++) {
        const wasKept = forward[i] !== 0;
        if (forward[i] !== (wasKept ? Math.fround(xv[i] * scale) : 0)) wrong++;
        if (g[i] !== (wasKept ? Math.fround(wv[i] * scale) : 0)) wrong++;
        if (wasKept) kept++;
      }
      expect(wrong).toBe(0);
      expect(kept).toBeGreaterThan(0.6 * n);
      expect(kept).toBeLessThan(0.8 * n);
      tf.dispose([x, w, grad]);
    });

    it('leaks no tensors (forward, mask, gradient, rate 0)', () => {
      const x = tf.randomNormal([64, 48]);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        tf.dispose(dropout(x, 0.2, i));
        tf.dispose(dropoutMask([5, 6], 0.5, i));
        tf.dispose(tf.grad((xx: tf.Tensor) => tf.sum(dropout(xx, 0.2, i)))(x));
        tf.dispose(dropout(x, 0, i));
        tf.dispose(tf.tidy(() => dropout(tf.square(x), 0.4, i)));
      }
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });
  });
}

describe('dropout across backends and edge cases', () => {
  it('gives bitwise identical outputs on cpu and wasm', async () => {
    const shape = [8, 12, 32, 32];
    const xv = testValues(shape.reduce((p, q) => p * q, 1), 11);
    const results: Float32Array[] = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const x = tf.tensor(xv, shape);
      const out = dropout(x, 0.1, 0xfeedbeef);
      results.push(out.dataSync() as Float32Array);
      tf.dispose([x, out]);
    }
    expect(Buffer.from(results[0].buffer).equals(Buffer.from(results[1].buffer))).toBe(true);
  });

  it('returns an independent copy of x for rate 0 and rejects bad arguments with a clear message', async () => {
    await useBackend('cpu');
    const x = tf.tensor1d([1, -2, 3]);
    const same = dropout(x, 0, 5);
    same.dispose();
    expect(x.isDisposed).toBe(false);
    expect(Array.from(x.dataSync())).toEqual([1, -2, 3]);
    expect(() => dropout(x, 1, 0)).toThrow(/rate must be in \[0, 1\), got 1/);
    expect(() => dropout(x, -0.1, 0)).toThrow(/rate must be in \[0, 1\)/);
    expect(() => dropout(x, NaN, 0)).toThrow(/rate must be in \[0, 1\)/);
    expect(() => dropout(x, 0.5, Infinity)).toThrow(/seed must be a finite number/);
    const ints = tf.tensor1d([1, 2], 'int32');
    expect(() => dropout(ints, 0.5, 0)).toThrow(/x must be float32, got int32/);
    tf.dispose([x, ints]);
  });

  it('draws a fresh mask on every call without a seed', async () => {
    await useBackend('cpu');
    const x = tf.ones([4096]);
    const a = dropout(x, 0.5);
    const b = dropout(x, 0.5);
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(b.dataSync()));
    tf.dispose([x, a, b]);
  });
});
