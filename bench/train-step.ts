// One QLoRA training step at DistilBERT-base shapes, ours vs PyTorch, in one command.
//
//   npm run bench:train                       (= npx ts-node --transpile-only bench/train-step.ts)
//   BENCH_SEQ=512 npm run bench:train         the original notebook's sequence length
//   BENCH_BATCH (8), BENCH_SEQ (128), BENCH_STEPS (3), BENCH_ROUNDS (2), BENCH_QUANT (nf4|none),
//   BENCH_SKIP_TORCH=1, QLORA_BACKEND, QLORA_GEMM, QLORA_GEMM_THREADS
//
// Model: vocab 30522, dim 768, 6 layers, 12 heads, FFN 3072, random weights written by
// writeRandomCheckpoint; NF4 base with double quantization; LoRA r=8 (alpha 32, dropout 0.1) on
// q/k/v/out/lin1/lin2; AdamW + global-norm clipping. Each side runs as its own process
// (bench/compare.ts), alternately, twice; each reports the median of BENCH_STEPS steps after a
// warm-up step. Ours: forward is timed on its own (no tape), backward = (forward+backward under
// tf.variableGrads) − forward, and a step is forward+backward + optimizer. PyTorch
// (bench/train_step_torch.py): fp32 base, 2 threads, its OpenBLAS on the CPU's best kernels.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../lib/backends/select';
import { currentGemm } from '../lib/backends/gemm/select';
import { loadPretrained } from '../lib/models/distilbert/loading';
import { getPeftModel } from '../lib/peft/model';
import { crossEntropy } from '../lib/training/metrics';
import { AdamW, globalNormStats } from '../lib/training/optimizer';
import { writeRandomCheckpoint } from '../scripts/make-random-checkpoint';
import { benchMain, median, printResult } from './compare';

const B = Number(process.env.BENCH_BATCH ?? 8);
const T = Number(process.env.BENCH_SEQ ?? 128);
const STEPS = Number(process.env.BENCH_STEPS ?? 3);
const QUANT = (process.env.BENCH_QUANT ?? 'nf4') as 'nf4' | 'none';

async function sync(ts: tf.Tensor[]): Promise<void> {
  // Reading each tensor waits for GPU backends; on cpu/wasm the work is already done.
  for (const t of ts) await t.data();
}

async function child(): Promise<void> {
  const backend = await selectBackend({ verbose: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-train-'));
  writeRandomCheckpoint(dir, { vocabSize: 30522, dim: 768, nLayers: 6, nHeads: 12, hiddenDim: 3072, maxPositions: 512, seed: 1 });
  const base = await loadPretrained(dir, { numLabels: 2, quantization: QUANT, doubleQuant: true, log: () => {} });
  fs.rmSync(dir, { recursive: true, force: true });
  const model = getPeftModel(base, {
    r: 8, loraAlpha: 32, loraDropout: 0.1, targetModules: ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'], seed: 1,
  });
  const vars = model.trainableVariables();
  const optimizer = new AdamW(vars, { weightDecay: 0.01 });
  const ids = tf.tensor2d(Array.from({ length: B * T }, (_, i) => 1000 + ((i * 7919) % 29000)), [B, T], 'int32');
  const mask = tf.ones([B, T], 'int32') as tf.Tensor2D;
  const labels = tf.tensor1d(Array.from({ length: B }, (_, i) => i % 2), 'int32');

  const fwd: number[] = [];
  const fwdBwd: number[] = [];
  const opt: number[] = [];
  for (let step = 0; step <= STEPS; step++) {
    let t0 = performance.now();
    const loss = tf.tidy(() => crossEntropy(model.logits(ids, mask, { training: true, dropoutSeed: step }), labels));
    await sync([loss]);
    loss.dispose();
    const tFwd = performance.now() - t0;

    t0 = performance.now();
    const { value, grads } = tf.variableGrads(() => crossEntropy(model.logits(ids, mask, { training: true, dropoutSeed: step }), labels), vars);
    const gradList = vars.map((v) => grads[v.name]);
    await sync([value, ...gradList]);
    const tFwdBwd = performance.now() - t0;

    t0 = performance.now();
    // As the Trainer does it: the clip coefficient stays on the device (no read-back), fused AdamW.
    const stats = globalNormStats(gradList, value as tf.Scalar, 1.0);
    optimizer.step(gradList, 1e-4, stats);
    await sync([vars[vars.length - 1]]);
    const tOpt = performance.now() - t0;
    tf.dispose([value, stats, ...gradList]);
    console.error(`  ours step ${step}${step === 0 ? ' (warm-up)' : ''}: forward ${tFwd.toFixed(0)} ms, forward+backward ${tFwdBwd.toFixed(0)} ms, optimizer ${tOpt.toFixed(0)} ms`);
    if (step === 0) continue;
    fwd.push(tFwd);
    fwdBwd.push(tFwdBwd);
    opt.push(tOpt);
  }
  const gemm = currentGemm();
  printResult({
    msPerStep: median(fwdBwd) + median(opt),
    forwardMs: median(fwd),
    backwardMs: median(fwdBwd) - median(fwd),
    optimizerMs: median(opt),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    engine: backend.name === 'wasm' && gemm ? gemm.summary.replace(/^GEMM engine: /, '') : `${backend.name} (${backend.device})`,
    detail: `tfjs ${backend.name}, base ${QUANT} (double quant), LoRA r=8 on 6 kinds, ${vars.reduce((n, v) => n + v.size, 0)} trainable`,
  });
  optimizer.dispose();
  model.dispose();
}

benchMain(child, {
  title: `training step, DistilBERT-base shapes, batch ${B} × ${T}, median of ${STEPS} steps after a warm-up`,
  oursScript: __filename,
  oursArgs: [],
  torchArgs: ['train', '--batch', String(B), '--seq', String(T), '--steps', String(STEPS)],
});
