// Where a training step's time goes, by tfjs kernel: DistilBERT-base shapes, NF4 + LoRA, one
// forward+backward under tf.profile after a warm-up. BENCH_SEQ (128), BENCH_BATCH (8).
//
//   npx ts-node --transpile-only bench/profile-step.ts
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../lib/backends/select';
import { loadPretrained } from '../lib/models/distilbert/loading';
import { getPeftModel } from '../lib/peft/model';
import { crossEntropy } from '../lib/training/metrics';
import { writeRandomCheckpoint } from '../scripts/make-random-checkpoint';

const B = Number(process.env.BENCH_BATCH ?? 8);
const T = Number(process.env.BENCH_SEQ ?? 128);

async function main(): Promise<void> {
  const backend = await selectBackend({ verbose: false });
  console.log(backend.summary);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-profile-'));
  writeRandomCheckpoint(dir, { vocabSize: 30522, dim: 768, nLayers: 6, nHeads: 12, hiddenDim: 3072, maxPositions: 512, seed: 1 });
  const base = await loadPretrained(dir, { numLabels: 2, quantization: 'nf4', doubleQuant: true, log: () => {} });
  const model = getPeftModel(base, { r: 8, loraAlpha: 32, loraDropout: 0.1, targetModules: ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'], seed: 1 });
  const vars = model.trainableVariables();
  const ids = tf.tensor2d(Array.from({ length: B * T }, (_, i) => 1000 + ((i * 7919) % 29000)), [B, T], 'int32');
  const mask = tf.ones([B, T], 'int32') as tf.Tensor2D;
  const labels = tf.tensor1d(Array.from({ length: B }, (_, i) => i % 2), 'int32');
  const step = () => {
    const { value, grads } = tf.variableGrads(() => crossEntropy(model.logits(ids, mask, { training: true, dropoutSeed: 1 }), labels), vars);
    tf.dispose([value, ...Object.values(grads)]);
  };
  step();
  const t0 = performance.now();
  const info = await tf.profile(step);
  const wall = performance.now() - t0;
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += k.kernelTimeMs as number;
    e.calls++;
    byKernel.set(k.name, e);
  }
  const rows = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, e]) => s + e.ms, 0);
  console.log(`forward+backward ${wall.toFixed(0)} ms wall, ${total.toFixed(0)} ms in kernels, peak ${(info.peakBytes / 2 ** 20).toFixed(0)} MiB`);
  if (process.env.BENCH_SHAPES) {
    const byShape = new Map<string, { ms: number; calls: number }>();
    for (const k of info.kernels.filter((k) => k.name === process.env.BENCH_SHAPES)) {
      const key = `${k.inputShapes.map((s) => `[${s}]`).join('×')}`;
      const e = byShape.get(key) ?? { ms: 0, calls: 0 };
      e.ms += k.kernelTimeMs as number;
      e.calls++;
      byShape.set(key, e);
    }
    for (const [key, e] of [...byShape.entries()].sort((a, b) => b[1].ms - a[1].ms)) console.log(`    ${key.padEnd(40)} ${e.ms.toFixed(0).padStart(6)} ms ${e.calls} calls`);
  }
  for (const [name, e] of rows.slice(0, 25)) console.log(`  ${name.padEnd(22)} ${e.ms.toFixed(0).padStart(6)} ms  ${String(e.calls).padStart(5)} calls`);
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
