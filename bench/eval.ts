// Inference (eval mode, no gradients) at DistilBERT-base shapes, ours vs PyTorch, in one command.
//
//   npm run bench:eval                      (= npx ts-node --transpile-only bench/eval.ts)
//   BENCH_BATCH (32), BENCH_SEQ (256), BENCH_STEPS (3), BENCH_ROUNDS (2), BENCH_QUANT (nf4|none),
//   BENCH_SKIP_TORCH=1, QLORA_BACKEND, QLORA_GEMM, QLORA_GEMM_THREADS
//
// Same model as bench/train-step.ts (NF4 base with double quantization, LoRA r=8 on the six
// linear kinds), full rows (no padding), predict()'s path: logits → softmax. Each side runs as
// its own process, alternately (bench/compare.ts), and reports the median of BENCH_STEPS
// batches after a warm-up batch.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../lib/backends/select';
import { currentGemm } from '../lib/backends/gemm/select';
import { loadPretrained } from '../lib/models/distilbert/loading';
import { getPeftModel } from '../lib/peft/model';
import { writeRandomCheckpoint } from '../scripts/make-random-checkpoint';
import { benchMain, median, printResult } from './compare';

const B = Number(process.env.BENCH_BATCH ?? 32);
const T = Number(process.env.BENCH_SEQ ?? 256);
const STEPS = Number(process.env.BENCH_STEPS ?? 3);
const QUANT = (process.env.BENCH_QUANT ?? 'nf4') as 'nf4' | 'none';

async function child(): Promise<void> {
  const backend = await selectBackend({ verbose: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-eval-'));
  writeRandomCheckpoint(dir, { vocabSize: 30522, dim: 768, nLayers: 6, nHeads: 12, hiddenDim: 3072, maxPositions: 512, seed: 1 });
  const base = await loadPretrained(dir, { numLabels: 2, quantization: QUANT, doubleQuant: true, log: () => {} });
  fs.rmSync(dir, { recursive: true, force: true });
  const model = getPeftModel(base, { r: 8, loraAlpha: 32, targetModules: ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'], seed: 1 });
  const ids = tf.tensor2d(Array.from({ length: B * T }, (_, i) => 1000 + ((i * 7919) % 29000)), [B, T], 'int32');
  const mask = tf.ones([B, T], 'int32') as tf.Tensor2D;
  const times: number[] = [];
  for (let s = 0; s <= STEPS; s++) {
    const t0 = performance.now();
    const probs = tf.tidy(() => tf.softmax(model.logits(ids, mask, { training: false })));
    await probs.data();
    probs.dispose();
    const ms = performance.now() - t0;
    console.error(`  ours batch ${s}${s === 0 ? ' (warm-up)' : ''}: ${ms.toFixed(0)} ms`);
    if (s > 0) times.push(ms);
  }
  const gemm = currentGemm();
  printResult({
    msPerStep: median(times),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    engine: backend.name === 'wasm' && gemm ? gemm.summary.replace(/^GEMM engine: /, '') : `${backend.name} (${backend.device})`,
    detail: `tfjs ${backend.name}, base ${QUANT} (double quant), LoRA r=8 on 6 kinds, ${(B / (median(times) / 1000)).toFixed(1)} reviews/s`,
  });
  model.dispose();
}

benchMain(child, {
  title: `inference, DistilBERT-base shapes, eval mode, batch ${B} × ${T}, median of ${STEPS} batches after a warm-up`,
  oursScript: __filename,
  oursArgs: [],
  torchArgs: ['eval', '--batch', String(B), '--seq', String(T), '--steps', String(STEPS)],
});
