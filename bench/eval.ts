// Inference throughput (reviews/s) at max_length 256 and 512, ours vs PyTorch, in the same command.
//
//   npx ts-node --transpile-only bench/eval.ts     (BENCH_BATCH=32 BENCH_STEPS=2 BENCH_QUANT=nf4|none BENCH_SKIP_TORCH=1)
//
// DistilBERT-base shapes, random weights, NF4 base + LoRA r=8 on all six kinds, eval mode, full
// rows (no padding), through predict()'s path: logits → softmax, no gradients.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../lib/backends/select';
import { loadPretrained } from '../lib/models/distilbert/loading';
import { getPeftModel } from '../lib/peft/model';
import { writeRandomCheckpoint } from '../scripts/make-random-checkpoint';

const BATCH = Number(process.env.BENCH_BATCH ?? 32);
const STEPS = Number(process.env.BENCH_STEPS ?? 2);
const QUANT = (process.env.BENCH_QUANT ?? 'nf4') as 'nf4' | 'none';

async function main(): Promise<void> {
  const backend = await selectBackend({ verbose: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-eval-'));
  writeRandomCheckpoint(dir, { vocabSize: 30522, dim: 768, nLayers: 6, nHeads: 12, hiddenDim: 3072, maxPositions: 512, seed: 1 });
  const base = await loadPretrained(dir, { numLabels: 2, quantization: QUANT, log: () => {} });
  const model = getPeftModel(base, { r: 8, loraAlpha: 32, targetModules: ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'], seed: 1 });
  console.log(`backend ${backend.name} (${backend.device}), base ${QUANT}, batch ${BATCH}, median of ${STEPS} after a warm-up:`);
  for (const T of [256, 512]) {
    const ids = tf.tensor2d(Array.from({ length: BATCH * T }, (_, i) => 1000 + ((i * 7919) % 29000)), [BATCH, T], 'int32');
    const mask = tf.ones([BATCH, T], 'int32') as tf.Tensor2D;
    const times: number[] = [];
    for (let s = 0; s <= STEPS; s++) {
      const t0 = performance.now();
      const probs = tf.tidy(() => tf.softmax(model.logits(ids, mask, { training: false })));
      await probs.data();
      probs.dispose();
      if (s > 0) times.push(performance.now() - t0);
    }
    ids.dispose();
    mask.dispose();
    const ms = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
    let line = `  max_length ${T}: ${(BATCH / (ms / 1000)).toFixed(2)} reviews/s (${ms.toFixed(0)} ms per batch)`;
    if (!process.env.BENCH_SKIP_TORCH) {
      const py = spawnSync('/usr/bin/python3', [path.join(__dirname, 'train_step_torch.py'), 'eval', '--batch', String(BATCH), '--seq', String(T), '--steps', String(STEPS)], { encoding: 'utf8' });
      if (py.status === 0) {
        const torch = JSON.parse(py.stdout.trim().split('\n').pop()!);
        line += ` | PyTorch (${torch.threads} threads, fp32): ${torch.items_per_s.toFixed(2)} reviews/s | ours/PyTorch time ${(ms / torch.ms_per_step).toFixed(2)}×`;
      } else {
        line += ` | PyTorch failed: ${py.stderr.trim().split('\n').pop()}`;
      }
    }
    console.log(line);
  }
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
