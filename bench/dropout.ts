// Seeded on-device dropout (lib/dropout.ts) against tf.dropout, in the same run.
//
//   npx ts-node --transpile-only bench/dropout.ts
//   BENCH_BACKENDS=cpu,wasm BENCH_REPS=5 BENCH_MODEL_BACKEND=wasm BENCH_LAYERS=2 BENCH_SKIP_MODEL=1 BENCH_GRAD=1 ...
//   (webgpu too: BENCH_BACKENDS=webgpu BENCH_MODEL_BACKEND=webgpu, on a GPU; a scalar read back syncs)
//
// Part 1, per backend: one dropout (rate 0.1) of an FFN activation [1024, 3072] and of attention
// probabilities [8, 12, 128, 128], timed as tf.randomUniform alone, tf.dropout, and ours.
// Part 2: a DistilBERT-base-shaped training forward (dim 768, 12 heads, hidden 3072, batch 8 ×
// 128, NF4 base, LoRA r=8 with dropout 0.1 on q/k/v/out/lin1/lin2), BENCH_LAYERS layers (default
// 2; the dropout share per layer is the same for 6), in eval mode, in training mode with
// tf.dropout (our kernel unregistered, so lib/dropout falls back to it), and with ours.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../lib/backends/select';
import { loadPretrained } from '../lib/models/distilbert/loading';
import { getPeftModel } from '../lib/peft/model';
import { SEEDED_DROPOUT, dropout } from '../lib/backends/dropout';
import { writeRandomCheckpoint } from '../scripts/make-random-checkpoint';

const REPS = Number(process.env.BENCH_REPS ?? 5);
type Backend = 'cpu' | 'wasm' | 'webgpu';
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'cpu,wasm').split(',') as Backend[];
const MODEL_BACKEND = (process.env.BENCH_MODEL_BACKEND ?? 'wasm') as Backend;
const LAYERS = Number(process.env.BENCH_LAYERS ?? 2);
/** Also time forward + backward (tf.variableGrads over the LoRA weights). */
const WITH_GRAD = process.env.BENCH_GRAD === '1';

/** Waits for `t`: on webgpu by reading back a scalar (the same small cost for every variant). */
async function sync(t: tf.Tensor): Promise<void> {
  if (tf.getBackend() === 'webgpu') {
    const s = tf.sum(t);
    await s.data();
    s.dispose();
  } else {
    await t.data();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Median wall time of each variant (result read back and disposed). The variants take turns
 * within every repetition, so a change in machine load (shared cores) hits them alike; the first
 * round is a warm-up. A variant may wrap its call (e.g. to swap kernels) through `around`.
 */
async function timeEach(variants: Variant[], reps = REPS): Promise<number[]> {
  const times: number[][] = variants.map(() => []);
  for (let r = 0; r <= reps; r++) {
    for (let k = 0; k < variants.length; k++) {
      const { make, around } = variants[k];
      const ms = await (around ?? ((f: () => Promise<number>) => f()))(async () => {
        const t0 = performance.now();
        const t = make();
        await sync(t);
        const elapsed = performance.now() - t0;
        t.dispose();
        return elapsed;
      });
      if (r > 0) times[k].push(ms);
    }
  }
  return times.map(median);
}

interface Variant {
  make: () => tf.Tensor;
  around?: (f: () => Promise<number>) => Promise<number>;
}

/** Runs `f` with our kernel unregistered on `backend`, so lib/dropout falls back to tf.dropout. */
function withTfDropout(backend: string): (f: () => Promise<number>) => Promise<number> {
  return async (f) => {
    const config = tf.getKernel(SEEDED_DROPOUT, backend);
    tf.unregisterKernel(SEEDED_DROPOUT, backend);
    try {
      return await f();
    } finally {
      tf.registerKernel(config);
    }
  };
}

async function opBench(): Promise<void> {
  console.log(`dropout op, rate 0.1, median of ${REPS} (ms):`);
  for (const backend of BACKENDS) {
    await useBackend(backend, { allowSoftwareWebGPU: true });
    for (const shape of [[1024, 3072], [8, 12, 128, 128]]) {
      const x = tf.randomNormal(shape);
      const [uniform, theirs, ours, scale] = await timeEach([
        { make: () => tf.randomUniform(shape, 0, 1, 'float32', 3) },
        { make: () => tf.dropout(x, 0.1, undefined, 3) },
        { make: () => dropout(x, 0.1, 3) },
        { make: () => tf.mul(x, 1.1) }, // one elementwise pass, for scale
      ]);
      x.dispose();
      console.log(
        `  ${backend.padEnd(4)} [${shape}]`.padEnd(26) +
          `tf.randomUniform ${uniform.toFixed(1)}, tf.dropout ${theirs.toFixed(1)}, ours ${ours.toFixed(1)} ` +
          `(tf.mul ${scale.toFixed(1)}): tf.dropout / ours = ${(theirs / ours).toFixed(1)}×`,
      );
    }
  }
}

async function modelBench(): Promise<void> {
  await useBackend(MODEL_BACKEND, { allowSoftwareWebGPU: true });
  const [B, T] = [8, 128];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-dropout-'));
  writeRandomCheckpoint(dir, { vocabSize: 30522, dim: 768, nLayers: LAYERS, nHeads: 12, hiddenDim: 3072, maxPositions: 512, seed: 1 });
  const base = await loadPretrained(dir, { numLabels: 2, quantization: 'nf4', doubleQuant: true, log: () => {} });
  const model = getPeftModel(base, {
    r: 8, loraAlpha: 32, loraDropout: 0.1, targetModules: ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'], seed: 1,
  });
  const ids = tf.tensor2d(Array.from({ length: B * T }, (_, i) => 1000 + ((i * 7919) % 29000)), [B, T], 'int32');
  const mask = tf.ones([B, T], 'int32') as tf.Tensor2D;
  // Numbers drawn per forward: embeddings, then per layer attention probs, FFN output and the LoRA
  // inputs (q, k, v, out_lin, lin1: dim wide; lin2: hidden wide), then the classifier head.
  const C = 768;
  const perLayer = B * 12 * T * T + B * T * C + 5 * B * T * C + B * T * 3072;
  const draws = B * T * C + LAYERS * perLayer + B * C;

  const reps = Math.max(2, Math.min(REPS, 3));
  const forward = (training: boolean) => () => model.logits(ids, mask, { training, dropoutSeed: 7 });
  const [evalMs, theirs, ours] = await timeEach(
    [{ make: forward(false) }, { make: forward(true), around: withTfDropout(MODEL_BACKEND) }, { make: forward(true) }],
    reps,
  );
  console.log(
    `training forward on ${MODEL_BACKEND}, DistilBERT-base shapes with ${LAYERS} layers, batch ${B} × ${T}, NF4 + LoRA r=8, ` +
      `${(draws / 1e6).toFixed(1)} M dropout draws (6 layers: ${((B * T * C + 6 * perLayer + B * C) / 1e6).toFixed(1)} M), median of ${reps} (ms):`,
  );
  console.log(`  eval (no dropout)          ${evalMs.toFixed(0)}`);
  console.log(`  training, tf.dropout       ${theirs.toFixed(0)}  (dropout share ${(theirs - evalMs).toFixed(0)} ms)`);
  console.log(`  training, ours             ${ours.toFixed(0)}  (dropout share ${(ours - evalMs).toFixed(0)} ms)`);
  console.log(`  training forward, tf.dropout / ours = ${(theirs / ours).toFixed(2)}×`);
  if (WITH_GRAD) {
    const vars = model.trainableVariables();
    // Forward + backward; the summed gradient norms stand in for the step's result.
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(model.logits(ids, mask, { training: true, dropoutSeed: 7 }))) as tf.Scalar, vars);
      // Pairwise adds, not addN: addN binds one buffer per input, over some adapters' limits.
      const total = tf.tidy(() => vars.reduce((acc: tf.Tensor, v) => tf.add(acc, tf.sum(tf.square(grads[v.name]))), value));
      tf.dispose([value, ...Object.values(grads)]);
      return total;
    };
    const [stepTheirs, stepOurs] = await timeEach([{ make: step, around: withTfDropout(MODEL_BACKEND) }, { make: step }], reps);
    console.log(`  forward + backward: tf.dropout ${stepTheirs.toFixed(0)}, ours ${stepOurs.toFixed(0)}: tf.dropout / ours = ${(stepTheirs / stepOurs).toFixed(2)}×`);
  }
  tf.dispose([ids, mask]);
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  await opBench();
  if (!process.env.BENCH_SKIP_MODEL) await modelBench();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
