// The fused attention kernel (native/attention.c) against the composite of tfjs ops it replaces
// (HF DistilBERT's attention: masked_fill with fp32's min, softmax, dropout, ·v): values and
// gradients of q, k, v, with padding and with SeededDropout's masks.
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../lib/backends/select';
import { installGemm } from '../../lib/backends/gemm/select';
import { fusedAttentionAvailable, selfAttention } from '../../lib/backends/attention';
import { randomValues } from '../helpers/random-values';

const B = 2, T = 7, H = 3, D = 4, C = H * D;

function run(rate: number, keepRows: number[][]): Float32Array[] {
  return tf.tidy(() => {
    const q = tf.tensor2d(randomValues(B * T * C, 11).map((v) => v * 4), [B * T, C]);
    const k = tf.tensor2d(randomValues(B * T * C, 12).map((v) => v * 4), [B * T, C]);
    const v = tf.tensor2d(randomValues(B * T * C, 13), [B * T, C]);
    const dy = tf.tensor2d(randomValues(B * T * C, 14), [B * T, C]);
    const keep = tf.tensor2d(keepRows, [B, T]);
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      selfAttention(a as tf.Tensor2D, b as tf.Tensor2D, c as tf.Tensor2D, keep, { batch: B, seqLen: T, heads: H, dropoutRate: rate, seed: 42 });
    const out = f(q, k, v);
    const grads = tf.grads(f)([q, k, v], dy);
    return [out, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

function worst(a: Float32Array, b: Float32Array): number {
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return w;
}

describe('fused self-attention (wasm + OpenBLAS)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });
  afterAll(() => installGemm('auto'));

  const cases: [string, number, number[][]][] = [
    ['no padding, eval', 0, [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]]],
    ['padded keys, eval', 0, [[1, 1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0, 0]]],
    ['padded keys, dropout 0.3', 0.3, [[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 0]]],
  ];
  for (const [name, rate, keep] of cases) {
    it(`${name}: output and q/k/v gradients equal the tfjs composite`, () => {
      if (installGemm('openblas').name !== 'openblas') return; // no OpenBLAS here: only the composite exists
      expect(fusedAttentionAvailable()).toBe(true);
      const before = tf.memory().numTensors;
      const fusedOut = run(rate, keep);
      expect(tf.memory().numTensors).toBe(before);
      installGemm('wasm');
      expect(fusedAttentionAvailable()).toBe(false);
      const reference = run(rate, keep);
      installGemm('openblas');
      expect(fusedOut.map((a) => a.length)).toEqual([B * T * C, B * T * C, B * T * C, B * T * C]);
      for (let i = 0; i < 4; i++) expect(worst(fusedOut[i], reference[i])).toBeLessThan(2e-5);
      // Dropout really dropped something (outputs differ from the eval run with the same inputs).
      if (rate > 0) expect(worst(fusedOut[0], run(0, keep)[0])).toBeGreaterThan(1e-3);
    });
  }

  it('a fully padded row attends uniformly, like HF (softmax of equal minima)', () => {
    if (installGemm('openblas').name !== 'openblas') return;
    const out = run(0, [[1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0]])[0];
    installGemm('wasm');
    const reference = run(0, [[1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0]])[0];
    installGemm('openblas');
    expect(worst(out, reference)).toBeLessThan(2e-5);
  });
});
