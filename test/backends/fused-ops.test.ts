// Fused GELU and LayerNorm (one pass each way) against tfjs' composites of elementwise ops on
// the cpu backend, values and gradients, through both the C loops and the JavaScript loops.
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../lib/backends/select';
import { gelu, layerNorm } from '../../lib/backends/fused-ops';
import { loadNative, overrideNativeForTests } from '../../lib/backends/native';
import { randomValues } from '../helpers/random-values';

const X_SHAPE = [37, 24];
const x = randomValues(37 * 24, 3).map((v) => v * 6); // ~U(-3.6, 3.6) plus outliers up to ±48
const gammaV = randomValues(24, 4).map((v) => 1 + v);
const betaV = randomValues(24, 5);
const dyV = randomValues(37 * 24, 6);

/** The composites (what modeling.ts computed before): reference values and gradients. */
async function reference(): Promise<Record<string, Float32Array>> {
  await useBackend('cpu');
  return tf.tidy(() => {
    const xt = tf.tensor2d(x, X_SHAPE as [number, number]);
    const dy = tf.tensor2d(dyV, X_SHAPE as [number, number]);
    const g = tf.tensor1d(gammaV);
    const b = tf.tensor1d(betaV);
    const geluRef = (t: tf.Tensor) => tf.mul(tf.mul(t, 0.5), tf.add(1, tf.erf(tf.mul(t, Math.SQRT1_2))));
    const lnRef = (t: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
      const mean = tf.mean(t, -1, true);
      const c = tf.sub(t, mean);
      return tf.add(tf.mul(tf.mul(c, tf.rsqrt(tf.add(tf.mean(tf.square(c), -1, true), 1e-12))), gg), bb);
    };
    const [dGelu] = tf.grads((t: tf.Tensor) => geluRef(t))([xt], dy);
    const [dx, dg, db] = tf.grads((t: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => lnRef(t, gg, bb))([xt, g, b], dy);
    const out: Record<string, Float32Array> = {
      gelu: geluRef(xt).dataSync() as Float32Array,
      dGelu: dGelu.dataSync() as Float32Array,
      ln: lnRef(xt, g, b).dataSync() as Float32Array,
      dx: dx.dataSync() as Float32Array,
      dg: dg.dataSync() as Float32Array,
      db: db.dataSync() as Float32Array,
    };
    return out;
  });
}

function fused(): Record<string, Float32Array> {
  return tf.tidy(() => {
    const xt = tf.tensor2d(x, X_SHAPE as [number, number]);
    const dy = tf.tensor2d(dyV, X_SHAPE as [number, number]);
    const g = tf.tensor1d(gammaV);
    const b = tf.tensor1d(betaV);
    const [dGelu] = tf.grads((t: tf.Tensor) => gelu(t))([xt], dy);
    const [dx, dg, db] = tf.grads((t: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => layerNorm(t, gg, bb, 1e-12))([xt, g, b], dy);
    return {
      gelu: gelu(xt).dataSync() as Float32Array,
      dGelu: dGelu.dataSync() as Float32Array,
      ln: layerNorm(xt, g, b, 1e-12).dataSync() as Float32Array,
      dx: dx.dataSync() as Float32Array,
      dg: dg.dataSync() as Float32Array,
      db: db.dataSync() as Float32Array,
    };
  });
}

function worst(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return w;
}

describe('fused GELU and LayerNorm', () => {
  let ref: Record<string, Float32Array>;
  beforeAll(async () => {
    ref = await reference();
  });
  afterAll(() => overrideNativeForTests(undefined));

  const paths: [string, () => void][] = [
    ['C loops (native addon)', () => overrideNativeForTests(undefined)],
    ['JavaScript loops', () => overrideNativeForTests(null)],
  ];
  for (const backend of ['wasm', 'cpu'] as const) {
    for (const [name, setup] of paths) {
      it(`${backend}, ${name}: values and gradients equal tfjs' composites`, async () => {
        setup();
        if (name.startsWith('C') && !loadNative().addon) return; // no compiler here: the JS loops are the path
        await useBackend(backend);
        const before = tf.memory().numTensors;
        const got = fused();
        expect(tf.memory().numTensors).toBe(before);
        // GELU: same erf formula; fp32 vs fp64 evaluation differs by a few ulps.
        expect(worst(got.gelu, ref.gelu)).toBeLessThan(2e-6);
        expect(worst(got.dGelu, ref.dGelu)).toBeLessThan(2e-6);
        // LayerNorm: sums over 24 values in another order.
        expect(worst(got.ln, ref.ln)).toBeLessThan(2e-6);
        expect(worst(got.dx, ref.dx)).toBeLessThan(5e-6);
        expect(worst(got.dg, ref.dg)).toBeLessThan(5e-6);
        expect(worst(got.db, ref.db)).toBeLessThan(5e-6);
      });
    }
  }

  it('GELU of known points (torch.nn.GELU values)', async () => {
    await useBackend('wasm');
    // torch.nn.functional.gelu(torch.tensor([-3., -1., 0., 0.5, 2.])) in fp64.
    const expected = [-0.0040496598, -0.1586552539, 0, 0.3457312306, 1.9544997361];
    const got = tf.tidy(() => Array.from(gelu(tf.tensor1d([-3, -1, 0, 0.5, 2])).dataSync()));
    got.forEach((v, i) => expect(Math.abs(v - expected[i])).toBeLessThan(3e-7));
  });

  it('layerNorm rejects a gamma that does not match the last dimension', async () => {
    await useBackend('wasm');
    const t = tf.zeros([2, 4]);
    expect(() => layerNorm(t, tf.ones([3]), tf.zeros([3]), 1e-5)).toThrow(/gamma \[3\].*\[4\]/);
    t.dispose();
  });
});
