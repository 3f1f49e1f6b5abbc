// AdamW, gradient clipping and the learning-rate schedules against values derived by hand.
import * as tf from '@tensorflow/tfjs';
import { AdamW, appliesWeightDecay, clipByGlobalNorm, globalNormStats } from '../../lib/training/optimizer';
import { CLIP_STATS, SUM_OF_SQUARES, adamwAttrs, adamwWithTfOps, fusedAdamW } from '../../lib/training/fused-adamw';
import { learningRateAt, linearWithWarmup, warmupStepsFor } from '../../lib/training/schedule';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('AdamW (torch.optim.AdamW semantics)', () => {
  test('first two steps by hand: bias correction and decoupled decay', async () => {
    const w = tf.variable(tf.tensor1d([1, -2]), true, 'optim-test/w');
    const opt = new AdamW([w], { weightDecay: 0.5 });
    const lr = 0.1;
    // Step 1, g = [0.5, -4]: m̂ = g, v̂ = g², so the Adam step is lr·g/(|g| + eps) ≈ lr·sign(g);
    // the decay multiplies the old weight by (1 − lr·wd) = 0.95 first.
    const g1 = tf.tensor1d([0.5, -4]);
    opt.step([g1], lr);
    const s1 = Array.from(await w.data());
    const eps = 1e-8;
    const e1 = [1 * 0.95 - (lr * 0.5) / (0.5 + eps), -2 * 0.95 - (lr * -4) / (4 + eps)];
    s1.forEach((v, i) => expect(v).toBeCloseTo(e1[i], 6));
    // Step 2, g = [1, 0]: m = 0.9·0.1·g1 + 0.1·g2, v = 0.999·0.001·g1² + 0.001·g2²,
    // update = lr · (m / (1 − 0.9²)) / (sqrt(v / (1 − 0.999²)) + eps).
    const g2 = tf.tensor1d([1, 0]);
    opt.step([g2], lr);
    const s2 = Array.from(await w.data());
    const gs1 = [0.5, -4];
    const gs2 = [1, 0];
    const e2 = e1.map((p, i) => {
      const m = 0.9 * 0.1 * gs1[i] + 0.1 * gs2[i];
      const v = 0.999 * 0.001 * gs1[i] ** 2 + 0.001 * gs2[i] ** 2;
      return p * 0.95 - (lr * (m / (1 - 0.81))) / (Math.sqrt(v / (1 - 0.999 ** 2)) + eps);
    });
    s2.forEach((v, i) => expect(v).toBeCloseTo(e2[i], 5));
    expect(opt.stepCount).toBe(2);

    // The state round-trips: a restored optimizer takes the same third step.
    const state = await opt.getState();
    const w2 = tf.variable(tf.tensor1d(s2), true, 'optim-test/w2');
    const opt2 = new AdamW([w2], { weightDecay: 0.5 });
    opt2.setState(state);
    const g3 = tf.tensor1d([-0.3, 0.7]);
    opt.step([g3], lr);
    opt2.step([g3], lr);
    expect(Array.from(await w2.data())).toEqual(Array.from(await w.data()));
    [g1, g2, g3, w, w2].forEach((t) => t.dispose());
    opt.dispose();
    opt2.dispose();
  });

  test('no decay on biases and LayerNorm parameters (HF rule); a null gradient leaves a parameter alone', async () => {
    expect(appliesWeightDecay('distilbert.transformer.layer.0.attention.q_lin.lora_A.weight')).toBe(true);
    expect(appliesWeightDecay('distilbert.embeddings.word_embeddings.weight')).toBe(true);
    expect(appliesWeightDecay('classifier.bias')).toBe(false);
    expect(appliesWeightDecay('distilbert.embeddings.LayerNorm.weight')).toBe(false);
    expect(appliesWeightDecay('distilbert.transformer.layer.3.sa_layer_norm.weight')).toBe(false);
    expect(appliesWeightDecay('distilbert.transformer.layer.3.output_layer_norm.bias')).toBe(false);

    const bias = tf.variable(tf.tensor1d([2]), true, 'optim-test/classifier.bias');
    const frozenThisStep = tf.variable(tf.tensor1d([3]), true, 'optim-test/other.weight');
    const opt = new AdamW([bias, frozenThisStep], { weightDecay: 0.5 });
    expect(opt.decayedParameterNames()).toEqual(['optim-test/other.weight']);
    const g = tf.tensor1d([0]);
    opt.step([g, null], 0.1); // zero gradient: no Adam move, and no decay for a bias
    expect((await bias.data())[0]).toBe(2);
    expect((await frozenThisStep.data())[0]).toBe(3);
    [g, bias, frozenThisStep].forEach((t) => t.dispose());
    opt.dispose();
  });

  test('rejects mismatched gradients and states with a clear message', () => {
    const w = tf.variable(tf.zeros([2, 3]), true, 'optim-test/w3');
    const opt = new AdamW([w]);
    const g = tf.zeros([3, 2]);
    expect(() => opt.step([g], 0.1)).toThrow(/gradient of optim-test\/w3 has shape \[3,2\], parameter \[2,3\]/);
    expect(() => opt.step([], 0.1)).toThrow(/got 0 gradients for 1 parameters/);
    expect(() => opt.setState({ step: 1, names: [], shapes: [], m: [], v: [] })).toThrow(/same model configuration/);
    [g, w].forEach((t) => t.dispose());
  });
});

describe('clipByGlobalNorm (torch clip_grad_norm_)', () => {
  test('norm over all tensors, scaled by max_norm / (norm + 1e-6) only when above', async () => {
    const a = tf.tensor1d([3, 0]);
    const b = tf.tensor2d([[0], [4]]);
    const { grads, norm } = await clipByGlobalNorm([a, b], 1);
    expect(norm).toBeCloseTo(5, 6);
    const coef = 1 / (5 + 1e-6);
    expect(Array.from(await grads[0].data())[0]).toBeCloseTo(3 * coef, 7);
    expect(Array.from(await grads[1].data())[1]).toBeCloseTo(4 * coef, 7);
    const unclipped = await clipByGlobalNorm([a, b], 10);
    expect(Array.from(await unclipped.grads[1].data())).toEqual([0, 4]);
    const measured = await clipByGlobalNorm([a, b], null);
    expect(measured.norm).toBeCloseTo(5, 6);
    [a, b, ...grads, ...unclipped.grads, ...measured.grads].forEach((t) => t.dispose());
  });
});

describe('the fused kernels (fused-adamw.ts)', () => {
  test('stats: [loss, norm, coef, ok]; ok is 0 for a NaN loss, an Inf gradient, or after a step that was not ok', async () => {
    const a = tf.tensor1d([3, 0]);
    const b = tf.tensor2d([[0], [4]]);
    const loss = tf.scalar(0.25);
    const stats = globalNormStats([a, b], loss, 2);
    const [l, norm, coef, ok] = Array.from(await stats.data());
    expect([l, norm, ok]).toEqual([0.25, 5, 1]);
    expect(coef).toBeCloseTo(2 / (5 + 1e-6), 7); // clip_grad_norm_: max_norm / (total_norm + 1e-6)
    const noClip = globalNormStats([a, b], loss, null, stats);
    expect(Array.from(await noClip.data())).toEqual([0.25, 5, 1, 1]);
    const nan = tf.scalar(NaN);
    const inf = tf.tensor1d([Infinity, 1]);
    const badLoss = globalNormStats([a, b], nan, 2);
    const badGrad = globalNormStats([a, inf], loss, 2);
    const afterBad = globalNormStats([a, b], loss, 2, badLoss);
    expect((await badLoss.data())[3]).toBe(0);
    expect((await badGrad.data())[1]).toBe(Infinity);
    expect((await badGrad.data())[3]).toBe(0);
    expect((await afterBad.data())[3]).toBe(0);
    tf.dispose([a, b, loss, stats, noClip, nan, inf, badLoss, badGrad, afterBad]);
  });

  test('on a backend without the kernels (tfjs-node), the stats come from tfjs ops with the same values', async () => {
    const g = [tf.tensor1d([3, 0]), tf.tensor2d([[0], [4]]), tf.tensor1d([1e-3])];
    const statsOf = async () => {
      const loss = tf.scalar(0.5);
      const nan = tf.scalar(NaN);
      const made = [globalNormStats(g, loss, 2)];
      made.push(globalNormStats(g, nan, 2), globalNormStats(g, loss, null, made[0]));
      made.push(globalNormStats(g, loss, 10, made[1]));
      const values = await Promise.all(made.map(async (t) => Array.from(await t.data())));
      tf.dispose([loss, nan, ...made]);
      return values;
    };
    const withKernels = await statsOf();
    const saved = [SUM_OF_SQUARES, CLIP_STATS].map((name) => tf.getKernel(name, 'cpu')!);
    saved.forEach((k) => tf.unregisterKernel(k.kernelName, 'cpu'));
    try {
      expect(await statsOf()).toEqual(withKernels);
    } finally {
      saved.forEach((k) => tf.registerKernel(k));
    }
    expect(withKernels.map((s) => s[3])).toEqual([1, 0, 1, 0]);
    tf.dispose(g);
  });

  test('the kernel equals the same update written as tfjs ops, bit for bit; ok 0 returns the inputs', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const n = 1000;
    const rnd = (seed: number, scale: number) => tf.tidy(() => tf.mul(tf.randomUniform([n], -1, 1, 'float32', seed), scale));
    const p = rnd(1, 1);
    const g = rnd(2, 3);
    const m = rnd(3, 0.1);
    const v = tf.tidy(() => tf.abs(rnd(4, 0.01)));
    for (const decays of [true, false]) {
      const attrs = adamwAttrs({ lr: 3e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, step: 7, decays });
      for (const stats of [tf.tensor1d([0, 0, 0.37, 1]), tf.tensor1d([0, 0, 0.37, 0])]) {
        const fused = fusedAdamW(p, g, m, v, stats, attrs);
        const ops = adamwWithTfOps(p, g, m, v, stats, attrs);
        for (let k = 0; k < 3; k++) expect(Array.from(await fused[k].data())).toEqual(Array.from(await ops[k].data()));
        if ((await stats.data())[3] === 0) {
          expect(Array.from(await fused[0].data())).toEqual(Array.from(await p.data()));
        } else {
          const moved = tf.tidy(() => tf.max(tf.abs(tf.sub(fused[0], p))));
          expect((await moved.data())[0]).toBeGreaterThan(1e-4);
          moved.dispose();
        }
        tf.dispose([...fused, ...ops, stats]);
      }
    }
    tf.dispose([p, g, m, v]);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  test('AdamW.step applies the clip coefficient of the stats; ok 0 updates nothing', async () => {
    const w1 = tf.variable(tf.tensor1d([1, -2, 0.5]), true, 'optim-test/clip-a.weight');
    const w2 = tf.variable(tf.tensor1d([1, -2, 0.5]), true, 'optim-test/clip-b.weight');
    const opt1 = new AdamW([w1], { weightDecay: 0.1 });
    const opt2 = new AdamW([w2], { weightDecay: 0.1 });
    const g = tf.tensor1d([0.3, -1.2, 2]);
    const stats = tf.tensor1d([0, 0, 0.25, 1]);
    const scaled = tf.mul(g, 0.25);
    opt1.step([g], 0.05, stats);
    opt2.step([scaled], 0.05);
    expect(Array.from(await w1.data())).toEqual(Array.from(await w2.data()));
    const before = await opt1.getState();
    const skip = tf.tensor1d([NaN, NaN, 1, 0]);
    const valuesBefore = Array.from(await w1.data());
    opt1.step([g], 0.05, skip);
    expect(Array.from(await w1.data())).toEqual(valuesBefore);
    const after = await opt1.getState();
    expect(Array.from(after.m[0])).toEqual(Array.from(before.m[0]));
    expect(Array.from(after.v[0])).toEqual(Array.from(before.v[0]));
    tf.dispose([w1, w2, g, stats, scaled, skip]);
    opt1.dispose();
    opt2.dispose();
  });
});

describe('learning-rate schedules (HF get_linear_schedule_with_warmup)', () => {
  test('hand values: warm-up 0 → 1 then linear decay to 0', () => {
    // warmup 2, total 6: steps 0..6 → 0, 0.5, 1, 0.75, 0.5, 0.25, 0
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((s) => linearWithWarmup(s, 2, 6))).toEqual([0, 0.5, 1, 0.75, 0.5, 0.25, 0, 0]);
    // no warm-up, total 4: 1, 0.75, 0.5, 0.25
    [2e-4, 1.5e-4, 1e-4, 0.5e-4].forEach((lr, s) => expect(learningRateAt('linear', 2e-4, s, 0, 4)).toBeCloseTo(lr, 15));
    expect(learningRateAt('constant', 3e-4, 5, 2, 6)).toBe(3e-4);
    expect(learningRateAt('constant_with_warmup', 3e-4, 1, 2, 6)).toBe(1.5e-4);
    expect(learningRateAt('cosine', 1, 4, 2, 6)).toBeCloseTo(0.5, 12); // halfway through the decay: cos(π/2)
  });

  test('warm-up steps from a ratio round up, like HF', () => {
    expect(warmupStepsFor(375, 0, 0.1)).toBe(38);
    expect(warmupStepsFor(375, 500, 0.1)).toBe(500);
    expect(() => warmupStepsFor(10, 0, 2)).toThrow(/warmupRatio in \[0, 1\]/);
  });
});
