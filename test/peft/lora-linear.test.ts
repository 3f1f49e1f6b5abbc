// LoraLinear against an independent PyTorch reference (scripts/reference/lora_reference.py →
// test/fixtures/lora/linear.json), on the cpu and wasm backends, plus hand-derived properties of
// PEFT's initialisation, scaling and dropout.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend, BackendName } from '../../lib/backends/select';
import { DenseLinear } from '../../lib/models/linear';
import { LoraLinear, loraScaling } from '../../lib/peft/lora-linear';

interface LinearCase {
  r: number;
  lora_alpha: number;
  use_rslora: boolean;
  scaling: number;
  W: number[][];
  b: number[];
  A: number[][];
  B: number[][];
  x: number[][];
  G: number[][];
  y: number[][];
  merged_weight: number[][];
  loss: number;
  grad_A: number[][];
  grad_B: number[][];
  grad_x: number[][];
}

const fixture = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'lora', 'linear.json'), 'utf8'),
) as { cases: LinearCase[] };

/** Max |a − b| / (max |b| + tiny): a relative error on the scale of the reference values. */
function relErr(actual: number[][] | number[], expected: number[][] | number[]): number {
  const a = (actual as number[]).flat(Infinity) as number[];
  const e = (expected as number[]).flat(Infinity) as number[];
  expect(a.length).toBe(e.length);
  const scale = Math.max(...e.map(Math.abs)) + 1e-30;
  let worst = 0;
  for (let i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(a[i] - e[i]) / scale);
  return worst;
}

function buildLayer(c: LinearCase): LoraLinear {
  const base = new DenseLinear(tf.tensor2d(c.W), tf.tensor1d(c.b));
  const lora = new LoraLinear(base, { r: c.r, loraAlpha: c.lora_alpha, useRslora: c.use_rslora, name: 'test' });
  lora.loraA.assign(tf.tensor2d(c.A));
  lora.loraB.assign(tf.tensor2d(c.B));
  return lora;
}

for (const backend of ['cpu', 'wasm'] as BackendName[]) {
  describe(`LoraLinear vs PyTorch reference on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    for (const c of fixture.cases) {
      const label = c.use_rslora ? 'rsLoRA (alpha/√r)' : 'alpha/r';
      it(`forward, merged weight and gradients match (${label})`, () => {
        const layer = buildLayer(c);
        expect(layer.scaling).toBeCloseTo(c.scaling, 12);
        const x = tf.tensor2d(c.x);
        const G = tf.tensor2d(c.G);
        const before = tf.memory().numTensors;

        const y = layer.apply(x, false);
        expect(relErr(y.arraySync(), c.y)).toBeLessThan(1e-5);
        y.dispose();

        const merged = layer.weight();
        expect(relErr(merged.arraySync(), c.merged_weight)).toBeLessThan(1e-5);
        merged.dispose();

        // Gradients of loss = sum(y·G) with respect to A, B (the trainable variables)…
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x, true), G)) as tf.Scalar);
        expect(Math.abs(value.arraySync() - c.loss) / Math.abs(c.loss)).toBeLessThan(1e-5);
        expect(Object.keys(grads).sort()).toEqual([layer.loraA.name, layer.loraB.name].sort());
        expect(relErr(grads[layer.loraA.name].arraySync() as number[][], c.grad_A)).toBeLessThan(1e-5);
        expect(relErr(grads[layer.loraB.name].arraySync() as number[][], c.grad_B)).toBeLessThan(1e-5);
        value.dispose();
        Object.values(grads).forEach((g) => g.dispose());

        // …and with respect to the input (flows through both the frozen base and the adapter).
        const gx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx as tf.Tensor2D, false), G)))(x);
        expect(relErr(gx.arraySync() as number[][], c.grad_x)).toBeLessThan(1e-5);
        gx.dispose();

        expect(tf.memory().numTensors).toBe(before); // no leaks across forward / merge / grad calls
        layer.dispose();
        tf.dispose([x, G]);
      });
    }

    it('gives the frozen base no gradient', () => {
      const c = fixture.cases[0];
      const layer = buildLayer(c);
      const base = layer.base as DenseLinear;
      const x = tf.tensor2d(c.x);
      const { value, grads } = tf.variableGrads(() => tf.sum(layer.apply(x, true)) as tf.Scalar);
      expect(grads[base.weightVar.name]).toBeUndefined();
      expect(grads[base.bias!.name]).toBeUndefined();
      expect(layer.trainableVariables()).toEqual([layer.loraA, layer.loraB]);
      tf.dispose([value, x, ...Object.values(grads)]);
      layer.dispose();
    });
  });
}

describe('LoraLinear initialisation and options (PEFT defaults)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('starts with B = 0 so the output equals the base output', () => {
    const base = new DenseLinear(tf.randomNormal([5, 7], 0, 1, 'float32', 1) as tf.Tensor2D, tf.ones([5]) as tf.Tensor1D);
    const lora = new LoraLinear(base, { r: 4, loraAlpha: 8, seed: 3 });
    const x = tf.randomNormal([3, 7], 0, 1, 'float32', 2) as tf.Tensor2D;
    expect(lora.loraB.arraySync()).toEqual(Array.from({ length: 5 }, () => [0, 0, 0, 0]));
    expect(tf.max(tf.abs(tf.sub(lora.apply(x, false), base.apply(x, false)))).arraySync()).toBe(0);
    lora.dispose();
    x.dispose();
  });

  it('draws A from kaiming_uniform(a=√5) = U(−1/√in, 1/√in), reproducibly from the seed', () => {
    const inF = 768;
    const base = new DenseLinear(tf.zeros([4, inF]) as tf.Tensor2D, null);
    const lora = new LoraLinear(base, { r: 8, loraAlpha: 8, seed: 11 });
    const a = lora.loraA.dataSync();
    expect(lora.loraA.shape).toEqual([8, inF]);
    const bound = 1 / Math.sqrt(inF);
    let sum = 0;
    let sumSq = 0;
    for (const v of a) {
      expect(Math.abs(v)).toBeLessThanOrEqual(bound);
      sum += v;
      sumSq += v * v;
    }
    const n = a.length;
    // U(−c, c): mean 0, variance c²/3. With n = 6144 samples the sample variance is within a few %.
    expect(Math.abs(sum / n)).toBeLessThan(0.05 * bound);
    expect(sumSq / n / (bound * bound / 3)).toBeGreaterThan(0.93);
    expect(sumSq / n / (bound * bound / 3)).toBeLessThan(1.07);
    const again = new LoraLinear(new DenseLinear(tf.zeros([4, inF]) as tf.Tensor2D, null), { r: 8, loraAlpha: 8, seed: 11 });
    expect(again.loraA.dataSync()).toEqual(a);
    const other = new LoraLinear(new DenseLinear(tf.zeros([4, inF]) as tf.Tensor2D, null), { r: 8, loraAlpha: 8, seed: 12 });
    expect(other.loraA.dataSync()).not.toEqual(a);
    [lora, again, other].forEach((l) => l.dispose());
  });

  it('uses scaling alpha/r, or alpha/√r with rsLoRA', () => {
    expect(loraScaling(8, 8)).toBe(1);
    expect(loraScaling(8, 32)).toBe(4);
    expect(loraScaling(16, 8, true)).toBe(2);
    expect(loraScaling(4, 8, true)).toBe(4);
  });

  it('applies inverted dropout to the LoRA input only, and only in training', () => {
    // With in = 1 each row's LoRA input is either dropped (delta 0) or kept and scaled by 1/(1−p):
    // delta = x/(1−p) · A·B · scaling. The base output is never dropped.
    const p = 0.5;
    const n = 64;
    const base = new DenseLinear(tf.tensor2d([[2], [-1]]), tf.tensor1d([0.5, 0.25]));
    const lora = new LoraLinear(base, { r: 1, loraAlpha: 2, loraDropout: p, seed: 5 });
    lora.loraA.assign(tf.tensor2d([[0.5]]));
    lora.loraB.assign(tf.tensor2d([[1], [3]]));
    const xs = Array.from({ length: n }, (_, i) => [1 + i / n]);
    const x = tf.tensor2d(xs);
    const baseY = base.apply(x, true).arraySync();
    const evalY = lora.apply(x, false).arraySync();
    const trainY = lora.apply(x, true).arraySync();
    let kept = 0;
    let dropped = 0;
    for (let i = 0; i < n; i++) {
      const full = [0.5 * 1, 0.5 * 3].map((ab) => xs[i][0] * ab * 2); // x·A·B·scaling (scaling = 2)
      expect(evalY[i][0]).toBeCloseTo(baseY[i][0] + full[0], 5);
      expect(evalY[i][1]).toBeCloseTo(baseY[i][1] + full[1], 5);
      const delta = [trainY[i][0] - baseY[i][0], trainY[i][1] - baseY[i][1]];
      if (Math.abs(delta[0]) < 1e-6) {
        expect(Math.abs(delta[1])).toBeLessThan(1e-6);
        dropped++;
      } else {
        expect(delta[0]).toBeCloseTo(full[0] / (1 - p), 4);
        expect(delta[1]).toBeCloseTo(full[1] / (1 - p), 4);
        kept++;
      }
    }
    expect(kept).toBeGreaterThan(10);
    expect(dropped).toBeGreaterThan(10);
    lora.dispose();
    x.dispose();
  });

  it("init_lora_weights as PEFT: true (A kaiming-uniform, B 0), 'gaussian' (A ~ N(0, 1/r), B 0), false (B ~ U(±1/√r) too)", () => {
    // Bounds and moments from the PEFT/torch definitions: kaiming_uniform_(a=√5) on fan_in f is U(−1/√f, 1/√f),
    // whose standard deviation is 1/√(3f); normal_(std=1/r). 4096 draws pin a standard deviation to ±5%.
    const base = new DenseLinear(tf.zeros([64, 512]) as tf.Tensor2D, null);
    const std = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
    const maxAbs = (v: Float32Array) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    const plain = new LoraLinear(base, { r: 8, loraAlpha: 8, seed: 1 });
    const a = plain.loraA.dataSync() as Float32Array;
    expect(maxAbs(a)).toBeLessThanOrEqual(1 / Math.sqrt(512));
    expect(std(a) / (1 / Math.sqrt(3 * 512))).toBeCloseTo(1, 1);
    expect(maxAbs(plain.loraB.dataSync() as Float32Array)).toBe(0);
    const gauss = new LoraLinear(base, { r: 8, loraAlpha: 8, seed: 1, initLoraWeights: 'gaussian' });
    expect(std(gauss.loraA.dataSync() as Float32Array) / (1 / 8)).toBeCloseTo(1, 1);
    expect(maxAbs(gauss.loraB.dataSync() as Float32Array)).toBe(0);
    const random = new LoraLinear(base, { r: 8, loraAlpha: 8, seed: 1, initLoraWeights: false });
    const b = random.loraB.dataSync() as Float32Array;
    expect(maxAbs(b)).toBeLessThanOrEqual(1 / Math.sqrt(8));
    expect(maxAbs(b)).toBeGreaterThan(0.9 / Math.sqrt(8));
    // Not a no-op: the output differs from the base's.
    const x = tf.ones([1, 512]) as tf.Tensor2D;
    const y = random.apply(x, false);
    expect(maxAbs(y.dataSync() as Float32Array)).toBeGreaterThan(0);
    tf.dispose([x, y]);
    [plain, gauss, random].forEach((l) => {
      l.loraA.dispose();
      l.loraB.dispose();
    });
    base.dispose();
  });

  it('loraDropout 1 (torch accepts it) drops the whole LoRA branch in training, none of it in eval', () => {
    const w = tf.tensor2d([[1, 2], [3, 4]]);
    const base = new DenseLinear(w, null);
    const lora = new LoraLinear(base, { r: 1, loraAlpha: 1, loraDropout: 1 });
    lora.loraB.assign(tf.ones([2, 1]));
    const x = tf.tensor2d([[1, 1]]);
    // Training: y = x·Wᵀ = [3, 7] exactly. Eval: + (x·Aᵀ)·Bᵀ, which is non-zero for this A.
    const yTrain = lora.apply(x, true);
    expect([...yTrain.dataSync()]).toEqual([3, 7]);
    const yEval = lora.apply(x, false);
    const a = lora.loraA.dataSync();
    expect(yEval.dataSync()[0]).toBeCloseTo(3 + a[0] + a[1], 5);
    tf.dispose([w, x, yTrain, yEval]);
    lora.dispose();
  });

  it('rejects a bad rank, alpha or dropout with a message naming the layer', () => {
    const base = new DenseLinear(tf.zeros([2, 3]) as tf.Tensor2D, null);
    expect(() => new LoraLinear(base, { r: 0, loraAlpha: 8, name: 'q_lin' })).toThrow(/q_lin: LoRA rank r must be an integer ≥ 1, got 0/);
    expect(() => new LoraLinear(base, { r: 2.5, loraAlpha: 8 })).toThrow(/integer/);
    expect(() => new LoraLinear(base, { r: 2, loraAlpha: NaN })).toThrow(/loraAlpha must be a finite number/);
    expect(() => new LoraLinear(base, { r: 2, loraAlpha: 8, loraDropout: 1.5 })).toThrow(/loraDropout must be in \[0, 1\], got 1.5/);
    expect(() => new LoraLinear(base, { r: 2, loraAlpha: 8, loraDropout: -0.1 })).toThrow(/loraDropout/);
    base.dispose();
  });
});
