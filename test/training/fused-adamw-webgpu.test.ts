// The WGSL optimizer kernels (lib/training/fused-adamw.ts) on tfjs' webgpu backend against the
// cpu kernels, which test/training/optimizer.test.ts and the Trainer's PyTorch reference check.
//
// Runs on any WebGPU adapter Dawn finds; with no GPU on Mesa's software OpenGL (llvmpipe), set up
// as in test/helpers/webgpu.ts. EGL_PLATFORM=surfaceless must be in the environment jest starts with.
// It FAILS, saying so, when no adapter loads: it never passes without running the kernels.
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../lib/backends/select';
import { adamwAttrs, clipStats, fusedAdamW, sumOfSquares } from '../../lib/training/fused-adamw';
import { AdamW, globalNormStats } from '../../lib/training/optimizer';
import { useWebGPUForTests } from '../helpers/webgpu';

/** Deterministic values in [lo, hi) (an LCG: the same on both backends, no tfjs RNG involved). */
function values(n: number, seed: number, lo = -2, hi = 2): Float32Array {
  let s = seed >>> 0;
  return new Float32Array(n).map(() => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (s / 4294967296) * (hi - lo);
  });
}

const SHAPES = [[70001], [37, 3], [1], [128, 9]];
const ATTRS = [
  adamwAttrs({ lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, step: 3, decays: true }),
  adamwAttrs({ lr: 5e-2, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.1, step: 1, decays: false }),
];

/** Everything the kernels compute for fixed inputs, read back as plain arrays. */
async function runAll(): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  const grads = SHAPES.map((s, i) => tf.tensor(values(s.reduce((a, b) => a * b, 1), 10 + i), s));
  const loss = tf.scalar(0.693);
  const nanLoss = tf.scalar(NaN);
  const sumSq = sumOfSquares(grads);
  out.push((await sumSq.data()) as Float32Array);
  const stats = clipStats(sumSq, loss, 1.5);
  const unclipped = clipStats(sumSq, loss, null, stats);
  const diverged = clipStats(sumSq, nanLoss, 1.5);
  const afterDiverged = clipStats(sumSq, loss, 1.5, diverged);
  for (const s of [stats, unclipped, diverged, afterDiverged]) out.push((await s.data()) as Float32Array);
  for (const [k, shape] of SHAPES.entries()) {
    const n = shape.reduce((a, b) => a * b, 1);
    const p = tf.tensor(values(n, 100 + k), shape);
    const m = tf.tensor(values(n, 200 + k, -0.1, 0.1), shape);
    const v = tf.tensor(values(n, 300 + k, 0, 0.01), shape);
    for (const attrs of ATTRS) {
      for (const s of [stats, diverged]) {
        const res = fusedAdamW(p, grads[k], m, v, s, attrs);
        for (const r of res) out.push((await r.data()) as Float32Array);
        tf.dispose(res);
      }
    }
    tf.dispose([p, m, v]);
  }
  // Three steps of the optimizer itself, with clipping and the previous step's stats chained.
  const params = SHAPES.map((s, i) => tf.variable(tf.tensor(values(s.reduce((a, b) => a * b, 1), 400 + i), s), true, `webgpu-adamw/${tf.getBackend()}/p${i}.weight`));
  const opt = new AdamW(params, { weightDecay: 0.05 });
  let prev: tf.Tensor | null = null;
  for (let step = 0; step < 3; step++) {
    const st = globalNormStats(grads, loss, 0.5, prev);
    opt.step(grads, 1e-2, st);
    prev?.dispose();
    prev = st;
  }
  for (const p of params) out.push((await p.data()) as Float32Array);
  const state = await opt.getState();
  out.push(...state.m, ...state.v);
  tf.dispose([...grads, loss, nanLoss, sumSq, stats, unclipped, diverged, afterDiverged, ...params]);
  prev?.dispose();
  opt.dispose();
  return out;
}

describe('fused AdamW, clip stats and sum of squares on the webgpu backend', () => {
  let onCpu: Float32Array[] = [];

  beforeAll(async () => {
    await useBackend('cpu');
    onCpu = await runAll();
    await useWebGPUForTests('the WGSL optimizer kernels');
  }, 120000);

  it('equal the cpu kernels within fp32 rounding (WGSL sqrt and division are not correctly rounded)', async () => {
    expect(tf.getBackend()).toBe('webgpu');
    // Count the WGSL programs run, to be sure the values below come from the GPU kernels.
    const backend = tf.backend() as unknown as { runWebGPUProgram: (program: { shaderKey: string }, ...rest: unknown[]) => unknown };
    const run = backend.runWebGPUProgram;
    const programs: string[] = [];
    backend.runWebGPUProgram = function (this: unknown, program, ...rest) {
      programs.push(program.shaderKey);
      return run.call(this, program, ...rest);
    };
    let onGpu: Float32Array[];
    try {
      onGpu = await runAll();
    } finally {
      backend.runWebGPUProgram = run;
    }
    const count = (key: string) => programs.filter((p) => p === key).length;
    // 4 gradients: 4 + 3 × 4 sums of squares; 4 + 3 stats; AdamW: 3 programs per update, 16 + 3 × 4 updates.
    expect([count('qloraSumOfSquares') + count('qloraSumOfSquaresAcc'), count('qloraClipStats') + count('qloraClipStatsPrev'), count('qloraFusedAdamW')]).toEqual([
      16, 7, 3 * 28,
    ]);
    expect(onGpu).toHaveLength(onCpu.length);
    let worst = 0;
    onGpu.forEach((gpu, k) => {
      const cpu = onCpu[k];
      expect(gpu.length).toBe(cpu.length);
      for (let i = 0; i < cpu.length; i++) {
        if (Number.isNaN(cpu[i])) {
          expect(gpu[i]).toBeNaN();
          continue;
        }
        const err = Math.abs(gpu[i] - cpu[i]) / (Math.abs(cpu[i]) + 1e-6);
        worst = Math.max(worst, err);
        if (err > 2e-5) throw new Error(`output ${k}, element ${i}: webgpu ${gpu[i]}, cpu ${cpu[i]}`);
      }
    });
    // The stats: [loss, norm, coef, ok]; a NaN loss gives ok 0, and so does any step after it.
    expect(onGpu[2][3]).toBe(1);
    expect(onGpu[2][2]).toBe(1); // no clipping: coef exactly 1
    expect(onGpu[3][3]).toBe(0);
    expect(onGpu[4][3]).toBe(0);
    console.log(`largest relative difference webgpu vs cpu: ${worst.toExponential(2)}`);
  });
});
